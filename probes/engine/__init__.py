"""The engine under every probe: one checkpoint loaded once, seeded inputs, the intervention engines, checkpoint sources."""

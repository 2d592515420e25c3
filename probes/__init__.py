"""probes: measure any TransformerLens 4 bridge across checkpoints — detectors, ablations, function vectors —
into one tidy table, and write reports from that table (no model runs in a report). See README "Layout"."""

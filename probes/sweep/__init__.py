"""The probe pass over checkpoints: cached per (checkpoint, probe) into one tidy table, or live as a run trains."""

"""The run directory: its file names, atomic safetensors + JSON checkpoints, and the one-writer lock."""

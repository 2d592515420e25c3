"""Grids of runs: presets × seeds × overrides, on a local process pool or Ray."""

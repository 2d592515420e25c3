"""Abstractive ICL tasks (issue 4) — placeholder module registering nothing yet."""

"""Teaching: the notebooks' exercises. `checks.py` compares a learner's function with the library's on the same
seeded inputs; `exercises.py` finds the exercise cells of a notebook and fills in the solutions."""

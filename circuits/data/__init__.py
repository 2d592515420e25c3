"""The embedded, seeded training data: token conventions, the generators, the ICL tasks of fv-mix, modular addition."""

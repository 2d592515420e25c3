"""The HTML report: one page skeleton and one section module per family, plus notebook display."""

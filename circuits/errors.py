"""The one error type the workbench raises for bad input.

Every message names the problem and the fix in one line, so the CLI can print it as it is.
"""


class WorkbenchError(Exception):
    """Bad input or an unusable run directory; the message says what to do."""

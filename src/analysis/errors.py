"""The one error type the workbook raises for bad input: its message is a single line for the user.

Example::

    raise WorkbookError("data/raw/statbank/FOLK1AM.csv line 12, column TID: '2025M13' is not a month")
"""


class WorkbookError(Exception):
    """Bad input or missing data, told in one line that names the file and the problem."""

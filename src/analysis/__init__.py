"""Strategy follow-up workbook: real Danish municipal statistics in, Danish HTML briefs out.

Example (from the project root, after `make install`)::

    python -m analysis run --cadence kvartal --period latest
"""

__version__ = "0.1.0"

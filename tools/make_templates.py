"""Writes the Excel templates of the manual files (run from the project root: python tools/make_templates.py).

Each data/raw/manual/templates/<kind>.csv gets a <kind>.xlsx with the same columns, one sheet
named after the kind, so an analyst can keep the numbers in Excel. The bytes are the same on
every run (fixed dates), so the committed templates only change when a header does.
"""

import io
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from analysis.report.tables import fixed_zip

TEMPLATES = Path("data/raw/manual/templates")

for template in sorted(TEMPLATES.glob("*.csv")):
    header = template.read_text(encoding="utf-8-sig").splitlines()[0].split(";")
    book = Workbook()
    sheet = book.active
    sheet.title = template.stem
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for column, name in zip("ABCDEFGH", header):
        sheet.column_dimensions[column].width = max(12, len(name) + 4)
    sheet.freeze_panes = "A2"
    import datetime as dt

    book.properties.created = book.properties.modified = dt.datetime(2000, 1, 1)
    buffer = io.BytesIO()
    book.save(buffer)
    (TEMPLATES / f"{template.stem}.xlsx").write_bytes(fixed_zip(buffer.getvalue()))
    print(TEMPLATES / f"{template.stem}.xlsx")

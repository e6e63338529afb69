"""Writes the Excel templates of the manual files (run from the project root: python tools/make_templates.py).

Each data/raw/manual/templates/<kind>.csv gets a <kind>.xlsx with the same columns, one sheet
named after the kind, so an analyst can keep the numbers in Excel. The bytes are the same on
every run (fixed dates), so the committed templates only change when a header does.
"""

import io
import re
import zipfile
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

TEMPLATES = Path("data/raw/manual/templates")


def fixed_zip(content: bytes) -> bytes:
    """The same workbook with every zip entry dated 1980-01-01 and the 'modified' time openpyxl
    stamps on saving set to the 'created' one, so identical workbooks are identical bytes."""
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2000-01-01T00:00:00Z", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, data)
    return out.getvalue()


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

"""The Excel file beside the briefs: what a cell holds, and the same bytes for the same numbers."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pandas as pd
from openpyxl import load_workbook

from analysis.report.tables import workbook_bytes


def test_a_workbook_holds_numbers_dates_and_text_as_such_and_the_same_frames_give_the_same_bytes():
    frame = pd.DataFrame(
        {
            "Kommune": ["Hedensted", '=HYPERLINK("http://x")'],  # a name that looks like a formula stays a name
            "Kommunekode": ["766", "101"],  # codes are text, with their leading zeros kept elsewhere
            "Dato": [dt.date(2025, 1, 1), dt.date(2024, 1, 1)],
            "Tal": [48167.0, float("nan")],
        }
    )
    content = workbook_bytes({"Vækst": frame})
    assert workbook_bytes({"Vækst": frame.copy()}) == content
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert b"2000-01-01T00:00:00Z" in archive.read("docProps/core.xml")
    sheet = load_workbook(io.BytesIO(content))["Vækst"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Kommune", "Kommunekode", "Dato", "Tal")
    assert rows[1] == ("Hedensted", "766", dt.datetime(2025, 1, 1), 48167)
    assert rows[2] == ('=HYPERLINK("http://x")', "101", dt.datetime(2024, 1, 1), None)
    assert sheet["A3"].data_type == "s" and sheet.freeze_panes == "A2"

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


def test_a_comparison_groups_members_share_one_numbers_file_and_a_stopped_export_writes_no_more(
    processed, tmp_path, monkeypatch
):
    """Frederiksberg and Ballerup are in Københavns group (Hovedstadskommuner): one set of numbers,
    made once and written for both. Hedensted's (Oplandskommuner) is its own. After `stop`, no
    further municipality is begun."""
    from analysis.indicators import store
    from analysis.report import tables

    made = []
    monkeypatch.setattr(tables, "workbook_bytes", lambda sheets: made.append(sheets) or f"{len(made)}".encode())
    monkeypatch.setattr(store, "load", lambda *_args: processed)
    files = {
        code: [str(tmp_path / f"tal-{code}.xlsx"), str(tmp_path / f"tal-{code}.csv")] for code in ("147", "151", "766")
    }
    arguments = {
        "period": "2025K1",
        "comparison_group": "kommunegruppe",
        "strategy_period": "",
        "example_data": False,
        "folders": [],
        "processed_dir": "",
    }
    tables.export_numbers(files, **arguments)
    assert len(made) == 2
    written = {code: (tmp_path / f"tal-{code}.xlsx").read_bytes() for code in files}
    assert written == {"147": b"1", "151": b"1", "766": b"2"}
    csv = {code: (tmp_path / f"tal-{code}.csv").read_text(encoding="utf-8-sig") for code in files}
    assert csv["147"] == csv["151"] != csv["766"]
    assert ";147;Frederiksberg;" in csv["151"] and ";766;Hedensted;" not in csv["151"]
    assert ";766;Hedensted;" in csv["766"] and ";48167,0;" in csv["766"]

    asked = iter([False, True])
    tables.export_numbers(
        {code: [str(tmp_path / f"again-{code}.{suffix}") for suffix in ("xlsx", "csv")] for code in files},
        **arguments,
        stop=lambda: next(asked),
    )
    assert sorted(path.name for path in tmp_path.glob("again-*")) == ["again-147.csv", "again-147.xlsx"]

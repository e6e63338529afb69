"""Analyst-kept files for the indicators whose numbers live outside Statistikbanken.

One file per kind in data/raw/manual/ (templates in data/raw/manual/templates/, documented in
data/raw/manual/README.md). `;`-separated UTF-8, as Excel saves "CSV UTF-8" with a Danish
locale; a decimal comma or point both work. Every file is checked on load: columns, types,
periods against the indicator's cadence, ranges, and a sample size for every survey share.

Qualitative input (a committee's or the analyst's own words for a period) is a file too:
data/raw/manual/kvalitativ.csv.

Example::

    frame = read_manual_csv(Path("data/raw/manual/survey.csv"), "survey", registry, areas)
    frame.columns.tolist()   # ['indicator', 'area', 'period', 'value', 'n', 'source_note']
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.data.sources.text import read_text
from analysis.errors import WorkbookError
from analysis.params import AUTHORS, KINDS, THEMES, Indicators, Strategy
from analysis.paths import relative

if TYPE_CHECKING:
    import pandas as pd

    from analysis.data.sources.classification import Areas


MAX_BYTES = 5 * 1024 * 1024  # a manual file is a few hundred lines; a larger one is not one
# 12.345 or 1.234.567: a Danish thousands separator, or a decimal point? Refused, not guessed.
AMBIGUOUS = re.compile(r"^-?\d{1,3}(\.\d{3})+$")
BASE_COLUMNS = ("indicator", "kommune", "period", "value")
OPTIONAL_COLUMNS = ("note",)
CADENCE_FREQ = {"kvartal": "Q", "aar": "Y", "hvert-4-aar": "Y"}
QUALITATIVE_COLUMNS = ("period", "theme", "committee", "author", "text")
NUMBER = re.compile(r"^-?\d+([.,]\d+)?$")


def manual_file(folder: Path, kind: str) -> Path | None:
    """The file of a kind in the manual folder: <kind>.csv or <kind>.xlsx (not both), or None."""
    found = [folder / f"{kind}.{suffix}" for suffix in ("csv", "xlsx") if (folder / f"{kind}.{suffix}").is_file()]
    if len(found) > 1:
        raise WorkbookError(f"{relative(found[0])} and {found[1].name}: two files for {kind}; keep one")
    return found[0] if found else None


def _place(name: str, sheet: str | None, line: int) -> str:
    """Where a row is: 'count.csv line 3', or 'count.xlsx sheet Ark1 row 3'."""
    return f"{name} sheet {sheet} row {line}" if sheet else f"{name} line {line}"


def _frame(path: Path) -> tuple[pd.DataFrame, str | None]:
    """The file's rows as text, and the sheet they were read from (None for a CSV file)."""
    if path.stat().st_size > MAX_BYTES:
        raise WorkbookError(
            f"{relative(path)}: {path.stat().st_size // (1024 * 1024)} MB; a manual file may be at most "
            f"{MAX_BYTES // (1024 * 1024)} MB (see data/raw/manual/README.md)"
        )
    if path.suffix == ".xlsx":
        return _sheet(path)
    return _csv(path), None


def _sheet(path: Path) -> tuple[pd.DataFrame, str]:
    """The first sheet of an Excel workbook, with the cells as the CSV file would hold them: whole
    numbers without decimals, other numbers with a decimal comma (Excel's numbers are never ambiguous)."""
    import zipfile

    import pandas as pd
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as err:
        raise WorkbookError(f"{relative(path)}: not an Excel workbook (.xlsx) ({type(err).__name__})") from None
    sheet = book.worksheets[0]
    rows = [[_cell(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    book.close()
    rows = [row for row in rows if any(cell != "" for cell in row)]
    if not rows:
        raise WorkbookError(f"{relative(path)} sheet {sheet.title}: the sheet is empty")
    header = [h for h in rows[0] if h != ""]
    body = [row[: len(header)] + [""] * (len(header) - len(row)) for row in rows[1:]]
    for number, row in enumerate(rows[1:], start=2):
        if any(cell != "" for cell in row[len(header) :]):
            raise WorkbookError(
                f"{relative(path)} sheet {sheet.title} row {number}: a value beyond the last column "
                f"({';'.join(header)})"
            )
    return pd.DataFrame(body, columns=header), sheet.title


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        return str(int(value)) if float(value).is_integer() else repr(float(value)).replace(".", ",")
    return str(value).strip()


def _csv(path: Path) -> pd.DataFrame:
    import csv

    import pandas as pd

    text = read_text(path)
    rows = csv.reader(io.StringIO(text), delimiter=";")
    width = len(next(rows, []))
    for number, row in enumerate(rows, start=2):
        if row and len(row) != width:
            raise WorkbookError(
                f"{relative(path)} line {number}: {len(row)} fields; expected {width} "
                "(a ';' inside a text must be in double quotes)"
            )
    try:
        return pd.read_csv(io.StringIO(text), sep=";", dtype=str, keep_default_na=False, comment=None)
    except pd.errors.ParserError as err:
        message = str(err).strip().splitlines()[-1]
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
        if match:
            message = f"line {match.group(2)}: {match.group(3)} fields; expected {match.group(1)}"
        raise WorkbookError(f"{relative(path)}: {message}") from None


def _require_columns(frame: pd.DataFrame, required: tuple[str, ...], where: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise WorkbookError(
            f"{where}: missing column(s) {', '.join(missing)}; expected {';'.join(required)} (see data/raw/manual/README.md)"
        )


def read_manual_csv(path: Path, kind: str, registry: Indicators, areas: Areas) -> pd.DataFrame:
    """A manual file of a kind, as CSV or as an Excel workbook (.xlsx) with the same columns."""
    return read_manual(path, kind, registry, areas)


def read_manual(path: Path, kind: str, registry: Indicators, areas: Areas) -> pd.DataFrame:
    """Read and check one manual file of a kind; returns indicator, area, period, value, n, of, note."""
    from analysis.periods import parse_period

    name = relative(path)
    spec = KINDS[kind]
    frame, sheet = _frame(path)
    required = (*BASE_COLUMNS, *spec.extra)
    _require_columns(frame, required, _place(name, sheet, 1))
    unknown = [c for c in frame.columns if c not in (*required, *OPTIONAL_COLUMNS)]
    if unknown:
        raise WorkbookError(
            f"{_place(name, sheet, 1)}: unknown column '{unknown[0]}'; expected {';'.join(required)}[;note]"
        )
    if frame.empty:
        raise WorkbookError(f"{name}: a header but no rows")
    known_areas = set(areas.municipalities["code"])
    today = dt.date.today()
    rows = []
    for index, record in frame.iterrows():
        line = index + 2
        where = _place(name, sheet, line)
        indicator_id = record["indicator"].strip()
        indicator = next((i for i in registry.indicators if i.id == indicator_id), None)
        if indicator is None:
            raise WorkbookError(f"{where}, column indicator: unknown indicator '{indicator_id}'")
        if kind not in indicator.manual_kinds:
            expected = ", ".join(indicator.manual_kinds) or "none (its numbers come from Statistikbanken)"
            raise WorkbookError(
                f"{where}, column indicator: '{indicator_id}' is not a {kind} indicator; its kind is {expected}"
            )
        code = record["kommune"].strip().zfill(3)
        if code not in known_areas:
            raise WorkbookError(f"{where}, column kommune: '{record['kommune']}' is not a kommunekode")
        freq = CADENCE_FREQ[indicator.cadence]
        try:
            period = parse_period(record["period"], freq)
        except ValueError as err:
            raise WorkbookError(
                f"{where}, column period: {err} (indicator {indicator_id} is {indicator.cadence})"
            ) from None
        if period.start_time.date() > today:
            raise WorkbookError(f"{where}, column period: {record['period']} has not begun yet")
        value = _number(record["value"], f"{where}, column value", spec.integer)
        low, high = indicator.plausible if indicator.plausible else (spec.low, spec.high)
        if value < low or (high is not None and value > high):
            upper = "" if high is None else f" to {_plain(high)}"
            raise WorkbookError(f"{where}, column value: {record['value']} is out of range; expected {low:g}{upper}")
        row = {
            "indicator": indicator_id,
            "area": code,
            "period": record["period"].strip(),
            "value": value,
            "n": None,
            "of": None,
            "note": record.get("note", "").strip(),
        }
        if "n" in spec.extra:
            if not record["n"].strip():
                raise WorkbookError(f"{where}, column n: a survey share needs its sample size (number of answers)")
            row["n"] = _number(record["n"], f"{where}, column n", True)
            if row["n"] < 1:
                raise WorkbookError(f"{where}, column n: {record['n']}; expected at least 1 answer")
        if "of" in spec.extra:
            row["of"] = _number(record["of"], f"{where}, column of", True)
            if value > row["of"]:
                raise WorkbookError(f"{where}, column value: {record['value']} is more than of ({record['of']})")
        rows.append(row)
    import pandas as pd

    result = pd.DataFrame(rows)
    duplicated = result.duplicated(["indicator", "area", "period"], keep=False)
    if duplicated.any():
        first = [int(i) + 2 for i in duplicated[duplicated].index[:2]]
        raise WorkbookError(f"{name} lines {first[0]} and {first[1]}: the same indicator, kommune and period twice")
    return result


def _plain(value: float) -> str:
    """5000000 -> '5.000.000' (Danish thousands), 0.5 -> '0,5'."""
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", ".")
    return str(value).replace(".", ",")


def _number(text: str, where: str, integer: bool) -> float:
    """A number with a decimal comma or point and no thousands separator (see data/raw/manual/README.md)."""
    text = text.strip().replace(" ", "")
    if AMBIGUOUS.match(text):
        raise WorkbookError(
            f"{where}: '{text}' is ambiguous: write {text.replace('.', '')} for a whole number "
            f"(no thousands separator), or {text.replace('.', ',')} for a decimal"
        )
    if not NUMBER.match(text) or len(text) > 20:
        raise WorkbookError(f"{where}: '{text[:30]}'; expected a number")
    value = float(text.replace(",", "."))
    if integer and value != int(value):
        raise WorkbookError(f"{where}: '{text}'; expected a whole number")
    return value


def read_qualitative_csv(path: Path, strategy: Strategy) -> pd.DataFrame:
    """Read the committees' and the analyst's own words, one row per period and theme."""
    from analysis.periods import parse_period

    name = relative(path)
    frame, sheet = _frame(path)
    _require_columns(frame, QUALITATIVE_COLUMNS, _place(name, sheet, 1))
    for index, record in frame.iterrows():
        where = _place(name, sheet, index + 2)
        try:
            parse_period(record["period"])
        except ValueError as err:
            raise WorkbookError(f"{where}, column period: {err}") from None
        if record["theme"] not in (*THEMES, "overview"):
            raise WorkbookError(
                f"{where}, column theme: '{record['theme']}'; expected one of {', '.join((*THEMES, 'overview'))}"
            )
        if record["committee"] and record["committee"] not in strategy.committee_ids:
            raise WorkbookError(f"{where}, column committee: unknown committee '{record['committee']}'")
        if record["author"] not in AUTHORS:
            raise WorkbookError(f"{where}, column author: '{record['author']}'; expected {' or '.join(AUTHORS)}")
        if not record["text"].strip():
            raise WorkbookError(f"{where}, column text: empty")
    return frame[list(QUALITATIVE_COLUMNS)]

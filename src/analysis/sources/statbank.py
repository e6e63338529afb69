"""Reader for Statbank API CSV responses (api.statbank.dk/v1/data, lang=da, valuePresentation=Default).

The layout: UTF-8 with a BOM, ';' separated, CRLF line ends, a header of variable ids then
INDHOLD, value texts in each cell ("Hedensted", "Til Hedensted", "18 år"), decimal comma.

Example::

    frame = read_statbank_csv(path, spec, areas)
    frame.columns.tolist()   # ['area', 'period', 'value'] (+ 'origin', 'age' for FLY66)
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import WorkbookError
from analysis.params import TableSpec
from analysis.paths import relative
from analysis.periods import parse_period
from analysis.sources.classification import Areas
from analysis.sources.text import read_text

# DST's variable ids -> the tidy columns. FLY66 is a flow: `area` receives, `origin` sends.
AREA_VARIABLES = {"OMRÅDE": "area", "TILKOMMUNE": "area", "FRAKOMMUNE": "origin"}
# DST prefixes the area texts of flow tables with the direction.
AREA_PREFIXES = {"TILKOMMUNE": "Til ", "FRAKOMMUNE": "Fra "}
AGE_PATTERN = re.compile(r"^(\d{1,3}) år$")
NUMBER_PATTERN = re.compile(r"^-?\d+(,\d+)?$")
COUNT_UNITS = {"personer", "flytninger"}


def read_statbank_csv(path: Path, spec: TableSpec, areas: Areas) -> pd.DataFrame:
    """Read one API-layout CSV into tidy columns, checking every cell the workbook relies on."""
    name = relative(path)
    text = read_text(path)
    expected = [*spec.variables, "INDHOLD"]
    header = text.split("\n", 1)[0].rstrip("\r").split(";")
    if header != expected:
        raise WorkbookError(f"{name} line 1: header {';'.join(header)}; expected {';'.join(expected)}")
    try:
        frame = pd.read_csv(io.StringIO(text), sep=";", dtype=str, keep_default_na=False, engine="c")
    except pd.errors.ParserError as err:
        raise WorkbookError(f"{name}: {_parser_message(err)}") from None
    if frame.empty:
        raise WorkbookError(f"{name}: a header but no data rows")
    _check_complete_rows(frame, expected, name)

    tidy = pd.DataFrame(index=frame.index)
    for variable in spec.variables:
        column = frame[variable]
        if variable in AREA_VARIABLES:
            tidy[AREA_VARIABLES[variable]] = _area_codes(column, AREA_PREFIXES.get(variable, ""), areas, name, variable)
        elif variable == "ALDER":
            tidy["age"] = _ages(column, name)
        elif variable == "TID":
            tidy["period"] = _periods(column, spec.frequency, name)
        else:
            raise WorkbookError(f"{name}: variable {variable} is not one the workbook knows how to read")
    tidy["value"] = _values(frame["INDHOLD"], name, spec.unit in COUNT_UNITS)
    keys = [c for c in tidy.columns if c != "value"]
    _check_duplicates(tidy, keys, name)
    return tidy


def _parser_message(err: Exception) -> str:
    message = str(err).strip().splitlines()[-1]
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if match:
        return f"line {match.group(2)}: {match.group(3)} fields; expected {match.group(1)}"
    return message


def _check_complete_rows(frame: pd.DataFrame, columns: list[str], name: str) -> None:
    """A truncated last line parses with empty cells: find it and name it."""
    empty = (frame[columns] == "").any(axis=1)
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        column = next(c for c in columns if frame[c].iloc[row] == "")
        raise WorkbookError(f"{name} line {row + 2}, column {column}: empty cell (a truncated line?)")


def _first_bad(mask: pd.Series) -> int:
    return int(np.flatnonzero(mask.to_numpy())[0])


def _area_codes(column: pd.Series, prefix: str, areas: Areas, name: str, variable: str) -> pd.Series:
    categories = column.astype("category")
    mapping = {}
    for text in categories.cat.categories:
        area_text = text[len(prefix):] if prefix and text.startswith(prefix) else None if prefix else text
        code = areas.code_for(area_text) if area_text is not None else None
        if code is None:
            row = _first_bad(column == text)
            hint = f" starting with '{prefix}'" if prefix else ""
            raise WorkbookError(
                f"{name} line {row + 2}, column {variable}: unknown area '{text}'; "
                f"expected a municipality, region or 'Hele landet' as DST names them{hint}"
            )
        mapping[text] = code
    return categories.cat.rename_categories(mapping)


def _ages(column: pd.Series, name: str) -> pd.Series:
    categories = column.astype("category")
    mapping = {}
    for text in categories.cat.categories:
        match = AGE_PATTERN.match(text)
        if not match:
            row = _first_bad(column == text)
            raise WorkbookError(f"{name} line {row + 2}, column ALDER: '{text}'; expected an age like '18 år'")
        mapping[text] = int(match.group(1))
    return categories.cat.rename_categories(mapping).astype("int16")


def _periods(column: pd.Series, frequency: str | None, name: str) -> pd.Series:
    for text in pd.unique(column):
        try:
            parse_period(text, frequency)
        except ValueError as err:
            row = _first_bad(column == text)
            raise WorkbookError(f"{name} line {row + 2}, column TID: {err}") from None
    return column.astype("category")


def _values(column: pd.Series, name: str, is_count: bool) -> pd.Series:
    valid = column.str.match(NUMBER_PATTERN)
    if not valid.all():
        row = _first_bad(~valid)
        raise WorkbookError(
            f"{name} line {row + 2}, column INDHOLD: '{column.iloc[row]}'; expected a number with decimal comma"
        )
    values = pd.to_numeric(column.str.replace(",", ".", regex=False)).astype("float64")
    if is_count and (values < 0).any():
        row = _first_bad(values < 0)
        raise WorkbookError(f"{name} line {row + 2}, column INDHOLD: {column.iloc[row]}; a count cannot be negative")
    return values


def _check_duplicates(tidy: pd.DataFrame, keys: list[str], name: str) -> None:
    duplicated = tidy.duplicated(keys, keep=False)
    if duplicated.any():
        rows = np.flatnonzero(duplicated.to_numpy())[:2]
        raise WorkbookError(
            f"{name} lines {rows[0] + 2} and {rows[1] + 2}: the same {'/'.join(keys)} appears twice"
        )

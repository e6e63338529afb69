"""Reader for Statbank API CSV responses (api.statbank.dk/v1/data, lang=da, valuePresentation=Default).

The layout: UTF-8 with a BOM, ';' separated, CRLF line ends, a header of variable ids then
INDHOLD, value texts in each cell ("Hedensted", "Til Hedensted", "18 år"), decimal comma, and
`..` for a figure DST does not publish.

Each header id is matched to a variable of params/sources.yml, which names the column it
becomes (`area`, `period`, or a short name such as `alder`). A file the workbook fetched has a
sidecar (.meta.json) that lists the variables' ids, texts and value codes from the table's
tableinfo, so cells are turned back into DST's value codes ("Til Hedensted" -> 766, "18 år" ->
18, "I alt" -> TOT). A snapshot file without one gives its header ids in sources.yml, its area
texts are mapped through DST's Kommunegrupper, and ages "18 år" become 18.

Example::

    frame = read_statbank_csv(path, spec, areas)
    frame.columns.tolist()   # ['area', 'origin', 'alder', 'period', 'value', 'suppressed'] for FLY66
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.sources.classification import Areas
from analysis.data.sources.text import read_text
from analysis.errors import WorkbookError
from analysis.params import TableSpec, unit
from analysis.paths import relative
from analysis.periods import parse_period

# DST prefixes the area texts of flow tables with the direction (in a file without a sidecar).
AREA_PREFIXES = {"TILKOMMUNE": "Til ", "FRAKOMMUNE": "Fra "}
AGE_PATTERN = re.compile(r"^(\d{1,3}) år$")
NUMBER_PATTERN = re.compile(r"^-?\d+(,\d+)?$")
SUPPRESSED = ".."  # a figure that is confidential or not available


def sidecar_of(path: Path) -> dict | None:
    """The .meta.json beside a fetched version of a raw file, or None for a file without one."""
    sidecar = path.with_name(path.name.split(".")[0] + ".meta.json")
    if not sidecar.is_file():
        return None
    try:
        return json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise WorkbookError(f"{relative(sidecar)}: not a readable sidecar ({str(err).splitlines()[0]})") from None


CHUNK_ROWS = 100_000  # rows parsed at a time


def read_statbank_csv(path: Path, spec: TableSpec, areas: Areas, sidecar: dict | None = None) -> pd.DataFrame:
    """Read one API-layout CSV into tidy columns, checking every cell the workbook relies on."""
    name = relative(path)
    if sidecar is None:
        sidecar = sidecar_of(path)
    text = read_text(path)
    second_end = text.find("\n", text.find("\n") + 1)
    lines = text[: second_end if second_end >= 0 else len(text)].split("\n")  # the header and the first row
    header = lines[0].rstrip("\r").split(";")
    variables = _variables(header, spec, sidecar, name)
    if len(lines) > 1 and lines[1].strip() and lines[1].count(";") != len(header) - 1:
        # pandas would take a first line with a field too many as one with a row index
        raise WorkbookError(f"{name} line 2: {lines[1].count(';') + 1} fields; expected {len(header)}")
    try:
        data = text.encode("utf-8")
        del text  # the parse below holds the bytes only
        frame = _read_cells(data, header[:-1])
        del data
    except pd.errors.ParserError as err:
        raise WorkbookError(f"{name}: {_parser_message(err)}") from None
    if frame.empty:
        raise WorkbookError(f"{name}: a header but no data rows")
    _check_complete_rows(frame, header, name)

    tidy = pd.DataFrame(index=frame.index)
    for header_id, (column, codes) in variables.items():
        cells = frame[header_id]
        if column == "period":
            tidy["period"] = _periods(cells, spec.frequency, name, header_id)
        elif column == "area" or column in spec.areas:
            tidy[column] = _area_codes(cells, areas, codes, name, header_id)
        else:
            tidy[column] = _codes(cells, codes, name, header_id)
    values, suppressed = _values(frame["INDHOLD"], name, spec.unit is not None and unit(spec.unit).counted)
    tidy["value"] = values
    tidy["suppressed"] = suppressed
    keys = [c for c in tidy.columns if c not in ("value", "suppressed")]
    _check_duplicates(tidy, keys, name)
    return tidy


def _read_cells(data: bytes, variables: list[str]) -> pd.DataFrame:
    """The cells as text, the variables' columns as categories. Read in chunks from bytes: a
    StringIO holds four bytes a character, and a million rows of text cells take hundreds of MB
    where their few distinct values as categories take a few. (The parser's own dtype "category"
    would take "01" and "1" for the same number.)"""
    from pandas.api.types import union_categoricals

    parts = []
    for chunk in pd.read_csv(
        io.BytesIO(data), sep=";", dtype=str, keep_default_na=False, engine="c", encoding="utf-8", chunksize=CHUNK_ROWS
    ):
        parts.append(chunk.astype({column: "category" for column in variables if column in chunk}))
    if len(parts) == 1:
        return parts[0]
    columns = {}
    for column in parts[0].columns:
        if isinstance(parts[0][column].dtype, pd.CategoricalDtype):
            columns[column] = union_categoricals([part[column] for part in parts], sort_categories=True)
        else:
            columns[column] = pd.concat([part[column] for part in parts], ignore_index=True)
    return pd.DataFrame(columns)


def _variables(
    header: list[str], spec: TableSpec, sidecar: dict | None, name: str
) -> dict[str, tuple[str, dict | None]]:
    """Header id -> (the column it becomes, its value texts -> codes, or None without a sidecar)."""
    if not header or header[-1] != "INDHOLD":
        raise WorkbookError(f"{name} line 1: header {';'.join(header)}; expected the variable ids and then INDHOLD")
    ids = header[:-1]
    by_text = {text.lower(): column for text, column in spec.variables.items()}
    known: dict[str, tuple[str, dict | None]] = {}
    if sidecar and sidecar.get("variables"):
        for variable in sidecar["variables"]:
            column = by_text.get(variable["text"].lower())
            if column is None:
                raise WorkbookError(
                    f"{name}: the file holds variable {variable['id']} ({variable['text']}), "
                    f"which params/sources.yml does not declare"
                )
            codes = {text: code for code, text in variable.get("values", {}).items()}
            known[variable["id"].upper()] = (column, codes)
    else:
        for header_id, text in spec.header.items():
            known[header_id.upper()] = (by_text[text.lower()], None)
    unknown = [i for i in ids if i.upper() not in known]
    if unknown or len(set(ids)) != len(ids):
        expected = ";".join([*known, "INDHOLD"])
        raise WorkbookError(f"{name} line 1: header {';'.join(header)}; expected {expected}")
    columns = [known[i.upper()][0] for i in ids]
    if "area" not in columns or "period" not in columns:
        raise WorkbookError(f"{name} line 1: header {';'.join(header)} has no area or no time variable")
    return {i: known[i.upper()] for i in ids}


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


def _area_codes(column: pd.Series, areas: Areas, codes: dict | None, name: str, variable: str) -> pd.Series:
    categories = column.astype("category")
    mapping = {}
    for text in categories.cat.categories:
        code = None
        if codes is not None:
            code = codes.get(text)
            code = code.zfill(3) if code is not None and code.isdigit() else code
            if code is not None and areas.name_or_none(code) is None:
                code = None
        else:
            prefix = AREA_PREFIXES.get(variable.upper(), "")
            bare = text[len(prefix) :] if text.startswith(prefix) else None
            code = areas.code_for(bare) if bare is not None else None
        if code is None:
            row = _first_bad(column == text)
            prefix = AREA_PREFIXES.get(variable.upper(), "") if codes is None else ""
            hint = f" starting with '{prefix}'" if prefix else ""
            raise WorkbookError(
                f"{name} line {row + 2}, column {variable}: unknown area '{text}'; "
                f"expected a municipality, region or 'Hele landet' as DST names them{hint}"
            )
        mapping[text] = code
    return categories.cat.rename_categories(mapping)


def _codes(column: pd.Series, codes: dict | None, name: str, variable: str) -> pd.Series:
    """Value texts -> DST's value codes: from the sidecar, else '18 år' -> '18' and the text itself."""
    categories = column.astype("category")
    mapping = {}
    for text in categories.cat.categories:
        if codes is not None:
            if text not in codes:
                row = _first_bad(column == text)
                raise WorkbookError(
                    f"{name} line {row + 2}, column {variable}: '{text}' is not a value the sidecar lists"
                )
            mapping[text] = codes[text]
        else:
            match = AGE_PATTERN.match(text)
            mapping[text] = match.group(1) if match else text
    if len(set(mapping.values())) != len(mapping):
        raise WorkbookError(f"{name}, column {variable}: two value texts have the same code")
    return categories.cat.rename_categories(mapping)


def _periods(column: pd.Series, frequency: str | None, name: str, variable: str) -> pd.Series:
    for text in pd.unique(column):
        try:
            parse_period(text, frequency)
        except ValueError as err:
            row = _first_bad(column == text)
            raise WorkbookError(f"{name} line {row + 2}, column {variable}: {err}") from None
    return column.astype("category")


def _values(column: pd.Series, name: str, is_count: bool) -> tuple[pd.Series, pd.Series]:
    """The figures as floats, and which cells DST left out (`..`: missing, never a failed run).
    Each distinct text is checked and converted once: a table repeats few figures (FLY66's
    million cells hold a handful), so the rows only look theirs up."""
    codes, distinct = pd.factorize(column)  # a missing cell (none are read as missing) is code -1
    texts = pd.Series(distinct, dtype=object)
    suppressed_text = texts == SUPPRESSED
    valid_text = texts.str.match(NUMBER_PATTERN).fillna(False).astype(bool) | suppressed_text
    numbers = pd.to_numeric(texts.where(valid_text & ~suppressed_text).str.replace(",", ".", regex=False))
    # One more entry, at the end, for code -1: not valid, not suppressed, no number.
    valid = pd.Series(np.append(valid_text.to_numpy(dtype=bool), False)[codes], index=column.index)
    suppressed = pd.Series(np.append(suppressed_text.to_numpy(dtype=bool), False)[codes], index=column.index)
    if not valid.all():
        row = _first_bad(~valid)
        raise WorkbookError(
            f"{name} line {row + 2}, column INDHOLD: '{column.iloc[row]}'; expected a number with decimal comma, or .."
        )
    values = pd.Series(np.append(numbers.to_numpy(dtype="float64"), np.nan)[codes], index=column.index)
    if is_count and (values < 0).any():
        row = _first_bad(values < 0)
        raise WorkbookError(f"{name} line {row + 2}, column INDHOLD: {column.iloc[row]}; a count cannot be negative")
    return values, suppressed


def _check_duplicates(tidy: pd.DataFrame, keys: list[str], name: str) -> None:
    duplicated = tidy.duplicated(keys, keep=False)
    if duplicated.any():
        rows = np.flatnonzero(duplicated.to_numpy())[:2]
        raise WorkbookError(f"{name} lines {rows[0] + 2} and {rows[1] + 2}: the same {'/'.join(keys)} appears twice")

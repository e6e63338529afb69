"""Reader for noegletal.dk exports: one row per municipality, one column per year.

The layout: latin-1, ';', header `Kommune;Kom.nr;1993;...;2023`, names with footnote markers
("Hedensted Kommune (3)"), Danish thousands separator ("47.609") and decimal comma ("90,1").
The export's legend: "-" is a true zero, "U" is undefined for that year (left out here).

Example::

    frame = read_noegletal_csv(Path("../shared/data/noegletal/indbygger_data.csv"), areas)
    frame.columns.tolist()   # ['area', 'period', 'value']
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd

from analysis.data.sources.classification import Areas
from analysis.data.sources.text import read_text
from analysis.errors import WorkbookError
from analysis.paths import relative

VALUE_PATTERN = re.compile(r"^-?\d{1,3}(\.\d{3})*(,\d+)?$|^-?\d+(,\d+)?$")


def read_noegletal_csv(path: Path, areas: Areas) -> pd.DataFrame:
    """Read a noegletal export into tidy rows (area code, year, value)."""
    name = relative(path)
    text = read_text(path, encoding="latin-1")
    try:
        frame = pd.read_csv(io.StringIO(text), sep=";", dtype=str, keep_default_na=False)
    except pd.errors.ParserError as err:
        raise WorkbookError(f"{name}: {str(err).strip().splitlines()[-1]}") from None
    columns = list(frame.columns)
    if columns[:2] != ["Kommune", "Kom.nr"]:
        raise WorkbookError(f"{name} line 1: header starts {';'.join(columns[:2])}; expected Kommune;Kom.nr;<years>")
    years = columns[2:]
    bad_years = [y for y in years if not re.fullmatch(r"\d{4}", y)]
    if not years or bad_years:
        raise WorkbookError(f"{name} line 1: column '{(bad_years or ['(none)'])[0]}'; expected years like 1993")
    known = set(areas.municipalities["code"])
    codes = frame["Kom.nr"].str.strip().str.zfill(3)
    for line, code in enumerate(codes, start=2):
        if code not in known:
            raise WorkbookError(f"{name} line {line}, column Kom.nr: '{code}' is not a municipality code")
    frame["area"] = codes
    long = frame.melt(id_vars="area", value_vars=years, var_name="period", value_name="text")
    long["line"] = long.groupby("period").cumcount() + 2
    long["text"] = long["text"].str.strip()
    long = long[long["text"] != "U"]
    zero = long["text"] == "-"
    valid = zero | long["text"].str.match(VALUE_PATTERN)
    if not valid.all():
        bad = long[~valid].iloc[0]
        raise WorkbookError(
            f"{name} line {bad['line']}, column {bad['period']}: '{bad['text']}'; "
            "expected a number like 47.609 or 90,1, '-' (zero) or 'U' (undefined)"
        )
    numbers = long["text"].str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    long["value"] = pd.to_numeric(numbers.where(~zero, "0")).astype("float64")
    return long[["area", "period", "value"]].reset_index(drop=True)

"""Every number of a brief as a DataFrame, for the analyst and for the Excel and CSV files a run
writes beside its briefs. Column names are Danish, cells hold numbers (not text).

Example::

    tables.indicator_table(brief)            # one row per indicator: value, change, group mean, rank, status
    tables.group_table(brief, "population_growth")   # every compared municipality on every date
    tables.export(scope, folder / "tal.xlsx", folder / "tal.csv")
"""

from __future__ import annotations

import datetime as dt
import io
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd
import xlsxwriter

from analysis import params
from analysis.indicators.figures import Figures, Scope, select, timeline
from analysis.params import THEMES
from analysis.periods import label, parse_period
from analysis.report import fmt

THEME_NAMES = {"growth": "Vækst", "community": "Fællesskaber", "cooperation": "Samarbejde"}
ROW_COLUMNS = [
    "Indikator",
    "Id",
    "Kommune",
    "Periode",
    "Dato",
    "Tal",
    "Enhed",
    "Ændring på et år",
    "Gns. for de andre",
    "Median for de andre",
    "Placering",
    "Antal i gruppen",
    "Sammenlignet",
    "Status",
    "Mål",
]


def indicator_row(figures: Figures, scope: Scope) -> dict:
    """One indicator's latest figure against the group, as numbers."""
    indicator = figures.indicator
    row = {
        "Indikator": indicator.name,
        "Id": indicator.id,
        "Kommune": scope.kommune_name,
        "Enhed": indicator.unit.name,
        "Status": figures.status.status,
        "Mål": "; ".join(t.label for t, _n in figures.targets) or "Intet mål",
    }
    if not figures.has_data:
        return row
    latest = figures.latest
    row |= {"Periode": latest["period"], "Dato": figures.latest_date.date(), "Tal": latest["value"]}
    before = figures.year_before
    if before is not None:
        row["Ændring på et år"] = latest["value"] - before["value"]
    comparison = figures.comparison
    if comparison:
        row |= {
            "Gns. for de andre": comparison["mean_others"],
            "Median for de andre": comparison["median_others"],
            "Placering": comparison["rank"],
            "Antal i gruppen": comparison["n"],
            "Sammenlignet": "pr. 1.000 indbyggere" if figures.comparison_measure == "per_1000" else "tallet selv",
        }
    return row


def indicator_table(entries: list[Figures], scope: Scope) -> pd.DataFrame:
    """The brief's indicators, one row each, in the order the brief shows them."""
    return pd.DataFrame([indicator_row(f, scope) for f in entries], columns=ROW_COLUMNS)


def series_table(figures: Figures, scope: Scope) -> pd.DataFrame:
    """The municipality's figures of one indicator over time, with the comparison on each date."""
    frame = figures.frame()
    names = {
        "period": "Periode",
        "value": "Tal",
        "numerator": "Tæller",
        "denominator": "Nævner",
        "n": "Antal svar / ud af",
        "suppressed": "Ikke offentliggjort",
        "mean_others": "Gns. for de andre",
        "median_others": "Median for de andre",
        "q25": "Nedre kvartil",
        "q75": "Øvre kvartil",
        "rank": "Placering",
        "group_size": "Antal i gruppen",
    }
    frame = frame.rename(columns=names).dropna(axis=1, how="all")
    frame.index = frame.index.date
    frame.index.name = "Dato"
    return frame


def group_table(figures: Figures, scope: Scope) -> pd.DataFrame:
    """Every compared municipality's figure on every date of the series (by name, one column each)."""
    if figures.group is None:
        return pd.DataFrame()
    group = figures.group.rename(columns=scope.name)
    group.index = pd.Index(group.index.date, name="Dato")
    return group


def show(frame: pd.DataFrame, caption: str = "") -> None:
    """Display a DataFrame in the notebook with Danish number formats (48.167; 0,926), every row
    of it, as an HTML table of class `analyst-table` (pandas' own `to_html`: a third of the size
    and about half the time of a Styler's table, which also stamped a new object address on every
    run)."""
    from html import escape

    from IPython.display import HTML, display

    numbers = frame.select_dtypes("number").columns
    html = frame.to_html(formatters={c: _number for c in numbers}, na_rep="", classes="analyst-table", border=0)
    if caption:  # the caption goes first inside the table, as <caption> must
        html = html.replace(">", f"><caption>{escape(caption)}</caption>", 1)
    display(HTML(html))


def _number(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return fmt.number(value) if float(value).is_integer() else fmt.number(value, 3)


# --- the files beside the briefs --------------------------------------------------------


def export_frames(scope: Scope) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Per theme, every indicator's figures for every municipality of the comparison group on
    every date the run shows, with each one's rank; and the sources behind them."""
    registry = params.load_indicators()
    sheets = {}
    used: set[str] = set()
    for theme in THEMES:
        parts = []
        for indicator in registry.for_theme(theme):
            figures = select(scope, indicator)
            if not figures.has_data:
                continue
            used |= {t for t in figures.tables if t in scope.processed.inputs}
            parts.append(_figures_rows(figures, scope))
        sheet = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        if parts and not sheet["Placering"].isna().any():
            sheet["Placering"] = sheet["Placering"].astype("int64")
        sheets[THEME_NAMES[theme]] = sheet
    sources = params.load_sources()
    source_rows = []
    for table in sorted(used):
        spec = sources.tables.get(table)
        entry = scope.processed.inputs[table]
        vintage = scope.processed.vintages.get(table, "")
        source_rows.append(
            {
                "Tabel": table,
                "Titel": spec.title if spec else table,
                "Nyeste periode": label(parse_period(vintage)) if vintage else "",
                "Fil": entry["file"].rsplit("/", 1)[-1],
                "sha256": entry["sha256"],
                "Kilde": spec.citation if spec else "Kommunens egne opgørelser",
            }
        )
    return sheets, pd.DataFrame(source_rows)


def _figures_rows(figures: Figures, scope: Scope) -> pd.DataFrame:
    """One indicator's rows of a numbers file: every compared municipality on every date, date by
    date, with its rank in the group (1 the best)."""
    indicator = figures.indicator
    group = (
        figures.group
        if figures.group is not None
        else figures.series[["value"]].rename(columns={"value": scope.kommune})
    )
    ranks = group.rank(axis=1, ascending=indicator.polarity == "lower", method="min")
    dates, codes = len(group.index), len(group.columns)
    starts = [start.date() for start in timeline(figures, figures.series.index)]
    return pd.DataFrame(
        {
            "Indikator": indicator.name,
            "Id": indicator.id,
            "Kommunekode": list(group.columns) * dates,
            "Kommune": [scope.name(code) for code in group.columns] * dates,
            "Periode": figures.series["period"].loc[group.index].to_numpy().repeat(codes),
            "Periodens start": pd.Series(starts, dtype=object).to_numpy().repeat(codes),
            "Dato": pd.Series([date.date() for date in group.index], dtype=object).to_numpy().repeat(codes),
            "Tal": group.to_numpy(dtype=float).ravel(),
            "Placering": ranks.to_numpy(dtype=float).ravel(),
            "Sammenlignet": "pr. 1.000 indbyggere" if figures.comparison_measure == "per_1000" else "tallet selv",
            "Enhed": indicator.unit.name,
        }
    )


def export(scope: Scope, xlsx: Path, csv: Path) -> None:
    """Write the numbers of a run for its comparison group as an Excel workbook (a sheet per theme
    and one of sources) and as one CSV (';', decimal comma, UTF-8 with BOM, as Danish Excel reads it).
    The same inputs give the same bytes."""
    Numbers(*export_frames(scope)).write(xlsx, csv)


@dataclass(eq=False)
class Numbers:
    """The frames of a numbers file, and the bytes of its Excel and CSV files once asked for."""

    sheets: dict[str, pd.DataFrame]
    sources: pd.DataFrame

    def same_as(self, other: Numbers) -> bool:
        """The same frames (names, columns, types and values), and so the same files."""
        return (
            list(self.sheets) == list(other.sheets)
            and all(frame.equals(other.sheets[name]) for name, frame in self.sheets.items())
            and self.sources.equals(other.sources)
        )

    @cached_property
    def files(self) -> tuple[bytes, bytes]:
        xlsx = workbook_bytes({**self.sheets, "Kilder": self.sources})
        frames = [frame.assign(Tema=name) for name, frame in self.sheets.items() if not frame.empty]
        combined = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return xlsx, combined.to_csv(sep=";", decimal=",", index=False).encode("utf-8-sig")

    def write(self, xlsx: Path, csv: Path) -> None:
        xlsx_bytes, csv_bytes = self.files
        xlsx.write_bytes(xlsx_bytes)
        csv.write_bytes(csv_bytes)


def workbook_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    """An Excel workbook with a sheet per frame (the column names in a frozen first row), with
    XlsxWriter. Text stays text (never a formula, a link or a number: a name that starts with '='
    is a name), dates are dates; the workbook's own dates are fixed and XlsxWriter dates its zip
    entries 1980-01-01, so the same frames give the same bytes."""
    buffer = io.BytesIO()
    options = {
        "in_memory": True,
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
        "default_date_format": "yyyy-mm-dd",
    }
    book = xlsxwriter.Workbook(buffer, options)
    book.set_properties({"created": dt.datetime(2000, 1, 1)})
    for name, frame in sheets.items():
        sheet = book.add_worksheet(name)
        for index, column in enumerate(frame.columns):
            sheet.set_column(index, index, max(12, min(40, len(str(column)) + 4)))
        sheet.freeze_panes(1, 0)
        sheet.write_row(0, 0, [str(column) for column in frame.columns])
        for row, record in enumerate(frame.itertuples(index=False), start=1):
            sheet.write_row(row, 0, [None if isinstance(v, float) and math.isnan(v) else v for v in record])
    book.close()
    return buffer.getvalue()


def export_numbers(
    files: dict[str, list[str]],
    period: str,
    comparison_group: str,
    strategy_period: str,
    example_data: bool,
    folders: list[str],
    processed_dir: str,
    stop=lambda: False,
) -> None:
    """`export` for a run's municipalities: `files` gives each kommunekode's Excel and CSV paths, and
    the scope comes from the run's parameters (all text, so that a run can have it done in a fork of
    its kernel server, where the data is read already). The members of a comparison group under the
    same strategy have the same numbers: equal frames are written from the bytes made for the first.
    Once `stop()` is true, no further municipality is begun."""
    from analysis.data.processed import DataLocation
    from analysis.indicators import store

    processed = store.load(DataLocation(tuple(Path(folder) for folder in folders)), Path(processed_dir))
    made: list[Numbers] = []
    for kommune, (xlsx, csv) in files.items():
        if stop():
            return
        strategy = params.load_council(kommune).strategy
        chosen = strategy.key_for(strategy_period, int(period[:4]))
        scope = Scope.build(processed, parse_period(period), kommune, comparison_group, strategy, chosen, example_data)
        numbers = Numbers(*export_frames(scope))
        earlier = next((made_before for made_before in made if made_before.same_as(numbers)), None)
        if earlier is None:
            made.append(numbers)
        (earlier or numbers).write(Path(xlsx), Path(csv))

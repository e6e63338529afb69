"""The indicator engine: every indicator of params/indicators.yml, for every area and period, in
one tidy table, computed from its declaration alone.

A declaration names its series (a raw table with filters, several tables, a manual file, or
another indicator) and one measure kind (value, sum, share, ratio, per_1000, change); see
`MeasureSpec` in params.py. Each row of the result is one figure:

    indicator  area  period   date        value    numerator  denominator  n     suppressed
    population 766   2025M01  2025-01-01  48167.0  NaN        NaN          NaN   False

`date` is the day the figure refers to: the day of a stock (1 January 2025 for the population
on that day), or the day after a period for a figure over it (1 January 2025 for the moves of
2024). Two series are matched on it, so moves in 2024 are set against the population at the
end of 2024. Computing returns numbers only: words and charts are made elsewhere from them.
Ingest computes the table once per change of the processed data and stores it beside it.

Example::

    table = compute_all(observations, params.load_indicators(), params.load_sources())
    table.query("indicator == 'movers_18_36' and area == '766'")[["period", "value", "numerator", "denominator"]]
    #   period     value  numerator  denominator
    #   2024    1.033213     1431.0       1385.0
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from analysis.errors import WorkbookError
from analysis.params import Indicator, Indicators, MeasureSpec, Range, SeriesSpec, Sources
from analysis.periods import parse_period

COLUMNS = ["indicator", "area", "period", "date", "value", "numerator", "denominator", "n", "suppressed"]
PER_1000 = "/per_1000"  # the companion of a count indicator compared with other municipalities per 1,000 inhabitants
MANUAL_PREFIX = "manual/"
_LEADING_NUMBER = re.compile(r"^(\d+)")


def compute_all(
    observations: pd.DataFrame, registry: Indicators, sources: Sources, only: list[str] | None = None
) -> pd.DataFrame:
    """Every indicator (or the `only` ones and what they build on) for every area and period."""
    engine = _Engine(observations, registry, sources)
    wanted = only if only is not None else [i.id for i in registry.indicators]
    frames = [engine.indicator(indicator_id) for indicator_id in wanted]
    for indicator_id in wanted:
        if registry.get(indicator_id).compare_per_1000:
            frames.append(engine.per_1000_companion(indicator_id))
    if not frames:
        return empty()
    table = pd.concat(frames, ignore_index=True)
    table["indicator"] = table["indicator"].astype("category")
    table["area"] = table["area"].astype("category")
    return table[COLUMNS]


def empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in COLUMNS})
    return frame.astype(
        {"indicator": "object", "area": "object", "period": "object", "date": "datetime64[ns]", "suppressed": "bool"}
    )


def is_stock(indicator: Indicator, registry: Indicators, sources: Sources) -> bool:
    """Whether the indicator's figures are stocks on a day (population) or figures over a period."""
    first = indicator.measure.series[0]
    if first.indicator:
        return is_stock(registry.get(first.indicator), registry, sources)
    if first.manual:
        return False
    return sources.tables[first.table_names[0]].time == "start"


def dates_of(periods: pd.Series, stock: bool) -> pd.Series:
    """The day each period's figure refers to: its first day for a stock, the day after it otherwise."""
    unique = pd.unique(periods)
    parsed = {code: parse_period(code) for code in unique}
    days = {code: (p.start_time if stock else (p + 1).start_time).normalize() for code, p in parsed.items()}
    return periods.map(days).astype("datetime64[ns]")


class _Engine:
    def __init__(self, observations: pd.DataFrame, registry: Indicators, sources: Sources) -> None:
        self.obs = observations
        self.registry = registry
        self.sources = sources
        self.done: dict[str, pd.DataFrame] = {}
        # Where each table's rows are, not a copy of them: a series copies only the rows it keeps.
        self._positions = {str(t): rows for t, rows in observations.groupby("table", observed=True).indices.items()}

    # --- indicators ----------------------------------------------------------------------

    def indicator(self, indicator_id: str) -> pd.DataFrame:
        if indicator_id not in self.done:
            indicator = self.registry.get(indicator_id)
            try:
                frame = self._measure(indicator, indicator.measure)
            except WorkbookError as err:
                raise WorkbookError(f"indicator {indicator_id}: {err}") from None
            self.done[indicator_id] = frame.assign(indicator=indicator_id)
        return self.done[indicator_id]

    def per_1000_companion(self, indicator_id: str) -> pd.DataFrame:
        indicator = self.registry.get(indicator_id)
        base = self.indicator(indicator_id)
        population = self.series(indicator, indicator.measure.per)
        frame = _divide(base.assign(suppressed=base["suppressed"]), population, 1000.0, "date")
        return frame.assign(indicator=indicator_id + PER_1000)

    def _measure(self, indicator: Indicator, measure: MeasureSpec) -> pd.DataFrame:
        kind = measure.kind
        if kind in ("value", "sum"):
            frame = self.series(indicator, measure.of, unique=kind == "value")
            return frame.assign(numerator=np.nan, denominator=np.nan)
        if kind == "share":
            part = self.series(indicator, measure.part)
            whole = self.series(indicator, measure.whole)
            frame = _divide(part, whole, 100.0, measure.align)
            if measure.complement:
                frame["numerator"] = frame["denominator"] - frame["numerator"]
                frame["value"] = 100.0 - frame["value"]
            return frame
        if kind == "ratio":
            return _divide(
                self.series(indicator, measure.numerator),
                self.series(indicator, measure.denominator),
                measure.scale,
                measure.align,
            )
        if kind == "per_1000":
            return _divide(
                self.series(indicator, measure.of), self.series(indicator, measure.per), 1000.0, measure.align
            )
        return _change(self.series(indicator, measure.of), measure.years, measure.relative)

    # --- series --------------------------------------------------------------------------

    def series(self, indicator: Indicator, spec: SeriesSpec, unique: bool = False) -> pd.DataFrame:
        """area, period, date, value, n, suppressed: one row per area and period."""
        if spec.indicator:
            frame = self.indicator(spec.indicator)
            return frame[["area", "period", "date", "value", "n", "suppressed"]]
        if spec.manual:
            return self._manual(indicator, spec.manual)
        frames = [self._table(table, spec, unique) for table in spec.table_names]
        if len(frames) == 1:
            return frames[0]
        combined = pd.concat(frames, ignore_index=True)  # in the declared order: the first wins a date
        return combined.drop_duplicates(["area", "date"], keep="first").reset_index(drop=True)

    def _rows(self, table: str) -> pd.DataFrame:
        positions = self._positions.get(table)
        return self.obs.iloc[positions] if positions is not None else self.obs.iloc[0:0]

    def _manual(self, indicator: Indicator, kind: str) -> pd.DataFrame:
        rows = self._rows(MANUAL_PREFIX + kind)
        rows = rows[rows["measure"].astype(str) == indicator.id]
        frame = pd.DataFrame(
            {
                "area": rows["area"].astype(str).to_numpy(),
                "period": rows["period"].astype(str).to_numpy(),
                "value": rows["value"].to_numpy(dtype=float),
                "n": rows["n"].astype("float64").to_numpy() if "n" in rows else np.nan,
                "suppressed": False,
            }
        )
        frame["date"] = dates_of(frame["period"], stock=False)
        return frame

    def _table(self, table: str, spec: SeriesSpec, unique: bool) -> pd.DataFrame:
        source = self.sources.tables[table]
        positions = self._positions.get(table)
        if positions is None or not len(positions):
            return _no_rows()

        def column_of(name: str) -> pd.DataFrame:  # one column of the table's rows, to filter on
            return self.obs[[name]].iloc[positions] if name in self.obs.columns else pd.DataFrame(index=positions)

        keep = np.ones(len(positions), dtype=bool)  # one mask, then one copy of the rows it keeps
        for column, values in spec.filter.items():
            keep &= _member(column_of(column), column, values, table).to_numpy()
        for column, values in spec.exclude.items():
            keep &= ~_member(column_of(column), column, values, table).to_numpy()
        rows = self.obs.iloc[positions[keep]]
        if rows.empty:
            raise WorkbookError(f"the filter leaves no figures in {table}")
        values = rows["value"].astype(float)
        if spec.weight:
            values = values * _weights(rows, spec.weight, table)
        suppressed = rows["suppressed"].fillna(False).astype(bool) if "suppressed" in rows else False
        # Areas and periods stay categories (a code per row, not a string) until the rows are
        # summed to one per area and period: a table of a million rows is grouped in little memory.
        frame = pd.DataFrame(
            {
                "area": _as_text_categories(rows[spec.area]),
                "period": _as_text_categories(rows["period"]),
                "value": values.to_numpy(),
                "suppressed": np.asarray(suppressed, dtype=bool),
            }
        )
        grouped = frame.groupby(["area", "period"], sort=True, observed=True)
        if unique:
            sizes = grouped.size()
            if (sizes > 1).any():
                left = [
                    c
                    for c in source.dimensions
                    if c in rows.columns and rows[c].notna().any() and rows[c].nunique() > 1 and c not in spec.filter
                ]
                raise WorkbookError(
                    f"the filter leaves several figures per area and period in {table} "
                    f"(by {', '.join(left) or 'an unfiltered column'}); filter them, or use kind sum"
                )
        summed = grouped.agg(value=("value", "sum"), suppressed=("suppressed", "any")).reset_index()
        summed["area"], summed["period"] = summed["area"].astype(str), summed["period"].astype(str)
        summed.loc[summed["suppressed"], "value"] = np.nan
        summed["n"] = np.nan
        summed["date"] = dates_of(summed["period"], stock=source.time == "start")
        return summed


def _as_text_categories(column: pd.Series) -> pd.Categorical:
    """A column as categories whose values are text, with the categories in text order."""
    categorical = column.astype("category").cat.remove_unused_categories()
    texts = [str(c) for c in categorical.cat.categories]
    renamed = (
        categorical.cat.rename_categories(texts)
        if len(set(texts)) == len(texts)
        else column.astype(str).astype("category")
    )
    return pd.Categorical(renamed, categories=sorted(set(texts)), ordered=False)


def _no_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "area": pd.Series(dtype=str),
            "period": pd.Series(dtype=str),
            "value": pd.Series(dtype=float),
            "suppressed": pd.Series(dtype=bool),
            "n": pd.Series(dtype=float),
            "date": pd.Series(dtype="datetime64[ns]"),
        }
    )


def _member(rows: pd.DataFrame, column: str, values: list[str] | Range, table: str) -> pd.Series:
    if column not in rows.columns or rows[column].isna().all():
        raise WorkbookError(f"the file of {table} has no column '{column}' to filter on")
    present = [str(v) for v in rows[column].dropna().unique()]
    wanted = values.codes(present) if isinstance(values, Range) else [str(v) for v in values]
    missing = [v for v in wanted if v not in present] if not isinstance(values, Range) else []
    if missing or not wanted:
        shown = ", ".join(sorted(present)[:12]) + (" ..." if len(present) > 12 else "")
        what = f"value '{missing[0]}'" if missing else f"values in {values.describe()}"
        raise WorkbookError(f"{table} has no {what} in column {column}; it has {shown}")
    cells = rows[column]
    if isinstance(cells.dtype, pd.CategoricalDtype):  # compare the few categories, not every cell
        wanted_categories = [c for c in cells.cat.categories if str(c) in set(wanted)]
        return cells.isin(wanted_categories)
    return cells.astype(str).isin(wanted)


def _weights(rows: pd.DataFrame, column: str, table: str) -> pd.Series:
    """The number each code of `column` stands for: '2' or '2 personer' -> 2."""
    codes = rows[column].astype(str)
    numbers = {}
    for code in codes.unique():
        match = _LEADING_NUMBER.match(code)
        if match is None:
            if (rows.loc[codes == code, "value"].fillna(0) != 0).any():
                raise WorkbookError(
                    f"{table}: column {column} has the code '{code}', which is not a number to weight by"
                )
            numbers[code] = 0.0
        else:
            numbers[code] = float(match.group(1))
    return codes.map(numbers).astype(float)


def _divide(top: pd.DataFrame, bottom: pd.DataFrame, scale: float, align: str) -> pd.DataFrame:
    """top / bottom x scale, matched on area and date (or on the year of the period)."""
    if align == "year":
        top = top.assign(key=top["period"].str[:4])
        bottom = bottom.assign(key=bottom["period"].str[:4])
    else:
        top = top.assign(key=top["date"])
        bottom = bottom.assign(key=bottom["date"])
    merged = top.merge(
        bottom[["area", "key", "value", "suppressed"]], on=["area", "key"], how="inner", suffixes=("", "_bottom")
    )
    bottom_value = merged["value_bottom"].where(merged["value_bottom"] != 0)
    return pd.DataFrame(
        {
            "area": merged["area"],
            "period": merged["period"],
            "date": merged["date"],
            "value": merged["value"] / bottom_value * scale,
            "numerator": merged["value"],
            "denominator": merged["value_bottom"],
            "n": merged["n"] if "n" in merged else np.nan,
            "suppressed": merged["suppressed"] | merged["suppressed_bottom"],
        }
    )


def _change(series: pd.DataFrame, years: int, relative: bool) -> pd.DataFrame:
    """The change over `years` to each date: in percent of the earlier figure, or in the unit."""
    earlier = series.assign(date=series["date"] + pd.DateOffset(years=years))
    merged = series.merge(
        earlier[["area", "date", "value", "suppressed"]], on=["area", "date"], how="inner", suffixes=("", "_before")
    )
    before = merged["value_before"].where(merged["value_before"] != 0)
    value = (merged["value"] / before - 1) * 100 if relative else merged["value"] - merged["value_before"]
    return pd.DataFrame(
        {
            "area": merged["area"],
            "period": merged["period"],
            "date": merged["date"],
            "value": value,
            "numerator": merged["value"],
            "denominator": merged["value_before"],
            "n": np.nan,
            "suppressed": merged["suppressed"] | merged["suppressed_before"],
        }
    )

"""Which figures of the engine's indicator table a run may use, and which periods runs can be made for.

A quarterly run for 2025K1 reads stocks on the quarter's first day (the population on 1
January 2025) and figures for periods that have ended by the quarter's end (the moves of 2024,
the sickness absence of 2025K1); an annual run for 2024 reads stocks on 1 January 2025, the
end of the year, and figures for periods that ended by then. A quarterly brief shows monthly
stocks on the first day of each quarter, an annual brief on 1 January.

Example::

    table = store.load(data_location()).indicators
    resolve_period(table, "kvartal", None)                  # Period('2025Q1', 'Q-DEC')
    usable(series, stock=True, period=parse_period("2025K1")).index[-1]   # Timestamp('2025-01-01')
"""

from __future__ import annotations

import pandas as pd

from analysis.errors import WorkbookError
from analysis.periods import code, freq_of

YOUTH_AGES = (18, 36)
POPULATION = "population"


def cutoffs(period: pd.Period) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The last day a stock may refer to, and the last day a period's figure may end on."""
    after = (period + 1).start_time.normalize()
    if freq_of(period) == "Q":
        return period.start_time.normalize(), after
    return after, after


def reference_dates(period: pd.Period) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The date a run's stocks are read on, and the same one period earlier."""
    now, _ = cutoffs(period)
    if freq_of(period) == "Q":
        return now, (period - 1).start_time.normalize()
    return now, period.start_time.normalize()


def last_complete_year(period: pd.Period) -> int:
    """The latest year of annual statistics a run may use: the year itself for an annual run,
    the year before for a quarterly run (a year's figures exist only after it has ended)."""
    return period.year if freq_of(period) == "Y" else period.year - 1


def usable(series: pd.DataFrame, stock: bool, period: pd.Period) -> pd.DataFrame:
    """The rows (indexed by date) a run for `period` shows: up to its cut-off, one per quarter
    in a quarterly run and one per year in an annual run."""
    stock_cutoff, period_cutoff = cutoffs(period)
    until = stock_cutoff if stock else period_cutoff
    rows = series.loc[series.index <= until]
    months = (1, 4, 7, 10) if freq_of(period) == "Q" else (1,)
    return rows.loc[rows.index.month.isin(months) & (rows.index.day == 1)]


def population_dates(table: pd.DataFrame) -> tuple[list[pd.Timestamp], list[pd.Timestamp]]:
    """The days the population is known on: from monthly (or quarterly) figures, and on 1 January."""
    rows = table.loc[table["indicator"] == POPULATION, ["period", "date"]].drop_duplicates()
    sub_annual = sorted(set(rows.loc[rows["period"].str.len() > 4, "date"]))
    january = sorted(set(rows.loc[rows["date"].dt.month == 1, "date"]))
    return sub_annual, january


def available_periods(table: pd.DataFrame, cadence: str) -> list[pd.Period]:
    """The periods a run can be made for: quarters whose first day has a monthly or quarterly
    population figure, or years whose closing population (1 January of the next year) is known."""
    sub_annual, january = population_dates(table)
    if cadence == "kvartal":
        return [pd.Period(d, freq="Q") for d in sub_annual if d.month in (1, 4, 7, 10)]
    return [pd.Period(year=d.year - 1, freq="Y") for d in january if d.year > january[0].year]


def resolve_period(table: pd.DataFrame, cadence: str, period: pd.Period | None) -> pd.Period:
    """`None` means the latest period; a period without data gets a one-line error naming the range."""
    available = available_periods(table, cadence)
    if not available:
        raise WorkbookError(f"no population figures for --cadence {cadence}: is FOLK1AM on disk?")
    if period is None:
        return max(available)
    if period not in available:
        raise WorkbookError(
            f"--period {code(period)}: no population data for it; periods on disk for --cadence {cadence} "
            f"run {code(min(available))} to {code(max(available))}"
        )
    return period


def top_flows(
    obs: pd.DataFrame, kommune: str, year: int, ages: tuple[int, int] = YOUTH_AGES, n: int = 5
) -> pd.DataFrame:
    """The counterpart municipalities with the most moves to or from the municipality (FLY66):
    the movers indicator's table of its largest flows."""
    flows = obs.loc[(obs["table"] == "FLY66") & (obs["period"] == str(year)), ["alder", "area", "origin", "value"]]
    # The ages are asked of their few distinct values, and the rows grouped on the area codes as
    # they are stored (categories), not on a string made for every row.
    distinct = flows["alder"].dropna().unique()
    flows = flows[flows["alder"].isin([a for a in distinct if str(a).isdigit() and ages[0] <= int(a) <= ages[1]])]
    inside, outside = flows[flows["area"] == kommune], flows[flows["origin"] == kommune]
    moved_in = inside.groupby("origin", observed=True)["value"].sum()
    moved_out = outside.groupby("area", observed=True)["value"].sum()
    moved_in.index, moved_out.index = moved_in.index.astype(str), moved_out.index.astype(str)
    table = pd.DataFrame({"in": moved_in, "out": moved_out}).fillna(0)
    table["net"] = table["in"] - table["out"]
    table["total"] = table["in"] + table["out"]
    return table.sort_values(["total", "in"], ascending=False).head(n)

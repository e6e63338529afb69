"""Indicator series computed from the tidy observations, for one municipality and its group.

Every function takes the processed observations and returns plain pandas objects; the brief
module turns them into tables, charts and sentences.

Example::

    obs = load_processed(data_location()).observations
    population_monthly(obs).loc[pd.Timestamp("2025-01-01"), "766"]   # 48167.0
    movers(obs, 2024).loc["766"]                                   # in 1431, out 1385, ratio 1.033
"""

from __future__ import annotations

import functools

import pandas as pd

from analysis.errors import WorkbookError
from analysis.periods import code, freq_of

YOUTH_AGES = (18, 36)
_memo: dict = {}


def memoised(function):
    """Compute once per observations table: a brief asks for the same series many times.

    Results are shared, so callers must not change them in place (pandas' copy-on-write
    makes an accidental change local to the caller anyway).
    """
    @functools.wraps(function)
    def wrapper(obs: pd.DataFrame, *args):
        if _memo.get("obs") is not obs:
            _memo.clear()
            _memo["obs"] = obs
        key = (function.__name__, *args)
        if key not in _memo:
            _memo[key] = function(obs, *args)
        return _memo[key]
    return wrapper


@memoised
def manual_rows(obs: pd.DataFrame) -> pd.DataFrame:
    """The rows read from the analyst's manual files."""
    tables = [t for t in obs["table"].cat.categories if str(t).startswith("manual/")]
    rows = obs[obs["table"].isin(tables)]
    return rows.assign(measure=rows["measure"].astype(str), area=rows["area"].astype(str), period=rows["period"].astype(str))


def _table(obs: pd.DataFrame, table: str) -> pd.DataFrame:
    rows = obs[obs["table"] == table]
    if rows.empty:
        raise WorkbookError(f"table {table} has no rows in the processed data; run `python -m analysis ingest`")
    return rows


@memoised
def population_monthly(obs: pd.DataFrame) -> pd.DataFrame:
    """Population on the first of each month (FOLK1AM): dates (rows) x area codes (columns)."""
    monthly = _table(obs, "FOLK1AM")
    dates = pd.PeriodIndex(monthly["period"].astype(str).str.replace("M", "-"), freq="M").start_time
    frame = monthly.assign(date=dates, area=monthly["area"].astype(str))
    return frame.pivot(index="date", columns="area", values="value").sort_index()


@memoised
def population_january(obs: pd.DataFrame) -> pd.DataFrame:
    """Population on 1 January, 1993 on: noegletal, and FOLK1AM's January months where it has them.

    Where both have a year, FOLK1AM is used (they agree: see tests/test_indicators.py).
    """
    monthly = population_monthly(obs)
    january = monthly.loc[monthly.index.month == 1]
    yearly = _table(obs, "INDBYGGERE")
    frame = yearly.assign(date=pd.to_datetime(yearly["period"].astype(str) + "-01-01"), area=yearly["area"].astype(str))
    noegletal = frame.pivot(index="date", columns="area", values="value")
    return january.combine_first(noegletal).sort_index()


def population_for(obs: pd.DataFrame, period: pd.Period) -> pd.DataFrame:
    """The population series a run reads: monthly for a quarterly run, 1 January for an annual one."""
    return population_monthly(obs) if freq_of(period) == "Q" else population_january(obs)


def reference_dates(period: pd.Period) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The date a run's stocks are read on, and the date one period earlier.

    A quarter reads the first day of the quarter (a quarter's value is its first month's);
    a year reads the population at its end, 1 January of the next year.
    """
    if freq_of(period) == "Q":
        start = period.start_time.normalize()
        return start, (period - 1).start_time.normalize()
    end = (period + 1).start_time.normalize()
    return end, period.start_time.normalize()


def last_complete_year(period: pd.Period) -> int:
    """The latest year of annual statistics a run may use: the year itself for an annual run,
    the year before for a quarterly run (a year's figures exist only after it has ended)."""
    return period.year if freq_of(period) == "Y" else period.year - 1


def stock_series(population: pd.DataFrame, period: pd.Period) -> pd.DataFrame:
    """The population on each reference date up to the run's: quarter starts or 1 January."""
    until, _ = reference_dates(period)
    upto = population.loc[population.index <= until]
    months = [1, 4, 7, 10] if freq_of(period) == "Q" else [1]
    return upto.loc[upto.index.month.isin(months)]


def growth_series(population: pd.DataFrame, period: pd.Period) -> pd.DataFrame:
    """Growth in percent over the twelve months to each reference date, every municipality."""
    stocks = stock_series(population, period)
    year_before = population.reindex(stocks.index - pd.DateOffset(years=1))
    year_before.index = stocks.index
    growth = (stocks / year_before - 1) * 100
    return growth.dropna(how="all")


def group_comparison(values: pd.Series, kommune: str, members: list[str], higher_is_better: bool = True) -> dict:
    """The municipality against the rest of its group: mean of the others, quartiles, rank."""
    group = values.reindex(members).dropna()
    if kommune not in group.index:
        return {}
    others = group.drop(kommune)
    ranks = group.rank(ascending=not higher_is_better, method="min")
    return {
        "value": float(group[kommune]),
        "mean_others": float(others.mean()),
        "q25": float(group.quantile(0.25)),
        "q75": float(group.quantile(0.75)),
        "min": float(group.min()),
        "max": float(group.max()),
        "rank": int(ranks[kommune]),
        "n": int(len(group)),
    }


@memoised
def _youth_moves(obs: pd.DataFrame, year: int, ages: tuple[int, int]) -> pd.DataFrame:
    flows = _table(obs, "FLY66")
    flows = flows[(flows["period"] == str(year)) & flows["age"].between(*ages)]
    if flows.empty:
        raise WorkbookError(f"FLY66 has no moves for {year}; the processed data covers {', '.join(sorted(map(str, _table(obs, 'FLY66')['period'].unique())))}")
    return flows.assign(area=flows["area"].astype(str), origin=flows["origin"].astype(str))


@memoised
def movers(obs: pd.DataFrame, year: int, ages: tuple[int, int] = YOUTH_AGES) -> pd.DataFrame:
    """Moves in and out of each municipality in a year for an age band, and in-movers per out-mover."""
    flows = _youth_moves(obs, year, ages)
    moved_in = flows.groupby("area")["value"].sum()
    moved_out = flows.groupby("origin")["value"].sum()
    table = pd.DataFrame({"in": moved_in, "out": moved_out}).fillna(0)
    table["ratio"] = table["in"] / table["out"]
    return table


def top_flows(obs: pd.DataFrame, kommune: str, year: int, ages: tuple[int, int] = YOUTH_AGES, n: int = 5) -> pd.DataFrame:
    """The counterpart municipalities with the most moves to or from the municipality."""
    flows = _youth_moves(obs, year, ages)
    moved_in = flows[flows["area"] == kommune].groupby("origin")["value"].sum()
    moved_out = flows[flows["origin"] == kommune].groupby("area")["value"].sum()
    table = pd.DataFrame({"in": moved_in, "out": moved_out}).fillna(0)
    table["net"] = table["in"] - table["out"]
    table["total"] = table["in"] + table["out"]
    return table.sort_values(["total", "in"], ascending=False).head(n)


@memoised
def flow_years(obs: pd.DataFrame) -> list[int]:
    return sorted(int(p) for p in _table(obs, "FLY66")["period"].astype(str).unique())


@memoised
def annual_rate(obs: pd.DataFrame, table: str, until_year: int) -> pd.DataFrame:
    """An annual rate table (years x area codes), up to a year."""
    rows = _table(obs, table)
    wide = rows.assign(area=rows["area"].astype(str), year=rows["period"].astype(str).astype(int)).pivot(
        index="year", columns="area", values="value"
    )
    return wide.loc[wide.index <= until_year].sort_index()


def available_periods(obs: pd.DataFrame, cadence: str) -> list[pd.Period]:
    """The periods a run can be made for: quarters whose first month is in FOLK1AM, or years
    whose closing population (1 January of the next year) is on disk."""
    if cadence == "kvartal":
        dates = population_monthly(obs).index
        return [pd.Period(d, freq="Q") for d in dates if d.month in (1, 4, 7, 10)]
    dates = population_january(obs).index
    return [pd.Period(year=d.year - 1, freq="Y") for d in dates if d.year > dates.min().year]


def resolve_period(obs: pd.DataFrame, cadence: str, period: pd.Period | None) -> pd.Period:
    """`None` means the latest period; a period without data gets a one-line error naming the range."""
    available = available_periods(obs, cadence)
    if period is None:
        return max(available)
    if period not in available:
        raise WorkbookError(
            f"--period {code(period)}: no population data for it; periods on disk for --cadence {cadence} "
            f"run {code(min(available))} to {code(max(available))}"
        )
    return period

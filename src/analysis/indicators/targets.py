"""An honest status for a target: judged by a method that fits the target's kind, never from
fewer points than the method needs. A status is numbers only: which rule decided it and the
figures that rule used (`facts`); report/status_words.py says it in Danish.

Statuses: "på rette vej", "usikkert", "ikke på rette vej", "intet mål", "ingen data".
Methods (see ../shared/STATUS-METHODS.md):
- level by a year, or a change against a baseline: a linear trend over the recent points,
  projected to the target year with a 90 % prediction interval (scipy.stats); a target year
  that has passed is judged on that year's figure, or the nearest later one;
- better than the comparison group's average: the group's spread (interquartile range) and
  whether the lead or lag has held for the last three periods;
- rank (top 3, no. 1): the rank itself;
- direction only (flere, færre): the Mann-Kendall trend test (Kendall's tau against time);
- survey shares: Wilson intervals from the sample sizes, compared rather than the points.

Example::

    series = pd.Series([0.95, 1.0, 1.03], index=[2022, 2023, 2024])
    status = assess(target, series, polarity="higher")
    status.status, status.rule        # ('ikke på rette vej', 'year_passed')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis.params import Target

ON_TRACK, UNCERTAIN, OFF_TRACK, NO_TARGET, NO_DATA = (
    "på rette vej",
    "usikkert",
    "ikke på rette vej",
    "intet mål",
    "ingen data",
)
# A symbol and words together: the status is never told by colour alone.
SYMBOLS = {ON_TRACK: "✔", UNCERTAIN: "?", OFF_TRACK: "✘", NO_TARGET: "–", NO_DATA: "∅"}
ORDER = {OFF_TRACK: 0, UNCERTAIN: 1, ON_TRACK: 2}
MIN_TREND_POINTS = 3  # a trend from two points is a line, not a trend
MIN_DIRECTION_POINTS = 4  # Kendall's tau cannot reach significance on fewer
RECENT_POINTS = 10
CONFIDENCE = 0.90
SURVEY_CONFIDENCE = 0.95
GOOD_DIRECTIONS = {"flere": "higher", "højere": "higher", "færre": "lower", "lavere": "lower"}


@dataclass(frozen=True)
class Status:
    """A target's status, the rule that decided it and the figures it used (`unit` is the
    indicator's, for whoever writes the figures out)."""

    status: str
    rule: str
    facts: dict = field(default_factory=dict)
    unit: object = None

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.status]


def _good_is_higher(target: Target, polarity: str) -> bool:
    if target.kind == "direction" and target.direction in GOOD_DIRECTIONS:
        return GOOD_DIRECTIONS[target.direction] == "higher"
    return polarity != "lower"


def assess(
    target: Target | None,
    series: pd.Series,
    polarity: str,
    unit=None,
    group: pd.DataFrame | None = None,
    kommune: str | None = None,
    sample_sizes: pd.Series | None = None,
    history: pd.DataFrame | None = None,
) -> Status:
    """The status of one target, from the municipality's series (index: years, or dates in order).

    `group` (periods x municipalities, the municipality included) is needed for comparison
    targets; `sample_sizes` (same index as `series`) marks a survey share. `history` (years x
    municipalities: the year each figure is about) lets a comparison target that holds "from a
    year onwards" be judged on every year since.
    """
    if target is None:
        return Status(NO_TARGET, "no_target", unit=unit)
    if target.kind == "not_set":
        return Status(NO_TARGET, "not_set", unit=unit)
    series = series.dropna()
    if series.empty:
        return Status(NO_DATA, "no_data", unit=unit)
    if target.kind == "direction" and polarity == "none" and target.direction not in GOOD_DIRECTIONS:
        return Status(NO_TARGET, "no_direction", unit=unit)
    higher = _good_is_higher(target, polarity)
    if target.kind in ("level", "change"):
        return _level(target, series, higher, unit, sample_sizes)
    if target.kind == "better_than_group":
        status = _better_than_group(group, kommune, higher, unit)
        if target.year is not None and history is not None and status.status != NO_DATA:
            return _since(status, history, kommune, higher, target.year)
        return status
    if target.kind == "rank":
        return _rank(target, series, unit)
    if sample_sizes is not None:
        return _survey_direction(series, sample_sizes, higher, unit)
    return _direction(series, higher, unit)


def _years(index: pd.Index) -> np.ndarray:
    """Time as years (fractions for dates), for regressions and for comparing with a target year."""
    if isinstance(index, pd.DatetimeIndex):
        return np.asarray(index.year + (index.day_of_year - 1) / 365.25, dtype=float)
    return np.asarray(index, dtype=float)


def _level_value(target: Target, series: pd.Series) -> float | None:
    """The target level: given, or computed from the baseline for a change target."""
    if target.kind == "level":
        return target.value
    years = _years(series.index)
    baseline = target.baseline
    if target.baseline_year is not None and np.any(np.floor(years) == target.baseline_year):
        baseline = float(series.iloc[int(np.flatnonzero(np.floor(years) == target.baseline_year)[0])])
    if baseline is None or target.value is None:
        return None
    return baseline * (1 + target.value / 100)


def _meets(value: float, goal: float, higher: bool) -> bool:
    return value >= goal if higher else value <= goal


def _level(target: Target, series: pd.Series, higher: bool, unit, sample_sizes: pd.Series | None) -> Status:
    goal = _level_value(target, series)
    if goal is None:
        return Status(NO_DATA, "no_baseline", {"baseline_year": target.baseline_year}, unit)
    facts = {"goal": goal, "target_year": target.year}
    years = _years(series.index)
    if target.year is not None and years.max() >= target.year:
        index = int(np.flatnonzero(np.floor(years) >= target.year)[0])
        year, value = int(np.floor(years[index])), float(series.iloc[index])
        met = _meets(value, goal, higher)
        facts |= {"year": year, "value": value, "met": met}
        return Status(ON_TRACK if met else OFF_TRACK, "year_passed", facts, unit)
    latest = float(series.iloc[-1])
    facts["latest"] = latest
    if target.year is None:
        if _meets(latest, goal, higher):
            return Status(ON_TRACK, "level_reached", facts, unit)
        direction = _direction(series, higher, unit)
        status = direction.status if direction.status != ON_TRACK else UNCERTAIN
        return Status(status, "level_not_reached", facts | {"direction": direction}, unit)
    if sample_sizes is not None and len(series) < MIN_TREND_POINTS:
        low, high = wilson(latest, float(sample_sizes.dropna().iloc[-1]))
        if (low >= goal) if higher else (high <= goal):
            return Status(ON_TRACK, "survey_level_reached", facts, unit)
        return Status(UNCERTAIN, "survey_too_few", facts, unit)
    recent = series.iloc[-RECENT_POINTS:]
    facts["points"] = len(recent)
    if len(recent) < MIN_TREND_POINTS:
        return Status(UNCERTAIN, "trend_too_few", facts, unit)
    low, point, high = projection(recent, target.year)
    facts |= {"low": low, "projected": point, "high": high, "confidence": CONFIDENCE}
    if (low >= goal) if higher else (high <= goal):
        return Status(ON_TRACK, "projection", facts | {"outcome": "reached"}, unit)
    if (high < goal) if higher else (low > goal):
        return Status(OFF_TRACK, "projection", facts | {"outcome": "missed"}, unit)
    return Status(UNCERTAIN, "projection", facts | {"outcome": "open"}, unit)


def projection(series: pd.Series, year: float) -> tuple[float, float, float]:
    """A linear trend's value in `year` with its prediction interval (low, point, high)."""
    x = _years(series.index)
    y = series.to_numpy(dtype=float)
    fit = stats.linregress(x, y)
    point = fit.intercept + fit.slope * year
    n = len(x)
    residuals = y - (fit.intercept + fit.slope * x)
    spread = math.sqrt(float(np.sum(residuals**2)) / (n - 2)) if n > 2 else 0.0
    leverage = 1 + 1 / n + (year - x.mean()) ** 2 / float(np.sum((x - x.mean()) ** 2))
    margin = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 2) * spread * math.sqrt(leverage)
    return point - margin, point, point + margin


def _direction(series: pd.Series, higher: bool, unit) -> Status:
    recent = series.iloc[-RECENT_POINTS:]
    facts = {"points": len(recent)}
    if len(recent) < MIN_DIRECTION_POINTS:
        return Status(UNCERTAIN, "direction_too_few", facts, unit)
    tau, p_value = stats.kendalltau(np.arange(len(recent)), recent.to_numpy(dtype=float))
    if np.isnan(tau):
        return Status(UNCERTAIN, "constant", facts, unit)
    facts |= {"tau": float(tau), "p": float(p_value), "rising": bool(tau > 0)}
    if p_value >= 1 - CONFIDENCE:
        return Status(UNCERTAIN, "no_clear_direction", facts, unit)
    return Status(ON_TRACK if (tau > 0) == higher else OFF_TRACK, "direction", facts, unit)


def wilson(share_percent: float, n: float, confidence: float = SURVEY_CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for a share given in percent, returned in percent (scipy's, from the
    number of answers the share stands for)."""
    answers = int(round(n))
    interval = stats.binomtest(int(round(share_percent / 100 * answers)), answers).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return 100 * interval.low, 100 * interval.high


def _survey_direction(series: pd.Series, sample_sizes: pd.Series, higher: bool, unit) -> Status:
    if len(series) < 2:
        return Status(UNCERTAIN, "one_survey", {}, unit)
    first = wilson(float(series.iloc[0]), float(sample_sizes.loc[series.index[0]]))
    last = wilson(float(series.iloc[-1]), float(sample_sizes.loc[series.index[-1]]))
    facts = {"first": first, "last": last, "confidence": SURVEY_CONFIDENCE}
    if last[0] > first[1]:
        return Status(ON_TRACK if higher else OFF_TRACK, "survey", facts | {"moved": "up"}, unit)
    if last[1] < first[0]:
        return Status(OFF_TRACK if higher else ON_TRACK, "survey", facts | {"moved": "down"}, unit)
    return Status(UNCERTAIN, "survey", facts | {"moved": "within"}, unit)


def _better_than_group(group: pd.DataFrame | None, kommune: str | None, higher: bool, unit) -> Status:
    if group is None or kommune is None or kommune not in group.columns or group[kommune].dropna().empty:
        return Status(NO_DATA, "no_group", {}, unit)
    rows = group.dropna(subset=[kommune])
    sign = 1 if higher else -1

    def lead(row: pd.Series) -> float:
        others = row.drop(kommune).dropna()
        return sign * (row[kommune] - others.mean())

    latest = rows.iloc[-1]
    others = latest.drop(kommune).dropna()
    q25, q75 = latest.dropna().quantile(0.25), latest.dropna().quantile(0.75)
    value, mean = float(latest[kommune]), float(others.mean())
    leads = [float(lead(row)) for _, row in rows.iloc[-3:].iterrows()]
    held = len(leads) == 3 and all(x > 0 for x in leads)
    lagged = len(leads) == 3 and all(x < 0 for x in leads)
    outside_good = value > q75 if higher else value < q25
    outside_bad = value < q25 if higher else value > q75
    facts = {"value": value, "mean": mean, "q25": float(q25), "q75": float(q75), "leads": leads}
    ahead = lead(latest) > 0
    if ahead and (outside_good or held):
        return Status(ON_TRACK, "group", facts | {"side": "over", "why": "quartile" if outside_good else "held"}, unit)
    if lead(latest) < 0 and (outside_bad or lagged):
        return Status(OFF_TRACK, "group", facts | {"side": "under", "why": "quartile" if outside_bad else "held"}, unit)
    return Status(UNCERTAIN, "group", facts | {"side": "over" if ahead else "under", "why": "spread"}, unit)


def _since(status: Status, history: pd.DataFrame, kommune: str, higher: bool, since: int) -> Status:
    """A comparison target that holds from `since` onwards: in how many years since it held, and
    which years it did not. Ahead now but behind in an earlier year is 'usikkert'."""
    rows = history.loc[(history.index >= since)].dropna(subset=[kommune]) if kommune in history else history.iloc[0:0]
    if rows.empty:
        return status
    missed = []
    for year, row in rows.iterrows():
        others = row.drop(kommune).dropna()
        ahead = row[kommune] > others.mean() if higher else row[kommune] < others.mean()
        if not ahead:
            missed.append((int(year), float(row[kommune]), float(others.mean())))
    facts = status.facts | {"since": since, "years": len(rows), "missed": missed}
    judged = UNCERTAIN if missed and status.status == ON_TRACK else status.status
    return Status(judged, "group_since", facts, status.unit)


def _rank(target: Target, series: pd.Series, unit) -> Status:
    """Ranks: 1 is best. Judged on the target year's rank when it has passed, else the latest."""
    goal = int(target.value)
    years = _years(series.index)
    if target.year is not None and years.max() >= target.year:
        index = int(np.flatnonzero(np.floor(years) >= target.year)[0])
        year = int(np.floor(years[index]))
    else:
        index, year = len(series) - 1, None
    rank = int(series.iloc[index])
    facts = {"rank": rank, "year": year, "goal": goal, "target_year": target.year}
    if rank <= goal:
        return Status(ON_TRACK, "rank", facts, unit)
    if target.year is not None and years.max() < target.year and len(series) >= 2 and series.iloc[-1] < series.iloc[-2]:
        return Status(UNCERTAIN, "rank_rising", facts, unit)
    return Status(OFF_TRACK, "rank", facts, unit)

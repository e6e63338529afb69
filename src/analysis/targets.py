"""An honest status for a target: judged by a method that fits the target's kind, never from
fewer points than the method needs, and always with one plain Danish sentence saying why.

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
    assess(target, series, polarity="higher").status     # 'ikke på rette vej'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis import fmt
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
GOOD_DIRECTIONS = {"flere": "higher", "højere": "higher", "færre": "lower", "lavere": "lower"}


@dataclass(frozen=True)
class Status:
    status: str
    reason: str  # one Danish sentence for a council member
    method: str = ""  # for the analyst: which test, with its numbers

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.status]


def _good_is_higher(target: Target, polarity: str) -> bool:
    if target.kind == "direction" and target.direction in GOOD_DIRECTIONS:
        return GOOD_DIRECTIONS[target.direction] == "higher"
    return polarity != "lower"


def _text(value: float, unit: str) -> str:
    return fmt.with_unit(value, unit)


def assess(
    target: Target | None,
    series: pd.Series,
    polarity: str,
    unit: str = "",
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
        return Status(NO_TARGET, "Kommunalbestyrelsen har ikke sat et mål for denne indikator.")
    if target.kind == "not_set":
        return Status(
            NO_TARGET,
            "Målet blev aldrig gjort konkret: tallene står som »x« i strategien, så der er intet at måle op imod.",
        )
    series = series.dropna()
    if series.empty:
        return Status(NO_DATA, "Der er ingen tal at vurdere målet på endnu.")
    if target.kind == "direction" and polarity == "none" and target.direction not in GOOD_DIRECTIONS:
        return Status(
            NO_TARGET,
            "Strategien siger ikke i tal, hvad der er godt for denne indikator (fx hvad »i balance« "
            "er), så tallene viser udviklingen uden en vurdering.",
            "ingen retning at måle på",
        )
    higher = _good_is_higher(target, polarity)
    if target.kind in ("level", "change"):
        return _level(target, series, higher, unit, sample_sizes)
    if target.kind == "better_than_group":
        status = _better_than_group(group, kommune, higher, unit)
        if target.year is not None and history is not None and status.status != NO_DATA:
            return _since(status, history, kommune, higher, unit, target.year)
        return status
    if target.kind == "rank":
        return _rank(target, series)
    if sample_sizes is not None:
        return _survey_direction(series, sample_sizes, higher)
    return _direction(series, higher)


def _years(index: pd.Index) -> np.ndarray:
    """Time as years (fractions for dates), for regressions and for comparing with a target year."""
    if isinstance(index, pd.DatetimeIndex):
        return np.asarray(index.year + (index.day_of_year - 1) / 365.25, dtype=float)
    return np.asarray(index, dtype=float)


def _level_value(target: Target, series: pd.Series) -> tuple[float | None, str]:
    """The target level: given, or computed from the baseline for a change target."""
    if target.kind == "level":
        return target.value, ""
    years = _years(series.index)
    baseline = target.baseline
    if target.baseline_year is not None and np.any(np.floor(years) == target.baseline_year):
        baseline = float(series.iloc[int(np.flatnonzero(np.floor(years) == target.baseline_year)[0])])
    if baseline is None or target.value is None:
        return None, f"udgangspunktet i {target.baseline_year} mangler i tallene"
    return baseline * (1 + target.value / 100), ""


def _meets(value: float, goal: float, higher: bool) -> bool:
    return value >= goal if higher else value <= goal


def _level(target: Target, series: pd.Series, higher: bool, unit: str, sample_sizes: pd.Series | None) -> Status:
    goal, problem = _level_value(target, series)
    if goal is None:
        return Status(NO_DATA, f"Målet kan ikke regnes ud, fordi {problem}.")
    goal_text = _text(goal, unit)
    years = _years(series.index)
    if target.year is not None and years.max() >= target.year:
        at_or_after = np.flatnonzero(np.floor(years) >= target.year)
        index = int(at_or_after[0])
        year, value = int(np.floor(years[index])), float(series.iloc[index])
        which = f"i {year}" if year == target.year else f"i {year}, det nærmeste senere år med tal"
        if _meets(value, goal, higher):
            return Status(
                ON_TRACK,
                f"Målet på {goal_text} i {target.year} er nået: tallet var {_text(value, unit)} {which}.",
                f"målåret er passeret; vurderet på {year}",
            )
        return Status(
            OFF_TRACK,
            f"Målet på {goal_text} i {target.year} blev ikke nået: tallet var {_text(value, unit)} {which}.",
            f"målåret er passeret; vurderet på {year}",
        )
    latest = float(series.iloc[-1])
    if target.year is None:
        if _meets(latest, goal, higher):
            return Status(ON_TRACK, f"Tallet er {_text(latest, unit)} og har nået målet på {goal_text}.")
        direction = _direction(series, higher)
        return Status(
            direction.status if direction.status != ON_TRACK else UNCERTAIN,
            f"Tallet er {_text(latest, unit)} mod målet på {goal_text}; {direction.reason[0].lower()}{direction.reason[1:]}",
            direction.method,
        )
    if sample_sizes is not None and len(series) < MIN_TREND_POINTS:
        low, high = wilson(latest, float(sample_sizes.dropna().iloc[-1]))
        if (low >= goal) if higher else (high <= goal):
            return Status(
                ON_TRACK,
                f"Tallet er {_text(latest, unit)}, og selv med den statistiske usikkerhed er målet på {goal_text} nået.",
            )
        return Status(UNCERTAIN, f"Der er for få målinger til at se, om målet på {goal_text} i {target.year} nås.")
    recent = series.iloc[-RECENT_POINTS:]
    if len(recent) < MIN_TREND_POINTS:
        return Status(
            UNCERTAIN,
            f"Der er kun {len(recent)} måling(er), for få til at se, om målet på {goal_text} i {target.year} nås.",
            "færre målinger end en trend kræver",
        )
    low, point, high = projection(recent, target.year)
    method = (
        f"lineær trend over {len(recent)} målinger fremskrevet til {target.year}: {fmt.significant(point)} "
        f"({fmt.percent(CONFIDENCE * 100, 0)}-prædiktionsinterval {fmt.significant(low)} til {fmt.significant(high)})"
    )
    projected = _text(point, unit)
    if (low >= goal) if higher else (high <= goal):
        return Status(
            ON_TRACK,
            f"Fortsætter udviklingen, ender tallet omkring {projected} i {target.year}, sikkert på den rigtige side af målet på {goal_text}.",
            method,
        )
    if (high < goal) if higher else (low > goal):
        return Status(
            OFF_TRACK,
            f"Fortsætter udviklingen, ender tallet omkring {projected} i {target.year} og når ikke målet på {goal_text}.",
            method,
        )
    return Status(
        UNCERTAIN,
        f"Fortsætter udviklingen, ender tallet omkring {projected} i {target.year}; usikkerheden er så stor, at målet på {goal_text} både kan nås og ikke nås.",
        method,
    )


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


def _direction(series: pd.Series, higher: bool) -> Status:
    recent = series.iloc[-RECENT_POINTS:]
    if len(recent) < MIN_DIRECTION_POINTS:
        return Status(
            UNCERTAIN,
            f"Der er kun {len(recent)} måling(er), for få til at se en retning.",
            "færre målinger end en trendtest kræver",
        )
    tau, p_value = stats.kendalltau(np.arange(len(recent)), recent.to_numpy(dtype=float))
    if np.isnan(tau):
        return Status(UNCERTAIN, "Tallet har ikke flyttet sig i perioden.", "konstant række")
    p_text = "p < 0,001" if p_value < 0.0005 else f"p {fmt.decimal(p_value, 3)}"
    method = f"Mann-Kendall-test over {len(recent)} målinger: tau {fmt.decimal(tau, 2)}, {p_text}"
    if p_value >= 1 - CONFIDENCE:
        return Status(
            UNCERTAIN,
            f"Over de seneste {len(recent)} målinger er der ingen klar retning; udsvingene kan være tilfældige.",
            method,
        )
    rising = tau > 0
    word = "steget" if rising else "faldet"
    if rising == higher:
        return Status(
            ON_TRACK,
            f"Tallet er {word} over de seneste {len(recent)} målinger, og det er mere end tilfældige udsving.",
            method,
        )
    return Status(
        OFF_TRACK,
        f"Tallet er {word} over de seneste {len(recent)} målinger, og det er mere end tilfældige udsving.",
        method,
    )


def wilson(share_percent: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a share given in percent, returned in percent (scipy's, from the
    number of answers the share stands for)."""
    answers = int(round(n))
    interval = stats.binomtest(int(round(share_percent / 100 * answers)), answers).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return 100 * interval.low, 100 * interval.high


def _survey_direction(series: pd.Series, sample_sizes: pd.Series, higher: bool) -> Status:
    if len(series) < 2:
        return Status(UNCERTAIN, "Der er kun én måling, så der er intet at sammenligne med endnu.", "én undersøgelse")
    first_low, first_high = wilson(float(series.iloc[0]), float(sample_sizes.loc[series.index[0]]))
    last_low, last_high = wilson(float(series.iloc[-1]), float(sample_sizes.loc[series.index[-1]]))
    method = (
        f"Wilson-intervaller ({fmt.percent(95, 0)}): første {fmt.number(first_low, 1)}-{fmt.number(first_high, 1)}, "
        f"seneste {fmt.number(last_low, 1)}-{fmt.number(last_high, 1)}"
    )
    if last_low > first_high:
        status = ON_TRACK if higher else OFF_TRACK
        return Status(
            status, "Andelen er steget mere, end den statistiske usikkerhed i undersøgelserne kan forklare.", method
        )
    if last_high < first_low:
        status = OFF_TRACK if higher else ON_TRACK
        return Status(
            status, "Andelen er faldet mere, end den statistiske usikkerhed i undersøgelserne kan forklare.", method
        )
    return Status(
        UNCERTAIN, "Forskellen mellem første og seneste undersøgelse er inden for den statistiske usikkerhed.", method
    )


def _better_than_group(group: pd.DataFrame | None, kommune: str | None, higher: bool, unit: str) -> Status:
    if group is None or kommune is None or kommune not in group.columns or group[kommune].dropna().empty:
        return Status(NO_DATA, "Der er ikke tal for sammenligningsgruppen.")
    rows = group.dropna(subset=[kommune])
    sign = 1 if higher else -1

    def lead(row: pd.Series) -> float:
        others = row.drop(kommune).dropna()
        return sign * (row[kommune] - others.mean())

    latest = rows.iloc[-1]
    others = latest.drop(kommune).dropna()
    q25, q75 = latest.dropna().quantile(0.25), latest.dropna().quantile(0.75)
    value, mean = latest[kommune], others.mean()
    leads = [lead(row) for _, row in rows.iloc[-3:].iterrows()]
    held = len(leads) == 3 and all(x > 0 for x in leads)
    lagged = len(leads) == 3 and all(x < 0 for x in leads)
    outside_good = value > q75 if higher else value < q25
    outside_bad = value < q25 if higher else value > q75
    method = (
        f"seneste {fmt.significant(value)} mod de øvriges gennemsnit {fmt.significant(mean)}, kvartiler "
        f"{fmt.significant(q25)} til {fmt.significant(q75)}; forspring de seneste {len(leads)} gange: "
        f"{', '.join(fmt.significant(float(x)) for x in leads)}"
    )
    shown, shown_mean = fmt.pair(value, mean, unit)
    text = f"{shown} mod {shown_mean} i gennemsnit"
    if lead(latest) > 0 and (outside_good or held):
        why = "og er blandt den bedste fjerdedel" if outside_good else "og har været det de seneste tre gange"
        return Status(ON_TRACK, f"Kommunen ligger over gennemsnittet ({text}) {why}.", method)
    if lead(latest) < 0 and (outside_bad or lagged):
        why = "og er blandt den svageste fjerdedel" if outside_bad else "og har været det de seneste tre gange"
        return Status(OFF_TRACK, f"Kommunen ligger under gennemsnittet ({text}) {why}.", method)
    side = "over" if lead(latest) > 0 else "under"
    return Status(
        UNCERTAIN,
        f"Kommunen ligger lige nu {side} gennemsnittet ({text}), men inden for den almindelige spredning i gruppen.",
        method,
    )


def _since(status: Status, history: pd.DataFrame, kommune: str, higher: bool, unit: str, since: int) -> Status:
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
            shown, mean = fmt.pair(row[kommune], others.mean(), unit)
            missed.append(f"{year} ({shown} mod {mean})")
    held = len(rows) - len(missed)
    if not missed:
        return Status(status.status, f"{status.reason[:-1]}; målet har holdt hvert år siden {since}.", status.method)
    which = " og ".join([", ".join(missed[:-1]), missed[-1]] if len(missed) > 1 else missed)
    reason = (
        f"{status.reason[:-1]}. Målet gælder fra {since}: det holdt i {held} af {len(rows)} år, men ikke i {which}."
    )
    if status.status == ON_TRACK:
        return Status(UNCERTAIN, reason, status.method)
    return Status(status.status, reason, status.method)


def _rank(target: Target, series: pd.Series) -> Status:
    """Ranks: 1 is best. Judged on the target year's rank when it has passed, else the latest."""
    goal = int(target.value)
    years = _years(series.index)
    if target.year is not None and years.max() >= target.year:
        index = int(np.flatnonzero(np.floor(years) >= target.year)[0])
        when = f"i {int(np.floor(years[index]))}"
    else:
        index, when = len(series) - 1, "senest"
    rank = int(series.iloc[index])
    goal_text = "nr. 1" if goal == 1 else f"top {goal}"
    if rank <= goal:
        return Status(ON_TRACK, f"Kommunen var nr. {rank} {when}, og målet er {goal_text}.", "placering")
    if target.year is not None and years.max() < target.year and len(series) >= 2 and series.iloc[-1] < series.iloc[-2]:
        return Status(
            UNCERTAIN,
            f"Kommunen var nr. {rank} {when} og rykker op, men målet er {goal_text} i {target.year}.",
            "placering på vej op",
        )
    return Status(OFF_TRACK, f"Kommunen var nr. {rank} {when}, og målet er {goal_text}.", "placering")

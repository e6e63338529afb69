"""The numbers behind one indicator in one brief, selected from the engine's table: the
municipality's series up to the run's period, the comparison group's figures on the same
dates, the comparison on the latest date, and a status per target. Numbers only: words,
charts and HTML are made from these frames elsewhere (narrative, charts, brief).

Example::

    scope = Scope.build(processed, parse_period("2024"), "766", "kommunegruppe", strategy,
                        "sigtepunkter-2022-2025")
    figures = select(scope, registry.get("movers_18_36"))
    figures.series[["period", "value", "numerator", "denominator"]]   # 2024: 1.033, 1431, 1385
    figures.comparison["rank"], figures.comparison["n"]              # 2, 24
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from analysis import params
from analysis.data.processed import Processed
from analysis.errors import WorkbookError
from analysis.indicators import measures, selection, targets
from analysis.indicators.compare import against_group, resolve_group
from analysis.params import Indicator, Strategy, Target

SERIES_COLUMNS = ["period", "value", "numerator", "denominator", "n", "suppressed"]


@dataclass(frozen=True)
class Scope:
    """What a brief is about: the data, the period, the municipality and who it is compared with."""

    processed: Processed
    period: pd.Period
    kommune: str
    kommune_name: str
    group_name: str
    members: list[str]
    strategy: Strategy
    strategy_period: str
    example_data: bool = False
    group_definite: str = ""  # 'oplandskommunerne'
    group_description: str = ""  # 'i Danmarks Statistiks kommunegrupper'
    group: object = None  # the compare.Group itself
    council: params.Council | None = None  # whose strategy and targets apply

    @classmethod
    def build(
        cls,
        processed: Processed,
        period: pd.Period,
        kommune: str,
        comparison_group: str,
        strategy: Strategy,
        strategy_period: str,
        example_data: bool = False,
    ) -> Scope:
        areas = processed.areas
        if kommune not in set(areas.municipalities["code"]):
            raise WorkbookError(f"kommune {kommune}: not a municipality code in DST's Kommunegrupper")
        if strategy_period not in strategy.strategy_periods:
            raise WorkbookError(
                f"strategy_period '{strategy_period}': unknown; expected one of {', '.join(strategy.strategy_periods)}"
            )
        group = resolve_group(comparison_group, kommune, processed, period)
        council = params.load_council(kommune)
        return cls(
            processed,
            period,
            kommune,
            areas.name_of(kommune),
            group.label,
            group.members,
            strategy,
            strategy_period,
            example_data,
            group.definite,
            group.description,
            group,
            council,
        )

    @property
    def others_label(self) -> str:
        """'de 23 andre oplandskommuner', or 'de 31 landkommuner' for a group the municipality is not in."""
        member_of = getattr(self.group, "member_of", True)
        return f"de {len(self.members) - 1} {'andre ' if member_of else ''}{self.group_name}"

    @property
    def named_members(self) -> list[str]:
        """The compared municipalities by name, for a group a reader cannot look up."""
        if not getattr(self.group, "named", False):
            return []
        return [self.name(code_) for code_ in self.members if code_ != self.kommune]

    def name(self, code_: str) -> str:
        return self.processed.areas.name_of(code_)

    @cached_property
    def region(self) -> tuple[str, list[str]]:
        """The municipality's region: its name and its municipalities."""
        _code, region = params.load_regions().region_of(self.kommune)
        return region.name, [f"{m:03d}" for m in region.members]


@dataclass
class Figures:
    """One indicator's numbers for a brief. `series` and `group` are indexed by the date each
    figure refers to (see analysis.indicators.measures)."""

    indicator: Indicator
    targets: list[tuple[Target, str]]  # (target, name of its strategy period), newest first
    stock: bool
    series: pd.DataFrame  # the municipality: period, value, numerator, denominator, n, suppressed
    group: pd.DataFrame | None  # dates x the compared municipalities (the municipality included)
    members: list[str]
    compared_with: str  # 'group', 'region'
    comparison_measure: str  # 'value', or 'per_1000' for a count compared per 1,000 inhabitants
    tables: list[str]  # the raw tables (and manual files) the numbers come from
    missing_tables: list[str] = field(default_factory=list)  # optional tables not on disk
    missing_manual: list[str] = field(default_factory=list)  # manual kinds with no rows for the municipality
    illustrative: bool = False  # Eksempeldata, not real
    statuses: list[targets.Status] = field(default_factory=list)

    @property
    def has_data(self) -> bool:
        return not self.series.empty

    @property
    def latest(self) -> pd.Series | None:
        return self.series.iloc[-1] if self.has_data else None

    @property
    def latest_date(self) -> pd.Timestamp:
        return self.series.index[-1]

    @property
    def previous(self) -> pd.Series | None:
        """The figure one quarter before, in a quarterly series."""
        if len(self.series) < 2 or len(str(self.latest["period"])) == 4:
            return None
        before = self.latest_date - pd.DateOffset(months=3)
        return self.series.loc[before] if before in self.series.index else None

    @property
    def year_before(self) -> pd.Series | None:
        before = self.latest_date - pd.DateOffset(years=1)
        return self.series.loc[before] if self.has_data and before in self.series.index else None

    @property
    def comparison(self) -> dict:
        """The latest figure against the compared municipalities (see compare.against_group)."""
        if self.group is None or not self.has_data or self.latest_date not in self.group.index:
            return {}
        polarity = self.indicator.polarity
        return against_group(self.group.loc[self.latest_date], self.group_kommune, self.members, polarity)

    @cached_property
    def comparisons(self) -> pd.DataFrame:
        """The comparison on every date of the series, one row per date (computed once: the chart
        and the analyst's table both read it)."""
        if self.group is None:
            return pd.DataFrame()
        rows = {
            date: against_group(self.group.loc[date], self.group_kommune, self.members, self.indicator.polarity)
            for date in self.group.index
        }
        return pd.DataFrame({d: r for d, r in rows.items() if r}).T

    group_kommune: str = ""

    @property
    def status(self) -> targets.Status:
        """The status shown in the table: that of the newest target."""
        if self.statuses:
            return self.statuses[0]
        if not self.has_data:
            return targets.Status(targets.NO_DATA, "Der er ingen tal endnu.")
        return targets.assess(None, pd.Series(dtype=float), self.indicator.polarity)

    def frame(self) -> pd.DataFrame:
        """The municipality's figures with the comparison on each date, for the analyst."""
        frame = self.series.copy()
        comparisons = self.comparisons
        if not comparisons.empty:
            frame = frame.join(
                comparisons[["mean_others", "median_others", "q25", "q75", "rank", "n"]].rename(
                    columns={"n": "group_size"}
                )
            )
        return frame


def targets_for(
    indicator: Indicator, strategy: Strategy, strategy_period: str, council: params.Council | None = None
) -> list[tuple[Target, str]]:
    """The indicator's targets from the chosen strategy period and the ones before it, newest first:
    the council's own (none for a municipality whose council's targets these are not)."""
    order = list(strategy.strategy_periods)
    upto = order[: order.index(strategy_period) + 1]
    listed = council.targets_of(indicator) if council is not None else indicator.targets
    chosen = [t for t in listed if t.strategy in upto]
    chosen.sort(key=lambda t: order.index(t.strategy), reverse=True)
    return [(t, strategy.strategy_periods[t.strategy].name) for t in chosen]


def select(scope: Scope, indicator: Indicator) -> Figures:
    """The figures of one indicator for a brief, with a status per target."""
    registry, sources = params.load_indicators(), params.load_sources()
    stock = measures.is_stock(indicator, registry, sources)
    rows = scope.processed.rows_of(indicator.id, scope.kommune)
    illustrative = False
    if indicator.manual_kind and rows.empty and scope.example_data:
        examples, illustrative = _example_rows(indicator, scope.kommune), True
        rows = examples[examples["area"].astype(str) == scope.kommune]
    tables = indicator.tables(registry)
    wide = _wide(examples) if illustrative else scope.processed.wide(indicator.id)
    own = rows.set_index("date").sort_index()[SERIES_COLUMNS]
    series = selection.usable(own, stock, scope.period)
    series = series.loc[series["value"].notna() | series["suppressed"]]
    compared_with = indicator.compare_with
    members = scope.region[1] if compared_with == "region" else scope.members
    comparison_measure = "value"
    group = None
    if not illustrative and not series.empty:
        if indicator.compare_per_1000:
            wide, comparison_measure = scope.processed.wide(indicator.id + measures.PER_1000), "per_1000"
        group = selection.usable(wide.reindex(columns=members), stock, scope.period).reindex(series.index)
    figures = Figures(
        indicator=indicator,
        targets=targets_for(indicator, scope.strategy, scope.strategy_period, scope.council),
        stock=stock,
        series=series,
        group=group,
        members=members,
        compared_with=compared_with,
        comparison_measure=comparison_measure,
        tables=[] if illustrative else [*tables, *(measures.MANUAL_PREFIX + k for k in indicator.manual_kinds)],
        missing_tables=[t for t in tables if t in scope.processed.missing],
        missing_manual=[k for k in indicator.manual_kinds if not _has_manual(scope, indicator, k)],
        illustrative=illustrative,
        group_kommune=scope.kommune,
    )
    figures.statuses = _statuses(figures, scope)
    return figures


def timeline(figures: Figures, dates: pd.Index) -> pd.DatetimeIndex:
    """Where figures sit in time: a stock on its day, a figure over a period at the period's start
    (the moves of 2024 belong to 2024, though they are dated 1 January 2025)."""
    if figures.stock:
        return pd.DatetimeIndex(dates)
    from analysis.periods import parse_period

    return pd.DatetimeIndex([parse_period(p).start_time for p in figures.series.loc[dates, "period"]])


def _statuses(figures: Figures, scope: Scope) -> list[targets.Status]:
    indicator = figures.indicator
    values = figures.series["value"].dropna() if figures.has_data else pd.Series(dtype=float)
    sizes = (
        figures.series["n"].reindex(values.index) if indicator.manual_kind == "survey" and figures.has_data else None
    )
    group = figures.group
    if group is not None and figures.comparison_measure != "value":
        group = None  # a comparison target is judged on the indicator itself, not on a companion
    if not values.empty:
        values = values.set_axis(timeline(figures, values.index))
        sizes = sizes.set_axis(values.index) if sizes is not None else None
        if group is not None:
            group = group.set_axis(timeline(figures, group.index))
    if scope.council is not None and not scope.council.own:
        # Another council's targets are not this municipality's: judge the direction only.
        if indicator.polarity == "none" or not figures.has_data:
            return []
        direction = Target(
            strategy=scope.strategy_period,
            kind="direction",
            label="",
            quote="",
            seed="",
            direction="flere" if indicator.polarity == "higher" else "færre",
        )
        return [targets.assess(direction, values, indicator.polarity, indicator.unit, sample_sizes=sizes)]
    return [
        targets.assess(
            target,
            values,
            indicator.polarity,
            indicator.unit,
            group=group,
            kommune=scope.kommune,
            sample_sizes=sizes,
            history=_history(figures, group),
        )
        for target, _name in figures.targets
    ]


def _history(figures: Figures, group: pd.DataFrame | None) -> pd.DataFrame | None:
    """The group's figures once a year, indexed by the year each is about (growth to 1 January
    2024 is about 2023), for targets that hold from a year onwards."""
    if group is None:
        return None
    annual = group.loc[(group.index.month == 1) & (group.index.day == 1)]
    measure = figures.indicator.measure
    shift = measure.years if figures.stock and measure.kind == "change" else 0
    return annual.set_axis(annual.index.year - shift)


def _wide(rows: pd.DataFrame) -> pd.DataFrame:
    if rows.empty:
        return pd.DataFrame()
    rows = rows.assign(area=rows["area"].astype(str))
    return rows.pivot_table(index="date", columns="area", values="value", aggfunc="first").sort_index()


def _has_manual(scope: Scope, indicator: Indicator, kind: str) -> bool:
    return (indicator.id, scope.kommune) in scope.processed.table_keys(measures.MANUAL_PREFIX + kind)


def _example_rows(indicator: Indicator, kommune: str) -> pd.DataFrame:
    """The indicator computed from Eksempeldata, by the same engine as real data."""
    from analysis.indicators.example_data import example_observations

    examples = example_observations(params.load_indicators(), kommune)
    examples = examples[examples["indicator"] == indicator.id]
    if examples.empty:
        return measures.empty()
    observations = pd.DataFrame(
        {
            "table": measures.MANUAL_PREFIX + indicator.manual_kind,
            "measure": examples["indicator"],
            "area": examples["area"],
            "period": examples["period"],
            "value": examples["value"],
            "n": examples["n"].astype("float64"),
            "suppressed": False,
        }
    )
    return measures.compute_all(observations, params.load_indicators(), params.load_sources(), only=[indicator.id])


def goal_level(figures: Figures) -> float | None:
    """The level the newest numeric target asks for, to draw on a chart: a level or rank as
    given, a change target from the baseline year's figure."""
    for target, _name in figures.targets:
        if target.kind in ("level", "rank") and target.value is not None:
            return float(target.value)
        if target.kind == "change" and target.value is not None:
            years = figures.series.index.year
            if target.baseline_year in set(years):
                baseline = float(figures.series.loc[years == target.baseline_year, "value"].iloc[0])
                return baseline * (1 + target.value / 100)
    return None

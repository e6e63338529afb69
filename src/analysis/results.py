"""One result per indicator for a brief: the latest value, changes, target, comparison, chart, words.

An indicator whose data the workbook does not have yet gets a result that says so, with no
number: nothing is invented.

Example::

    context = Context.build(processed, period, kommune="766", comparison_group="kommunegruppe",
                            strategy_period="sigtepunkter-2022-2025")
    result = compute(context, registry.get("movers_18_36"))
    result.value, result.value_text      # 1.0332..., '1,03'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from analysis import charts, fmt, indicators, params, targets
from analysis.example_data import example_observations
from analysis.compare import resolve_group
from analysis.errors import WorkbookError
from analysis.ingest import MANUAL_PREFIX, Processed
from analysis.params import Indicator, Strategy, Target
from analysis.periods import date_label, freq_of, label, parse_period, short_date


@dataclass(frozen=True)
class Table:
    caption: str
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool]


@dataclass
class Result:
    indicator: Indicator
    targets: list[tuple[Target, str]]  # (target, name of its strategy period)
    value: float | None = None
    value_text: str = "-"
    as_of: str = ""
    change_previous: str = ""
    change_year: str = ""
    comparison: str = ""
    sentences: list[str] = field(default_factory=list)
    charts: list[charts.Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    tables_used: list[str] = field(default_factory=list)
    missing: str = ""
    illustrative: bool = False  # the numbers are Eksempeldata, not real
    series: pd.Series | None = None  # what the status is judged on (index: years or dates)
    sample_sizes: pd.Series | None = None  # survey answers per point of `series`
    group: pd.DataFrame | None = None  # the same for every municipality of the comparison group
    statuses: list[targets.Status] = field(default_factory=list)  # one per target, in order

    @property
    def status(self) -> targets.Status:
        """The status shown in the table: that of the newest target."""
        if self.statuses:
            return self.statuses[0]
        if not self.has_data:
            return targets.Status(targets.NO_DATA, self.missing or "Der er ingen tal endnu.")
        return targets.assess(None, pd.Series(dtype=float), self.indicator.polarity)

    @property
    def has_data(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Context:
    """Everything an indicator needs: the data, the municipality, its comparison group, the period."""

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

    @classmethod
    def build(cls, processed: Processed, period: pd.Period, kommune: str, comparison_group: str,
              strategy: Strategy, strategy_period: str, example_data: bool = False) -> Context:
        areas = processed.areas
        if kommune not in set(areas.municipalities["code"]):
            raise WorkbookError(f"kommune {kommune}: not a municipality code in DST's Kommunegrupper")
        if strategy_period not in strategy.strategy_periods:
            raise WorkbookError(
                f"strategy_period '{strategy_period}': unknown; expected one of {', '.join(strategy.strategy_periods)}"
            )
        group = resolve_group(comparison_group, kommune, processed, period)
        return cls(processed, period, kommune, areas.name_of(kommune), group.label, group.members, strategy,
                   strategy_period, example_data, group.definite, group.description)

    @property
    def obs(self) -> pd.DataFrame:
        return self.processed.observations

    @property
    def others_label(self) -> str:
        """'de 23 andre oplandskommuner'."""
        return f"de {len(self.members) - 1} andre {self.group_name}"

    def name(self, code_: str) -> str:
        return self.processed.areas.name_of(code_)


def targets_for(indicator: Indicator, strategy: Strategy, strategy_period: str) -> list[tuple[Target, str]]:
    """The indicator's targets from the chosen strategy period and the ones before it."""
    order = list(strategy.strategy_periods)
    upto = order[: order.index(strategy_period) + 1]
    chosen = [t for t in indicator.targets if t.strategy in upto]
    chosen.sort(key=lambda t: order.index(t.strategy), reverse=True)
    return [(t, strategy.strategy_periods[t.strategy].name) for t in chosen]


def compute(context: Context, indicator: Indicator) -> Result:
    result = Result(indicator, targets_for(indicator, context.strategy, context.strategy_period))
    calculator = CALCULATORS.get(indicator.id)
    if calculator is not None:
        calculator(context, result)
    elif indicator.source.kind == "manual":
        _manual(context, result)
    else:
        result.missing = _missing_reason(indicator)
    series = result.series if result.series is not None and result.has_data else pd.Series(dtype=float)
    result.statuses = [
        targets.assess(target, series, indicator.polarity, indicator.unit, group=result.group,
                       kommune=context.kommune, sample_sizes=result.sample_sizes)
        for target, _name in result.targets
    ]
    return result


def _missing_reason(indicator: Indicator) -> str:
    source = indicator.source
    if source.kind == "dst":
        return (f"Tallene kommer fra Danmarks Statistik (tabel {', '.join(source.tables)}), "
                "som endnu ikke er hentet til arbejdsbogen.")
    if source.kind == "manual":
        return f"Tallene føres af kommunen selv i filen data/raw/manual/{source.manual}.csv, som endnu ikke er udfyldt."
    raise WorkbookError(f"indicator {indicator.id}: reads Statistikbanken tables but has no calculation in analysis.results")


def _population(context: Context, result: Result) -> None:
    period = context.period
    population = indicators.population_for(context.obs, period)
    series = indicators.stock_series(population, period)[context.kommune].dropna()
    now, previous = indicators.reference_dates(period)
    year_before = now - pd.DateOffset(years=1)
    value = float(series.loc[now])
    result.value, result.value_text, result.as_of = value, fmt.number(value), short_date(now.date())
    result.series = series
    size = indicators.group_comparison(population.loc[now], context.kommune, context.members)
    result.comparison = f"Nr. {size['rank']} af {size['n']} efter størrelse; gns. for de andre {fmt.number(size['mean_others'])}"
    result.tables_used = ["FOLK1AM"] if freq_of(period) == "Q" else ["INDBYGGERE", "FOLK1AM"]
    if previous in series.index and freq_of(period) == "Q":
        result.change_previous = fmt.signed(value - series.loc[previous])
    if year_before in series.index:
        change = value - series.loc[year_before]
        relative_change = (value / series.loc[year_before] - 1) * 100
        result.change_year = f"{fmt.signed(change)} ({fmt.signed(relative_change, 1)}\u00a0%)"
        direction = "flere" if change >= 0 else "færre"
        result.sentences.append(
            f"{context.kommune_name} havde {fmt.number(value)} indbyggere den {date_label(now.date())}, "
            f"{fmt.number(abs(change))} {direction} end et år før ({fmt.signed(relative_change, 1)}\u00a0%)."
        )
    else:
        result.sentences.append(f"{context.kommune_name} havde {fmt.number(value)} indbyggere den {date_label(now.date())}.")
    first = series.index[0]
    verb = "steg" if value >= series.iloc[0] else "faldt"
    alt = (f"Linjediagram: folketallet i {context.kommune_name} {verb} fra {fmt.number(series.iloc[0])} "
           f"den {date_label(first.date())} til {fmt.number(value)} den {date_label(now.date())}.")
    line = charts.Line(context.kommune_name.removesuffix(" Kommune"), list(series.index), list(series.values), highlight=True)
    result.charts.append(charts.time_chart([line], fmt.number, alt, caption=f"Folketal, {context.kommune_name}"))


def _against_group(context: Context, dates: list, rows: list[dict]) -> tuple[list[charts.Line], charts.Band]:
    """The municipality's line, the others' average and the group's middle half, for a time chart."""
    lines = [
        charts.Line("Gns. andre", dates, [r["mean_others"] for r in rows]),
        charts.Line(context.kommune_name.removesuffix(" Kommune"), dates, [r["value"] for r in rows], highlight=True),
    ]
    band = charts.Band(f"den midterste halvdel af {context.group_definite}", dates, [r["q25"] for r in rows],
                       [r["q75"] for r in rows])
    return lines, band


def _growth(context: Context, result: Result) -> None:
    period = context.period
    population = indicators.population_for(context.obs, period)
    growth = indicators.growth_series(population, period)
    growth = growth.loc[growth[context.kommune].notna()]
    now, previous = indicators.reference_dates(period)
    result.tables_used = ["FOLK1AM", "KOMGRP"] if freq_of(period) == "Q" else ["INDBYGGERE", "FOLK1AM", "KOMGRP"]
    if now not in growth.index:
        result.missing = "Der er ikke folketal et år tilbage fra perioden, så væksten kan ikke beregnes."
        return
    latest = indicators.group_comparison(growth.loc[now], context.kommune, context.members)
    value = latest["value"]
    start = (now - pd.DateOffset(years=1)).date()
    result.series = growth[context.kommune]
    result.group = growth[[c for c in context.members if c in growth.columns]]
    result.value, result.value_text = value, fmt.percent(value)
    result.as_of = f"{short_date(start)}-{short_date(now.date())}"
    if previous in growth.index and freq_of(period) == "Q":
        result.change_previous = fmt.points(value - growth.loc[previous, context.kommune], short=True)
    year_before = now - pd.DateOffset(years=1)
    if year_before in growth.index:
        result.change_year = fmt.points(value - growth.loc[year_before, context.kommune], short=True)
    result.comparison = f"Nr. {latest['rank']} af {latest['n']}; gns. for de andre {fmt.percent(latest['mean_others'])}"
    compared = "højere" if value > latest["mean_others"] else "lavere" if value < latest["mean_others"] else "det samme som"
    result.sentences.append(
        f"Folketallet voksede {fmt.percent(value)} fra {date_label(start)} til {date_label(now.date())}"
        if value >= 0 else
        f"Folketallet faldt {fmt.percent(-value)} fra {date_label(start)} til {date_label(now.date())}"
    )
    result.sentences[-1] += (f", {compared} end gennemsnittet for {context.others_label} "
                             f"({fmt.percent(latest['mean_others'])}). Det giver en {latest['rank']}.-plads af {latest['n']}.")
    rows = [indicators.group_comparison(growth.loc[d], context.kommune, context.members) for d in growth.index]
    dates = list(growth.index)
    lines, band = _against_group(context, dates, rows)
    alt = (f"Linjediagram: befolkningsvæksten over tolv måneder i {context.kommune_name} og gennemsnittet for "
           f"{context.others_label} fra {date_label(dates[0].date())} til {date_label(dates[-1].date())}. "
           f"Senest {fmt.percent(value)} mod {fmt.percent(latest['mean_others'])} i gennemsnit; "
           f"{context.kommune_name.removesuffix(' Kommune')} var over gennemsnittet "
           f"{sum(r['value'] > r['mean_others'] for r in rows)} af {len(rows)} gange.")
    result.charts.append(charts.time_chart(lines, lambda v: fmt.percent(v), alt, band=band,
                                           caption=f"Vækst over tolv måneder, {context.kommune_name} og {context.group_name}."))


def _movers(context: Context, result: Result) -> None:
    result.tables_used = ["FLY66", "KOMGRP"]
    usable = [y for y in indicators.flow_years(context.obs) if y <= indicators.last_complete_year(context.period)]
    if not usable:
        result.missing = (f"Flytninger for {indicators.last_complete_year(context.period)} er ikke i datagrundlaget "
                          "(tabel FLY66); de udkommer, når året er gjort op.")
        return
    year = max(usable)
    table = indicators.movers(context.obs, year)
    own = table.loc[context.kommune]
    latest = indicators.group_comparison(table["ratio"], context.kommune, context.members)
    result.value, result.value_text, result.as_of = float(own["ratio"]), fmt.decimal(own["ratio"], 2), str(year)
    result.series = pd.Series({y: indicators.movers(context.obs, y).loc[context.kommune, "ratio"] for y in usable})
    if year - 1 in usable:
        before = indicators.movers(context.obs, year - 1).loc[context.kommune, "ratio"]
        result.change_year = fmt.signed(own['ratio'] - before, 2)
    result.comparison = f"Nr. {latest['rank']} af {latest['n']}; gns. for de andre {fmt.decimal(latest['mean_others'], 2)}"
    result.sentences.append(
        f"I {year} flyttede {fmt.number(own['in'])} 18-36-årige til {context.kommune_name} fra andre kommuner, "
        f"og {fmt.number(own['out'])} flyttede den anden vej: {fmt.decimal(own['ratio'], 2)} tilflyttere pr. fraflytter."
    )
    level, strategy_name = next(((t, n) for t, n in result.targets if t.kind == "level" and t.value is not None),
                                (None, ""))
    if level is not None:
        baseline = (f" (udgangspunktet var {fmt.decimal(level.baseline, 2)} i {level.baseline_year})"
                    if level.baseline is not None else "")
        result.sentences.append(
            f"Målet i {strategy_name} var mindst {fmt.decimal(level.value, 2)} i {level.year}{baseline}."
        )
    result.sentences.append("Tallene tæller kun flytninger mellem danske kommuner, ikke flytninger til og fra udlandet.")
    values = {context.name(c): table.loc[c, "ratio"] for c in context.members if c in table.index}
    target_line = charts.TargetLine(f"Mål {fmt.decimal(level.value, 2)}", level.value) if level is not None else None
    alt = (f"Søjlediagram: tilflyttere pr. fraflytter blandt 18-36-årige i {year} for {len(values)} {context.group_name}. "
           f"{context.kommune_name} har {fmt.decimal(own['ratio'], 2)} og ligger nr. {latest['rank']}; "
           f"højest er {max(values, key=values.get)} med {fmt.decimal(max(values.values()), 2)}, "
           f"lavest {min(values, key=values.get)} med {fmt.decimal(min(values.values()), 2)}."
           + (f" Målet er {fmt.decimal(level.value, 2)}." if level is not None else ""))
    result.charts.append(charts.ranked_bars(values, context.name(context.kommune), lambda v: fmt.decimal(v, 2), alt,
                                            caption=f"Tilflyttere pr. fraflytter, 18-36 år, {year}", target=target_line))
    flows = indicators.top_flows(context.obs, context.kommune, year)
    result.tables.append(Table(
        caption=f"Største flytninger af 18-36-årige til og fra {context.kommune_name} i {year}",
        columns=["Kommune", "Tilflyttere herfra", "Fraflyttere hertil", "Netto"],
        rows=[[context.name(c), fmt.number(r["in"]), fmt.number(r["out"]), fmt.signed(r["net"])] for c, r in flows.iterrows()],
        numeric=[False, True, True, True],
    ))


def _employment(context: Context, result: Result) -> None:
    result.tables_used = ["RAS200", "KOMGRP"]
    rates = indicators.annual_rate(context.obs, "RAS200", indicators.last_complete_year(context.period))
    if rates.empty or context.kommune not in rates.columns:
        result.missing = "Beskæftigelsesfrekvensen (tabel RAS200) findes ikke for perioden."
        return
    year = int(rates.index.max())
    latest = indicators.group_comparison(rates.loc[year], context.kommune, context.members)
    value = latest["value"]
    result.value, result.value_text, result.as_of = value, fmt.percent(value), str(year)
    result.series = rates[context.kommune]
    result.group = rates[[c for c in context.members if c in rates.columns]]
    if year - 1 in rates.index:
        result.change_year = fmt.points(value - rates.loc[year - 1, context.kommune], short=True)
    result.comparison = f"Nr. {latest['rank']} af {latest['n']}; gns. for de andre {fmt.percent(latest['mean_others'])}"
    result.sentences.append(
        f"I {year} var {fmt.percent(value)} af de 16-64-årige i {context.kommune_name} i beskæftigelse, "
        f"mod {fmt.percent(latest['mean_others'])} i gennemsnit for {context.others_label}."
    )
    lag = indicators.last_complete_year(context.period) - year
    if lag > 0:
        result.sentences.append(f"Det er de nyeste tal i datagrundlaget; de er {lag} år ældre end perioden.")
    rows = [indicators.group_comparison(rates.loc[y], context.kommune, context.members) for y in rates.index]
    years = [pd.Timestamp(year=int(y), month=1, day=1) for y in rates.index]
    lines, band = _against_group(context, years, rows)
    alt = (f"Linjediagram: beskæftigelsesfrekvensen for 16-64-årige i {context.kommune_name} fra {rates.index.min()} "
           f"til {year}, fra {fmt.percent(rows[0]['value'])} til {fmt.percent(value)}; gennemsnittet for "
           f"{context.others_label} gik fra {fmt.percent(rows[0]['mean_others'])} til {fmt.percent(latest['mean_others'])}.")
    result.charts.append(charts.time_chart(lines, lambda v: fmt.percent(v), alt, band=band,
                                           caption=f"Beskæftigelsesfrekvens 16-64 år, {context.kommune_name} og {context.group_name}."))


def _manual_rows(context: Context, indicator: Indicator) -> tuple[pd.DataFrame, bool]:
    """The municipality's rows of a manual indicator: the analyst's file, else Eksempeldata if asked."""
    manual = indicators.manual_rows(context.obs)
    rows = manual[(manual["measure"] == indicator.id) & (manual["area"] == context.kommune)]
    if not rows.empty:
        return rows[["period", "value", "n"]], False
    if not context.example_data:
        return rows, False
    examples = example_observations(params.load_indicators(), context.kommune)
    return examples.loc[examples["indicator"] == indicator.id, ["period", "value", "n"]], True


def _usable(period_code: str, run: pd.Period) -> bool:
    """A quarter up to the run's quarter (or the run's year); a year only once it has ended."""
    period = parse_period(period_code)
    if freq_of(period) == "Q":
        return period <= (run if freq_of(run) == "Q" else run.asfreq("Q", how="end"))
    return period.year <= indicators.last_complete_year(run)


def _manual(context: Context, result: Result) -> None:
    indicator = result.indicator
    rows, illustrative = _manual_rows(context, indicator)
    rows = rows[[_usable(p, context.period) for p in rows["period"]]] if not rows.empty else rows
    if rows.empty:
        result.missing = _missing_reason(indicator)
        return
    result.illustrative = illustrative
    result.tables_used = [] if illustrative else [MANUAL_PREFIX + indicator.source.manual]
    periods = [parse_period(p) for p in rows["period"]]
    quarterly = freq_of(periods[0]) == "Q"
    index = pd.DatetimeIndex([p.start_time for p in periods]) if quarterly else pd.Index([p.year for p in periods])
    series = pd.Series(rows["value"].to_numpy(dtype=float), index=index).sort_index()
    sizes = pd.Series(rows["n"].to_numpy(dtype=float), index=index).sort_index()
    unit = indicator.unit
    value = float(series.iloc[-1])
    latest_period = max(periods)
    result.value, result.value_text, result.as_of = value, fmt.with_unit(value, unit), label(latest_period)
    result.series = series
    if indicator.source.manual == "survey":
        result.sample_sizes = sizes
    def change(before: float) -> str:
        return f"fra {fmt.with_unit(before, unit)}" if unit == "placering" else fmt.change_with_unit(value - before, unit)
    previous, year_before = latest_period - 1, latest_period - (4 if quarterly else 1)
    by_period = dict(zip(periods, rows["value"].astype(float)))
    if quarterly and previous in by_period:
        result.change_previous = change(by_period[previous])
    if year_before in by_period:
        result.change_year = change(by_period[year_before])
    sentence = f"Seneste tal for {indicator.name[0].lower() + indicator.name[1:]}: {fmt.with_unit(value, unit)} ({label(latest_period)})"
    if indicator.source.manual == "survey" and not pd.isna(sizes.iloc[-1]):
        sentence += f" (undersøgelse med {fmt.number(sizes.iloc[-1])} svar)"
    if indicator.source.manual == "economy" and not pd.isna(sizes.iloc[-1]):
        sentence = f"Kommunen opfyldte {fmt.number(value)} af {fmt.number(sizes.iloc[-1])} økonomiske pejlemærker i {label(latest_period)}"
    result.sentences.append(sentence + ".")
    if illustrative:
        result.sentences.append("Tallene er eksempeldata, lavet af arbejdsbogen til illustration: de er ikke kommunens egne tal.")
    goal = _goal_line(result, series)
    dates = [p.start_time for p in sorted(periods)]
    prefix = "Eksempeldata. " if illustrative else ""
    first, last = series.iloc[0], series.iloc[-1]
    alt = (f"{prefix}Linjediagram: {indicator.name.lower()} fra {fmt.with_unit(first, unit)} i {label(min(periods))} "
           f"til {fmt.with_unit(last, unit)} i {label(latest_period)}."
           + (f" Målet er {fmt.with_unit(goal.value, unit)}." if goal else ""))
    line = charts.Line(context.kommune_name.removesuffix(" Kommune"), dates, list(series.values), highlight=True)
    result.charts.append(charts.time_chart([line], lambda v: fmt.with_unit(v, unit), alt, target=goal,
                                           caption=f"{prefix}{indicator.name}, {context.kommune_name}",
                                           invert_y=unit == "placering"))


def _goal_line(result: Result, series: pd.Series) -> charts.TargetLine | None:
    """The level the newest numeric target asks for, to draw on the chart."""
    for target, _name in result.targets:
        if target.kind in ("level", "rank") and target.value is not None:
            return charts.TargetLine(f"Mål: {fmt.with_unit(target.value, result.indicator.unit)}", target.value)
        if target.kind == "change" and target.value is not None and target.baseline_year in series.index:
            goal = float(series.loc[target.baseline_year]) * (1 + target.value / 100)
            return charts.TargetLine(f"Mål: {fmt.with_unit(goal, result.indicator.unit)}", goal)
    return None


CALCULATORS: dict[str, Callable[[Context, Result], None]] = {
    "population": _population,
    "population_growth": _growth,
    "movers_18_36": _movers,
    "employment_rate": _employment,
}


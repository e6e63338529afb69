"""Danish words from the numbers: the texts of an indicator's table row, its sentences, the
reason it has no figures, and the alt text of its charts. One template per measure kind and
per target kind; an indicator may give its own sentence in params/indicators.yml. Nothing here
computes a figure: everything is read from `figures.Figures`.

Example::

    words = describe(figures, scope)
    words.value_text, words.as_of, words.comparison   # '1,03', '2024', 'Nr. 2 af 24; gns. for de andre 0,95'
    words.sentences[0]   # 'I 2024 flyttede 1.431 18-36-årige til Hedensted fra andre kommuner, ...'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from analysis.indicators import selection
from analysis.indicators.figures import Figures, Scope
from analysis.params import Target, Unit
from analysis.periods import date_label, label, parse_period, short_date
from analysis.report import fmt

NOT_PUBLISHED = "ikke offentliggjort"
COUNT_KINDS = ("value", "sum")


@dataclass
class Words:
    value_text: str = "-"
    as_of: str = ""
    change_previous: str = ""
    change_year: str = ""
    comparison: str = ""
    sentences: list[str] = field(default_factory=list)
    missing: str = ""


def describe(figures: Figures, scope: Scope) -> Words:
    """Every text the brief shows for one indicator."""
    indicator = figures.indicator
    if not figures.has_data:
        return Words(missing=missing_reason(figures))
    latest = figures.latest
    unit = indicator.unit
    words = Words(value_text=value_text(latest["value"], unit, bool(latest["suppressed"])), as_of=as_of(figures))
    if figures.previous is not None:
        words.change_previous = change(latest["value"], figures.previous["value"], figures, relative=False)
    if figures.year_before is not None:
        words.change_year = change(latest["value"], figures.year_before["value"], figures)
    comparison = figures.comparison
    if comparison:
        words.comparison = comparison_cell(figures, comparison, scope)
    words.sentences = [latest_sentence(figures, scope)]
    if comparison and comparison["n"] > 1:
        words.sentences.append(comparison_sentence(figures, comparison, scope))
    words.sentences += [
        target_sentence(target, name, unit) for target, name in figures.targets if target_sentence(target, name, unit)
    ]
    lag = _lag_years(figures, scope.period)
    if lag > 0:
        words.sentences.append(f"Det er de nyeste tal i datagrundlaget; de er {lag} år ældre end perioden.")
    words.sentences += indicator.notes
    if figures.illustrative:
        words.sentences.append(
            "Tallene er eksempeldata, lavet af arbejdsbogen til illustration: de er ikke kommunens egne tal."
        )
    return words


def lower_first(name: str) -> str:
    """A name inside a sentence: 'Folketal' -> 'folketal', but 'DI's placering' keeps its capitals."""
    if len(name) > 1 and (name[1].isupper() or name[1] == "'"):
        return name
    return name[:1].lower() + name[1:]


def value_text(value: float, unit: str, suppressed: bool = False) -> str:
    if suppressed or value is None or (isinstance(value, float) and math.isnan(value)):
        return NOT_PUBLISHED
    return fmt.with_unit(value, unit)


def as_of(figures: Figures) -> str:
    """When the latest figure is from: a day for a stock or a change between two days, else the period."""
    date = figures.latest_date
    measure = figures.indicator.measure
    if measure.kind == "change":
        start = date - pd.DateOffset(years=measure.years)
        return f"{short_date(start.date())}-{short_date(date.date())}"
    if figures.stock:
        return short_date(date.date())
    return label(parse_period(figures.latest["period"]))


def change(now: float, before: float, figures: Figures, relative: bool = True) -> str:
    """A change in the indicator's unit; over a year, a stock count's relative change too; a rank as 'fra nr. 5'."""
    unit = figures.indicator.unit
    if pd.isna(now) or pd.isna(before):
        return ""
    if unit.format == "rank":
        return f"fra {fmt.with_unit(before, unit)}"
    if relative and figures.stock and figures.indicator.measure.kind in COUNT_KINDS and before:
        return f"{fmt.signed(now - before)} ({fmt.signed((now / before - 1) * 100, 1)}\u00a0%)"
    return fmt.change_with_unit(now - before, unit)


def _group_value(value: float, figures: Figures, extra: int = 0) -> str:
    if figures.comparison_measure == "per_1000":
        return fmt.number(value, (1 if abs(value) < 100 else 0) + extra)
    return fmt.with_unit(value, figures.indicator.unit, extra)


def _group_pair(first: float, second: float, figures: Figures) -> tuple[str, str]:
    return fmt.pair(first, second, "", lambda value, extra: _group_value(value, figures, extra))


def comparison_cell(figures: Figures, comparison: dict, scope: Scope) -> str:
    """'Nr. 2 af 24; gns. for de andre 0,2 %', with what the rank is by when it is not by the value."""
    how = ""
    if figures.comparison_measure == "per_1000":
        how = " pr. 1.000 indbyggere"
    elif by_size(figures):
        how = " efter størrelse"
    where = f" i {scope.region[0]}" if figures.compared_with == "region" else ""
    return (
        f"Nr. {comparison['rank']} af {comparison['n']}{how}{where}; "
        f"gns. for de andre {_group_value(comparison['mean_others'], figures)}"
    )


def comparison_sentence(figures: Figures, comparison: dict, scope: Scope) -> str:
    value, mean = comparison["value"], comparison["mean_others"]
    if figures.compared_with == "region":
        others = f"de {comparison['n'] - 1} andre kommuner i {scope.region[0]}"
    else:
        others = scope.others_label
    subject = "Pr. 1.000 indbyggere ligger kommunen" if figures.comparison_measure == "per_1000" else "Kommunen ligger"
    side = "over" if value > mean else "under" if value < mean else "på"
    rank = f"nr. {comparison['rank']} af {comparison['n']}"
    if by_size(figures):
        rank += " efter størrelse"
    shown, shown_mean = _group_pair(value, mean, figures)
    return f"{subject} {side} gennemsnittet for {others} ({shown} mod {shown_mean}) og er {rank}."


def by_size(figures: Figures) -> bool:
    """A rank that orders municipalities by how big a figure is, not by how good: a count such as
    the population compared as it stands, or an indicator with no better direction."""
    stock_count = (
        figures.stock and figures.indicator.measure.kind in COUNT_KINDS and figures.comparison_measure == "value"
    )
    return stock_count or figures.indicator.polarity == "none"


def latest_sentence(figures: Figures, scope: Scope) -> str:
    """The sentence on the latest figure: the indicator's own template, or its measure kind's."""
    indicator = figures.indicator
    latest, unit = figures.latest, indicator.unit
    date = figures.latest_date
    suppressed = bool(latest["suppressed"]) or pd.isna(latest["value"])
    value = value_text(latest["value"], unit, suppressed)
    period_label = label(parse_period(latest["period"]))
    if suppressed:
        return (
            f"Danmarks Statistik har ikke offentliggjort tallet for {lower_first(indicator.name)} for {period_label}."
        )
    before = figures.year_before
    if indicator.sentence:
        measure = indicator.measure
        start = date - pd.DateOffset(years=measure.years) if measure.kind == "change" else date
        return indicator.sentence.format(
            kommune=scope.kommune_name,
            value=value,
            abs_value=value_text(abs(latest["value"]), unit),
            value_number=fmt.number(latest["value"]),
            period=period_label,
            date=date_label(date.date()),
            from_date=date_label(start.date()),
            numerator=_count(latest["numerator"]),
            denominator=_count(latest["denominator"]),
            n=_count(latest["n"]),
            grew="voksede" if latest["value"] >= 0 else "faldt",
            rose="steg" if latest["value"] >= 0 else "faldt",
            change_year=change(latest["value"], before["value"], figures) if before is not None else "",
        )
    if indicator.manual_kind:
        sentence = f"Seneste tal for {lower_first(indicator.name)}: {value} ({period_label})"
        if indicator.manual_kind == "survey" and not pd.isna(latest["n"]):
            sentence += f" (undersøgelse med {fmt.number(latest['n'])} svar)"
        return sentence + "."
    if figures.stock and indicator.measure.kind in COUNT_KINDS:
        sentence = f"{scope.kommune_name} havde {value} {_noun(unit)} den {date_label(date.date())}"
        if before is not None and not pd.isna(before["value"]):
            difference = latest["value"] - before["value"]
            direction = "flere" if difference >= 0 else "færre"
            relative = (latest["value"] / before["value"] - 1) * 100 if before["value"] else 0.0
            sentence += f", {fmt.number(abs(difference))} {direction} end et år før ({fmt.signed(relative, 1)}\u00a0%)"
        return sentence + "."
    when = f"den {date_label(date.date())}" if figures.stock else f"i {period_label}"
    sentence = f"{indicator.name} {when}: {value}"
    if before is not None and not pd.isna(before["value"]):
        sentence += f", {change(latest['value'], before['value'], figures)} i forhold til året før"
    return sentence + "."


def _noun(unit: Unit) -> str:
    return unit.noun or unit.name


def _count(value: float) -> str:
    return "-" if value is None or pd.isna(value) else fmt.number(value)


def target_sentence(target: Target, strategy_name: str, unit: str) -> str:
    """What a numeric target asked for, with its baseline; '' for the other target kinds."""
    if target.kind != "level" or target.value is None:
        return ""
    baseline = (
        f" (udgangspunktet var {fmt.with_unit(target.baseline, unit)} i {target.baseline_year})"
        if target.baseline is not None
        else ""
    )
    return f"Målet i {strategy_name} var mindst {fmt.with_unit(target.value, unit)} i {target.year}{baseline}."


def _lag_years(figures: Figures, period: pd.Period) -> int:
    """How many years the latest figure is older than the run's period (annual statistics lag)."""
    if figures.stock or len(str(figures.latest["period"])) != 4:
        return 0
    return selection.last_complete_year(period) - int(figures.latest["period"])


def missing_reason(figures: Figures) -> str:
    """Why an indicator has no figure, and where its numbers will come from."""
    if figures.missing_tables:
        tables = ", ".join(figures.missing_tables)
        return f"Tallene kommer fra Danmarks Statistik (tabel {tables}) og er endnu ikke hentet."
    if figures.missing_manual:
        return "Kommunen fører selv disse tal, og de er endnu ikke indtastet."
    return "Der er ingen tal for perioden endnu."


# --- alt texts and captions --------------------------------------------------------------


def short_name(scope: Scope) -> str:
    return scope.kommune_name.removesuffix(" Kommune")


def when_label(figures: Figures, date: pd.Timestamp, period: str) -> str:
    return date_label(date.date()) if figures.stock else label(parse_period(period))


def line_alt(figures: Figures, scope: Scope) -> str:
    """Alt text of the municipality's own line."""
    series, unit = figures.series.dropna(subset=["value"]), figures.indicator.unit
    first, last = series.iloc[0], series.iloc[-1]
    verb = "steg" if last["value"] > first["value"] else "faldt" if last["value"] < first["value"] else "var uændret"
    prefix = "Eksempeldata. " if figures.illustrative else ""
    return (
        f"{prefix}Linjediagram: {lower_first(figures.indicator.name)} i "
        f"{scope.kommune_name} {verb} fra {fmt.with_unit(first['value'], unit)} "
        f"({when_label(figures, series.index[0], first['period'])}) til {fmt.with_unit(last['value'], unit)} "
        f"({when_label(figures, series.index[-1], last['period'])})."
    )


def group_alt(figures: Figures, scope: Scope, rows: pd.DataFrame, others: str) -> str:
    """Alt text of the municipality against the others' average over time."""
    first, last = rows.iloc[0], rows.iloc[-1]
    above = int((rows["value"] > rows["mean_others"]).sum())
    name = lower_first(figures.indicator.name)
    per = " pr. 1.000 indbyggere" if figures.comparison_measure == "per_1000" else ""
    return (
        f"Linjediagram: {name}{per} i {scope.kommune_name} og gennemsnittet for {others} fra "
        f"{when_label(figures, rows.index[0], figures.series.loc[rows.index[0], 'period'])} til "
        f"{when_label(figures, rows.index[-1], figures.series.loc[rows.index[-1], 'period'])}. "
        f"Senest {' mod '.join(_group_pair(last['value'], last['mean_others'], figures))} i gennemsnit "
        f"(først {' mod '.join(_group_pair(first['value'], first['mean_others'], figures))}); "
        f"{short_name(scope)} var over gennemsnittet {above} af {len(rows)} gange."
    )


def bars_alt(figures: Figures, scope: Scope, values: dict[str, float], goal: float | None) -> str:
    """Alt text of the ranked bars of the compared municipalities on the latest date."""
    comparison = figures.comparison
    highest, lowest = max(values, key=values.get), min(values, key=values.get)
    name = lower_first(figures.indicator.name)
    period = when_label(figures, figures.latest_date, figures.latest["period"])
    text = (
        f"Søjlediagram: {name} {period} for {len(values)} kommuner. {scope.kommune_name} har "
        f"{_group_value(comparison['value'], figures)} og ligger nr. {comparison['rank']}; højest er {highest} med "
        f"{_group_value(values[highest], figures)}, lavest {lowest} med {_group_value(values[lowest], figures)}."
    )
    return text + (f" Målet er {fmt.with_unit(goal, figures.indicator.unit)}." if goal is not None else "")


def others_label(figures: Figures, scope: Scope) -> str:
    if figures.compared_with == "region":
        return f"de andre kommuner i {scope.region[0]}"
    return scope.others_label

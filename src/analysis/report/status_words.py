"""A status in words: one plain Danish sentence for a council member (`reason`) and a note on the
method with its figures for the analyst (`method`), from the numbers of indicators/targets.py.

Example::

    status = assess(target, pd.Series([1.03], index=[2024]), "higher", unit)
    reason(status)   # 'Målet på 1,10 i 2022 blev ikke nået: tallet var 1,03 i 2024, det nærmeste senere år med tal.'
"""

from __future__ import annotations

from analysis.indicators.targets import Status
from analysis.report import fmt


def _text(value: float, status: Status) -> str:
    return fmt.with_unit(value, status.unit)


def _lower_first(sentence: str) -> str:
    return sentence[0].lower() + sentence[1:]


def reason(status: Status) -> str:
    """The status in one Danish sentence."""
    f = status.facts
    rule = status.rule
    if rule == "no_target":
        return "Kommunalbestyrelsen har ikke sat et mål for denne indikator."
    if rule == "not_set":
        return "Målet blev aldrig gjort konkret: tallene står som »x« i strategien, så der er intet at måle op imod."
    if rule == "no_data":
        return "Der er ingen tal at vurdere målet på endnu."
    if rule == "no_direction":
        return (
            "Strategien siger ikke i tal, hvad der er godt for denne indikator (fx hvad »i balance« "
            "er), så tallene viser udviklingen uden en vurdering."
        )
    if rule == "no_baseline":
        return f"Målet kan ikke regnes ud, fordi udgangspunktet i {f['baseline_year']} mangler i tallene."
    if rule == "no_group":
        return "Der er ikke tal for sammenligningsgruppen."
    if rule == "year_passed":
        goal, year = _text(f["goal"], status), f["year"]
        which = f"i {year}" if year == f["target_year"] else f"i {year}, det nærmeste senere år med tal"
        verb = "er nået" if f["met"] else "blev ikke nået"
        return f"Målet på {goal} i {f['target_year']} {verb}: tallet var {_text(f['value'], status)} {which}."
    if rule == "level_reached":
        return f"Tallet er {_text(f['latest'], status)} og har nået målet på {_text(f['goal'], status)}."
    if rule == "level_not_reached":
        return (
            f"Tallet er {_text(f['latest'], status)} mod målet på {_text(f['goal'], status)}; "
            f"{_lower_first(reason(f['direction']))}"
        )
    if rule == "survey_level_reached":
        return (
            f"Tallet er {_text(f['latest'], status)}, og selv med den statistiske usikkerhed er målet på "
            f"{_text(f['goal'], status)} nået."
        )
    if rule == "survey_too_few":
        return f"Der er for få målinger til at se, om målet på {_text(f['goal'], status)} i {f['target_year']} nås."
    if rule == "trend_too_few":
        return (
            f"Der er kun {f['points']} måling(er), for få til at se, om målet på {_text(f['goal'], status)} "
            f"i {f['target_year']} nås."
        )
    if rule == "projection":
        start = f"Fortsætter udviklingen, ender tallet omkring {_text(f['projected'], status)} i {f['target_year']}"
        goal = _text(f["goal"], status)
        return {
            "reached": f"{start}, sikkert på den rigtige side af målet på {goal}.",
            "missed": f"{start} og når ikke målet på {goal}.",
            "open": f"{start}; usikkerheden er så stor, at målet på {goal} både kan nås og ikke nås.",
        }[f["outcome"]]
    if rule == "direction_too_few":
        return f"Der er kun {f['points']} måling(er), for få til at se en retning."
    if rule == "constant":
        return "Tallet har ikke flyttet sig i perioden."
    if rule == "no_clear_direction":
        return f"Over de seneste {f['points']} målinger er der ingen klar retning; udsvingene kan være tilfældige."
    if rule == "direction":
        word = "steget" if f["rising"] else "faldet"
        return f"Tallet er {word} over de seneste {f['points']} målinger, og det er mere end tilfældige udsving."
    if rule == "one_survey":
        return "Der er kun én måling, så der er intet at sammenligne med endnu."
    if rule == "survey":
        return {
            "up": "Andelen er steget mere, end den statistiske usikkerhed i undersøgelserne kan forklare.",
            "down": "Andelen er faldet mere, end den statistiske usikkerhed i undersøgelserne kan forklare.",
            "within": "Forskellen mellem første og seneste undersøgelse er inden for den statistiske usikkerhed.",
        }[f["moved"]]
    if rule == "group":
        shown, mean = fmt.pair(f["value"], f["mean"], status.unit)
        text = f"{shown} mod {mean} i gennemsnit"
        if f["why"] == "spread":
            return (
                f"Kommunen ligger lige nu {f['side']} gennemsnittet ({text}), "
                "men inden for den almindelige spredning i gruppen."
            )
        best = "bedste" if f["side"] == "over" else "svageste"
        why = (
            f"og er blandt den {best} fjerdedel" if f["why"] == "quartile" else "og har været det de seneste tre gange"
        )
        return f"Kommunen ligger {f['side']} gennemsnittet ({text}) {why}."
    if rule == "group_since":
        base = reason(Status(status.status, "group", f, status.unit))[:-1]
        if not f["missed"]:
            return f"{base}; målet har holdt hvert år siden {f['since']}."
        missed = []
        for year, value, mean in f["missed"]:
            shown, shown_mean = fmt.pair(value, mean, status.unit)
            missed.append(f"{year} ({shown} mod {shown_mean})")
        which = " og ".join([", ".join(missed[:-1]), missed[-1]] if len(missed) > 1 else missed)
        held = f["years"] - len(missed)
        return f"{base}. Målet gælder fra {f['since']}: det holdt i {held} af {f['years']} år, men ikke i {which}."
    if rule in ("rank", "rank_rising"):
        when = f"i {f['year']}" if f["year"] is not None else "senest"
        goal = "nr. 1" if f["goal"] == 1 else f"top {f['goal']}"
        if rule == "rank_rising":
            return f"Kommunen var nr. {f['rank']} {when} og rykker op, men målet er {goal} i {f['target_year']}."
        return f"Kommunen var nr. {f['rank']} {when}, og målet er {goal}."
    raise ValueError(f"no words for the status rule '{rule}'")


def method(status: Status) -> str:
    """The method behind the status and its figures, for the analyst ('' where there is none)."""
    f = status.facts
    rule = status.rule
    if rule == "no_direction":
        return "ingen retning at måle på"
    if rule == "year_passed":
        return f"målåret er passeret; vurderet på {f['year']}"
    if rule == "level_not_reached":
        return method(f["direction"])
    if rule == "trend_too_few":
        return "færre målinger end en trend kræver"
    if rule == "projection":
        return (
            f"lineær trend over {f['points']} målinger fremskrevet til {f['target_year']}: "
            f"{fmt.significant(f['projected'])} ({fmt.percent(f['confidence'] * 100, 0)}-prædiktionsinterval "
            f"{fmt.significant(f['low'])} til {fmt.significant(f['high'])})"
        )
    if rule == "direction_too_few":
        return "færre målinger end en trendtest kræver"
    if rule == "constant":
        return "konstant række"
    if rule in ("no_clear_direction", "direction"):
        p_text = "p < 0,001" if f["p"] < 0.0005 else f"p {fmt.decimal(f['p'], 3)}"
        return f"Mann-Kendall-test over {f['points']} målinger: tau {fmt.decimal(f['tau'], 2)}, {p_text}"
    if rule == "one_survey":
        return "én undersøgelse"
    if rule == "survey":
        (first_low, first_high), (last_low, last_high) = f["first"], f["last"]
        return (
            f"Wilson-intervaller ({fmt.percent(f['confidence'] * 100, 0)}): første "
            f"{fmt.number(first_low, 1)}-{fmt.number(first_high, 1)}, "
            f"seneste {fmt.number(last_low, 1)}-{fmt.number(last_high, 1)}"
        )
    if rule in ("group", "group_since"):
        return (
            f"seneste {fmt.significant(f['value'])} mod de øvriges gennemsnit {fmt.significant(f['mean'])}, kvartiler "
            f"{fmt.significant(f['q25'])} til {fmt.significant(f['q75'])}; forspring de seneste {len(f['leads'])} gange: "
            f"{', '.join(fmt.significant(x) for x in f['leads'])}"
        )
    if rule == "rank":
        return "placering"
    if rule == "rank_rising":
        return "placering på vej op"
    return ""

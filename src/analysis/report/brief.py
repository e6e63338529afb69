"""A brief: the sections a notebook shows, rendered as escaped HTML from Jinja templates.

A notebook makes one `Brief` from its parameters and calls one `show_*` method per section;
the runner exports the executed notebook to the HTML file that is mailed to the committees.

Example (a notebook cell)::

    brief = open_brief(theme="growth", period="latest", cadence="kvartal", kommune=766,
                       comparison_group="kommunegruppe", strategy_period="sigtepunkter-2022-2025", data="")
    brief.show_header()
    brief.show_indicator_table()
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from pydantic import ValidationError

from analysis import __version__, params, paths
from analysis.data.processed import MANUAL_PREFIX, Processed, data_location
from analysis.errors import WorkbookError
from analysis.indicators import selection, store, targets
from analysis.indicators.figures import Figures, Scope, select
from analysis.params import THEMES, BriefParameters
from analysis.periods import CADENCE_LABELS, CADENCES, code, date_label, label, parse_period
from analysis.provenance import git_commit
from analysis.report import charts, fmt, narrative, status_words

_templates = Environment(
    loader=PackageLoader("analysis", "report/templates/sections"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def compile_templates() -> None:
    """Compile every section template now, into the environment's cache: a kernel server does this
    once, and the kernels forked from it render without compiling them again (0.1 s each)."""
    for name in _templates.list_templates():
        _templates.get_template(name)


def warm_up(processed: Processed) -> None:
    """Read and make once what every brief and numbers file reads and makes first, for a process
    whose forks make them (the kernel server, after it has read the run's data): the params
    files, each indicator's figures as dates x areas and where each area's rows of it are, which
    areas the manual tables have, Babel's Danish number and date data, and matplotlib's fonts (a
    small chart is drawn). Each fork otherwise does it again; measured,
    about 0.07 s of a growth brief's kernel and 0.05 s of a numbers file, for 0.1 s here."""
    strategy = params.load_strategy()
    params.load_council(str(strategy.kommune))
    for load in (params.load_units, params.load_sources, params.load_comparison, params.load_regions):
        load()
    for indicator in params.load_indicators().indicators:
        processed.wide(indicator.id)
        processed.rows_of(indicator.id, f"{strategy.kommune:03d}")  # finds every area's rows of it
        for kind in indicator.manual_kinds:
            processed.table_keys(MANUAL_PREFIX + kind)
    day = dt.date(2025, 1, 1)
    fmt.percent(0.25), label(pd.Period(day, freq="Q")), label(pd.Period(day, freq="M")), date_label(day)
    x = [pd.Timestamp(2024, 1, 1), pd.Timestamp(2025, 1, 1)]
    charts.time_chart([charts.Line("Hedensted", x, [0.1, 0.2], highlight=True)], fmt.percent, alt="", caption="")


_templates.filters["reason"] = status_words.reason


@dataclass(frozen=True)
class Table:
    caption: str
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool]


@dataclass
class Entry:
    """One indicator in a brief: its numbers (`figures`), the words about them, its charts and tables.
    The charts and tables are made when first read: a brief that shows an indicator's words only
    (the overview shows one chart a theme) does not draw the rest."""

    figures: Figures
    words: narrative.Words
    make_charts: Callable[[], list[charts.Chart]] = field(repr=False)
    make_tables: Callable[[], list[Table]] = field(repr=False)

    @cached_property
    def charts(self) -> list[charts.Chart]:
        return self.make_charts()

    @cached_property
    def tables(self) -> list[Table]:
        return self.make_tables()

    def __getattr__(self, name: str):
        # The templates read the figures' and the words' fields by name: value_text, status, ...
        for part in ("words", "figures"):
            holder = self.__dict__.get(part)
            if holder is not None and hasattr(holder, name):
                return getattr(holder, name)
        raise AttributeError(name)

    @property
    def tables_used(self) -> list[str]:
        return self.figures.tables


def largest_flows(figures: Figures, scope: Scope) -> list[Table]:
    """The movers indicator's extra table: the municipalities with the most moves to and from it."""
    if not figures.has_data:
        return []
    year = int(figures.latest["period"])
    flows = selection.top_flows(scope.processed.observations, scope.kommune, year)
    return [
        Table(
            caption=f"Største flytninger af 18-36-årige til og fra {scope.kommune_name} i {year}, "
            "ordnet efter flytninger begge veje",
            columns=["Kommune", "Tilflyttere herfra", "Fraflyttere hertil", "Netto"],
            rows=[
                [scope.name(c), fmt.number(r["in"]), fmt.number(r["out"]), fmt.signed(r["net"])]
                for c, r in flows.iterrows()
            ],
            numeric=[False, True, True, True],
        )
    ]


# A theme's title in a brief for a municipality whose own strategy the workbook does not hold.
THEME_TITLES = {"growth": "Vækst og udvikling", "community": "Fællesskaber", "cooperation": "Samarbejde og processer"}

# Tables beyond the indicator's own figures, by indicator id.
EXTRA_TABLES = {"movers_18_36": largest_flows}


def open_brief(**values) -> Brief:
    """Validate a notebook's parameters and load what its brief needs."""
    try:
        parameters = BriefParameters(**values)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "parameters"
        raise WorkbookError(f"notebook parameter {where}: {first['msg']}") from None
    processed = store.load(data_location(parameters.data or None))
    return Brief(parameters, processed)


@dataclass
class Brief:
    parameters: BriefParameters
    processed: Processed

    # --- what the brief is about ---------------------------------------------------------

    @cached_property
    def period(self) -> pd.Period:
        cadence = self.parameters.cadence
        requested = None
        if self.parameters.period != "latest":
            try:
                requested = parse_period(self.parameters.period, CADENCES[cadence])
            except ValueError as err:
                raise WorkbookError(f"--period {self.parameters.period}: {err} for --cadence {cadence}") from None
        return selection.resolve_period(self.processed.indicators, cadence, requested)

    @cached_property
    def council(self) -> params.Council:
        """Whose strategy the brief follows (see params.load_council)."""
        return params.load_council(f"{self.parameters.kommune:03d}")

    @property
    def foreign(self) -> bool:
        """The targets in params/ are another council's: they are not shown."""
        return not self.council.own

    @cached_property
    def strategy(self) -> params.Strategy:
        return self.council.strategy

    @cached_property
    def registry(self) -> params.Indicators:
        return params.load_indicators()

    @cached_property
    def context(self) -> Scope:
        return Scope.build(
            self.processed,
            self.period,
            f"{self.parameters.kommune:03d}",
            self.parameters.comparison_group,
            self.strategy,
            self.strategy_key,
            self.parameters.example_data,
        )

    @property
    def themes(self) -> list[str]:
        """The groups of indicators the brief shows: one theme, all three (overview), or a committee's."""
        theme = self.parameters.theme
        return list(THEMES) if theme == "overview" else [theme]

    @cached_property
    def committee(self) -> params.Committee | None:
        if self.parameters.theme != "committee":
            return None
        if not self.parameters.committee:
            raise WorkbookError("notebook parameter committee: a committee brief needs a committee id")
        return self.strategy.committee(self.strategy_key, self.parameters.committee)

    def _selected(self, theme: str) -> list[params.Indicator]:
        """Every indicator of the theme (or committee). A quarterly brief shows an annual statistic
        with the latest complete year's figure, marked with its year."""
        if theme == "committee":
            return [i for i in self.registry.indicators if self.committee.id in i.committees]
        return self.registry.for_theme(theme)

    def annual_only(self, theme: str) -> list[params.Indicator]:
        """Indicators a quarterly brief leaves to the annual follow-up: none (see _selected)."""
        return []

    @cached_property
    def results(self) -> dict[str, list[Entry]]:
        """The indicators per theme, with their numbers, words and charts; each made once."""
        made: dict[str, Entry] = {}
        by_theme = {}
        for theme in self.themes:
            by_theme[theme] = []
            for indicator in self._selected(theme):
                if indicator.id not in made:
                    figures = select(self.context, indicator)
                    extra = EXTRA_TABLES.get(indicator.id)
                    made[indicator.id] = Entry(
                        figures,
                        narrative.describe(figures, self.context),
                        partial(charts.for_indicator, figures, self.context),
                        partial(extra, figures, self.context) if extra else list,
                    )
                by_theme[theme].append(made[indicator.id])
        return by_theme

    @property
    def kommune_name(self) -> str:
        if self.parameters.kommune == self.strategy.kommune:
            return self.strategy.kommune_name
        return f"{self.context.kommune_name} Kommune"

    @property
    def strategy_period(self) -> params.StrategyPeriod:
        return self.strategy.strategy_periods[self.strategy_key]

    @property
    def strategy_key(self) -> str:
        """The strategy period asked for, or the one whose years hold the brief's period."""
        key = self.parameters.strategy_period or self.strategy.period_for(self.period.year)
        if key not in self.strategy.strategy_periods:
            raise WorkbookError(
                f"strategy_period '{key}': unknown; expected one of {', '.join(self.strategy.strategy_periods)}"
            )
        return key

    @property
    def tables_used(self) -> list[str]:
        """The raw tables behind the numbers this brief shows, as their declarations name them."""
        used = {t for theme in self.themes for r in self.results[theme] if r.has_data for t in r.tables_used}
        if any(
            r.comparison for theme in self.themes for r in self.results[theme]
        ) and self.parameters.comparison_group in (*self.processed.areas.groups, "kommunegruppe"):
            used.add("KOMGRP")  # the comparison group is one of DST's kommunegrupper
        return sorted(t for t in used if t in self.processed.inputs)

    @cached_property
    def committee_names(self) -> dict[str, str]:
        """Committee id -> name, over every strategy period."""
        return {c.id: c.name for p in self.strategy.strategy_periods.values() for c in p.committees}

    def sigtepunkt_name(self, theme: str) -> str:
        if self.foreign:
            return THEME_TITLES[theme]
        return self.strategy_period.sigtepunkt(theme).name

    @property
    def title(self) -> str:
        if self.parameters.theme == "overview":
            return "Strategiopfølgning: overblik"
        if self.committee is not None:
            return f"Udvalgsbrief: {self.committee.name}"
        return self.sigtepunkt_name(self.parameters.theme)

    @property
    def comparison_sentence(self) -> str:
        """'Sammenlignes med de 23 andre oplandskommuner (i Danmarks Statistiks kommunegrupper)', naming the
        members of a group a reader cannot look up."""
        context = self.context
        sentence = f"Sammenlignes med {context.others_label} ({context.group_description})"
        if context.named_members:
            sentence += (
                ": "
                + ", ".join(context.named_members[:-1])
                + (" og " if len(context.named_members) > 1 else "")
                + context.named_members[-1]
            )
        return sentence

    @property
    def group_heading(self) -> str:
        """The comparison column's heading: 'Blandt 24 oplandskommuner', or 'Blandt Hedensted og 31 landkommuner'."""
        context = self.context
        if getattr(context.group, "member_of", True):
            return f"Blandt {len(context.members)} {context.group_name}"
        return f"Blandt {context.kommune_name} og {len(context.members) - 1} {context.group_name}"

    def comparison_members(self) -> pd.DataFrame:
        """The compared municipalities, with the figures the most similar were chosen on and their distance."""
        group = self.context.group
        if getattr(group, "features", None) is not None:
            frame = group.features.copy()
        else:
            frame = pd.DataFrame(index=self.context.members)
        frame.insert(0, "Kommune", [self.context.name(c) for c in frame.index])
        frame.index.name = "Kommunekode"
        return frame.rename(
            columns={
                "population": "Folketal",
                "growth_5y": "Vækst over 5 år (%)",
                "density": "Indbyggere pr. km²",
                "employment_rate": "Beskæftigelsesfrekvens (%)",
                "distance": "Afstand",
            }
        )

    @property
    def notes(self) -> list[str]:
        """What a reader must know about the strategy the brief follows, in a sentence each."""
        period, key = self.strategy_period, self.strategy_key
        notes = []
        if self.foreign:
            return [
                f"Målene i arbejdsbogen er {self.strategy.kommune_name}s egne og vises ikke for {self.kommune_name}; "
                "status siger her kun, om tallene bevæger sig i den retning, der er god."
            ]
        if self.period.year < period.first_year:
            notes.append(
                f"Perioden ({label(self.period)}) ligger før {period.name} ({period.years}) trådte i kraft; "
                "tallene vises under dens sigtepunkter."
            )
        own = any(t.strategy == key for listed in self.council.targets.values() for t in listed)
        if not own:
            earlier = sorted({name for theme in self.themes for r in self.results[theme] for _t, name in r.targets})
            if earlier:
                notes.append(
                    f"{period.name} sætter ikke selv tal på. Målene her er fra {' og '.join(earlier)}, "
                    "hver med sin egen status."
                )
        if (
            not period.committees
            and period.committees_from
            and (self.committee is not None or self.parameters.theme == "overview")
        ):
            source = self.strategy.strategy_periods[period.committees_from].name
            notes.append(
                f"Udvalgene og deres fokusområder er dem fra {source}, indtil kommunalbestyrelsen udpeger nye."
            )
        return notes

    @property
    def kicker(self) -> str:
        if self.foreign:
            return "Strategiopfølgning: tema"
        if self.parameters.theme == "overview":
            return f"{self.strategy_period.name}: de tre sigtepunkter"
        if self.committee is not None:
            return f"Udvalgets fokusområder i {self.strategy_period.name}"
        return f"Sigtepunkt i {self.strategy_period.name}"

    def focus_areas(self) -> list[tuple[str, list[str]]]:
        """A committee's focus areas under each sigtepunkt."""
        return [
            (s.name, [a.name for a in self.committee.focus_areas if a.theme == s.theme])
            for s in self.strategy_period.sigtepunkter
        ]

    def fokusliste(self) -> list[params.FokuslisteItem]:
        """The strategy period's fokusliste (all of it, or the committee's items), in annual briefs."""
        if self.parameters.cadence != "aar":
            return []
        items = self.strategy_period.fokusliste
        if self.committee is not None:
            return [i for i in items if self.committee.id in i.committees]
        return items if self.parameters.theme == "overview" else []

    # --- sections: each returns HTML, and show_* displays it in the notebook --------------

    def _render(self, template: str, **values) -> str:
        return _templates.get_template(template).render(brief=self, fmt=fmt, **values)

    def header_html(self) -> str:
        now, _ = selection.reference_dates(self.period)
        table = self.processed.indicators
        inhabitants = table.loc[
            (table["indicator"] == selection.POPULATION)
            & (table["area"] == self.context.kommune)
            & (table["date"] == now),
            "value",
        ].iloc[0]
        return self._render(
            "header.html.j2",
            kicker=self.kicker,
            cadence_label=CADENCE_LABELS[self.parameters.cadence].capitalize(),
            period_label=label(self.period),
            key_fact=f"{fmt.number(inhabitants)} indbyggere den {date_label(now.date())}",
            comparison=self.comparison_sentence,
        )

    @property
    def illustrative(self) -> list[Entry]:
        """The results whose numbers are Eksempeldata."""
        return [r for theme in self.themes for r in self.results[theme] if r.illustrative]

    def qualitative_html(self) -> str:
        """The committees' and the analyst's own words for this period and theme."""
        frame = self.processed.qualitative
        if self.committee is not None:
            rows = frame[(frame["period"] == code(self.period)) & (frame["committee"] == self.committee.id)]
        else:
            rows = frame[(frame["period"] == code(self.period)) & (frame["theme"] == self.parameters.theme)]
        names = self.committee_names
        entries = [
            {"author": params.AUTHORS[r.author], "committee": names.get(r.committee, ""), "text": r.text}
            for r in rows.itertuples()
        ]
        return self._render("qualitative.html.j2", entries=entries)

    def entries(self) -> list[Entry]:
        """Every indicator of the brief once, in the order the brief shows them."""
        seen, found = set(), []
        for theme in self.themes:
            for entry in self.results[theme]:
                if entry.indicator.id not in seen:
                    seen.add(entry.indicator.id)
                    found.append(entry)
        return found

    def first_screen(self) -> list[tuple[str, list[tuple[Entry, str]]]]:
        """Per sigtepunkt, each indicator with figures and the one sentence that says how it goes:
        the reason for its status where it has a target, else what the latest figure is."""
        screen = []
        for theme in self.themes:
            lines = []
            for entry in self.results[theme]:
                if entry.has_data:
                    status = entry.status
                    judged = status.status not in (targets.NO_TARGET, targets.NO_DATA) or self.foreign
                    lines.append((entry, status_words.reason(status) if judged else entry.sentences[0]))
            if lines:
                screen.append((self.sigtepunkt_name(theme) if theme != "committee" else "", lines))
        return screen

    def summary_html(self) -> str:
        missing = [e for e in self.entries() if not e.has_data]
        return self._render(
            "summary.html.j2", screen=self.first_screen(), missing=len(missing), total=len(self.entries())
        )

    def indicator_table_html(self) -> str:
        return self._render(
            "indicator_table.html.j2",
            themes=self.themes,
            overview=self.parameters.theme == "overview",
            quarterly=self.parameters.cadence == "kvartal",
            period_label=label(self.period),
        )

    def indicators_html(self) -> str:
        theme = self.themes[0]
        with_data = [r for r in self.results[theme] if r.has_data]
        without = [r for r in self.results[theme] if not r.has_data]
        return self._render(
            "indicators.html.j2",
            with_data=with_data,
            without=without,
            fokusliste=self.fokusliste(),
            committee_names=self.committee_names,
        )

    def overview_html(self) -> str:
        """One headline chart per theme that has one: the first chart of its first indicator with data."""
        highlights = []
        for theme in self.themes:
            first = next((r for r in self.results[theme] if r.has_data and r.charts), None)
            highlights.append((theme, first))
        return self._render(
            "overview.html.j2",
            highlights=highlights,
            fokusliste=self.fokusliste(),
            committee_names=self.committee_names,
        )

    def sources_html(self) -> str:
        """What is missing, and "Om tallene": methods, sources, files and hashes, run and commit, all
        collapsed so a council member sees two lines and an analyst everything."""
        sources = params.load_sources()
        rows = []
        for table in self.tables_used:
            if table.startswith(MANUAL_PREFIX):
                kind = table.removeprefix(MANUAL_PREFIX)
                title, citation, link = (
                    params.KINDS[kind].description,
                    f"Kilde: {self.kommune_name}, egne opgørelser",
                    "",
                )
            else:
                spec = sources.tables[table]
                title, citation = spec.title, spec.citation
                link = f"https://www.statistikbanken.dk/{table}" if spec.kind == "statbank" else ""
            vintage = self.processed.vintages.get(table)
            updated = self.processed.inputs[table].get("updated", "")
            rows.append(
                {
                    "updated": date_label(dt.date.fromisoformat(updated[:10])) if updated else "",
                    "table": table,
                    "title": title,
                    "citation": citation,
                    "link": link,
                    "kind": "manual" if table.startswith(MANUAL_PREFIX) else sources.tables[table].kind,
                    "vintage": label(parse_period(vintage)) if vintage else "",
                    "file": self.processed.inputs[table]["file"].rsplit("/", 1)[-1],
                    "sha256": self.processed.inputs[table]["sha256"][:12],
                }
            )
        documents = sorted({t.seed for theme in self.themes for r in self.results[theme] for t, _ in r.targets})
        methods = [
            (entry.indicator.name, name, status_words.method(status))
            for entry in self.entries()
            if entry.has_data
            for (target, name), status in zip(entry.targets, entry.statuses)
            if status_words.method(status)
        ]
        inputs = {table: entry["sha256"][:12] for table, entry in sorted(self.processed.inputs.items())}
        return self._render(
            "sources.html.j2",
            rows=rows,
            missing=[e for e in self.entries() if not e.has_data],
            methods=methods,
            documents=[(seed, self.strategy.documents.get(seed, seed)) for seed in documents],
            run_id=self.parameters.run_id,
            commit=self.parameters.git_commit or git_commit(),
            inputs=inputs,
            version=__version__,
            period_code=code(self.period),
        )

    def footer_html(self) -> str:
        return self._render("footer.html.j2", version=__version__)

    @property
    def document_title(self) -> str:
        """The title of the brief's HTML page: 'Vækst i balance · Hedensted Kommune · Årlig opfølgning · 2024'."""
        return f"{self.title} · {self.kommune_name} · {CADENCE_LABELS[self.parameters.cadence].capitalize()} · {label(self.period)}"

    def show_header(self) -> None:
        """The header; its output carries the page title, which the runner gives the HTML brief."""
        from IPython.display import HTML, display

        display(HTML(self.header_html()), metadata={"brief": {"title": self.document_title}})

    def show_summary(self) -> None:
        self._show(self.summary_html())

    def show_indicator_table(self) -> None:
        self._show(self.indicator_table_html())

    def show_indicators(self) -> None:
        if self.parameters.theme == "overview":
            self._show(self.overview_html())
        else:
            self._show(self.indicators_html())

    def changes_html(self) -> str:
        """New periods and revised values in the tables this brief uses, since the previous brief."""
        from analysis.report.changes import changes

        previous = self.parameters.previous_run
        if not previous:
            return self._render("changes.html.j2", previous_label="", found=[], names={})
        path = paths.PROJECT_ROOT / previous  # relative to the project (an absolute path stays as it is)
        manifest = json.loads(path.read_text(encoding="utf-8"))
        freq = "Q" if self.parameters.cadence == "kvartal" else "Y"
        previous_label = label(parse_period(manifest["period"], freq))
        used = self.tables_used
        found = changes(path, self.processed, self.context.kommune, used)
        tables = params.load_sources().tables
        names = {t: tables[t].title for t in used if t in tables}
        periods = {c.table: [label(parse_period(p)) for p in c.new_periods] for c in found}
        for change in found:
            change.revised = [(label(parse_period(p)), old, new) for p, old, new in change.revised]
        return self._render("changes.html.j2", previous_label=previous_label, found=found, names=names, periods=periods)

    def show_changes(self) -> None:
        self._show(self.changes_html())

    def show_qualitative(self) -> None:
        self._show(self.qualitative_html())

    def show_sources(self) -> None:
        self._show(self.sources_html())

    def show_footer(self) -> None:
        self._show(self.footer_html())

    # --- the numbers, for the analyst (tagged cells, left out of the HTML brief) -------------

    def table(self) -> pd.DataFrame:
        """The brief's indicators, one row each: latest figure, change, the group's mean and median,
        rank and status, as numbers."""
        from analysis.report import tables

        seen, entries = set(), []
        for theme in self.themes:
            for entry in self.results[theme]:
                if entry.indicator.id not in seen:
                    seen.add(entry.indicator.id)
                    entries.append(entry.figures)
        return tables.indicator_table(entries, self.context)

    def figures(self, indicator_id: str) -> Figures:
        """Any indicator's numbers for this brief's municipality, period and group."""
        for theme in self.themes:
            for entry in self.results[theme]:
                if entry.indicator.id == indicator_id:
                    return entry.figures
        return select(self.context, self.registry.get(indicator_id))

    def series(self, indicator_id: str) -> pd.DataFrame:
        """An indicator's figures over time for the municipality, with the comparison on each date."""
        from analysis.report import tables

        return tables.series_table(self.figures(indicator_id), self.context)

    def group(self, indicator_id: str) -> pd.DataFrame:
        """An indicator's figures for every compared municipality (columns) on every date (rows)."""
        from analysis.report import tables

        return tables.group_table(self.figures(indicator_id), self.context)

    def show_data(self) -> None:
        from analysis.report import tables

        tables.show(self.table(), f"Indikatorerne i briefen, {self.context.kommune_name}, {label(self.period)}")

    def show_indicator_data(self) -> None:
        """Each indicator with figures: its series, then the compared municipalities' figures."""
        from analysis.report import tables

        for theme in self.themes:
            for entry in self.results[theme]:
                if entry.has_data:
                    tables.show(self.series(entry.indicator.id), f"{entry.indicator.name}: {self.context.kommune_name}")
                    group = self.group(entry.indicator.id)
                    if not group.empty:
                        tables.show(group, f"{entry.indicator.name}: de sammenlignede kommuner")

    @property
    def numbers_file(self) -> str:
        """The Excel file a run writes beside the briefs with every number (see tables.export)."""
        return f"tal-{self.context.kommune}.xlsx"

    def _show(self, html: str) -> None:
        from IPython.display import HTML, display

        display(HTML(html))

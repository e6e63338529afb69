"""Typed, strict loading of params/*.yml: an unknown key or a wrong value names the file and entry.

Example::

    from analysis import params
    sources = params.load_sources()
    sources.tables["FOLK1AM"].files        # ['statbank/FOLK1AM.csv']
    registry = params.load_indicators()
    [i.id for i in registry.for_theme("growth")]
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import lru_cache, wraps
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from analysis import paths
from analysis.errors import WorkbookError
from analysis.paths import relative

_CACHES: list = []  # every params loader's cache (clear_caches)


def clear_caches() -> None:
    """Forget every params file read so far: the next load reads the files again."""
    for cache in _CACHES:
        cache.cache_clear()


def _per_params_dir(maxsize: int):
    """lru_cache keyed on the params folder, which is the project's (paths.PARAMS_DIR) at call
    time when the caller names none: a process pointed at another project reads that one's."""

    def decorate(function):
        cached = lru_cache(maxsize=maxsize)(function)
        signature = inspect.signature(function)

        @wraps(function)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            if bound.arguments.get("params_dir") is None:
                bound.arguments["params_dir"] = paths.PARAMS_DIR
            return cached(*bound.args, **bound.kwargs)

        wrapper.cache_clear = cached.cache_clear
        _CACHES.append(cached)
        return wrapper

    return decorate


# libyaml's safe loader where PyYAML was built with it (about five times faster), else PyYAML's own.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
THEMES = ("growth", "community", "cooperation")


class Strict(BaseModel):
    """Base for every params model: unknown keys are errors, values are not coerced silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- sources.yml -------------------------------------------------------------------------


class TableSpec(Strict):
    """A raw table: where its file is, what its variables are called, and what its figures mean.

    `variables` maps each variable of a Statbank table, by its Danish text as DST's table
    catalogue lists it, to the column the workbook gives it: `area` for the area the figures
    are about, `period` for the time, any other short name for the rest. A file fetched by the
    workbook carries its variable ids and value codes in its sidecar; a snapshot file without
    one gives its header ids in `header`, in the same order as `variables`.
    """

    kind: Literal["statbank", "noegletal", "classification"]
    title: str
    files: list[str] = Field(min_length=1)
    variables: dict[str, str] = {}
    header: dict[str, str] = {}  # a file without a sidecar: its header ids -> variable texts
    areas: list[str] = []  # columns besides `area` whose values are areas (FLY66's origin)
    frequency: Literal["M", "Q", "Y"] | None = None
    # start: a stock on the first day of the period (FOLK1AM, FAM44N's 1 January);
    # end: a figure over the period, or at its end (moves in a year, jobs ultimo november).
    time: Literal["start", "end"] = "end"
    measure: str | None = None
    unit: str | None = None
    citation: str
    required: bool = True  # False: a run goes on without it, and its indicators say they lack data
    url: str | None = None  # a table that is not in Statistikbanken: where `fetch` downloads it
    sha256: str | None = None  # and the bytes it must have

    @model_validator(mode="after")
    def _statbank_layout(self) -> TableSpec:
        if self.kind == "statbank":
            columns = list(self.variables.values())
            if "area" not in columns or "period" not in columns:
                raise ValueError("a statbank table needs a variable mapped to `area` and one to `period`")
            unknown_texts = [t for t in self.header.values() if t not in self.variables]
            if unknown_texts:
                raise ValueError(f"header: '{unknown_texts[0]}' is not one of the variables")
            if len(set(columns)) != len(columns):
                raise ValueError("two variables are mapped to the same column")
            unknown = [c for c in self.areas if c not in columns]
            if unknown:
                raise ValueError(f"areas: '{unknown[0]}' is not a column of the table")
            if self.frequency is None:
                raise ValueError("a statbank table needs its frequency")
        if (self.url is None) != (self.sha256 is None):
            raise ValueError("a downloaded table needs both url and sha256")
        return self

    @property
    def columns(self) -> list[str]:
        """The table's columns in the processed data, besides `value`."""
        return list(self.variables.values())

    @property
    def dimensions(self) -> list[str]:
        """The columns a declaration may filter on or sum over: all but area and period."""
        return [c for c in self.columns if c not in ("area", "period")]


class Sources(Strict):
    tables: dict[str, TableSpec]


# --- queries.yml -------------------------------------------------------------------------


class Range(Strict):
    """Whole-number codes from `from` to `to`, both included: ages 18 to 36. Without `to`, the
    range runs to the highest code the table has (periods since a baseline year)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    first: int = Field(alias="from")
    last: int | None = Field(default=None, alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.last is not None and self.last < self.first:
            raise ValueError(f"from {self.first} is after to {self.last}")
        return self

    def contains(self, code: str) -> bool:
        return code.isdigit() and self.first <= int(code) and (self.last is None or int(code) <= self.last)

    def codes(self, available: list[str] | None = None) -> list[str]:
        """The codes of the range: among `available` (a table's values) when given."""
        if available is not None:
            return [code for code in available if self.contains(code)]
        if self.last is None:
            raise ValueError("an open range needs the table's values")
        return [str(code) for code in range(self.first, self.last + 1)]

    def describe(self) -> str:
        return f"{self.first}-{self.last if self.last is not None else ''}"


# A query asks for every value ("*"), the 98 municipalities ("kommuner"), a list of value codes,
# or a range of whole-number codes.
QueryValues = Literal["*", "kommuner"] | list[str] | Range


class QuerySpec(Strict):
    """One Statbank request: the variables by their catalogue text, and the values to ask for.

    A variable left out is summed by the API (only where the table allows it); a query that
    would be too large for CSV is split by period, and one that still is goes out as BULK,
    which needs every variable named.
    """

    table: str
    variables: dict[str, QueryValues]


class Queries(Strict):
    queries: dict[str, QuerySpec]


# --- strategy.yml ------------------------------------------------------------------------


class Sigtepunkt(Strict):
    theme: Literal["growth", "community", "cooperation"]
    name: str
    description: str


class FocusArea(Strict):
    name: str
    theme: Literal["growth", "community", "cooperation"]
    as_written: str | None = None  # the seed's own words where `name` corrects an evident typo


class Committee(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: str
    focus_areas: list[FocusArea] = []


class FokuslisteItem(Strict):
    number: int
    subject: str
    committees: list[str] = Field(min_length=1)
    themes: list[Literal["growth", "community", "cooperation"]] = Field(min_length=1)
    effect: str
    evaluation: str
    targets: list[str] = []


class StrategyPeriod(Strict):
    name: str
    years: str = Field(pattern=r"^\d{4}-\d{4}$")
    seeds: list[str]
    sigtepunkter: list[Sigtepunkt] = Field(min_length=1)
    committees: list[Committee] = []
    # A period whose committees carry on from an earlier one, until the council names new ones.
    committees_from: str | None = None
    fokusliste: list[FokuslisteItem] = []

    @property
    def first_year(self) -> int:
        return int(self.years[:4])

    @property
    def last_year(self) -> int:
        return int(self.years[5:])

    @model_validator(mode="after")
    def _known_committees(self) -> StrategyPeriod:
        known = {c.id for c in self.committees}
        for item in self.fokusliste:
            for committee in item.committees:
                if committee not in known:
                    raise ValueError(f"fokusliste item {item.number}: unknown committee '{committee}'")
        return self

    def committee(self, committee_id: str) -> Committee:
        for committee in self.committees:
            if committee.id == committee_id:
                return committee
        known = ", ".join(c.id for c in self.committees) or "(none in this strategy period)"
        raise WorkbookError(f"unknown committee '{committee_id}'; expected one of {known}")

    def sigtepunkt(self, theme: str) -> Sigtepunkt:
        return next(s for s in self.sigtepunkter if s.theme == theme)


class Strategy(Strict):
    kommune: int
    kommune_name: str
    default_strategy_period: str
    documents: dict[str, str]
    strategy_periods: dict[str, StrategyPeriod]

    @model_validator(mode="after")
    def _default_exists(self) -> Strategy:
        if self.default_strategy_period not in self.strategy_periods:
            raise ValueError(f"default_strategy_period '{self.default_strategy_period}' is not a strategy period")
        for key, period in self.strategy_periods.items():
            if period.committees_from and period.committees_from not in self.strategy_periods:
                raise ValueError(
                    f"strategy_periods.{key}.committees_from: '{period.committees_from}' is not a strategy period"
                )
        return self

    def period_for(self, year: int) -> str:
        """The strategy period whose years hold `year` (the later one where two meet), else the default."""
        holding = [k for k, p in self.strategy_periods.items() if p.first_year <= year <= p.last_year]
        return (
            max(holding, key=lambda k: self.strategy_periods[k].first_year) if holding else self.default_strategy_period
        )

    def key_for(self, requested: str | None, year: int) -> str:
        """The strategy period asked for when this strategy has it (another council's may not),
        else the one for `year`."""
        return requested if requested in self.strategy_periods else self.period_for(year)

    def committees_of(self, key: str) -> list[Committee]:
        """A period's committees: its own, or those it carries on from (committees_from)."""
        period = self.strategy_periods[key]
        if not period.committees and period.committees_from:
            return self.committees_of(period.committees_from)
        return period.committees

    def committee(self, key: str, committee_id: str) -> Committee:
        committees = self.committees_of(key)
        for committee in committees:
            if committee.id == committee_id:
                return committee
        known = ", ".join(c.id for c in committees) or "(none in this strategy period)"
        raise WorkbookError(f"unknown committee '{committee_id}'; expected one of {known}")

    @property
    def committee_ids(self) -> set[str]:
        return {c.id for period in self.strategy_periods.values() for c in period.committees}


# --- manual files: the kinds data/raw/manual/ may hold -------------------------------------


@dataclass(frozen=True)
class ManualKind:
    """The columns and value range of one kind of manual file."""

    description: str
    low: float
    high: float | None
    integer: bool = False
    extra: tuple[str, ...] = ()  # required columns beyond indicator;kommune;period;value


# Each kind's plausible range: a figure outside it is a mistake (a misplaced decimal mark, a
# number in the wrong unit), refused with its line. An indicator may narrow it in
# params/indicators.yml (`plausible`).
KINDS = {
    "rank": ManualKind("En placering i en rangliste (1 er bedst), fx DI's Lokalt Erhvervsklima.", 1, 98, integer=True),
    "co2": ManualKind("Udledning i ton CO2-ækvivalenter fra kommunens energi- og CO2-regnskab.", 0, 10_000_000),
    "count": ManualKind("Et antal, fx klager, partnerskaber eller foreningsmedlemmer.", 0, 10_000_000, integer=True),
    "share": ManualKind("En andel i procent (0-100), fx sygefravær.", 0, 100),
    "survey": ManualKind("En andel i procent fra en spørgeundersøgelse, med antal svar (n).", 0, 100, extra=("n",)),
    "processing_time": ManualKind("En sagsbehandlingstid i dage.", 0, 3650),
    "economy": ManualKind(
        "Antal opfyldte økonomiske pejlemærker ud af et antal (of).", 0, 100, integer=True, extra=("of",)
    ),
    "places": ManualKind("Antal pladser i kommunens dagtilbud eller skoler (kapaciteten).", 0, 1_000_000, integer=True),
}
# Who wrote a qualitative note, as the brief names them.
AUTHORS = {"udvalg": "Udvalgets vurdering", "analytiker": "Analytikerens vurdering"}


# --- units.yml ------------------------------------------------------------------------------


class Unit(Strict):
    """How the figures of one unit are written (params/units.yml); `name` is its key there."""

    name: str = ""
    format: Literal["percent", "ratio", "rank", "count", "amount"]
    decimals: int = Field(default=0, ge=0, le=4)
    singular: str | None = None
    noun: str | None = None
    counted: bool = False

    @property
    def best_first(self) -> bool:
        """A ranking: the lowest number is the best, and charts put it at the top."""
        return self.format == "rank"


class Units(Strict):
    units: dict[str, Unit]

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data):
        """Each unit knows its own name, the key it is declared under."""
        if isinstance(data, dict) and isinstance(data.get("units"), dict):
            units = {k: {**v, "name": k} if isinstance(v, dict) else v for k, v in data["units"].items()}
            return {**data, "units": units}
        return data


@_per_params_dir(maxsize=8)
def load_units(params_dir: Path | None = None) -> Units:
    return load_model(params_dir / "units.yml", Units)


def unit(name: str | Unit | None, params_dir: Path | None = None) -> Unit:
    """A unit by its name in params/units.yml (a Unit is returned as it is; None is a plain count)."""
    if isinstance(name, Unit):
        return name
    if name is None or name == "":
        return Unit(name="", format="count")
    units = load_units(params_dir).units
    if name not in units:
        raise WorkbookError(f"unknown unit '{name}'; params/units.yml has {', '.join(units)}")
    return units[name]


# --- indicators.yml ----------------------------------------------------------------------


class Target(Strict):
    strategy: str
    kind: Literal["level", "change", "better_than_group", "rank", "direction", "not_set"]
    label: str  # the target in a few Danish words, as a brief shows it
    quote: str  # the seed's own words
    seed: str  # file stem number of the seed document, e.g. "004"
    value: float | None = None
    year: int | None = None
    baseline: float | None = None
    baseline_year: int | None = None
    direction: Literal["flere", "færre", "højere", "lavere", "bedre"] | None = None

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Target:
        needed = {
            "level": ("value", "year"),
            "change": ("value", "baseline_year"),
            "rank": ("value",),
            "direction": ("direction",),
            "better_than_group": (),
            "not_set": (),
        }[self.kind]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind} target needs {' and '.join(missing)}")
        return self


class SeriesSpec(Strict):
    """Where one series of numbers comes from, for every area and period.

    One of: a raw `table` (with `filter` by column values, summed over the columns left
    unfiltered, optionally weighted); several `tables`, the first that has a date winning (the
    population from FOLK1AM, and from noegletal before it); a `manual` file kind (its rows for
    this indicator); or another `indicator`'s values.
    """

    table: str | None = None
    tables: list[str] = []
    manual: str | None = None
    indicator: str | None = None
    area: str = "area"  # the column that holds the area (FLY66: `origin` for out-movers)
    filter: dict[str, list[str] | Range] = {}
    exclude: dict[str, list[str]] = {}  # every value but these ("all town sizes but Landdistrikter")
    weight: str | None = None  # multiply each figure by the number in this column's code (persons per family)

    @model_validator(mode="after")
    def _one_source(self) -> SeriesSpec:
        given = [name for name in ("table", "tables", "manual", "indicator") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(
                f"a series needs exactly one of table, tables, manual, indicator; got {', '.join(given) or 'none'}"
            )
        if (self.manual or self.indicator) and (self.filter or self.exclude or self.weight or self.area != "area"):
            raise ValueError("filter, weight and area apply to a table, not to a manual file or an indicator")
        return self

    @property
    def table_names(self) -> list[str]:
        return [self.table] if self.table else list(self.tables)


class MeasureSpec(Strict):
    """How an indicator's value is computed from its series.

    value     the figure itself (`of`; the filter must leave one figure per area and period)
    sum       the sum of the figures left by the filter (`of`)
    share     `part` in percent of `whole`; `complement` gives 100 minus it
    ratio     `numerator` / `denominator` times `scale` (100 for percent)
    per_1000  `of` per 1,000 inhabitants (`per`, the population by default)
    change    the change in `of` over `years`, in percent (`relative`) or in its own unit
    Two series are matched on the date their figures refer to, or on the year (`align: year`)
    when one is annual and the other is not.
    """

    kind: Literal["value", "sum", "share", "ratio", "per_1000", "change"]
    of: SeriesSpec | None = None
    part: SeriesSpec | None = None
    whole: SeriesSpec | None = None
    complement: bool = False
    numerator: SeriesSpec | None = None
    denominator: SeriesSpec | None = None
    scale: float = 1.0
    per: SeriesSpec = SeriesSpec(indicator="population")
    years: int = Field(default=1, ge=1)
    relative: bool = True
    align: Literal["date", "year"] = "date"

    @model_validator(mode="after")
    def _fields_of_kind(self) -> MeasureSpec:
        needed = {
            "value": ("of",),
            "sum": ("of",),
            "per_1000": ("of",),
            "change": ("of",),
            "share": ("part", "whole"),
            "ratio": ("numerator", "denominator"),
        }[self.kind]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind} measure needs {' and '.join(missing)}")
        return self

    @property
    def series(self) -> list[SeriesSpec]:
        """The series the measure reads, first the one it is about."""
        named = [self.of, self.part, self.whole, self.numerator, self.denominator]
        if self.kind == "per_1000":
            named.append(self.per)
        return [s for s in named if s is not None]


class Indicator(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    description: str
    themes: list[Literal["growth", "community", "cooperation"]] = Field(min_length=1)
    committees: list[str] = []
    measure: MeasureSpec
    unit: Unit
    polarity: Literal["higher", "lower", "none"]
    cadence: Literal["kvartal", "aar", "hvert-4-aar"]
    targets: list[Target] = []
    # What the municipality is compared with: the run's comparison group, or its own region
    # (new firms "against the region's average").
    compare_with: Literal["group", "region"] = "group"
    # A count is compared with other municipalities per 1,000 inhabitants, not as it stands.
    compare_per_1000: bool = False
    # The Danish sentence on the latest figure, with {kommune}, {value}, {period}, {numerator},
    # {denominator} and {change_year}; without it the measure kind's own sentence is used.
    sentence: str | None = None
    notes: list[str] = []  # plain Danish sentences a reader needs with the numbers
    # For numbers kept in a manual file: the range a figure must be in, narrower than its kind's.
    plausible: tuple[float, float] | None = None

    @field_validator("unit", mode="before")
    @classmethod
    def _known_unit(cls, value, info: ValidationInfo):
        """A unit's name becomes its declaration in params/units.yml."""
        if isinstance(value, (Unit, dict)):
            return value
        units = (info.context or {}).get("units") or load_units().units
        if value not in units:
            raise ValueError(f"unknown unit '{value}'; params/units.yml has {', '.join(units)}")
        return units[value]

    @property
    def manual_kinds(self) -> list[str]:
        return [s.manual for s in self.measure.series if s.manual]

    @property
    def manual_kind(self) -> str | None:
        """The manual file the indicator's own numbers come from, if they come from one."""
        first = self.measure.series[0]
        return first.manual

    def tables(self, registry: Indicators | None = None) -> list[str]:
        """The raw tables behind the indicator's numbers, through the indicators it builds on."""
        found: list[str] = []
        for series in self.measure.series:
            found += series.table_names
            if series.indicator and registry is not None:
                found += registry.get(series.indicator).tables(registry)
        return list(dict.fromkeys(found))


class Indicators(Strict):
    indicators: list[Indicator]

    @model_validator(mode="after")
    def _unique_ids(self) -> Indicators:
        seen: set[str] = set()
        for indicator in self.indicators:
            if indicator.id in seen:
                raise ValueError(f"duplicate indicator id '{indicator.id}'")
            seen.add(indicator.id)
        return self

    def for_theme(self, theme: str) -> list[Indicator]:
        return [i for i in self.indicators if theme in i.themes]

    def get(self, indicator_id: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.id == indicator_id:
                return indicator
        raise WorkbookError(f"unknown indicator '{indicator_id}'; known: {', '.join(i.id for i in self.indicators)}")


# --- runs.yml ----------------------------------------------------------------------------


class Job(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    notebook: str
    theme: Literal["growth", "community", "cooperation", "overview", "committee"]
    # For theme committee: a committee id, or empty for one brief per committee of the run's
    # strategy period (named <name>-<committee id>).
    committee: str = ""


class Runs(Strict):
    cadences: dict[Literal["kvartal", "aar"], list[Job]]


# --- comparison.yml ----------------------------------------------------------------------


class GroupSpec(Strict):
    kind: Literal["dst_group", "list", "similar"]
    label: str = ""
    definite: str = ""
    description: str = ""
    members: list[int] = []
    count: int = Field(default=10, ge=2, le=97)
    features: list[Literal["population", "growth_5y", "density", "employment_rate"]] = list(
        ("population", "growth_5y", "density", "employment_rate")
    )


class Comparison(Strict):
    groups: dict[str, GroupSpec]


@_per_params_dir(maxsize=4)
def load_comparison(params_dir: Path | None = None) -> Comparison:
    return load_model(params_dir / "comparison.yml", Comparison)


# --- regions.yml -------------------------------------------------------------------------


class Region(Strict):
    name: str
    members: list[int] = Field(min_length=1)


class Regions(Strict):
    regions: dict[str, Region]

    def region_of(self, kommune: str) -> tuple[str, Region]:
        for code_, region in self.regions.items():
            if int(kommune) in region.members:
                return code_, region
        raise WorkbookError(f"params/regions.yml: kommune {kommune} is in no region")


@_per_params_dir(maxsize=4)
def load_regions(params_dir: Path | None = None) -> Regions:
    regions = load_model(params_dir / "regions.yml", Regions)
    seen: dict[int, str] = {}
    for code_, region in regions.regions.items():
        for member in region.members:
            if member in seen:
                raise WorkbookError(
                    f"{relative(params_dir / 'regions.yml')}: kommune {member} is in both {seen[member]} and {code_}"
                )
            seen[member] = code_
    return regions


# --- loading -----------------------------------------------------------------------------


def _describe(loc: tuple, data: object) -> str:
    """Turn a pydantic error location into 'indicators[3] (id population).source'."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int):
            label = f"[{key}]"
            if isinstance(node, list) and key < len(node) and isinstance(node[key], dict) and "id" in node[key]:
                label += f" (id {node[key]['id']})"
            parts.append(label)
        else:
            parts.append(("." if parts else "") + str(key))
        node = node[key] if isinstance(node, (dict, list)) and _has(node, key) else None
    return "".join(parts) or "top level"


def _has(node: dict | list, key: object) -> bool:
    if isinstance(node, dict):
        return key in node
    return isinstance(key, int) and key < len(node)


def load_model(path: Path, model: type[Strict], context: dict | None = None):
    """Read a YAML file into `model`; any problem becomes one WorkbookError line naming the file."""
    name = relative(path)
    if not path.exists():
        raise WorkbookError(f"{name}: file not found")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise WorkbookError(f"{name}{where}: invalid YAML: {problem}") from None
    try:
        return model.model_validate(data, context=context)
    except ValidationError as err:
        first = err.errors()[0]
        where = _describe(tuple(first["loc"]), data)
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = f"unknown key '{first['loc'][-1]}'"
            where = _describe(tuple(first["loc"][:-1]), data)
        raise WorkbookError(f"{name}: {where}: {message}") from None


@_per_params_dir(maxsize=8)
def load_sources(params_dir: Path | None = None) -> Sources:
    sources = load_model(params_dir / "sources.yml", Sources)
    units = load_units(params_dir).units
    for table, spec in sources.tables.items():
        if spec.unit is not None and spec.unit not in units:
            raise WorkbookError(
                f"{relative(params_dir / 'sources.yml')}: tables.{table}: unknown unit '{spec.unit}'; "
                f"params/units.yml has {', '.join(units)}"
            )
    return sources


@_per_params_dir(maxsize=8)
def load_strategy(params_dir: Path | None = None) -> Strategy:
    return load_model(params_dir / "strategy.yml", Strategy)


@_per_params_dir(maxsize=8)
def load_queries(params_dir: Path | None = None) -> Queries:
    queries = load_model(params_dir / "queries.yml", Queries)
    sources = load_sources(params_dir)
    name = relative(params_dir / "queries.yml")
    for key, query in queries.queries.items():
        spec = sources.tables.get(key)
        if spec is None or spec.kind != "statbank":
            continue
        asked, declared = set(query.variables), set(spec.variables)
        if asked != declared:
            extra = sorted(asked - declared) or sorted(declared - asked)
            raise WorkbookError(
                f"{name}: queries.{key}: variable '{extra[0]}' is {'asked for' if asked - declared else 'left out'}, "
                f"but params/sources.yml says the file holds {', '.join(spec.variables)}"
            )
    return queries


@_per_params_dir(maxsize=8)
def load_indicators(params_dir: Path | None = None) -> Indicators:
    registry = load_model(params_dir / "indicators.yml", Indicators, {"units": load_units(params_dir).units})
    strategy = load_strategy(params_dir)
    sources = load_sources(params_dir)
    queries = load_queries(params_dir)
    name = relative(params_dir / "indicators.yml")
    for indicator in registry.indicators:
        for committee in indicator.committees:
            if committee not in strategy.committee_ids:
                raise WorkbookError(
                    f"{name}: indicator {indicator.id}: unknown committee '{committee}'; "
                    f"expected one of {', '.join(sorted(strategy.committee_ids))}"
                )
        for target in indicator.targets:
            if target.strategy not in strategy.strategy_periods:
                raise WorkbookError(
                    f"{name}: indicator {indicator.id}: unknown strategy period '{target.strategy}'; "
                    f"expected one of {', '.join(strategy.strategy_periods)}"
                )
        for series in indicator.measure.series:
            problem = _series_problem(series, registry, sources, queries)
            if problem:
                raise WorkbookError(f"{name}: indicator {indicator.id}: {problem}")
    for indicator in registry.indicators:
        _check_no_cycle(indicator.id, registry, (), name)
    return registry


def _series_problem(series: SeriesSpec, registry: Indicators, sources: Sources, queries: Queries) -> str:
    """What is wrong with one series of a declaration, or ''."""
    if series.manual and series.manual not in KINDS:
        return f"unknown manual file kind '{series.manual}'; expected one of {', '.join(KINDS)}"
    if series.indicator and series.indicator not in {i.id for i in registry.indicators}:
        return f"unknown indicator '{series.indicator}'"
    for table in series.table_names:
        spec = sources.tables.get(table)
        if spec is None:
            return f"table '{table}' is not in params/sources.yml"
        if spec.kind == "classification":
            return f"table '{table}' is a classification, not figures"
        columns = spec.columns if spec.kind == "statbank" else ["area", "period"]
        dimensions = [c for c in columns if c not in ("area", "period")]
        if series.area != "area" and series.area not in spec.areas:
            return (
                f"table {table} has no area column '{series.area}'; its areas are in {', '.join(['area', *spec.areas])}"
            )
        if series.weight and series.weight not in dimensions:
            return (
                f"table {table} has no column '{series.weight}' to weight by; it has {', '.join(dimensions) or 'none'}"
            )
        for column, values in [*series.filter.items(), *series.exclude.items()]:
            if column not in dimensions:
                return f"table {table} has no column '{column}' to filter on; it has {', '.join(dimensions) or 'none'}"
            problem = _value_problem(table, spec, column, values, queries)
            if problem:
                return problem
    return ""


def _value_problem(table: str, spec: TableSpec, column: str, values: list[str] | Range, queries: Queries) -> str:
    """A filter value the table's query does not ask for can never be in the file."""
    query = queries.queries.get(table)
    if query is None:
        return ""
    text = next(t for t, c in spec.variables.items() if c == column)
    asked = query.variables.get(text)
    if asked is None or asked == "*" or asked == "kommuner":
        return ""
    wanted = values.codes() if isinstance(values, Range) else list(values)
    if isinstance(asked, Range):
        missing = [v for v in wanted if not asked.contains(v)]
        available = asked.describe()
    else:
        missing = [v for v in wanted if v not in asked]
        available = ", ".join(asked[:12]) + (" ..." if len(asked) > 12 else "")
    if missing:
        return f"filter {column}: value '{missing[0]}' is not asked for in params/queries.yml ({table} asks for {available})"
    return ""


def _check_no_cycle(indicator_id: str, registry: Indicators, path: tuple[str, ...], name: str) -> None:
    if indicator_id in path:
        raise WorkbookError(f"{name}: indicator {path[0]}: builds on itself ({' -> '.join([*path, indicator_id])})")
    for series in registry.get(indicator_id).measure.series:
        if series.indicator:
            _check_no_cycle(series.indicator, registry, (*path, indicator_id), name)


@_per_params_dir(maxsize=8)
def load_runs(params_dir: Path | None = None) -> Runs:
    runs = load_model(params_dir / "runs.yml", Runs)
    strategy = load_strategy(params_dir)
    for cadence, jobs in runs.cadences.items():
        names = [job.name for job in jobs]
        for job in jobs:
            if names.count(job.name) > 1:
                raise WorkbookError(
                    f"{relative(params_dir / 'runs.yml')}: cadences.{cadence}: duplicate job name '{job.name}'"
                )
            if job.committee and job.theme != "committee":
                raise WorkbookError(
                    f"{relative(params_dir / 'runs.yml')}: cadences.{cadence}: job {job.name}: "
                    "only a committee job has `committee`"
                )
            if job.committee:
                try:
                    strategy.committee(strategy.default_strategy_period, job.committee)
                except WorkbookError as err:
                    raise WorkbookError(
                        f"{relative(params_dir / 'runs.yml')}: cadences.{cadence}: job {job.name}: {err}"
                    ) from None
    return runs


# --- a municipality's own strategy: params/kommuner/<kommunekode>/ --------------------------


class Targets(Strict):
    """params/kommuner/<kommunekode>/targets.yml: a municipality's own targets, by indicator id."""

    targets: dict[str, list[Target]]


@dataclass(frozen=True)
class Council:
    """Whose strategy a brief follows: the municipality's own (params/strategy.yml for the workbook's
    municipality, params/kommuner/<kommunekode>/ for another), or none (`own` is False): then the
    targets are another council's and are not shown."""

    kommune: str
    strategy: Strategy
    own: bool
    targets: dict[str, list[Target]]

    def targets_of(self, indicator: Indicator) -> list[Target]:
        if not self.own:
            return []
        return self.targets.get(indicator.id, [])


@_per_params_dir(maxsize=128)
def load_council(kommune: str, params_dir: Path | None = None) -> Council:
    """The strategy and targets that apply to a municipality's briefs."""
    main = load_strategy(params_dir)
    registry = load_indicators(params_dir)
    if int(kommune) == main.kommune:
        return Council(kommune, main, True, {i.id: list(i.targets) for i in registry.indicators})
    folder = params_dir / "kommuner" / kommune
    if not (folder / "strategy.yml").is_file():
        return Council(kommune, main, False, {})
    strategy = load_model(folder / "strategy.yml", Strategy)
    name = relative(folder / "strategy.yml")
    if strategy.kommune != int(kommune):
        raise WorkbookError(f"{name}: kommune {strategy.kommune}; the folder is for {kommune}")
    targets = load_model(folder / "targets.yml", Targets).targets if (folder / "targets.yml").is_file() else {}
    known = {i.id for i in registry.indicators}
    for indicator_id, listed in targets.items():
        if indicator_id not in known:
            raise WorkbookError(f"{relative(folder / 'targets.yml')}: targets.{indicator_id}: unknown indicator")
        for target in listed:
            if target.strategy not in strategy.strategy_periods:
                raise WorkbookError(
                    f"{relative(folder / 'targets.yml')}: targets.{indicator_id}: unknown strategy "
                    f"period '{target.strategy}'; expected one of {', '.join(strategy.strategy_periods)}"
                )
    return Council(kommune, strategy, True, targets)


def expand_jobs(jobs: list[Job], strategy: Strategy, strategy_key: str) -> list[Job]:
    """The run plan's jobs for a strategy period: a committee job without a committee becomes one
    job per committee of the period (udvalg-oekonomiudvalget, udvalg-vtf, ...)."""
    expanded = []
    for job in jobs:
        if job.theme == "committee" and not job.committee:
            expanded += [
                job.model_copy(update={"name": f"{job.name}-{c.id}", "committee": c.id})
                for c in strategy.committees_of(strategy_key)
            ]
        else:
            expanded.append(job)
    return expanded


# --- the notebooks' parameters ---------------------------------------------------------


class BriefParameters(Strict):
    """The parameters every notebook takes, checked before anything runs."""

    theme: Literal["growth", "community", "cooperation", "overview", "committee"]
    committee: str = ""
    period: str = Field(pattern=r"^(latest|\d{4}(K[1-4])?)$")
    cadence: Literal["kvartal", "aar"]
    kommune: int = Field(ge=101, le=999)
    comparison_group: str
    strategy_period: str = ""  # "" picks the strategy period whose years hold the brief's period
    data: str = ""
    example_data: bool = False
    previous_run: str = ""  # the manifest.json of the brief before this one, set by the runner
    run_id: str = ""
    git_commit: str = ""

    @field_validator("period", mode="before")
    @classmethod
    def _year_as_text(cls, value: object) -> object:
        """`papermill -p period 2024` passes a number; a year is still a period."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

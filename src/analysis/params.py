"""Typed, strict loading of params/*.yml: an unknown key or a wrong value names the file and entry.

Example::

    from analysis import params
    sources = params.load_sources()
    sources.tables["FOLK1AM"].files        # ['statbank/FOLK1AM.csv']
    registry = params.load_indicators()
    [i.id for i in registry.for_theme("growth")]
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from analysis.errors import WorkbookError
from analysis.paths import PARAMS_DIR, relative

THEMES = ("growth", "community", "cooperation")


class Strict(BaseModel):
    """Base for every params model: unknown keys are errors, values are not coerced silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- sources.yml -------------------------------------------------------------------------


class TableSpec(Strict):
    kind: Literal["statbank", "noegletal", "classification"]
    title: str
    files: list[str] = Field(min_length=1)
    variables: list[str] = []
    frequency: Literal["M", "Q", "Y"] | None = None
    measure: str | None = None
    unit: str | None = None
    citation: str


class Sources(Strict):
    tables: dict[str, TableSpec]


# --- strategy.yml ------------------------------------------------------------------------


class Sigtepunkt(Strict):
    theme: Literal["growth", "community", "cooperation"]
    name: str
    description: str


class FocusArea(Strict):
    name: str
    theme: Literal["growth", "community", "cooperation"]


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
    years: str
    seeds: list[str]
    sigtepunkter: list[Sigtepunkt] = Field(min_length=1)
    committees: list[Committee] = []
    fokusliste: list[FokuslisteItem] = []

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
        return self

    @property
    def committee_ids(self) -> set[str]:
        return {c.id for period in self.strategy_periods.values() for c in period.committees}


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
        needed = {"level": ("value", "year"), "change": ("value", "baseline_year"), "rank": ("value",),
                  "direction": ("direction",), "better_than_group": (), "not_set": ()}[self.kind]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind} target needs {' and '.join(missing)}")
        return self


class Source(Strict):
    kind: Literal["statbank", "dst", "manual"]
    tables: list[str] = []  # statbank: tables in sources.yml; dst: Statistikbanken tables to fetch
    manual: str | None = None  # manual: the kind of analyst-kept file


class Indicator(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    description: str
    themes: list[Literal["growth", "community", "cooperation"]] = Field(min_length=1)
    committees: list[str] = []
    source: Source
    unit: str
    polarity: Literal["higher", "lower", "none"]
    cadence: Literal["kvartal", "aar", "hvert-4-aar"]
    targets: list[Target] = []


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
    committee: str = ""  # for theme committee: a committee id of the default strategy period


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
    features: list[Literal["population", "growth_5y", "density", "employment_rate"]] = list(("population", "growth_5y", "density", "employment_rate"))


class Comparison(Strict):
    groups: dict[str, GroupSpec]


@lru_cache(maxsize=4)
def load_comparison(params_dir: Path = PARAMS_DIR) -> Comparison:
    return load_model(params_dir / "comparison.yml", Comparison)


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


def load_model(path: Path, model: type[Strict]):
    """Read a YAML file into `model`; any problem becomes one WorkbookError line naming the file."""
    name = relative(path)
    if not path.exists():
        raise WorkbookError(f"{name}: file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise WorkbookError(f"{name}{where}: invalid YAML: {problem}") from None
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = _describe(tuple(first["loc"]), data)
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = f"unknown key '{first['loc'][-1]}'"
            where = _describe(tuple(first["loc"][:-1]), data)
        raise WorkbookError(f"{name}: {where}: {message}") from None


@lru_cache(maxsize=8)
def load_sources(params_dir: Path = PARAMS_DIR) -> Sources:
    return load_model(params_dir / "sources.yml", Sources)


@lru_cache(maxsize=8)
def load_strategy(params_dir: Path = PARAMS_DIR) -> Strategy:
    return load_model(params_dir / "strategy.yml", Strategy)


@lru_cache(maxsize=8)
def load_indicators(params_dir: Path = PARAMS_DIR) -> Indicators:
    registry = load_model(params_dir / "indicators.yml", Indicators)
    strategy = load_strategy(params_dir)
    sources = load_sources(params_dir)
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
        if indicator.source.kind == "statbank":
            for table in indicator.source.tables:
                if table not in sources.tables:
                    raise WorkbookError(f"{name}: indicator {indicator.id}: table '{table}' is not in params/sources.yml")
    return registry


@lru_cache(maxsize=8)
def load_runs(params_dir: Path = PARAMS_DIR) -> Runs:
    runs = load_model(params_dir / "runs.yml", Runs)
    strategy = load_strategy(params_dir)
    period = strategy.strategy_periods[strategy.default_strategy_period]
    for cadence, jobs in runs.cadences.items():
        names = [job.name for job in jobs]
        for job in jobs:
            if names.count(job.name) > 1:
                raise WorkbookError(f"{relative(params_dir / 'runs.yml')}: cadences.{cadence}: duplicate job name '{job.name}'")
            if (job.theme == "committee") != bool(job.committee):
                raise WorkbookError(f"{relative(params_dir / 'runs.yml')}: cadences.{cadence}: job {job.name}: "
                                    "a committee job needs `committee`, and only a committee job has one")
            if job.committee:
                try:
                    period.committee(job.committee)
                except WorkbookError as err:
                    raise WorkbookError(f"{relative(params_dir / 'runs.yml')}: cadences.{cadence}: job {job.name}: {err}") from None
    return runs

"""params/*.yml: they load, bad entries are named, and every target quotes its seed document."""

from __future__ import annotations

import re
import shutil

import pytest

from analysis import params
from analysis.errors import WorkbookError
from analysis.paths import PARAMS_DIR, SNAPSHOT_DIR

SEEDS = SNAPSHOT_DIR.parent / "seeds"


def _normalise(text: str) -> str:
    """Seed text is extracted from PDFs: words are hyphenated across lines and spaced oddly."""
    text = re.sub(r"-\s*\n\s*", "", text)
    return re.sub(r"\s+", " ", text).strip()


def test_params_load():
    registry = params.load_indicators()
    strategy = params.load_strategy()
    assert {i.id for i in registry.for_theme("growth")} >= {
        "population",
        "population_growth",
        "movers_18_36",
        "employment_rate",
    }
    assert [s.name for s in strategy.strategy_periods["sigtepunkter-2022-2025"].sigtepunkter] == [
        "Vækst i balance",
        "Forpligtende fællesskaber",
        "Smidige og effektive processer",
    ]
    assert params.load_runs().cadences["kvartal"][-1].name == "overview"


def test_every_target_quotes_its_seed_document():
    seeds = {path.name[:3]: _normalise(path.read_text(encoding="utf-8")) for path in SEEDS.glob("0*.txt")}
    assert len(seeds) == 5
    for indicator in params.load_indicators().indicators:
        for target in indicator.targets:
            assert _normalise(target.quote) in seeds[target.seed], (indicator.id, target.quote)


def test_the_2018_youth_target_is_encoded_faithfully():
    target = params.load_indicators().get("movers_18_36").targets[0]
    assert (target.kind, target.value, target.year, target.baseline, target.baseline_year) == (
        "level",
        1.10,
        2022,
        1.08,
        2017,
    )


def test_focus_areas_and_fokusliste_come_from_the_seeds():
    seeds = {path.name[:3]: _normalise(path.read_text(encoding="utf-8")) for path in SEEDS.glob("0*.txt")}
    strategy = params.load_strategy()
    areas = [a for c in strategy.strategy_periods["sigtepunkter-2022-2025"].committees for a in c.focus_areas]
    assert len(areas) == 35
    for area in areas:
        assert _normalise(area.as_written or area.name) in seeds["002"], area.name
        if area.as_written:  # a correction must stand in another seed
            assert any(_normalise(area.name) in text for text in seeds.values()), area.name
    items = strategy.strategy_periods["strategi-2022"].fokusliste
    assert [i.number for i in items] == [*range(1, 16), 17, 18, 19]
    for item in items:
        assert _normalise(item.effect) in seeds["004"], item.number


def test_regions_hold_every_municipality_once_and_add_up_in_folk1am(observations):
    regions = params.load_regions().regions
    members = [f"{m:03d}" for region in regions.values() for m in region.members]
    assert len(members) == len(set(members)) == 98
    folk1am = observations[observations["table"] == "FOLK1AM"]
    wide = folk1am.assign(area=folk1am["area"].astype(str)).pivot_table(
        index="period", columns="area", values="value", observed=True
    )
    for code, region in regions.items():
        codes = [f"{m:03d}" for m in region.members] + (["411"] if code == "084" else [])  # DST counts Christiansø here
        assert (wide[codes].sum(axis=1) == wide[code]).all(), region.name  # every month of 2021M10-2025M03


def test_startup_target_is_not_set():
    target = params.load_indicators().get("surviving_startups").targets[0]
    assert target.kind == "not_set" and target.value is None


@pytest.fixture()
def params_copy(tmp_path):
    folder = tmp_path / "params"
    shutil.copytree(PARAMS_DIR, folder)
    yield folder
    for loader in (
        params.load_indicators,
        params.load_strategy,
        params.load_sources,
        params.load_queries,
        params.load_units,
    ):
        loader.cache_clear()


def _edit(folder, name, old, new):
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        (
            "indicators.yml",
            "    unit: personer\n    polarity: higher\n",
            "    unit: personer\n    colour: red\n    polarity: higher\n",
            "indicators.yml: indicators[0] (id population): unknown key 'colour'",
        ),
        (
            "indicators.yml",
            "  - id: population_growth\n",
            "  - id: population\n",
            "indicators.yml: top level: Value error, duplicate indicator id 'population'",
        ),
        (
            "indicators.yml",
            "themes: [growth]\n    committees: [oekonomiudvalget]\n    measure: {kind: value, of: {tables: [FOLK1AM, INDBYGGERE]}}",
            "themes: [vækst]\n    committees: [oekonomiudvalget]\n    measure: {kind: value, of: {tables: [FOLK1AM, INDBYGGERE]}}",
            "indicators.yml: indicators[0] (id population).themes[0]: Input should be 'growth', 'community' or 'cooperation'",
        ),
        (
            "indicators.yml",
            "  - strategy: strategi-2022\n        kind: level",
            "  - strategy: strategi-2018\n        kind: level",
            "indicators.yml: indicator movers_18_36: unknown strategy period 'strategi-2018'",
        ),
        (
            "indicators.yml",
            "indicators:\n",
            "indicators:\n  - [\n",
            "indicators.yml line 19, column 3: invalid YAML: did not find expected node content",
        ),
        # declarations: a table, a column, a value, a measure, a manual kind or an indicator that does not exist
        (
            "indicators.yml",
            "of: {table: ERHV2, filter:",
            "of: {table: ERHV9, filter:",
            "indicators.yml: indicator jobs: table 'ERHV9' is not in params/sources.yml",
        ),
        (
            "indicators.yml",
            "filter: {branche: [TOT], enhed: [ANSATTE]}",
            "filter: {branche: [TOT], sektor: [ANSATTE]}",
            "indicators.yml: indicator jobs: table ERHV2 has no column 'sektor' to filter on; it has branche, enhed",
        ),
        (
            "indicators.yml",
            "filter: {branche: [TOT], enhed: [ANSATTE]}",
            "filter: {branche: [TOT], enhed: [JOB]}",
            "indicators.yml: indicator jobs: filter enhed: value 'JOB' is not asked for in params/queries.yml (ERHV2 asks for ARBSTED, ANSATTE)",
        ),
        (
            "indicators.yml",
            "filter: {alder: {from: 18, to: 36}}}\n      denominator",
            "filter: {alder: {from: 18, to: 37}}}\n      denominator",
            "indicators.yml: indicator movers_18_36: filter alder: value '37' is not asked for in params/queries.yml (FLY66 asks for 18-36)",
        ),
        (
            "indicators.yml",
            "measure: {kind: value, of: {table: RAS200}}",
            "measure: {kind: median, of: {table: RAS200}}",
            "indicators.yml: indicators[3] (id employment_rate).measure.kind: Input should be 'value', 'sum', 'share', 'ratio', 'per_1000' or 'change'",
        ),
        (
            "indicators.yml",
            "measure: {kind: value, of: {manual: co2}}",
            "measure: {kind: value, of: {manual: klima}}",
            "indicators.yml: indicator co2_emissions: unknown manual file kind 'klima'",
        ),
        (
            "indicators.yml",
            "of: {indicator: population}, years: 1",
            "of: {indicator: folketal}, years: 1",
            "indicators.yml: indicator population_growth: unknown indicator 'folketal'",
        ),
        (
            "indicators.yml",
            "measure: {kind: value, of: {table: RAS200}}",
            "measure: {kind: ratio, numerator: {table: RAS200}}",
            "indicators.yml: indicators[3] (id employment_rate).measure: Value error, a ratio measure needs denominator",
        ),
        (
            "queries.yml",
            "enhed: [ARBSTED, ANSATTE], tid",
            "sektor: [ARBSTED, ANSATTE], tid",
            "queries.yml: queries.ERHV2: variable 'sektor' is asked for, but params/sources.yml says the file holds",
        ),
        (
            "indicators.yml",
            "committees: [beskaeftigelse]",
            "committees: [kulturudvalget]",
            "indicators.yml: indicator employment_rate: unknown committee 'kulturudvalget'; expected one of beskaeftigelse,",
        ),
        (
            "strategy.yml",
            "committees: [laering-2018], themes: [community], evaluation: Efterår 2019",
            "committees: [skole-2018], themes: [community], evaluation: Efterår 2019",
            "strategy.yml: strategy_periods.strategi-2022: Value error, fokusliste item 1: unknown committee 'skole-2018'",
        ),
        ("runs.yml", "theme: growth}", "theme: vækst}", "runs.yml: cadences.kvartal[0].theme: Input should be"),
        (
            "indicators.yml",
            "    unit: personer\n    polarity: higher\n",
            "    unit: mennesker\n    polarity: higher\n",
            "indicators.yml: indicators[0] (id population).unit: Value error, unknown unit 'mennesker'; params/units.yml has pct,",
        ),
        (
            "units.yml",
            "  pct: {format: percent, decimals: 1}",
            "  pct: {format: procent, decimals: 1}",
            "units.yml: units.pct.format: Input should be 'percent', 'ratio', 'rank', 'count' or 'amount'",
        ),
        (
            "sources.yml",
            "    unit: flytninger\n",
            "    unit: flyt\n",
            "sources.yml: tables.FLY66: unknown unit 'flyt'; params/units.yml has pct,",
        ),
    ],
)
def test_bad_params_name_file_and_entry(params_copy, name, old, new, expected):
    _edit(params_copy, name, old, new)
    loader = {
        "runs.yml": params.load_runs,
        "strategy.yml": params.load_strategy,
        "queries.yml": params.load_queries,
        "units.yml": params.load_indicators,
        "sources.yml": params.load_sources,
    }.get(name, params.load_indicators)
    with pytest.raises(WorkbookError) as caught:
        loader(params_copy)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_unit_is_written_as_params_declare_it(params_copy):
    """How a unit's figures read is a line in params/units.yml, not code: a new unit works at
    once, and changing a unit's decimals changes every figure of it."""
    from analysis.report import fmt

    units = params.load_units()
    assert fmt.with_unit(0.5432, units.units["pct"]) == "0,5\u00a0%"
    assert fmt.with_unit(1.0332, units.units["forhold"]) == "1,03"
    assert fmt.with_unit(2, units.units["placering"]) == "nr.\u00a02"
    assert fmt.with_unit(48167, units.units["personer"]) == "48.167"
    assert fmt.with_unit(1, units.units["klager"]) == "1\u00a0klage"
    assert fmt.with_unit(12.25, units.units["dage"]) == "12,3\u00a0dage"
    assert fmt.change_with_unit(0.4, units.units["pct"]) == "+0,4\u00a0pct.-point"
    assert fmt.change_with_unit(-11.5, units.units["dage"]) == "\u221211,5\u00a0dage"
    _edit(
        params_copy,
        "units.yml",
        "  pct: {format: percent, decimals: 1}",
        "  pct: {format: percent, decimals: 2}\n  kr.: {format: amount, decimals: 2}",
    )
    edited = params.load_units(params_copy).units
    assert fmt.with_unit(0.5432, edited["pct"]) == "0,54\u00a0%"
    assert fmt.with_unit(12.5, edited["kr."]) == "12,50\u00a0kr."
    assert edited["kr."].name == "kr." and not edited["kr."].counted

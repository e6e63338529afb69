"""The processed data with its indicator table: what the data stage derives for the indicators
stage, once per change of the raw files.

data/ingest.py builds and reads processed versions but knows nothing of indicators; it is
handed `derive`, which computes every declared indicator for every municipality (measures) and
says what the manifest records of them (the periods runs can be made for, municipalities
without a population figure). `build` and `load` are what runs, notebooks and briefs call.

Example::

    build(data_location())                    # ingest when the raw files changed
    processed = load(data_location())         # Processed, with .indicators
    processed.wide("population").loc["2025-01-01", "766"]   # 48167.0
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from analysis import paths
from analysis.data import ingest as ingest_
from analysis.data.processed import DataLocation, Processed
from analysis.params import load_indicators, load_sources
from analysis.periods import code, parse_period

if TYPE_CHECKING:
    import pandas as pd

    from analysis.data.sources.classification import Areas


def derive(observations: pd.DataFrame, areas: Areas) -> ingest_.Derived:
    """The indicator table of these observations, and what the manifest says of it."""
    from analysis.indicators.measures import compute_all

    indicators = compute_all(observations, load_indicators(), load_sources())
    periods = periods_of(indicators)
    municipalities = sorted(areas.municipalities["code"])
    return ingest_.Derived(
        indicators, {"periods": periods, "population_gaps": population_gaps(indicators, periods, municipalities)}
    )


def periods_of(indicators: pd.DataFrame) -> dict[str, list[str]]:
    """The periods a run can be made for, per cadence, so a run that reuses everything needs no pandas."""
    from analysis.indicators.selection import available_periods

    return {cadence: [code(p) for p in available_periods(indicators, cadence)] for cadence in ("kvartal", "aar")}


def population_gaps(
    indicators: pd.DataFrame, periods: dict[str, list[str]], municipalities: list[str]
) -> dict[str, list[str]]:
    """The municipalities without a population figure on a period's reference day, for the periods
    where any are missing ('kvartal/2025K1' -> ['766']): a file cut short shows here."""
    from analysis.indicators.selection import POPULATION, reference_dates

    rows = indicators[indicators["indicator"] == POPULATION]
    known = rows.groupby("date")["area"].agg(lambda areas: set(areas.astype(str)))
    gaps = {}
    for cadence, codes in periods.items():
        for period_code in codes:
            day, _ = reference_dates(parse_period(period_code))
            missing = sorted(set(municipalities) - known.get(day, set()))
            if missing:
                gaps[f"{cadence}/{period_code}"] = missing
    return gaps


def build(location: DataLocation, out_dir: Path | None = None, force: bool = False) -> ingest_.IngestResult:
    """Ingest the raw files of `location` with the indicator table, unless nothing changed."""
    return ingest_.ingest(location, derive, out_dir or paths.PROCESSED_DIR, force)


def load(location: DataLocation, processed_dir: Path | None = None) -> Processed:
    """The processed data of `location`: the current version, or built in memory when stale."""
    return ingest_.load_processed(location, derive, processed_dir or paths.PROCESSED_DIR)

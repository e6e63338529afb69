"""An illustrative data set for the manual indicators ("Eksempeldata"), made by the workbook itself.

It lets a new user see every section of a brief before the real files exist. It is
deterministic (a fixed seed per indicator), never written to data/, and only used when a run
asks for it; a brief marks every number from it, and says so at the top.

Example::

    frame = example_observations(params.load_indicators(), "766")
    frame.query("indicator == 'building_permit_time'")[["period", "value"]]
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from analysis.params import Indicators

FIRST_YEAR, LAST_YEAR = 2018, 2025
# A plausible level and yearly drift per indicator, so the pictures look like real series.
SHAPES = {
    "di_rank": (14, -1.5, 2.0),
    "health_profile": (9, -0.5, 1.0),
    "co2_emissions": (620_000, -22_000, 9_000),
    "economic_benchmarks": (2, 0.1, 0.6),
    "complaints": (140, -6, 9),
    "satisfaction": (71, 0.6, 1.8),
    "building_permit_time": (62, -6, 3),
    "case_processing_time": (31, -0.8, 1.5),
    "local_partnerships": (11, 1.6, 1.2),
    "sickness_absence": (6.4, -0.1, 0.35),
    "loneliness": (9.5, -0.2, 0.6),
    "association_members": (15_800, 120, 260),
    "returning_residents": (19, 0.3, 0.9),
}
SURVEY_ANSWERS = {"satisfaction": 820, "loneliness": 1450}


def _periods(cadence: str) -> list[str]:
    if cadence == "kvartal":
        return [f"{year}K{quarter}" for year in range(FIRST_YEAR, LAST_YEAR + 1) for quarter in range(1, 5)]
    if cadence == "hvert-4-aar":
        return [str(year) for year in range(2013, LAST_YEAR + 1, 4)]
    return [str(year) for year in range(FIRST_YEAR, LAST_YEAR + 1)]


def example_observations(registry: Indicators, kommune: str) -> pd.DataFrame:
    """Illustrative values for every manual indicator: indicator, area, period, value, n."""
    rows = []
    for indicator in registry.indicators:
        if indicator.manual_kind is None or indicator.id not in SHAPES:
            continue
        level, drift, noise = SHAPES[indicator.id]
        rng = np.random.default_rng(zlib.crc32(indicator.id.encode()))
        periods = _periods(indicator.cadence)
        steps = len(periods)
        per_step = (
            drift / 4 if indicator.cadence == "kvartal" else drift * (4 if indicator.cadence == "hvert-4-aar" else 1)
        )
        values = level + per_step * np.arange(steps) + rng.normal(0, noise, steps)
        kind = indicator.manual_kind
        if kind in ("rank",):
            values = np.clip(np.rint(values), 1, 98)
        elif kind in ("count", "economy"):
            values = np.maximum(np.rint(values), 0)
        elif kind in ("share", "survey"):
            values = np.clip(np.round(values, 1), 0, 100)
        else:
            values = np.round(values, 0)
        if kind == "economy":
            values = np.minimum(values, 3)
        if indicator.id == "co2_emissions":  # the DK2020 target is measured against 1990
            periods, values = ["1990", *periods], np.concatenate([[1_180_000.0], values])
        for period, value in zip(periods, values):
            n = SURVEY_ANSWERS.get(indicator.id) if kind == "survey" else (3 if kind == "economy" else None)
            rows.append({"indicator": indicator.id, "area": kommune, "period": period, "value": float(value), "n": n})
    return pd.DataFrame(rows)

"""Comparison groups: DST's kommunegrupper, an explicit list, or the most similar municipalities.

"Most similar" is computed from structural data in the snapshot: population, growth over five
years, population density and the employment rate, each standardised over all 98
municipalities, nearest by Euclidean distance.

Example::

    group = resolve_group("mest-lignende", "766", processed, period)
    group.members          # ['766', ...] the municipality and its 10 nearest
    group.label            # 'mest lignende kommuner'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import indicators
from analysis.errors import WorkbookError
from analysis.ingest import Processed
from analysis.params import GroupSpec, load_comparison



@dataclass(frozen=True)
class Group:
    label: str  # plural, lower case: 'oplandskommuner'
    definite: str  # 'oplandskommunerne'
    description: str  # how the group came about, for the brief
    members: list[str]  # kommunekoder, the municipality included


def structural_features(processed: Processed, period: pd.Period) -> pd.DataFrame:
    """One row per municipality: population, growth over five years (%), inhabitants per km², employment rate."""
    obs = processed.observations
    january = indicators.population_january(obs)
    until, _ = indicators.reference_dates(period)
    january = january.loc[january.index <= until]
    latest = january.index.max()
    five_years = latest - pd.DateOffset(years=5)
    codes = list(processed.areas.municipalities["code"])
    population = january.loc[latest, codes]
    growth = (population / january.loc[five_years, codes] - 1) * 100
    area = obs[obs["table"] == "AREAL"]
    area = area.assign(area=area["area"].astype(str), year=area["period"].astype(str).astype(int))
    area = area[area["year"] <= latest.year].sort_values("year").groupby("area")["value"].last()
    rates = indicators.annual_rate(obs, "RAS200", indicators.last_complete_year(period))
    return pd.DataFrame({
        "population": population,
        "growth_5y": growth,
        "density": population / area.reindex(codes),
        "employment_rate": rates.iloc[-1].reindex(codes),
    })


def most_similar(features: pd.DataFrame, kommune: str, count: int) -> pd.Series:
    """Distances to the `count` nearest municipalities on standardised features, nearest first."""
    standardised = (features - features.mean()) / features.std(ddof=0)
    standardised = standardised.dropna()
    if kommune not in standardised.index:
        raise WorkbookError(f"kommune {kommune}: lacks structural data for the most similar municipalities")
    distance = np.sqrt(((standardised - standardised.loc[kommune]) ** 2).sum(axis=1)).drop(kommune)
    return distance.sort_values(kind="stable").head(count)


def resolve_group(name: str, kommune: str, processed: Processed, period: pd.Period) -> Group:
    """The comparison group named by a brief's `comparison_group` parameter."""
    areas = processed.areas
    groups = load_comparison().groups
    if name in areas.groups:
        spec = GroupSpec(kind="dst_group")
        group_name = name
    elif name in groups:
        spec = groups[name]
        group_name = areas.group_of(kommune)
    else:
        raise WorkbookError(
            f"comparison_group '{name}': unknown; expected one of {', '.join([*groups, *areas.groups])}"
        )
    if spec.kind == "dst_group":
        members = sorted(set(areas.members(group_name)) | {kommune})
        return Group(group_name.lower(), group_name.lower() + "ne", "i Danmarks Statistiks kommunegrupper", members)
    if spec.kind == "list":
        known = set(areas.municipalities["code"])
        members = [f"{m:03d}" for m in spec.members]
        unknown = [m for m in members if m not in known]
        if unknown:
            raise WorkbookError(f"params/comparison.yml: groups.{name}: '{unknown[0]}' is not a kommunekode")
        return Group(spec.label, spec.definite, spec.description, sorted(set(members) | {kommune}))
    features = structural_features(processed, period)[spec.features]
    nearest = most_similar(features, kommune, spec.count)
    return Group(spec.label, spec.definite, spec.description, sorted([kommune, *nearest.index]))

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

from analysis.data.processed import Processed
from analysis.errors import WorkbookError
from analysis.indicators import selection
from analysis.params import GroupSpec, load_comparison


@dataclass(frozen=True)
class Group:
    label: str  # plural, lower case: 'oplandskommuner'
    definite: str  # 'oplandskommunerne'
    description: str  # how the group came about, for the brief
    members: list[str]  # kommunekoder, the municipality included
    member_of: bool = True  # whether the municipality belongs to the group itself ('de 23 andre ...')
    named: bool = False  # a group a reader cannot look up (an analyst's list, the most similar): name its members
    features: pd.DataFrame | None = None  # for the most similar: the figures they were chosen on, and the distance


def against_group(values: pd.Series, kommune: str, members: list[str], polarity: str = "higher") -> dict:
    """The municipality against the rest of its group on one date: the others' mean and median,
    the group's quartiles, and the rank, best first (the lowest first where lower is better;
    by size where an indicator has no better direction). {} when the municipality has no figure."""
    group = values.reindex(members).dropna()
    if kommune not in group.index:
        return {}
    # numpy on the group's few dozen numbers: the same figures as pandas' mean, median, quantile
    # and rank(method="min"), at a tenth of the cost (a brief asks for over a hundred of these).
    figures = group.to_numpy(dtype=float)
    own = float(group[kommune])
    others = np.delete(figures, group.index.get_loc(kommune))
    better = (figures < own) if polarity == "lower" else (figures > own)
    return {
        "value": own,
        "mean_others": float(others.mean()) if len(others) else float("nan"),
        "median_others": float(np.median(others)) if len(others) else float("nan"),
        "q25": float(np.quantile(figures, 0.25)),
        "q75": float(np.quantile(figures, 0.75)),
        "min": float(figures.min()),
        "max": float(figures.max()),
        "rank": int(better.sum()) + 1,
        "n": int(len(figures)),
    }


def structural_features(processed: Processed, period: pd.Period) -> pd.DataFrame:
    """One row per municipality: population, growth over five years (%), inhabitants per km², employment rate."""
    until, flow_until = selection.cutoffs(period)
    population = processed.wide("population")
    january = population.loc[(population.index.month == 1) & (population.index <= until)]
    latest = january.index.max()
    five_years = latest - pd.DateOffset(years=5)
    codes = list(processed.areas.municipalities["code"])
    now = january.loc[latest].reindex(codes)
    growth = (now / january.loc[five_years].reindex(codes) - 1) * 100
    obs = processed.observations
    area = obs[obs["table"] == "AREAL"]
    area = area.assign(area=area["area"].astype(str), year=area["period"].astype(str).astype(int))
    area = area[area["year"] <= latest.year].sort_values("year").groupby("area")["value"].last()
    rates = processed.wide("employment_rate")
    rates = rates.loc[rates.index <= flow_until]
    return pd.DataFrame(
        {
            "population": now,
            "growth_5y": growth,
            "density": now / area.reindex(codes),
            "employment_rate": rates.iloc[-1].reindex(codes) if len(rates) else float("nan"),
        }
    )


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
        return Group(
            group_name.lower(),
            group_name.lower() + "ne",
            "i Danmarks Statistiks kommunegrupper",
            members,
            member_of=kommune in areas.members(group_name),
        )
    if spec.kind == "list":
        known = set(areas.municipalities["code"])
        members = [f"{m:03d}" for m in spec.members]
        unknown = [m for m in members if m not in known]
        if unknown:
            raise WorkbookError(f"params/comparison.yml: groups.{name}: '{unknown[0]}' is not a kommunekode")
        return Group(
            spec.label,
            spec.definite,
            spec.description,
            sorted(set(members) | {kommune}),
            member_of=kommune in members,
            named=True,
        )
    features = structural_features(processed, period)[spec.features]
    nearest = most_similar(features, kommune, spec.count)
    chosen = features.loc[[kommune, *nearest.index]].assign(distance=pd.concat([pd.Series({kommune: 0.0}), nearest]))
    return Group(
        spec.label,
        spec.definite,
        spec.description,
        sorted([kommune, *nearest.index]),
        member_of=False,
        named=True,
        features=chosen,
    )

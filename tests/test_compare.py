"""Comparison groups on the real snapshot."""

from __future__ import annotations

import pytest

from analysis.errors import WorkbookError
from analysis.indicators import compare
from analysis.periods import parse_period

from conftest import HEDENSTED

PERIOD = parse_period("2025K1")


def test_structural_features_of_hedensted(processed):
    features = compare.structural_features(processed, PERIOD)
    row = features.loc[HEDENSTED]
    assert row["population"] == 48167
    assert round(row["growth_5y"], 2) == round((48167 / 46722 - 1) * 100, 2) == 3.09  # 1 Jan 2020 to 1 Jan 2025
    assert round(row["density"], 1) == round(48167 / 551, 1) == 87.4
    assert row["employment_rate"] == 82.2
    assert len(features) == 98


def test_most_similar_municipalities(processed):
    features = compare.structural_features(processed, PERIOD)
    nearest = compare.most_similar(features, HEDENSTED, 10)
    names = [processed.areas.name_of(code) for code in nearest.index]
    assert names[:4] == ["Rebild", "Favrskov", "Furesø", "Skanderborg"]
    assert HEDENSTED not in nearest.index and len(nearest) == 10
    assert list(nearest.values) == sorted(nearest.values)


@pytest.mark.parametrize(
    ("name", "label", "size"),
    [
        ("kommunegruppe", "oplandskommuner", 24),
        ("Landkommuner", "landkommuner", 32),
        ("naboer", "nabokommuner", 3),
        ("mest-lignende", "mest lignende kommuner", 11),
    ],
)
def test_groups_resolve(processed, name, label, size):
    group = compare.resolve_group(name, HEDENSTED, processed, PERIOD)
    assert (group.label, len(group.members)) == (label, size)
    assert HEDENSTED in group.members


def test_unknown_group_is_named(processed):
    with pytest.raises(WorkbookError, match="comparison_group 'Byer': unknown; expected one of kommunegruppe, naboer"):
        compare.resolve_group("Byer", HEDENSTED, processed, PERIOD)

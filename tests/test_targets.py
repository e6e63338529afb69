"""The status logic: known cases on real numbers, and properties that must hold for any data."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import params
from analysis.indicators import targets
from analysis.params import Target
from analysis.report import status_words

from conftest import HEDENSTED, series_of, wide_of

ORDER = targets.ORDER


def make(kind: str, **values) -> Target:
    return Target(strategy="sigtepunkter-2022-2025", kind=kind, label="mål", quote="q", seed="000", **values)


def test_youth_target_2022_judged_on_2024_the_nearest_later_year(indicator_table):
    target = params.load_indicators().get("movers_18_36").targets[0]
    ratio = series_of(indicator_table, "movers_18_36")["value"].iloc[-1]
    status = targets.assess(target, pd.Series([ratio], index=[2024]), "higher", "forhold")
    assert status.status == "ikke på rette vej"
    assert status_words.reason(status) == (
        "Målet på 1,10 i 2022 blev ikke nået: tallet var 1,03 i 2024, det nærmeste senere år med tal."
    )


def test_growth_against_oplandskommuner_is_on_track(indicator_table, areas):
    target = params.load_indicators().get("population_growth").targets[0]
    growth = wide_of(indicator_table, "population_growth")
    growth = growth.loc[(growth.index.month == 1) & (growth.index <= pd.Timestamp("2025-01-01"))]
    group = growth[areas.members("Oplandskommuner")]
    status = targets.assess(target, group[HEDENSTED], "higher", "pct", group=group, kommune=HEDENSTED)
    assert status.status == "på rette vej"
    assert "0,9\u00a0% mod 0,2\u00a0% i gennemsnit" in status_words.reason(status)
    assert "blandt den bedste fjerdedel" in status_words.reason(status)


def test_employment_rate_direction_on_real_series(indicator_table):
    target = params.load_indicators().get("employment_rate").targets[0]
    rates = series_of(indicator_table, "employment_rate")["value"]
    status = targets.assess(target, rates, "higher", "pct")
    assert status.status == "på rette vej"  # 2012-2021 rose from 78.0 to 82.2 with one dip
    assert status_words.method(status) == "Mann-Kendall-test over 10 målinger: tau 0,91, p < 0,001"


def test_not_set_target_says_so():
    target = params.load_indicators().get("surviving_startups").targets[0]
    assert targets.assess(target, pd.Series([1.0, 2.0]), "higher").status == "intet mål"


def test_level_projection_cases():
    target = make("level", value=55, year=2030)
    rising = pd.Series([50, 51, 52, 53, 54], index=[2020, 2021, 2022, 2023, 2024], dtype=float)
    assert targets.assess(target, rising, "higher", "pct").status == "på rette vej"
    flat = pd.Series([50, 50.1, 49.9, 50, 50.1], index=rising.index)
    assert targets.assess(target, flat, "higher", "pct").status == "ikke på rette vej"
    noisy = pd.Series([50, 56, 49, 57, 51], index=rising.index, dtype=float)
    assert targets.assess(target, noisy, "higher", "pct").status == "usikkert"
    two_points = pd.Series([50, 51], index=[2023, 2024], dtype=float)
    assert targets.assess(target, two_points, "higher", "pct").status == "usikkert"


def test_halving_against_a_baseline():
    target = make("change", value=-50, year=2026, baseline_year=2022)
    days = pd.Series([60, 50, 40, 30], index=[2022, 2023, 2024, 2025], dtype=float)
    status = targets.assess(target, days, "lower", "dage")
    assert status.status == "på rette vej"
    assert "målet på 30" in status_words.reason(status)
    missing_baseline = pd.Series([50, 40, 30], index=[2023, 2024, 2025], dtype=float)
    assert targets.assess(target, missing_baseline, "lower", "dage").status == "ingen data"


def test_rank_targets():
    top3 = make("rank", value=3)
    assert targets.assess(top3, pd.Series([5, 2], index=[2023, 2024]), "lower").status == "på rette vej"
    first_2025 = make("rank", value=1, year=2025)
    assert targets.assess(first_2025, pd.Series([5, 3], index=[2023, 2024]), "lower").status == "usikkert"
    assert (
        targets.assess(first_2025, pd.Series([5, 3, 2], index=[2023, 2024, 2025]), "lower").status
        == "ikke på rette vej"
    )


def test_survey_shares_compare_wilson_intervals():
    target = make("direction", direction="lavere")
    shares = pd.Series([12.0, 10.0], index=[2017, 2021])
    small = pd.Series([300, 300], index=shares.index)
    assert targets.assess(target, shares, "lower", sample_sizes=small).status == "usikkert"
    large = pd.Series([20000, 20000], index=shares.index)
    assert targets.assess(target, shares, "lower", sample_sizes=large).status == "på rette vej"
    low, high = targets.wilson(10.0, 300)
    assert (round(low, 1), round(high, 1)) == (7.1, 13.9)


# Figures with two decimals, as published: float noise below that would create ties that no real series has.
values = st.lists(st.integers(min_value=-100_000, max_value=100_000).map(lambda v: v / 100), min_size=0, max_size=12)
kinds = st.sampled_from(
    [
        make("level", value=10.0, year=2030),
        make("level", value=10.0, year=2018),
        make("direction", direction="bedre"),
        make("change", value=-20.0, baseline=50.0, baseline_year=2000, year=2030),
    ]
)


def _series(points: list[float]) -> pd.Series:
    return pd.Series(points, index=list(range(2024 - len(points) + 1, 2025)), dtype=float)


@settings(max_examples=300, deadline=None)
@given(
    points=values,
    shift=st.integers(min_value=1, max_value=50_000).map(lambda v: v / 100),
    target=kinds,
    polarity=st.sampled_from(["higher", "lower"]),
)
def test_improving_data_never_worsens_a_status(points, shift, target, polarity):
    series = _series(points)
    better = series + (shift if polarity == "higher" else -shift)
    before = targets.assess(target, series, polarity).status
    after = targets.assess(target, better, polarity).status
    if before in ORDER and after in ORDER:
        assert ORDER[after] >= ORDER[before]
    else:
        assert before == after


@settings(max_examples=300, deadline=None)
@given(points=values, target=kinds)
def test_polarity_flip_is_symmetric(points, target):
    series = _series(points)
    flipped = target.model_copy(
        update={
            "value": -target.value if target.value is not None and target.kind != "change" else target.value,
            "baseline": -target.baseline if target.baseline is not None else None,
        }
    )
    assert targets.assess(target, series, "higher").status == targets.assess(flipped, -series, "lower").status


@given(target=kinds, polarity=st.sampled_from(["higher", "lower"]))
def test_no_data_gives_ingen_data(target, polarity):
    assert targets.assess(target, pd.Series([], dtype=float), polarity).status == "ingen data"
    assert (
        targets.assess(target, pd.Series([float("nan")] * 3, index=[2022, 2023, 2024]), polarity).status == "ingen data"
    )


@settings(max_examples=300, deadline=None)
@given(
    points=values,
    target=st.one_of(kinds, st.sampled_from([make("rank", value=3, year=2030), make("not_set"), None])),
    polarity=st.sampled_from(["higher", "lower", "none"]),
    unit=st.sampled_from(["pct", "forhold", "dage", None]),
)
def test_every_status_has_a_symbol_and_words(points, target, polarity, unit):
    """Whatever the numbers, a status has its symbol and one Danish sentence (the words live in
    report/status_words.py, apart from the rule that decided the status)."""
    status = targets.assess(target, _series(points), polarity, unit)
    assert status.symbol in "✔?✘–∅"
    sentence = status_words.reason(status)
    assert sentence[0].isupper() and sentence.endswith(".") and "{" not in sentence
    assert "\n" not in status_words.method(status)

"""The indicators on the real snapshot, computed by the engine from their declarations, against
figures anyone can check in Statistikbanken."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import params
from analysis.errors import WorkbookError
from analysis.indicators import selection
from analysis.indicators.compare import against_group
from analysis.indicators.figures import Scope, select
from analysis.periods import code, parse_period

from conftest import HEDENSTED, series_of, wide_of

JAN_2025 = pd.Timestamp("2025-01-01")


def test_population_on_1_january_2025_and_2023(indicator_table):
    population = series_of(indicator_table, "population")
    assert population.loc[JAN_2025, "value"] == 48167
    assert population.loc[JAN_2025, "period"] == "2025M01"  # FOLK1AM wins where both sources have the day
    assert population.loc[pd.Timestamp("2023-01-01"), "value"] == 47609
    assert population.loc[pd.Timestamp("1993-01-01"), "value"] == 40013
    assert population.loc[pd.Timestamp("1993-01-01"), "period"] == "1993"  # noegletal before FOLK1AM begins


def test_noegletal_and_folk1am_agree_where_both_have_1_january(observations):
    noegletal = observations[observations["table"] == "INDBYGGERE"]
    folk1am = observations[observations["table"] == "FOLK1AM"]
    for year in ("2022", "2023"):
        a = noegletal[noegletal["period"] == year].set_index("area")["value"].sort_index()
        b = folk1am[folk1am["period"] == f"{year}M01"].set_index("area")["value"].reindex(a.index)
        assert (a == b).all(), year


def test_quarterly_value_is_the_first_month_of_the_quarter(indicator_table):
    population = series_of(indicator_table, "population")
    quarterly = selection.usable(population, stock=True, period=parse_period("2024K3"))
    assert quarterly.index[-1] == pd.Timestamp("2024-07-01")
    assert quarterly["value"].iloc[-1] == 47876


def test_growth_against_oplandskommuner(indicator_table, areas):
    growth = wide_of(indicator_table, "population_growth")
    members = areas.members("Oplandskommuner")
    latest = against_group(growth.loc[JAN_2025], HEDENSTED, members)
    assert latest["value"] == pytest.approx((48167 / 47725 - 1) * 100)
    assert round(latest["value"], 2) == 0.93
    assert round(latest["mean_others"], 2) == 0.24
    assert latest["rank"] == 2 and latest["n"] == 24
    row = series_of(indicator_table, "population_growth").loc[JAN_2025]
    assert (row["numerator"], row["denominator"]) == (48167, 47725)


def test_young_movers_2024(indicator_table):
    row = series_of(indicator_table, "movers_18_36").loc[JAN_2025]  # moves in 2024, dated the day after
    assert row["period"] == "2024"
    assert row["numerator"] == 1431
    assert row["denominator"] == 1385
    assert round(row["value"], 3) == 1.033


def test_largest_flows_are_with_horsens_and_vejle(observations):
    flows = selection.top_flows(observations, HEDENSTED, 2024)
    assert list(flows.index[:3]) == ["615", "630", "751"]  # Horsens, Vejle, Aarhus
    assert flows.loc["615", ["in", "out"]].tolist() == [384, 363]


def test_employment_rate_2021(indicator_table):
    rates = series_of(indicator_table, "employment_rate")
    assert rates.set_index("period").loc["2021", "value"] == 82.2
    assert rates["period"].max() == "2021"


def test_latest_periods(indicator_table):
    assert code(selection.resolve_period(indicator_table, "kvartal", None)) == "2025K1"
    assert code(selection.resolve_period(indicator_table, "aar", None)) == "2024"


@pytest.mark.parametrize(
    ("cadence", "period", "message"),
    [
        (
            "kvartal",
            "2026K1",
            "--period 2026K1: no population data for it; periods on disk for --cadence kvartal run 2021K4 to 2025K1",
        ),
        ("aar", "2025", "--period 2025: no population data for it; periods on disk for --cadence aar run 1993 to 2024"),
    ],
)
def test_period_without_data_is_refused(indicator_table, cadence, period, message):
    freq = "Q" if cadence == "kvartal" else "Y"
    with pytest.raises(WorkbookError) as caught:
        selection.resolve_period(indicator_table, cadence, parse_period(period, freq))
    assert str(caught.value) == message


def _scope(processed, period="2025K1", group="kommunegruppe"):
    return Scope.build(
        processed, parse_period(period), HEDENSTED, group, params.load_strategy(), "sigtepunkter-2022-2025"
    )


def test_movers_figures_carry_the_2018_target(processed):
    from analysis.report import narrative

    scope = _scope(processed)
    figures = select(scope, params.load_indicators().get("movers_18_36"))
    words = narrative.describe(figures, scope)
    assert words.value_text == "1,03"
    assert [t.value for t, _ in figures.targets] == [1.10]
    assert words.comparison == "Nr. 2 af 24; gns. for de andre 0,95"
    assert "1.431 18-36-årige" in words.sentences[0]


def test_indicator_without_data_says_so_and_has_no_number(processed):
    from analysis.report import narrative

    scope = _scope(processed)
    figures = select(scope, params.load_indicators().get("families_with_children"))
    assert not figures.has_data and figures.missing_tables == ["FAM44N"]
    assert "FAM44N" in narrative.describe(figures, scope).missing


def test_other_comparison_group(processed):
    scope = _scope(processed, group="Landkommuner")
    assert len(scope.members) == 32  # the 31 landkommuner plus Hedensted itself
    with pytest.raises(WorkbookError, match="comparison_group 'Byer': unknown"):
        _scope(processed, group="Byer")


def test_the_kernel_servers_warm_up_computes_each_indicators_figures_once(processed):
    """What the kernel server makes before it forks kernels (report.brief.warm_up) is the figures
    every brief reads first: each indicator as dates x areas and where each area's rows are, and
    which areas the manual tables have, right, on the processed object."""
    from analysis.data.processed import MANUAL_PREFIX
    from analysis.report.brief import warm_up

    warm_up(processed)
    indicators = params.load_indicators().indicators
    for kind in ("wide", "positions"):
        assert {key[1] for key in processed._cache if key[0] == kind} == {indicator.id for indicator in indicators}
    manual = {MANUAL_PREFIX + kind for indicator in indicators for kind in indicator.manual_kinds}
    assert manual and {key[1] for key in processed._cache if key[0] == "keys"} == manual
    assert processed.wide("population").loc[JAN_2025, HEDENSTED] == 48167
    assert processed.wide("population") is processed._cache[("wide", "population")]
    rows = processed.rows("population")
    own = processed.rows_of("population", HEDENSTED)
    assert own.equals(rows[rows["area"].astype(str) == HEDENSTED])
    assert own.loc[own["date"] == JAN_2025, "value"].tolist() == [48167]
    assert processed.rows_of("population", "999").empty and list(processed.rows_of("population", "999")) == list(rows)

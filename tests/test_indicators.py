"""Indicators on the real snapshot, against figures anyone can check in Statistikbanken."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import indicators, params, results
from analysis.errors import WorkbookError
from analysis.periods import code, parse_period

from conftest import HEDENSTED


def test_population_on_1_january_2025_and_2023(observations):
    monthly = indicators.population_monthly(observations)
    january = indicators.population_january(observations)
    assert monthly.loc[pd.Timestamp("2025-01-01"), HEDENSTED] == 48167
    assert january.loc[pd.Timestamp("2023-01-01"), HEDENSTED] == 47609
    assert january.loc[pd.Timestamp("1993-01-01"), HEDENSTED] == 40013


def test_noegletal_and_folk1am_agree_where_both_have_1_january(observations):
    noegletal = observations[observations["table"] == "INDBYGGERE"]
    folk1am = observations[observations["table"] == "FOLK1AM"]
    for year in ("2022", "2023"):
        a = noegletal[noegletal["period"] == year].set_index("area")["value"].sort_index()
        b = folk1am[folk1am["period"] == f"{year}M01"].set_index("area")["value"].reindex(a.index)
        assert (a == b).all(), year


def test_quarterly_value_is_the_first_month_of_the_quarter(observations):
    population = indicators.population_monthly(observations)
    quarterly = indicators.stock_series(population, parse_period("2024K3"))[HEDENSTED]
    assert quarterly.index[-1] == pd.Timestamp("2024-07-01")
    assert quarterly.iloc[-1] == population.loc[pd.Timestamp("2024-07-01"), HEDENSTED] == 47876


def test_growth_against_oplandskommuner(observations, areas):
    population = indicators.population_january(observations)
    growth = indicators.growth_series(population, parse_period("2024"))
    members = areas.members("Oplandskommuner")
    latest = indicators.group_comparison(growth.loc[pd.Timestamp("2025-01-01")], HEDENSTED, members)
    assert latest["value"] == pytest.approx((48167 / 47725 - 1) * 100)
    assert round(latest["value"], 2) == 0.93
    assert round(latest["mean_others"], 2) == 0.24
    assert latest["rank"] == 2 and latest["n"] == 24


def test_young_movers_2024(observations):
    table = indicators.movers(observations, 2024)
    assert table.loc[HEDENSTED, "in"] == 1431
    assert table.loc[HEDENSTED, "out"] == 1385
    assert round(table.loc[HEDENSTED, "ratio"], 3) == 1.033


def test_largest_flows_are_with_horsens_and_vejle(observations):
    flows = indicators.top_flows(observations, HEDENSTED, 2024)
    assert list(flows.index[:3]) == ["615", "630", "751"]  # Horsens, Vejle, Aarhus
    assert flows.loc["615", ["in", "out"]].tolist() == [384, 363]


def test_employment_rate_2021(observations):
    rates = indicators.annual_rate(observations, "RAS200", 2024)
    assert rates.loc[2021, HEDENSTED] == 82.2
    assert rates.index.max() == 2021


def test_latest_periods(observations):
    assert code(indicators.resolve_period(observations, "kvartal", None)) == "2025K1"
    assert code(indicators.resolve_period(observations, "aar", None)) == "2024"


@pytest.mark.parametrize(("cadence", "period", "message"), [
    ("kvartal", "2026K1", "--period 2026K1: no population data for it; periods on disk for --cadence kvartal run 2021K4 to 2025K1"),
    ("aar", "2025", "--period 2025: no population data for it; periods on disk for --cadence aar run 1993 to 2024"),
])
def test_period_without_data_is_refused(observations, cadence, period, message):
    freq = "Q" if cadence == "kvartal" else "Y"
    with pytest.raises(WorkbookError) as caught:
        indicators.resolve_period(observations, cadence, parse_period(period, freq))
    assert str(caught.value) == message


def _context(processed, period="2025K1", group="kommunegruppe"):
    return results.Context.build(processed, parse_period(period), HEDENSTED, group, params.load_strategy(),
                                 "sigtepunkter-2022-2025")


def test_movers_result_carries_the_2018_target(processed):
    result = results.compute(_context(processed), params.load_indicators().get("movers_18_36"))
    assert result.value_text == "1,03"
    assert [t.value for t, _ in result.targets] == [1.10]
    assert result.comparison == "Nr. 2 af 24; gns. for de andre 0,95"
    assert "1.431 18-36-årige" in result.sentences[0]


def test_indicator_without_data_says_so_and_has_no_number(processed):
    result = results.compute(_context(processed), params.load_indicators().get("families_with_children"))
    assert result.value is None and not result.charts
    assert "FAM44N" in result.missing


def test_other_comparison_group(processed):
    context = _context(processed, group="Landkommuner")
    assert len(context.members) == 32  # the 31 landkommuner plus Hedensted itself
    with pytest.raises(WorkbookError, match="comparison_group 'Byer': unknown"):
        _context(processed, group="Byer")

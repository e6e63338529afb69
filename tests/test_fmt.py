"""Danish formats from Babel's da_DK data, and periods with their Danish labels."""

from __future__ import annotations

import datetime as dt

import pytest

from analysis.errors import WorkbookError
from analysis.periods import cadence_period, code, date_label, label, parse_period
from analysis.report import fmt


def test_numbers():
    assert fmt.number(48167) == "48.167"
    assert fmt.percent(0.6) == "0,6\u00a0%"
    assert fmt.percent(82.25) == "82,3\u00a0%"  # half away from zero, as statistics offices round
    assert fmt.decimal(1.0332, 2) == "1,03"
    assert fmt.signed(442) == "+442"
    assert fmt.signed(-0.25, 1) == "\u22120,3"
    assert fmt.signed(-0.04, 1) == "0,0"  # no minus on a zero
    assert fmt.points(0.7, short=True) == "+0,7\u00a0pct.-point"
    assert fmt.significant(1.0332) == "1,03"
    assert fmt.significant(0.0012345) == "0,00123"
    assert fmt.significant(48167.4) == "48.167"
    assert fmt.significant(-0.2449) == "\u22120,245"


def test_periods_and_labels():
    assert label(parse_period("2025K1")) == "1. kvt. 2025"
    assert label(parse_period("2025M03")) == "marts 2025"
    assert code(parse_period("2024K3")) == "2024K3"
    assert date_label(dt.date(2025, 1, 1)) == "1. januar 2025"


@pytest.mark.parametrize(
    ("text", "cadence", "message"),
    [
        ("2025K5", "kvartal", "--period 2025K5: '2025K5' is not a quarter like 2025K1 (K1-K4) for --cadence kvartal"),
        ("2024", "kvartal", "--period 2024: '2024' is not a quarter like 2025K1 (K1-K4) for --cadence kvartal"),
        ("2025K1", "aar", "--period 2025K1: '2025K1' is not a year like 2024 for --cadence aar"),
    ],
)
def test_wrong_period_for_cadence(text, cadence, message):
    with pytest.raises(WorkbookError) as caught:
        cadence_period(text, cadence)
    assert str(caught.value) == message


def test_a_period_code_is_labelled_as_its_period_is():
    """The archive page labels period codes without pandas; the words are the briefs' own."""
    from analysis.periods import code_label, label, parse_period

    for text in ("2025K1", "2024K4", "2025M03", "2024M12", "2024"):
        assert code_label(text) == label(parse_period(text))
    assert code_label("2025K1") == "1. kvt. 2025" and code_label("2025M03") == "marts 2025"

"""Manual files (one per kind), qualitative input and Eksempeldata, through the real brief."""

from __future__ import annotations

import pytest

from analysis import params
from analysis.data.sources.manual import read_manual_csv
from analysis.errors import WorkbookError
from analysis.indicators.example_data import example_observations
from analysis.report import status_words
from analysis.report.brief import open_brief


@pytest.fixture()
def data_folder(tmp_path, snapshot):
    """A raw data folder: the real snapshot tables, plus a manual/ folder for the test to fill."""
    for name in ("statbank", "noegletal", "classifications"):
        (tmp_path / name).symlink_to(snapshot / name)
    (tmp_path / "manual").mkdir()
    return tmp_path


def brief_for(folder, theme="cooperation", period="2024", cadence="aar", example_data=False):
    return open_brief(
        theme=theme,
        period=period,
        cadence=cadence,
        kommune=766,
        comparison_group="kommunegruppe",
        strategy_period="sigtepunkter-2022-2025",
        data=str(folder),
        example_data=example_data,
    )


def write(folder, name, text):
    (folder / "manual" / name).write_text(text, encoding="utf-8")


def test_a_real_manual_file_reaches_the_brief_and_wins_over_example_data(data_folder):
    write(
        data_folder,
        "processing_time.csv",
        "indicator;kommune;period;value;note\n"
        "building_permit_time;766;2022;58;Byggesager\nbuilding_permit_time;766;2023;47,5;\nbuilding_permit_time;766;2024;36;\n",
    )
    brief = brief_for(data_folder, example_data=True)
    result = next(r for r in brief.results["cooperation"] if r.indicator.id == "building_permit_time")
    assert (result.value_text, result.as_of, result.change_year) == ("36\u00a0dage", "2024", "\u221211,5\u00a0dage")
    assert not result.illustrative
    assert result.status.status == "på rette vej"  # 58 -> 36 in two years: halved (29) by 2026 is within reach
    others = [r for r in brief.results["cooperation"] if r.indicator.id != "building_permit_time" and r.has_data]
    assert others and all(r.illustrative for r in others)
    html = brief.indicator_table_html()
    assert "Sagsbehandlingstid for byggesager</th>" in html


def test_without_files_and_without_example_data_nothing_is_invented(data_folder):
    brief = brief_for(data_folder)
    assert not any(r.has_data for r in brief.results["cooperation"])
    assert "Eksempeldata" not in brief.header_html()


def test_example_data_is_deterministic_and_marked(data_folder):
    registry = params.load_indicators()
    first, second = example_observations(registry, "766"), example_observations(registry, "766")
    assert first.equals(second)
    brief = brief_for(data_folder, example_data=True)
    assert "<strong>Eksempeldata:</strong> 5 af indikatorerne" in brief.header_html()
    assert brief.indicators_html().count('<span class="badge">Eksempeldata</span>') == 5
    for result in brief.illustrative:
        assert all(
            chart.caption.startswith("Eksempeldata") and chart.alt.startswith("Eksempeldata") for chart in result.charts
        )


def test_survey_share_carries_its_sample_size(data_folder):
    write(
        data_folder,
        "survey.csv",
        "indicator;kommune;period;value;n\nloneliness;766;2017;13,0;1500\nloneliness;766;2021;9,0;1600\n",
    )
    brief = brief_for(data_folder, theme="community", period="2024", cadence="aar")
    result = next(r for r in brief.results["community"] if r.indicator.id == "loneliness")
    assert result.sentences[0] == "Seneste tal for ensomhed: 9,0\u00a0% (2021) (undersøgelse med 1.600 svar)."
    assert result.status.status == "på rette vej"
    assert status_words.method(result.status) == "Wilson-intervaller (95\u00a0%): første 11,4-14,8, seneste 7,7-10,5"


def test_qualitative_words_are_shown_as_text(data_folder):
    write(
        data_folder,
        "kvalitativ.csv",
        'period;theme;committee;author;text\n2025K1;growth;vtf;udvalg;"Flere udstykninger i Løsning; <script>alert(1)</script>"\n',
    )
    html = brief_for(data_folder, theme="growth", period="2025K1", cadence="kvartal").qualitative_html()
    assert "Flere udstykninger i Løsning; &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "Udvalgets vurdering, VTF" in html


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("survey.csv", "indicator;kommune;period;value\nloneliness;766;2021;9\n", "line 1: missing column(s) n"),
        (
            "survey.csv",
            "indicator;kommune;period;value;n\nloneliness;766;2021;9;\n",
            "line 2, column n: a survey share needs its sample size",
        ),
        (
            "share.csv",
            "indicator;kommune;period;value\nreturning_residents;766;2024;140\n",
            "line 2, column value: 140 is out of range; expected 0 to 100",
        ),
        (
            "share.csv",
            "indicator;kommune;period;value\nsickness_absence;766;2025;6,1\n",
            "line 2, column period: '2025' is not a quarter like 2025K1 (K1-K4) (indicator sickness_absence is kvartal)",
        ),
        (
            "share.csv",
            "indicator;kommune;period;value\nsickness_absence;766;2025K5;6,1\n",
            "line 2, column period: '2025K5' is not a quarter",
        ),
        (
            "count.csv",
            "indicator;kommune;period;value\ncomplaints;766;2024;mange\n",
            "line 2, column value: 'mange'; expected a number",
        ),
        (
            "count.csv",
            "indicator;kommune;period;value\nklager;766;2024;5\n",
            "line 2, column indicator: unknown indicator 'klager'",
        ),
        (
            "count.csv",
            "indicator;kommune;period;value\ndi_rank;766;2024;5\n",
            "line 2, column indicator: 'di_rank' is not a count indicator; its kind is rank",
        ),
        (
            "count.csv",
            "indicator;kommune;period;value\ncomplaints;766;2024;5\ncomplaints;766;2024;6\n",
            "lines 2 and 3: the same indicator, kommune and period twice",
        ),
        (
            "rank.csv",
            "indicator;kommune;period;value\ndi_rank;999;2024;5\n",
            "line 2, column kommune: '999' is not a kommunekode",
        ),
        (
            "rank.csv",
            "indicator;kommune;period;value;colour\ndi_rank;766;2024;5;red\n",
            "line 1: unknown column 'colour'",
        ),
        (
            "kvalitativ.csv",
            "period;theme;committee;author;text\n2025K1;vækst;;udvalg;tekst\n",
            "line 2, column theme: 'vækst'",
        ),
    ],
)
def test_broken_manual_file_gets_one_line(data_folder, name, text, message):
    write(data_folder, name, text)
    with pytest.raises(WorkbookError) as caught:
        brief_for(data_folder)
    assert f"manual/{name}" in str(caught.value)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_templates_are_readable_headers(areas):
    from analysis.paths import RAW_DIR

    templates = sorted((RAW_DIR / "manual" / "templates").glob("*.csv"))
    assert [t.stem for t in templates] == [
        "co2",
        "count",
        "economy",
        "kvalitativ",
        "places",
        "processing_time",
        "rank",
        "share",
        "survey",
    ]
    with pytest.raises(WorkbookError, match="a header but no rows"):
        read_manual_csv(RAW_DIR / "manual" / "templates" / "survey.csv", "survey", params.load_indicators(), areas)

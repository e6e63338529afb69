"""The real command, end to end: `python -m analysis run` into a temporary folder, briefs parsed."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

from analysis.paths import PROJECT_ROOT

from conftest import workbook

pytestmark = pytest.mark.e2e  # real runs in processes: `make test-fast` leaves them out

BRIEFS = ["growth", "community", "cooperation", "overview"]


def _soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_quarterly_run_publishes_four_briefs_and_a_manifest(quarterly):
    folder = quarterly / "766" / "2025K1" / "kvartal"
    assert sorted(p.stem for p in (folder / "briefs").glob("*.html")) == sorted(BRIEFS)
    assert sorted(p.stem for p in (folder / "executed").glob("*.ipynb")) == sorted(BRIEFS)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["period"] == "2025K1" and manifest["cadence"] == "kvartal"
    assert [job["status"] for job in manifest["jobs"]] == ["ok"] * 4
    assert manifest["inputs"]["FOLK1AM"]["sha256"] == "dfb09b8848f55d8521744aef771cbcdd0673aab3be687f60f0ad8d8226ceb7d8"
    assert manifest["vintages"]["FOLK1AM"] == "2025M03"
    assert not list(quarterly.glob("2025K1/.kvartal.building-*")), "no temporary folder is left behind"


def test_executed_notebooks_keep_their_outputs_and_record_relative_paths(quarterly):
    """Written once when the notebook ends (run/engine.py), with every cell's outputs, and with the
    paths as the project names them rather than this machine's."""
    executed = nbformat.read(quarterly / "766/2025K1/kvartal/executed/growth.ipynb", as_version=4)
    recorded = executed.metadata["papermill"]
    assert (recorded["input_path"], recorded["output_path"]) == ("notebooks/growth.ipynb", "executed/growth.ipynb")
    assert recorded["exception"] is None and recorded["parameters"]["kommune"] == 766
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert all(cell.metadata["papermill"]["status"] == "completed" for cell in code)
    assert "48.167 indbyggere" in json.dumps(code[2].outputs, ensure_ascii=False)
    assert str(PROJECT_ROOT) not in nbformat.writes(executed)


@pytest.mark.parametrize("name", BRIEFS)
def test_each_brief_is_clean_danish_html(quarterly, name):
    soup = _soup(quarterly / "766" / "2025K1" / "kvartal" / "briefs" / f"{name}.html")
    assert soup.html["lang"] == "da"
    assert "Hedensted Kommune" in soup.title.text and "1. kvt. 2025" in soup.title.text
    assert soup.find("h1").text
    assert "48.167 indbyggere den 1. januar 2025" in soup.get_text()
    assert soup.find("script") is None
    assert not soup.select(".input_area, .output_error, .output_stderr, .jp-InputArea")
    assert "Traceback" not in soup.get_text()
    for tag in soup.find_all(src=True):
        assert tag["src"].startswith("data:image/png;base64,"), "no external requests"
    assert soup.find("link") is None
    for image in soup.find_all("img"):
        assert len(image["alt"]) > 40


def test_quarterly_growth_brief_carries_every_indicator_with_figures(quarterly):
    """A quarterly brief shows the quarterly figures, and an annual statistic with the latest
    complete year's figure, marked with its year, judged on the annual series."""
    soup = _soup(quarterly / "766" / "2025K1" / "kvartal" / "briefs" / "growth.html")
    rows = _table_rows(soup)
    assert list(rows) == [
        "Folketal",
        "Befolkningsvækst mod sammenlignelige kommuner",
        "Tilflyttere pr. fraflytter, 18-36 år",
        "Beskæftigelsesfrekvens, 16-64 år",
    ]
    assert rows["Folketal"][:5] == [
        "48.167 1. jan. 2025",
        "+213",
        "+442 (+0,9\u00a0%)",
        "Flere borgere",
        "✔ På rette vej",
    ]
    assert rows["Befolkningsvækst mod sammenlignelige kommuner"][5] == "Nr. 2 af 24; gns. for de andre 0,2\u00a0%"
    assert rows["Tilflyttere pr. fraflytter, 18-36 år"][:2] == ["1,03 2024", "-"]  # the 2024 movers, no quarter before
    assert rows["Tilflyttere pr. fraflytter, 18-36 år"][4] == "✘ Ikke på rette vej"
    assert rows["Beskæftigelsesfrekvens, 16-64 år"][0] == "82,2\u00a0% 2021"
    assert "1.431 18-36-årige" in soup.get_text()
    assert len(soup.find_all("img")) == 4
    assert "Opgøres årligt" not in soup.get_text()


def test_annual_growth_brief_shows_real_numbers_against_the_group(annual):
    soup = _soup(annual / "briefs" / "growth.html")
    assert "Årlig opfølgning · 2024" in soup.select_one("p.meta").text
    rows = _table_rows(soup)
    assert rows["Folketal"][:2] == ["48.167 1. jan. 2025", "+442 (+0,9\u00a0%)"]
    assert rows["Befolkningsvækst mod sammenlignelige kommuner"][0] == "0,9\u00a0% 1. jan. 2024-1. jan. 2025"
    assert rows["Tilflyttere pr. fraflytter, 18-36 år"][0] == "1,03 2024"
    assert "Mindst 1,10 i 2022" in rows["Tilflyttere pr. fraflytter, 18-36 år"][2]
    assert rows["Tilflyttere pr. fraflytter, 18-36 år"][3] == "✘ Ikke på rette vej"
    assert rows["Beskæftigelsesfrekvens, 16-64 år"][0] == "82,2\u00a0% 2021"
    assert len(soup.find_all("img")) == 4
    assert "1.431 18-36-årige" in soup.get_text() and "1.385 flyttede den anden vej" in soup.get_text()
    assert "Målet på 1,10 i 2022 blev ikke nået: tallet var 1,03 i 2024" in soup.get_text()
    flows = soup.select("section#movers_18_36 table tbody tr")
    assert [row.th.text for row in flows[:3]] == ["Horsens", "Vejle", "Aarhus"]


def test_annual_run_makes_a_brief_per_committee(annual):
    names = sorted(p.stem for p in (annual / "briefs").glob("udvalg-*.html"))
    assert names == [
        "udvalg-beskaeftigelse",
        "udvalg-laering",
        "udvalg-oekonomiudvalget",
        "udvalg-social-omsorg",
        "udvalg-vtf",
    ]
    soup = _soup(annual / "briefs" / "udvalg-beskaeftigelse.html")
    assert soup.h1.text == "Udvalgsbrief: Beskæftigelse"
    assert "Arbejde er vejen til uddannelse for flere unge" in soup.select_one("section.focus-areas").text
    assert list(_table_rows(soup)) == ["Beskæftigelsesfrekvens, 16-64 år"]


def _table_rows(soup: BeautifulSoup) -> dict[str, list[str]]:
    rows = soup.select("section.indicator-table tbody tr")
    return {row.th.text: [td.get_text(" ", strip=True) for td in row.find_all("td")] for row in rows}


def test_theme_without_data_says_so_without_numbers(quarterly, annual):
    soup = _soup(annual / "briefs" / "community.html")
    text = soup.get_text(" ", strip=True)
    assert "Der er endnu ingen tal for briefens indikatorer; nederst står, hvor de skal komme fra." in text
    assert "Det mangler vi tal for (7)" in text
    assert (
        soup.select_one("section.missing details") is not None
        and "open" not in soup.select_one("section.missing details").attrs
    )
    assert soup.find("img") is None
    assert soup.select("section.indicator-table table") == []
    quarterly_text = _soup(quarterly / "766" / "2025K1" / "kvartal" / "briefs" / "community.html").get_text()
    assert "Det mangler vi tal for (7)" in quarterly_text
    assert "Sygefravær blandt kommunens ansatte" in quarterly_text


def test_overview_gathers_the_themes_that_have_figures(quarterly):
    """Only sigtepunkter with figures get a section: none only says it is empty; what is missing
    is one collapsed list at the end."""
    soup = _soup(quarterly / "766" / "2025K1" / "kvartal" / "briefs" / "overview.html")
    headings = [h.text for h in soup.select("section.indicator-table h3")]
    assert headings == ["Vækst i balance"]
    assert len(soup.find_all("img")) == 1
    assert "ingen data" not in soup.get_text().lower() or "Det mangler vi tal for" in soup.get_text()
    missing = soup.select_one("section.missing details")
    assert "Sygefravær blandt kommunens ansatte" in missing.get_text()


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--cadence", "kvartal", "--period", "2025K5"],
            "error: --period 2025K5: '2025K5' is not a quarter like 2025K1 (K1-K4) for --cadence kvartal",
        ),
        (
            ["--cadence", "kvartal", "--period", "2026K1"],
            "error: --period 2026K1: no population data for it; periods on disk for --cadence kvartal run 2021K4 to 2025K1",
        ),
        (
            ["--cadence", "aar", "--period", "2024K1"],
            "error: --period 2024K1: '2024K1' is not a year like 2024 for --cadence aar",
        ),
    ],
)
def test_bad_period_gets_one_line_and_changes_nothing(quarterly, args, message):
    before = _digests(quarterly)
    done = workbook("run", *args, "--outputs", str(quarterly))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == message
    assert "Traceback" not in done.stderr
    assert _digests(quarterly) == before


def test_missing_table_gets_one_line(tmp_path):
    (tmp_path / "statbank").mkdir()
    done = workbook("run", "--cadence", "kvartal", "--data", str(tmp_path), "--outputs", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: table FOLK1AM (Befolkningen den 1. i måneden) is missing")
    assert "data/raw/statbank/FOLK1AM.csv" in done.stderr
    assert not (tmp_path / "out").exists()


def test_papermill_with_a_numeric_period_runs_the_notebook(tmp_path):
    output = tmp_path / "growth-2023.ipynb"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            "notebooks/growth.ipynb",
            str(output),
            "-p",
            "cadence",
            "aar",
            "-p",
            "period",
            "2023",
            "--kernel",
            "python3",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    notebook = nbformat.read(output, as_version=4)
    html = "".join(o.get("data", {}).get("text/html", "") for c in notebook.cells for o in c.get("outputs", []))
    assert "Årlig opfølgning · 2023" in html
    assert "47.725 indbyggere den 1. januar 2024" in html

"""The analyst's workbook: every number of a brief as a DataFrame in the executed notebook (and
never in the HTML brief), the numbers out as Excel and CSV, manual data in from Excel, one
brief from one notebook, and the notebooks in JupyterLab's kernel on their defaults."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from openpyxl import Workbook, load_workbook

from analysis.paths import PROJECT_ROOT, SNAPSHOT_DIR

from conftest import HEDENSTED, workbook

pytestmark = pytest.mark.e2e  # real runs in processes: `make test-fast` leaves them out


def test_the_executed_notebook_holds_every_number_and_the_brief_none_of_the_analyst_cells(quarterly):
    folder = quarterly / "766" / "2025K1" / "kvartal"
    notebook = nbformat.read(folder / "executed/growth.ipynb", as_version=4)
    analyst = [
        cell for cell in notebook.cells if "analyst" in cell.metadata.get("tags", []) and cell.cell_type == "code"
    ]
    tables = [
        output["data"]["text/html"]
        for cell in analyst
        for output in cell.outputs
        if "text/html" in output.get("data", {})
    ]
    assert len(tables) >= 4 and all('<table class="dataframe analyst-table">' in table for table in tables)
    table = BeautifulSoup(tables[0], "html.parser")
    rows = {
        row.find_all(["th", "td"])[1].get_text(strip=True): [c.get_text(strip=True) for c in row.find_all("td")]
        for row in table.select("tbody tr")
    }
    assert "48.167" in rows["Folketal"] and "2025M01" in rows["Folketal"]
    assert "0,926" in rows["Befolkningsvækst mod sammenlignelige kommuner"]
    assert "2" in rows["Befolkningsvækst mod sammenlignelige kommuner"]  # its rank among the 24
    group = BeautifulSoup(tables[2], "html.parser")  # the compared municipalities' growth, one column each
    assert "Hedensted" in group.get_text() and "Odder" in group.get_text()
    html = (folder / "briefs/growth.html").read_text(encoding="utf-8")
    assert "The brief's indicators" not in html
    assert "Median for de andre" not in html and "analyst-table" not in html  # no analyst table


def test_the_numbers_come_out_as_excel_and_csv(quarterly):
    folder = quarterly / "766" / "2025K1" / "kvartal"
    book = load_workbook(folder / f"tal-{HEDENSTED}.xlsx")
    assert book.sheetnames == ["Vækst", "Fællesskaber", "Samarbejde", "Kilder"]
    rows = list(book["Vækst"].iter_rows(values_only=True))
    header = rows[0]
    assert header[:4] == ("Indikator", "Id", "Kommunekode", "Kommune")
    population = next(r for r in rows if r[1] == "population" and r[2] == HEDENSTED and r[4] == "2025M01")
    value = population[header.index("Tal")]
    assert value == 48167 and isinstance(value, (int, float))  # a number, not text
    assert population[header.index("Placering")] == 5  # by size among the 24 oplandskommuner
    assert len({r[2] for r in rows[1:]}) == 24, "every municipality of the comparison group"
    sources = {r[0]: r for r in book["Kilder"].iter_rows(values_only=True)}
    assert sources["FOLK1AM"][4] == "dfb09b8848f55d8521744aef771cbcdd0673aab3be687f60f0ad8d8226ceb7d8"
    assert sources["FOLK1AM"][5] == "Kilde: Danmarks Statistik, statistikbanken.dk/FOLK1AM"
    text = (folder / f"tal-{HEDENSTED}.csv").read_text(encoding="utf-8-sig")
    assert "Folketal;population;766;Hedensted;2025M01;2025-01-01;2025-01-01;48167" in text
    brief = BeautifulSoup((folder / "briefs/growth.html").read_text(encoding="utf-8"), "html.parser")
    links = {a["href"] for a in brief.find_all("a")}
    assert f"../tal-{HEDENSTED}.xlsx" in links and f"../tal-{HEDENSTED}.csv" in links
    assert all((folder / "briefs" / link).resolve().is_file() for link in links if link.startswith("../tal-"))


def _data_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir(parents=True)
    for name in ("statbank", "noegletal", "classifications"):
        (folder / name).symlink_to(SNAPSHOT_DIR / name)
    (folder / "manual").mkdir()
    return folder


def _brief(folder: Path):
    from analysis.report.brief import open_brief

    return open_brief(
        theme="cooperation",
        period="2024",
        cadence="aar",
        kommune=766,
        comparison_group="kommunegruppe",
        strategy_period="sigtepunkter-2022-2025",
        data=str(folder),
    )


def _workbook(path: Path, rows: list[list]) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = "Sagsbehandling"
    for row in rows:
        sheet.append(row)
    book.save(path)


ROWS = [
    ["indicator", "kommune", "period", "value", "note"],
    ["building_permit_time", 766, 2022, 58, "Byggesager"],
    ["building_permit_time", 766, 2023, 47.5, None],
    ["building_permit_time", 766, 2024, 36, None],
]


def test_a_manual_excel_file_gives_the_same_brief_as_the_csv(tmp_path):
    csv_folder = _data_folder(tmp_path / "csv")
    (csv_folder / "manual/processing_time.csv").write_text(
        "indicator;kommune;period;value;note\nbuilding_permit_time;766;2022;58;Byggesager\n"
        "building_permit_time;766;2023;47,5;\nbuilding_permit_time;766;2024;36;\n",
        encoding="utf-8",
    )
    xlsx_folder = _data_folder(tmp_path / "xlsx")
    _workbook(xlsx_folder / "manual/processing_time.xlsx", ROWS)
    from_csv, from_xlsx = _brief(csv_folder), _brief(xlsx_folder)
    assert from_xlsx.indicators_html() == from_csv.indicators_html()
    assert from_xlsx.indicator_table_html() == from_csv.indicator_table_html()
    assert "36\u00a0dage" in from_xlsx.indicator_table_html()


def test_a_bad_value_in_an_excel_file_names_the_sheet_row_and_column(tmp_path):
    from analysis.errors import WorkbookError

    folder = _data_folder(tmp_path)
    bad = [row[:] for row in ROWS]
    bad[2][3] = "fyrre"
    _workbook(folder / "manual/processing_time.xlsx", bad)
    with pytest.raises(WorkbookError) as caught:
        _brief(folder)
    assert str(caught.value).endswith(
        "processing_time.xlsx sheet Sagsbehandling row 3, column value: 'fyrre'; expected a number"
    )


def test_the_templates_ship_as_excel_with_the_csv_columns():
    templates = PROJECT_ROOT / "data/raw/manual/templates"
    for csv_template in templates.glob("*.csv"):
        header = csv_template.read_text(encoding="utf-8").splitlines()[0].split(";")
        sheet = load_workbook(templates / f"{csv_template.stem}.xlsx").worksheets[0]
        assert [c.value for c in sheet[1]] == header, csv_template.stem


def test_one_brief_from_one_notebook_as_a_run_makes_it(quarterly, tmp_path):
    """The README's command, with other parameters; the brief's sections are the run's own for the same ones."""
    output = tmp_path / "growth-2025K1.html"
    done = workbook(
        "brief", "notebooks/growth.ipynb", "-p", "period", "2025K1", "-p", "cadence", "kvartal", "--output", str(output)
    )
    assert done.returncode == 0, done.stderr
    assert output.with_suffix(".ipynb").is_file()
    made = BeautifulSoup(output.read_text(encoding="utf-8"), "html.parser")
    run = BeautifulSoup(
        (quarterly / "766/2025K1/kvartal/briefs/growth.html").read_text(encoding="utf-8"), "html.parser"
    )
    for section in ("section.indicator-table", "section.summary", "section.sources"):
        assert str(made.select_one(section)) == str(run.select_one(section)), section
    other = workbook(
        "brief",
        "notebooks/growth.ipynb",
        "-p",
        "comparison_group",
        "Landkommuner",
        "-p",
        "cadence",
        "aar",
        "-p",
        "period",
        "2024",
        "--output",
        str(tmp_path / "land.html"),
    )
    assert other.returncode == 0, other.stderr
    assert "Blandt Hedensted og 31 landkommuner" in (tmp_path / "land.html").read_text(encoding="utf-8")


def test_run_takes_every_notebook_parameter_as_an_option(tmp_path):
    done = workbook(
        "run",
        "--cadence",
        "aar",
        "--period",
        "2024",
        "--only",
        "growth",
        "--comparison-group",
        "naboer",
        "--strategy-period",
        "strategi-2022",
        "--outputs",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "766/2024/aar/manifest.json").read_text())
    assert manifest["parameters"]["comparison_group"] == "naboer"
    assert manifest["parameters"]["strategy_period"] == "strategi-2022"
    html = (tmp_path / "766/2024/aar/briefs/growth.html").read_text(encoding="utf-8")
    assert "Strategi 2022" in html and "Blandt Hedensted og 2 nabokommuner" in html
    wrong = workbook("run", "--cadence", "aar", "--strategy-period", "2030")
    assert wrong.returncode == 2 and "--strategy-period 2030: unknown; expected one of" in wrong.stderr


def test_make_lab_registers_the_kernel_and_every_notebook_runs_on_its_defaults(tmp_path):
    """`make lab` registers the .venv as the kernel the notebooks name; each notebook then runs top
    to bottom in it, as JupyterLab runs it, with the parameters it is committed with."""
    import papermill

    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    register = next(
        line.strip().replace("$(BIN)/", "") for line in makefile.splitlines() if "ipykernel install" in line
    )
    import shlex

    command = shlex.split(register.split(">")[0])
    subprocess.run([sys.executable, *command[1:]], check=True, capture_output=True)
    for notebook in sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb")):
        kernel = json.loads(notebook.read_text())["metadata"]["kernelspec"]["name"]
        assert kernel == "strategy-workbook"
        executed = papermill.execute_notebook(
            str(notebook), str(tmp_path / notebook.name), cwd=str(notebook.parent), progress_bar=False
        )
        assert executed.metadata.papermill.exception is None, notebook.name
        shown = [o for cell in executed.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
        assert any("text/html" in o.get("data", {}) for o in shown), notebook.name
        assert not any(o.get("output_type") == "error" for o in shown), notebook.name

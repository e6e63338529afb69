"""Runs that are right for whoever runs them: the strategy period by date (the current vision
included), every municipality's briefs in their own place and mailed only to its own
committees, targets only where they are the municipality's own, groups said right, numbers
that distinguish, and quiet logs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

from analysis import params
from analysis.paths import PROJECT_ROOT
from analysis.report import fmt

from conftest import copy_project, in_a_process, in_process

pytestmark = pytest.mark.e2e  # real runs in processes: `make test-fast` leaves them out


def run(*args: str, cwd: Path = PROJECT_ROOT, env: dict | None = None, process: bool = False):
    """The command line in `cwd` with `env` added: in this process, or in a process of its own
    for a test that reads everything the run and its kernels print."""
    return (in_a_process if process else in_process)(*args, cwd=cwd, env=env)


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def rows(page: BeautifulSoup) -> dict[str, list[str]]:
    return {
        r.th.get_text(" ", strip=True): [td.get_text(" ", strip=True) for td in r.find_all("td")]
        for r in page.select("section.indicator-table tbody tr")
    }


def test_the_strategy_period_is_the_one_whose_years_hold_the_period():
    strategy = params.load_strategy()
    assert strategy.period_for(2026) == strategy.period_for(2029) == "vision-2026"
    assert (
        strategy.period_for(2025) == strategy.period_for(2022) == "sigtepunkter-2022-2025"
    )  # 2022 is in both: the later
    assert strategy.period_for(2019) == "strategi-2022"
    assert strategy.period_for(1995) == strategy.default_strategy_period
    assert [c.id for c in strategy.committees_of("vision-2026")] == [
        c.id for c in strategy.committees_of("sigtepunkter-2022-2025")
    ]


def test_runs_pick_the_strategy_period_by_date(annual, quarterly):
    for folder in (annual, quarterly / "766/2025K1/kvartal"):
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["parameters"]["strategy_period"] == "sigtepunkter-2022-2025"


@pytest.mark.parametrize("strategy_period", ["vision-2026", "strategi-2022"])
def test_every_strategy_period_makes_every_brief_of_both_cadences(tmp_path, strategy_period):
    for cadence, period in (("kvartal", "2025K1"), ("aar", "2024")):
        done = run(
            "run",
            "--cadence",
            cadence,
            "--period",
            period,
            "--strategy-period",
            strategy_period,
            "--outputs",
            str(tmp_path),
        )
        assert done.returncode == 0, done.stderr
        manifest = json.loads((tmp_path / f"766/{period}/{cadence}/manifest.json").read_text())
        assert manifest["parameters"]["strategy_period"] == strategy_period
        assert all(job["status"] == "ok" for job in manifest["jobs"])
    committees = sorted(p.stem for p in (tmp_path / "766/2024/aar/briefs").glob("udvalg-*.html"))
    expected = [f"udvalg-{c.id}" for c in params.load_strategy().committees_of(strategy_period)]
    assert committees == sorted(expected)
    if strategy_period == "vision-2026":
        growth = soup(tmp_path / "766/2024/aar/briefs/growth.html")
        notes = [p.get_text() for p in growth.select("p.note")]
        assert growth.h1.text == "Vækst og udvikling i balance"
        assert "Perioden (2024) ligger før Kommunalbestyrelsens vision (2026-2029) trådte i kraft" in notes[0]
        assert "Kommunalbestyrelsens vision sætter ikke selv tal på" in notes[1]
        assert "(mål fra Strategi 2022)" in rows(growth)["Tilflyttere pr. fraflytter, 18-36 år"][2]
        committee = soup(tmp_path / "766/2024/aar/briefs/udvalg-vtf.html")
        assert any(
            "Udvalgene og deres fokusområder er dem fra Strategi 2022-2025, indtil kommunalbestyrelsen udpeger nye"
            in p.get_text()
            for p in committee.select("p.note")
        )


def test_the_vision_as_default_runs_both_cadences(tmp_path):
    project = copy_project(tmp_path)
    path = project / "params/strategy.yml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "default_strategy_period: sigtepunkter-2022-2025", "default_strategy_period: vision-2026"
        ),
        encoding="utf-8",
    )
    env = {"WORKBOOK_ROOT": str(project)}
    for cadence in ("kvartal", "aar"):
        done = run(
            "run",
            "--cadence",
            cadence,
            "--only",
            "growth,overview,udvalg-vtf" if cadence == "aar" else "growth",
            cwd=project,
            env=env,
        )
        assert done.returncode == 0, done.stderr


def test_each_municipality_publishes_into_its_own_place_and_is_mailed_only_its_own(quarterly, tmp_path):
    shutil.copytree(quarterly, tmp_path, symlinks=True, dirs_exist_ok=True)  # Hedensted's run, published
    done = run("run", "--cadence", "kvartal", "--kommune", "615", "--only", "overview", "--outputs", str(tmp_path))
    assert done.returncode == 0, done.stderr
    hedensted, horsens = (soup(tmp_path / f"{k}/2025K1/kvartal/briefs/overview.html") for k in ("766", "615"))
    assert "48.167 indbyggere" in hedensted.get_text() and "Hedensted Kommune" in hedensted.title.text
    assert "97.921" in horsens.get_text() and "Horsens Kommune" in horsens.title.text
    refused = run("mail", "--run", str(tmp_path / "615/2025K1/kvartal"))
    assert refused.returncode == 2
    assert "the briefs are for kommune 615; the groups of params/recipients.yml are kommune 766's" in refused.stderr
    mailed = run("mail", "--run", str(tmp_path / "766/2025K1/kvartal"))
    assert mailed.returncode == 0, mailed.stderr
    eml = (tmp_path / "766/2025K1/kvartal/mail/kommunalbestyrelsen.eml").read_text(encoding="utf-8", errors="replace")
    assert "Hedensted" in eml and "Horsens Kommune ·" not in eml
    both = run(
        "run", "--cadence", "kvartal", "--kommune", "766,615", "--only", "growth", "--outputs", str(tmp_path / "both")
    )
    assert both.returncode == 0, both.stderr
    assert sorted(p.name for p in (tmp_path / "both").iterdir() if p.is_dir() and not p.name.startswith(".")) == [
        "615",
        "766",
    ]
    assert (tmp_path / "both/766/2025K1/kvartal/briefs/growth.html").is_file()


def test_another_municipality_is_not_judged_on_hedensteds_targets(tmp_path):
    done = run("run", "--cadence", "aar", "--period", "2024", "--kommune", "615", "--outputs", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "udvalg-vtf (615): left out; the committees are another council's" in done.stderr
    assert not list((tmp_path / "615/2024/aar/briefs").glob("udvalg-*"))
    growth = soup(tmp_path / "615/2024/aar/briefs/growth.html")
    text = growth.get_text()
    assert "Hedensted Kommune skal" not in text and "Vækst i balance" not in text
    assert (
        "Målene i arbejdsbogen er Hedensted Kommunes egne og vises ikke for Horsens Kommune; status siger her kun, "
        "om tallene bevæger sig i den retning, der er god."
    ) in text
    population = rows(growth)["Folketal"]
    assert population[2] == "Vises ikke" and population[3].endswith("På rette vej")  # it grew, and more is better


def test_a_municipality_can_have_its_own_strategy(tmp_path):
    """The README's recipe: params/kommuner/<kommunekode>/ with strategy.yml and targets.yml."""
    project = copy_project(tmp_path)
    folder = project / "params/kommuner/615"
    folder.mkdir(parents=True)
    (folder / "strategy.yml").write_text(
        """\
kommune: 615
kommune_name: Horsens Kommune
default_strategy_period: horsens-2024
documents:
  "H1": Horsens Kommunes vækststrategi (eksempel i testen)
strategy_periods:
  horsens-2024:
    name: Vækststrategi 2024-2027
    years: 2024-2027
    seeds: ["H1"]
    sigtepunkter:
      - {theme: growth, name: Flere i arbejde, description: Vækst i arbejdspladser og borgere.}
      - {theme: community, name: Stærke fællesskaber, description: Fællesskaber.}
      - {theme: cooperation, name: Enkel kommune, description: Samarbejde.}
    committees:
      - {id: erhverv, name: Erhvervsudvalget}
""",
        encoding="utf-8",
    )
    (folder / "targets.yml").write_text(
        """\
targets:
  population_growth:
    - strategy: horsens-2024
      kind: better_than_group
      label: Højere vækst end gennemsnittet
      quote: Væksten skal være højere end i sammenlignelige kommuner.
      seed: "H1"
""",
        encoding="utf-8",
    )
    done = run(
        "run",
        "--cadence",
        "aar",
        "--period",
        "2024",
        "--kommune",
        "615",
        "--only",
        "growth,udvalg",
        cwd=project,
        env={"WORKBOOK_ROOT": str(project)},
    )
    assert done.returncode == 0, done.stderr
    growth = soup(project / "outputs/615/2024/aar/briefs/growth.html")
    assert growth.h1.text == "Flere i arbejde" and not growth.select("p.note")
    table = rows(growth)
    assert table["Befolkningsvækst mod sammenlignelige kommuner"][2] == "Højere vækst end gennemsnittet"
    assert table["Folketal"][2] == "Intet mål"
    assert (project / "outputs/615/2024/aar/briefs/udvalg-erhverv.html").is_file()


def test_groups_are_said_right(tmp_path):
    from analysis.report.brief import open_brief

    land = open_brief(theme="growth", period="2024", cadence="aar", kommune=766, comparison_group="Landkommuner")
    assert land.comparison_sentence == "Sammenlignes med de 31 landkommuner (i Danmarks Statistiks kommunegrupper)"
    assert land.group_heading == "Blandt Hedensted og 31 landkommuner"
    own = open_brief(theme="growth", period="2024", cadence="aar", kommune=766, comparison_group="kommunegruppe")
    assert own.comparison_sentence.startswith("Sammenlignes med de 23 andre oplandskommuner")
    done = run(
        "run",
        "--cadence",
        "kvartal",
        "--only",
        "growth",
        "--comparison-group",
        "mest-lignende",
        "--outputs",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    header = soup(tmp_path / "766/2025K1/kvartal/briefs/growth.html").select_one("p.facts").get_text()
    assert (
        "Sammenlignes med de 10 mest lignende kommuner (beregnet som de mest lignende på folketal, vækst, "
        "befolkningstæthed og beskæftigelse): "
    ) in header
    for name in ("Rebild", "Favrskov", "Furesø", "Skanderborg"):
        assert name in header
    notebook = nbformat.read(tmp_path / "766/2025K1/kvartal/executed/growth.ipynb", as_version=4)
    shown = " ".join(
        o["data"].get("text/html", "") for c in notebook.cells for o in c.get("outputs", []) if "data" in o
    )
    assert "Rebild" in shown and "Indbyggere pr. km²" in shown and "Afstand" in shown


def test_numbers_that_would_read_the_same_get_one_more_decimal():
    assert fmt.pair(0.543, 0.458, "pct") == ("0,54\u00a0%", "0,46\u00a0%")
    assert fmt.pair(0.926, 0.238, "pct") == ("0,9\u00a0%", "0,2\u00a0%")
    assert fmt.pair(1.0, 1.0, "pct") == ("1,0\u00a0%", "1,0\u00a0%")
    assert fmt.pair(1.031, 1.034, "forhold") == ("1,031", "1,034")


def test_a_run_that_succeeds_logs_no_error(tmp_path):
    for _ in range(3):  # the kernels' shutdown logged ERROR now and then: three runs of two kernels
        done = run(
            "run",
            "--cadence",
            "kvartal",
            "--force",
            "--only",
            "growth,overview",
            "--outputs",
            str(tmp_path),
            process=True,
        )
        assert done.returncode == 0, done.stderr
        assert "ERROR" not in done.stderr and "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr

"""A corpus of bad inputs, each through the real command: one line naming the file, the place and
what was expected; exit code 2; no traceback; published outputs and raw files unchanged."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.paths import SNAPSHOT_DIR

from conftest import command, copy_project

pytestmark = pytest.mark.e2e  # real runs in processes: `make test-fast` leaves them out

FOLK1AM = (SNAPSHOT_DIR / "statbank" / "FOLK1AM.csv").read_bytes()
RAS200 = (SNAPSHOT_DIR / "statbank" / "RAS200.csv").read_bytes()
INDBYGGERE = (SNAPSHOT_DIR / "noegletal" / "indbygger_data.csv").read_bytes()
FLY66 = (SNAPSHOT_DIR / "statbank" / "FLY66.csv.gz").read_bytes()
RUN = ["run", "--cadence", "kvartal", "--only", "growth"]


def replace(text: bytes, old: bytes, new: bytes) -> bytes:
    assert old in text, old
    return text.replace(old, new, 1)


def edit(path: str, old: str, new: str):
    """An edit of a committed text file of the project copy."""
    return ("edit", path, old, new)


CASES = {
    # raw data
    "renamed header": (
        {"data/raw/statbank/FOLK1AM.csv": replace(FOLK1AM, "OMRÅDE".encode(), b"OMRAADE")},
        RUN,
        "data/raw/statbank/FOLK1AM.csv line 1: header OMRAADE;TID;INDHOLD; expected OMRÅDE;TID;INDHOLD",
    ),
    "missing column": (
        {"data/raw/statbank/RAS200.csv": RAS200.replace(b";INDHOLD", b"")},
        RUN,
        "data/raw/statbank/RAS200.csv line 1: header",
    ),
    "text in a number": (
        {"data/raw/statbank/FOLK1AM.csv": replace(FOLK1AM, b"Hedensted;2025M01;48167", b"Hedensted;2025M01;mange")},
        RUN,
        "column INDHOLD: 'mange'; expected a number with decimal comma",
    ),
    "two commas in a number": (
        {"data/raw/statbank/RAS200.csv": replace(RAS200, b"Hedensted;2021;82,2", b"Hedensted;2021;8,2,2")},
        RUN,
        "data/raw/statbank/RAS200.csv line",
    ),
    "truncated line": (
        {"data/raw/statbank/FOLK1AM.csv": FOLK1AM[:-9]},
        RUN,
        "column INDHOLD: empty cell (a truncated line?)",
    ),
    "empty file": ({"data/raw/statbank/FOLK1AM.csv": b""}, RUN, "data/raw/statbank/FOLK1AM.csv: the file is empty"),
    "wrong encoding": (
        {"data/raw/statbank/FOLK1AM.csv": FOLK1AM.decode("utf-8-sig").encode("latin-1")},
        RUN,
        "data/raw/statbank/FOLK1AM.csv: byte 3 is not valid utf-8",
    ),
    "truncated gzip": (
        {"data/raw/statbank/FLY66.csv.gz": FLY66[: len(FLY66) // 3]},
        RUN,
        "data/raw/statbank/FLY66.csv.gz: not a complete gzip file",
    ),
    "html page saved as csv": (
        {"data/raw/statbank/FOLK1AM.csv": b"<!DOCTYPE html><html><body>Fejl 503</body></html>"},
        RUN,
        "data/raw/statbank/FOLK1AM.csv: holds an HTML page, not data",
    ),
    "unknown area": (
        {"data/raw/statbank/FOLK1AM.csv": replace(FOLK1AM, b"Hedensted;2021M10", b"Hedenstad;2021M10")},
        RUN,
        "column OMRÅDE: unknown area 'Hedenstad'",
    ),
    "month 13": (
        {"data/raw/statbank/FOLK1AM.csv": replace(FOLK1AM, b"Hedensted;2021M10", b"Hedensted;2021M13")},
        RUN,
        "column TID: '2021M13' is not a month like 2025M03",
    ),
    "quarter 5 in an annual table": (
        {"data/raw/statbank/RAS200.csv": replace(RAS200, b"Hedensted;2021", b"Hedensted;2025K5")},
        RUN,
        "column TID: '2025K5' is not a year like 2024",
    ),
    "conflicting duplicate rows": (
        {"data/raw/statbank/FOLK1AM.csv": FOLK1AM + b"Hedensted;2025M01;48170\r\n"},
        RUN,
        "the same area/period appears twice",
    ),
    "negative count": (
        {"data/raw/statbank/FOLK1AM.csv": replace(FOLK1AM, b"Hedensted;2025M01;48167", b"Hedensted;2025M01;-48167")},
        RUN,
        "column INDHOLD: -48167; a count cannot be negative",
    ),
    "noegletal bad cell": (
        {"data/raw/noegletal/indbygger_data.csv": replace(INDBYGGERE, b"47.609", b"47,6,09")},
        RUN,
        "data/raw/noegletal/indbygger_data.csv line 86, column 2023: '47,6,09'",
    ),
    "gzip of the wrong table": (
        {"data/raw/statbank/FLY66.csv.gz": gzip.compress(FOLK1AM)},
        RUN,
        "data/raw/statbank/FLY66.csv.gz line 1: header OMRÅDE;TID;INDHOLD; expected TILKOMMUNE;",
    ),
    # params
    "invalid yaml": (
        {"params/runs.yml": b"cadences:\n  kvartal: [\n"},
        RUN,
        "params/runs.yml line 3, column 1: invalid YAML",
    ),
    "unknown key": (
        edit("params/indicators.yml", "    polarity: higher\n", "    polarity: higher\n    colour: red\n"),
        RUN,
        "params/indicators.yml: indicators[0] (id population): unknown key 'colour'",
    ),
    "unknown committee": (
        edit("params/indicators.yml", "committees: [beskaeftigelse]", "committees: [kultur]"),
        RUN,
        "params/indicators.yml: indicator employment_rate: unknown committee 'kultur'",
    ),
    "duplicate ids": (
        edit("params/indicators.yml", "  - id: population_growth\n", "  - id: population\n"),
        RUN,
        "params/indicators.yml: top level: Value error, duplicate indicator id 'population'",
    ),
    "target without a year": (
        edit("params/indicators.yml", "        value: 55\n        year: 2022\n", "        value: 55\n"),
        RUN,
        "params/indicators.yml: indicators[4] (id families_with_children).targets[0]: Value error, a level target needs year",
    ),
    "unknown comparison group": (
        {},
        [*RUN, "--comparison-group", "Byer"],
        "comparison_group 'Byer': unknown; expected one of",
    ),
    "unknown strategy period": (
        edit(
            "params/indicators.yml",
            "  - strategy: strategi-2022\n        kind: level",
            "  - strategy: strategi-2018\n        kind: level",
        ),
        RUN,
        "params/indicators.yml: indicator movers_18_36: unknown strategy period 'strategi-2018'",
    ),
    "duplicate job": (
        edit("params/runs.yml", "    - {name: community,", "    - {name: growth,"),
        RUN,
        "params/runs.yml: cadences.kvartal: duplicate job name 'growth'",
    ),
    "unknown job": (
        {},
        ["run", "--cadence", "kvartal", "--only", "vaekst"],
        "--only vaekst: no such job for cadence kvartal",
    ),
    # manual files
    "manual missing columns": (
        {"data/raw/manual/survey.csv": b"indicator;kommune;period;value\nloneliness;766;2021;9\n"},
        RUN,
        "data/raw/manual/survey.csv line 1: missing column(s) n",
    ),
    "manual out of range": (
        {"data/raw/manual/share.csv": b"indicator;kommune;period;value\nreturning_residents;766;2024;140\n"},
        RUN,
        "data/raw/manual/share.csv line 2, column value: 140 is out of range; expected 0 to 100",
    ),
    "survey without sample size": (
        {"data/raw/manual/survey.csv": b"indicator;kommune;period;value;n\nloneliness;766;2021;9;\n"},
        RUN,
        "data/raw/manual/survey.csv line 2, column n: a survey share needs its sample size",
    ),
    "manual unknown indicator": (
        {"data/raw/manual/count.csv": b"indicator;kommune;period;value\nklager;766;2024;5\n"},
        RUN,
        "data/raw/manual/count.csv line 2, column indicator: unknown indicator 'klager'",
    ),
    "qualitative unknown author": (
        {"data/raw/manual/kvalitativ.csv": b"period;theme;committee;author;text\n2025K1;growth;;borgmester;Godt\n"},
        RUN,
        "data/raw/manual/kvalitativ.csv line 2, column author: 'borgmester'; expected udvalg or analytiker",
    ),
    # notebooks
    "no parameters cell": (
        edit("notebooks/growth.ipynb", '"parameters"', '"settings"'),
        RUN,
        "notebooks/growth.ipynb: 0 cells tagged 'parameters'; expected exactly one",
    ),
    "unknown notebook parameter": (
        edit("notebooks/growth.ipynb", 'period = \\"latest\\"', 'periode = \\"latest\\"'),
        RUN,
        "notebooks/growth.ipynb: parameter 'periode' is not one a run gives",
    ),
    # the command line
    "quarter 5": (
        {},
        ["run", "--cadence", "kvartal", "--period", "2025K5"],
        "--period 2025K5: '2025K5' is not a quarter like 2025K1 (K1-K4) for --cadence kvartal",
    ),
    "unknown cadence": ({}, ["run", "--cadence", "uge"], "argument --cadence: invalid choice: 'uge'"),
    "no such data folder": ({}, [*RUN, "--data", "/nonexistent/folder"], "--data /nonexistent/folder: no such folder"),
    "missing table": (
        {"data/raw/empty/statbank/.keep": b""},
        [*RUN, "--data", "data/raw/empty"],
        "table FOLK1AM (Befolkningen den 1. i måneden) is missing: no statbank/FOLK1AM.csv in data/raw/empty/",
    ),
    "mail a run that does not exist": (
        {},
        ["mail", "--run", "outputs/2030K1/kvartal"],
        "--run outputs/2030K1/kvartal: no manifest.json",
    ),
}


def _digests(*folders: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def published(quarterly) -> Path:
    return quarterly / "766" / "2025K1" / "kvartal"


# These few go through a real process, as a user's shell starts it; the rest call cli.main in
# this process, on a copy of the project, which is what the process does after starting.
IN_A_PROCESS = [
    "renamed header",
    "invalid yaml",
    "no parameters cell",
    "unknown cadence",
    "mail a run that does not exist",
]


def _broken_project(case: str, tmp_path: Path, published: Path) -> Path:
    """A copy of the project with the run published and the snapshot ingested, then the case's change."""
    change = CASES[case][0]
    project = copy_project(tmp_path)
    shutil.copytree(published, project / "outputs" / "766" / "2025K1" / "kvartal")
    if isinstance(change, tuple):
        _kind, path, old, new = change
        text = (project / path).read_text(encoding="utf-8")
        assert old in text, old
        (project / path).write_text(text.replace(old, new, 1), encoding="utf-8")
    else:
        for path, content in change.items():
            (project / path).parent.mkdir(parents=True, exist_ok=True)
            (project / path).write_bytes(content)
    return project


def _assert_one_clear_line(case: str, code: int, stderr: str) -> None:
    assert code == 2, (case, stderr)
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and CASES[case][2] in last, (case, stderr)
    assert "Traceback" not in stderr


@pytest.mark.parametrize("case", [case for case in CASES if case not in IN_A_PROCESS])
def test_bad_input_gets_one_clear_line(case, tmp_path, published):
    project = _broken_project(case, tmp_path, published)
    before = _digests(project / "outputs", project / "data" / "raw")
    code, stderr = command(project, *CASES[case][1])
    _assert_one_clear_line(case, code, stderr)
    assert _digests(project / "outputs", project / "data" / "raw") == before


@pytest.mark.parametrize("case", IN_A_PROCESS)
def test_bad_input_through_a_real_process_gets_one_clear_line(case, tmp_path, published):
    project = _broken_project(case, tmp_path, published)
    before = _digests(project / "outputs", project / "data" / "raw")
    done = subprocess.run(
        [sys.executable, "-m", "analysis", *CASES[case][1]],
        cwd=project,
        env={**os.environ, "WORKBOOK_ROOT": str(project)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    _assert_one_clear_line(case, done.returncode, done.stderr)
    assert _digests(project / "outputs", project / "data" / "raw") == before


def test_debug_shows_the_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "analysis", "--debug", "run", "--cadence", "kvartal", "--period", "2025K5"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "Traceback" in done.stderr and "WorkbookError" in done.stderr


def test_check_reports_every_problem_in_one_pass(tmp_path):
    broken = tmp_path / "data"
    shutil.copytree(SNAPSHOT_DIR, broken)
    for path in broken.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (broken / "statbank" / "FOLK1AM.csv").unlink()
    (broken / "statbank" / "RAS200.csv").write_bytes(b"<html>503</html>")
    (broken / "noegletal" / "indbygger_data.csv").write_bytes(replace(INDBYGGERE, b"47.609", b"47,6,09"))
    (broken / "manual").mkdir()
    (broken / "manual" / "survey.csv").write_text("indicator;kommune;period;value;n\nloneliness;766;2021;9;\n")
    done = subprocess.run(
        [sys.executable, "-m", "analysis", "check", "--data", str(broken)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 4
    assert errors[0].startswith("error: table FOLK1AM (Befolkningen den 1. i måneden) is missing")
    assert "RAS200.csv: holds an HTML page" in errors[1]
    assert "indbygger_data.csv line 86, column 2023" in errors[2]
    assert "survey.csv line 2, column n" in errors[3]
    assert done.stderr.strip().endswith("check: 4 problem(s)")


def test_an_unwritable_outputs_folder_fails_cleanly(tmp_path):
    blocker = tmp_path / "outputs"
    blocker.write_text("a file where the outputs folder should be")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "run",
            "--cadence",
            "kvartal",
            "--only",
            "growth",
            "--outputs",
            str(blocker),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert (
        last.startswith(f"error: {blocker}") and "Not a directory" in last and "nothing published was changed" in last
    )
    assert "Traceback" not in done.stderr

"""docs/adding-an-indicator.md, followed literally on a temporary copy of the project: the YAML
blocks appended to the params files they name, the commands run as the guide gives them (the
Statbank API is the local one of statbank_server.py, serving TEST DATA)."""

from __future__ import annotations

import csv
import io
import re
import shutil

import pytest
from bs4 import BeautifulSoup

from analysis.paths import PROJECT_ROOT, SNAPSHOT_DIR

from conftest import copy_project, in_process
from statbank_server import HEDENSTED, figure, municipalities, serve

pytestmark = pytest.mark.e2e  # real runs in processes: `make test-fast` leaves them out

DOC = PROJECT_ROOT / "docs" / "adding-an-indicator.md"


def _blocks(language: str) -> list[str]:
    """The fenced code blocks of the guide in one language ('' for a plain fence), in order."""
    blocks, current, open_language = [], [], None
    for line in DOC.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("```"):
            if open_language is None:
                open_language, current = line[3:].strip(), []
            else:
                if open_language == language:
                    blocks.append("".join(current))
                open_language = None
        elif open_language is not None:
            current.append(line)
    return blocks


def _apply(copy, block: str) -> None:
    """A YAML block starts with a comment naming its file: append it there."""
    target = block.splitlines()[0].removeprefix("# ").split(",")[0]
    with (copy / target).open("a", encoding="utf-8") as handle:
        handle.write(block)


def _rows(path) -> dict[str, list[str]]:
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    return {
        r.th.text: [td.get_text(" ", strip=True) for td in r.find_all("td")]
        for r in soup.select("section.indicator-table tbody tr")
    }


def test_following_the_guide_puts_both_new_indicators_in_the_brief(tmp_path):
    copy = copy_project(tmp_path)
    yaml_blocks = _blocks("yaml")
    commands = [line for block in _blocks("") for line in block.splitlines() if line.startswith("python -m analysis")]
    assert [b.splitlines()[0].split(",")[0] for b in yaml_blocks] == [
        "# params/sources.yml",
        "# params/queries.yml",
        "# params/indicators.yml",
        "# params/indicators.yml",
        "# params/units.yml",
    ]

    with serve() as server:
        env = {"WORKBOOK_ROOT": str(copy), "WORKBOOK_STATBANK_URL": server.url}

        def run(command: str):
            done = in_process(*command.split()[3:], cwd=copy, env=env)  # python -m analysis <args>
            assert done.returncode == 0, (command, done.stderr)

        # Part A: three YAML entries and two commands; no Python.
        for block in yaml_blocks[:3]:
            _apply(copy, block)
        run(commands[0])  # fetch --only AUP02
        assert [r["table"] for r in server.requests] == ["AUP02"]
    run(commands[1])  # the quarterly run, in this process: forked with no server thread beside it
    named = re.findall(r"`(outputs/[^`]+\.html)`", DOC.read_text(encoding="utf-8"))  # where the guide says to look
    assert named == ["outputs/766/2025K1/kvartal/briefs/growth.html", "outputs/766/2024/aar/briefs/growth.html"]
    rows = _rows(copy / named[0])
    codes = {name: code for code, name in municipalities()}
    text = (SNAPSHOT_DIR / "classifications" / "komgrp.csv").read_text(encoding="utf-8-sig")
    komgrp = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    first = next(i for i, r in enumerate(komgrp) if r["TITEL"] == "Oplandskommuner")
    group = [r["KODE"].zfill(3) for r in komgrp[first + 1 : first + 25]]
    rates = {k: figure("AUP02", {"OMRÅDE": k, "ALDER": "TOT", "KØN": "TOT", "Tid": "2024M12"}) for k in group}
    lowest_first = sorted(rates.values())
    mean = sum(v for k, v in rates.items() if k != HEDENSTED) / 23
    before = figure("AUP02", {"OMRÅDE": HEDENSTED, "ALDER": "TOT", "KØN": "TOT", "Tid": "2024M09"})
    row = rows["Ledighed"]
    assert codes["Hedensted"] == HEDENSTED and len(group) == 24
    assert row[0] == f"{rates[HEDENSTED]:.1f}\u00a0% december 2024".replace(".", ",")
    difference = round(rates[HEDENSTED] - before, 1)
    sign = "+" if difference > 0 else "\u2212" if difference < 0 else ""
    assert row[1] == f"{sign}{abs(difference):.1f}".replace(".", ",") + "\u00a0pct.-point"
    assert row[3:5] == ["Intet mål", "– Intet mål"]
    assert row[5] == (
        f"Nr. {lowest_first.index(rates[HEDENSTED]) + 1} af 24; gns. for de andre "
        + f"{mean:.1f}".replace(".", ",")
        + "\u00a0%"
    )

    # Part B: the indicator and its new unit, its manual file from the template, and the annual run.
    _apply(copy, yaml_blocks[3])
    _apply(copy, yaml_blocks[4])
    (csv_block,) = _blocks("csv")
    shutil.copy(copy / "data/raw/manual/templates/count.csv", copy / "data/raw/manual/count.csv")
    (copy / "data/raw/manual/count.csv").write_text(csv_block, encoding="utf-8")
    done = in_process(
        *commands[2].split()[3:], "--outputs", str(tmp_path / "out"), cwd=copy, env={"WORKBOOK_ROOT": str(copy)}
    )
    assert done.returncode == 0, done.stderr
    cells = _rows(tmp_path / "out" / named[1].removeprefix("outputs/"))["Nye udstykninger"]
    assert cells[:3] == ["70\u00a0grunde 2024", "+7\u00a0grunde", "Flere udstykninger"]
    assert cells[3] == "✔ På rette vej"
    assert "Eksempeldata" not in " ".join(cells)
    assert not (PROJECT_ROOT / "data/raw/statbank/AUP02.csv").exists(), "the guide was followed on the copy only"

"""docs/adding-an-indicator.md, followed step by step on a temporary copy of the project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from bs4 import BeautifulSoup

from analysis.paths import PROJECT_ROOT

from conftest import copy_project

DOC = PROJECT_ROOT / "docs" / "adding-an-indicator.md"


def _blocks(language: str) -> list[str]:
    """The fenced code blocks of the guide in one language ('' for a plain fence)."""
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


def test_following_the_guide_puts_the_new_indicator_in_the_brief(tmp_path):
    copy = copy_project(tmp_path)

    # Steps 1 and 2: the indicator and its target.
    (yaml_block,) = _blocks("yaml")
    with (copy / "params" / "indicators.yml").open("a", encoding="utf-8") as registry:
        registry.write(yaml_block)
    # Step 3: the manual file, from the template.
    (csv_block,) = _blocks("csv")
    shutil.copy(copy / "data/raw/manual/templates/count.csv", copy / "data/raw/manual/count.csv")
    (copy / "data/raw/manual/count.csv").write_text(csv_block, encoding="utf-8")
    # Step 4: the command, as the guide gives it.
    command = next(block for block in _blocks("") if block.startswith("python -m analysis run"))
    done = subprocess.run([sys.executable, *command.split()[1:], "--outputs", str(tmp_path / "out")], cwd=copy,
                          env={**os.environ, "WORKBOOK_ROOT": str(copy)}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr

    soup = BeautifulSoup((tmp_path / "out/2024/aar/briefs/growth.html").read_text(encoding="utf-8"), "html.parser")
    row = next(r for r in soup.select("section.indicator-table tbody tr") if r.th.text.startswith("Nye udstykninger"))
    cells = [td.get_text(" ", strip=True) for td in row.find_all("td")]
    assert cells[:3] == ["70\u00a0grunde 2024", "+7\u00a0grunde", "Flere udstykninger"]
    assert cells[3] == "✔ På rette vej"
    assert "Eksempeldata" not in row.get_text()

"""The package's layout shows the flow, and imports run one way down it (src/analysis/__init__.py):
foundation -> data -> indicators -> report -> deliver -> run -> the command line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import analysis
from analysis.errors import WorkbookError

PACKAGE = Path(analysis.__file__).parent
FOUNDATION = {"errors", "faults", "params", "paths", "periods", "provenance", "__init__"}
# Each stage and what it may import besides itself and the foundation.
STAGES = ["data", "indicators", "report", "deliver", "run", "cli"]
# The later stages read processed data through its object, never through the readers or ingest.
DATA_FOR_LATER_STAGES = {"analysis.data.processed"}


def _stage(module: str) -> str:
    """'analysis.report.brief' -> 'report'; 'analysis.params' -> 'foundation'."""
    parts = module.split(".")
    if len(parts) == 1:
        return "foundation"
    if parts[1] in STAGES:
        return parts[1]
    if parts[1] == "__main__":
        return "cli"
    return "foundation" if parts[1] in FOUNDATION else parts[1]


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every workbook module a file imports, anywhere in it (functions too), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("analysis")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("analysis") and not node.level:
            if node.module == "analysis":  # from analysis import params, __version__
                found += [(node.lineno, f"analysis.{a.name}") for a in node.names if a.name != "__version__"]
            else:
                found.append((node.lineno, node.module))
    return found


def _problems(modules: dict[str, Path]) -> list[str]:
    problems = []
    for name, path in sorted(modules.items()):
        stage = _stage(name)
        for line, imported in _imports(path):
            target = _stage(imported)
            where = f"{name}:{line} imports {imported}"
            if target == "foundation" or target == stage:
                continue
            if stage == "foundation":
                problems.append(f"{where}: the foundation imports no stage")
            elif target not in STAGES or STAGES.index(target) > STAGES.index(stage):
                problems.append(f"{where}: {stage} may not import the later stage {target}")
            elif target == "data" and stage != "run" and stage != "cli" and stage != "indicators":
                if imported not in DATA_FOR_LATER_STAGES:
                    problems.append(f"{where}: {stage} reads data only through analysis.data.processed")
    return problems


def test_every_module_sits_in_a_stage_or_the_foundation():
    stray = [n for n in _modules() if _stage(n) not in ("foundation", *STAGES)]
    assert stray == []
    assert {n.split(".")[1] for n in _modules() if n.count(".") >= 1} >= {*STAGES[:-1], "cli"}


def test_imports_run_down_the_flow():
    assert _problems(_modules()) == []


def test_the_rule_sees_imports_against_the_flow(tmp_path):
    """The check itself, on modules written for it: each kind of wrong import is found."""
    cases = {
        "analysis.data.probe": "from analysis.report import fmt\n",
        "analysis.indicators.probe": "def f():\n    from analysis.report.charts import draw\n",
        "analysis.report.probe": "from analysis.data.ingest import ingest\n",
        "analysis.provenance": "import analysis.data.fetch\n",
        "analysis.report.fine": "from analysis.data.processed import Processed\nfrom analysis.indicators import targets\n",
    }
    modules = {}
    for name, text in cases.items():
        modules[name] = tmp_path / f"{name}.py"
        modules[name].write_text(text, encoding="utf-8")
    assert _problems(modules) == [
        "analysis.data.probe:1 imports analysis.report: data may not import the later stage report",
        "analysis.indicators.probe:2 imports analysis.report.charts: indicators may not import the later stage report",
        "analysis.provenance:1 imports analysis.data.fetch: the foundation imports no stage",
        "analysis.report.probe:1 imports analysis.data.ingest: report reads data only through analysis.data.processed",
    ]


def test_every_stage_says_what_it_takes_and_gives():
    for stage in STAGES[:-1]:
        doc = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text(encoding="utf-8")))
        assert doc and len(doc.split()) > 25, stage


def test_project_folders_are_read_when_used_not_when_imported():
    """`from analysis.paths import PARAMS_DIR` would keep the folder of the project the module
    was imported under; paths.project() (and the in-process command-line tests) rely on every
    module asking `paths.PARAMS_DIR` when it needs it."""
    from analysis import paths

    frozen = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "analysis.paths":
                frozen += [(path.name, a.name) for a in node.names if a.name in (*paths._UNDER_ROOT, "SNAPSHOT_DIR")]
    assert frozen == []


def test_a_project_is_switched_for_the_block_and_restored(tmp_path):
    from analysis import params, paths

    home = paths.PROJECT_ROOT
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "strategy.yml").write_text("not: [valid\n", encoding="utf-8")
    with paths.project(tmp_path):
        assert paths.PARAMS_DIR == tmp_path.resolve() / "params"
        with pytest.raises(WorkbookError, match=r"^params/strategy.yml line 2, column 1: invalid YAML"):
            params.load_strategy()
    assert paths.PROJECT_ROOT == home
    assert params.load_strategy().kommune == 766

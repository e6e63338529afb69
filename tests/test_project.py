"""Project hygiene: README commands, environment.yml in sync with the pins, thin clean notebooks."""

from __future__ import annotations

import ast
import json
import re
import tomllib

import nbformat
import yaml

from analysis.paths import NOTEBOOKS_DIR, PROJECT_ROOT


def _lock() -> dict[str, str]:
    pins = {}
    for line in (PROJECT_ROOT / "requirements/lock.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^ ;]+)", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def test_readme_starts_with_the_two_commands_and_make_has_them():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    block = re.match(r"```\n(.*?)\n```", readme, re.S)
    assert block is not None
    assert block.group(1).splitlines() == ["make briefs", "make test"]
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    for target in ("briefs", "test", "help", "lab"):
        assert re.search(rf"^{target}:.*## ", makefile, re.M), target
    assert "make test" in (PROJECT_ROOT / ".ci/run").read_text()


def test_environment_yml_matches_pyproject_and_lock():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + [
        requirement for extra in project["optional-dependencies"].values() for requirement in extra
    ]
    names = {re.split(r"[<>=!~\[ ]", requirement)[0].lower() for requirement in wanted}
    environment = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    conda = {}
    for entry in environment["dependencies"]:
        if isinstance(entry, str) and "=" in entry:
            name, version = entry.split("=", 1)
            conda[name.lower()] = version
        if isinstance(entry, dict):
            for requirement in entry["pip"]:
                if "==" in requirement:
                    name, version = requirement.split("==")
                    conda[name.lower()] = version
    assert conda.pop("python") == "3.11"
    assert set(conda) == names
    lock = _lock()
    assert {name: lock[name] for name in names} == conda


def test_notebooks_are_clean_and_thin():
    notebooks = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
    assert [n.stem for n in notebooks] == ["committee", "community", "cooperation", "growth", "overview"]
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), path.name
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, path.name
        for cell in code:
            tree = ast.parse(cell.source)
            banned = (ast.FunctionDef, ast.ClassDef, ast.For, ast.While, ast.Try, ast.Lambda)
            assert not any(isinstance(node, banned) for node in ast.walk(tree)), (path.name, cell.source)


def test_parameters_cell_has_literal_defaults():
    for path in NOTEBOOKS_DIR.glob("*.ipynb"):
        cell = next(c for c in json.loads(path.read_text())["cells"] if "parameters" in c["metadata"].get("tags", []))
        tree = ast.parse("".join(cell["source"]))
        for statement in tree.body:
            assert isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant), path.name


def test_the_code_hash_of_a_job_covers_every_stage_of_the_package(tmp_path):
    """A job is reused only while the code that makes its brief is the same: the hash covers the
    modules and templates of every stage, and a change in any of them changes it."""
    import shutil

    from analysis.provenance import PACKAGE, code_digest, code_files

    names = {path.relative_to(PACKAGE).as_posix() for path in code_files()}
    assert {"data/ingest.py", "indicators/measures.py", "report/narrative.py", "run/runner.py", "cli.py"} <= names
    assert any(name.startswith("report/templates/brief/") for name in names)
    copy = tmp_path / "analysis"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = code_digest(copy)
    assert before == code_digest(PACKAGE)
    narrative = copy / "report" / "narrative.py"
    narrative.write_text(narrative.read_text(encoding="utf-8") + "\n# another sentence\n", encoding="utf-8")
    assert code_digest(copy) != before

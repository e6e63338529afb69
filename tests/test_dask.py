"""The job list on an existing engine: a local Dask cluster (a scheduler and two workers, started
with Dask's own commands) runs the same notebooks and makes byte-identical briefs."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from analysis.paths import PROJECT_ROOT

from conftest import copy_project

pytestmark = pytest.mark.e2e  # real runs in processes: `make test-fast` leaves them out

distributed = pytest.importorskip("distributed")

BIN = Path(sys.executable).parent
RUNS = """cadences:
  kvartal:
    - {name: growth, notebook: notebooks/growth.ipynb, theme: growth}
    - {name: cooperation, notebook: notebooks/cooperation.ipynb, theme: cooperation}
"""


def _project(folder: Path) -> Path:
    folder.mkdir()
    copy = copy_project(folder)
    (copy / "params" / "runs.yml").write_text(RUNS, encoding="utf-8")
    return copy


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-threaded workers whose project is `project`."""
    base = tmp_path_factory.mktemp("dask")
    project = _project(base / "cluster")
    address_file = base / "scheduler.json"
    env = {**os.environ, "WORKBOOK_ROOT": str(project)}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "cwd": base}
    scheduler = subprocess.Popen(
        [
            str(BIN / "dask"),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(address_file),
        ],
        **quiet,
    )
    workers = subprocess.Popen(
        [
            str(BIN / "dask"),
            "worker",
            "--scheduler-file",
            str(address_file),
            "--nworkers",
            "2",
            "--nthreads",
            "1",
            "--no-dashboard",
        ],
        **quiet,
    )
    try:
        deadline = time.monotonic() + 60
        while not address_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(address_file.read_text())["address"]
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, project
    finally:
        for process in (workers, scheduler):
            process.terminate()
            process.wait(timeout=30)


def run(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analysis", "run", "--cadence", "kvartal", "--period", "2025K1", *args],
        cwd=project,
        env={**os.environ, "WORKBOOK_ROOT": str(project)},
        capture_output=True,
        text=True,
        timeout=600,
    )


def briefs(project: Path) -> dict[str, str]:
    folder = project / "outputs/766/2025K1/kvartal/briefs"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.html"))}


def manifest(project: Path) -> dict:
    return json.loads((project / "outputs/766/2025K1/kvartal/manifest.json").read_text())


def failed_build(project: Path) -> Path:
    """A run with a failed job publishes nothing; its build is kept in outputs/.failed/."""
    return max((project / "outputs/.failed").glob("766-2025K1-kvartal-*"), key=lambda p: p.stat().st_mtime)


def test_a_dask_cluster_makes_the_same_briefs_as_the_local_pool(cluster):
    address, project = cluster
    local = run(project)
    assert local.returncode == 0, local.stderr
    made_here = briefs(project)
    assert list(made_here) == ["cooperation.html", "growth.html"]

    remote = run(project, "--force", "--executor", "dask", "--scheduler", address)
    assert remote.returncode == 0, remote.stderr
    assert manifest(project)["executor"] == "dask"
    assert [job["status"] for job in manifest(project)["jobs"]] == ["ok", "ok"]
    assert briefs(project) == made_here, "warm local kernels and fresh kernels on Dask workers give the same bytes"
    assert (project / "outputs/766/2025K1/kvartal/executed/growth.ipynb").is_file()


def test_a_failing_notebook_on_dask_fails_alone_and_is_kept(cluster):
    address, project = cluster
    path = project / "notebooks/cooperation.ipynb"
    original = path.read_bytes()
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('the cooperation notebook broke')"))
    nbformat.write(notebook, path)
    try:
        done = run(project, "--executor", "dask", "--scheduler", address)
    finally:
        path.write_bytes(original)
    assert done.returncode == 1, done.stderr
    build = failed_build(project)
    jobs = {job["name"]: job for job in json.loads((build / "manifest.json").read_text())["jobs"]}
    assert jobs["cooperation"]["status"] == "failed"
    assert jobs["cooperation"]["error"] == "RuntimeError: the cooperation notebook broke"
    kept = nbformat.read(build / "executed/cooperation.ipynb", as_version=4)
    assert kept.cells[-1].outputs[0]["ename"] == "RuntimeError"
    assert jobs["growth"]["status"] in ("ok", "reused")


def test_workers_that_see_another_project_refuse_its_jobs(cluster, tmp_path):
    address, _cluster_project = cluster
    elsewhere = _project(tmp_path / "elsewhere")
    done = run(elsewhere, "--executor", "dask", "--scheduler", address)
    assert done.returncode == 1
    errors = {job["error"] for job in json.loads((failed_build(elsewhere) / "manifest.json").read_text())["jobs"]}
    assert len(errors) == 1
    assert errors.pop().endswith(f"sees the project at {_cluster_project}, not {elsewhere}")


def test_no_scheduler_is_one_line_and_changes_nothing(quarterly, tmp_path):
    published = tmp_path / "outputs"
    shutil.copytree(quarterly, published, symlinks=True)
    before = _digests(published)
    done = subprocess.run(
        [sys.executable, "-m", "analysis", "run", "--cadence", "kvartal", "--period", "2025K1", "--force"]
        + ["--executor", "dask", "--scheduler", "tcp://127.0.0.1:9", "--outputs", str(published)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "error: --scheduler tcp://127.0.0.1:9: no Dask scheduler answered (Connection refused)"
    )
    assert "Traceback" not in done.stderr
    assert _digests(published) == before


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }

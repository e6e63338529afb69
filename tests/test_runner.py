"""The runner: unchanged jobs reused, identical briefs from identical inputs, failures kept apart,
one run at a time, and a killed run that leaves the published one as it was."""

from __future__ import annotations

import fcntl
import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from conftest import copy_project, in_a_process, in_process, processes_of

pytestmark = pytest.mark.e2e  # real runs in processes: `make test-fast` leaves them out

# A run plan of two small jobs keeps these tests quick; the notebooks are the real ones.
RUNS = """cadences:
  kvartal:
    - {name: growth, notebook: notebooks/growth.ipynb, theme: growth}
    - {name: cooperation, notebook: notebooks/cooperation.ipynb, theme: cooperation}
  aar:
    - {name: growth, notebook: notebooks/growth.ipynb, theme: growth}
"""


@pytest.fixture()
def project(tmp_path):
    copy = copy_project(tmp_path)
    (copy / "params" / "runs.yml").write_text(RUNS, encoding="utf-8")
    return copy


def run(project: Path, *args: str, wait: bool = True, own_server: bool = False, process: bool = False):
    """The run command in the project copy: in this process unless `process`; with `own_server`, in
    a process with a kernel server of its own, as outside the tests (the tests that follow a
    run's processes to their end)."""
    arguments = ["run", "--cadence", "kvartal", "--period", "2025K1", *args]
    env = {"WORKBOOK_ROOT": str(project)}
    if wait and not (own_server or process):
        return in_process(*arguments, cwd=project, env=env)
    return in_a_process(*arguments, cwd=project, env=env, own_server=own_server, wait=wait)


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((folder / "briefs").glob("*.html"))}


def manifest(project: Path) -> dict:
    return json.loads((project / "outputs/766/2025K1/kvartal/manifest.json").read_text())


def failed_build(project: Path) -> Path:
    """The newest build kept because a job failed."""
    return max((project / "outputs/.failed").glob("766-2025K1-kvartal-*"), key=lambda p: p.stat().st_mtime)


def failed_manifest(project: Path) -> dict:
    return json.loads((failed_build(project) / "manifest.json").read_text())


def test_unchanged_jobs_are_reused_and_force_gives_identical_briefs(project):
    folder = project / "outputs/766/2025K1/kvartal"
    first = run(project)
    assert first.returncode == 0, first.stderr
    made = digests(folder)
    assert [job["status"] for job in manifest(project)["jobs"]] == ["ok", "ok"]

    again = run(project)
    assert again.returncode == 0, again.stderr
    assert [job["status"] for job in manifest(project)["jobs"]] == ["reused", "reused"]
    assert "growth: unchanged, brief reused" in again.stderr
    assert digests(folder) == made

    forced = run(project, "--force")
    assert forced.returncode == 0, forced.stderr
    assert [job["status"] for job in manifest(project)["jobs"]] == ["ok", "ok"]
    assert digests(folder) == made, "the same inputs give byte-identical briefs"

    (project / "params" / "strategy.yml").write_text(
        (project / "params" / "strategy.yml")
        .read_text(encoding="utf-8")
        .replace("Vækst i balance", "Vækst i god balance"),
        encoding="utf-8",
    )
    assert run(project).returncode == 0
    assert [job["status"] for job in manifest(project)["jobs"]] == ["ok", "ok"], "a params change runs the jobs again"


def test_a_failing_job_does_not_stop_the_others_and_nothing_is_published(project):
    import gc

    frozen = gc.get_freeze_count()
    assert run(project).returncode == 0
    assert gc.get_freeze_count() == frozen, "the run unfreezes what it froze for its workers' fork"
    published = digests(project / "outputs/766/2025K1/kvartal")
    notebook = nbformat.read(project / "notebooks/cooperation.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('the cooperation notebook broke')"))
    nbformat.write(notebook, project / "notebooks/cooperation.ipynb")
    done = run(project, "--force")
    assert done.returncode == 1
    kept = failed_build(project)
    assert done.stderr.strip().splitlines()[-1] == (
        "error: 1 job(s) failed: cooperation; nothing of it was published (outputs/766/2025K1/kvartal is as it was, "
        f"the failed build is kept in outputs/.failed/{kept.name})"
    )
    jobs = {job["name"]: job for job in failed_manifest(project)["jobs"]}
    assert jobs["growth"]["status"] == "ok"
    assert jobs["cooperation"]["status"] == "failed"
    assert jobs["cooperation"]["error"] == "RuntimeError: the cooperation notebook broke"
    assert (kept / "executed/cooperation.ipynb").is_file() and (kept / "briefs/growth.html").is_file()
    assert digests(project / "outputs/766/2025K1/kvartal") == published, "the published briefs are as they were"
    assert [job["status"] for job in manifest(project)["jobs"]] == ["ok", "ok"]


@pytest.mark.parametrize(
    "cell, error",
    [
        ("import time\ntime.sleep(300)", "CellTimeoutError"),
        ("import os\nos._exit(3)", "DeadKernelError"),
    ],
)
def test_a_job_that_hangs_or_loses_its_kernel_fails_alone(project, cell, error):
    notebook = nbformat.read(project / "notebooks/cooperation.ipynb", as_version=4)
    notebook.cells.insert(3, nbformat.v4.new_code_cell(cell))
    nbformat.write(notebook, project / "notebooks/cooperation.ipynb")
    started = time.monotonic()
    done = run(project, "--timeout", "5", own_server=True)
    assert time.monotonic() - started < 120
    assert done.returncode == 1, done.stderr
    jobs = {job["name"]: job for job in failed_manifest(project)["jobs"]}
    assert jobs["growth"]["status"] == "ok"
    assert jobs["cooperation"]["status"] == "failed"
    assert jobs["cooperation"]["error"].startswith(error), jobs["cooperation"]["error"]
    kept = nbformat.read(failed_build(project) / "executed/cooperation.ipynb", as_version=4)
    at = next(i for i, c in enumerate(kept.cells) if c.source == cell)
    counts = [c.get("execution_count") for c in kept.cells if c.cell_type == "code"]
    ran = sum(1 for c in kept.cells[:at] if c.cell_type == "code")
    assert None not in counts[:ran] and set(counts[ran + 1 :]) == {None}, "kept as far as it ran"
    assert "indbyggere" in json.dumps([c.get("outputs") for c in kept.cells[:at]], ensure_ascii=False)
    assert not (project / "outputs/766/2025K1/kvartal").exists(), "nothing was published"
    assert not processes_of(project), "no kernel outlives its run"


def test_one_run_at_a_time(project):
    folder = project / "outputs/766/2025K1"
    folder.mkdir(parents=True)
    with (folder / ".kvartal.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        done = run(project, process=True)  # another process holds the lock
    assert done.returncode == 2
    assert done.stderr.strip().endswith("another run of this period and cadence is in progress")


def test_a_killed_run_leaves_the_published_run_and_the_next_run_completes(project):
    folder = project / "outputs/766/2025K1/kvartal"
    assert run(project).returncode == 0
    before = digests(folder)
    killed = run(project, "--force", wait=False, own_server=True)
    deadline = time.monotonic() + 120
    published = folder.resolve()
    while time.monotonic() < deadline and not [
        p for p in folder.parent.glob(".runs/kvartal-*/executed/*.ipynb") if p.parent.parent != published
    ]:
        time.sleep(0.05)
    assert len(processes_of(project)) > 1, "the run's processes are found while it runs"
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    deadline = time.monotonic() + 10
    while processes_of(project) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not processes_of(project), "workers, kernel server and kernels die with the run"
    assert digests(folder) == before
    assert manifest(project)["jobs"][0]["status"] == "ok"
    after = run(project, "--force")
    assert after.returncode == 0, after.stderr
    assert [p.resolve() for p in folder.parent.glob(".runs/kvartal-*")] == [folder.resolve()], (
        "the killed build is gone"
    )
    assert digests(folder) == before


def test_a_run_in_a_process_that_runs_notebooks_before_and_after_completes(tmp_path):
    """`python -m analysis brief`, a run and another brief in one Python process (a notebook or
    script that calls them): the brief leaves jupyter_client's event loop with a thread pool behind.
    The run's pool workers inherited it, thread-less, and waited forever for their kernel; and a
    worker that closed it took the process's wakeup socket out of their shared epoll, so that the
    process's next kernel start waited forever (found when the suite ran in one process)."""
    script = (
        "import asyncio, faulthandler, sys\n"
        "from jupyter_core.utils import ensure_event_loop\n"
        "def kernel_start():  # as a brief's: jupyter_client's loop hands the socket work to a thread\n"
        "    ensure_event_loop().run_until_complete(asyncio.to_thread(int))\n"
        "kernel_start()\n"
        "from analysis import cli\n"
        f"code = cli.main(['run', '--cadence', 'kvartal', '--only', 'growth', '--outputs', {str(tmp_path)!r}])\n"
        "faulthandler.dump_traceback_later(30, exit=True)  # the loop never hears the thread: exit 1\n"
        "kernel_start()\n"
        "sys.exit(code)\n"
    )
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("the run waited for its kernel for 120 s")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "766/2025K1/kvartal/briefs/growth.html").is_file()


def _a_broken_worker(*_args, **_kwargs):
    raise RuntimeError("the pool's worker broke")


def test_a_run_stopped_by_an_error_ends_its_own_workers_and_no_other_process(project, monkeypatch):
    """A run stopped by an error (or Ctrl-C) terminates its pool's workers at once; a process the
    caller started before (a notebook's own worker, a Dask cluster) is not the run's to end."""
    import multiprocessing

    from analysis.run import runner

    bystander = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,))
    bystander.start()
    try:
        monkeypatch.setattr(runner, "_execute", _a_broken_worker)
        with pytest.raises(RuntimeError, match="the pool's worker broke"):  # not a workbook error: raised
            run(project, "--only", "growth")
        assert bystander.is_alive(), "the caller's process is left alone"
        assert multiprocessing.active_children() == [bystander], "the pool's workers are gone"
    finally:
        bystander.terminate()
        bystander.join()

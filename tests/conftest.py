"""Shared fixtures: the real snapshot in ../shared/data, read once per test session."""

from __future__ import annotations

import os

# As `python -m analysis` does (src/analysis/__main__.py), before numpy loads: BLAS on one thread in
# the test processes and in the runs, kernel servers and kernels they start, so that no idle thread
# pool spins on the cores the others need. A run "as outside the tests" (`own_kernel_server`) goes
# without what is set here, so that it shows what `python -m analysis` sets itself.
SET_HERE = [n for n in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS") if n not in os.environ]
os.environ.update(dict.fromkeys(SET_HERE, "1"))

import subprocess
import sys
from pathlib import Path

import pytest

from analysis import params
from analysis.data.ingest import read_all, resolve_inputs
from analysis.data.processed import data_location
from analysis.data.sources.classification import read_komgrp
from analysis.indicators import store
from analysis.paths import SNAPSHOT_DIR

# As a run does (run/runner.py, _without_iri_grammar): jsonschema would build rfc3987-syntax's
# grammar for IRI formats nbformat never checks, about a second of every test session.
sys.modules.setdefault("rfc3987_syntax", None)

HEDENSTED = "766"


@pytest.fixture(scope="session", autouse=True)
def shared_kernel_server():
    """One kernel server for every run of this test process (each xdist worker has its own): runs
    attach to it through WORKBOOK_KERNEL_SERVER instead of each starting one and paying its imports.
    Runs that check a run's own server and processes take the variable out (`own_kernel_server`)."""
    import os

    from analysis.run import kernels

    if not kernels.available():
        yield None
        return
    with kernels.KernelServer(renders=True) as server:  # it renders the briefs too, warm for every run
        os.environ[kernels.SHARED] = server.folder
        try:
            yield server
        finally:
            os.environ.pop(kernels.SHARED, None)


def own_kernel_server(env: dict) -> dict:
    """`env` for a run that starts its own kernel server, as a run outside the test suite does."""
    from analysis.run.kernels import SHARED

    return {name: value for name, value in env.items() if name != SHARED and name not in SET_HERE}


@pytest.fixture(scope="session")
def snapshot() -> Path:
    if not (SNAPSHOT_DIR / "SHA256SUMS").is_file():
        pytest.fail(f"the data snapshot is missing: expected {SNAPSHOT_DIR} (../shared/data beside the repository)")
    return SNAPSHOT_DIR


@pytest.fixture(scope="session")
def location(snapshot):
    return data_location(snapshot)


@pytest.fixture(scope="session")
def areas(snapshot):
    return read_komgrp(snapshot / "classifications" / "komgrp.csv")


@pytest.fixture(scope="session")
def observations(location):
    frame, _areas, _qualitative = read_all(resolve_inputs(location))
    return frame


@pytest.fixture(scope="session")
def indicator_table(observations):
    """The engine's table of every indicator for every area and period, from the real snapshot."""
    from analysis.indicators.measures import compute_all

    return compute_all(observations, params.load_indicators(), params.load_sources())


def series_of(table, indicator: str, area: str = HEDENSTED):
    """One area's figures of an indicator, indexed by date."""
    rows = table[(table["indicator"] == indicator) & (table["area"] == area)]
    return rows.set_index("date").sort_index()


def wide_of(table, indicator: str):
    """An indicator's values, dates x areas."""
    rows = table[table["indicator"] == indicator]
    rows = rows.assign(area=rows["area"].astype(str))
    return rows.pivot_table(index="date", columns="area", values="value", aggfunc="first").sort_index()


@pytest.fixture(scope="session")
def processed(location, tmp_path_factory):
    return store.load(location, tmp_path_factory.mktemp("processed"))


@pytest.fixture(scope="session")
def sources():
    return params.load_sources()


def copy_project(target: Path, ingested: bool = True) -> Path:
    """A copy of the committed project in `target`/project, with ../shared beside it as in CI;
    with the snapshot already ingested into its data/processed unless `ingested` is False."""
    import shutil
    import subprocess

    from analysis.paths import PROJECT_ROOT

    copy = target / "project"
    tracked = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout
    for name in tracked.splitlines():
        destination = copy / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / name, destination)
    (target / "shared").symlink_to(SNAPSHOT_DIR.parent)
    if ingested:
        seed_processed(copy, ingested_snapshot())
    return copy


def snapshot_with(folder: Path, table_file: str, content: bytes) -> Path:
    """A data folder that is the real snapshot but for one Statbank file (`table_file`, e.g.
    "FOLK1AM.csv"), which holds `content`: the rest are links into ../shared/data."""
    (folder / "statbank").mkdir(parents=True)
    for name in ("noegletal", "classifications"):
        (folder / name).symlink_to(SNAPSHOT_DIR / name)
    for name in ("FLY66.csv.gz", "FOLK1AM.csv", "RAS200.csv"):
        if name != table_file:
            (folder / "statbank" / name).symlink_to(SNAPSHOT_DIR / "statbank" / name)
    (folder / "statbank" / table_file).write_bytes(content)
    return folder


_INGESTED: list[Path] = []


def ingested_snapshot() -> Path:
    """data/processed as an ingest of the real snapshot leaves it, made once per test session.
    Copied into a project copy, its runs read the snapshot without ingesting it again: the
    version is found by the content of the raw files and params, so a copy whose raw data or
    params differ ingests as a user's checkout would."""
    if not _INGESTED:
        import atexit
        import shutil
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="workbook-ingested-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        store.build(data_location(SNAPSHOT_DIR), folder / "processed")
        _INGESTED.append(folder / "processed")
    return _INGESTED[0]


def seed_processed(project: Path, processed_version: Path) -> None:
    import shutil

    shutil.copytree(processed_version, project / "data" / "processed", symlinks=True, dirs_exist_ok=True)


def command(project: Path, *args: str) -> tuple[int, str]:
    """The command line, in this process, as if typed in `project`: (exit code, stderr)."""
    done = in_process(*args, cwd=project, env={"WORKBOOK_ROOT": str(project)})
    return done.returncode, done.stderr


def in_process(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m analysis <args>` typed in `cwd` (the checkout unless given) with `env` added to
    the environment, run in this process through `cli.main`: what `subprocess.run` would return,
    without a new Python paying its imports again. The project is WORKBOOK_ROOT as in `env` and
    the params are read afresh, as a new process would; the run's pool and kernels are real
    processes as ever. Tests that follow the run's own process (kills, locks, signals) use
    `in_a_process`."""
    import contextlib
    import io
    import os

    from analysis import cli, paths
    from analysis.paths import PROJECT_ROOT

    added = {name: str(value) for name, value in (env or {}).items()}
    root = Path(added.get("WORKBOOK_ROOT") or os.environ.get("WORKBOOK_ROOT") or PROJECT_ROOT)
    before_env = {name: os.environ.get(name) for name in added}
    before_cwd = Path.cwd()
    stdout, stderr = io.StringIO(), io.StringIO()
    os.environ.update(added)
    os.chdir(cwd or PROJECT_ROOT)
    params.clear_caches()
    try:
        with paths.project(root), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = cli.main(list(args))
            except SystemExit as exit_:  # argparse's usage errors and --help
                code = exit_.code if isinstance(exit_.code, int) else 2
    finally:
        os.chdir(before_cwd)
        for name, value in before_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        params.clear_caches()
    return subprocess.CompletedProcess(["analysis", *args], code, stdout.getvalue(), stderr.getvalue())


def in_a_process(
    *args: str, cwd: Path | None = None, env: dict | None = None, own_server: bool = False, wait: bool = True
):
    """`python -m analysis <args>` in a new process, in `cwd` (the checkout unless given), with
    this process's environment and `env`: what `subprocess.run` returns, or the running Popen
    when not `wait`. With `own_server`, without the session's kernel server, as outside the tests."""
    import os
    import sys

    from analysis.paths import PROJECT_ROOT

    environment = {**os.environ, **{name: str(value) for name, value in (env or {}).items()}}
    if own_server:
        environment = own_kernel_server(environment)
    command = [sys.executable, "-m", "analysis", *args]
    if not wait:
        return subprocess.Popen(
            command, cwd=cwd or PROJECT_ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(
        command, cwd=cwd or PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=900
    )


def workbook(*args: str, own_server: bool = False, process: bool = False) -> subprocess.CompletedProcess:
    """The command line as a user types it in the checkout: in this process (`in_process`) unless
    `process` or `own_server` (a run with a kernel server of its own, as outside the tests)."""
    if not (process or own_server):
        return in_process(*args)
    return in_a_process(*args, own_server=own_server)


def built_once(tmp_path_factory, name: str, make) -> Path:
    """What `make(folder)` writes into an empty folder, made once per test session and copied for
    each test process: with xdist, the first worker to ask makes it while the others wait (the
    pattern pytest-xdist documents), instead of every worker running the same run."""
    import os
    import shutil

    from filelock import FileLock

    mine = tmp_path_factory.mktemp(name)
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        make(mine)
        return mine
    shared = tmp_path_factory.getbasetemp().parent / f"once-{name}"  # this session's, shared by its workers
    with FileLock(f"{shared}.lock"):
        if not (shared / ".made").is_file():
            shutil.rmtree(shared, ignore_errors=True)
            shared.mkdir()
            make(shared)
            (shared / ".made").touch()
    shutil.copytree(shared, mine, symlinks=True, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".made"))
    return mine


def _run_into(*args: str, own_server: bool = False):
    def make(outputs: Path) -> None:
        done = workbook("run", *args, "--outputs", str(outputs), own_server=own_server)
        assert done.returncode == 0, done.stderr

    return make


@pytest.fixture(scope="session")
def quarterly(tmp_path_factory) -> Path:
    """The outputs folder of a quarterly run for the latest quarter (2025K1), by a run with its own
    kernel server, as outside the tests."""
    return built_once(
        tmp_path_factory, "outputs", _run_into("--cadence", "kvartal", "--period", "latest", own_server=True)
    )


@pytest.fixture(scope="session")
def annual(tmp_path_factory) -> Path:
    """The published folder of the annual follow-up for 2024."""
    outputs = built_once(tmp_path_factory, "annual", _run_into("--cadence", "aar", "--period", "2024"))
    return outputs / "766" / "2024" / "aar"


@pytest.fixture(scope="session")
def illustrative(tmp_path_factory) -> Path:
    """Annual briefs with Eksempeldata in every manual indicator: every section of a brief shows."""
    make = _run_into(
        "--cadence", "aar", "--period", "2024", "--example-data", "--only", "cooperation,community,udvalg-vtf"
    )
    return built_once(tmp_path_factory, "illustrative", make) / "766" / "2024" / "aar"


def processes_of(project: Path) -> list[int]:
    """Processes still running for this project copy (workers, kernel server, kernels), found by
    the WORKBOOK_ROOT the run gave them."""
    marker = f"WORKBOOK_ROOT={project}\0".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes() and (entry / "stat").read_text().split()[2] != "Z":
                    found.append(int(entry.name))
            except OSError:
                pass  # gone meanwhile, or not ours
    return found

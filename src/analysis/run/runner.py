"""A run: ingest what changed, execute each notebook of the cadence with papermill, export briefs,
write manifest.json, and publish the whole folder at once.

Results go to outputs/<period>/<cadence>/: executed/*.ipynb, briefs/*.html, manifest.json.
A run is built in a temporary folder beside its target and renamed into place only when it
is complete, so the previous run's outputs survive any failure.

Example::

    outcome = run(cadence="kvartal", period_text="latest")
    outcome.folder          # outputs/2025K1/kvartal
    outcome.failed          # [] when every brief was made
"""

from __future__ import annotations

import contextvars
import gc
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path

from analysis import __version__, faults, params, paths
from analysis.data.ingest import input_record
from analysis.data.processed import current_dir, data_location, read_manifest
from analysis.errors import WorkbookError
from analysis.indicators import store
from analysis.paths import relative
from analysis.periods import CADENCES, check_period_text
from analysis.provenance import code_digest, git_commit
from analysis.run import kernels

# pandas, papermill and nbconvert are imported where they are used: a run whose briefs are all
# unchanged needs none of them.

PACKAGES = ["analysis", "pandas", "matplotlib", "papermill", "nbconvert", "scipy", "babel", "pyarrow"]
KERNEL = "python3"
EXECUTORS = ("local", "dask")
JOB_TIMEOUT = 600  # seconds a notebook cell may take before its job fails
UNSTARTED = kernels.UNSTARTED  # no kernel server started yet: the local engine starts its own
RUNS = ".runs"  # outputs/<period>/.runs/<cadence>-<run id>-*: the run folders; <cadence> links to the published one
FAILED = ".failed"  # outputs/.failed/<period>-<cadence>-<run id>-*: builds in which a job failed


@dataclass
class JobOutcome:
    name: str
    notebook: str
    status: str = "ok"
    seconds: float = 0.0
    brief: str = ""
    error: str = ""
    key: str = ""


@dataclass
class RunOutcome:
    folder: Path
    period: str
    cadence: str
    run_id: str
    jobs: list[JobOutcome] = field(default_factory=list)
    failed_folder: Path | None = None  # where a build with a failed job is kept; nothing was published
    failures: list = field(default_factory=list)  # the units (municipalities) not published

    @property
    def failed(self) -> list[str]:
        return [job.name for job in self.jobs if job.status == "failed"]


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


RUN_PARAMETERS = {
    "theme",
    "period",
    "cadence",
    "kommune",
    "comparison_group",
    "strategy_period",
    "data",
    "example_data",
    "previous_run",
    "run_id",
    "git_commit",
}


def check_notebook_parameters(path: Path, committee: bool) -> None:
    """A notebook takes exactly the parameters a run gives: one `parameters` cell, no unknown names."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise WorkbookError(f"{relative(path)}: not a readable notebook ({str(err).splitlines()[0]})") from None
    cells = [c for c in notebook.get("cells", []) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise WorkbookError(f"{relative(path)}: {len(cells)} cells tagged 'parameters'; expected exactly one")
    _without_iri_grammar()
    import papermill

    names = set(papermill.inspect_notebook(str(path)))
    expected = RUN_PARAMETERS | ({"committee"} if committee else set())
    unknown, missing = sorted(names - expected), sorted(expected - names)
    if unknown:
        raise WorkbookError(
            f"{relative(path)}: parameter '{unknown[0]}' is not one a run gives; expected {', '.join(sorted(expected))}"
        )
    if missing:
        raise WorkbookError(f"{relative(path)}: the parameters cell lacks '{missing[0]}', which a run gives")


def resolve_period_code(available: list[str], cadence: str, requested: str | None) -> str:
    """`None` means the latest period; a period without data gets a one-line error naming the range."""
    if requested is None:
        return max(available)
    if requested not in available:
        raise WorkbookError(
            f"--period {requested}: no population data for it; periods on disk for --cadence {cadence} "
            f"run {min(available)} to {max(available)}"
        )
    return requested


def previous_manifest(outputs_dir: Path, cadence: str, period_code: str, log=print) -> Path | None:
    """The manifest of the brief before this one: the latest published run of an earlier period.
    One that cannot be read is passed over, with a line in the log.

    A re-run of the same period is not "previous": the same inputs must give the same brief."""
    pattern = r"\d{4}K[1-4]" if cadence == "kvartal" else r"\d{4}"
    earlier = sorted(
        (
            path
            for path in outputs_dir.glob(f"*/{cadence}/manifest.json")
            if re.fullmatch(pattern, path.parent.parent.name) and path.parent.parent.name < period_code
        ),
        key=lambda path: path.parent.parent.name,
        reverse=True,
    )
    for path in earlier:
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(manifest.get("inputs"), dict) and manifest.get("period"):
                return path
        except (OSError, json.JSONDecodeError, AttributeError):
            pass
        log(f"previous run {relative(path.parent)}: its manifest.json cannot be read; not compared with")
    return None


def job_key(
    notebook: Path,
    parameters: dict,
    data_fingerprint: str,
    code: str,
    params_hashes: dict,
    versions: dict | None = None,
) -> str:
    """What a job's result depends on: the notebook, its parameters, the processed data, the
    package's code, params/ and the versions of the packages that render it. The run id and git
    commit are left out: they change with every commit, and a brief made from the same inputs by
    the same code need not be made again."""
    stable = {k: v for k, v in parameters.items() if k not in ("run_id", "git_commit")}
    record = {
        "notebook": file_digest(notebook),
        "parameters": stable,
        "data": data_fingerprint,
        "code": code,
        "params": params_hashes,
        "versions": versions or {},
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def workers_for(jobs: int) -> int:
    """Kernels spend much of their time starting and waiting, so two per core keep the machine busy."""
    return max(1, min(jobs, 2 * (os.cpu_count() or 1)))


@contextmanager
def run_lock(folder: Path, cadence: str):
    """Only one run of a period and cadence at a time (filelock: the same on every system); the
    lock goes with the process, and the run's pool workers, which end with it."""
    from filelock import FileLock, Timeout

    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / f".{cadence}.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise WorkbookError(
            f"{relative(folder)}/{cadence}: another run of this period and cadence is in progress"
        ) from None
    try:
        yield
    finally:
        lock.release()


def run(
    cadence: str,
    period_text: str,
    data: str | None = None,
    outputs_dir: Path | None = None,
    processed_dir: Path | None = None,
    log: Callable[[str], None] = print,
    example_data: bool = False,
    force: bool = False,
    timeout: int = JOB_TIMEOUT,
    workers: int | None = None,
    kommuner: list[int] | None = None,
    only: list[str] | None = None,
    comparison_group: str = "kommunegruppe",
    strategy_period: str | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    server=None,
) -> RunOutcome:
    """Make every brief of a cadence for a period; raises WorkbookError on bad input.

    Each municipality's briefs are published on their own, in outputs/<kommunekode>/<period>/<cadence>/,
    when every job of it succeeded. `kommuner` runs the jobs for other municipalities too; `only`
    keeps the named jobs of the run plan. `executor="dask"` runs the jobs on the Dask cluster whose
    scheduler is at `scheduler` instead of the local pool.
    """
    # The kernel server starts first: its imports (a few seconds of pandas, matplotlib and the
    # brief's modules) overlap the checks, the ingest and the plan, instead of coming after them.
    # The command line starts it before it imports this module, and passes it as `server`.
    if server is not None:
        ahead = nullcontext(server)
    else:
        ahead = kernels.ahead(data) if executor == "local" else nullcontext(UNSTARTED)
    with ahead as server:
        outputs_dir, processed_dir = outputs_dir or paths.OUTPUTS_DIR, processed_dir or paths.PROCESSED_DIR
        if cadence not in CADENCES:
            raise WorkbookError(f"--cadence {cadence}: unknown cadence; expected one of {', '.join(CADENCES)}")
        if timeout <= 0:
            raise WorkbookError(f"--timeout {timeout}: expected a positive number of seconds")
        if executor not in EXECUTORS:
            raise WorkbookError(f"--executor {executor}: unknown; expected one of {', '.join(EXECUTORS)}")
        if (executor == "dask") != bool(scheduler):
            raise WorkbookError(
                "--executor dask needs --scheduler ADDRESS"
                if scheduler is None
                else f"--scheduler {scheduler}: only used with --executor dask"
            )
        requested = None if period_text == "latest" else check_period_text(period_text, cadence)
        strategy = params.load_strategy()
        if strategy_period is not None and strategy_period not in strategy.strategy_periods:
            raise WorkbookError(
                f"--strategy-period {strategy_period}: unknown; expected one of {', '.join(strategy.strategy_periods)}"
            )
        params.load_indicators()
        plan = params.load_runs().cadences.get(cadence, [])
        if not plan:
            raise WorkbookError(f"params/runs.yml: no jobs for cadence {cadence}")
        for job in plan:
            if not (paths.PROJECT_ROOT / job.notebook).is_file():
                raise WorkbookError(f"params/runs.yml: job {job.name}: notebook {job.notebook} not found")
            check_notebook_parameters(paths.PROJECT_ROOT / job.notebook, committee=job.theme == "committee")

        location = data_location(data)
        result = store.build(location, processed_dir)
        log(f"ingest: {'unchanged' if result.skipped else 'rebuilt'}, {result.rows:,} observations")
        processed = read_manifest(processed_dir)
        # The files this run resolved: the same bytes as the processed version was made from (that is
        # how it was found current), but perhaps at another place, as after `fetch --from`.
        processed["inputs"] = {raw.table: input_record(raw) for raw in result.inputs}
        period_code = resolve_period_code(processed["periods"][cadence], cadence, requested)
        groups = [*params.load_comparison().groups, *processed["groups"]]
        if comparison_group not in groups:
            raise WorkbookError(f"comparison_group '{comparison_group}': unknown; expected one of {', '.join(groups)}")
        data_fingerprint = processed["fingerprint"]

        commit = git_commit()
        inputs = {table: entry["sha256"] for table, entry in sorted(processed["inputs"].items())}
        params_hashes = {
            relative(p): file_digest(p)
            for p in sorted(paths.PARAMS_DIR.rglob("*.yml"))
            if p.name != "recipients.local.yml"
        }
        code_hashes = params_hashes | {job.notebook: file_digest(paths.PROJECT_ROOT / job.notebook) for job in plan}
        package_code = code_digest()
        parameters = {
            "cadence": cadence,
            "period": period_code,
            "comparison_group": comparison_group,
            "strategy_period": strategy_period or strategy.period_for(int(period_code[:4])),
            "data": str(data or ""),
            "example_data": example_data,
        }
        codes = kommuner or [strategy.kommune]
        known = set(processed["municipalities"])
        jobs_of, keys = {}, {}
        for kommune in codes:
            if f"{kommune:03d}" not in known:
                raise WorkbookError(f"--kommune {kommune}: not a kommunekode")
            check_population(processed_dir, f"{kommune:03d}", period_code, cadence)
            jobs_of[kommune], keys[kommune] = _jobs_for(plan, f"{kommune:03d}", strategy_period, period_code, log)
        if only:
            names = {job.name for jobs in jobs_of.values() for job in jobs} | {job.name for job in plan}
            unknown = [name for name in only if name not in names]
            if unknown:
                raise WorkbookError(
                    f"--only {unknown[0]}: no such job for cadence {cadence}; jobs: {', '.join(sorted(names))}"
                )
            jobs_of = {
                k: [j for j in jobs if j.name in only or j.name.split("-")[0] in only and j.theme == "committee"]
                for k, jobs in jobs_of.items()
            }
        versions = {name: version(name) for name in PACKAGES}
        engine = Dask(scheduler, data_fingerprint) if executor == "dask" else Local(workers, server)
        outcome = RunOutcome(outputs_dir / f"{codes[0]:03d}" / period_code / cadence, period_code, cadence, "")
        with ExitStack() as stack:
            units = []
            for kommune in codes:
                unit_parameters = parameters | {"kommune": kommune, "strategy_period": keys[kommune]}
                run_key = json.dumps(
                    {
                        "parameters": unit_parameters,
                        "inputs": inputs,
                        "code": code_hashes,
                        "package": package_code,
                        "version": __version__,
                        "commit": commit,
                    },
                    sort_keys=True,
                )
                unit = Unit(
                    kommune,
                    outputs_dir / f"{kommune:03d}" / period_code / cadence,
                    hashlib.sha256(run_key.encode()).hexdigest()[:12],
                )
                stack.enter_context(run_lock(unit.target.parent, cadence))
                _recover(unit.target, unit.runs, log)
                unit.reusable = _previous_jobs(unit.target) if not force else {}
                unit.runs.mkdir(parents=True, exist_ok=True)
                unit.build = Path(tempfile.mkdtemp(prefix=f"{cadence}-{unit.run_id}-", dir=unit.runs))
                stack.callback(_remove_unpublished, unit)
                unit.build.chmod(0o755)
                (unit.build / "executed").mkdir()
                (unit.build / "briefs").mkdir()
                previous = previous_manifest(outputs_dir / f"{kommune:03d}", cadence, period_code, log)
                for job in jobs_of[kommune]:
                    job_parameters = unit_parameters | {
                        "theme": job.theme,
                        "git_commit": commit,
                        "previous_run": os.path.relpath(previous, paths.PROJECT_ROOT) if previous else "",
                    }
                    if job.committee:
                        job_parameters["committee"] = job.committee
                    key = job_key(
                        paths.PROJECT_ROOT / job.notebook,
                        job_parameters,
                        data_fingerprint,
                        package_code,
                        params_hashes,
                        versions,
                    )
                    job_parameters["run_id"] = key[:12]  # the brief's own identity, the same when it is reused
                    unit.planned.append((job, job_parameters, key))
                units.append(unit)
            clean_temporary_files()
            outcome.run_id = units[0].run_id
            export_key = hashlib.sha256(
                json.dumps(
                    [parameters, data_fingerprint, package_code, params_hashes, versions], sort_keys=True
                ).encode()
            ).hexdigest()
            if isinstance(server, kernels.KernelServer) and any(
                key not in unit.reusable for unit in units for _job, _parameters, key in unit.planned
            ):
                kernels.preload(server, tuple(map(str, location.folders)))  # a shared server reads the data now
            stop = threading.Event()
            with ThreadPoolExecutor(max_workers=1) as background:  # the numbers are written while the notebooks run
                exported = background.submit(
                    _export_numbers, units, parameters, location, processed_dir, export_key, server, stop
                )
                try:
                    _execute_all(units, log, timeout, engine)
                    exports = exported.result()
                except BaseException:
                    stop.set()  # the numbers files not begun are not written
                    raise
            for unit in units:
                if not unit.planned:
                    raise WorkbookError(f"--only {','.join(only or [])}: no job of it for kommune {unit.kommune:03d}")
                manifest = {
                    "run_id": unit.run_id,
                    "cadence": cadence,
                    "period": period_code,
                    "kommune": f"{unit.kommune:03d}",
                    "parameters": parameters | {"kommune": unit.kommune},
                    "git_commit": commit,
                    "versions": versions,
                    "inputs": processed["inputs"],
                    "vintages": processed["vintages"],
                    "code": code_hashes,
                    "package_code": package_code,
                    "jobs": [job.__dict__ for job in unit.jobs],
                    "executor": executor,
                    "exports": exports[unit.kommune],
                }
                # The figures the run was made from, for the next brief's "what changed" (see changes.py).
                shutil.copyfile(current_dir(processed_dir) / "table_sums.parquet", unit.build / "figures.parquet")
                (unit.build / "manifest.json").write_text(
                    json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
                )
                several = len(units) > 1
                outcome.jobs += [
                    replace(job, name=f"{job.name}-{unit.kommune:03d}") if several else job for job in unit.jobs
                ]
                if unit.failed:
                    unit.failed_folder = _keep_failed(
                        unit.build, outputs_dir, f"{unit.kommune:03d}-{period_code}", cadence, unit.run_id
                    )
                    outcome.failures.append(unit)
                    continue
                faults.point("publish-before-swap")
                _publish(unit.build, unit.target)
                unit.published = True
                _clean_runs(unit.target, unit.runs)
                log(f"published {relative(unit.target.parent)}/{unit.target.name} (run {unit.run_id})")
        from analysis.deliver.archive import build_index

        build_index(outputs_dir)
        if outcome.failures:
            first = outcome.failures[0]
            outcome.folder, outcome.failed_folder = first.target, first.failed_folder
        return outcome


@dataclass
class Unit:
    """What is published in one step: one municipality's briefs for a period and cadence."""

    kommune: int
    target: Path  # outputs/<kommunekode>/<period>/<cadence>, a link to the published run folder
    run_id: str
    build: Path = Path()
    planned: list = field(default_factory=list)  # (job, parameters, key)
    reusable: dict = field(default_factory=dict)
    jobs: list[JobOutcome] = field(default_factory=list)
    failed_folder: Path | None = None
    published: bool = False

    @property
    def runs(self) -> Path:
        return self.target.parent / RUNS

    @property
    def failed(self) -> list[str]:
        return [job.name for job in self.jobs if job.status == "failed"]


def _remove_unpublished(unit: Unit) -> None:
    """A build that was neither published nor kept as failed (a run stopped by an error) goes."""
    if not unit.published and unit.failed_folder is None and unit.build.exists():
        shutil.rmtree(unit.build)


def _jobs_for(plan: list, kommune: str, strategy_period: str | None, period_code: str, log) -> tuple[list, str]:
    """The run plan for one municipality: committee jobs expanded to the committees of its
    strategy period, and left out where the committees are another council's."""
    council = params.load_council(kommune)
    key = council.strategy.key_for(strategy_period, int(period_code[:4]))
    jobs = []
    for job in params.expand_jobs(plan, council.strategy, key):
        if job.theme == "committee" and not council.own:
            log(f"{job.name} ({kommune}): left out; the committees are another council's")
            continue
        if job.theme == "committee":
            council.strategy.committee(key, job.committee)  # an unknown one is one line, before anything runs
        jobs.append(job)
    return jobs, key


def check_population(processed_dir: Path, kommune: str, period_code: str, cadence: str) -> None:
    """A run needs the municipality's population on the period's reference day: without it (a file
    cut short, a municipality missing) every brief would fail, so say it once, before any runs."""
    processed = read_manifest(processed_dir)
    if kommune in processed.get("population_gaps", {}).get(f"{cadence}/{period_code}", []):
        file = processed["inputs"].get("FOLK1AM", {}).get("file", "FOLK1AM")
        raise WorkbookError(
            f"{file}: no population for kommune {kommune} on the reference day of {period_code}; is the file complete?"
        )


def make_brief(
    notebook: Path,
    values: dict[str, str],
    output: Path | None,
    timeout: int = JOB_TIMEOUT,
    log: Callable[[str], None] = print,
) -> JobOutcome:
    """One notebook's HTML brief with any parameters, made as a run makes it: the parameters are
    checked against the notebook's own (papermill.inspect_notebook) and the brief's model, the
    notebook runs on the same kernel and is exported with the same template. The executed notebook
    is written beside the brief (<name>.ipynb). Nothing is published or reused."""
    path = notebook if notebook.is_absolute() else Path.cwd() / notebook
    if not path.is_file():
        raise WorkbookError(f"{notebook}: no such notebook")
    # The kernel server first, as in run(): its imports overlap the checks and the ingest.
    with kernels.ahead(values.get("data") or None) as server:
        _without_iri_grammar()  # before papermill's import, as in check_notebook_parameters
        import papermill

        from analysis.params import BriefParameters

        check_notebook_parameters(path, committee="committee" in values)
        declared = papermill.inspect_notebook(str(path))
        known = set(declared)
        unknown = sorted(set(values) - known)
        if unknown:
            raise WorkbookError(
                f"-p {unknown[0]}: {relative(path)} has no such parameter; it has {', '.join(sorted(known))}"
            )
        parameters = {name: _typed(value) for name, value in values.items()}
        defaults = {name: _typed(str(p["default"]).strip("\"'")) for name, p in declared.items()}
        merged = defaults | parameters
        try:
            BriefParameters(**merged)
        except ValueError as err:
            raise WorkbookError(
                f"-p: {str(err).splitlines()[2].strip() if len(str(err).splitlines()) > 2 else err}"
            ) from None
        location = data_location(merged.get("data") or None)
        result = store.build(location)
        log(f"ingest: {'unchanged' if result.skipped else 'rebuilt'}, {result.rows:,} observations")
        name = path.stem
        output = output or paths.OUTPUTS_DIR / "briefs" / f"{name}-{merged.get('period', 'latest')}.html"
        output.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="workbook-brief-") as folder:
            (Path(folder) / "executed").mkdir()
            (Path(folder) / "briefs").mkdir()
            started = nullcontext(server) if server is not UNSTARTED else None
            with started or kernels.server(tuple(map(str, location.folders))) as server:
                if isinstance(server, kernels.KernelServer):
                    kernels.preload(server, tuple(map(str, location.folders)))  # a shared server reads it now
                _import_execution_modules(render_here=not _renders(server))
                job = {"name": name, "notebook": os.path.relpath(path, paths.PROJECT_ROOT)}
                done = _execute(
                    job,
                    parameters | {"git_commit": git_commit()},
                    folder,
                    timeout,
                    server.kernel_dir if server else None,
                    server.address if _renders(server) else None,
                )
            executed = Path(folder) / "executed" / f"{name}.ipynb"
            if executed.is_file():
                shutil.copyfile(executed, output.with_suffix(".ipynb"))
            if done.status == "ok":
                shutil.copyfile(Path(folder) / done.brief, output)
                shutil.copyfile((Path(folder) / done.brief).with_suffix(".pdf"), output.with_suffix(".pdf"))
                log(f"{name}: brief made in {done.seconds:.1f} s: {relative(output)} (executed notebook beside it)")
            done.brief = relative(output.with_suffix(".ipynb"))
        return done


def _typed(text: str):
    """A -p value as papermill's command line reads it: a whole number, true/false, or text."""
    if text.lstrip("-").isdigit():
        return int(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def _export_numbers(
    units: list[Unit], parameters: dict, location, processed_dir: Path, key: str, server, stop: threading.Event
) -> dict[int, dict[str, str]]:
    """Every number of each municipality's briefs, for its comparison group, as Excel and CSV beside
    the briefs (tal-<kommunekode>.xlsx/.csv); copied from the published run when nothing they depend
    on changed. The rest are written in one call (the members of a comparison group share their
    numbers; see tables.export_numbers), in a fork of the run's kernel server when it has one (pandas
    and the data are in memory there; this process need not import them), else here. Once `stop` is
    set, the call ends before its next municipality (a fork is killed)."""
    exports, files = {}, {}
    for unit in units:
        names = [f"tal-{unit.kommune:03d}.{suffix}" for suffix in ("xlsx", "csv")]
        exports[unit.kommune] = {name: key for name in names}
        try:
            previous = json.loads((unit.target / "manifest.json").read_text(encoding="utf-8")).get("exports", {})
        except (OSError, json.JSONDecodeError, AttributeError):
            previous = {}
        if all(previous.get(name) == key and (unit.target / name).is_file() for name in names):
            for name in names:
                shutil.copy2(unit.target / name, unit.build / name)
        else:
            files[f"{unit.kommune:03d}"] = [str(unit.build / name) for name in names]
    if not files:
        return exports
    arguments = {
        "files": files,
        "period": parameters["period"],
        "comparison_group": parameters["comparison_group"],
        "strategy_period": parameters["strategy_period"],
        "example_data": parameters["example_data"],
        "folders": [str(folder) for folder in location.folders],
        "processed_dir": str(processed_dir),
    }
    if isinstance(server, kernels.KernelServer):
        kernels.call(server.address, "analysis.report.tables:export_numbers", arguments, stop=stop)
    else:
        from analysis.report.tables import export_numbers

        export_numbers(**arguments, stop=stop.is_set)
    return exports


def _previous_jobs(target: Path) -> dict[str, dict]:
    """The jobs of the published run, by key, whose files are still there to reuse."""
    manifest_path = target / "manifest.json"
    if not manifest_path.is_file():
        return {}
    try:
        jobs = json.loads(manifest_path.read_text(encoding="utf-8")).get("jobs", [])
    except json.JSONDecodeError:
        return {}
    return {
        job["key"]: job
        for job in jobs
        if job.get("status") in ("ok", "reused") and job.get("key") and (target / job.get("brief", "-")).is_file()
    }


def _execute_all(units: list[Unit], log, timeout, engine) -> None:
    """Reuse what is unchanged, run the rest of every unit's jobs together on the engine, and
    report as jobs finish."""
    to_run = []
    several = len(units) > 1
    for unit in units:
        outcomes: dict[str, JobOutcome] = {}
        for job, job_parameters, key in unit.planned:
            old = unit.reusable.get(key)
            name = f"{job.name} ({unit.kommune:03d})" if several else job.name
            if old and old["name"] == job.name:
                shutil.copy2(unit.target / old["brief"], unit.build / old["brief"])
                pdf = Path(old["brief"]).with_suffix(".pdf")
                if (unit.target / pdf).is_file():
                    shutil.copy2(unit.target / pdf, unit.build / pdf)
                if (unit.target / "executed" / f"{job.name}.ipynb").is_file():
                    shutil.copy2(
                        unit.target / "executed" / f"{job.name}.ipynb", unit.build / "executed" / f"{job.name}.ipynb"
                    )
                outcomes[job.name] = JobOutcome(job.name, job.notebook, "reused", 0.0, old["brief"], "", key)
                log(f"{name}: unchanged, brief reused")
            else:
                to_run.append((job, job_parameters, key, unit))
        unit.jobs = [outcomes.get(job.name) for job, _p, _k in unit.planned]
    if to_run:
        progress = _progress(len(to_run))
        for (job, _parameters, key, unit), done in engine.execute(to_run, timeout):
            done.key = key
            index = next(i for i, (planned, _p, _k) in enumerate(unit.planned) if planned.name == job.name)
            unit.jobs[index] = done
            name = f"{job.name} ({unit.kommune:03d})" if several else job.name
            if done.status == "ok":
                progress(f"{name}: brief made in {done.seconds:.1f} s")
            else:
                progress(f"{name}: FAILED ({done.error}); executed notebook kept in executed/{job.name}.ipynb")


class Local:
    """Jobs on a process pool on this machine, with warm kernels where the system allows."""

    def __init__(self, workers: int | None, server=UNSTARTED) -> None:
        self.workers = workers
        self.server = server  # the run's kernel server when it started one already

    def execute(self, to_run, timeout: int):
        """Yields ((job, parameters, key, unit), JobOutcome) as the jobs finish."""
        data = to_run[0][1].get("data") or None if to_run else None
        started = nullcontext(self.server) if self.server is not UNSTARTED else None
        with started or kernels.server(tuple(map(str, data_location(data).folders))) as server:
            _import_execution_modules(render_here=not _renders(server))
            others = {child.pid for child in multiprocessing.active_children()}  # not the pool's
            with ProcessPoolExecutor(
                max_workers=self.workers or workers_for(len(to_run)), initializer=_worker_start
            ) as pool:
                # The workers are forked at the first submit. What they inherit is frozen for them
                # first (Python's advice for fork without exec): their collections then leave it
                # alone instead of writing to it, which copied its pages into each worker (measured
                # on the quarterly run: half the page copies of a worker, 0.2 s of the run). A
                # process that froze objects itself (a fork of the kernel server) is left as it is.
                ours = gc.get_freeze_count() == 0
                if ours:
                    gc.freeze()
                try:
                    futures = {
                        pool.submit(
                            _execute_in_worker,
                            job.model_dump(),
                            job_parameters,
                            str(unit.build),
                            timeout,
                            server.kernel_dir if server else None,
                            server.address if _renders(server) else None,
                        ): (job, job_parameters, key, unit)
                        for job, job_parameters, key, unit in to_run
                    }
                finally:
                    if ours:
                        gc.unfreeze()  # this process collects as before (a notebook or a test may go on)
                try:
                    for future in as_completed(futures):
                        yield futures[future], future.result()
                except BaseException:
                    # Ctrl-C or an error: the jobs still running end now, and their kernels with them
                    # (a worker ignores SIGINT, and leaving this block would wait for its notebook).
                    pool.shutdown(wait=False, cancel_futures=True)
                    workers = [w for w in multiprocessing.active_children() if w.pid not in others]
                    for worker in workers:  # the pool's workers, not a caller's processes
                        worker.terminate()
                    for worker in workers:  # gone when the run returns, not a moment later
                        worker.join(5)
                    raise


class Dask:
    """Jobs on an existing Dask cluster. Its workers need this project at the same path (a shared
    drive) and the same environment; they send the executed notebook and brief back, so they
    need no access to the run's build folder. Kernels there start the usual way."""

    def __init__(self, scheduler: str, data_fingerprint: str) -> None:
        self.scheduler = scheduler
        self.expected = {"root": str(paths.PROJECT_ROOT), "data": data_fingerprint}

    def execute(self, to_run, timeout: int):
        try:
            from distributed import Client
            from distributed import as_completed as dask_completed
        except ImportError:
            raise WorkbookError("--executor dask: Dask is not installed; pip install -e '.[dask]'") from None
        _probe(self.scheduler)
        try:
            client = Client(self.scheduler, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as err:
            raise WorkbookError(
                f"--scheduler {self.scheduler}: no Dask scheduler answered "
                f"({str(err).splitlines()[0] if str(err) else type(err).__name__})"
            ) from None
        with client:
            futures = {
                client.submit(
                    _execute_elsewhere,
                    job.model_dump(),
                    job_parameters,
                    timeout,
                    self.expected,
                    key=f"workbook-{job.name}-{key[:16]}",
                    pure=False,
                ): (job, job_parameters, key, unit)
                for job, job_parameters, key, unit in to_run
            }
            for future in dask_completed(futures, loop=client.loop):
                job, job_parameters, key, unit = futures[future]
                try:
                    done, files = future.result()
                except Exception as err:  # a worker that died or a task the cluster gave up on
                    done, files = JobOutcome(job.name, job.notebook, "failed", error=_first_line(err)), {}
                for name, content in files.items():
                    (unit.build / name).write_bytes(content)
                yield (job, job_parameters, key, unit), done


def _probe(scheduler: str) -> None:
    """A scheduler address where nothing listens is refused at once; Client would retry for its
    whole timeout first."""
    from urllib.parse import urlsplit

    parts = urlsplit(scheduler if "://" in scheduler else f"tcp://{scheduler}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        return  # Client says what is wrong with the address
    if parts.scheme not in ("tcp", "tls") or not host or not port:
        return
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as err:
        raise WorkbookError(
            f"--scheduler {scheduler}: no Dask scheduler answered ({err.strerror or type(err).__name__})"
        ) from None


def _execute_elsewhere(
    job: dict, parameters: dict, timeout: int, expected: dict
) -> tuple[JobOutcome, dict[str, bytes]]:
    """One job on another engine's worker: run it in a folder of its own and send the files back
    with the outcome. A worker that sees another project or other processed data refuses it."""
    refused = None
    if str(paths.PROJECT_ROOT) != expected["root"]:
        refused = f"worker {socket.gethostname()} sees the project at {paths.PROJECT_ROOT}, not {expected['root']}"
    elif read_manifest(paths.PROCESSED_DIR).get("fingerprint") != expected["data"]:
        refused = f"worker {socket.gethostname()} sees other processed data in {paths.PROCESSED_DIR}"
    if refused:
        return JobOutcome(job["name"], job["notebook"], "failed", error=refused), {}
    with tempfile.TemporaryDirectory(prefix="workbook-job-") as folder:
        (Path(folder) / "executed").mkdir()
        (Path(folder) / "briefs").mkdir()
        _import_execution_modules()
        outcome = _execute(job, parameters, folder, timeout)
        names = [f"executed/{job['name']}.ipynb", outcome.brief]
        files = {name: (Path(folder) / name).read_bytes() for name in names if name and (Path(folder) / name).is_file()}
    return outcome, files


def _progress(total: int) -> Callable[[str], None]:
    """A progress bar in a terminal, plain log lines for schedulers and logs."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, unit="brief", file=sys.stderr, leave=True)

        def step(message: str) -> None:
            bar.set_postfix_str(message.split(":")[0])
            bar.update(1)
            if "FAILED" in message:
                bar.write(message, file=sys.stderr)
            if bar.n == total:
                bar.close()

        return step
    return lambda message: print(message, file=sys.stderr, flush=True)


def _worker_start() -> None:
    """A pool worker ends with the run that started it. (Outside Linux a killed run's workers
    finish their notebook and exit.)"""
    kernels.die_with_parent()
    # A worker forked from a process that had run a notebook itself (`python -m analysis brief`,
    # or any caller of papermill, before `run` in the same process) inherits that process's
    # event loop (jupyter_client's, one per thread and context), whose thread pool has no threads
    # here: a kernel started on it would wait forever. Nor may the worker close it: its selector
    # is the process's epoll, which fork shares, and closing the loop took the process's wakeup
    # socket out of it, so that the process's next kernel start waited forever instead. The worker
    # keeps it as it is, and runs each job in a context of its own (`_execute_in_worker`), where
    # jupyter_client makes the job a loop of the worker's own.
    from jupyter_core.utils import ensure_event_loop

    _INHERITED_LOOPS.append(ensure_event_loop())  # held: a loop that is collected closes itself
    # Ctrl-C in a terminal reaches the whole process group: the run itself says so in one line and
    # exits, and its workers end with it (above), without a traceback each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _without_iri_grammar() -> None:
    """jsonschema imports rfc3987-syntax when it is installed (JupyterLab brings it) to check IRI
    formats, and builds a grammar for it: 0.8 s (3 s under load) of every process that imports
    nbformat. nbformat never asks for those formats, so the run leaves it out."""
    sys.modules.setdefault("rfc3987_syntax", None)  # None: `import rfc3987_syntax` raises ImportError


def _renders(server) -> bool:
    """Whether the briefs are rendered in forks of this kernel server: a shared server that was
    started to (it has nbconvert and WeasyPrint warm for every run). A run's own server does not:
    the run warms them up in its own process while its server imports, which is quicker."""
    return isinstance(server, kernels.KernelServer) and server.renders


def _import_execution_modules(render_here: bool = True) -> None:
    """Import papermill (and, when this process's workers render the briefs themselves, nbconvert
    and WeasyPrint, with one small brief made) once, before the pool forks, so the workers share
    them instead of each importing them at the same time (measured: 17 s instead of 11 s for the
    quarterly run), and the first brief of each worker starts warm."""
    _without_iri_grammar()
    import papermill  # noqa: F401

    import analysis.run.engine  # noqa: F401

    if render_here:
        from analysis.report import render

        render.warm_up()


def _first_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}".splitlines()[0]


_INHERITED_LOOPS: list = []


def _execute_in_worker(*args) -> JobOutcome:
    """`_execute` in a pool worker, in a context of its own: jupyter_client's event loop there is
    the job's, and is closed after it (see `_worker_start`)."""
    return contextvars.Context().run(_execute_on_its_own_loop, *args)


def _execute_on_its_own_loop(*args) -> JobOutcome:
    from jupyter_core.utils import ensure_event_loop

    try:
        return _execute(*args)
    finally:
        ensure_event_loop().close()


def _execute(
    job: dict, parameters: dict, build: str, timeout: int, kernel_dir: str | None = None, render_at: str | None = None
) -> JobOutcome:
    """One job, in a worker process: execute the notebook and render its brief.

    With a kernel server's kernel folder, the notebook's kernel is forked from it (see kernels.py);
    with the address of a server that renders (a shared one), the brief is rendered in a fork of it."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from analysis.run.engine import ENGINE

    name, notebook_path = job["name"], job["notebook"]
    outcome = JobOutcome(name, notebook_path)
    executed = Path(build) / "executed" / f"{name}.ipynb"
    started = time.perf_counter()
    socket_dir = kernels.short_tempdir("workbook-kernel-")
    try:
        papermill.execute_notebook(
            str(paths.PROJECT_ROOT / notebook_path),
            str(executed),
            parameters=parameters,
            engine_name=ENGINE,
            recorded_paths={"input_path": notebook_path, "output_path": f"executed/{executed.name}"},
            kernel_name=KERNEL,
            progress_bar=False,
            log_output=False,
            cwd=str(paths.NOTEBOOKS_DIR),
            execution_timeout=timeout,
            kernel_manager_class=kernels.kernel_manager_class(socket_dir, kernel_dir),
        )
        files = {
            "executed": str(executed),
            "html": str(Path(build) / "briefs" / f"{name}.html"),
            "pdf": str(Path(build) / "briefs" / f"{name}.pdf"),
        }
        if render_at:  # in a fork of the kernel server, where nbconvert and WeasyPrint are warm
            kernels.call(render_at, "analysis.report.render:brief_files", files)
        else:
            from analysis.report.render import brief_files

            brief_files(**files)
        outcome.brief = f"briefs/{name}.html"
    except PapermillExecutionError as err:
        outcome.status, outcome.error = "failed", f"{err.ename}: {err.evalue}".splitlines()[0]
    except Exception as err:  # a kernel that died or timed out: the job fails, the run goes on
        outcome.status, outcome.error = "failed", _first_line(err)
    finally:
        shutil.rmtree(socket_dir, ignore_errors=True)
    outcome.seconds = round(time.perf_counter() - started, 2)
    return outcome


def _publish(build: Path, target: Path) -> None:
    """Make the finished run the published one in one step: `target` is a link to the run's own
    folder, swapped with a rename. A reader sees the old run or the new one, never neither."""
    if target.exists() and not target.is_symlink():
        # The layout before linked runs: move the published folder among the runs first (a kill
        # between the two renames is mended by _recover at the next run).
        legacy = Path(tempfile.mkdtemp(prefix=f"{target.name}-legacy-", dir=build.parent))
        legacy.rmdir()
        target.rename(legacy)
    link = target.parent / f".{target.name}.link-{os.getpid()}"
    if link.is_symlink():
        link.unlink()
    link.symlink_to(os.path.relpath(build, target.parent))
    os.replace(link, target)


def _recover(target: Path, runs: Path, log) -> None:
    """Mend what a killed run left: a published run that is not linked (killed between two
    renames), and the temporary folders of the layout before linked runs."""
    parent = target.parent
    for stale in parent.glob(f".{target.name}.building-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for link in parent.glob(f".{target.name}.link-*"):
        link.unlink(missing_ok=True)
    if target.exists():
        for old in parent.glob(f".{target.name}.old-*"):
            shutil.rmtree(old, ignore_errors=True)
        return
    candidates = [p for p in runs.glob(f"{target.name}-*") if (p / "manifest.json").is_file()] if runs.is_dir() else []
    for old in parent.glob(f".{target.name}.old-*"):  # the layout before linked runs, killed mid-swap
        if (old / target.name / "manifest.json").is_file():
            runs.mkdir(exist_ok=True)
            moved = runs / f"{target.name}-restored-{old.name.rsplit('-', 1)[-1]}"
            (old / target.name).rename(moved)
            candidates.append(moved)
        shutil.rmtree(old, ignore_errors=True)
    complete = [p for p in candidates if _published_whole(p)]
    if target.is_symlink():
        target.unlink()  # a link to a run that is gone
    if complete:
        newest = max(complete, key=lambda p: p.stat().st_mtime)
        _publish(newest, target)
        log(f"restored {relative(target.parent)}/{target.name}: it was left unpublished by a run that was killed")


def _published_whole(folder: Path) -> bool:
    """A run folder whose manifest lists only successful jobs, with every brief present."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    jobs = manifest.get("jobs", [])
    return bool(jobs) and all(
        j.get("status") in ("ok", "reused") and (folder / j.get("brief", "-")).is_file() for j in jobs
    )


def _clean_runs(target: Path, runs: Path) -> None:
    """Remove the runs of this cadence that are no longer published."""
    current = os.path.realpath(target)
    for folder in runs.glob(f"{target.name}-*"):
        if os.path.realpath(folder) != current:
            shutil.rmtree(folder, ignore_errors=True)


FAILED_KEPT = 5  # failed builds kept per period and cadence


def _keep_failed(build: Path, outputs_dir: Path, period_code: str, cadence: str, run_id: str) -> Path:
    """Move a build in which a job failed to outputs/.failed/, for inspection; nothing is published."""
    failed = outputs_dir / FAILED
    failed.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{period_code}-{cadence}-{run_id}-", dir=failed))
    folder.rmdir()
    build.rename(folder)
    older = sorted(failed.glob(f"{period_code}-{cadence}-*"), key=lambda p: p.stat().st_mtime)
    for path in older[:-FAILED_KEPT]:
        shutil.rmtree(path, ignore_errors=True)
    return folder


def clean_temporary_files() -> None:
    """Remove the kernel folders (sockets, connection files) of runs that are no longer running."""
    bases = {tempfile.gettempdir(), "/tmp"}
    for base in bases:
        for folder in Path(base).glob("workbook-kernel*-*"):
            pid = folder.name.split("-")[2] if folder.name.count("-") >= 3 else ""
            if pid.isdigit() and not _alive(int(pid)) and folder.owner() == Path.home().owner():
                shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

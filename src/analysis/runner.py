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

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import nbformat

from analysis import __version__, indicators, params
from analysis.brief import git_commit
from analysis.errors import WorkbookError
from analysis.ingest import data_location, ingest, load_processed
from analysis.paths import NOTEBOOKS_DIR, OUTPUTS_DIR, PARAMS_DIR, PROCESSED_DIR, PROJECT_ROOT, TEMPLATES_DIR, relative
from analysis.periods import CADENCES, cadence_period, code

PACKAGES = ["analysis", "pandas", "matplotlib", "papermill", "nbconvert", "scipy", "babel", "pyarrow"]
KERNEL = "python3"


def _kernel_manager_class():
    """Kernels talk over local IPC sockets (in Jupyter's runtime folder) rather than open TCP ports."""
    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(transport="ipc", **kwargs)

    return IPCKernelManager


@dataclass
class JobOutcome:
    name: str
    notebook: str
    status: str = "ok"
    seconds: float = 0.0
    brief: str = ""
    error: str = ""


@dataclass
class RunOutcome:
    folder: Path
    period: str
    cadence: str
    run_id: str
    jobs: list[JobOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [job.name for job in self.jobs if job.status != "ok"]


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_brief(notebook: nbformat.NotebookNode, title: str) -> str:
    """The HTML brief of an executed notebook: outputs only, our template, no scripts."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    notebook.metadata["title"] = title
    exporter = HTMLExporter(
        template_name="brief",
        extra_template_basedirs=[str(TEMPLATES_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={"analyst"}), enabled=True)
    body, _resources = exporter.from_notebook_node(notebook)
    return body


def _document_title(notebook: nbformat.NotebookNode) -> str:
    """The brief's title, read from the header the notebook displayed (the <h1>)."""
    import re

    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html", "")
            match = re.search(r"<h1>(.*?)</h1>.*?<p class=\"meta\">(.*?)</p>", html, re.S)
            if match:
                return f"{match.group(1)} · {match.group(2)}".replace("&amp;", "&")
    return "Strategiopfølgning"


def run(
    cadence: str,
    period_text: str,
    data: str | None = None,
    outputs_dir: Path = OUTPUTS_DIR,
    processed_dir: Path = PROCESSED_DIR,
    log: Callable[[str], None] = print,
    example_data: bool = False,
) -> RunOutcome:
    """Make every brief of a cadence for a period; raises WorkbookError on bad input."""
    if cadence not in CADENCES:
        raise WorkbookError(f"--cadence {cadence}: unknown cadence; expected one of {', '.join(CADENCES)}")
    requested = None if period_text == "latest" else cadence_period(period_text, cadence)
    strategy = params.load_strategy()
    params.load_indicators()
    jobs = params.load_runs().cadences.get(cadence, [])
    if not jobs:
        raise WorkbookError(f"params/runs.yml: no jobs for cadence {cadence}")
    for job in jobs:
        if not (PROJECT_ROOT / job.notebook).is_file():
            raise WorkbookError(f"params/runs.yml: job {job.name}: notebook {job.notebook} not found")

    location = data_location(data)
    result = ingest(location, processed_dir)
    log(f"ingest: {'unchanged' if result.skipped else 'rebuilt'}, {result.rows:,} observations")
    processed = load_processed(location, processed_dir)
    period = indicators.resolve_period(processed.observations, cadence, requested)
    period_code = code(period)

    commit = git_commit()
    inputs = {table: entry["sha256"] for table, entry in sorted(processed.inputs.items())}
    code_files = sorted([*PARAMS_DIR.glob("*.yml"), *(PROJECT_ROOT / j.notebook for j in jobs)])
    code_hashes = {relative(p): file_digest(p) for p in code_files}
    parameters = {
        "cadence": cadence,
        "period": period_code,
        "kommune": strategy.kommune,
        "comparison_group": "kommunegruppe",
        "strategy_period": strategy.default_strategy_period,
        "data": str(data or ""),
        "example_data": example_data,
    }
    run_key = json.dumps({"parameters": parameters, "inputs": inputs, "code": code_hashes,
                          "version": __version__, "commit": commit}, sort_keys=True)
    run_id = hashlib.sha256(run_key.encode()).hexdigest()[:12]

    target = outputs_dir / period_code / cadence
    target.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{cadence}.building-", dir=target.parent))
    build.chmod(0o755)
    outcome = RunOutcome(target, period_code, cadence, run_id)
    try:
        (build / "executed").mkdir()
        (build / "briefs").mkdir()
        for job in jobs:
            job_parameters = parameters | {"run_id": run_id, "git_commit": commit}
            if job.committee:
                job_parameters["committee"] = job.committee
            outcome.jobs.append(_execute(job, job_parameters, build, log))
        manifest = {
            "run_id": run_id,
            "cadence": cadence,
            "period": period_code,
            "parameters": parameters,
            "git_commit": commit,
            "versions": {name: version(name) for name in PACKAGES},
            "inputs": processed.inputs,
            "vintages": processed.vintages,
            "code": code_hashes,
            "jobs": [job.__dict__ for job in outcome.jobs],
        }
        (build / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n",
                                             encoding="utf-8")
        _publish(build, target)
    finally:
        if build.exists():
            shutil.rmtree(build)
    log(f"published {relative(target)} (run {run_id})")
    return outcome


def _execute(job: params.Job, parameters: dict, build: Path, log: Callable[[str], None]) -> JobOutcome:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    outcome = JobOutcome(job.name, job.notebook)
    executed = build / "executed" / f"{job.name}.ipynb"
    started = time.perf_counter()
    try:
        notebook = papermill.execute_notebook(
            str(PROJECT_ROOT / job.notebook), str(executed), parameters=parameters, kernel_name=KERNEL,
            progress_bar=False, log_output=False, cwd=str(NOTEBOOKS_DIR),
            kernel_manager_class=_kernel_manager_class(),
        )
        brief_path = build / "briefs" / f"{job.name}.html"
        brief_path.write_text(export_brief(notebook, _document_title(notebook)), encoding="utf-8")
        outcome.brief = f"briefs/{job.name}.html"
    except PapermillExecutionError as err:
        outcome.status, outcome.error = "failed", f"{err.ename}: {err.evalue}".splitlines()[0]
    outcome.seconds = round(time.perf_counter() - started, 2)
    if outcome.status == "ok":
        log(f"{job.name}: brief made in {outcome.seconds:.1f} s")
    else:
        log(f"{job.name}: FAILED ({outcome.error}); executed notebook kept in executed/{job.name}.ipynb")
    return outcome


def _publish(build: Path, target: Path) -> None:
    """Swap the finished build into place; the old run is removed only after the swap."""
    if target.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        target.rename(retired / target.name)
        build.rename(target)
        shutil.rmtree(retired)
    else:
        build.rename(target)

"""Benchmarks of a run, printed side by side (not a test: nothing here fails on a slow machine).

(a) the naive baseline: for each notebook of the quarterly run, the `papermill` command and then
    `jupyter nbconvert --to html`, one after the other;
(b) the workbook's quarterly run from processed data (--force: every notebook executed), the
    median of three runs (a run of 4 s varies by about 0.2 s on this machine; all three are printed);
(c) the same run again with nothing changed, the median of three;
(d) ingest of the whole snapshot from raw: seconds and peak memory;
(e) seconds per brief for runs of the growth notebook over 1, 10 and all 98 municipalities, with
    the CPU seconds each brief took in all the run's processes, and, for one brief, the CPU of
    its HTML export and of its PDF alone (in this process, warm): the part of a brief that is
    rendering, against what the goal leaves a brief on this machine's cores.

Usage (from the project root): make bench, or .venv/bin/python benchmarks/bench.py [--quick]
--quick leaves out the 98-municipality run of (e).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from analysis import params
from analysis.paths import PROJECT_ROOT

BIN = Path(sys.executable).parent


def timed(command: list[str], cwd: Path = PROJECT_ROOT) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def naive(folder: Path) -> float:
    jobs = params.load_runs().cadences["kvartal"]
    total = 0.0
    for job in jobs:
        executed = folder / f"{job.name}.ipynb"
        total += timed(
            [str(BIN / "papermill"), job.notebook, str(executed), "-p", "period", "latest", "--kernel", "python3"]
        )
        total += timed([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(executed)])
    return total


def workbook(outputs: Path, *extra: str) -> float:
    return timed([sys.executable, "-m", "analysis", "run", "--cadence", "kvartal", "--outputs", str(outputs), *extra])


def ingest_from_raw() -> tuple[float, float]:
    """Seconds and peak resident memory (MB) of a full ingest, in a child process of its own."""
    script = (
        "import resource, time; from analysis.data.processed import data_location; from analysis.indicators.store import build; t = time.perf_counter(); "
        "build(data_location(), force=True); "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    seconds, megabytes = map(float, out.stdout.split())
    return seconds, megabytes


def children_cpu() -> float:
    """CPU seconds of this process's ended children and theirs (a run, its workers, kernel server
    and the server's forks: each waits for its own)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def per_brief(outputs: Path, count: int) -> tuple[float, float]:
    """Seconds and CPU seconds per brief of a run of the growth notebook for `count` municipalities."""
    from analysis.data.processed import data_location
    from analysis.indicators.store import load as load_processed

    codes = list(load_processed(data_location()).areas.municipalities["code"])
    chosen = ["766", *[c for c in codes if c != "766"]][:count]
    cpu = children_cpu()
    seconds = workbook(outputs, "--force", "--only", "growth", "--kommune", ",".join(chosen))
    return seconds / count, (children_cpu() - cpu) / count


def rendering_cpu(published: Path) -> tuple[float, float]:
    """CPU seconds of the HTML export and of the PDF of one published growth brief, in this process
    after a warm-up (as a run's renderer is warm): the median of three."""
    import nbformat

    from analysis.report import render

    notebook = nbformat.read(published / "executed" / "growth.ipynb", as_version=4)
    render.warm_up()
    html_cpu, pdf_cpu = [], []
    for _ in range(3):
        started = time.process_time()
        html = render.export_brief(nbformat.from_dict(notebook), render.document_title(notebook))
        exported = time.process_time()
        render.write_pdf(html, None)
        html_cpu.append(exported - started)
        pdf_cpu.append(time.process_time() - exported)
    return statistics.median(html_cpu), statistics.median(pdf_cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="leave out the 98-municipality run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        subprocess.run([sys.executable, "-m", "analysis", "ingest"], cwd=PROJECT_ROOT, check=True, capture_output=True)
        figures = {}
        (folder / "naive").mkdir()
        figures["a"] = naive(folder / "naive")
        figures["b_runs"] = [workbook(folder / "run", "--force") for _ in range(3)]
        figures["c_runs"] = [workbook(folder / "run") for _ in range(3)]
        figures["b"], figures["c"] = statistics.median(figures["b_runs"]), statistics.median(figures["c_runs"])
        figures["d_seconds"], figures["d_mb"] = ingest_from_raw()
        counts = [1, 10] if args.quick else [1, 10, 98]
        measured = {n: per_brief(folder / f"many-{n}", n) for n in counts}
        figures["e"] = {n: seconds for n, (seconds, _cpu) in measured.items()}
        figures["e_cpu"] = {n: cpu for n, (_seconds, cpu) in measured.items()}
        figures["e_html_cpu"], figures["e_pdf_cpu"] = rendering_cpu(folder / "many-1/766/2025K1/kvartal")
        peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    a = figures["a"]

    def verdict(met: bool) -> str:
        return "met" if met else "NOT met"

    b, c, d_s, d_mb = figures["b"], figures["c"], figures["d_seconds"], figures["d_mb"]
    print("Benchmark of the quarterly run (seconds; same machine; (b) and (c) the median of three runs)")
    print(f"(a) naive papermill + nbconvert, one notebook after the other  {a:7.1f}")
    print(
        f"(b) workbook run from processed data (--force)                 {b:7.1f}   {b / a:5.3f} x (a)  goal <= 0.15: {verdict(b / a <= 0.15)}"
    )
    print(f"    (b) runs: {', '.join(f'{t:.2f}' for t in figures['b_runs'])}")
    print(
        f"(c) the same run again, nothing changed                        {c:7.1f}   {c / a:5.3f} x (a)  goal <= 0.05: {verdict(c / a <= 0.05)}"
    )
    print(
        f"(d) ingest of the whole snapshot from raw                      {d_s:7.1f}   peak {d_mb:.0f} MB  goal < 300 MB: {verdict(d_mb < 300)}"
    )
    for n, seconds in figures["e"].items():
        goal = f"  goal <= 0.30: {verdict(seconds <= 0.30)}" if n == 98 else ""
        print(
            f"(e) growth briefs for {n:2d} municipalit{'y  ' if n == 1 else 'ies'}, per brief                {seconds:7.2f}{goal}"
        )
    cores = os.cpu_count() or 1
    print(
        f"    CPU seconds per brief, all the run's processes: {', '.join(f'{n}: {c:.2f}' for n, c in figures['e_cpu'].items())}"
    )
    print(
        f"    of one brief, warm, in one process: HTML export {figures['e_html_cpu']:.2f}, PDF {figures['e_pdf_cpu']:.2f}"
        f" (0.30 s a brief on {cores} cores leaves a brief {0.30 * cores:.2f} s of CPU in all)"
    )
    print(f"    largest child process: {peak_children:.0f} MB")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""Warm kernels: a kernel forked from the kernel server looks to a notebook like a launched one,
and nothing one notebook does reaches the next."""

from __future__ import annotations

import json
import os

import nbformat
import papermill
import pytest

from analysis import kernels
from analysis.paths import NOTEBOOKS_DIR

pytestmark = [pytest.mark.skipif(not kernels.available(), reason="warm kernels need Linux"), pytest.mark.e2e]

PROBE = """
import json, os, sys
import matplotlib
import analysis.brief

seen = {
    "cwd": os.getcwd(),
    "path": sys.path,
    "argv": [os.path.basename(sys.argv[0]), sys.argv[1], *sys.argv[3:]],
    "parent_is_watched": os.environ["JPY_PARENT_PID"] == str(os.getppid()),
    "mplbackend": os.environ.get("MPLBACKEND"),
    "backend": matplotlib.get_backend(),
    "stdin_is_tty": sys.stdin is not None and sys.stdin.isatty(),
    "leak": getattr(analysis, "LEAKED", None),
    "parent": os.getppid(),
}
analysis.LEAKED = "from the previous notebook"
print(json.dumps(seen))
"""


def _probe(tmp_path, name: str, server: str | None) -> dict:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = tmp_path / f"{name}.ipynb"
    nbformat.write(notebook, source)
    sockets = tmp_path / f"{name}-sockets"
    sockets.mkdir()
    done = papermill.execute_notebook(
        str(source),
        str(tmp_path / f"{name}-out.ipynb"),
        kernel_name="python3",
        progress_bar=False,
        cwd=str(NOTEBOOKS_DIR),
        kernel_manager_class=kernels.kernel_manager_class(str(sockets), server),
    )
    return json.loads(done.cells[0].outputs[0]["text"])


def test_a_warm_kernel_looks_like_a_launched_one_and_keeps_nothing_from_the_last(tmp_path):
    launched = _probe(tmp_path, "launched", None)
    with kernels.KernelServer() as server:
        first = _probe(tmp_path, "warm-1", server.address)
        second = _probe(tmp_path, "warm-2", server.address)
        server_pid = server.process.pid
    assert launched.pop("parent") == os.getpid(), "papermill launched this kernel"
    assert first.pop("parent") == second.pop("parent") == server_pid, "these kernels were forked by the server"
    assert launched["cwd"] == str(NOTEBOOKS_DIR)
    assert launched["argv"][0] == "ipykernel_launcher.py" and launched["argv"][1] == "-f"
    assert launched["parent_is_watched"]
    assert launched["backend"] == "Agg"  # analysis.charts draws with Agg
    assert first == launched
    assert second == launched, "a notebook's changes to modules stay in its own kernel"

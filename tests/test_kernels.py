"""Warm kernels: a kernel forked from the kernel server looks to a notebook like a launched one,
and nothing one notebook does reaches the next."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import nbformat
import papermill
import pytest

from analysis.paths import NOTEBOOKS_DIR
from analysis.run import kernels

pytestmark = [pytest.mark.skipif(not kernels.available(), reason="warm kernels need Linux"), pytest.mark.e2e]

PROBE = """
import json, os, sys
import matplotlib
import analysis.report.brief

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


def _probe(tmp_path, name: str, server: str | None, code: str = PROBE) -> dict:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
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


def test_a_warm_kernel_looks_like_a_launched_one_and_keeps_nothing_from_the_last(tmp_path, shared_kernel_server):
    launched = _probe(tmp_path, "launched", None)
    server = shared_kernel_server  # any kernel server: the session's
    first = _probe(tmp_path, "warm-1", server.kernel_dir)
    second = _probe(tmp_path, "warm-2", server.kernel_dir)
    server_pid = server.process.pid
    assert launched.pop("parent") == os.getpid(), "papermill launched this kernel"
    assert first.pop("parent") == second.pop("parent") == server_pid, "these kernels were forked by the server"
    assert launched["cwd"] == str(NOTEBOOKS_DIR)
    assert launched["argv"][0] == "ipykernel_launcher.py" and launched["argv"][1] == "-f"
    assert launched["parent_is_watched"]
    assert launched["backend"] == "Agg"  # analysis.report.charts draws with Agg
    assert first == launched
    assert second == launched, "a notebook's changes to modules stay in its own kernel"


def _manager(tmp_path, server):
    sockets = tmp_path / "sockets"
    sockets.mkdir(exist_ok=True)
    return kernels.kernel_manager_class(str(sockets), server.kernel_dir)(kernel_name="python3")


def test_the_provisioner_is_the_registered_one_and_hears_the_real_exit_status(tmp_path, shared_kernel_server):
    """jupyter_client picks the warm provisioner from the server's kernel spec through its entry
    point, and a kernel's own exit status comes back (3 here, -9 for a kill), not a stand-in."""
    import asyncio
    from queue import Empty

    async def scenario(server):
        manager = _manager(tmp_path, server)
        await manager.start_kernel(cwd=str(tmp_path))
        assert type(manager.provisioner).__name__ == "WarmProvisioner"
        client = manager.client()
        client.start_channels()
        await client.wait_for_ready(timeout=30)
        # Ready without waiting for IOPub to fall silent: what the kernel said before its answer
        # to kernel_info has been read, and nothing of it is left to be taken for a cell's output.
        assert type(client).__name__ == "ReadyKernelClient"
        with pytest.raises(Empty):
            await client.iopub_channel.get_msg(timeout=0.5)
        client.execute("import os; os._exit(3)")
        status = await asyncio.wait_for(manager.provisioner.wait(), 30)
        client.stop_channels()
        await manager.cleanup_resources()
        second = _manager(tmp_path, server)
        await second.start_kernel(cwd=str(tmp_path))
        pid = second.provisioner.pid
        await second.provisioner.kill()
        killed = await asyncio.wait_for(second.provisioner.wait(), 30)
        await second.cleanup_resources()
        return status, killed, pid

    status, killed, pid = asyncio.run(scenario(shared_kernel_server))
    assert status == 3
    assert killed == -9
    assert not os.path.exists(f"/proc/{pid}")


def test_without_warm_kernels_a_run_says_so_once(monkeypatch):
    said = []
    monkeypatch.setattr(kernels, "_said", False)
    monkeypatch.setattr(kernels, "unavailable", lambda: "warm kernels need Linux (this is win32)")
    for _ in range(3):
        with kernels.server(log=said.append) as server:
            assert server is None
    assert said == ["kernels: warm kernels need Linux (this is win32); each notebook starts its own kernel"]


def test_a_warm_kernel_finds_the_runs_processed_data_already_read(tmp_path):
    """The server reads the processed data of the run's data folders before it forks: a kernel's
    load is then a lookup, checked against the raw files' fingerprint."""
    from analysis.data.processed import data_location
    from analysis.indicators import store

    store.build(data_location())  # as a run does before it starts the server
    code = (
        "import json\n"
        "from analysis.data import ingest\n"
        "from analysis.data.processed import data_location\n"
        "from analysis.indicators import store\n"
        "before = len(ingest._LOADED)\n"
        "processed = store.load(data_location())\n"
        "print(json.dumps({'before': before,"
        " 'population': float(processed.wide('population').loc['2025-01-01', '766'])}))\n"
    )
    folders = tuple(str(f) for f in data_location().folders)
    with kernels.KernelServer(folders) as server:
        warm = _probe(tmp_path, "preloaded", server.kernel_dir, code)
    cold = _probe(tmp_path, "cold", None, code)
    assert warm["before"] == 1 and cold["before"] == 0
    assert warm["population"] == cold["population"] == 48167.0


def test_a_call_in_a_fork_of_the_server_writes_what_the_same_call_here_writes(tmp_path):
    """A run writes its numbers files in a fork of its kernel server (pandas and the data are in
    memory there): the bytes are the ones the same call writes in this process, and an error in
    the fork comes back as the same one-line WorkbookError."""
    from analysis.data.processed import data_location
    from analysis.errors import WorkbookError
    from analysis.indicators import store
    from analysis.paths import PROCESSED_DIR
    from analysis.report.tables import export_numbers

    store.build(data_location())
    folders = [str(f) for f in data_location().folders]
    arguments = {
        "period": "2025K1",
        "comparison_group": "kommunegruppe",
        "strategy_period": "",
        "example_data": False,
        "folders": folders,
        "processed_dir": str(PROCESSED_DIR),
    }
    target = "analysis.report.tables:export_numbers"
    with kernels.KernelServer(tuple(folders)) as server:
        kernels.call(
            server.address,
            target,
            arguments | {"files": {"766": [str(tmp_path / "fork.xlsx"), str(tmp_path / "fork.csv")]}},
        )
        with pytest.raises(WorkbookError) as raised:
            kernels.call(server.address, target, arguments | {"files": {"999": ["-", "-"]}})
        stopped = threading.Event()
        stopped.set()  # a run that stopped: its numbers are not written
        many = {code: [str(tmp_path / f"{code}.xlsx"), str(tmp_path / f"{code}.csv")] for code in ("101", "147", "151")}
        with pytest.raises(RuntimeError, match="stopped"):
            kernels.call(server.address, target, arguments | {"files": many}, stop=stopped)
        for _ in range(20):  # an error said at once still comes after the fork's pid (a race once)
            with pytest.raises(RuntimeError, match="workbook's own functions only"):
                kernels.call(server.address, "os:system", {"command": "true"})
    export_numbers(**arguments, files={"766": [str(tmp_path / "here.xlsx"), str(tmp_path / "here.csv")]})
    assert (tmp_path / "fork.xlsx").read_bytes() == (tmp_path / "here.xlsx").read_bytes()
    assert (tmp_path / "fork.csv").read_bytes() == (tmp_path / "here.csv").read_bytes()
    assert "48167" in (tmp_path / "fork.csv").read_text(encoding="utf-8-sig")
    assert str(raised.value) == "kommune 999: not a municipality code in DST's Kommunegrupper"


def _children_cpu(pid: int) -> float:
    """Seconds of CPU of the process's children that ended (its kernels and calls)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def _command(project: Path, *args: str, **env: str):
    """`python -m analysis <args>` in a project copy, with the test process's environment and `env`."""
    from conftest import in_a_process

    return in_a_process(*args, cwd=project, env={"WORKBOOK_ROOT": str(project), **env})


def _rename_sigtepunkt(project: Path) -> None:
    """The copy's strategy calls the growth sigtepunkt "Vækst i god balance"."""
    strategy = project / "params/strategy.yml"
    strategy.write_text(strategy.read_text(encoding="utf-8").replace("Vækst i balance", "Vækst i god balance"), "utf-8")


def test_runs_of_other_checkouts_use_a_shared_server_and_see_their_own_project(tmp_path, shared_kernel_server):
    """With WORKBOOK_KERNEL_SERVER, a run forks its kernels from that server (no server of its own)
    and they see the run's own checkout: here a copy whose strategy renames a sigtepunkt. The
    brief is rendered in a fork of the server as the run's own process renders it. A server
    that runs other code than the checkout's is not used; the run says so once and starts its own."""
    from analysis.provenance import code_digest
    from analysis.report import render

    from conftest import copy_project

    project = copy_project(tmp_path)
    _rename_sigtepunkt(project)
    command = ["run", "--cadence", "kvartal", "--only", "growth", "--force"]
    server = shared_kernel_server  # the session's, which renders briefs as a shared server does
    before = _children_cpu(server.process.pid)
    done = _command(project, *command, **{kernels.SHARED: server.folder})
    assert done.returncode == 0, done.stderr
    assert _children_cpu(server.process.pid) - before > 0.3, "the run's kernel ran under the shared server"
    brief = (project / "outputs/766/2025K1/kvartal/briefs/growth.html").read_text(encoding="utf-8")
    assert "Vækst i god balance" in brief and "48.167" in brief
    published = project / "outputs/766/2025K1/kvartal"
    render.brief_files(
        str(published / "executed/growth.ipynb"), str(tmp_path / "here.html"), str(tmp_path / "here.pdf")
    )
    assert (tmp_path / "here.html").read_text(encoding="utf-8") == brief, "rendered in the server as here"
    assert (published / "briefs/growth.pdf").read_bytes()[:5] == b"%PDF-"
    assert "kernels:" not in done.stderr
    # A server of another version of the package: its folder says which code it runs (written
    # before it starts), and a run reads that before it looks for the server's socket.
    other = tmp_path / "other-server"
    other.mkdir()
    (other / "code").write_text("another version of the package", encoding="ascii")
    assert Path(server.folder, "code").read_text(encoding="ascii") == code_digest()  # what the shared one says
    stale = _command(project, *command, **{kernels.SHARED: str(other)})
    assert stale.returncode == 0, stale.stderr
    said = [line for line in stale.stderr.splitlines() if line.startswith("kernels:")]
    assert said == [
        f"kernels: the kernel server in {other} (WORKBOOK_KERNEL_SERVER) runs other code than this "
        "checkout's; this run starts its own"
    ]


def test_what_a_fork_of_the_server_prints_goes_to_its_requesters_output(tmp_path, shared_kernel_server):
    """Kernels and calls print to the standard error of the process that asked for them, not the
    server's: a shared server's kernels log into each run's own output."""
    import subprocess
    import sys

    script = (
        "import sys; from analysis.run import kernels; "
        "kernels.call(sys.argv[1], 'analysis.cli:main', {'argv': ['index', '--outputs', sys.argv[2]]})"
    )
    address = shared_kernel_server.address
    done = subprocess.run(
        [sys.executable, "-c", script, address, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert f"index: {tmp_path / 'index.html'}" in done.stderr
    assert (tmp_path / "index.html").is_file()


def test_a_shared_server_reads_each_runs_data_and_params_afresh(tmp_path):
    """A run asks a shared server to read its data before its kernels fork (a kernel's load is then
    a lookup), in the run's own project, and the params the server read for an earlier run are read
    again: an edit between two runs reaches the second run's kernels."""
    from analysis import paths
    from analysis.data.processed import data_location

    from conftest import copy_project

    project = copy_project(tmp_path)
    code = (
        "import json\n"
        "from analysis import params\n"
        "from analysis.data import ingest\n"
        "from analysis.data.processed import data_location\n"
        "from analysis.indicators import store\n"
        "before = len(ingest._LOADED)\n"
        "processed = store.load(data_location())\n"
        "names = [s.name for p in params.load_strategy().strategy_periods.values() for s in p.sigtepunkter]\n"
        "print(json.dumps({'before': before, 'names': names,"
        " 'population': float(processed.wide('population').loc['2025-01-01', '766'])}))\n"
    )
    with paths.project(project), kernels.KernelServer() as server:
        folders = tuple(str(folder) for folder in data_location().folders)
        shared = kernels.KernelServer(folder=server.folder)
        kernels.preload(shared, folders)
        first = _probe(tmp_path, "first", server.kernel_dir, code)
        _rename_sigtepunkt(project)
        kernels.preload(shared, folders)
        second = _probe(tmp_path, "second", server.kernel_dir, code)
    assert first["before"] == 1 and first["population"] == 48167.0
    assert "Vækst i balance" in first["names"] and "Vækst i god balance" not in first["names"]
    assert "Vækst i god balance" in second["names"], "the edited params reach the next run's kernels"


def test_a_brief_made_on_a_shared_server_sees_params_edited_since_the_last_run(tmp_path):
    """`python -m analysis brief` on a shared server (the test session's) has it read the data and
    params again, as a run does: a sigtepunkt renamed after a run (whose params the server read)
    is in the brief made after it."""
    from conftest import copy_project

    project = copy_project(tmp_path)
    assert os.environ.get(kernels.SHARED), "the session's shared kernel server"
    ran = _command(project, "run", "--cadence", "kvartal", "--only", "growth", "--force")
    assert ran.returncode == 0, ran.stderr
    assert "Vækst i balance" in (project / "outputs/766/2025K1/kvartal/briefs/growth.html").read_text(encoding="utf-8")
    _rename_sigtepunkt(project)
    output = tmp_path / "brief.html"
    brief = _command(project, "brief", "notebooks/growth.ipynb", "-p", "period", "2025K1", "--output", str(output))
    assert brief.returncode == 0, brief.stderr
    assert "Vækst i god balance" in output.read_text(encoding="utf-8")


def test_a_starting_server_is_never_found_refusing(tmp_path):
    """A client that finds the server's address can connect: the socket gets its name only once
    it listens. (Found between bind and listen, it refused, and a run said the server was not
    running; 11 of 100 such starts did when looked for without a pause.)"""
    import subprocess
    import sys

    for attempt in range(30):
        address = str(tmp_path / f"{attempt}.sock")
        server = subprocess.Popen(
            [sys.executable, "-m", "analysis.run.kernels", address, str(os.getpid()), "[]", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            kernels.connect(address, poll=0).close()  # raises "is not running" when refused
        finally:
            server.terminate()
            server.wait()


def test_a_shared_server_handed_over_at_once_is_the_one_runs_use(monkeypatch):
    """A run takes a shared server whose socket is not there yet for one that is not running (and
    starts its own), so a KernelServer listens once it is entered: its folder can be handed to runs
    at once, as the test session's fixture does. Looked for at once, a new server was taken for a
    stopped one 5 times of 5."""
    said = []
    with kernels.KernelServer() as server:
        monkeypatch.setenv(kernels.SHARED, server.folder)
        found = kernels.shared(log=said.append)
    assert found is not None and found.address == server.address and said == []

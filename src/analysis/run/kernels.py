"""Warm kernels: Jupyter kernels forked from a process that has already imported what notebooks use.

A fresh kernel spends about 1.7 s of CPU starting Python, ipykernel, pandas, matplotlib, scipy and
the workbook before it runs its first cell; four of them on two cores are most of a quarterly run.
A run therefore starts one *kernel server* ahead of need, first thing, so that its imports overlap
the run's checks and ingest. It imports all of that once, reads the run's processed data and
params when the first kernel is asked for (the ingest is done by then), and forks a kernel for
each notebook, ready in a few milliseconds and with the data already in memory (pages shared until written). Every kernel is still a process of
its own with an empty namespace: nothing one notebook does reaches another, and a kernel that
crashes takes nothing else with it.

jupyter_client reaches the server through its public door for this: a *kernel provisioner*
(`provisioner.WarmProvisioner`, registered under the `jupyter_client.kernel_provisioners` entry
point as `workbook-warm`) named in a kernel spec that the server writes into its own folder.
This module imports only the standard library at its top: the server runs it as its main
module and asks for its parent-death signal before anything slow is imported. The server is
the kernels' parent, so it alone can wait for them: it keeps one connection per kernel, over
which the provisioner sends signals and hears the kernel's real exit status.

The kernel manager a run uses (`kernel_manager_class`, for warm and launched kernels alike) also
saves two waits of jupyter_client's that no notebook needs: its client is ready when the kernel
has answered kernel_info and IOPub has carried that request's idle status (jupyter_client then
waits for 0.2 s of silence on IOPub), and a kernel that was asked to shut down is checked for
every 10 ms, not every 100 ms. About 0.25 s less of every job, spent waiting.

Linux only (fork and a parent-death signal). Elsewhere, without the entry point (a package
installed without it), and on remote executors, kernels start the usual way; the run says so once.

Example::

    with KernelServer(data_folders) as server:     # starts importing and reading at once
        manager_class = kernel_manager_class(socket_dir, server.kernel_dir)
        papermill.execute_notebook(..., kernel_name="python3", kernel_manager_class=manager_class)
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.errors import WorkbookError  # a class and nothing else: the server stays quick to start

if TYPE_CHECKING:
    import threading

# What every notebook imports, what ipykernel imports while it starts (its debugger and IPython's
# completer: 0.3 s of every kernel otherwise; the shell's inspector, pdb, history database, store
# magic and tornado's event loop: 0.02 s more), and the numbers files' writer (a run writes them in
# a fork of the server). A module that fails to import here is left for the notebook, whose own
# import then shows the error where the analyst looks for it.
PRELOAD = (
    "ipykernel.kernelapp",
    "ipykernel.debugger",
    "IPython.core.completerlib",
    "IPython.core.oinspect",
    "IPython.core.debugger",
    "IPython.core.logger",
    "IPython.extensions.storemagic",
    "sqlite3",
    "tornado.platform.asyncio",
    "analysis.report.brief",
    "analysis.report.tables",
)
RENDERER = "analysis.report.render"  # what a server that renders briefs imports, and warms up
CONNECT_TIMEOUT = 60.0  # seconds a job waits for the server to come up before its job fails
PR_SET_PDEATHSIG = 1
PROVISIONER = "workbook-warm"  # the entry point's name (pyproject.toml)
KERNEL = "python3"  # the kernel name notebooks record; the server's spec keeps it, so outputs do not change
SHARED = "WORKBOOK_KERNEL_SERVER"  # the folder of a running kernel server that runs use instead of starting one


def unavailable() -> str | None:
    """Why warm kernels cannot be used here, or None when they can."""
    if sys.platform != "linux":
        return f"warm kernels need Linux (this is {sys.platform})"
    if not entry_points(group="jupyter_client.kernel_provisioners", name=PROVISIONER):
        return f"the kernel provisioner '{PROVISIONER}' is not registered (reinstall the package: make install)"
    return None


def available() -> bool:
    return unavailable() is None


_said = False


def server(preload: tuple[str, ...] = (), log=lambda message: print(message, file=sys.stderr, flush=True)):
    """A kernel server to use as a context manager (preloading the processed data of the data
    folders `preload`), or a null context where warm kernels are unavailable; that is said once
    per process, as one line. With WORKBOOK_KERNEL_SERVER naming the folder of a server that runs
    this code, that server (see `shared`)."""
    global _said
    from contextlib import nullcontext

    reason = unavailable()
    if reason is None:
        found = shared(log)
        return nullcontext(found) if found else KernelServer(preload)
    if not _said:
        log(f"kernels: {reason}; each notebook starts its own kernel")
        _said = True
    return nullcontext()


UNSTARTED = object()  # no kernel server started yet: the local engine starts its own


def ahead(data: str | None):
    """The kernel server of a run or brief, started before anything else of it (the runner's own
    imports, its checks, the ingest), since its imports take longest: a KernelServer, None where
    warm kernels are unavailable, or UNSTARTED when `data` names no usable folder (the run then
    says what is wrong, in its own order, before any kernel is needed)."""
    from contextlib import nullcontext

    from analysis.data.processed import data_location

    try:
        folders = tuple(map(str, data_location(data).folders))
    except WorkbookError:
        return nullcontext(UNSTARTED)
    return server(folders)


_refused: set[str] = set()


def shared(log=lambda message: print(message, file=sys.stderr, flush=True)) -> KernelServer | None:
    """The kernel server in the folder that WORKBOOK_KERNEL_SERVER names, when it is there and runs
    this package's code as it is now; else None (and a line saying why, once).

    For a session of many runs, the test suite's above all: each run otherwise starts a server of
    its own and pays its imports (about 2 s of CPU). A run asks a shared server to read its data
    (`preload`); what a kernel prints still goes to the run's own output."""
    folder = os.environ.get(SHARED)
    if not folder:
        return None
    from analysis.provenance import code_digest

    attached = KernelServer(folder=folder, renders=os.path.exists(os.path.join(folder, "renders")))
    try:
        with open(os.path.join(folder, "code"), encoding="ascii") as recorded:
            same = recorded.read() == code_digest()
    except OSError:
        same = None
    if same and os.path.exists(attached.address):
        return attached
    if folder not in _refused:
        _refused.add(folder)
        why = "runs other code than this checkout's" if same is False else "is not running"
        log(f"kernels: the kernel server in {folder} ({SHARED}) {why}; this run starts its own")
    return None


def die_with_parent() -> None:
    """Have the system kill this process when its parent ends (Linux; elsewhere nothing happens)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


SHORT_PATH = 60  # a TMPDIR longer than this leaves too little room for Unix socket paths (about 100 bytes)
RUN_PID = os.getpid()  # the run's main process: pool workers are forked from it and inherit this


def short_tempdir(prefix: str) -> str:
    """A private temporary folder for Unix sockets and connection files: in TMPDIR when its path
    is short, else in /tmp. The run's process id is in the name, so the next run can tell a
    folder left by a killed run from one in use."""
    base = tempfile.gettempdir()
    if len(base) > SHORT_PATH and os.access("/tmp", os.W_OK):
        base = "/tmp"
    return tempfile.mkdtemp(prefix=f"{prefix}{RUN_PID}-", dir=base)


class KernelServer:
    """The kernel server of one run: a child process that preloads modules and forks kernels.

    It listens on a Unix socket in a folder only this user can open (mkdtemp makes it 0700), and
    `kernel_dir` holds the kernel spec that sends jupyter_client to it. Given the `folder` of a
    server that runs already, it stands for that one, and entering or leaving it does nothing."""

    def __init__(self, preload: tuple[str, ...] = (), folder: str | None = None, renders: bool = False) -> None:
        self.preload = [str(folder) for folder in preload]
        self.renders = renders
        self.owned = folder is None
        self.folder = folder or short_tempdir("workbook-kernels-")
        self.address = os.path.join(self.folder, "server.sock")
        self.kernel_dir = os.path.join(self.folder, "kernels")
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> KernelServer:
        if not self.owned:
            return self
        from analysis.provenance import code_digest

        with open(os.path.join(self.folder, "code"), "w", encoding="ascii") as out:
            out.write(code_digest())  # before the server imports the package: a run compares it
        if self.renders:
            open(os.path.join(self.folder, "renders"), "w").close()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "analysis.run.kernels",
                self.address,
                str(os.getpid()),
                json.dumps(self.preload),
                "renders" if self.renders else "",
            ],
            stdin=subprocess.DEVNULL,
            cwd=self.folder,
        )
        spec = {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
            "metadata": {"kernel_provisioner": {"provisioner_name": PROVISIONER, "config": {"server": self.address}}},
        }
        os.makedirs(os.path.join(self.kernel_dir, KERNEL))
        with open(os.path.join(self.kernel_dir, KERNEL, "kernel.json"), "w", encoding="utf-8") as out:
            json.dump(spec, out)
        # Entered, it listens (it does so before its imports, in a few hundredths of a second): a
        # run given its folder takes a server whose socket is not there yet for a stopped one and
        # starts its own. A server that ends first is left to its first request to report.
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while not os.path.exists(self.address) and self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        return self

    def __exit__(self, *exc) -> None:
        if not self.owned:
            return
        if self.process is not None:
            self.process.terminate()  # its kernels follow it (parent-death signal)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)


def serve(address: str, parent: int, preload: list[str] | None = None, renders: bool = False) -> None:
    """The server's loop: listen first (jobs queue up while modules load), import, then fork on
    request, reading the processed data at the first. Each kernel keeps its requester's
    connection: signals come in on it, the exit status goes out on it, and a connection that
    closes while its kernel lives takes the kernel with it."""
    die_with_parent()
    if os.getppid() != parent:  # the run ended before the line above took effect
        return
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to report; the server ends with it
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # the wakeup socket carries it to the loop
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]  # as ipykernel_launcher does; the kernel adds the notebook's folder back
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Bound under another name and renamed once listening: a client that finds the address can
    # connect (between bind and listen, a connection is refused, which reads as a dead server).
    listener.bind(address + ".new")
    listener.listen(64)
    os.rename(address + ".new", address)
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")  # as ipykernel sets it
    # ipykernel's debugger (debugpy) warns on import that Python's frozen modules hide breakpoints in
    # them; nobody debugs a run's kernels, and the warning would land in the run's own output.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    for module in PRELOAD:
        try:
            __import__(module)
        except Exception:  # noqa: BLE001 - the notebook's own import will show it
            pass
    try:  # the brief's templates, compiled once here instead of in every kernel
        sys.modules["analysis.report.brief"].compile_templates()
    except Exception:  # noqa: BLE001 - the notebook's own render shows any problem
        pass
    if renders:  # the briefs are rendered in forks of this process: each starts warm
        try:
            __import__(RENDERER)
            sys.modules[RENDERER].warm_up()
        except Exception:  # noqa: BLE001 - a render that fails says why in its job
            pass
    gc.freeze()  # kernels' collections skip what they inherit, and leave its pages shared
    kernel_of: dict[socket.socket, int] = {}  # connection -> the kernel it asked for
    connection_of: dict[int, socket.socket] = {}  # a kernel not yet waited for -> its connection
    while True:
        try:
            readable, _, _ = select.select([listener, wake_r, *kernel_of], [], [])
        except InterruptedError:
            continue
        if wake_r in readable:
            while True:
                try:
                    if not wake_r.recv(512):
                        break
                except BlockingIOError:
                    break
            _reap(connection_of)
        if listener in readable:
            if preload:  # at the first request: by then the run has ingested what it reads
                _preload_data(preload)
                preload = None
                gc.freeze()
            connection, _ = listener.accept()
            pid = _fork_kernel(connection, listener, wake_r, wake_w)
            if pid == 0:  # a run's data was read here, for the kernels forked after it
                connection.close()
                continue
            if pid is None:
                connection.close()
            else:
                kernel_of[connection], connection_of[pid] = pid, connection
        for connection in [c for c in readable if c in kernel_of]:
            try:
                lines = connection.recv(4096).decode("ascii", "replace").split()
            except OSError:
                lines = []
            pid = kernel_of[connection]
            if not lines:  # the manager is gone: its kernel goes too
                if pid in connection_of:
                    _signal(pid, signal.SIGKILL)
                    del connection_of[pid]
                del kernel_of[connection]
                connection.close()
                continue
            for word in lines:
                if word.isdigit() and pid in connection_of:
                    _signal(pid, int(word))


def _preload_data(folders: list[str]) -> None:
    """Read the run's processed data and params once, here, and make what every brief makes first
    (`report.brief.warm_up`), so that every forked kernel finds them in memory (pages shared with
    the server until written). The notebook's own load checks the fingerprint of the raw files
    and params, and reads again when it differs."""
    try:
        from analysis.data.processed import DataLocation
        from analysis.indicators import store
        from analysis.params import load_indicators, load_runs, load_strategy

        load_strategy(), load_indicators(), load_runs()
        processed = store.load(DataLocation(tuple(Path(folder) for folder in folders)))
        sys.modules["analysis.report.brief"].warm_up(processed)
    except Exception:  # noqa: BLE001 - the notebook's own load shows any problem
        pass


def _preload_for(request: dict) -> None:
    """A shared server reads a run's data when the run asks, in that run's project; the params it
    read for earlier runs are forgotten first, so a kernel never inherits an older reading of them."""
    from analysis import params, paths

    params.clear_caches()
    with paths.project(Path(request["root"])):
        _preload_data(request["preload"])
    gc.freeze()


def _fork_kernel(connection: socket.socket, *server_sockets: socket.socket) -> int | None:
    """Read one request from a new connection (a kernel, or a call) with the requester's standard
    output and error, fork for it and answer with the pid. A request to read a run's data is done
    here, in the server, and answered with 0."""
    streams: list[int] = []
    try:
        connection.settimeout(10)
        data, streams, _flags, _address = socket.recv_fds(connection, 1 << 16, 2)
        while not data.endswith(b"\n"):
            more = connection.recv(1 << 16)
            if not more:
                break
            data += more
        request = json.loads(data)
        kinds = [{"argv", "cwd", "env"}, {"call", "cwd", "env"}, {"preload", "root"}]
        if not isinstance(request, dict) or not any(kind <= set(request) for kind in kinds):
            raise ValueError("not a request")
    except (OSError, ValueError):
        for fd in streams:
            os.close(fd)
        return None  # the client hears no pid and says so
    if "preload" in request:
        for fd in streams:
            os.close(fd)
        _preload_for(request)
        try:
            connection.sendall(b"0\nexit 0\n")
        except OSError:
            pass
        return 0
    pid = os.fork()
    if pid == 0:
        for sock in server_sockets:
            sock.close()
        for target, fd in zip((1, 2), streams):  # what it prints goes where its requester's output goes
            os.dup2(fd, target)
        if "call" in request:
            _do_call(request, connection)  # never returns
        _become_kernel(request, connection)  # never returns
    for fd in streams:
        os.close(fd)
    try:
        if "call" not in request:  # a call answers with its pid itself, before anything it says
            connection.sendall(f"{pid}\n".encode())
        connection.setblocking(False)
    except OSError:
        _signal(pid, signal.SIGKILL)  # its job is gone; the exit is reaped like any other
        return None
    return pid


def _signal(pid: int, signum: int) -> None:
    """Signal a kernel's process group (as jupyter_client does), or the kernel if it has none.
    Only kernels not yet waited for are signalled, so the pid is still theirs."""
    try:
        os.killpg(pid, signum)
    except OSError:
        try:
            os.kill(pid, signum)
        except OSError:
            pass


def _reap(connection_of: dict[int, socket.socket]) -> None:
    """Wait for every kernel that ended and tell its manager the exit status."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = connection_of.pop(pid, None)
        if connection is not None:
            try:
                connection.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
            except OSError:
                pass


def _do_call(request: dict, connection: socket.socket) -> None:
    """In the forked child: call a function of the workbook with the server's modules and data in
    memory, in the requester's folder and environment. An error goes back as one JSON line."""
    status = 1
    try:
        # The pid first, from here: were the server to send it, an error said at once by this
        # fork could reach the requester before the pid (the two write to the same connection).
        connection.sendall(f"{os.getpid()}\n".encode())
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        die_with_parent()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _project_from_environment()
        module, _, name = request["call"].partition(":")
        if not module.startswith("analysis."):
            raise ValueError(f"{request['call']}: the server calls the workbook's own functions only")
        import importlib

        getattr(importlib.import_module(module), name)(**request.get("kwargs", {}))
        status = 0
    except BaseException as err:  # noqa: BLE001 - reported to the caller, never into the server's loop
        ours = isinstance(err, WorkbookError)
        said = {"error": str(err) if ours else f"{type(err).__name__}: {err}".splitlines()[0], "workbook": ours}
        try:
            connection.sendall((json.dumps(said) + "\n").encode())
        except OSError:
            pass
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _project_from_environment() -> None:
    """The workbook's project as the requester's environment names it (a shared server serves the
    runs of several checkouts; the project root was read when the server imported the package)."""
    paths = sys.modules.get("analysis.paths")
    if paths is not None:
        paths.reread_environment()


def _become_kernel(request: dict, connection: socket.socket) -> None:
    """In the forked child: the environment a launched kernel would have, then ipykernel's own start."""
    status = 1
    try:
        connection.close()
        signal.set_wakeup_fd(-1)
        os.setsid()  # its own process group, as jupyter_client gives a kernel
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        die_with_parent()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _project_from_environment()
        # ipykernel exits when its parent goes. It read JPY_PARENT_PID when the server imported it,
        # so the parent is also given on its command line.
        os.environ["JPY_PARENT_PID"] = str(os.getppid())
        argv = [*request["argv"], f"--IPKernelApp.parent_handle={os.getppid()}"]
        import importlib.util

        from ipykernel import kernelapp

        sys.argv = [importlib.util.find_spec("ipykernel_launcher").origin, *request["argv"]]
        kernelapp.launch_new_instance(argv=argv)
        status = 0
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:  # noqa: BLE001 - report and leave; never return into the server's loop
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def connect(address: str, poll: float = 0.02) -> socket.socket:
    """A connection to the kernel server at `address`, looking for its socket every `poll` seconds
    while the server starts (the socket gets its name once the server listens); a socket that
    refuses is a server that is not running."""
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while True:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            client.connect(address)
            return client
        except ConnectionRefusedError:
            client.close()
            raise RuntimeError(f"kernel server at {address} is not running") from None
        except FileNotFoundError:  # not listening yet
            client.close()
            if time.monotonic() > deadline:
                raise RuntimeError(f"kernel server at {address} did not start within {CONNECT_TIMEOUT:.0f} s") from None
            time.sleep(poll)


def request_kernel(
    address: str,
    argv: list[str],
    cwd: str,
    env: dict[str, str],
    call: tuple[str, dict] | None = None,
    preload: tuple[str, list[str]] | None = None,
) -> tuple[int, socket.socket, str]:
    """Ask the server for a kernel (or, with `call`, a fork that calls a function); returns its pid,
    the connection that stays with it and what the server said after the pid (an exit line, for a
    kernel that ended at once). Waits while the server is still starting."""
    client = connect(address)
    request = {"argv": argv, "cwd": cwd, "env": env}
    if call is not None:
        request = {"call": call[0], "kwargs": call[1], "cwd": cwd, "env": env}
    if preload is not None:
        request = {"preload": preload[1], "root": preload[0]}
    payload = (json.dumps(request) + "\n").encode()
    try:  # this process's standard output and error (not sys.stdout, which a caller may have replaced)
        sent = socket.send_fds(client, [payload], [1, 2])
    except OSError:  # closed: the kernel prints where the server does
        sent = 0
    client.sendall(payload[sent:])
    answer = b""
    while not answer.endswith(b"\n"):
        chunk = client.recv(64)
        if not chunk:
            break
        answer += chunk
    first, _, rest = answer.decode("ascii", "replace").partition("\n")
    if not first.strip().isdigit():
        client.close()
        raise RuntimeError(f"kernel server at {address} gave no kernel")
    client.setblocking(False)
    return int(first), client, rest


def preload(server: KernelServer, folders: tuple[str, ...]) -> None:
    """Have a shared server read the run's data (`folders`) before the run's kernels are forked;
    a server of the run's own reads it at the first kernel anyway (its `preload`)."""
    if server.owned:
        return
    from analysis import paths

    request = (str(paths.PROJECT_ROOT), list(folders))
    _until_exit(*request_kernel(server.address, [], os.getcwd(), {}, preload=request)[1:])


def _until_exit(connection: socket.socket, heard: str) -> str:
    """All the server says on a connection, up to and with its `exit N` line; then the connection
    is closed. A server that is gone says `exit -9`."""
    connection.setblocking(True)
    try:
        while "exit" not in heard.split():
            chunk = connection.recv(4096)
            if not chunk:
                return heard + "\nexit -9\n"
            heard += chunk.decode("utf-8", "replace")
    finally:
        connection.close()
    return heard


def call(address: str, target: str, kwargs: dict, stop: threading.Event | None = None) -> None:
    """Call `target` ("analysis.module:function") with `kwargs` (JSON) in a fork of the kernel
    server at `address`, in this process's folder and environment, and wait for it to end. The
    fork has the notebooks' modules and the run's data in memory already; a WorkbookError there
    is raised here with its message, any other error as a RuntimeError. Once `stop` is set, the
    fork is killed (what it writes is for a run that stopped) and the call raises."""
    pid, connection, heard = request_kernel(address, [], os.getcwd(), dict(os.environ), call=(target, kwargs))
    while stop is not None and "exit" not in heard.split():
        if stop.is_set():
            _signal(pid, signal.SIGKILL)
            _until_exit(connection, heard)
            raise RuntimeError(f"{target} (pid {pid}) stopped")
        if select.select([connection], [], [], 0.05)[0]:
            chunk = connection.recv(4096)
            if not chunk:
                break
            heard += chunk.decode("utf-8", "replace")
    heard = _until_exit(connection, heard)
    for line in heard.splitlines():
        if line.startswith("{"):
            said = json.loads(line)
            raise (WorkbookError if said.get("workbook") else RuntimeError)(said["error"])
    words = heard.split()
    status = int(words[words.index("exit") + 1]) if words.index("exit") + 1 < len(words) else -9
    if status != 0:
        raise RuntimeError(f"{target} (pid {pid}) ended with exit status {status}")


def kernel_manager_class(socket_dir: str, kernel_dir: str | None = None):
    """A kernel manager whose kernels talk over IPC sockets in `socket_dir` and, given a kernel
    server's `kernel_dir`, take their kernel spec (and so the warm provisioner) from it."""
    from queue import Empty

    from jupyter_client import AsyncKernelClient, protocol_version_info
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    class ReadyKernelClient(AsyncKernelClient):
        async def wait_for_ready(self, timeout: float | None = None) -> None:
            """Wait as jupyter_client does until the kernel has answered kernel_info on the shell
            channel and its IOPub channel carries messages, but stop reading IOPub at that request's
            idle status instead of waiting for 0.2 s of silence on it: every job waited that."""
            deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
            while True:
                self.kernel_info()
                try:
                    reply = await self.shell_channel.get_msg(timeout=1)
                except Empty:
                    reply = None
                if reply is not None and reply["msg_type"] == "kernel_info_reply":
                    asked = reply["parent_header"].get("msg_id")
                    while True:  # what IOPub carried before the idle status of the request is read
                        try:
                            message = await self.iopub_channel.get_msg(timeout=0.2)
                        except Empty:
                            break  # IOPub is not connected yet: ask again
                        if (
                            message["msg_type"] == "status"
                            and message["content"].get("execution_state") == "idle"
                            and message["parent_header"].get("msg_id") == asked
                        ):
                            major = int(reply["content"]["protocol_version"].split(".")[0])
                            if major != protocol_version_info[0]:
                                self.session.adapt_version = major
                            return
                if not await self.is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("connection_file", os.path.join(socket_dir, "kernel.json"))
            kwargs.setdefault("client_factory", ReadyKernelClient)
            if kernel_dir:
                kwargs.setdefault("kernel_spec_manager", KernelSpecManager(kernel_dirs=[kernel_dir]))
            super().__init__(transport="ipc", ip=os.path.join(socket_dir, "kernel"), **kwargs)

        async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            """Shut the kernel down as jupyter_client does, but without the interrupt (SIGINT) it
            sends first: an idle ipykernel logs that as "ERROR | KeyboardInterrupt caught in
            kernel", which reads as a failure in the log of a run that succeeded."""
            if now or not self.has_kernel or not getattr(self, "owns_kernel", True):
                return await super().shutdown_kernel(now=now, restart=restart)
            self.shutting_down = True
            self.stop_restarter()
            await self.request_shutdown(restart=restart)
            await self.finish_shutdown(restart=restart, pollinterval=0.01)  # it ends at once: see so sooner
            await self.cleanup_resources(restart=restart)

    return IPCKernelManager


if __name__ == "__main__":
    serve(
        sys.argv[1],
        int(sys.argv[2]),
        json.loads(sys.argv[3]) if len(sys.argv) > 3 else None,
        len(sys.argv) > 4 and sys.argv[4] == "renders",
    )

"""Warm kernels: Jupyter kernels forked from a process that has already imported what notebooks use.

A fresh kernel spends about 1.7 s of CPU starting Python, ipykernel, pandas, matplotlib, scipy and
the workbook before it runs its first cell; four of them on two cores are most of a quarterly run.
A run therefore starts one *kernel server* ahead of need. It imports all of that once and then
forks a kernel for each notebook, ready in a few milliseconds. Every kernel is still a process of
its own with an empty namespace: nothing one notebook does reaches another, and a kernel that
crashes takes nothing else with it.

Linux only (fork, prctl, pidfd). Elsewhere, and on remote executors, kernels start the usual way.

Example::

    with KernelServer() as server:          # starts importing at once
        manager_class = kernel_manager_class(socket_dir, server.address)
        papermill.execute_notebook(..., kernel_manager_class=manager_class)
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

# What every notebook imports; a module that fails to import here is left for the notebook,
# whose own import then shows the error where the analyst looks for it.
PRELOAD = ("ipykernel.kernelapp", "analysis.brief")
CONNECT_TIMEOUT = 60.0  # seconds a job waits for the server to come up before its job fails
PR_SET_PDEATHSIG = 1


def available() -> bool:
    """Warm kernels need fork, a parent-death signal and process file descriptors (Linux 5.3 or
    later, and a container that allows them)."""
    if sys.platform != "linux" or not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return True


def die_with_parent() -> None:
    """Have the system kill this process when its parent ends (Linux; elsewhere nothing happens)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
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

    It listens on a Unix socket in a folder only this user can open (mkdtemp makes it 0700)."""

    def __init__(self) -> None:
        self.folder = short_tempdir("workbook-kernels-")
        self.address = os.path.join(self.folder, "server.sock")
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> KernelServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "analysis.kernels", self.address, str(os.getpid())],
            stdin=subprocess.DEVNULL,
            cwd=self.folder,
        )
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()  # its kernels follow it (parent-death signal)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for name in os.listdir(self.folder):
            os.unlink(os.path.join(self.folder, name))
        os.rmdir(self.folder)


def serve(address: str, parent: int) -> None:
    """The server's loop: listen first (jobs queue up while modules load), preload, then fork on request."""
    die_with_parent()
    if os.getppid() != parent:  # the run ended before the line above took effect
        return
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # kernels are reaped by the system
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to report; the server ends with it
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]  # as ipykernel_launcher does; the kernel adds the notebook's folder back
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(64)
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")  # as ipykernel sets it
    for module in PRELOAD:
        try:
            __import__(module)
        except Exception:  # noqa: BLE001 - the notebook's own import will show it
            pass
    while True:
        connection, _ = listener.accept()
        with connection:
            try:
                request = json.loads(connection.makefile("r", encoding="utf-8").readline())
                if not {"argv", "cwd", "env"} <= set(request):
                    continue  # the client hears no pid and says so
            except (OSError, ValueError):
                continue
            pid = os.fork()
            if pid == 0:
                listener.close()
                connection.close()
                _become_kernel(request)  # never returns
            try:
                connection.sendall(f"{pid}\n".encode())
            except OSError:
                os.kill(pid, signal.SIGKILL)  # its job is gone


def _become_kernel(request: dict) -> None:
    """In the forked child: the environment a launched kernel would have, then ipykernel's own start."""
    status = 1
    try:
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


def request_kernel(address: str, argv: list[str], cwd: str, env: dict[str, str]) -> int:
    """Ask the server for a kernel; returns its pid. Waits while the server is still starting."""
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while True:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            client.connect(address)
            break
        except ConnectionRefusedError:
            client.close()
            raise RuntimeError(f"kernel server at {address} is not running") from None
        except FileNotFoundError:  # not listening yet
            client.close()
            if time.monotonic() > deadline:
                raise RuntimeError(f"kernel server at {address} did not start within {CONNECT_TIMEOUT:.0f} s") from None
            time.sleep(0.02)
    with client:
        client.sendall((json.dumps({"argv": argv, "cwd": cwd, "env": env}) + "\n").encode())
        answer = client.makefile("r", encoding="utf-8").readline()
    if not answer.strip().isdigit():
        raise RuntimeError(f"kernel server at {address} gave no kernel")
    return int(answer)


class ForkedKernel:
    """Enough of subprocess.Popen for jupyter_client to manage a kernel that is not its child.

    A process file descriptor follows the kernel itself, so a reused pid is never mistaken for it.
    The exit code stays with the server, which is not asked for it: a finished kernel reports 0."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        try:
            self._fd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:
            self._fd, self.returncode = None, 0

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._fd], [], [], 0)[0]:
            self.returncode = 0
            os.close(self._fd)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            select.select([self._fd], [], [], 0.1)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            signal.pidfd_send_signal(self._fd, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def kernel_manager_class(socket_dir: str, server: str | None = None):
    """A kernel manager whose kernels talk over IPC sockets in `socket_dir` and, given a kernel
    server's address, are forked from it instead of launched."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_client.provisioning import LocalProvisioner

    class WarmProvisioner(LocalProvisioner):
        async def launch_kernel(self, cmd: list[str], **kwargs):
            if cmd[1:3] != ["-m", "ipykernel_launcher"] or Path(cmd[0]).resolve() != Path(sys.executable).resolve():
                return await super().launch_kernel(cmd, **kwargs)  # another kernel: launch it as usual
            import asyncio

            cwd = str(kwargs.get("cwd") or os.getcwd())
            env = dict(kwargs.get("env") or os.environ)
            pid = await asyncio.to_thread(request_kernel, server, cmd[3:], cwd, env)
            self.process = ForkedKernel(pid)
            self.pid = self.pgid = pid
            self.cwd = cwd
            return self.connection_info

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("connection_file", os.path.join(socket_dir, "kernel.json"))
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
            await self.finish_shutdown(restart=restart)
            await self.cleanup_resources(restart=restart)

        async def _async_pre_start_kernel(self, **kw):
            if server and self.provisioner is None:
                self.kernel_id = self.kernel_id or kw.pop("kernel_id", None) or str(uuid.uuid4())
                self.provisioner = WarmProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
            return await super()._async_pre_start_kernel(**kw)

    return IPCKernelManager


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))

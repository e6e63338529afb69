"""The kernel provisioner of warm kernels (see kernels.py): jupyter_client finds it through the
`jupyter_client.kernel_provisioners` entry point `workbook-warm`, named in the kernel spec the
run's kernel server writes.

Example (what jupyter_client does with the spec's `kernel_provisioner` stanza)::

    provisioner = WarmProvisioner(kernel_id=..., kernel_spec=spec, parent=manager, server=address)
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from jupyter_client.provisioning import LocalProvisioner
from traitlets import Unicode

from analysis.run.kernels import request_kernel


class WarmProvisioner(LocalProvisioner):
    """A kernel provisioner whose kernels are forked by the run's kernel server (`server`, from the
    kernel spec's provisioner config). jupyter_client prepares the launch as for a local kernel
    (connection file, command); the kernel's lifetime is then followed over the server connection."""

    server = Unicode("", config=True, help="the Unix socket of the run's kernel server")

    _connection: socket.socket | None = None
    _exit: int | None = None
    _heard = ""

    async def launch_kernel(self, cmd: list[str], **kwargs):
        ours = cmd[1:3] == ["-m", "ipykernel_launcher"] and Path(cmd[0]).resolve() == Path(sys.executable).resolve()
        if not self.server or not ours:
            return await super().launch_kernel(cmd, **kwargs)  # another kernel: launch it as usual
        cwd = str(kwargs.get("cwd") or os.getcwd())
        env = dict(kwargs.get("env") or os.environ)
        pid, self._connection, self._heard = await asyncio.to_thread(request_kernel, self.server, cmd[3:], cwd, env)
        self._exit = None
        self.pid = self.pgid = pid
        self.cwd = cwd
        return self.connection_info

    @property
    def has_process(self) -> bool:
        return self._connection is not None or super().has_process

    def _listen(self) -> None:
        """Take in what the server said; an `exit N` line is the kernel's exit status."""
        try:
            while chunk := self._connection.recv(256):
                self._heard += chunk.decode("ascii", "replace")
        except BlockingIOError:
            pass
        except OSError:
            self._heard += "\nexit -9\n"  # the server is gone, and its kernels with it
        else:
            if "exit" not in self._heard:
                self._heard += "\nexit -9\n"  # connection closed: the server is gone
        words = self._heard.split()
        if "exit" in words and words.index("exit") + 1 < len(words):
            self._exit = int(words[words.index("exit") + 1])

    async def poll(self) -> int | None:
        if self._connection is None:
            return await super().poll()
        if self._exit is None:
            self._listen()
        return self._exit

    async def wait(self) -> int | None:
        if self._connection is None:
            return await super().wait()
        while await self.poll() is None:
            await asyncio.sleep(0.05)
        self._connection.close()
        self._connection = None
        return self._exit

    async def send_signal(self, signum: int) -> None:
        if self._connection is None:
            return await super().send_signal(signum)
        if await self.poll() is None:
            try:
                self._connection.sendall(f"{int(signum)}\n".encode())
            except OSError:
                pass  # the server is gone, and the kernel with it

    async def kill(self, restart: bool = False) -> None:
        if self._connection is None:
            return await super().kill(restart)
        await self.send_signal(signal.SIGKILL)

    async def terminate(self, restart: bool = False) -> None:
        if self._connection is None:
            return await super().terminate(restart)
        await self.send_signal(signal.SIGTERM)

    async def cleanup(self, restart: bool = False) -> None:
        if self._connection is not None:
            self._connection.close()  # the server ends a kernel whose connection closes
            self._connection = None
        await super().cleanup(restart)

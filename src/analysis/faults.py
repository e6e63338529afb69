"""Fault points for the tests: a process that reaches the named point kills itself, as the
out-of-memory killer or a power cut would, so a test can check that nothing is lost.

Set WORKBOOK_FAULT to a point's name (`ingest-written`, `publish-before-swap`, ...). Without
it, `point()` does nothing.

Example::

    faults.point("ingest-written")   # WORKBOOK_FAULT=ingest-written kills the process here
"""

from __future__ import annotations

import os
import signal


def point(name: str) -> None:
    if os.environ.get("WORKBOOK_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)

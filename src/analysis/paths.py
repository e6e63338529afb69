"""Where things live, independent of the working directory.

The folders hang off one project root: this checkout, or WORKBOOK_ROOT when set. They are read at
call time (`paths.PARAMS_DIR`), so `paths.project(root)` can point one process at another checkout,
as WORKBOOK_ROOT does for a new process (the tests run the command line in-process this way).

Example::

    from analysis import paths

    paths.PARAMS_DIR / "indicators.yml"
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _from_environment() -> Path:
    # The package is installed in editable mode from src/, so the project root is two levels up.
    return Path(os.environ.get("WORKBOOK_ROOT") or Path(__file__).resolve().parents[2])


_root = _from_environment()

_UNDER_ROOT = {
    "PROJECT_ROOT": (),
    "PARAMS_DIR": ("params",),
    "NOTEBOOKS_DIR": ("notebooks",),
    "RAW_DIR": ("data", "raw"),
    "PROCESSED_DIR": ("data", "processed"),
    "OUTPUTS_DIR": ("outputs",),
}
TEMPLATES_DIR = Path(__file__).resolve().parent / "report" / "templates"


def __getattr__(name: str) -> Path:
    if name in _UNDER_ROOT:
        return _root.joinpath(*_UNDER_ROOT[name])
    if name == "SNAPSHOT_DIR":
        # The offline snapshot of Danmarks Statistik and noegletal.dk data, kept beside the repository.
        return _root.parent / "shared" / "data"
    raise AttributeError(f"module 'analysis.paths' has no attribute '{name}'")


@contextmanager
def project(root: Path) -> Iterator[Path]:
    """Within the block, the project is `root` for this process and the processes it starts."""
    global _root
    before, before_env = _root, os.environ.get("WORKBOOK_ROOT")
    _root = Path(root).resolve()
    os.environ["WORKBOOK_ROOT"] = str(_root)
    try:
        yield _root
    finally:
        _root = before
        if before_env is None:
            os.environ.pop("WORKBOOK_ROOT", None)
        else:
            os.environ["WORKBOOK_ROOT"] = before_env


def reread_environment() -> None:
    """Take the project from WORKBOOK_ROOT again: for a process forked from another that had
    another environment (a kernel of a kernel server shared by several projects' runs)."""
    global _root
    _root = _from_environment()


def relative(path: Path) -> str:
    """A short name for a path in messages: relative to the project root when it is inside it or
    beside it (../shared/data/...), absolute otherwise."""
    resolved = Path(path).resolve()
    root = _root.resolve()
    try:
        return str(resolved.relative_to(root))
    except ValueError:
        pass
    if resolved.is_relative_to(root.parent):
        return os.path.relpath(resolved, root)
    return str(resolved)

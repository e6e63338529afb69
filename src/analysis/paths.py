"""Where things live, independent of the working directory.

Example::

    from analysis.paths import PROJECT_ROOT, PARAMS_DIR
"""

from __future__ import annotations

import os
from pathlib import Path

# The package is installed in editable mode from src/, so the project root is two levels up.
# WORKBOOK_ROOT lets tests and scheduled runs point at another checkout.
PROJECT_ROOT = Path(os.environ.get("WORKBOOK_ROOT") or Path(__file__).resolve().parents[2])
PARAMS_DIR = PROJECT_ROOT / "params"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
RAW_DIR = PROJECT_ROOT / "data" / "raw"
PROCESSED_DIR = PROJECT_ROOT / "data" / "processed"
OUTPUTS_DIR = PROJECT_ROOT / "outputs"
# The offline snapshot of Danmarks Statistik and noegletal.dk data, kept beside the repository.
SNAPSHOT_DIR = PROJECT_ROOT.parent / "shared" / "data"
TEMPLATES_DIR = Path(__file__).resolve().parent / "report" / "templates"


def relative(path: Path) -> str:
    """A short name for a path in messages: relative to the project root when it is inside it or
    beside it (../shared/data/...), absolute otherwise."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(PROJECT_ROOT.resolve()))
    except ValueError:
        pass
    if resolved.is_relative_to(PROJECT_ROOT.resolve().parent):
        return os.path.relpath(resolved, PROJECT_ROOT.resolve())
    return str(resolved)

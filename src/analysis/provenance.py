"""Where a run's code came from: the git commit of the checkout, and one hash of the package.

Example::

    git_commit()   # 'aba5ae834e70', or 'aba5ae834e70+' with uncommitted changes, '' outside git
    code_digest()  # sha256 of every module and template of the package
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from analysis import paths

PACKAGE = Path(__file__).resolve().parent
CODE_SUFFIXES = (".py", ".j2", ".css", ".json")


def code_files(package: Path = PACKAGE) -> list[Path]:
    """Every module and template of the package, in every stage's folder, in a fixed order."""
    return sorted(p for p in package.rglob("*") if p.is_file() and p.suffix in CODE_SUFFIXES)


def code_digest(package: Path = PACKAGE) -> str:
    """One hash of the package's source and templates: a change to any re-runs every job."""
    digest = hashlib.sha256()
    for path in code_files(package):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def git_commit() -> str:
    """The commit of the checkout, with '+' when it has uncommitted changes; '' outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=paths.PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=paths.PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return head + ("+" if dirty else "")

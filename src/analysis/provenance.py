"""Where a run's code came from: the git commit of the checkout.

Example::

    git_commit()   # 'aba5ae834e70', or 'aba5ae834e70+' with uncommitted changes, '' outside git
"""

from __future__ import annotations

import subprocess

from analysis import paths


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

"""Reading a raw file's text safely: gzip, encoding, and the faults a download can have.

Example::

    text = read_text(Path("data/raw/statbank/FLY66.csv.gz"))   # str, BOM removed
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from analysis.errors import WorkbookError
from analysis.paths import relative


def read_text(path: Path, encoding: str = "utf-8-sig") -> str:
    """The decoded text of a raw file (gunzipped when it ends in .gz); faults become one line."""
    name = relative(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise WorkbookError(f"{name}: file not found") from None
    except OSError as err:
        raise WorkbookError(f"{name}: cannot be read ({err.strerror})") from None
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as err:
            raise WorkbookError(f"{name}: not a complete gzip file ({err})") from None
    if not raw.strip():
        raise WorkbookError(f"{name}: the file is empty")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as err:
        raise WorkbookError(
            f"{name}: byte {err.start} is not valid {encoding.replace('-sig', '')}; "
            f"expected the source's own encoding ({encoding.replace('-sig', '')})"
        ) from None
    head = text.lstrip()[:200].lower()
    if head.startswith("<!doctype") or head.startswith("<html") or "<html" in head:
        raise WorkbookError(f"{name}: holds an HTML page, not data (an error page saved as a data file?)")
    return text

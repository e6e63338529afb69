"""Reading a raw file's text safely: gzip, encoding, and the faults a download can have.

Example::

    text = read_text(Path("data/raw/statbank/FLY66.csv.gz"))   # str, BOM removed
"""

from __future__ import annotations

import codecs
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
            raw = _gunzip(raw)
        except (EOFError, OSError, zlib.error) as err:
            raise WorkbookError(f"{name}: not a complete gzip file ({err})") from None
    if not raw or raw.isspace():  # (strip() would copy a file of 40 MB to find out)
        raise WorkbookError(f"{name}: the file is empty")
    skip = 3 if encoding == "utf-8-sig" and raw.startswith(codecs.BOM_UTF8) else 0
    try:
        # The BOM is skipped through a view: the utf-8-sig codec would copy the file without it first.
        text = str(memoryview(raw)[skip:], "utf-8") if encoding == "utf-8-sig" else raw.decode(encoding)
    except UnicodeDecodeError as err:
        raise WorkbookError(
            f"{name}: byte {err.start + skip} is not valid {encoding.replace('-sig', '')}; "
            f"expected the source's own encoding ({encoding.replace('-sig', '')})"
        ) from None
    head = text.lstrip()[:200].lower()
    if head.startswith("<!doctype") or head.startswith("<html") or "<html" in head:
        raise WorkbookError(f"{name}: holds an HTML page, not data (an error page saved as a data file?)")
    return text


def _gunzip(raw: bytes) -> bytes:
    """gzip.decompress, holding the output once (gzip.decompress builds it in pieces and joins
    them: for FLY66's 40 MB, 100 MB more at its peak). Every member of the file is read."""
    pieces = []
    while raw:
        member = zlib.decompressobj(wbits=31)
        pieces.append(member.decompress(raw))
        if not member.eof:
            raise EOFError("the file ends inside a compressed stream")
        raw = member.unused_data
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)

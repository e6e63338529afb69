"""Getting raw data: from the Statbank API (online) or a snapshot folder (offline), into data/raw/.

Raw files are immutable. Each version is written once to data/raw/statbank/versions/
<name>-<sha12>.csv (read-only) with a sidecar .meta.json (URL, request body, fetched at, the
table's "updated" time, sha256, licence and citation), and data/raw/statbank/<name>.csv is a
link to the newest version, swapped atomically. The same bytes again change nothing; a bad
response (an HTML page, a wrong header, a truncated body) never replaces a good file.

Example::

    outcomes = fetch_online(load_queries(), StatbankClient(), RAW_DIR)
    outcomes = fetch_offline(Path("../shared/data"), RAW_DIR)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from analysis.errors import WorkbookError
from analysis.params import load_sources
from analysis.paths import PARAMS_DIR, relative
from analysis.sources.statbank_api import Query, StatbankClient

LICENCE = ("Danmarks Statistik: fri genbrug, også kommercielt, med kildeangivelse "
           "(svarer til CC BY 4.0)")
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # "new", "unchanged" or "failed"
    detail: str = ""


def load_queries(path: Path = PARAMS_DIR / "queries.yml") -> list[Query]:
    name = relative(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise WorkbookError(f"{name}: cannot be read ({str(err).splitlines()[0]})") from None
    queries = []
    for key, entry in (data or {}).get("queries", {}).items():
        unknown = set(entry) - {"table", "variables"}
        if unknown:
            raise WorkbookError(f"{name}: queries.{key}: unknown key '{sorted(unknown)[0]}'")
        if not isinstance(entry.get("table"), str) or not isinstance(entry.get("variables"), dict):
            raise WorkbookError(f"{name}: queries.{key}: needs `table` and `variables`")
        variables = {str(k): [str(v) for v in values] for k, values in entry["variables"].items()}
        queries.append(Query(key, entry["table"], variables))
    return queries


def check_csv(content: bytes, content_type: str, body: dict) -> str:
    """'' when the bytes are a complete Statbank CSV for the request, else what is wrong."""
    if "html" in content_type.lower() or content.lstrip(BOM).lstrip()[:15].lower().startswith((b"<!doctype", b"<html")):
        return "the answer is an HTML page, not CSV"
    if not content_type.lower().startswith("text/csv"):
        return f"the answer has Content-Type '{content_type}', not text/csv"
    if not content.startswith(BOM):
        return "the CSV does not start with the UTF-8 byte order mark the API sends"
    try:
        text = content[len(BOM):].decode("utf-8")
    except UnicodeDecodeError:
        return "the CSV is not valid UTF-8"
    if not text.endswith("\r\n"):
        return "the CSV is truncated (its last line is incomplete)"
    lines = text.split("\r\n")[:-1]
    expected = [v["code"].upper() for v in body["variables"]] + ["INDHOLD"]
    if lines[0].split(";") != expected:
        return f"the CSV header is {lines[0]!r}; expected {';'.join(expected)!r}"
    if len(lines) < 2:
        return "the CSV has no data rows"
    widths = {line.count(";") for line in lines}
    if len(widths) != 1:
        return "the CSV has lines with different numbers of fields (truncated?)"
    return ""


def store(content: bytes, name: str, folder: Path, meta: dict) -> str:
    """Keep a version of a raw file and point `name` at it; 'new' or 'unchanged'."""
    digest = hashlib.sha256(content).hexdigest()
    versions = folder / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    stem = Path(name).name.split(".")[0]
    suffix = "".join(Path(name).suffixes)
    version = versions / f"{stem}-{digest[:12]}{suffix}"
    link = folder / Path(name).name
    if version.exists() and link.is_symlink() and link.resolve() == version.resolve():
        return "unchanged"
    if not version.exists():
        _write_once(version, content)
        sidecar = version.with_name(version.name.split(".")[0] + ".meta.json")
        _write_once(sidecar, (json.dumps({**meta, "sha256": digest, "file": version.name}, indent=2,
                                         ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
    if link.exists() and not link.is_symlink():
        # A file put here by hand stays as a version of its own before the link takes its place.
        kept = versions / f"{stem}-{_sha(link)[:12]}{suffix}"
        if not kept.exists():
            shutil.copy2(link, kept)
            kept.chmod(0o444)
    temporary = folder / f".{link.name}.{os.getpid()}.link"
    if temporary.is_symlink():
        temporary.unlink()
    temporary.symlink_to(os.path.relpath(version, folder))
    os.replace(temporary, link)
    return "new"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_once(path: Path, content: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "wb") as out:
        out.write(content)
    os.chmod(temporary, 0o444)
    os.replace(temporary, path)


def fetch_online(queries: list[Query], client: StatbankClient, raw_dir: Path, log=print) -> list[Outcome]:
    """Fetch every query; a table that fails is reported, and the others go on."""
    outcomes = []
    for query in queries:
        try:
            info = client.tableinfo(query.table)
            body = client.request_body(query, info)
            content, content_type = client.data_csv(body)
            problem = check_csv(content, content_type, body)
            if problem:
                raise WorkbookError(f"table {query.table}: {problem}; the file on disk is kept")
            meta = {
                "url": f"{client.base_url}/data",
                "request": body,
                "fetched_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "table_updated": info.get("updated", ""),
                "licence": LICENCE,
                "citation": f"Kilde: Danmarks Statistik, statistikbanken.dk/{query.table}",
            }
            status = store(content, f"{query.name}.csv", raw_dir / "statbank", meta)
            outcomes.append(Outcome(query.name, status))
            log(f"{query.name}: {'new version' if status == 'new' else 'unchanged'}")
        except WorkbookError as err:
            outcomes.append(Outcome(query.name, "failed", str(err)))
            log(f"{query.name}: FAILED: {err}")
    return outcomes


def fetch_offline(snapshot: Path, raw_dir: Path, log=print) -> list[Outcome]:
    """Take the tables of params/sources.yml from a snapshot folder, checked against its SHA256SUMS."""
    sums_path = snapshot / "SHA256SUMS"
    if not sums_path.is_file():
        raise WorkbookError(f"--from {snapshot}: no SHA256SUMS checksum list in the folder")
    sums = {}
    for line in sums_path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, file_name = line.split(maxsplit=1)
            sums[file_name.strip().lstrip("*")] = digest
    outcomes = []
    for table, spec in load_sources().tables.items():
        found = next((f for f in spec.files if (snapshot / f).is_file()), None)
        if found is None:
            outcomes.append(Outcome(table, "failed", f"{spec.files[0]} is not in {snapshot}"))
            log(f"{table}: FAILED: {spec.files[0]} is not in {snapshot}")
            continue
        content = (snapshot / found).read_bytes()
        digest = hashlib.sha256(content).hexdigest()
        if sums.get(found) != digest:
            detail = f"{found}: sha256 {digest[:12]} does not match SHA256SUMS" if found in sums else f"{found} is not in SHA256SUMS"
            outcomes.append(Outcome(table, "failed", detail))
            log(f"{table}: FAILED: {detail}")
            continue
        meta = {"source": str(snapshot.resolve()), "file": found, "copied_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "licence": LICENCE, "citation": spec.citation}
        folder = raw_dir / Path(found).parent
        status = store(content, Path(found).name, folder, meta)
        outcomes.append(Outcome(table, status))
        log(f"{table}: {'new version' if status == 'new' else 'unchanged'}")
    return outcomes


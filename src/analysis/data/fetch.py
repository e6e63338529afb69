"""Getting raw data: from the Statbank API (online) or a snapshot folder (offline), into data/raw/.

Raw files are immutable. Each version is written once to data/raw/statbank/versions/
<name>-<sha12>.csv (read-only) with a sidecar .meta.json (URL, request body, fetched at, the
table's "updated" time, sha256, licence and citation), and data/raw/statbank/<name>.csv is a
link to the newest version, swapped atomically. The same bytes again change nothing; a bad
response (an HTML page, a wrong header, a truncated body) never replaces a good file.

Example::

    outcomes = fetch_online(load_queries(), StatbankClient(), paths.RAW_DIR)
    outcomes = fetch_offline(Path("../shared/data"), paths.RAW_DIR)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from analysis import paths
from analysis.data.sources.statbank_api import Query, StatbankClient, Unreachable, _reason
from analysis.errors import WorkbookError
from analysis.params import load_sources
from analysis.paths import relative

LICENCE = "Danmarks Statistik: fri genbrug, også kommercielt, med kildeangivelse (svarer til CC BY 4.0)"
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # "new", "unchanged" or "failed"
    detail: str = ""


def load_queries(params_dir: Path | None = None) -> list[Query]:
    """The queries of params/queries.yml, checked by their model (one line naming the file on a mistake)."""
    from analysis.params import load_queries as load

    return [Query.of(name, spec) for name, spec in load(params_dir or paths.PARAMS_DIR).queries.items()]


def check_csv(content: bytes, content_type: str, body: dict) -> str:
    """'' when the bytes are a complete Statbank CSV for the request, else what is wrong.

    A Statbank request fixes exactly how many cells come back: one line per combination of the
    values asked for. A body cut at a line end, or with a line twice, has another count."""
    if "html" in content_type.lower() or content.lstrip(BOM).lstrip()[:15].lower().startswith((b"<!doctype", b"<html")):
        return "the answer is an HTML page, not CSV"
    if not content_type.lower().startswith("text/csv"):
        return f"the answer has Content-Type '{content_type}', not text/csv"
    if not content.startswith(BOM):
        return "the CSV does not start with the UTF-8 byte order mark the API sends"
    try:
        text = content[len(BOM) :].decode("utf-8")
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
    rows = math.prod(len(v["values"]) for v in body["variables"])
    if len(lines) - 1 != rows:
        return f"the CSV has {len(lines) - 1:,} data lines; the request asks for exactly {rows:,}"
    if len(set(lines[1:])) != len(lines) - 1:
        return "the CSV has a line twice"
    return ""


def check_content(content: bytes, name: str, sidecar: dict | None, areas, areas_sha256: str | None = None) -> None:
    """The checks ingest makes (areas, periods, numbers, no negative counts, no duplicate keys),
    made before a file may become the current version. Only for a table params/sources.yml
    declares; without DST's Kommunegrupper on disk the areas cannot be checked, and nothing is.
    Given the sha256 of the Kommunegrupper file `areas` was read from, the table as read is kept
    for an ingest in the same process (ingest.remember): `run --fetch` parses it once."""
    from analysis.data.ingest import remember
    from analysis.data.sources.classification import read_komgrp
    from analysis.data.sources.noegletal import read_noegletal_csv
    from analysis.data.sources.statbank import read_statbank_csv

    sources = load_sources()
    table = next((t for t, spec in sources.tables.items() if any(Path(f).name == name for f in spec.files)), None)
    if table is None:
        return
    spec = sources.tables[table]
    with tempfile.TemporaryDirectory(prefix="workbook-check-") as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        if spec.kind == "classification":
            read_komgrp(path)
        elif areas is None:
            return
        else:
            if spec.kind == "statbank":
                frame = read_statbank_csv(path, spec, areas, sidecar=sidecar or {})
            else:
                frame = read_noegletal_csv(path, areas)
            if areas_sha256 is not None:
                remember(hashlib.sha256(content).hexdigest(), spec, areas_sha256, frame)


def rollback(name: str, folder: Path) -> str:
    """Make the version of `name` that was current before the current one current again."""
    link = folder / name
    history = _history(folder, name)
    if not link.is_symlink() or not history:
        raise WorkbookError(f"--rollback {Path(name).stem}: no fetched versions of {relative(link)} to go back to")
    current = os.readlink(link)
    earlier = [entry["version"] for entry in history if entry["version"] != current.split("/")[-1]]
    if not earlier:
        raise WorkbookError(f"--rollback {Path(name).stem}: {relative(link)} has only one version")
    version = folder / "versions" / earlier[-1]
    if not version.is_file():
        raise WorkbookError(f"--rollback {Path(name).stem}: the earlier version {version.name} is gone")
    _point(link, version)
    _record(folder, name, version.name, "rollback")
    return version.name


def _history(folder: Path, name: str) -> list[dict]:
    path = folder / "versions" / "history.jsonl"
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("name") == name:
            entries.append(entry)
    # The versions in the order they became current, the latest of each kept.
    order: list[str] = []
    for entry in entries:
        if entry["version"] in order:
            order.remove(entry["version"])
        order.append(entry["version"])
    return [{"version": v} for v in order]


def _record(folder: Path, name: str, version: str, action: str) -> None:
    with (folder / "versions" / "history.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(
            json.dumps(
                {
                    "name": name,
                    "version": version,
                    "action": action,
                    "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                }
            )
            + "\n"
        )


def _point(link: Path, version: Path) -> None:
    temporary = link.parent / f".{link.name}.{os.getpid()}.link"
    if temporary.is_symlink():
        temporary.unlink()
    temporary.symlink_to(os.path.relpath(version, link.parent))
    os.replace(temporary, link)


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
        _write_once(
            sidecar,
            (
                json.dumps(
                    {**meta, "sha256": digest, "file": version.name}, indent=2, ensure_ascii=False, sort_keys=True
                )
                + "\n"
            ).encode("utf-8"),
        )
    if link.exists() and not link.is_symlink():
        # A file put here by hand stays as a version of its own before the link takes its place.
        kept = versions / f"{stem}-{_sha(link)[:12]}{suffix}"
        if not kept.exists():
            shutil.copy2(link, kept)
            kept.chmod(0o444)
    _point(link, version)
    _record(folder, link.name, version.name, "fetched")
    return "new"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_once(path: Path, content: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "wb") as out:
        out.write(content)
    os.chmod(temporary, 0o444)
    os.replace(temporary, path)


def fetch_online(
    queries: list[Query],
    client: StatbankClient,
    raw_dir: Path,
    log=print,
    municipalities: list[str] | None = None,
    areas=None,
    areas_sha256: str | None = None,
) -> list[Outcome]:
    """Fetch every query; a table that fails is reported, and the others go on.

    A query too large for one CSV request is fetched in parts (see StatbankClient.plan) and kept
    as one file, with every request in its sidecar."""
    outcomes = []
    for number, query in enumerate(queries):
        try:
            until = time.monotonic() + client.deadline
            info = client.tableinfo(query.table)
            planned = client.plan(query, info, municipalities)
            parts = []
            for body in planned.bodies:
                content, content_type = client.data_csv(body, until)
                problem = check_csv(content, content_type, body)
                if problem:
                    part = f" (request {len(parts) + 1} of {len(planned.bodies)})" if len(planned.bodies) > 1 else ""
                    raise WorkbookError(f"table {query.table}: {problem}{part}; the file on disk is kept")
                parts.append(content)
            content = parts[0] + b"".join(part[len(BOM) :].split(b"\r\n", 1)[1] for part in parts[1:])
            check_content(content, f"{query.name}.csv", {"variables": planned.variables}, areas, areas_sha256)
            meta = {
                "url": f"{client.base_url}/data",
                "request": planned.bodies[0],
                "requests": planned.bodies,
                "variables": planned.variables,
                "cells": planned.cells,
                "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "table_updated": info.get("updated", ""),
                "footnote": (info.get("footnote") or {}).get("text", ""),
                "licence": LICENCE,
                "citation": f"Kilde: Danmarks Statistik, statistikbanken.dk/{query.table}",
            }
            status = store(content, f"{query.name}.csv", raw_dir / "statbank", meta)
            outcomes.append(Outcome(query.name, status))
            requests_ = f" in {len(planned.bodies)} requests" if len(planned.bodies) > 1 else ""
            log(
                f"{query.name}: {'new version' if status == 'new' else 'unchanged'} ({planned.cells:,} cells{requests_})"
            )
        except Unreachable as err:
            # No answer at all: the other tables would wait for the same timeouts. Say it once.
            rest = [q.name for q in queries[number:]]
            outcomes += [Outcome(name, "failed", str(err)) for name in rest]
            log(f"{', '.join(rest)}: FAILED: {err}")
            break
        except WorkbookError as err:
            outcomes.append(Outcome(query.name, "failed", str(err)))
            log(f"{query.name}: FAILED: {err}")
    return outcomes


def fetch_downloads(
    raw_dir: Path,
    location_folders: tuple[Path, ...],
    log=print,
    mirror: str | None = None,
    only: list[str] | None = None,
) -> list[Outcome]:
    """The tables that are not in Statistikbanken (DST's Kommunegrupper, noegletal.dk's exports),
    from the address params/sources.yml gives, kept only when the bytes have the sha256 it gives.
    A table already on disk with those bytes is not downloaded again."""
    outcomes = []
    for table, spec in load_sources().tables.items():
        if spec.url is None or (only is not None and table not in only):
            continue
        present = next(
            (
                folder / f
                for folder in location_folders
                for f in spec.files
                if (folder / f).is_file() and _sha(folder / f) == spec.sha256
            ),
            None,
        )
        if present is not None:
            outcomes.append(Outcome(table, "unchanged", f"already on disk in {relative(present)}"))
            continue
        url = spec.url
        if mirror:
            url = mirror.rstrip("/") + "/" + url.split("://", 1)[1].split("/", 1)[1]
        try:
            response = requests.get(url, timeout=(10, 60))
        except requests.exceptions.RequestException as err:
            outcomes.append(Outcome(table, "failed", f"{url} could not be reached ({_reason(err)})"))
            log(f"{table}: FAILED: {url} could not be reached ({_reason(err)})")
            continue
        digest = hashlib.sha256(response.content).hexdigest()
        if response.status_code != 200 or digest != spec.sha256:
            detail = (
                f"{url} answered {response.status_code}"
                if response.status_code != 200
                else f"{url}: sha256 {digest[:12]} is not the {spec.sha256[:12]} params/sources.yml expects"
            )
            outcomes.append(Outcome(table, "failed", detail))
            log(f"{table}: FAILED: {detail}")
            continue
        meta = {
            "url": url,
            "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "citation": spec.citation,
        }
        status = store(response.content, Path(spec.files[0]).name, raw_dir / Path(spec.files[0]).parent, meta)
        outcomes.append(Outcome(table, status))
        log(f"{table}: {'new version' if status == 'new' else 'unchanged'}")
    return outcomes


def fetch_offline(snapshot: Path, raw_dir: Path, log=print) -> list[Outcome]:
    """Take the tables of params/sources.yml from a snapshot folder, checked against its SHA256SUMS
    and, like a fetched table, by the readers' checks before any becomes the current version."""
    from analysis.data.sources.classification import read_komgrp

    sums_path = snapshot / "SHA256SUMS"
    if not sums_path.is_file():
        raise WorkbookError(f"--from {snapshot}: no SHA256SUMS checksum list in the folder")
    sums = {}
    for number, line in enumerate(sums_path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if line.strip():
            parts = line.split(maxsplit=1)
            if len(parts) != 2 or len(parts[0]) != 64 or any(c not in "0123456789abcdef" for c in parts[0].lower()):
                raise WorkbookError(
                    f"{relative(sums_path)} line {number}: expected '<sha256> <file>', as sha256sum writes it"
                )
            digest, file_name = parts
            sums[file_name.strip().lstrip("*")] = digest.lower()
    komgrp = load_sources().tables["KOMGRP"].files[0]
    areas = (
        read_komgrp(snapshot / komgrp)
        if sums.get(komgrp)
        and (snapshot / komgrp).is_file()
        and hashlib.sha256((snapshot / komgrp).read_bytes()).hexdigest() == sums[komgrp]
        else None
    )
    outcomes = []
    for table, spec in load_sources().tables.items():
        found = next((f for f in spec.files if (snapshot / f).is_file()), None)
        if found is None and not spec.required:
            continue  # not in the snapshot: fetched online
        if found is None:
            outcomes.append(Outcome(table, "failed", f"{spec.files[0]} is not in {snapshot}"))
            log(f"{table}: FAILED: {spec.files[0]} is not in {snapshot}")
            continue
        content = (snapshot / found).read_bytes()
        digest = hashlib.sha256(content).hexdigest()
        if sums.get(found) != digest:
            detail = (
                f"{found}: sha256 {digest[:12]} does not match SHA256SUMS"
                if found in sums
                else f"{found} is not in SHA256SUMS"
            )
            outcomes.append(Outcome(table, "failed", detail))
            log(f"{table}: FAILED: {detail}")
            continue
        try:
            check_content(content, Path(found).name, None, areas)
        except WorkbookError as err:
            outcomes.append(Outcome(table, "failed", str(err)))
            log(f"{table}: FAILED: {err}")
            continue
        meta = {
            "source": relative(snapshot),
            "file": found,
            "copied_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "licence": LICENCE,
            "citation": spec.citation,
        }
        folder = raw_dir / Path(found).parent
        status = store(content, Path(found).name, folder, meta)
        outcomes.append(Outcome(table, status))
        log(f"{table}: {'new version' if status == 'new' else 'unchanged'}")
    return outcomes

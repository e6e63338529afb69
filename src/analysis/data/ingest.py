"""Raw files -> one tidy table of observations (parquet) with provenance, rebuilt only when inputs change.

Where raw data comes from: each table is looked for in data/raw/ first and then in the
snapshot folder ../shared/data, or only in the folder given as `data`. What a processed version
holds beyond the observations (the indicator table, and what the manifest says of it) is derived
by a function the caller passes (`derive`, see indicators/store.py): data knows nothing of
indicators.

Example::

    location = data_location(None)                 # data/raw/, then ../shared/data
    result = ingest(location, derive)              # writes data/processed/<version>/, links current
    processed = load_processed(location, derive)   # reads it back (or builds it in memory if stale)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from analysis import __version__, faults, paths
from analysis.data.processed import (
    AREAS,
    COLUMNS,
    CURRENT,
    INDICATORS,
    MANIFEST,
    MANUAL_PREFIX,
    OBSERVATIONS,
    QUALITATIVE,
    QUALITATIVE_TABLE,
    TABLE_SUMS,
    DataLocation,
    Processed,
    current_dir,
    read_manifest,
    table_sums,
)
from analysis.data.sources.manual import manual_file
from analysis.errors import WorkbookError
from analysis.params import KINDS, TableSpec, load_indicators, load_sources, load_strategy
from analysis.paths import relative

if TYPE_CHECKING:
    import pandas as pd

    from analysis.data.sources.classification import Areas

# pandas and the readers are imported where they are used: deciding that nothing changed, which
# every run does first, should not pay for them.


@dataclass(frozen=True)
class RawInput:
    table: str
    path: Path
    sha256: str


def find_table(table: str, spec: TableSpec, location: DataLocation) -> Path:
    """The first file of `table` found in the location, or a one-line error saying how to get it."""
    for folder in location.folders:
        for candidate in spec.files:
            path = folder / candidate
            if path.is_file():
                return path
    raise WorkbookError(
        f"table {table} ({spec.title}) is missing: no {spec.files[0]} in {location.describe()}; "
        f"download it to data/raw/{spec.files[0]} (see README.md, 'Data'), or point --data at a snapshot folder"
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manual_folder(location: DataLocation) -> Path | None:
    """The analyst's folder of manual files: the first `manual/` in the location's folders."""
    return next((folder / "manual" for folder in location.folders if (folder / "manual").is_dir()), None)


def resolve_inputs(location: DataLocation) -> list[RawInput]:
    """Every raw file a run reads: the tables of params/sources.yml on disk, and any manual files.
    A required table that is missing is an error; an optional one is left out."""
    sources = load_sources()
    inputs = []
    for table, spec in sources.tables.items():
        try:
            path = find_table(table, spec, location).resolve()  # a fetched table is a link to its version
        except WorkbookError:
            if spec.required:
                raise
            continue
        inputs.append(RawInput(table, path, sha256_of(path)))
    folder = manual_folder(location)
    if folder is not None:
        for kind in (*KINDS, "kvalitativ"):
            path = manual_file(folder, kind)
            if path is not None:
                inputs.append(RawInput(MANUAL_PREFIX + kind, path, sha256_of(path)))
    return inputs


def fingerprint(inputs: list[RawInput]) -> str:
    """Changes when any raw file, the params the readers check against, or the package version change."""
    record = {
        "format": 3,  # the layout of ingest.json and the processed tables
        "version": __version__,
        "params": {
            name: sha256_of(paths.PARAMS_DIR / name)
            for name in ("sources.yml", "queries.yml", "indicators.yml", "strategy.yml", "units.yml")
        },
        "inputs": {i.table: i.sha256 for i in inputs},
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def read_all(inputs: list[RawInput]) -> tuple[pd.DataFrame, Areas, pd.DataFrame]:
    """Read every raw file into the tidy shape, with provenance on every row."""
    import pandas as pd

    from analysis.data.sources.classification import read_komgrp
    from analysis.data.sources.manual import QUALITATIVE_COLUMNS, read_manual, read_qualitative_csv
    from analysis.data.sources.noegletal import read_noegletal_csv
    from analysis.data.sources.statbank import read_statbank_csv

    sources = load_sources()
    registry = load_indicators()
    by_table = {i.table: i for i in inputs}
    areas = read_komgrp(by_table["KOMGRP"].path)
    frames = []
    qualitative = pd.DataFrame(columns=list(QUALITATIVE_COLUMNS))
    for raw in inputs:
        provenance = {"table": raw.table, "source_file": raw.path.name, "source_sha256": raw.sha256}
        if raw.table == QUALITATIVE_TABLE:
            qualitative = read_qualitative_csv(raw.path, load_strategy())
            continue
        if raw.table.startswith(MANUAL_PREFIX):
            frame = read_manual(raw.path, raw.table.removeprefix(MANUAL_PREFIX), registry, areas)
            units = {i.id: i.unit.name for i in registry.indicators}
            frames.append(
                frame.drop(columns=["of", "note"])
                .rename(columns={"indicator": "measure"})
                .assign(unit=frame["indicator"].map(units), n=frame["n"].fillna(frame["of"]), **provenance)
            )
            continue
        spec = sources.tables[raw.table]
        if spec.kind == "classification":
            continue
        if spec.kind == "statbank":
            frame = _read_once(
                raw,
                spec,
                by_table["KOMGRP"].sha256,
                lambda raw=raw, spec=spec: read_statbank_csv(raw.path, spec, areas),
            )
        else:
            frame = _read_once(
                raw, spec, by_table["KOMGRP"].sha256, lambda raw=raw: read_noegletal_csv(raw.path, areas)
            )
        labels = {"measure": spec.measure or raw.table, "unit": spec.unit, **provenance}
        frames.append(frame.assign(**{column: _same_text(value, len(frame)) for column, value in labels.items()}))
    return _combine(frames), areas, qualitative


def _combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The tables' rows in one frame. Text columns are joined as categories (a code per row), never
    as a string per row: the million rows of FLY66 stay a few MB a column."""
    import pandas as pd
    from pandas.api.types import union_categoricals

    own = sorted({c for f in frames for c in f.columns} - set(COLUMNS))
    text = ("table", "measure", "area", "period", "unit", "source_file", "source_sha256", *own)
    columns = {}
    for column in (*COLUMNS, *own):
        if column in text:  # a table without the column: missing on its rows, without a cell a row
            parts = [_text_categories(f[column]) if column in f else _same_text(None, len(f)) for f in frames]
            joined = union_categoricals(parts, sort_categories=True)
            columns[column] = pd.Categorical.from_codes(
                joined.codes, categories=pd.Index(joined.categories, dtype="string")
            )
        else:
            parts = [f[column] if column in f else pd.Series(pd.NA, index=f.index, dtype=object) for f in frames]
            columns[column] = pd.concat(parts, ignore_index=True)
    observations = pd.DataFrame(columns)
    observations["n"] = observations["n"].astype("Float64")
    observations["suppressed"] = observations["suppressed"].astype("boolean").fillna(False).astype(bool)
    return observations


def _same_text(value: str | None, rows: int) -> pd.Categorical:
    """One text on every row, as a category: a code a row, where a string column holds a pointer a row."""
    import numpy as np
    import pandas as pd

    if value is None:
        return pd.Categorical.from_codes(np.full(rows, -1, dtype=np.int8), categories=pd.Index([], dtype=object))
    return pd.Categorical.from_codes(np.zeros(rows, dtype=np.int8), categories=pd.Index([value], dtype=object))


def _text_categories(values: pd.Series) -> pd.Categorical:
    """A column as categories of plain text (a missing cell stays missing)."""
    import pandas as pd

    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, distinct = values.cat.codes, values.cat.categories
    else:  # a code a distinct value (hashing), instead of a string object a row first
        codes, distinct = pd.factorize(values)
    texts = [str(c) for c in distinct]
    if len(set(texts)) == len(texts):
        return pd.Categorical.from_codes(codes, categories=pd.Index(texts, dtype=object))
    as_text = values.astype("string").astype("category")  # two values with the same text: one category
    return pd.Categorical.from_codes(
        as_text.cat.codes, categories=pd.Index([str(c) for c in as_text.cat.categories], dtype=object)
    )


_READ: dict[tuple[str, str, str], pd.DataFrame] = {}  # (sha256, spec, areas' sha256) -> a raw table as read


def remember(sha256: str, spec: TableSpec, areas_sha256: str, frame: pd.DataFrame) -> None:
    """Keep a raw table as read for this process's ingests (`_read_once`), by the sha256 of its
    bytes; fetch.check_content keeps what it read before the file was stored, so the ingest that
    follows in the same process (`run --fetch`) does not parse the file again."""
    if len(_READ) > 16:
        _READ.clear()
    _READ[(sha256, spec.model_dump_json(), areas_sha256)] = frame


def _read_once(raw: RawInput, spec: TableSpec, areas_sha256: str, read) -> pd.DataFrame:
    """A raw table read once per process: raw files are immutable versions, so the same sha256 (and
    the same declaration) gives the same frame. A notebook kernel or a test that builds the
    processed data in memory again does not parse a million lines again."""
    key = (raw.sha256, spec.model_dump_json(), areas_sha256)
    if key not in _READ:
        remember(raw.sha256, spec, areas_sha256, read())
    return _READ[key]


def input_record(raw: RawInput) -> dict:
    """How a run names an input: its file, sha256 and, for a fetched table, when DST last updated it."""
    record = {"file": relative(raw.path), "sha256": raw.sha256}
    sidecar = raw.path.with_name(raw.path.name.split(".")[0] + ".meta.json")
    if sidecar.is_file():
        try:
            updated = json.loads(sidecar.read_text(encoding="utf-8")).get("table_updated")
        except (OSError, json.JSONDecodeError):
            updated = None
        if updated:
            record["updated"] = updated
    return record


def vintages_of(observations: pd.DataFrame) -> dict[str, str]:
    """The latest period on disk per table (DST period codes sort correctly within a table)."""
    pairs = observations[["table", "period"]].drop_duplicates().astype(str)  # a few hundred rows, not a million
    latest = pairs.groupby("table")["period"].max()
    return {str(k): str(v) for k, v in latest.items()}


@dataclass(frozen=True)
class IngestResult:
    skipped: bool
    rows: int
    out_dir: Path
    inputs: list[RawInput]


@dataclass(frozen=True)
class Derived:
    """What a caller derives from the observations for a processed version: the indicator table
    and the facts the manifest records of it (periods a run can be made for, gaps, ...)."""

    indicators: pd.DataFrame
    manifest: dict


Derive = Callable[["pd.DataFrame", "Areas"], Derived]


def ingest(location: DataLocation, derive: Derive, out_dir: Path | None = None, force: bool = False) -> IngestResult:
    """Rebuild the processed data from the raw files unless they are unchanged since the last
    ingest and the processed files still have the hashes recorded with them.

    Each ingest writes a complete new version in a folder of its own and then switches the
    `current` link to it in one step, so a reader sees the old version or the new one, never a
    mix; an ingest killed halfway leaves the old version current."""
    from filelock import FileLock

    out_dir = out_dir or paths.PROCESSED_DIR
    inputs = resolve_inputs(location)
    key = fingerprint(inputs)
    out_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out_dir / ".ingest.lock")):
        if not force and _current(out_dir, key):
            manifest = read_manifest(out_dir)
            _clean(out_dir)
            return IngestResult(True, manifest["rows"], out_dir, inputs)
        observations, areas, qualitative = read_all(inputs)
        derived = derive(observations, areas)
        indicators = derived.indicators
        manifest = {
            "fingerprint": key,
            "rows": len(observations),
            "missing": missing_tables(inputs),
            "municipalities": sorted(areas.municipalities["code"]),
            "groups": areas.groups,
            "inputs": {i.table: input_record(i) for i in inputs},
            "vintages": vintages_of(observations),
        }
        manifest |= derived.manifest
        build = Path(tempfile.mkdtemp(prefix=".build-", dir=out_dir))
        writers = {
            OBSERVATIONS: lambda p: observations.to_parquet(p, index=False),
            AREAS: lambda p: areas.municipalities.to_parquet(p, index=False),
            QUALITATIVE: lambda p: qualitative.to_parquet(p, index=False),
            INDICATORS: lambda p: indicators.to_parquet(p, index=False),
            TABLE_SUMS: lambda p: table_sums(observations).to_parquet(p, index=False),
        }
        for name, write in writers.items():
            write(build / name)
        manifest["files"] = {name: sha256_of(build / name) for name in writers}
        (build / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        build.chmod(0o755)
        faults.point("ingest-written")
        version = out_dir / f"v-{key[:12]}-{build.name.removeprefix('.build-')}"
        build.rename(version)
        link = out_dir / f".{CURRENT}.{os.getpid()}"
        if link.is_symlink():
            link.unlink()
        link.symlink_to(version.name)
        os.replace(link, current_dir(out_dir))  # the one step that switches versions
        _clean(out_dir)
    return IngestResult(False, len(observations), out_dir, inputs)


def _current(out_dir: Path, key: str) -> bool:
    """Whether the current version was made from these inputs and its files are as recorded."""
    folder = current_dir(out_dir)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    if manifest.get("fingerprint") != key:
        return False
    files = manifest.get("files", {})
    if set(files) != {OBSERVATIONS, AREAS, QUALITATIVE, INDICATORS, TABLE_SUMS}:
        return False
    return all((folder / name).is_file() and sha256_of(folder / name) == digest for name, digest in files.items())


def _clean(out_dir: Path) -> None:
    """Remove what is not in use: versions older than the one before the current (a run still
    reading that one keeps it), builds of ingests that were killed, and the files of the layout
    before versions."""
    current = os.path.realpath(current_dir(out_dir))
    versions = sorted((p for p in out_dir.glob("v-*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
    keep = {current} | {os.path.realpath(p) for p in versions[-2:]}
    for path in versions:
        if os.path.realpath(path) not in keep:
            shutil.rmtree(path, ignore_errors=True)
    for path in out_dir.glob(".build-*"):
        shutil.rmtree(path, ignore_errors=True)
    for path in out_dir.glob(f".{CURRENT}.*"):
        path.unlink(missing_ok=True)
    for name in (OBSERVATIONS, AREAS, QUALITATIVE, INDICATORS, TABLE_SUMS, MANIFEST):
        (out_dir / name).unlink(missing_ok=True)
    for path in out_dir.glob(".*.parquet.*"):
        path.unlink(missing_ok=True)


# The processed version read in this process, by (version folder, fingerprint): a version never
# changes once written, so a kernel forked from the kernel server (which preloads it) or an
# analyst re-running a notebook reads it once.
_LOADED: dict[tuple[Path, str], Processed] = {}


def load_processed(location: DataLocation, derive: Derive, processed_dir: Path | None = None) -> Processed:
    """The processed tables for this location: read from disk when current, else built in memory.

    Notebooks call this; they never write to data/. A run ingests first, so it reads from disk.
    """
    processed_dir = processed_dir or paths.PROCESSED_DIR
    inputs = resolve_inputs(location)
    key = fingerprint(inputs)
    import pandas as pd

    from analysis.data.sources.classification import Areas

    if _current(processed_dir, key):
        folder = current_dir(processed_dir).resolve()  # one version, even if the link moves meanwhile
        if (folder, key) in _LOADED:
            return _LOADED[(folder, key)]
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        observations = pd.read_parquet(folder / OBSERVATIONS)
        municipalities = pd.read_parquet(folder / AREAS)
        qualitative = pd.read_parquet(folder / QUALITATIVE)
        indicators = pd.read_parquet(folder / INDICATORS)
        areas = Areas.from_municipalities(municipalities)
        _LOADED.clear()  # one version at a time: an older one is not read again
        _LOADED[(folder, key)] = Processed(
            observations,
            areas,
            manifest["inputs"],
            manifest["vintages"],
            qualitative,
            indicators,
            tuple(manifest.get("missing", [])),
        )
        return _LOADED[(folder, key)]
    observations, areas, qualitative = read_all(inputs)
    recorded = {i.table: input_record(i) for i in inputs}
    return Processed(
        observations,
        areas,
        recorded,
        vintages_of(observations),
        qualitative,
        derive(observations, areas).indicators,
        tuple(missing_tables(inputs)),
    )


def missing_tables(inputs: list[RawInput]) -> list[str]:
    """The optional tables of params/sources.yml that are not on disk."""
    present = {i.table for i in inputs}
    return [table for table in load_sources().tables if table not in present]

"""What changed since the previous published run: new periods, and revised values.

DST revises provisional figures, so a brief says which of the municipality's numbers are new
and which changed since the last brief of the same cadence. The previous run's manifest names
each raw file and its sha256; raw files are immutable versions, so the old file can be read
again and compared row by row.

Example::

    previous = Path("outputs/2024K4/kvartal/manifest.json")
    for change in changes(previous, processed, "766", ["FOLK1AM"]): print(change.table, change.new_periods)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.ingest import Processed
from analysis.params import load_sources
from analysis.paths import PROJECT_ROOT
from analysis.sources.noegletal import read_noegletal_csv
from analysis.sources.statbank import read_statbank_csv


@dataclass
class Change:
    table: str
    new_periods: list[str] = field(default_factory=list)
    revised: list[tuple[str, float, float]] = field(default_factory=list)  # period, old value, new value
    unreadable: str = ""  # why the old file could not be compared


def changes(manifest_path: Path, processed: Processed, kommune: str, tables: list[str]) -> list[Change]:
    """Per table whose file differs from the previous run's: the municipality's new and revised figures."""
    previous = json.loads(manifest_path.read_text(encoding="utf-8"))["inputs"]
    sources = load_sources()
    found = []
    for table in tables:
        spec = sources.tables.get(table)
        if spec is None or spec.kind == "classification" or table not in previous:
            continue
        if previous[table]["sha256"] == processed.inputs[table]["sha256"]:
            continue
        change = Change(table)
        old_path = PROJECT_ROOT / previous[table]["file"]
        if not old_path.is_file():
            change.unreadable = f"den tidligere fil {previous[table]['file']} findes ikke længere"
            found.append(change)
            continue
        if spec.kind == "statbank":
            old = read_statbank_csv(old_path, spec, processed.areas)
        else:
            old = read_noegletal_csv(old_path, processed.areas)
        new = processed.observations[processed.observations["table"] == table]
        old_rows = _own(old, kommune)
        new_rows = _own(new, kommune)
        merged = new_rows.merge(old_rows, on="period", how="left", suffixes=("", "_old"))
        change.new_periods = sorted(merged.loc[merged["value_old"].isna(), "period"])
        revised = merged[merged["value_old"].notna() & (merged["value"] != merged["value_old"])]
        change.revised = [(r.period, float(r.value_old), float(r.value)) for r in revised.itertuples()]
        found.append(change)
    return found


def _own(frame: pd.DataFrame, kommune: str) -> pd.DataFrame:
    """The municipality's rows, summed over any other dimension (age, origin), by period."""
    rows = frame[frame["area"].astype(str) == kommune]
    return rows.assign(period=rows["period"].astype(str)).groupby("period", as_index=False)["value"].sum()

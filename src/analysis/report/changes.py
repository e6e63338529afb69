"""What changed since the previous published run: new periods, and revised values.

DST revises provisional figures, so a brief says which of the municipality's numbers are new
and which changed since the last brief of the same cadence. Every run keeps, beside its
manifest, the sums of each table's figures per area and period that it was made from
(`figures.parquet`, a copy of data/processed/table_sums.parquet); comparing them with today's
needs neither the old raw files nor reading any raw file at all.

Example::

    previous = Path("outputs/2024K4/kvartal/manifest.json")
    for change in changes(previous, processed, "766", ["FOLK1AM"]): print(change.table, change.new_periods)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.data.processed import TABLE_SUMS, Processed, table_sums

RUN_FIGURES = "figures.parquet"  # a run's copy of the processed table sums


@dataclass
class Change:
    table: str
    new_periods: list[str] = field(default_factory=list)
    revised: list[tuple[str, float, float]] = field(default_factory=list)  # period, old value, new value
    unreadable: str = ""  # why the old figures could not be compared


def changes(manifest_path: Path, processed: Processed, kommune: str, tables: list[str]) -> list[Change]:
    """Per table whose file differs from the previous run's: the municipality's new and revised figures."""
    previous = json.loads(manifest_path.read_text(encoding="utf-8"))["inputs"]
    old_path = manifest_path.parent / RUN_FIGURES
    old = pd.read_parquet(old_path) if old_path.is_file() else None
    new = table_sums(processed.observations)
    found = []
    for table in tables:
        if table not in previous or table not in processed.inputs or table == "KOMGRP":
            continue
        if previous[table]["sha256"] == processed.inputs[table]["sha256"]:
            continue
        change = Change(table)
        if old is None:
            change.unreadable = "den tidligere kørsel gemte ikke sine tal"
            found.append(change)
            continue
        merged = _own(new, table, kommune).merge(
            _own(old, table, kommune), on="period", how="left", suffixes=("", "_old")
        )
        change.new_periods = sorted(merged.loc[merged["value_old"].isna(), "period"])
        revised = merged[merged["value_old"].notna() & (merged["value"] != merged["value_old"])]
        change.revised = [(r.period, float(r.value_old), float(r.value)) for r in revised.itertuples()]
        found.append(change)
    return found


def _own(sums: pd.DataFrame, table: str, kommune: str) -> pd.DataFrame:
    rows = sums[(sums["table"] == table) & (sums["area"] == kommune)]
    return rows[["period", "value"]]


__all__ = ["Change", "RUN_FIGURES", "TABLE_SUMS", "changes"]

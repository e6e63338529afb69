"""The processed data as every later stage sees it: where raw files are looked for, the
processed-data object (`Processed`), the files of a processed version, and the manifest.

data/ingest.py makes processed versions; nothing here reads a raw file.

Example::

    location = data_location(None)          # data/raw/, then ../shared/data
    read_manifest()["periods"]["kvartal"][-1]   # '2025K1'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from analysis import paths
from analysis.errors import WorkbookError
from analysis.paths import relative

if TYPE_CHECKING:
    import pandas as pd

    from analysis.data.sources.classification import Areas

OBSERVATIONS = "observations.parquet"
AREAS = "areas.parquet"
MANIFEST = "ingest.json"
QUALITATIVE = "qualitative.parquet"
INDICATORS = "indicators.parquet"
CURRENT = "current"  # the link to the version in use
# Each table's figures summed per area and period: a run keeps a copy, so the next brief can say
# which figures are new or revised without reading old raw files.
TABLE_SUMS = "table_sums.parquet"
# `n` is a survey's number of answers, or the total a count is out of (economic benchmarks);
# `suppressed` marks a figure DST does not publish (`..`). After these come the tables' own
# columns (alder, origin, enhed, ...), empty for the rows of other tables.
COLUMNS = ["table", "measure", "area", "period", "value", "n", "suppressed", "unit", "source_file", "source_sha256"]
MANUAL_PREFIX = "manual/"
QUALITATIVE_TABLE = "manual/kvalitativ"


@dataclass(frozen=True)
class DataLocation:
    """The folders raw tables are looked for in, in order."""

    folders: tuple[Path, ...]

    def describe(self) -> str:
        return " or ".join(f"{relative(f)}/" for f in self.folders)


@dataclass(frozen=True)
class Processed:
    """What the notebooks read: observations, the municipalities, and where they came from."""

    observations: pd.DataFrame
    areas: Areas
    inputs: dict  # table id -> {"file", "sha256"}
    vintages: dict  # table id -> latest period on disk
    qualitative: pd.DataFrame  # period, theme, committee, author, text
    indicators: pd.DataFrame  # every indicator for every area and period (analysis.indicators.measures)
    missing: tuple[str, ...] = ()  # optional tables that are not on disk
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def rows(self, indicator: str) -> pd.DataFrame:
        """The indicator table's rows of one indicator (computed once per processed object)."""
        key = ("rows", indicator)
        if key not in self._cache:
            table = self.indicators
            self._cache[key] = table[table["indicator"] == indicator]
        return self._cache[key]

    def rows_of(self, indicator: str, area: str) -> pd.DataFrame:
        """The rows of one indicator for one area, in the table's order (each area's row positions
        are found once per indicator and processed object)."""
        key = ("positions", indicator)
        rows = self.rows(indicator)
        if key not in self._cache:
            self._cache[key] = rows.groupby(rows["area"].astype(str).to_numpy(), sort=False).indices
        positions = self._cache[key].get(area)
        return rows.iloc[positions] if positions is not None else rows.iloc[:0]

    def table_keys(self, table: str) -> frozenset[tuple[str, str]]:
        """The (measure, area) pairs a table has observations for (once per table and processed object)."""
        key = ("keys", table)
        if key not in self._cache:
            rows = self.observations[(self.observations["table"] == table).to_numpy()]
            self._cache[key] = frozenset(zip(rows["measure"].astype(str), rows["area"].astype(str)))
        return self._cache[key]

    def wide(self, indicator: str) -> pd.DataFrame:
        """One indicator as dates x areas (computed once per processed object); empty when it has no rows."""
        key = ("wide", indicator)
        if key not in self._cache:
            rows = self.rows(indicator)
            if rows.empty:
                import pandas as pd

                self._cache[key] = pd.DataFrame()
            else:
                rows = rows.assign(area=rows["area"].astype(str))
                self._cache[key] = rows.pivot_table(
                    index="date", columns="area", values="value", aggfunc="first"
                ).sort_index()
        return self._cache[key]


def data_location(data: str | Path | None = None) -> DataLocation:
    """The folders to read raw tables from: `data` alone when given, else data/raw/ then the snapshot."""
    if data:
        folder = Path(data).expanduser()
        if not folder.is_dir():
            raise WorkbookError(f"--data {data}: no such folder")
        return DataLocation((folder,))
    return DataLocation((paths.RAW_DIR, paths.SNAPSHOT_DIR))


def current_dir(processed_dir: Path | None = None) -> Path:
    """The version of the processed data that is in use: data/processed/current, a link."""
    return (processed_dir or paths.PROCESSED_DIR) / CURRENT


def read_manifest(processed_dir: Path | None = None) -> dict:
    path = current_dir(processed_dir) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise WorkbookError(
            f"{relative(path)}: not readable ({str(err).splitlines()[0]}); run `python -m analysis ingest`"
        ) from None


def table_sums(observations: pd.DataFrame) -> pd.DataFrame:
    """Each raw table's figures summed per area and period (over ages, origins, ...): table, area, period, value."""
    tables = observations["table"]
    manual = [t for t in tables.cat.categories if str(t).startswith(MANUAL_PREFIX)]  # asked of the few categories
    rows = observations[~tables.isin(manual).to_numpy()]
    sums = rows.groupby(["table", "area", "period"], observed=True, as_index=False)["value"].sum(min_count=1)
    return sums.astype({"table": str, "area": str, "period": str})

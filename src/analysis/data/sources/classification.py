"""DST's Kommunegrupper classification: kommunekode <-> name, and the five municipality groups.

Example::

    areas = read_komgrp(Path("../shared/data/classifications/komgrp.csv"))
    areas.code_for("Hedensted")          # '766'
    areas.group_of("766")                # 'Oplandskommuner'
    len(areas.members("Oplandskommuner"))   # 24
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from analysis.data.sources.text import read_text
from analysis.errors import WorkbookError
from analysis.paths import relative

# DST's OMRÅDE codes for the areas that are not municipalities: the whole country, the five
# regions, and Christiansø (which has its own code but belongs to no municipality group).
AGGREGATE_AREAS = {
    "Hele landet": "000",
    "Region Nordjylland": "081",
    "Region Midtjylland": "082",
    "Region Syddanmark": "083",
    "Region Hovedstaden": "084",
    "Region Sjælland": "085",
    "Christiansø": "411",
}
EXPECTED_COLUMNS = ["SEKVENS", "KODE", "NIVEAU", "TITEL"]


@dataclass(frozen=True)
class Areas:
    """The municipalities with their group, and every area text DST uses mapped to its code."""

    municipalities: pd.DataFrame  # columns: code, name, group; one row per municipality
    codes_by_name: dict[str, str]

    def code_for(self, name: str) -> str | None:
        return self.codes_by_name.get(name)

    @cached_property
    def _names(self) -> dict[str, str]:
        """Every area's name by code: the aggregate areas, then the municipalities."""
        names = {v: k for k, v in AGGREGATE_AREAS.items()}
        names.update(zip(self.municipalities["code"].astype(str), self.municipalities["name"].astype(str)))
        return names

    def name_of(self, code: str) -> str:
        name = self._names.get(code)
        if name is None:
            raise WorkbookError(f"unknown kommunekode {code}")
        return name

    def name_or_none(self, code: str) -> str | None:
        """The name of a municipality or of an aggregate area (region, the country), or None."""
        return self._names.get(code)

    def group_of(self, code: str) -> str:
        row = self.municipalities.loc[self.municipalities["code"] == code]
        if row.empty:
            raise WorkbookError(f"kommunekode {code} is not a municipality in DST's Kommunegrupper")
        return str(row["group"].iloc[0])

    def members(self, group: str) -> list[str]:
        codes = self.municipalities.loc[self.municipalities["group"] == group, "code"]
        return sorted(codes)

    @classmethod
    def from_municipalities(cls, municipalities: pd.DataFrame) -> Areas:
        codes_by_name = dict(AGGREGATE_AREAS)
        codes_by_name.update(zip(municipalities["name"], municipalities["code"]))
        return cls(municipalities=municipalities, codes_by_name=codes_by_name)

    @property
    def groups(self) -> list[str]:
        return list(dict.fromkeys(self.municipalities["group"]))


def read_komgrp(path: Path) -> Areas:
    """Read DST's komgrp.csv download (UTF-8 with BOM, ';'), keeping its order of groups."""
    name = relative(path)
    text = read_text(path)
    frame = pd.read_csv(pd.io.common.StringIO(text), sep=";", dtype=str, keep_default_na=False)
    missing = [c for c in EXPECTED_COLUMNS if c not in frame.columns]
    if missing:
        raise WorkbookError(f"{name}: missing column(s) {', '.join(missing)}; expected DST's classification layout")
    rows = []
    group = None
    for line, record in enumerate(frame.itertuples(index=False), start=2):
        if record.NIVEAU == "1":
            group = record.TITEL
        elif record.NIVEAU == "2":
            if group is None or not record.KODE.isdigit():
                raise WorkbookError(
                    f"{name} line {line}: municipality '{record.TITEL}' has no group or no numeric code"
                )
            rows.append({"code": record.KODE.zfill(3), "name": record.TITEL, "group": group})
        else:
            raise WorkbookError(f"{name} line {line}, column NIVEAU: '{record.NIVEAU}'; expected 1 or 2")
    municipalities = pd.DataFrame(rows)
    if len(municipalities) != 98:
        raise WorkbookError(f"{name}: {len(municipalities)} municipalities; expected 98")
    return Areas.from_municipalities(municipalities)

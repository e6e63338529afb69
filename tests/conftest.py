"""Shared fixtures: the real snapshot in ../shared/data, read once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis import params
from analysis.ingest import data_location, load_processed, resolve_inputs, read_all
from analysis.paths import SNAPSHOT_DIR
from analysis.sources.classification import read_komgrp

HEDENSTED = "766"


@pytest.fixture(scope="session")
def snapshot() -> Path:
    if not (SNAPSHOT_DIR / "SHA256SUMS").is_file():
        pytest.fail(f"the data snapshot is missing: expected {SNAPSHOT_DIR} (../shared/data beside the repository)")
    return SNAPSHOT_DIR


@pytest.fixture(scope="session")
def location(snapshot):
    return data_location(snapshot)


@pytest.fixture(scope="session")
def areas(snapshot):
    return read_komgrp(snapshot / "classifications" / "komgrp.csv")


@pytest.fixture(scope="session")
def observations(location):
    frame, _areas, _qualitative = read_all(resolve_inputs(location))
    return frame


@pytest.fixture(scope="session")
def processed(location, tmp_path_factory):
    return load_processed(location, tmp_path_factory.mktemp("processed"))


@pytest.fixture(scope="session")
def sources():
    return params.load_sources()

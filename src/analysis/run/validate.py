"""Every problem of the params and a data folder in one pass, for `python -m analysis check`.

A run stops at the first bad input; this goes on, so an analyst can mend everything at once.

Example::

    for problem in problems(data_location("../shared/data")):
        print(problem)
"""

from __future__ import annotations

from analysis import params, paths
from analysis.data.ingest import find_table, manual_folder
from analysis.data.processed import DataLocation
from analysis.data.sources.classification import read_komgrp
from analysis.data.sources.manual import manual_file, read_manual, read_qualitative_csv
from analysis.data.sources.noegletal import read_noegletal_csv
from analysis.data.sources.statbank import read_statbank_csv
from analysis.errors import WorkbookError
from analysis.params import KINDS


def problems(location: DataLocation) -> list[str]:
    found: list[str] = []

    def attempt(action):
        try:
            return action()
        except WorkbookError as err:
            found.append(str(err))
            return None

    for loader in (params.load_sources, params.load_strategy, params.load_indicators, params.load_runs):
        loader.cache_clear()
    sources = attempt(params.load_sources)
    strategy = attempt(params.load_strategy)
    registry = attempt(params.load_indicators)
    runs = attempt(params.load_runs)
    from analysis.indicators.compare import load_comparison
    from analysis.run.runner import check_notebook_parameters

    load_comparison.cache_clear()
    attempt(lambda: load_comparison(paths.PARAMS_DIR))
    if runs is not None:
        for jobs in runs.cadences.values():
            for job in jobs:
                attempt(
                    lambda job=job: check_notebook_parameters(
                        paths.PROJECT_ROOT / job.notebook, job.theme == "committee"
                    )
                )
    if sources is None:
        return found
    areas = None
    if "KOMGRP" in sources.tables:
        path = attempt(lambda: find_table("KOMGRP", sources.tables["KOMGRP"], location))
        areas = attempt(lambda: read_komgrp(path)) if path else None
    for table, spec in sources.tables.items():
        if spec.kind == "classification":
            continue
        if not spec.required and not any((f / name).is_file() for f in location.folders for name in spec.files):
            continue  # an optional table that is not fetched yet
        path = attempt(lambda table=table, spec=spec: find_table(table, spec, location))
        if path is None or areas is None:
            continue
        if spec.kind == "statbank":
            attempt(lambda path=path, spec=spec: read_statbank_csv(path, spec, areas))
        else:
            attempt(lambda path=path: read_noegletal_csv(path, areas))
    folder = manual_folder(location)
    if folder is not None and areas is not None and registry is not None:
        for kind in KINDS:
            path = attempt(lambda kind=kind: manual_file(folder, kind))
            if path is not None:
                attempt(lambda kind=kind, path=path: read_manual(path, kind, registry, areas))
        qualitative = attempt(lambda: manual_file(folder, "kvalitativ"))
        if qualitative is not None and strategy is not None:
            attempt(lambda: read_qualitative_csv(qualitative, strategy))
    return found

"""Strategy follow-up workbook: real Danish municipal statistics in, Danish HTML briefs out.

The package follows the data, one subpackage per stage; a stage imports only the stages before
it (tests/test_layout.py keeps that true):

    data/        raw files -> processed data: fetch (Statbank API, downloads, snapshots), the
                 raw-file readers (sources/) and ingest; `data.processed` is the processed-data
                 object every later stage reads
    indicators/  processed data -> numbers: the declared measures for every municipality, the
                 comparison groups, what a run may use of them, and a status per target
    report/      numbers -> words, charts and tables: Danish formats, sentences, status words,
                 charts, the analyst's DataFrames and the brief itself
    deliver/     published briefs -> readers: the archive page and mail
    run/         the orchestration: a run's jobs, its kernels and executors, and the checks
                 before it; it drives every stage above

Beside them the foundation every stage may use: params (the declared YAML files as models),
periods, paths, errors, provenance and faults; and the command line (cli), which may use all.

Example (from the project root, after `make install`)::

    python -m analysis run --cadence kvartal --period latest
"""

__version__ = "0.1.0"

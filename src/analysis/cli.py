"""The command line: `python -m analysis <command>` (or the `workbook` console script).

Exit codes: 0 all good, 1 a job failed, 2 bad input (one line on stderr naming the problem).

Example::

    python -m analysis run --cadence kvartal --period latest
    python -m analysis run --cadence aar --period 2024 --data ../shared/data
    python -m analysis ingest
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.errors import WorkbookError

EXIT_OK, EXIT_JOB_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports it


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes get one line and exit 2, like every other bad input."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {self.prog}: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m analysis", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    run = commands.add_parser("run", help="execute the notebooks of a cadence and export the HTML briefs")
    run.add_argument("--cadence", required=True, choices=["kvartal", "aar"], help="kvartal (quarterly) or aar (annual)")
    run.add_argument("--period", default="latest", help="latest, a quarter like 2025K1, or a year like 2024")
    run.add_argument("--data", help="folder with raw tables (default: data/raw/, then ../shared/data)")
    run.add_argument("--outputs", type=Path, help="where runs are published (default: outputs/)")
    run.add_argument("--force", action="store_true", help="run every notebook again, even when nothing changed")
    run.add_argument(
        "--comparison-group",
        default="kommunegruppe",
        help="kommunegruppe, a DST group name, or a group of params/comparison.yml",
    )
    run.add_argument(
        "--strategy-period",
        default=None,
        help="a key of strategy_periods in params/strategy.yml (default: its default_strategy_period)",
    )
    run.add_argument(
        "--kommune", help="kommunekoder to make briefs for, comma-separated, or 'all' (default: params/strategy.yml)"
    )
    run.add_argument("--only", help="the jobs of the run plan to run, comma-separated (default: all)")
    run.add_argument("--jobs", type=_positive, help="notebooks run at once (default: two per core)")
    run.add_argument(
        "--executor",
        default="local",
        choices=["local", "dask"],
        help="where the notebooks run: local (a process pool here, the default) or dask",
    )
    run.add_argument("--scheduler", help="with --executor dask: the Dask scheduler's address, e.g. tcp://10.0.0.5:8786")
    run.add_argument(
        "--timeout", type=int, default=600, help="seconds a notebook cell may take before its job fails (default: 600)"
    )
    run.add_argument(
        "--example-data",
        action="store_true",
        help="fill manual indicators that have no file with illustrative data, marked Eksempeldata",
    )
    run.add_argument(
        "--fetch",
        action="store_true",
        help="fetch what is new from the Statbank API first (without a network: say so and run on what is on disk)",
    )
    run.add_argument(
        "--base-url", default=None, help="with --fetch: the Statbank API (default: https://api.statbank.dk/v1)"
    )

    brief = commands.add_parser("brief", help="make the HTML brief of one notebook, with any parameters, as a run does")
    brief.add_argument("notebook", type=Path, help="a notebook of notebooks/, e.g. notebooks/growth.ipynb")
    brief.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a notebook parameter, as papermill takes it: -p period 2024 -p cadence aar",
    )
    brief.add_argument("--output", type=Path, help="the HTML file (default: outputs/briefs/<notebook>-<period>.html)")
    brief.add_argument("--timeout", type=_positive, default=600, help="seconds a cell may take (default: 600)")

    fetch = commands.add_parser("fetch", help="get raw tables from the Statbank API, or from a snapshot folder")
    fetch.add_argument("--from", dest="snapshot", type=Path, help="a snapshot folder with SHA256SUMS (offline)")
    fetch.add_argument("--only", help="the queries of params/queries.yml to fetch, comma-separated")
    fetch.add_argument("--base-url", default=None, help="the Statbank API (default: https://api.statbank.dk/v1)")
    fetch.add_argument(
        "--rollback", metavar="TABLE", help="make the version of TABLE before the current one current again"
    )

    check = commands.add_parser("check", help="compare the latest period on disk with the latest DST lists")
    check.add_argument("--data", help="folder with raw tables (default: data/raw/, then ../shared/data)")
    check.add_argument("--catalogue", type=Path, help="compare with a recorded table catalogue (JSON)")
    check.add_argument("--online", action="store_true", help="compare with the catalogue the Statbank API lists now")
    check.add_argument("--base-url", default=None, help="the Statbank API (default: https://api.statbank.dk/v1)")

    mail = commands.add_parser("mail", help="mail a published run's briefs to the committees (or write .eml files)")
    mail.add_argument("--run", required=True, type=Path, help="a published run, e.g. outputs/2025K1/kvartal")
    mail.add_argument("--send", action="store_true", help="send with SMTP (STARTTLS); without it, write mail/*.eml")
    mail.add_argument("--dry-run", action="store_true", help="write mail/*.eml and send nothing (the default)")
    mail.add_argument("--resend", action="store_true", help="send again what was sent before")
    mail.add_argument("--only", help="recipient groups of params/recipients.yml, comma-separated")
    mail.add_argument("--allow-failed", action="store_true", help="mail a run in which a job failed")
    mail.add_argument("--allow-example-data", action="store_true", help="mail briefs that hold Eksempeldata")

    index = commands.add_parser("index", help="rebuild outputs/index.html, the page that lists every published run")
    index.add_argument("--outputs", type=Path, help="the outputs folder (default: outputs/)")

    ingest = commands.add_parser("ingest", help="rebuild data/processed from the raw tables when they changed")
    ingest.add_argument("--data", help="folder with raw tables (default: data/raw/, then ../shared/data)")
    ingest.add_argument("--force", action="store_true", help="rebuild even when nothing changed")
    return parser


def _one_line(text: str) -> str:
    """An error is one line, even when it quotes a value with a line break in it."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _positive(text: str) -> int:
    """A whole number of at least 1, for options such as --jobs."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: expected 1 or more")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "fetch":
            return _fetch(args)
        if args.command == "brief":
            return _brief(args)
        if args.command == "index":
            from analysis import paths
            from analysis.deliver.archive import build_index
            from analysis.paths import relative

            _log(f"index: {relative(build_index(args.outputs or paths.OUTPUTS_DIR))}")
            return EXIT_OK
        if args.command == "check":
            return _check(args)
        if args.command == "mail":
            return _mail(args)
        return _ingest(args)
    except WorkbookError as err:
        if args.debug:
            raise
        print(f"error: {_one_line(str(err))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as err:  # a full disk, an unwritable folder: nothing published is touched
        if args.debug:
            raise
        where = f"{err.filename}: " if err.filename else ""
        print(f"error: {where}{err.strerror or err} (nothing published was changed)", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("error: interrupted; nothing published was changed", file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from analysis.run import kernels

    # The kernel server first, before the runner and its imports: its own imports take longest.
    ahead = kernels.ahead(args.data) if args.executor == "local" else nullcontext(kernels.UNSTARTED)
    with ahead as server:
        return _run_with(args, server)


def _run_with(args: argparse.Namespace, server) -> int:
    from analysis import paths
    from analysis.run import runner

    if args.fetch and args.data:
        raise WorkbookError("--fetch fetches into data/raw/; it cannot be used with --data")
    if args.fetch:
        failed = _fetch_all(args, None, for_ingest=True)
        if failed:
            _log(
                f"fetch: {len(failed)} table(s) not fetched ({failed[0].name}: {failed[0].detail}); "
                "running on the data on disk"
            )
    elif not args.data:
        _fetch_missing(args)
    outcome = runner.run(
        args.cadence,
        args.period,
        data=args.data,
        outputs_dir=args.outputs or paths.OUTPUTS_DIR,
        log=_log,
        example_data=args.example_data,
        force=args.force,
        workers=args.jobs,
        timeout=args.timeout,
        kommuner=_kommuner(args.kommune),
        only=args.only.split(",") if args.only else None,
        comparison_group=args.comparison_group,
        strategy_period=args.strategy_period,
        executor=args.executor,
        scheduler=args.scheduler,
        server=server,
    )
    if outcome.failed:
        from analysis.paths import relative

        kept = "; ".join(
            f"{relative(unit.target.parent)}/{unit.target.name} is as it was, the failed build is kept in "
            f"{relative(unit.failed_folder)}"
            for unit in outcome.failures
        )
        _log(
            f"error: {len(outcome.failed)} job(s) failed: {', '.join(outcome.failed)}; nothing of it was published ({kept})"
        )
        return EXIT_JOB_FAILED
    return EXIT_OK


def _fetch_missing(args: argparse.Namespace) -> None:
    """A required table in neither data/raw/ nor the snapshot: fetch what is missing, or say in
    one line where the data must come from."""
    from analysis.data.ingest import find_table
    from analysis.data.processed import data_location
    from analysis.params import load_queries, load_sources

    location = data_location(None)
    missing = []
    for table, spec in load_sources().tables.items():
        if not spec.required:
            continue
        try:
            find_table(table, spec, location)
        except WorkbookError:
            missing.append(table)
    if not missing:
        return
    fetchable = [t for t in missing if t in load_queries().queries or load_sources().tables[t].url]
    _log(f"fetch: {', '.join(missing)} not on disk; fetching {'it' if len(missing) == 1 else 'them'} first")
    failed = _fetch_all(args, fetchable, for_ingest=True) if fetchable == missing else []
    if failed or fetchable != missing:
        why = f" ({failed[0].name}: {failed[0].detail})" if failed else ""
        raise WorkbookError(
            f"table {missing[0]} is missing from {location.describe()} and could not be fetched{why}; put the data "
            f"snapshot in ../shared/data (see README.md, 'Data'), or run where api.statbank.dk can be reached"
        )


def _fetch_all(args: argparse.Namespace, only: list[str] | None, for_ingest: bool = False) -> list:
    """Fetch the tables that are not in Statistikbanken, then the Statbank queries; the failed outcomes.
    `for_ingest`: a run ingests them next, in this process, and takes each table as its check read it."""
    import os

    from analysis import paths
    from analysis.data import fetch
    from analysis.data.sources.statbank_api import StatbankClient

    outcomes = fetch.fetch_downloads(
        paths.RAW_DIR,
        (paths.RAW_DIR, paths.SNAPSHOT_DIR),
        log=_log,
        mirror=os.environ.get("WORKBOOK_DOWNLOAD_MIRROR"),
        only=only,
    )
    queries = fetch.load_queries()
    if only is not None:
        queries = [q for q in queries if q.name in only]
    if queries:
        areas, areas_sha256 = _areas()
        outcomes += fetch.fetch_online(
            queries,
            StatbankClient(_base_url(args)),
            paths.RAW_DIR,
            log=_log,
            municipalities=sorted(areas.municipalities["code"]) if areas else None,
            areas=areas,
            areas_sha256=areas_sha256 if for_ingest else None,
        )
    return [o for o in outcomes if o.status == "failed"]


def _areas():
    """DST's Kommunegrupper on disk (the 98 kommunekoder for queries that ask for 'kommuner', and
    the area names fetched files are checked against) and its file's sha256, or (None, None)."""
    from analysis.data.ingest import find_table, sha256_of
    from analysis.data.processed import data_location
    from analysis.data.sources.classification import read_komgrp
    from analysis.params import load_sources

    try:
        path = find_table("KOMGRP", load_sources().tables["KOMGRP"], data_location(None))
    except WorkbookError:
        return None, None
    return read_komgrp(path), sha256_of(path)


def _brief(args: argparse.Namespace) -> int:
    """One notebook, executed and exported exactly as a run does it (same kernel, same template)."""
    from analysis.run import runner

    parameters = dict(args.parameter)
    done = runner.make_brief(args.notebook, parameters, args.output, timeout=args.timeout, log=_log)
    if done.status != "ok":
        _log(f"error: {args.notebook}: {done.error}; the executed notebook is kept in {done.brief}")
        return EXIT_JOB_FAILED
    return EXIT_OK


def _kommuner(text: str | None) -> list[int] | None:
    if not text:
        return None
    if text == "all":
        from analysis.data.processed import data_location
        from analysis.indicators.store import load as load_processed

        return [int(c) for c in load_processed(data_location()).areas.municipalities["code"]]
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise WorkbookError(f"--kommune {text}: expected kommunekoder like 766,615 or 'all'") from None


def _ingest(args: argparse.Namespace) -> int:
    from analysis.data.processed import data_location
    from analysis.indicators.store import build as ingest

    result = ingest(data_location(args.data), force=args.force)
    _log(f"ingest: {'unchanged' if result.skipped else 'rebuilt'}, {result.rows:,} observations in {result.out_dir}")
    for raw in result.inputs:
        _log(f"  {raw.table}: {raw.path} sha256 {raw.sha256[:12]}")
    return EXIT_OK


def _base_url(args: argparse.Namespace) -> str:
    import os

    from analysis.data.sources.statbank_api import DEFAULT_BASE_URL

    return args.base_url or os.environ.get("WORKBOOK_STATBANK_URL") or DEFAULT_BASE_URL


def _fetch(args: argparse.Namespace) -> int:
    from analysis import paths
    from analysis.data import fetch

    if args.rollback:
        from analysis.params import load_sources

        spec = load_sources().tables.get(args.rollback)
        if spec is None:
            raise WorkbookError(f"--rollback {args.rollback}: not a table in params/sources.yml")
        for file in spec.files:
            if (paths.RAW_DIR / file).is_symlink():
                version = fetch.rollback(Path(file).name, (paths.RAW_DIR / file).parent)
                _log(f"{args.rollback}: {version} is current again")
                return EXIT_OK
        raise WorkbookError(f"--rollback {args.rollback}: no fetched versions in data/raw/{spec.files[0]}")
    if args.snapshot:
        outcomes = fetch.fetch_offline(args.snapshot, paths.RAW_DIR, log=_log)
        failed = [o for o in outcomes if o.status == "failed"]
    else:
        only = args.only.split(",") if args.only else None
        if only:
            from analysis.params import load_queries, load_sources

            known = {*load_queries().queries, *(t for t, s in load_sources().tables.items() if s.url)}
            unknown = [name for name in only if name not in known]
            if unknown:
                raise WorkbookError(
                    f"--only {unknown[0]}: not a query in params/queries.yml or a download in params/sources.yml"
                )
        failed = _fetch_all(args, only)
    if failed:
        _log(f"error: {len(failed)} table(s) failed: {', '.join(o.name for o in failed)}; everything else is kept")
        return EXIT_JOB_FAILED
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    """Every problem of params and data in one pass; then, with a catalogue, the freshness per table."""
    import json

    from analysis.data.processed import data_location
    from analysis.data.sources.statbank_api import StatbankClient
    from analysis.indicators.store import load as load_processed
    from analysis.params import load_sources
    from analysis.run.validate import problems

    location = data_location(args.data)
    found = problems(location)
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    if found:
        _log(f"check: {len(found)} problem(s)")
        return EXIT_BAD_INPUT
    _log("check: params, notebooks and data are valid")
    if not (args.catalogue or args.online):
        return EXIT_OK
    if args.catalogue:
        try:
            catalogue = json.loads(args.catalogue.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise WorkbookError(
                f"--catalogue {args.catalogue}: not a readable JSON catalogue ({str(err).splitlines()[0]})"
            ) from None
    else:
        catalogue = StatbankClient(_base_url(args)).tables()
    try:
        listed = {entry["id"]: entry for entry in catalogue}
        for entry in listed.values():
            str(entry["latestPeriod"]), str(entry["updated"])
    except (TypeError, KeyError, AttributeError):
        where = f"--catalogue {args.catalogue}" if args.catalogue else "the table catalogue"
        raise WorkbookError(
            f"{where}: not DST's table catalogue (a list of tables with id, latestPeriod and updated)"
        ) from None
    processed = load_processed(location)
    print(f"{'table':10} {'on disk':>9} {'DST':>9}  DST updated          ")
    for table, spec in load_sources().tables.items():
        if spec.kind != "statbank":
            continue
        on_disk = processed.vintages.get(table, "-")
        entry = listed.get(table)
        if entry is None:
            print(f"{table:10} {on_disk:>9} {'-':>9}  not in the catalogue")
            continue
        newer = "newer data exists" if entry["latestPeriod"] > on_disk else "up to date"
        print(f"{table:10} {on_disk:>9} {entry['latestPeriod']:>9}  {entry['updated']}  {newer}")
    return EXIT_OK


def _mail(args: argparse.Namespace) -> int:
    from analysis.deliver.mail import mail_run

    if args.send and args.dry_run:
        raise WorkbookError("--send and --dry-run: choose one")
    outcomes = mail_run(
        args.run,
        send=args.send,
        resend=args.resend,
        allow_failed=args.allow_failed,
        allow_example_data=args.allow_example_data,
        only=args.only.split(",") if args.only else None,
        log=_log,
    )
    failed = [o.group for o in outcomes if o.status == "failed"]
    if failed:
        _log(f"error: {len(failed)} mail(s) not sent: {', '.join(failed)}; run the command again to send them")
        return EXIT_JOB_FAILED
    return EXIT_OK

"""Nothing lost, nothing wrong, nothing sent twice: each fault of issue #17, reproduced with real
processes (kills at chosen moments through WORKBOOK_FAULT, a concurrent mail and run, a local
HTTP server sending bad bodies), asserting that published briefs keep their bytes, the manifest
matches the briefs on disk, the current raw version is the good one, no message goes out twice,
and stderr is one line."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import nbformat
import pytest

from analysis.paths import SNAPSHOT_DIR

from conftest import copy_project, in_a_process, processes_of, snapshot_with
from statbank_server import POLL

pytestmark = pytest.mark.e2e  # real runs in processes: `make test-fast` leaves them out

FOLK1AM = SNAPSHOT_DIR / "statbank" / "FOLK1AM.csv"
RUNS = """cadences:
  kvartal:
    - {name: growth, notebook: notebooks/growth.ipynb, theme: growth}
    - {name: overview, notebook: notebooks/overview.ipynb, theme: overview}
  aar:
    - {name: growth, notebook: notebooks/growth.ipynb, theme: growth}
"""


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A project copy with a published quarterly run of two briefs."""
    project = copy_project(tmp_path_factory.mktemp("faults"))
    (project / "params/runs.yml").write_text(RUNS, encoding="utf-8")
    done = workbook(project, "run", "--cadence", "kvartal", "--period", "2025K1")
    assert done.returncode == 0, done.stderr
    return project


def workbook(project: Path, *args: str, env: dict | None = None, wait: bool = True):
    return in_a_process(*args, cwd=project, env={"WORKBOOK_ROOT": str(project), **(env or {})}, wait=wait)


def briefs(project: Path) -> dict[str, str]:
    folder = project / "outputs/766/2025K1/kvartal"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((folder / "briefs").glob("*.html"))}


def manifest_matches_briefs(project: Path) -> bool:
    folder = project / "outputs/766/2025K1/kvartal"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    listed = sorted(Path(job["brief"]).name for job in manifest["jobs"])
    return listed == sorted(briefs(project)) and all(job["status"] in ("ok", "reused") for job in manifest["jobs"])


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


# --- 1. A failed run keeps the good briefs -----------------------------------------------


def test_a_truncated_table_is_one_line_and_the_briefs_stay(published, tmp_path):
    """The issue's own reproduction: FOLK1AM cut at a line end passes the format checks, but the
    run is for Hedensted, whose population is not in it."""
    before = briefs(published)
    cut = FOLK1AM.read_bytes()[:60000]
    data = snapshot_with(tmp_path / "d", "FOLK1AM.csv", cut[: cut.rindex(b"\r\n") + 2])
    done = workbook(published, "run", "--cadence", "kvartal", "--period", "2025K1", "--data", str(data))
    assert done.returncode == 2
    assert "no population for kommune 766 on the reference day of 2025K1; is the file complete?" in one_line(
        done.stderr
    )
    assert briefs(published) == before and manifest_matches_briefs(published)


@pytest.mark.parametrize("fault", ["corrupt processed parquet", "corrupt previous manifest", "long TMPDIR"])
def test_faults_around_a_run_leave_a_whole_published_run(published, tmp_path, fault):
    env = {}
    if fault == "corrupt processed parquet":
        path = published / "data/processed/current/observations.parquet"
        path.chmod(0o644)
        path.write_bytes(path.read_bytes()[:1000])
    elif fault == "corrupt previous manifest":
        previous = published / "outputs/766/2024K4/kvartal"
        previous.mkdir(parents=True, exist_ok=True)
        (previous / "manifest.json").write_text("{not json", encoding="utf-8")
    else:
        long = tmp_path / ("t" * 90)
        long.mkdir()
        env["TMPDIR"] = str(long)
    done = workbook(published, "run", "--cadence", "kvartal", "--period", "2025K1", "--force", env=env)
    assert done.returncode == 0, done.stderr
    assert manifest_matches_briefs(published)
    if fault == "corrupt processed parquet":
        assert "ingest: rebuilt" in done.stderr
    if fault == "corrupt previous manifest":
        assert (
            "previous run outputs/766/2024K4/kvartal: its manifest.json cannot be read; not compared with"
            in done.stderr
        )
        shutil.rmtree(published / "outputs/766/2024K4")


# --- 2. An interrupted ingest changes nothing --------------------------------------------


def test_an_ingest_killed_halfway_leaves_the_processed_data_as_it_was(published, tmp_path):
    other = snapshot_with(
        tmp_path / "other",
        "FOLK1AM.csv",
        FOLK1AM.read_bytes().replace(b"Hedensted;2025M01;48167", b"Hedensted;2025M01;50000"),
    )
    current = os.readlink(published / "data/processed/current")
    killed = workbook(published, "ingest", "--data", str(other), env={"WORKBOOK_FAULT": "ingest-written"})
    assert killed.returncode == -9
    assert os.readlink(published / "data/processed/current") == current
    done = workbook(published, "run", "--cadence", "kvartal", "--period", "2025K1", "--force", "--only", "growth")
    assert done.returncode == 0, done.stderr
    folder = published / "outputs/766/2025K1/kvartal"
    html = (folder / "briefs/growth.html").read_text(encoding="utf-8")
    assert "48.167 indbyggere" in html and "50.000" not in html
    cited = json.loads((folder / "manifest.json").read_text())["inputs"]["FOLK1AM"]["sha256"]
    assert cited == hashlib.sha256(FOLK1AM.read_bytes()).hexdigest()
    assert not list((published / "data/processed").glob(".build-*")), "the next ingest cleans a killed one's build"


# --- 3. Publishing is one step -----------------------------------------------------------


def test_a_run_killed_at_the_swap_leaves_the_published_run_and_is_cleaned_after(published):
    before = briefs(published)
    killed = workbook(
        published,
        "run",
        "--cadence",
        "kvartal",
        "--period",
        "2025K1",
        "--force",
        env={"WORKBOOK_FAULT": "publish-before-swap"},
    )
    assert killed.returncode == -9
    assert briefs(published) == before and manifest_matches_briefs(published)
    runs = published / "outputs/766/2025K1/.runs"
    assert len(list(runs.glob("kvartal-*"))) == 2, "the killed run's complete build is still there"
    done = workbook(published, "run", "--cadence", "kvartal", "--period", "2025K1")
    assert done.returncode == 0, done.stderr
    assert [p.resolve() for p in runs.glob("kvartal-*")] == [(published / "outputs/766/2025K1/kvartal").resolve()]


def test_the_layout_before_linked_runs_is_restored_when_a_swap_was_killed(published):
    """A run of the earlier layout killed between its two renames left the only copy in .kvartal.old-*."""
    folder = published / "outputs/766/2025K1/kvartal"
    before = briefs(published)
    old = published / "outputs/766/2025K1/.kvartal.old-abc123"
    old.mkdir()
    shutil.copytree(folder, old / "kvartal", symlinks=False)
    folder.unlink()
    done = workbook(published, "run", "--cadence", "kvartal", "--period", "2025K1")
    assert done.returncode == 0, done.stderr
    assert "restored outputs/766/2025K1/kvartal" in done.stderr
    assert briefs(published) == before and not old.exists()


# --- 4. Mail is sent once ----------------------------------------------------------------


@pytest.fixture()
def smtp_server(tmp_path):
    import threading

    from aiosmtpd.controller import Controller

    class Slow:
        """An SMTP server that takes 0.3 s a message; given a `gate`, it holds the first message
        until the gate opens (and says it has it through `holding`)."""

        def __init__(self):
            self.messages = []
            self.gate: threading.Event | None = None
            self.holding = threading.Event()

        async def handle_DATA(self, server, session, envelope):
            import asyncio

            await asyncio.sleep(0.3)
            if self.gate is not None and not self.messages:
                self.holding.set()
                await asyncio.to_thread(self.gate.wait, 120)
            self.messages.append(envelope)
            return "250 OK"

    import socket
    import ssl

    import trustme

    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    cafile = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(cafile))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Slow()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True)
    controller.start()
    yield (
        inbox,
        {"WORKBOOK_SMTP_HOST": "127.0.0.1", "WORKBOOK_SMTP_PORT": str(port), "WORKBOOK_SMTP_CAFILE": str(cafile)},
    )
    controller.stop()


def test_mail_is_never_sent_twice(published, smtp_server):
    inbox, env = smtp_server
    ledger = published / "outputs/mail-ledger.jsonl"
    ledger.unlink(missing_ok=True)
    first, second = (
        workbook(published, "mail", "--run", "outputs/766/2025K1/kvartal", "--send", env=env, wait=False)
        for _ in range(2)
    )
    outs = [p.communicate(timeout=300) for p in (first, second)]
    codes = sorted(p.returncode for p in (first, second))
    assert codes == [0, 2], outs
    assert "another `mail --send` is sending" in one_line(next(err for _out, err in outs if "another" in err))
    assert len(inbox.messages) == 6
    # The same period run again: every brief is reused, and nothing is mailed again.
    rerun = workbook(published, "run", "--cadence", "kvartal", "--period", "2025K1")
    assert rerun.returncode == 0 and "unchanged, brief reused" in rerun.stderr
    again = workbook(published, "mail", "--run", "outputs/766/2025K1/kvartal", "--send", env=env)
    assert again.returncode == 0, again.stderr
    assert len(inbox.messages) == 6 and again.stderr.count("already sent") == 6
    assert "mail" not in json.loads((published / "outputs/766/2025K1/kvartal/manifest.json").read_text())


def test_mail_while_the_run_republishes_keeps_the_manifest_whole(published, smtp_server):
    """The period is run again while mail sends it, and published between the mail's first message
    and its second: the run removes the folder it replaces, which the mail read its run from. The
    mail sends every message from what it read at its start. (It read each brief as it composed
    its message, and failed on the second: "briefs/overview.html: No such file or directory".)"""
    import threading

    inbox, env = smtp_server
    (published / "outputs/mail-ledger.jsonl").unlink(missing_ok=True)
    inbox.gate = threading.Event()
    replaced = (published / "outputs/766/2025K1/kvartal").resolve()
    sending = workbook(published, "mail", "--run", "outputs/766/2025K1/kvartal", "--send", env=env, wait=False)
    try:
        assert inbox.holding.wait(120), "the first message reached the server"
        running = workbook(published, "run", "--cadence", "kvartal", "--period", "2025K1", "--force")
    finally:
        inbox.gate.set()
    _out, mail_err = sending.communicate(timeout=300)
    assert running.returncode == 0, running.stderr
    assert not replaced.exists(), "the run removed the folder the mail read"
    assert sending.returncode == 0, mail_err
    assert manifest_matches_briefs(published)
    assert len(inbox.messages) == 6


def test_a_tampered_manifest_cannot_attach_a_file_outside_the_run(published, tmp_path):
    run = tmp_path / "766" / "2025K1" / "kvartal"
    shutil.copytree(published / "outputs/766/2025K1/kvartal", run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["jobs"][0]["brief"] = "../../etc/os-release"
    (run / "manifest.json").write_text(json.dumps(manifest))
    done = workbook(published, "mail", "--run", str(run))
    assert done.returncode == 2
    assert "manifest.json names '../../etc/os-release' as a brief; a brief must be a file in briefs/" in one_line(
        done.stderr
    )


# --- 5. A bad body never becomes the current raw version -------------------------------


def _body_server(bodies: list[tuple[int, bytes, dict]]):
    """A Statbank API that answers FOLK1AM's tableinfo from the test server and data requests
    from `bodies` in turn: (status, body, headers)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from statbank_server import tableinfo

    info = json.dumps(tableinfo()["FOLK1AM"]).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, status, body, headers):
            self.send_response(status)
            for key, value in {"Content-Type": "text/csv; charset=utf-8", **headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if headers.get("slow"):
                for i in range(0, len(body), 2000):
                    self.wfile.write(body[i : i + 2000])
                    self.wfile.flush()
                    time.sleep(0.05)
            else:
                self.wfile.write(body)

        def do_GET(self):
            self._send(200, info, {"Content-Type": "text/json"})

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            status, body, headers = bodies.pop(0) if bodies else (500, b"no more", {})
            self._send(status, body, headers)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, args=(POLL,), daemon=True).start()
    return httpd


GOOD = FOLK1AM.read_bytes()


HALF = GOOD[: GOOD.rindex(b"\r\n", 0, len(GOOD) // 2) + 2]  # cut at a line end: every line is whole
HALF_LINES = HALF.count(b"\r\n") - 1


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (HALF, {}, f"the CSV has {HALF_LINES:,} data lines; the request asks for exactly 4,410"),
        (
            GOOD + GOOD.split(b"\r\n", 2)[1] + b"\r\n",
            {},
            "the CSV has 4,411 data lines; the request asks for exactly 4,410",
        ),
        (GOOD.replace(b"Hedensted;2025M01;48167", b"Hedensted;2025M01;-48167"), {}, "a count cannot be negative"),
        (GOOD, {"slow": "1"}, "took more than 1 s in all; the answer is refused"),
        (
            GOOD,
            {"Location": "http://elsewhere.invalid/data"},
            "a redirect to http://elsewhere.invalid/data; the workbook follows no redirect",
        ),
    ],
)
def test_a_bad_body_never_becomes_the_current_version(tmp_path, body, headers, message):
    from analysis.data.fetch import fetch_online, load_queries
    from analysis.data.sources.classification import read_komgrp
    from analysis.data.sources.statbank_api import StatbankClient

    areas = read_komgrp(SNAPSHOT_DIR / "classifications/komgrp.csv")
    query = next(q for q in load_queries() if q.name == "FOLK1AM")
    server = _body_server([(200, GOOD, {})])
    client = StatbankClient(f"http://127.0.0.1:{server.server_address[1]}/v1", retries=0, backoff=0, deadline=1)
    assert fetch_online([query], client, tmp_path, log=lambda _m: None, areas=areas)[0].status == "new"
    good = (tmp_path / "statbank/FOLK1AM.csv").resolve()
    status = 302 if "Location" in headers else 200
    server_bad = _body_server([(status, body, headers)])
    bad_client = StatbankClient(f"http://127.0.0.1:{server_bad.server_address[1]}/v1", retries=0, backoff=0, deadline=1)
    outcome = fetch_online([query], bad_client, tmp_path, log=lambda _m: None, areas=areas)[0]
    assert outcome.status == "failed" and message in outcome.detail, outcome.detail
    assert (tmp_path / "statbank/FOLK1AM.csv").resolve() == good
    server.shutdown()
    server_bad.shutdown()


def test_a_body_over_the_size_cap_is_refused(tmp_path):
    from analysis.data.fetch import fetch_online, load_queries
    from analysis.data.sources.statbank_api import StatbankClient

    query = next(q for q in load_queries() if q.name == "FOLK1AM")
    server = _body_server([(200, GOOD * 3, {})])
    client = StatbankClient(f"http://127.0.0.1:{server.server_address[1]}/v1", retries=0, backoff=0, max_body=300_000)
    outcome = fetch_online([query], client, tmp_path, log=lambda _m: None)[0]
    assert outcome.status == "failed" and "sent more than 0 MB; the answer is refused" in outcome.detail
    assert not (tmp_path / "statbank/FOLK1AM.csv").exists()
    server.shutdown()


def test_fetch_from_a_snapshot_checks_content_not_only_checksums(tmp_path):
    """A snapshot whose SHA256SUMS was made for a bad file: the checksum matches, the content does not."""
    from analysis.data.fetch import fetch_offline

    snapshot = tmp_path / "snapshot"
    shutil.copytree(SNAPSHOT_DIR, snapshot, ignore=shutil.ignore_patterns("original", "statbank-api"))
    bad = GOOD.replace(b"Hedensted;2025M01;48167", b"Hedensted;2025M01;-48167")
    (snapshot / "statbank/FOLK1AM.csv").chmod(0o644)
    (snapshot / "statbank/FOLK1AM.csv").write_bytes(bad)
    sums = (
        (snapshot / "SHA256SUMS").read_text().replace(hashlib.sha256(GOOD).hexdigest(), hashlib.sha256(bad).hexdigest())
    )
    (snapshot / "SHA256SUMS").chmod(0o644)
    (snapshot / "SHA256SUMS").write_text(sums)
    outcomes = {o.name: o for o in fetch_offline(snapshot, tmp_path / "raw", log=lambda _m: None)}
    assert outcomes["FOLK1AM"].status == "failed" and "a count cannot be negative" in outcomes["FOLK1AM"].detail
    assert not (tmp_path / "raw/statbank/FOLK1AM.csv").exists()
    assert outcomes["RAS200"].status == "new"


def test_rollback_makes_the_previous_version_current(tmp_path):
    project = copy_project(tmp_path)
    first = workbook(project, "fetch", "--from", "../shared/data")
    assert first.returncode == 0, first.stderr
    from analysis.data.fetch import store

    folder = project / "data/raw/statbank"
    revised = GOOD.replace(b"Hedensted;2024M10;47954", b"Hedensted;2024M10;47955")
    store(revised, "FOLK1AM.csv", folder, {"note": "a revision"})
    assert (folder / "FOLK1AM.csv").read_bytes() == revised
    done = workbook(project, "fetch", "--rollback", "FOLK1AM")
    assert done.returncode == 0, done.stderr
    assert (folder / "FOLK1AM.csv").read_bytes() == GOOD
    assert "FOLK1AM-dfb09b8848f5.csv is current again" in done.stderr
    nothing = workbook(project, "fetch", "--rollback", "BY2")
    assert nothing.returncode == 2 and "no fetched versions" in one_line(nothing.stderr)


# --- 6 and 7. One line for every mistake, and plausible numbers ---------------------------


MANUAL = {
    "a ';' in a text": (
        "kvalitativ.csv",
        "period;theme;committee;author;text\n2025K1;growth;;udvalg;Godt; men dyrt\n",
        "kvalitativ.csv line 2: 6 fields; expected 5 (a ';' inside a text must be in double quotes)",
    ),
    "an enormous CO2 figure": (
        "co2.csv",
        "indicator;kommune;period;value\nco2_emissions;766;2024;" + "9" * 401 + "\n",
        "co2.csv line 2, column value: '" + "9" * 30 + "'; expected a number",
    ),
    "CO2 out of range": (
        "co2.csv",
        "indicator;kommune;period;value\nco2_emissions;766;2024;90000000\n",
        "co2.csv line 2, column value: 90000000 is out of range; expected 0 to 5.000.000",
    ),
    "a thousands separator": (
        "count.csv",
        "indicator;kommune;period;value\ncomplaints;766;2024;12.345\n",
        "count.csv line 2, column value: '12.345' is ambiguous: write 12345 for a whole number "
        "(no thousands separator), or 12,345 for a decimal",
    ),
    "a period in the future": (
        "count.csv",
        "indicator;kommune;period;value\ncomplaints;766;2099;12\n",
        "count.csv line 2, column period: 2099 has not begun yet",
    ),
}


@pytest.mark.parametrize("case", MANUAL)
def test_manual_mistakes_are_one_line(case, tmp_path):
    from analysis import cli

    name, content, expected = MANUAL[case]
    data = tmp_path / "data"
    for folder in ("statbank", "noegletal", "classifications"):
        (data / folder).parent.mkdir(parents=True, exist_ok=True)
        (data / folder).symlink_to(SNAPSHOT_DIR / folder)
    (data / "manual").mkdir()
    (data / "manual" / name).write_text(content, encoding="utf-8")
    problems = _check(data)
    assert len(problems) == 1 and expected in problems[0], problems
    assert cli  # the same readers run in `check`, `ingest` and `run`


def _check(data: Path) -> list[str]:
    from analysis.data.processed import data_location
    from analysis.run.validate import problems

    return problems(data_location(data))


def test_a_manual_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    from analysis.data.sources.manual import MAX_BYTES

    data = tmp_path / "data"
    for folder in ("statbank", "noegletal", "classifications"):
        (data / folder).parent.mkdir(parents=True, exist_ok=True)
        (data / folder).symlink_to(SNAPSHOT_DIR / folder)
    (data / "manual").mkdir()
    with (data / "manual/count.csv").open("w") as handle:
        handle.write("indicator;kommune;period;value\n")
        handle.write("complaints;766;2024;1\n" * (MAX_BYTES // 20))
    assert _check(data) == [
        f"{data / 'manual/count.csv'}: 5 MB; a manual file may be at most 5 MB (see data/raw/manual/README.md)"
    ]


RECIPIENTS = {
    "not a mapping": ("- a\n- b\n", "recipients.local.yml: top level: Input should be a valid dictionary"),
    "unknown key": ("senders: x@kommune.dk\n", "recipients.local.yml: top level: unknown key 'senders'"),
    "an address with a line break": (
        'recipients:\n  vtf: ["vtf@kommune.dk\\r\\nBcc: x@evil.example"]\n',
        "recipients.local.yml: recipients: Value error, 'vtf@kommune.dk",
    ),
    "not an address": ("recipients:\n  vtf: [udvalget]\n", "'udvalget' is not a mail address like navn@kommune.dk"),
    "a list of lists": (
        "recipients:\n  vtf: [[a@b.dk]]\n",
        "recipients.local.yml: recipients.vtf[0]: Input should be a valid string",
    ),
    "a bad group": ("recipients:\n  Teknik Udvalg: [a@b.dk]\n", "group 'Teknik Udvalg': expected a lower-case id"),
    "invalid yaml": ("recipients: [\n", "recipients.local.yml line 2, column 1: invalid YAML"),
    "a number for the sender": ("sender: 42\n", "recipients.local.yml: sender: Input should be a valid string"),
}


@pytest.mark.parametrize("case", RECIPIENTS)
def test_a_malformed_recipients_file_is_one_line(case, tmp_path):
    from analysis.deliver.mail import recipients
    from analysis.errors import WorkbookError
    from analysis.paths import PARAMS_DIR

    content, expected = RECIPIENTS[case]
    params = tmp_path / "params"
    params.mkdir()
    shutil.copy(PARAMS_DIR / "recipients.yml", params / "recipients.yml")
    (params / "recipients.local.yml").write_text(content, encoding="utf-8")
    with pytest.raises(WorkbookError) as caught:
        recipients(params)
    assert expected in str(caught.value) and "\n" not in str(caught.value), str(caught.value)


def test_an_address_with_a_line_break_in_the_environment_is_refused(monkeypatch):
    from analysis.deliver.mail import recipients
    from analysis.errors import WorkbookError

    monkeypatch.setenv("WORKBOOK_RECIPIENTS_VTF", "vtf@kommune.dk\r\nBcc: x@evil.example")
    with pytest.raises(WorkbookError, match="WORKBOOK_RECIPIENTS_VTF: 'vtf@kommune.dk"):
        recipients()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "--cadence", "kvartal", "--jobs", "-1"], "argument --jobs: -1: expected 1 or more"),
        (["run", "--cadence", "kvartal", "--jobs", "mange"], "argument --jobs: 'mange' is not a whole number"),
    ],
)
def test_bad_options_are_one_line(capsys, args, expected):
    from analysis import cli

    with pytest.raises(SystemExit) as caught:
        cli.main(args)
    assert caught.value.code == 2
    assert expected in one_line(capsys.readouterr().err)


def test_a_bad_checksum_line_and_a_malformed_catalogue_are_one_line(tmp_path, capsys):
    from analysis import cli

    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "SHA256SUMS").write_text("not-a-checksum statbank/FOLK1AM.csv\n")
    assert cli.main(["fetch", "--from", str(snapshot)]) == 2
    assert "SHA256SUMS line 1: expected '<sha256> <file>', as sha256sum writes it" in one_line(capsys.readouterr().err)
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text('{"FOLK1AM": "2025M07"}')
    assert cli.main(["check", "--catalogue", str(catalogue)]) == 2
    err = capsys.readouterr().err
    assert "not DST's table catalogue (a list of tables with id, latestPeriod and updated)" in one_line(err)


def test_ctrl_c_is_one_line_and_exit_130(published):
    """Ctrl-C while a job runs ends the run at once, with its workers and kernels: the overview's
    notebook is made to wait, and the run is interrupted once the growth brief is made (not after
    a fixed time, which a fast run beats). The run used to wait for the notebook to finish."""
    import signal

    notebook = published / "notebooks/overview.ipynb"
    original = notebook.read_bytes()
    slow = nbformat.reads(original.decode("utf-8"), as_version=4)
    slow.cells.append(nbformat.v4.new_code_cell("import time\ntime.sleep(120)"))
    nbformat.write(slow, notebook)
    try:
        running = in_a_process(
            "run", "--cadence", "kvartal", "--period", "2025K1", "--force",
            cwd=published, env={"WORKBOOK_ROOT": str(published)}, own_server=True, wait=False,
        )  # fmt: skip
        said = []
        while not any(line.startswith("growth: brief made") for line in said):
            line = running.stderr.readline()
            assert line, "".join(said)
            said.append(line)
        blas = _blas_threads_of_kernels(processes_of(published))
        running.send_signal(signal.SIGINT)
        _out, rest = running.communicate(timeout=120)
    finally:
        notebook.write_bytes(original)
    err = "".join(said) + rest
    deadline = time.monotonic() + 10
    while processes_of(published) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not processes_of(published), "the workers, the kernel server and the waiting kernel end with the run"
    assert running.returncode == 130
    assert one_line(err) == "error: interrupted; nothing published was changed"
    assert manifest_matches_briefs(published)
    # The kernel server, where numpy and scipy load for every kernel, and the kernels forked from it
    # run BLAS on one thread (unless the environment says otherwise): no thread pools spinning.
    assert len(blas) >= 2 and set(blas) == {os.environ.get("OPENBLAS_NUM_THREADS", "1").encode()}, blas


def _blas_threads_of_kernels(pids: list[int]) -> list[bytes | None]:
    """OPENBLAS_NUM_THREADS as the kernel server was started with it, for it and its kernels (the
    environment a process was started with; a fork shows its parent's)."""
    found = []
    for pid in pids:
        try:
            if b"analysis.run.kernels" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        found.append(dict(entry.split(b"=", 1) for entry in entries if b"=" in entry).get(b"OPENBLAS_NUM_THREADS"))
    return found


# --- 8. Run ids and paths ----------------------------------------------------------------


def test_a_brief_carries_its_own_identity_and_outputs_hold_no_absolute_paths(published):
    done = workbook(published, "run", "--cadence", "kvartal", "--period", "2025K1")
    assert done.returncode == 0, done.stderr
    folder = published / "outputs/766/2025K1/kvartal"
    manifest = json.loads((folder / "manifest.json").read_text())
    for job in manifest["jobs"]:
        html = (folder / job["brief"]).read_text(encoding="utf-8")
        assert f"Brief-id {job['key'][:12]}." in html, job["name"]
    for path in [folder / "manifest.json", *folder.glob("executed/*.ipynb"), *folder.glob("briefs/*.html")]:
        assert str(published) not in path.read_text(encoding="utf-8"), path.name
    # The PDFs too, inside their compressed streams: their links to the numbers files are relative,
    # as the HTML's are, not the machine's path to the run's build folder (gone after the next run).
    for path in folder.glob("briefs/*.pdf"):
        text = _pdf_text(path.read_bytes())
        assert str(published) not in text and "file:" not in text, path.name
        assert "(../tal-766.xlsx)" in text, path.name


def _pdf_text(pdf: bytes) -> str:
    """A PDF's bytes with each of its compressed streams inflated, as text."""
    import re
    import zlib

    inflated = []
    for match in re.finditer(rb"stream\r?\n", pdf):
        try:
            inflated.append(zlib.decompressobj().decompress(pdf[match.end() :]))
        except zlib.error:
            continue
    return b"\n".join([pdf, *inflated]).decode("latin-1")


def test_the_reuse_key_includes_package_versions(tmp_path):
    from analysis.paths import PROJECT_ROOT
    from analysis.run.runner import job_key

    notebook = PROJECT_ROOT / "notebooks/growth.ipynb"
    first = job_key(notebook, {"period": "2025K1"}, "data", "code", {}, {"pandas": "3.1.1"})
    assert first != job_key(notebook, {"period": "2025K1"}, "data", "code", {}, {"pandas": "3.2.0"})


def test_the_next_run_cleans_what_a_killed_run_left_in_tmpdir(published, tmp_path):
    import signal
    import tempfile

    tmpdir = Path(tempfile.mkdtemp(prefix="tmp", dir="/tmp"))  # short, so the kernels' sockets go in it
    running = workbook(
        published,
        "run",
        "--cadence",
        "kvartal",
        "--period",
        "2025K1",
        "--force",
        env={"TMPDIR": str(tmpdir)},
        wait=False,
    )
    deadline = time.monotonic() + 60
    found = []
    while not found and time.monotonic() < deadline:
        found = list(tmpdir.glob("workbook-kernel-*"))
        time.sleep(0.02)
    running.send_signal(signal.SIGKILL)
    assert found, "the run's kernel folders are found while it runs"
    running.wait()
    time.sleep(1)
    done = workbook(published, "run", "--cadence", "kvartal", "--period", "2025K1", env={"TMPDIR": str(tmpdir)})
    assert done.returncode == 0, done.stderr
    assert not list(tmpdir.glob("workbook-kernel*"))
    assert manifest_matches_briefs(published)
    shutil.rmtree(tmpdir)

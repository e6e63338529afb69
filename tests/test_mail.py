"""Mail: a real SMTP server (aiosmtpd) on 127.0.0.1 with STARTTLS (a trustme certificate) receives
the briefs; what it got is parsed with the email package."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from analysis.paths import PROJECT_ROOT

pytestmark = pytest.mark.e2e  # real runs in processes: `make test-fast` leaves them out

PASSWORD = "hemmeligt-kodeord-8431"
GROUPS = ["kommunalbestyrelsen", "oekonomiudvalget", "vtf", "beskaeftigelse", "laering", "social-omsorg"]


class Inbox:
    def __init__(self, drop_after: int | None = None):
        self.messages, self.drop_after = [], drop_after

    async def handle_DATA(self, server, session, envelope):
        if self.drop_after is not None and len(self.messages) >= self.drop_after:
            server.transport.close()
            return "421 closing"
        self.messages.append(envelope)
        return "250 OK"


def _authenticate(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=auth_data.login == b"analytiker" and auth_data.password == PASSWORD.encode())


@pytest.fixture()
def smtp(tmp_path):
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    cafile = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(cafile))
    servers = []

    def start(inbox: Inbox) -> dict:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        controller = Controller(
            inbox,
            hostname="127.0.0.1",
            port=port,
            tls_context=context,
            require_starttls=True,
            authenticator=_authenticate,
            auth_require_tls=True,
        )
        controller.start()
        servers.append(controller)
        return {
            "WORKBOOK_SMTP_HOST": "127.0.0.1",
            "WORKBOOK_SMTP_PORT": str(port),
            "WORKBOOK_SMTP_USER": "analytiker",
            "WORKBOOK_SMTP_PASSWORD": PASSWORD,
            "WORKBOOK_SMTP_CAFILE": str(cafile),
        }

    yield start
    for controller in servers:
        controller.stop()


@pytest.fixture()
def run_copy(quarterly, tmp_path) -> Path:
    folder = tmp_path / "766" / "2025K1" / "kvartal"
    shutil.copytree(quarterly / "766" / "2025K1" / "kvartal", folder)
    return folder


def mail(run: Path, *args: str, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "analysis", "mail", "--run", str(run), *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_mails_arrive_whole_and_are_recorded(smtp, run_copy):
    inbox = Inbox()
    env = smtp(inbox)
    done = mail(run_copy, "--send", env=env)
    assert done.returncode == 0, done.stderr
    assert len(inbox.messages) == 6
    by_group = {}
    for envelope in inbox.messages:
        message = message_from_bytes(envelope.content, policy=policy.default)
        by_group[envelope.rcpt_tos[0].split("@")[0]] = message
    assert sorted(by_group) == sorted(GROUPS)
    board = by_group["kommunalbestyrelsen"]
    assert board["Subject"] == "Strategiopfølgning 1. kvt. 2025 - Kommunalbestyrelsen"
    assert by_group["oekonomiudvalget"]["Subject"] == "Strategiopfølgning 1. kvt. 2025 - Økonomiudvalget"
    html = board.get_body(("html",)).get_content()
    assert len(html.encode("utf-8")) < 100_000
    assert 'src="data:' not in html and "<style" not in html
    cids = set(re.findall(r'src="cid:([^"]+)"', html))
    attached = {
        part["Content-ID"].strip().strip("<>") for part in board.walk() if part.get_content_type() == "image/png"
    }
    assert cids and cids == attached
    assert "48.167 indbyggere den 1. januar 2025" in board.get_body(("plain",)).get_content()
    files = {part.get_filename(): part.get_payload(decode=True) for part in board.iter_attachments()}
    assert sorted(files) == ["community.html", "cooperation.html", "growth.html", "overview.html"]
    assert files["growth.html"] == (run_copy / "briefs" / "growth.html").read_bytes()
    ledger = [json.loads(line) for line in (run_copy.parents[2] / "mail-ledger.jsonl").read_text().splitlines()]
    assert sorted(record["group"] for record in ledger) == sorted(GROUPS)
    assert {record["run"] for record in ledger} == {"766/2025K1/kvartal"}
    assert "mail" not in json.loads((run_copy / "manifest.json").read_text()), "mail never writes the run's manifest"

    again = mail(run_copy, "--send", env=env)
    assert again.returncode == 0 and len(inbox.messages) == 6, "a second call sends nothing new"
    assert "already sent" in again.stderr
    resent = mail(run_copy, "--send", "--resend", "--only", "vtf", env=env)
    assert resent.returncode == 0 and len(inbox.messages) == 7


def test_a_dropped_connection_leaves_the_rest_unsent_and_the_next_call_sends_them(smtp, run_copy):
    dropping = Inbox(drop_after=1)
    done = mail(run_copy, "--send", env=smtp(dropping))
    assert done.returncode == 1
    assert len(dropping.messages) == 1
    assert "run the command again to send them" in done.stderr
    ledger = (run_copy.parents[2] / "mail-ledger.jsonl").read_text().splitlines()
    assert [json.loads(line)["group"] for line in ledger] == ["kommunalbestyrelsen"]
    steady = Inbox()
    again = mail(run_copy, "--send", env=smtp(steady))
    assert again.returncode == 0, again.stderr
    assert sorted(e.rcpt_tos[0].split("@")[0] for e in steady.messages) == sorted(GROUPS[1:])


def test_an_smtp_outage_marks_nothing_as_sent(run_copy):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = mail(
        run_copy,
        "--send",
        env={"WORKBOOK_SMTP_HOST": "127.0.0.1", "WORKBOOK_SMTP_PORT": str(port), "WORKBOOK_SMTP_PASSWORD": PASSWORD},
    )
    assert done.returncode == 1
    assert not (run_copy.parents[2] / "mail-ledger.jsonl").exists()


def test_no_secret_reaches_outputs_or_logs(smtp, run_copy):
    env = smtp(Inbox())
    logs = mail(run_copy, "--send", env=env).stderr + mail(run_copy, env=env).stderr
    assert PASSWORD not in logs
    for path in run_copy.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_dry_run_writes_eml_files(run_copy):
    done = mail(run_copy)
    assert done.returncode == 0, done.stderr
    assert sorted(p.stem for p in (run_copy / "mail").glob("*.eml")) == sorted(GROUPS)
    message = message_from_bytes((run_copy / "mail" / "vtf.eml").read_bytes(), policy=policy.default)
    assert message["To"] == "vtf@example.org"


def test_refuses_failed_or_illustrative_runs(run_copy):
    manifest_path = run_copy / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["parameters"]["example_data"] = True
    manifest_path.write_text(json.dumps(manifest))
    done = mail(run_copy)
    assert done.returncode == 2
    assert "hold illustrative data (Eksempeldata); mail them anyway with --allow-example-data" in done.stderr
    manifest["parameters"]["example_data"] = False
    manifest["jobs"][0]["status"] = "failed"
    manifest_path.write_text(json.dumps(manifest))
    done = mail(run_copy)
    assert done.returncode == 2 and "job(s) growth failed; mail it anyway with --allow-failed" in done.stderr

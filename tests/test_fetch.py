"""The Statbank client against a real HTTP server on 127.0.0.1 serving the recorded API responses,
and the failure modes a real API has; the offline import from the snapshot folder."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from analysis.errors import WorkbookError
from analysis.fetch import fetch_offline, fetch_online, load_queries
from analysis.ingest import data_location, resolve_inputs
from analysis.paths import SNAPSHOT_DIR
from analysis.sources.statbank_api import Query, StatbankClient

RECORDED = SNAPSHOT_DIR / "statbank-api"
STRAF42 = Query("STRAF42", "STRAF42", {"national oprindelse": ["00"], "tid": ["2023"]})
CSV_BODY = (RECORDED / "data_STRAF42_csv_HERKOMST1-00_TID-2023.csv").read_bytes()


class Recorded(BaseHTTPRequestHandler):
    """Serves the recorded responses; `server.plan` lists what the next data requests get."""

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path == "/v1/tables":
            return self._send(200, (RECORDED / "tables_all_da_2025-09-06.json").read_bytes(), "text/json; charset=utf-8")
        if url.path == "/v1/tableinfo" and query.get("id") == ["STRAF42"]:
            return self._send(200, (RECORDED / "tableinfo_STRAF42_da.json").read_bytes(), "text/json; charset=utf-8")
        return self._send(404, b"Tabellen findes ikke", "text/plain")

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        action = self.server.plan.pop(0) if self.server.plan else "ok"
        if action == "500":
            return self._send(500, b"Internal Server Error", "text/plain")
        if action == "timeout":
            time.sleep(1.5)
            return self._send(200, CSV_BODY, "text/csv; charset=utf-8")
        if action == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.connection.close()
            return None
        if action == "truncated":
            return self._send(200, CSV_BODY[:-7], "text/csv; charset=utf-8")
        if action == "html":
            return self._send(200, b"<!DOCTYPE html><html><body>Vedligeholdelse</body></html>", "text/html")
        if action == "wrong-header":
            return self._send(200, CSV_BODY.replace(b"HERKOMST1", b"HERKOMST2"), "text/csv; charset=utf-8")
        return self._send(200, CSV_BODY, "text/csv; charset=utf-8")


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorded)
    httpd.plan, httpd.requests = [], []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def client(server) -> StatbankClient:
    return StatbankClient(f"http://127.0.0.1:{server.server_address[1]}/v1", retries=2, backoff=0, timeout=(2, 1))


def test_full_path_writes_an_immutable_version_with_its_sidecar(server, tmp_path):
    outcomes = fetch_online([STRAF42], client(server), tmp_path, log=lambda _m: None)
    assert [o.status for o in outcomes] == ["new"]
    assert server.requests == [{"table": "STRAF42", "lang": "da", "format": "CSV", "valuePresentation": "Default",
                                "variables": [{"code": "HERKOMST1", "values": ["00"]}, {"code": "Tid", "values": ["2023"]}]}]
    link = tmp_path / "statbank" / "STRAF42.csv"
    assert link.is_symlink() and link.read_bytes() == CSV_BODY
    version = link.resolve()
    assert version.parent.name == "versions" and not version.stat().st_mode & 0o222
    meta = json.loads(version.with_name(version.name.replace(".csv", ".meta.json")).read_text())
    assert meta["table_updated"] == "2025-03-25T08:00:00"
    assert meta["citation"] == "Kilde: Danmarks Statistik, statistikbanken.dk/STRAF42"
    assert meta["request"]["table"] == "STRAF42" and len(meta["sha256"]) == 64

    again = fetch_online([STRAF42], client(server), tmp_path, log=lambda _m: None)
    assert [o.status for o in again] == ["unchanged"]
    assert len(list((tmp_path / "statbank" / "versions").iterdir())) == 2


def test_5xx_answers_are_retried(server, tmp_path):
    server.plan = ["500", "500"]
    outcomes = fetch_online([STRAF42], client(server), tmp_path, log=lambda _m: None)
    assert [o.status for o in outcomes] == ["new"]
    assert len(server.requests) == 3


@pytest.mark.parametrize(("plan", "message"), [
    (["500"] * 3, "/v1/data answered 500: Internal Server Error (after 3 tries)"),
    (["timeout"] * 3, "Read timed out"),
    (["reset"] * 3, "could not be reached"),
    (["truncated"], "the CSV is truncated (its last line is incomplete); the file on disk is kept"),
    (["html"], "the answer is an HTML page, not CSV"),
    (["wrong-header"], "the CSV header is 'HERKOMST2;TID;INDHOLD'; expected 'HERKOMST1;TID;INDHOLD'"),
])
def test_a_bad_answer_never_replaces_a_good_file(server, tmp_path, plan, message):
    assert fetch_online([STRAF42], client(server), tmp_path, log=lambda _m: None)[0].status == "new"
    good = (tmp_path / "statbank" / "STRAF42.csv").resolve()
    before = sorted(p.name for p in (tmp_path / "statbank" / "versions").iterdir())
    server.plan = list(plan)
    outcome = fetch_online([STRAF42], client(server), tmp_path, log=lambda _m: None)[0]
    assert outcome.status == "failed"
    assert outcome.detail.startswith("table STRAF42: ")
    assert message in outcome.detail
    assert (tmp_path / "statbank" / "STRAF42.csv").resolve() == good
    assert sorted(p.name for p in (tmp_path / "statbank" / "versions").iterdir()) == before


def test_one_failing_table_does_not_stop_the_others(server, tmp_path):
    missing = Query("FOLK1AM", "FOLK1AM", {"område": ["*"], "tid": ["*"]})
    outcomes = fetch_online([missing, STRAF42], client(server), tmp_path, log=lambda _m: None)
    assert [(o.name, o.status) for o in outcomes] == [("FOLK1AM", "failed"), ("STRAF42", "new")]
    assert "tableinfo answered 404: Tabellen findes ikke" in outcomes[0].detail


def test_a_query_is_checked_against_tableinfo_before_data_is_asked_for(server, tmp_path):
    wrong = Query("STRAF42", "STRAF42", {"national oprindelse": ["99"], "tid": ["2023"]})
    outcome = fetch_online([wrong], client(server), tmp_path, log=lambda _m: None)[0]
    assert outcome.detail == "params/queries.yml: STRAF42: variable HERKOMST1 of STRAF42 has no value '99'"
    assert server.requests == []


def test_the_table_catalogue(server):
    tables = {t["id"]: t for t in client(server).tables()}
    assert (tables["FOLK1AM"]["latestPeriod"], tables["RAS200"]["latestPeriod"]) == ("2025M07", "2023")


def test_queries_name_variables_the_catalogue_lists():
    catalogue = {t["id"]: t for t in json.loads((RECORDED / "tables_all_da_2025-09-06.json").read_text())}
    for query in load_queries():
        assert query.table in catalogue, query.table
        assert set(query.variables) <= set(catalogue[query.table]["variables"]), query.name


def test_offline_import_checks_every_file_and_feeds_ingest(tmp_path):
    raw = tmp_path / "raw"
    outcomes = fetch_offline(SNAPSHOT_DIR, raw, log=lambda _m: None)
    assert {o.status for o in outcomes} == {"new"} and len(outcomes) == 6
    assert [o.status for o in fetch_offline(SNAPSHOT_DIR, raw, log=lambda _m: None)] == ["unchanged"] * 6
    inputs = {i.table: i for i in resolve_inputs(data_location(raw))}
    assert inputs["FOLK1AM"].sha256 == "dfb09b8848f55d8521744aef771cbcdd0673aab3be687f60f0ad8d8226ceb7d8"

    tampered = tmp_path / "snapshot"
    shutil.copytree(SNAPSHOT_DIR, tampered)
    (tampered / "statbank" / "RAS200.csv").chmod(0o644)
    with (tampered / "statbank" / "RAS200.csv").open("ab") as handle:
        handle.write(b"Hedensted;2022;99,9\r\n")
    outcomes = {o.name: o for o in fetch_offline(tampered, tmp_path / "raw2", log=lambda _m: None)}
    assert outcomes["RAS200"].status == "failed"
    assert "statbank/RAS200.csv: sha256" in outcomes["RAS200"].detail and "does not match SHA256SUMS" in outcomes["RAS200"].detail
    assert outcomes["FOLK1AM"].status == "new"


def test_unknown_snapshot_folder(tmp_path):
    with pytest.raises(WorkbookError, match="no SHA256SUMS checksum list"):
        fetch_offline(tmp_path, tmp_path / "raw")


def test_offline_fetch_check_and_run_from_the_command_line(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import copy_project

    project = copy_project(tmp_path)
    env = {**os.environ, "WORKBOOK_ROOT": str(project)}

    def workbook(*args):
        return subprocess.run([sys.executable, "-m", "analysis", *args], cwd=project, env=env, capture_output=True,
                              text=True, timeout=600)

    fetched = workbook("fetch", "--from", "../shared/data")
    assert fetched.returncode == 0, fetched.stderr
    assert "FOLK1AM: new version" in fetched.stderr
    assert (project / "data/raw/statbank/FOLK1AM.csv").is_symlink()
    checked = workbook("check", "--catalogue", "../shared/data/statbank-api/tables_all_da_2025-09-06.json")
    assert checked.returncode == 0, checked.stderr
    lines = checked.stdout.splitlines()
    assert lines[1].split()[:3] == ["FOLK1AM", "2025M03", "2025M07"] and lines[1].endswith("newer data exists")
    assert lines[2].split()[:3] == ["FLY66", "2024", "2024"] and lines[2].endswith("up to date")
    ran = workbook("run", "--cadence", "kvartal", "--only", "growth", "--outputs", str(tmp_path / "out"))
    assert ran.returncode == 0, ran.stderr
    manifest = json.loads((tmp_path / "out/2025K1/kvartal/manifest.json").read_text())
    assert manifest["inputs"]["FOLK1AM"]["file"].startswith("data/raw/statbank/versions/FOLK1AM-dfb09b8848f5")
    offline = workbook("fetch", "--only", "FOLK1AM", "--base-url", "http://127.0.0.1:9/v1")
    assert offline.returncode == 1
    assert "Connection refused" in offline.stderr and "everything else is kept" in offline.stderr
    assert (project / "data/raw/statbank/FOLK1AM.csv").resolve().name.startswith("FOLK1AM-dfb09b8848f5")


def test_the_brief_says_what_changed_since_the_previous_brief(tmp_path):
    """A first FOLK1AM download up to 2024M12 with a provisional October figure, then the full table."""
    import os
    import subprocess
    import sys

    from bs4 import BeautifulSoup

    from analysis.fetch import store
    from conftest import copy_project

    project = copy_project(tmp_path)
    env = {**os.environ, "WORKBOOK_ROOT": str(project)}
    full = (SNAPSHOT_DIR / "statbank" / "FOLK1AM.csv").read_bytes()
    lines = full.split(b"\r\n")
    early = [line for line in lines if not line.split(b";")[1:2] or not line.split(b";")[1].startswith(b"2025")]
    early = [b"Hedensted;2024M10;47950" if line == b"Hedensted;2024M10;47954" else line for line in early]
    folder = project / "data" / "raw" / "statbank"
    store(b"\r\n".join(early), "FOLK1AM.csv", folder, {"note": "first download"})

    def run(period):
        done = subprocess.run([sys.executable, "-m", "analysis", "run", "--cadence", "kvartal", "--period", period,
                               "--only", "growth"], cwd=project, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return BeautifulSoup((project / f"outputs/{period}/kvartal/briefs/growth.html").read_text(encoding="utf-8"),
                             "html.parser").select_one("section.changes").get_text(" ", strip=True)

    assert "Der er ingen tidligere brief" in run("2024K4")
    store(full, "FOLK1AM.csv", folder, {"note": "second download"})
    text = run("2025K1")
    assert "Siden briefen for 4. kvt. 2024:" in text
    assert "nye perioder: januar 2025, februar 2025, marts 2025." in text
    assert "1 tal er revideret: oktober 2024 fra 47.950 til 47.954." in text

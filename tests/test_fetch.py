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

from analysis.data.fetch import fetch_offline, fetch_online, load_queries
from analysis.data.ingest import resolve_inputs
from analysis.data.processed import data_location
from analysis.data.sources.statbank_api import Query, StatbankClient
from analysis.errors import WorkbookError
from analysis.paths import SNAPSHOT_DIR

from statbank_server import POLL

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
            return self._send(
                200, (RECORDED / "tables_all_da_2025-09-06.json").read_bytes(), "text/json; charset=utf-8"
            )
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
    thread = threading.Thread(target=httpd.serve_forever, args=(POLL,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def client(server, read_timeout: float = 1) -> StatbankClient:
    return StatbankClient(
        f"http://127.0.0.1:{server.server_address[1]}/v1", retries=2, backoff=0, timeout=(2, read_timeout)
    )


def test_full_path_writes_an_immutable_version_with_its_sidecar(server, tmp_path):
    outcomes = fetch_online([STRAF42], client(server), tmp_path, log=lambda _m: None)
    assert [o.status for o in outcomes] == ["new"]
    assert server.requests == [
        {
            "table": "STRAF42",
            "lang": "da",
            "format": "CSV",
            "valuePresentation": "Default",
            "variables": [{"code": "HERKOMST1", "values": ["00"]}, {"code": "Tid", "values": ["2023"]}],
        }
    ]
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
    assert sorted(p.suffix for p in (tmp_path / "statbank" / "versions").iterdir()) == [".csv", ".json", ".jsonl"]


def test_5xx_answers_are_retried(server, tmp_path):
    server.plan = ["500", "500"]
    outcomes = fetch_online([STRAF42], client(server), tmp_path, log=lambda _m: None)
    assert [o.status for o in outcomes] == ["new"]
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (["500"] * 3, "/v1/data answered 500: Internal Server Error (after 3 tries)"),
        (["timeout"] * 3, "Read timed out"),
        (["reset"] * 3, "could not be reached"),
        (["truncated"], "the CSV is truncated (its last line is incomplete); the file on disk is kept"),
        (["html"], "the answer is an HTML page, not CSV"),
        (["wrong-header"], "the CSV header is 'HERKOMST2;TID;INDHOLD'; expected 'HERKOMST1;TID;INDHOLD'"),
    ],
)
def test_a_bad_answer_never_replaces_a_good_file(server, tmp_path, plan, message):
    assert fetch_online([STRAF42], client(server), tmp_path, log=lambda _m: None)[0].status == "new"
    good = (tmp_path / "statbank" / "STRAF42.csv").resolve()
    before = sorted(p.name for p in (tmp_path / "statbank" / "versions").iterdir())
    server.plan = list(plan)
    # A server that never answers is waited for three times: a short read timeout keeps that quick.
    patient = client(server, read_timeout=0.2 if plan[0] == "timeout" else 1)
    outcome = fetch_online([STRAF42], patient, tmp_path, log=lambda _m: None)[0]
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
    assert outcome.detail.startswith(
        "params/queries.yml: STRAF42: table STRAF42: variable HERKOMST1 (national oprindelse) "
        "has no value '99'; it has 00, 80, 81"
    )
    assert server.requests == []


def test_the_table_catalogue(server):
    tables = {t["id"]: t for t in client(server).tables()}
    assert (tables["FOLK1AM"]["latestPeriod"], tables["RAS200"]["latestPeriod"]) == ("2025M07", "2023")


def test_queries_name_variables_the_catalogue_lists():
    catalogue = {t["id"]: t for t in json.loads((RECORDED / "tables_all_da_2025-09-06.json").read_text())}
    for query in load_queries():
        assert query.table in catalogue, query.table
        assert set(query.variables) <= set(catalogue[query.table]["variables"]), query.name


@pytest.mark.e2e
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
    assert (
        "statbank/RAS200.csv: sha256" in outcomes["RAS200"].detail
        and "does not match SHA256SUMS" in outcomes["RAS200"].detail
    )
    assert outcomes["FOLK1AM"].status == "new"


def test_a_table_checked_before_it_is_stored_is_not_parsed_again_by_the_ingest_after_it(tmp_path, monkeypatch):
    """`run --fetch` checks each fetched table, stores it, then ingests in the same process: the
    ingest takes the table as the check read it instead of parsing the file a second time."""
    from analysis.data import ingest
    from analysis.data.fetch import check_content
    from analysis.data.sources import statbank
    from analysis.data.sources.classification import read_komgrp

    from conftest import snapshot_with

    real = (SNAPSHOT_DIR / "statbank/RAS200.csv").read_bytes()
    content = real.replace(b"Hele landet;2021;77,1", b"Hele landet;2021;77,2")  # bytes no other test read
    assert content != real
    komgrp = SNAPSHOT_DIR / "classifications/komgrp.csv"
    check_content(content, "RAS200.csv", None, read_komgrp(komgrp), ingest.sha256_of(komgrp))
    folder = snapshot_with(tmp_path / "data", "RAS200.csv", content)
    parsed = []
    read = statbank.read_statbank_csv
    monkeypatch.setattr(
        statbank, "read_statbank_csv", lambda path, *a, **k: parsed.append(path.name) or read(path, *a, **k)
    )
    frame, _areas, _qualitative = ingest.read_all(resolve_inputs(data_location(folder)))
    assert "RAS200.csv" not in parsed
    rows = frame[(frame["table"] == "RAS200") & (frame["area"] == "000") & (frame["period"] == "2021")]
    assert rows["value"].tolist() == [77.2]
    assert rows["source_file"].tolist() == ["RAS200.csv"]


def test_unknown_snapshot_folder(tmp_path):
    with pytest.raises(WorkbookError, match="no SHA256SUMS checksum list"):
        fetch_offline(tmp_path, tmp_path / "raw")


@pytest.mark.e2e
def test_offline_fetch_check_and_run_from_the_command_line(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import copy_project

    project = copy_project(tmp_path)
    env = {**os.environ, "WORKBOOK_ROOT": str(project)}

    def workbook(*args):
        return subprocess.run(
            [sys.executable, "-m", "analysis", *args], cwd=project, env=env, capture_output=True, text=True, timeout=600
        )

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
    manifest = json.loads((tmp_path / "out/766/2025K1/kvartal/manifest.json").read_text())
    assert manifest["inputs"]["FOLK1AM"]["file"].startswith("data/raw/statbank/versions/FOLK1AM-dfb09b8848f5")
    offline = workbook("fetch", "--only", "FOLK1AM", "--base-url", "http://127.0.0.1:9/v1")
    assert offline.returncode == 1
    assert "Connection refused" in offline.stderr and "everything else is kept" in offline.stderr
    assert (project / "data/raw/statbank/FOLK1AM.csv").resolve().name.startswith("FOLK1AM-dfb09b8848f5")


@pytest.mark.e2e
def test_the_brief_says_what_changed_since_the_previous_brief(tmp_path):
    """A first FOLK1AM download up to 2024M12 with a provisional October figure, then the full table."""
    import os
    import subprocess
    import sys

    from bs4 import BeautifulSoup

    from analysis.data.fetch import store

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
        done = subprocess.run(
            [sys.executable, "-m", "analysis", "run", "--cadence", "kvartal", "--period", period, "--only", "growth"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
        return (
            BeautifulSoup(
                (project / f"outputs/766/{period}/kvartal/briefs/growth.html").read_text(encoding="utf-8"),
                "html.parser",
            )
            .select_one("section.changes")
            .get_text(" ", strip=True)
        )

    assert "Der er ingen tidligere brief" in run("2024K4")
    store(full, "FOLK1AM.csv", folder, {"note": "second download"})
    text = run("2025K1")
    assert "Siden briefen for 4. kvt. 2024:" in text
    assert "nye perioder: januar 2025, februar 2025, marts 2025." in text
    assert "1 tal er revideret: oktober 2024 fra 47.950 til 47.954." in text


def _alone(tmp_path):
    """A clone of the repository with nothing beside it: no ../shared/data."""
    import subprocess as sp

    from analysis.paths import PROJECT_ROOT

    copy = tmp_path / "alone" / "project"
    tracked = sp.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout
    for name in tracked.splitlines():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / name, copy / name)
    return copy


@pytest.mark.e2e
def test_a_clone_alone_fetches_what_it_needs_and_makes_the_briefs(tmp_path):
    """`make briefs` on a fresh clone with a network: the run fetches the tables first. The Statbank
    API is the local one, serving the snapshot's real FOLK1AM and RAS200 (and TEST DATA for FLY66);
    DST's Kommunegrupper and noegletal come from the addresses in params/sources.yml, checked by sha256."""
    import os
    import subprocess

    from bs4 import BeautifulSoup

    from statbank_server import serve

    project = _alone(tmp_path)
    with serve(fly66_years=(2024, 2024)) as api:
        env = {
            **os.environ,
            "WORKBOOK_ROOT": str(project),
            "WORKBOOK_STATBANK_URL": api.url,
            "WORKBOOK_DOWNLOAD_MIRROR": api.mirror,
        }
        done = subprocess.run(
            [
                sys_executable(),
                "-m",
                "analysis",
                "run",
                "--cadence",
                "kvartal",
                "--period",
                "latest",
                "--only",
                "growth",
            ],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
        assert sorted({r["table"] for r in api.requests}) == ["FLY66", "FOLK1AM", "RAS200"]
    assert "fetch: FOLK1AM, FLY66, RAS200, INDBYGGERE, AREAL, KOMGRP not on disk; fetching them first" in done.stderr
    html = (project / "outputs/766/2025K1/kvartal/briefs/growth.html").read_text(encoding="utf-8")
    assert "48.167 indbyggere den 1. januar 2025" in BeautifulSoup(html, "html.parser").get_text()
    komgrp = (project / "data/raw/classifications/komgrp.csv").resolve()
    assert komgrp.read_bytes() == (SNAPSHOT_DIR / "classifications/komgrp.csv").read_bytes()


@pytest.mark.e2e
def test_a_clone_alone_without_a_network_says_where_data_must_come_from(tmp_path):
    import os
    import subprocess

    project = _alone(tmp_path)
    env = {
        **os.environ,
        "WORKBOOK_ROOT": str(project),
        "WORKBOOK_STATBANK_URL": "http://127.0.0.1:9/v1",
        "WORKBOOK_DOWNLOAD_MIRROR": "http://127.0.0.1:9/raw",
    }
    done = subprocess.run(
        [sys_executable(), "-m", "analysis", "run", "--cadence", "kvartal"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: table FOLK1AM is missing from data/raw/ or ../shared/data/ and could not be fetched")
    assert "put the data snapshot in ../shared/data" in last and "Traceback" not in done.stderr
    assert not (project / "outputs" / "766" / "2025K1").exists()


@pytest.mark.e2e
def test_run_with_fetch_fetches_first_and_without_a_network_runs_on_what_is_on_disk(tmp_path):
    import os
    import subprocess

    from conftest import copy_project
    from statbank_server import serve

    project = copy_project(tmp_path)
    with serve(fly66_years=(2024, 2024)) as api:
        env = {**os.environ, "WORKBOOK_ROOT": str(project), "WORKBOOK_STATBANK_URL": api.url}
        done = subprocess.run(
            [sys_executable(), "-m", "analysis", "run", "--fetch", "--cadence", "kvartal", "--only", "growth"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    assert done.returncode == 0, done.stderr
    assert "FOLK1AM: new version" in done.stderr and "published outputs/766/2025K1/kvartal" in done.stderr
    assert (project / "data/raw/statbank/FAM44N.csv").is_symlink()
    offline = {**os.environ, "WORKBOOK_ROOT": str(project), "WORKBOOK_STATBANK_URL": "http://127.0.0.1:9/v1"}
    again = subprocess.run(
        [sys_executable(), "-m", "analysis", "run", "--fetch", "--cadence", "kvartal", "--only", "growth", "--force"],
        cwd=project,
        env=offline,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert again.returncode == 0, again.stderr
    said = [line for line in again.stderr.splitlines() if line.startswith("fetch:")]
    assert len(said) == 1 and "running on the data on disk" in said[0] and "Connection refused" in said[0]


def sys_executable() -> str:
    import sys

    return sys.executable


def _municipalities() -> list[str]:
    from statbank_server import municipalities

    return [code for code, _name in municipalities()]


def _query(name: str):
    return next(q for q in load_queries() if q.name == name)


@pytest.mark.e2e
def test_large_queries_are_split_by_period_and_dst_refuses_what_it_refuses():
    """FLY66 at 18-36 since 2017 is 1,459,808 cells: two CSV requests of at most 1,000,000. The local
    API answers as DST does: one CSV request for all of it gets REQUEST-LIMIT, and BULK that leaves
    a variable out gets EXTRACT-NOTALLOWED."""
    import requests as http

    from statbank_server import serve as serve_api

    with serve_api() as api:
        api_client = StatbankClient(api.url, retries=0, backoff=0)
        info = api_client.tableinfo("FLY66")
        planned = api_client.plan(_query("FLY66"), info, _municipalities())
        assert planned.cells == 98 * 98 * 19 * 8
        sizes = [[len(v["values"]) for v in body["variables"]] for body in planned.bodies]
        assert sizes == [[98, 98, 19, 5], [98, 98, 19, 3]]
        assert all(body["format"] == "CSV" for body in planned.bodies)
        periods = [p for body in planned.bodies for p in body["variables"][-1]["values"]]
        assert periods == [str(y) for y in range(2017, 2025)]
        assert [v["id"] for v in planned.variables] == ["TILKOMMUNE", "FRAKOMMUNE", "ALDER", "Tid"]  # KØN summed

        whole = {
            **planned.bodies[0],
            "variables": [*planned.bodies[0]["variables"][:3], planned.bodies[0]["variables"][3] | {"values": periods}],
        }
        refused = http.post(f"{api.url}/data", json=whole, timeout=30)
        assert refused.status_code == 400 and refused.json()["errorTypeCode"] == "REQUEST-LIMIT"
        bulk = http.post(f"{api.url}/data", json={**whole, "format": "BULK"}, timeout=30)
        assert bulk.status_code == 400 and bulk.json() == {
            "errorTypeCode": "EXTRACT-NOTALLOWED",
            "message": "Der skal vælges værdier for variabel: køn",
        }
        assert len(api.requests) == 2  # the plan itself sent nothing

        # One period over the limit needs BULK, and BULK needs every variable named.
        by2 = Query("BY2", "BY2", {"kommune": "kommuner", "bystørrelse": "*", "alder": "*", "tid": "*"})
        huge = api_client.tableinfo("BY2")  # with 5,000 ages a single year is 5.9 million cells
        for variable in huge["variables"]:
            if variable["id"] == "ALDER":
                variable["values"] = [{"id": str(i), "text": f"{i} år"} for i in range(5000)]
        with pytest.raises(
            WorkbookError,
            match=r"params/queries.yml: BY2: table BY2: 17,640,000 cells need format BULK, "
            r"which sums nothing: name the values of KØN \(køn\)",
        ):
            api_client.plan(by2, huge, _municipalities())
        named = Query("BY2", "BY2", {**by2.variables, "køn": "*"})
        assert [b["format"] for b in api_client.plan(named, huge, _municipalities()).bodies] == ["BULK"]


def test_a_value_the_table_lacks_names_the_table_variable_and_value():
    from statbank_server import serve as serve_api

    with serve_api() as api:
        api_client = StatbankClient(api.url, retries=0, backoff=0)
        wrong = Query(
            "ERHV2", "ERHV2", {"område": "kommuner", "branche (DB07 10-grp)": ["TOT"], "enhed": ["JOB"], "tid": "*"}
        )
        with pytest.raises(WorkbookError) as caught:
            api_client.plan(wrong, api_client.tableinfo("ERHV2"), _municipalities())
    assert str(caught.value) == (
        "params/queries.yml: ERHV2: table ERHV2: variable ENHED (enhed) has no value 'JOB'; it has ARBSTED, ANSATTE"
    )
    assert api.requests == []


def test_the_workbooks_own_queries_all_plan_within_the_limits():
    """Every query of params/queries.yml against the local API's tableinfo: CSV under the limit,
    every value known to the table."""
    from statbank_server import serve as serve_api

    with serve_api() as api:
        api_client = StatbankClient(api.url, retries=0, backoff=0)
        for query in load_queries():
            planned = api_client.plan(query, api_client.tableinfo(query.table), _municipalities())
            for body in planned.bodies:
                cells = 1
                for variable in body["variables"]:
                    cells *= len(variable["values"])
                assert body["format"] == "CSV" and cells <= 1_000_000, query.name

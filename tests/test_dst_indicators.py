"""The council's Statbank indicators end to end: `fetch` against a local Statbank API that serves
every table they need (TEST DATA, see statbank_server.py), ingest, an annual and a quarterly
run, and each indicator in the brief with the number, status and rank this test computes
itself from the test figures and the real population in the snapshot."""

from __future__ import annotations

import csv
import io
import json

import pytest
from bs4 import BeautifulSoup

from analysis.paths import SNAPSHOT_DIR

from conftest import copy_project, in_a_process, in_process
from statbank_server import HEDENSTED, figure, municipalities, serve

pytestmark = pytest.mark.e2e  # real runs in processes: `make test-fast` leaves them out

FETCHED = ["FOLK1A", "FAM44N", "ERHV2", "GF12", "DEMO19", "BY2"]
PLACES = {"capacity_daycare": {"2024": 2900, "2025": 3000}, "capacity_school": {"2024": 5700, "2025": 5800}}


def folk1am() -> dict[tuple[str, str], int]:
    """The real population by (kommunekode, month) from the snapshot, read with nothing but csv."""
    codes = {name: code for code, name in municipalities()}
    text = (SNAPSHOT_DIR / "statbank" / "FOLK1AM.csv").read_text(encoding="utf-8-sig")
    return {
        (codes[r["OMRÅDE"]], r["TID"]): int(r["INDHOLD"])
        for r in csv.DictReader(io.StringIO(text), delimiter=";")
        if r["OMRÅDE"] in codes
    }


def oplandskommuner() -> list[str]:
    text = (SNAPSHOT_DIR / "classifications" / "komgrp.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    start = next(i for i, r in enumerate(rows) if r["TITEL"] == "Oplandskommuner")
    group = []
    for row in rows[start + 1 :]:
        if row["NIVEAU"] == "1":
            break
        group.append(row["KODE"].zfill(3))
    return group


def rank(values: dict[str, float], kommune: str) -> tuple[int, int, float]:
    """Rank (highest first), group size and the others' mean."""
    ordered = sorted(values.values(), reverse=True)
    others = [v for k, v in values.items() if k != kommune]
    return ordered.index(values[kommune]) + 1, len(values), sum(others) / len(others)


def danish(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}".replace(",", "X").replace(".", ",").replace("X", ".")


@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    """A project copy with the Statbank tables fetched from the local API, manual places, and both runs."""
    tmp = tmp_path_factory.mktemp("dst")
    project = copy_project(tmp)
    with serve() as server:
        env = {"WORKBOOK_ROOT": str(project), "WORKBOOK_STATBANK_URL": server.url}

        def workbook(*args):
            return in_process(*args, cwd=project, env=env)

        # The fetch in a process of its own: here, it and the local API would share one interpreter lock.
        done = in_a_process("fetch", "--only", ",".join(FETCHED), cwd=project, env=env)
        assert done.returncode == 0, done.stderr
        requests = list(server.requests)
    rows = ["indicator;kommune;period;value;note"]
    rows += [
        f"{indicator};766;{year};{places};Pladsopgørelse (testfil)"
        for indicator, years in PLACES.items()
        for year, places in years.items()
    ]
    (project / "data/raw/manual/places.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    annual = workbook("run", "--cadence", "aar", "--period", "2024", "--only", "growth,community,udvalg-laering")
    assert annual.returncode == 0, annual.stderr
    quarterly = workbook("run", "--cadence", "kvartal", "--period", "2025K1", "--only", "growth")
    assert quarterly.returncode == 0, quarterly.stderr
    return project, requests


def _rows(project, path: str) -> dict[str, list[str]]:
    soup = BeautifulSoup((project / path).read_text(encoding="utf-8"), "html.parser")
    rows = soup.select("section.indicator-table tbody tr")
    return {
        row.th.get_text(" ", strip=True): [td.get_text(" ", strip=True) for td in row.find_all("td")] for row in rows
    }


def test_the_client_asks_for_what_the_indicators_need_within_dsts_limits(fetched):
    _project, requests = fetched
    assert sorted({r["table"] for r in requests}) == sorted(FETCHED)
    for request in requests:
        cells = 1
        for variable in request["variables"]:
            cells *= len(variable["values"])
        assert request["format"] == "CSV" and cells <= 1_000_000, request["table"]
    folk1a = next(r for r in requests if r["table"] == "FOLK1A")
    named = {v["code"]: v["values"] for v in folk1a["variables"]}
    assert named["KØN"] == ["TOT"] and named["CIVILSTAND"] == ["TOT"]
    assert named["ALDER"] == [str(a) for a in range(17)]
    assert len(named["OMRÅDE"]) == 98 and "000" not in named["OMRÅDE"]  # the municipalities only, never the regions


def test_fetched_files_carry_their_codes_and_the_test_data_mark(fetched):
    project, _requests = fetched
    version = (project / "data/raw/statbank/ERHV2.csv").resolve()
    meta = json.loads(version.with_name(version.name.split(".")[0] + ".meta.json").read_text(encoding="utf-8"))
    assert meta["footnote"].startswith("TESTDATA")
    enhed = next(v for v in meta["variables"] if v["text"] == "enhed")
    assert enhed["values"] == {"ARBSTED": "Arbejdssteder (antal)", "ANSATTE": "Job ultimo november (antal)"}


def test_every_statbank_indicator_shows_its_number_status_and_rank(fetched):
    project, _requests = fetched
    population = folk1am()
    group = oplandskommuner()
    rows = _rows(project, "outputs/766/2024/aar/briefs/growth.html")

    # Families with children: persons in families without children are exact (1 or 2 per family).
    def without_children(area: str, year: int) -> float:
        return sum(
            int(size)
            * figure("FAM44N", {"OMRÅDE": area, "FAMTYP": kind, "FAMSTOR": size, "ANTBOERN": "0", "Tid": str(year)})
            for kind in ("ENLM", "ENLK", "PAR", "REG", "SAM", "SAMB", "HJEM")
            for size in ("1", "2")
        )

    share = 100 * (1 - without_children(HEDENSTED, 2025) / population[(HEDENSTED, "2025M01")])
    share_2022 = 100 * (1 - without_children(HEDENSTED, 2022) / population[(HEDENSTED, "2022M01")])
    row = rows["Andel af befolkningen i børnefamilier"]
    assert row[0] == f"{danish(share, 1)}\u00a0% 1. jan. 2025"
    assert row[3] == (
        "✔ På rette vej" if share_2022 >= 55 else "✘ Ikke på rette vej"
    )  # the 2022 target, judged on 2022
    shares = {k: 100 * (1 - without_children(k, 2025) / population[(k, "2025M01")]) for k in group}
    position, size, mean = rank(shares, HEDENSTED)
    assert row[4] == f"Nr. {position} af {size}; gns. for de andre {danish(mean, 1)}\u00a0%"

    # Jobs and firms: counts, compared per 1,000 inhabitants at the end of the year.
    for name, table, cell, unit in (
        ("Arbejdspladser i kommunen", "ERHV2", {"BRANCHE07": "TOT", "ENHED": "ANSATTE"}, "job"),
        ("Virksomheder", "GF12", {"BRANCHE0710": "TOT"}, "virksomheder"),
    ):
        area = "OMRÅDE" if table == "ERHV2" else "KOMK"
        counts = {k: figure(table, {area: k, "Tid": "2023", **cell}) for k in group}
        per_1000 = {k: counts[k] / population[(k, "2024M01")] * 1000 for k in group}
        position, size, mean = rank(per_1000, HEDENSTED)
        row = rows[name]
        assert row[0] == f"{danish(counts[HEDENSTED], 0)}\u00a0{unit} 2023", name
        assert (
            row[4]
            == f"Nr. {position} af {size} pr. 1.000 indbyggere; gns. for de andre {danish(mean, 0 if mean >= 100 else 1)}"
        )
        assert row[3] == "? Usikkert" or row[3].endswith("På rette vej"), name  # 'flere': a trend test over the years

    # New firms per 1,000 inhabitants against the other municipalities of Region Midtjylland.
    midtjylland = [
        "615",
        "657",
        "661",
        "665",
        "671",
        "706",
        "707",
        "710",
        "727",
        "730",
        "740",
        "741",
        "746",
        "751",
        "756",
        "760",
        "766",
        "779",
        "791",
    ]
    rates = {
        k: figure("DEMO19", {"KOMK": k, "ENHED": "NYE", "Tid": "2023"}) / population[(k, "2024M01")] * 1000
        for k in midtjylland
    }
    position, size, mean = rank(rates, HEDENSTED)
    row = rows["Nye virksomheder pr. 1.000 indbyggere"]
    assert row[0] == f"{danish(rates[HEDENSTED], 1)}\u00a0pr. 1.000 indbyggere 2023"
    assert row[3] == "– Intet mål"
    assert (
        row[4]
        == f"Nr. {position} af {size} i Region Midtjylland; gns. for de andre {danish(mean, 1)}\u00a0pr. 1.000 indbyggere"
    )

    # Children against the places in the manual file, on 1 January 2025 (FOLK1A's 2025K1).
    for name, ages, indicator in (
        ("Børn pr. plads i dagtilbud", range(0, 6), "capacity_daycare"),
        ("Børn pr. plads i skolerne", range(6, 17), "capacity_school"),
    ):
        children = sum(
            figure("FOLK1A", {"OMRÅDE": HEDENSTED, "KØN": "TOT", "ALDER": str(a), "CIVILSTAND": "TOT", "Tid": "2025K1"})
            for a in ages
        )
        ratio = children / PLACES[indicator]["2025"] * 100
        assert rows[name][0] == f"{danish(ratio, 1)}\u00a0% 1. jan. 2025", name
        assert rows[name][3] == "– Intet mål"  # "i balance" has no number to judge against

    # Settlement: the share living in rural districts; children 0-17 in the towns.
    def by2(area: str, sizes, ages) -> float:
        return sum(
            figure("BY2", {"KOMK": area, "BYST": s, "ALDER": str(a), "KØN": k, "Tid": "2025"})
            for s in sizes
            for a in ages
            for k in ("M", "K")
        )

    all_sizes = ["HOVEDST", "100000", "50000", "20000", "10000", "5000", "2000", "1000", "500", "200", "LAND", "UFB"]
    rural = {k: 100 * by2(k, ["LAND"], range(100)) / by2(k, all_sizes, range(100)) for k in group}
    position, size, mean = rank(rural, HEDENSTED)
    assert rows["Andel, der bor i landdistrikter"][0] == f"{danish(rural[HEDENSTED], 1)}\u00a0% 1. jan. 2025"
    assert (
        rows["Andel, der bor i landdistrikter"][4]
        == f"Nr. {position} af {size} efter størrelse; gns. for de andre {danish(mean, 1)}\u00a0%"
    )
    community = _rows(project, "outputs/766/2024/aar/briefs/community.html")
    children = by2(HEDENSTED, all_sizes[:10], range(18))
    before = sum(
        figure("BY2", {"KOMK": HEDENSTED, "BYST": s, "ALDER": str(a), "KØN": k, "Tid": "2024"})
        for s in all_sizes[:10]
        for a in range(18)
        for k in ("M", "K")
    )
    assert community["Børn i byerne"][0] == f"{danish(children, 0)}\u00a0børn 1. jan. 2025"
    assert community["Børn i byerne"][1].startswith(f"+{danish(children - before, 0)}")


def test_a_committee_brief_has_numbers_now(fetched):
    project, _requests = fetched
    rows = _rows(project, "outputs/766/2024/aar/briefs/udvalg-laering.html")
    assert {"Andel af befolkningen i børnefamilier", "Børn pr. plads i dagtilbud", "Børn i byerne"} <= set(rows)
    assert all(not row[0].startswith("-") for row in rows.values())


def test_the_quarterly_brief_is_unchanged_by_the_annual_tables(fetched):
    project, _requests = fetched
    rows = _rows(project, "outputs/766/2025K1/kvartal/briefs/growth.html")
    assert rows["Folketal"][:3] == ["48.167 1. jan. 2025", "+213", "+442 (+0,9\u00a0%)"]


def test_a_suppressed_figure_is_shown_as_not_published(fetched, tmp_path):
    """Læsø's new firms in 2023 are `..` in the test table: the run goes on, and the brief says so."""
    project, _requests = fetched
    done = in_process(
        "run", "--cadence", "aar", "--period", "2024", "--only", "growth", "--kommune", "825", "--outputs", str(tmp_path),
        cwd=project, env={"WORKBOOK_ROOT": str(project)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = _rows(tmp_path, "825/2024/aar/briefs/growth.html")
    assert rows["Nye virksomheder pr. 1.000 indbyggere"][0] == "ikke offentliggjort 2023"

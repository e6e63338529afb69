"""The raw readers on the real snapshot, and on broken copies of it."""

from __future__ import annotations

import gzip
import shutil

import pytest

from analysis.data.sources.noegletal import read_noegletal_csv
from analysis.data.sources.statbank import read_statbank_csv
from analysis.errors import WorkbookError

from conftest import HEDENSTED


def test_komgrp_has_98_municipalities_in_five_groups(areas):
    assert len(areas.municipalities) == 98
    assert areas.groups == [
        "Hovedstadskommuner",
        "Storbykommuner",
        "Provinsbykommuner",
        "Oplandskommuner",
        "Landkommuner",
    ]
    assert areas.code_for("Hedensted") == HEDENSTED
    assert areas.group_of(HEDENSTED) == "Oplandskommuner"
    assert len(areas.members("Oplandskommuner")) == 24


def test_folk1am_reads_every_row_with_codes(snapshot, sources, areas):
    frame = read_statbank_csv(snapshot / "statbank/FOLK1AM.csv", sources.tables["FOLK1AM"], areas)
    assert len(frame) == 4410
    hedensted = frame[(frame["area"] == HEDENSTED) & (frame["period"] == "2025M01")]
    assert hedensted["value"].tolist() == [48167.0]
    assert set(frame["area"].astype(str)) >= {"000", "081", "085", "411", "101"}


def test_fly66_maps_til_and_fra_prefixes(snapshot, sources, areas):
    frame = read_statbank_csv(snapshot / "statbank/FLY66.csv.gz", sources.tables["FLY66"], areas)
    assert len(frame) == 970200
    young = frame[frame["alder"].astype(int).between(18, 36)]
    assert young.loc[young["area"] == HEDENSTED, "value"].sum() == 1431
    assert young.loc[young["origin"] == HEDENSTED, "value"].sum() == 1385


def test_ras200_has_decimal_comma_values(snapshot, sources, areas):
    frame = read_statbank_csv(snapshot / "statbank/RAS200.csv", sources.tables["RAS200"], areas)
    value = frame.loc[(frame["area"] == HEDENSTED) & (frame["period"] == "2021"), "value"]
    assert value.tolist() == [82.2]


def test_noegletal_reads_thousands_separator_and_codes(snapshot, areas):
    frame = read_noegletal_csv(snapshot / "noegletal/indbygger_data.csv", areas)
    assert len(frame) == 98 * 31
    hedensted = frame[frame["area"] == HEDENSTED].set_index("period")["value"]
    assert hedensted["2023"] == 47609
    assert hedensted["1993"] == 40013


def test_noegletal_area_has_decimal_comma(snapshot, areas):
    frame = read_noegletal_csv(snapshot / "noegletal/areal_data.csv", areas)
    assert frame.loc[(frame["area"] == HEDENSTED) & (frame["period"] == "2023"), "value"].tolist() == [551.0]
    assert frame.loc[(frame["area"] == "101") & (frame["period"] == "2023"), "value"].tolist() == [90.1]


FOLK1AM_HEAD = "\ufeffOMRÅDE;TID;INDHOLD\r\nHele landet;2021M10;5867412\r\nHedensted;2021M10;47047\r\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "\ufeffOMRAADE;TID;INDHOLD\r\nHedensted;2021M10;47047\r\n",
            "line 1: header OMRAADE;TID;INDHOLD; expected OMRÅDE;TID;INDHOLD",
        ),
        ("\ufeffOMRÅDE;INDHOLD\r\nHedensted;47047\r\n", "line 1: header OMRÅDE;INDHOLD"),
        (FOLK1AM_HEAD + "Horsens;2021M10;1.2\r\n", "line 4, column INDHOLD: '1.2'; expected a number"),
        (FOLK1AM_HEAD + "Horsens;2021M10;mange\r\n", "line 4, column INDHOLD: 'mange'"),
        (FOLK1AM_HEAD + "Horsens;2021M1", "line 4, column INDHOLD: empty cell (a truncated line?)"),
        (FOLK1AM_HEAD + "Horsens;2025M13;1\r\n", "line 4, column TID: '2025M13' is not a month like 2025M03"),
        (FOLK1AM_HEAD + "Atlantis;2021M10;1\r\n", "line 4, column OMRÅDE: unknown area 'Atlantis'"),
        (FOLK1AM_HEAD + "Hedensted;2021M10;47048\r\n", "lines 3 and 4: the same area/period appears twice"),
        (FOLK1AM_HEAD + "Horsens;2021M10;-5\r\n", "line 4, column INDHOLD: -5; a count cannot be negative"),
        ("", "the file is empty"),
        ("<!DOCTYPE html><html><body>503 Service Unavailable</body></html>", "holds an HTML page, not data"),
    ],
)
def test_broken_folk1am_gets_one_line_naming_file_and_place(tmp_path, sources, areas, content, expected):
    path = tmp_path / "FOLK1AM.csv"
    path.write_bytes(content.encode("utf-8"))
    with pytest.raises(WorkbookError) as caught:
        read_statbank_csv(path, sources.tables["FOLK1AM"], areas)
    message = str(caught.value)
    assert "FOLK1AM.csv" in message
    assert expected in message
    assert "\n" not in message


def test_latin1_file_is_named_as_wrong_encoding(tmp_path, sources, areas):
    path = tmp_path / "FOLK1AM.csv"
    path.write_bytes("OMRÅDE;TID;INDHOLD\r\nHedensted;2021M10;47047\r\n".encode("latin-1"))
    with pytest.raises(WorkbookError, match=r"FOLK1AM.csv: byte 3 is not valid utf-8"):
        read_statbank_csv(path, sources.tables["FOLK1AM"], areas)


def test_truncated_gzip_is_named(tmp_path, snapshot, sources, areas):
    data = (snapshot / "statbank/FLY66.csv.gz").read_bytes()
    path = tmp_path / "FLY66.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WorkbookError, match=r"FLY66.csv.gz: not a complete gzip file"):
        read_statbank_csv(path, sources.tables["FLY66"], areas)


def test_flow_area_without_prefix_is_rejected(tmp_path, sources, areas):
    path = tmp_path / "FLY66.csv"
    text = "\ufeffTILKOMMUNE;FRAKOMMUNE;ALDER;TID;INDHOLD\r\nTil Hedensted;Horsens;18 år;2024;3\r\n"
    path.write_bytes(text.encode("utf-8"))
    with pytest.raises(WorkbookError, match=r"line 2, column FRAKOMMUNE: unknown area 'Horsens'.*starting with 'Fra '"):
        read_statbank_csv(path, sources.tables["FLY66"], areas)


def test_gzip_of_good_text_reads(tmp_path, sources, areas):
    path = tmp_path / "FLY66.csv.gz"
    text = "\ufeffTILKOMMUNE;FRAKOMMUNE;ALDER;TID;INDHOLD\r\nTil Hedensted;Fra Horsens;18 år;2024;3\r\n"
    path.write_bytes(gzip.compress(text.encode("utf-8")))
    frame = read_statbank_csv(path, sources.tables["FLY66"], areas)
    assert frame.iloc[0][["area", "origin", "alder", "value"]].tolist() == ["766", "615", "18", 3.0]


def test_suppressed_cells_are_missing_values_not_errors(tmp_path, sources, areas):
    path = tmp_path / "FOLK1AM.csv"
    path.write_bytes((FOLK1AM_HEAD + "Horsens;2021M10;..\r\n").encode("utf-8"))
    frame = read_statbank_csv(path, sources.tables["FOLK1AM"], areas)
    horsens = frame[frame["area"] == "615"].iloc[0]
    assert bool(horsens["suppressed"]) and horsens["value"] != horsens["value"]  # NaN
    assert not frame.loc[frame["area"] == HEDENSTED, "suppressed"].any()


def test_noegletal_bad_cell_and_unknown_code(tmp_path, snapshot, areas):
    good = (snapshot / "noegletal/indbygger_data.csv").read_bytes().decode("latin-1")
    bad_value = tmp_path / "indbygger_data.csv"
    bad_value.write_bytes(good.replace("47.609", "47,609,1").encode("latin-1"))
    with pytest.raises(WorkbookError, match=r"indbygger_data.csv line \d+, column 2023: '47,609,1'"):
        read_noegletal_csv(bad_value, areas)
    bad_code = tmp_path / "codes.csv"
    bad_code.write_bytes(good.replace(";766;", ";799;").encode("latin-1"))
    with pytest.raises(WorkbookError, match=r"codes.csv line \d+, column Kom.nr: '799' is not a municipality code"):
        read_noegletal_csv(bad_code, areas)


def test_missing_table_says_which_and_how_to_get_it(tmp_path, snapshot):
    from analysis.data.ingest import resolve_inputs
    from analysis.data.processed import data_location

    shutil.copytree(snapshot / "classifications", tmp_path / "classifications")
    with pytest.raises(WorkbookError) as caught:
        resolve_inputs(data_location(tmp_path))
    message = str(caught.value)
    assert message.startswith("table FOLK1AM (Befolkningen den 1. i måneden) is missing: no statbank/FOLK1AM.csv in")
    assert "download it to data/raw/statbank/FOLK1AM.csv" in message

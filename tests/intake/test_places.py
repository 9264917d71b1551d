"""Places: schools, communes and villages as schools and communes write them become the official names and codes,
in the normalized students frame."""

from __future__ import annotations

import pytest

from flows.config import load_config
from flows.intake.normalize import normalize_students
from tests.intake.builders import raw_students, student


@pytest.fixture(scope="module")
def cfg():
    return load_config()


@pytest.mark.parametrize(("fields", "list_type", "unit", "school", "commune"), [
    ({}, "school", "TH-06388", "TH-06388", "06388"),  # the reporting school and its commune
    ({"school": "TH Yên Bình"}, "school", "TH-06388", "TH-06391", "06391"),
    ({"school": "Trường Tiểu học Yên Bình"}, "commune", "06391", "TH-06391", "06391"),
    ({"school": "THCS Yên Bình", "grade": 7}, "commune", "06391", "THCS-06391", "06391"),
    ({"school": "Yên Bình", "grade": 7}, "commune", "06391", "THCS-06391", "06391"),  # level from the grade
    ({"school": "Yên Bình", "grade": 2}, "commune", "06391", "TH-06391", "06391"),
    ({"school": "trường th yen binh"}, "commune", "06391", "TH-06391", "06391"),
    ({"school": "TH Yên Bìh"}, "commune", "06391", "TH-06391", "06391"),  # a typo
    ({"school": "Trường TH Kim Đồng"}, "commune", "06391", "", "06391"),  # not in the district
    ({"school": "Trường TH Kim Đồng"}, "school", "TH-06388", "TH-06388", "06388"),
    ({"commune": "Xã Hòa Bình"}, "school", "TH-06388", "TH-06388", "06397"),  # lives in another commune
    ({"commune": "hoà bình"}, "school", "TH-06388", "TH-06388", "06397"),
    ({"commune": "Thị trấn Hữu Lũng"}, "school", "TH-06388", "TH-06388", "06385"),
    ({"commune": "TT Hữu Lũng"}, "school", "TH-06388", "TH-06388", "06385"),
    ({"commune": "Xã Quang Lang"}, "school", "TH-06388", "TH-06388", ""),  # outside the district
    ({}, "commune", "06460", "", "06460"),
    # a commune's list names where the child lives, even when the school is in another commune
    ({"school": "TH Hòa Sơn"}, "commune", "06442", "TH-06445", "06442"),
    ({}, "", "", "", ""),
])
def test_school_and_commune(cfg, fields, list_type, unit, school, commune):
    row = normalize_students(raw_students([fields], list_type=list_type, unit_code=unit), cfg).iloc[0]
    assert (row["school_code"], row["commune_code"]) == (school, commune)
    if school:
        assert row["school"] == cfg.district.school_by_code[school].name
    if commune:
        assert row["commune"] == cfg.district.commune_by_code[commune].name
    else:
        assert row["commune"] == ""


@pytest.mark.parametrize(("value", "village"), [
    ("Thôn Bãi Hào", "Thôn Bãi Hào"), ("Bãi Hào", "Thôn Bãi Hào"), ("bãi hào", "Thôn Bãi Hào"),
    ("Thon Bai Hao", "Thôn Bãi Hào"), ("Xóm Bãi Hào", "Thôn Bãi Hào"), ("BÃI HÀO", "Thôn Bãi Hào"),
    ("Bãi Hầo", "Thôn Bãi Hào"), ("Thôn Bãi Hàoo", "Thôn Bãi Hào"), ("Đồng Ngầu", "Thôn Đồng Ngầu"),
    ("Thôn Bãi Hào, xã Hữu Liên, huyện Hữu Lũng", "Thôn Bãi Hào"),
    ("Th«n §ång Giang", "Thôn Đồng Giang"),  # TCVN3
    ("Thôn Nà Pàn", "Thôn Nà Pàn"),  # not on the list: the cleaned text
    ("Làng Mới", "Thôn Làng Mới"), ("Đồng Tuấn", "Đồng Tuấn"),  # Hữu Liên has Đồng Quan, not Đồng Tuấn
    ("Khu Bãi Hào", "Thôn Bãi Hào"), ("Bai Hao", "Thôn Bãi Hào"),
    ("THÔN NÀ PÀN", "Thôn Nà Pàn"), ("thôn Nà Pàn", "Thôn Nà Pàn"), ("Nà Pàn", "Nà Pàn"), ("", ""),
])
def test_villages(cfg, value, village):
    assert student(cfg, village=value)["village"] == village


def test_address_gives_the_commune_when_there_is_no_commune_column(cfg):
    raw = raw_students([{"village": "Thôn Khuôn Nang, xã Yên Bình"}], list_type="", unit_code="")
    row = normalize_students(raw, cfg)
    assert (row.iloc[0]["commune_code"], row.iloc[0]["village"]) == ("06391", "Thôn Khuôn Nang")


def test_village_of_an_unknown_commune_is_kept_as_written(cfg):
    row = normalize_students(raw_students([{"village": "thôn bãi hào"}], list_type="", unit_code=""), cfg).iloc[0]
    assert row["village"] == "Thôn Bãi Hào" and row["commune_code"] == ""



def test_a_village_numbered_in_words_is_the_village_numbered_in_digits(cfg):
    """"Thôn Ba" is the official "Thôn 3" (and "Khu Năm" "Khu 5"); "Nà Ba" and an unmarked "Nam" stay names."""
    from flows.intake.places import Places

    communes = [c.model_copy(update={"villages": [*c.villages, "Thôn 3", "Khu 5", "Thôn Nà Ba"]})
                if c.code == "06388" else c for c in cfg.district.communes]
    places = Places(cfg.model_copy(update={"district": cfg.district.model_copy(update={"communes": communes})}))
    for written, official in (("Thôn Ba", "Thôn 3"), ("thôn 03", "Thôn 3"), ("Ba", "Thôn 3"), ("Khu Năm", "Khu 5"),
                              ("Nà Ba", "Thôn Nà Ba"), ("Thôn Bãi Hào", "Thôn Bãi Hào")):
        assert places.village(written, "06388") == official, written
    assert places.village("Thôn Nam", "06388") == "Thôn Nam"  # south, or five without its marks: as written

"""Normalize: raw cells as schools write them become typed, official values."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pandas as pd
import pytest

from flows.intake import layout
from flows.config import load_config
from flows.frames import (
    CONNECTIVITY_COLUMNS, DONATION_COLUMNS, HANDOVER_COLUMNS, STUDENT_COLUMNS, SheetGrid, SourceData,
)
from flows.intake.legacy_fonts import encode
from flows.intake.normalize import normalize_connectivity, normalize_donations, normalize_handover, normalize_students


@pytest.fixture(scope="module")
def cfg():
    return load_config()


def _raw(rows: list[dict], list_type: str = "school", unit_code: str = "TH-06388") -> pd.DataFrame:
    records = []
    for i, row in enumerate(rows):
        records.append({"source_id": "s", "source_file": "truong/a.xlsx", "source_sheet": "DS",
                        "source_row": 5 + i, "list_type": list_type, "unit_code": unit_code,
                        "full_name": "Nguyễn Văn An", **row})
    columns = list(dict.fromkeys(k for r in records for k in r))
    return pd.DataFrame([[r.get(c) for c in columns] for r in records], columns=columns, dtype=object)


def _one(cfg, **fields) -> pd.Series:
    return normalize_students(_raw([fields]), cfg).iloc[0]


def test_columns_and_types(cfg):
    out = normalize_students(_raw([{"grade": "3A", "date_of_birth": "2012"}]), cfg)
    assert list(out.columns[: len(STUDENT_COLUMNS)]) == STUDENT_COLUMNS
    assert {f"raw_{f}" for f in ("full_name", "date_of_birth", "grade", "category", "phone")} <= set(out.columns)
    assert "formula_like" in out.columns
    assert str(out["grade"].dtype) == "Int64" and str(out["birth_year"].dtype) == "Int64"
    assert out["lacks_device"].dtype == bool and out["source_row"].dtype.kind == "i"
    empty = normalize_students(pd.DataFrame(), cfg)
    assert list(empty.columns[: len(STUDENT_COLUMNS)]) == STUDENT_COLUMNS and empty.empty


@pytest.mark.parametrize(("value", "iso", "year"), [
    (dt.datetime(2012, 9, 5), "2012-09-05", 2012),
    (dt.date(2012, 9, 5), "2012-09-05", 2012),
    (pd.Timestamp("2012-09-05"), "2012-09-05", 2012),
    (41157, "2012-09-05", 2012),  # Excel serial number
    (41157.0, "2012-09-05", 2012),
    (41157.75, "2012-09-05", 2012),
    ("41157", "2012-09-05", 2012),  # a serial that arrived as text
    (59, "1900-02-28", 1900),  # before Excel's phantom 29 February 1900
    (61, "1900-03-01", 1900),
    ("05/09/2012", "2012-09-05", 2012),
    ("5/9/2012", "2012-09-05", 2012),
    (" 05 / 09 / 2012 ", "2012-09-05", 2012),
    ("5-9-12", "2012-09-05", 2012),
    ("05-09-2012", "2012-09-05", 2012),
    ("5.9.2012", "2012-09-05", 2012),
    ("2012-09-05", "2012-09-05", 2012),
    ("2012/9/5", "2012-09-05", 2012),
    ("05092012", "2012-09-05", 2012),
    ("20120905", "2012-09-05", 2012),  # year first, as FEBRL and many registers write it
    ("5-Sep-2012", "2012-09-05", 2012),
    ("Sep 5, 2012", "2012-09-05", 2012),
    ("5 September 2012", "2012-09-05", 2012),
    ("September 5th, 2012", "2012-09-05", 2012),
    ("5 Sepx 2012", "", None),
    ("5/9/2012 0:00:00", "2012-09-05", 2012),
    ("ngày 5 tháng 9 năm 2012", "2012-09-05", 2012),
    ("9/25/2012", "2012-09-25", 2012),  # month first: the only reading that is a date
    ("29/02/2012", "2012-02-29", 2012),
    ("2012", "", 2012),  # a year alone
    (2012, "", 2012),
    (2012.0, "", 2012),
    ("09/2012", "", 2012),
    ("31/02/2012", "", None),
    ("30/13/2012", "", None),
    ("không rõ", "", None),
    ("", "", None),
    (None, "", None),
])
def test_dates(cfg, value, iso, year):
    row = _one(cfg, date_of_birth=value)
    assert row["date_of_birth"] == iso
    assert (None if pd.isna(row["birth_year"]) else row["birth_year"]) == year


def test_unreadable_date_keeps_raw_text(cfg):
    row = _one(cfg, date_of_birth="31/02/2012")
    assert row["date_of_birth"] == "" and row["raw_date_of_birth"] == "31/02/2012"
    assert _one(cfg, date_of_birth=dt.datetime(2012, 9, 5))["raw_date_of_birth"] == "05/09/2012"


@pytest.mark.parametrize(("value", "grade"), [
    ("3A", 3), ("3a", 3), ("3 A", 3), ("Lớp 7", 7), ("lớp 6B", 6), ("LỚP 9A1", 9), ("7", 7), (7, 7), (7.0, 7),
    ("7.0", 7), ("Khối 8", 8), ("khối lớp 5", 5), ("6/1", 6), ("6A2", 6), ("10", 10), (12, 12), ("Lớp ba", 3),
    ("lớp Năm", 5), ("Năm", 5), ("lop nam", 5), ("Nam", None), ("nam", None), ("L\u00edp 4", 4),  # TCVN3 "Líp" reads as a Unicode word; the number still counts
    ("III", 3), ("Lớp VI", 6), ("lớp ix", 9), ("XI", 11), ("Lớp V", 5), ("x", None), ("v", None),
    ("abc", None), ("", None), (None, None), (3.5, None), ("Mẫu giáo", None),
])
def test_grades(cfg, value, grade):
    got = _one(cfg, grade=value)["grade"]
    assert (None if pd.isna(got) else got) == grade


@pytest.mark.parametrize(("value", "phone"), [
    ("0912345678", "0912345678"), ("0912 345 678", "0912345678"), ("0912.345.678", "0912345678"),
    ("0912-345-678", "0912345678"), ("(0912) 345678", "0912345678"), ("+84 912 345 678", "0912345678"),
    ("+84912345678", "0912345678"), ("84912345678", "0912345678"), ("912345678", "0912345678"),
    (912345678, "0912345678"), (912345678.0, "0912345678"), ("01662345678", "0362345678"),
    (1662345678, "0362345678"), ("0912345678 / 0987654321", "0912345678"),
    ("0912345678 hoặc 0987654321", "0912345678"), ("ĐT: 0912 345 678", "0912345678"),
    ("02053 845 123", "02053845123"), ("123", "123"), ("", ""), (None, ""), ("không có", ""),
])
def test_phones(cfg, value, phone):
    assert _one(cfg, phone=value)["phone"] == phone


@pytest.mark.parametrize(("fields", "sex"), [
    ({"sex": "Nam"}, "M"), ({"sex": "NỮ"}, "F"), ({"sex": "nu"}, "F"), ({"sex": "nữ "}, "F"),
    ({"sex": "Trai"}, "M"), ({"sex": "gái"}, "F"), ({"sex": "?"}, ""), ({"sex": ""}, ""),
    ({"sex_female": "x", "sex_male": ""}, "F"), ({"sex_female": "", "sex_male": "X"}, "M"),
    ({"sex_female": "x", "sex_male": "x"}, ""), ({"sex_female": "", "sex_male": ""}, ""),
    ({"sex_female": "x"}, "F"), ({"sex_female": ""}, "M"),  # only a "Nữ" column: unmarked is a boy
    ({"sex_female": "Nữ"}, "F"), ({"sex": "Nam", "sex_female": "x"}, "M"),
])
def test_sex(cfg, fields, sex):
    assert _one(cfg, **fields)["sex"] == sex


@pytest.mark.parametrize(("fields", "category"), [
    ({"category": "Hộ nghèo"}, "poor"), ({"category": "HN"}, "poor"), ({"category": "nghèo"}, "poor"),
    ({"category": "Hộ cận nghèo"}, "near_poor"), ({"category": "cận nghèo"}, "near_poor"),
    ({"category": "HCN"}, "near_poor"), ({"category": "Mồ côi do COVID-19"}, "covid_orphan"),
    ({"category": "Con có bố/mẹ tử vong do Covid"}, "covid_orphan"), ({"category": "Khó khăn"}, "none"),
    ({"category": "Hoàn cảnh khó khăn"}, "none"), ({"category": ""}, "none"),
    ({"category": "Cận nghèo, mồ côi do covid"}, "near_poor"), ({"category": "Hộ nghèo; cận nghèo"}, "poor"),
    ({"category": "Gia đình chính sách"}, "none"),  # unknown text: none, raw kept for a warning
    ({"category": encode("Hộ cận nghèo", "tcvn3")}, "near_poor"),
    ({"category_poor": "x"}, "poor"), ({"category_near_poor": "x"}, "near_poor"),
    ({"category_covid_orphan": "x"}, "covid_orphan"), ({"category_other": "x"}, "none"),
    ({"category_poor": "x", "category_near_poor": "x"}, "poor"),
    ({"category_covid_orphan": "x", "category_near_poor": "x"}, "near_poor"),
    ({"category_covid_orphan": "x", "category_other": "x"}, "covid_orphan"),
    ({"category_poor": "0", "category_near_poor": ""}, "none"),
    ({"category": "Cận nghèo", "category_poor": "x"}, "poor"),
])
def test_categories(cfg, fields, category):
    assert _one(cfg, **fields)["category"] == category


def test_unknown_category_text_is_kept(cfg):
    row = _one(cfg, category="Gia đình chính sách")
    assert row["category"] == "none" and row["raw_category"] == "Gia đình chính sách"
    assert _one(cfg, category_poor="x")["raw_category"] == ""


@pytest.mark.parametrize(("value", "expected"), [
    ("x", True), ("X", True), (" x ", True), ("có", True), ("1", True), (1, True), (True, True), ("✓", True),
    ("Chưa có", True), ("chưa có máy tính", True), ("không", False), ("0", False), (0, False), ("", False),
    (None, False), ("đã có", False), ("Đã có điện thoại", False), ("-", False), (False, False),
])
def test_need_marks(cfg, value, expected):
    row = _one(cfg, lacks_device=value, lacks_internet=value)
    assert bool(row["lacks_device"]) is expected
    assert bool(row["lacks_internet"]) is expected


@pytest.mark.parametrize(("value", "name", "parts"), [
    ("Nguyễn Văn An", "Nguyễn Văn An", ("Nguyễn", "Văn", "An")),
    ("NGUYỄN  VĂN   AN", "Nguyễn Văn An", ("Nguyễn", "Văn", "An")),
    ("nguyễn thị ánh", "Nguyễn Thị Ánh", ("Nguyễn", "Thị", "Ánh")),
    ("  Lê Thị Hà. ", "Lê Thị Hà", ("Lê", "Thị", "Hà")),
    ("Hoàng\u00a0Thị  Ngọc Ánh", "Hoàng Thị Ngọc Ánh", ("Hoàng", "Thị Ngọc", "Ánh")),
    (unicodedata.normalize("NFD", "Đặng Thuỳ Dương"), "Đặng Thùy Dương", ("Đặng", "Thùy", "Dương")),  # one tone placement
    ("NguyÔn V¨n §øc", "Nguyễn Văn Đức", ("Nguyễn", "Văn", "Đức")),  # TCVN3
    ("NGUYÔN THÞ H¦¥NG", "Nguyễn Thị Hương", ("Nguyễn", "Thị", "Hương")),  # TCVN3 in .VnTimeH capitals
    ("Nguyeãn Vaên Ñöùc", "Nguyễn Văn Đức", ("Nguyễn", "Văn", "Đức")),  # VNI
    ("Lò", "Lò", ("", "", "Lò")),
    ("", "", ("", "", "")),
])
def test_names(cfg, value, name, parts):
    row = _one(cfg, full_name=value)
    assert row["full_name"] == name
    assert unicodedata.is_normalized("NFC", row["full_name"])
    assert (row["family_name"], row["middle_name"], row["given_name"]) == parts


def test_guardian_national_id_and_formula_like_text(cfg):
    row = _one(cfg, guardian_name="TRẦN VĂN BỐ", national_id=20212345678.0, phone="+84912345678",
               note="=HYPERLINK(\"http://x\")", full_name="@Nguyễn Văn An")
    assert row["guardian_name"] == "Trần Văn Bố"
    assert row["national_id"] == "020212345678"  # a 12-digit CCCD that lost its leading 0 in Excel
    assert row["note"] == "=HYPERLINK(\"http://x\")"  # kept literally, flagged for a warning
    assert row["raw_full_name"] == "@Nguyễn Văn An"
    assert row["formula_like"] == ["full_name", "note"]
    assert _one(cfg, national_id="020 212 345 678")["national_id"] == "020212345678"
    assert _one(cfg, lacks_device="-")["formula_like"] == []


# --- Places ---------------------------------------------------------------------------------------------------
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
    row = normalize_students(_raw([fields], list_type=list_type, unit_code=unit), cfg).iloc[0]
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
    assert _one(cfg, village=value)["village"] == village


def test_address_gives_the_commune_when_there_is_no_commune_column(cfg):
    row = normalize_students(_raw([{"village": "Thôn Khuôn Nang, xã Yên Bình"}], list_type="", unit_code=""), cfg)
    assert (row.iloc[0]["commune_code"], row.iloc[0]["village"]) == ("06391", "Thôn Khuôn Nang")


def test_village_of_an_unknown_commune_is_kept_as_written(cfg):
    row = normalize_students(_raw([{"village": "thôn bãi hào"}], list_type="", unit_code=""), cfg).iloc[0]
    assert row["village"] == "Thôn Bãi Hào" and row["commune_code"] == ""


# --- End to end from a grid -----------------------------------------------------------------------------------
def test_layout_then_normalize(cfg):
    rows = [
        ["UBND XÃ YÊN BÌNH"],
        ["STT", "Họ và tên", "Ngày sinh", "Giới tính", "Trường", "Lớp", "Thôn", "Đối tượng", "Chưa có thiết bị",
         "Chưa có Internet", "SĐT"],
        [1, "LƯƠNG THỊ HẠNH", dt.datetime(2013, 4, 2), "Nữ", "TH Yên Bình", "3A", "Khuôn Nang", "Hộ nghèo", "x", None,
         912345678],
        [2, "Nguyeãn Vaên Ñöùc", "12/11/2009", "Nam", "THCS Yên Bình", "Lớp 7", "cầu ngầm", "cận nghèo", None, "x",
         "0987.654.321"],
    ]
    grid = SheetGrid("DS", [r + [None] * (11 - len(r)) for r in rows])
    raw = layout.extract(SourceData("xa/yb.xlsx", "xa/yb.xlsx", sheets=[grid]), cfg).tables["students"]
    out = normalize_students(raw, cfg)
    assert list(out["full_name"]) == ["Lương Thị Hạnh", "Nguyễn Văn Đức"]
    assert list(out["date_of_birth"]) == ["2013-04-02", "2009-11-12"]
    assert list(out["sex"]) == ["F", "M"]
    assert list(out["school_code"]) == ["TH-06391", "THCS-06391"]
    assert list(out["commune"]) == ["Xã Yên Bình", "Xã Yên Bình"]
    assert list(out["village"]) == ["Thôn Khuôn Nang", "Thôn Cầu Ngầm"]
    assert list(out["grade"]) == [3, 7]
    assert list(out["category"]) == ["poor", "near_poor"]
    assert list(out["lacks_device"]) == [True, False] and list(out["lacks_internet"]) == [False, True]
    assert list(out["phone"]) == ["0912345678", "0987654321"]
    assert list(out["source_row"]) == [3, 4] and set(out["list_type"]) == {"commune"}


# --- Donations, connectivity, handover -----------------------------------------------------------------------
def _rows(kind: str, rows: list[dict], unit_code: str = "") -> pd.DataFrame:
    records = [{"source_id": f"{kind}.xlsx", "source_file": f"{kind}.xlsx", "source_sheet": "S", "source_row": 3 + i,
                "list_type": "", "unit_code": unit_code, **r} for i, r in enumerate(rows)]
    columns = list(dict.fromkeys(k for r in records for k in r))
    return pd.DataFrame([[r.get(c) for c in columns] for r in records], columns=columns, dtype=object)


@pytest.mark.parametrize(("value", "amount"), [
    (50000000, 50_000_000), (50000000.0, 50_000_000), ("50.000.000", 50_000_000), ("50,000,000 đ", 50_000_000),
    ("50.000.000 VNĐ", 50_000_000), ("50 000 000", 50_000_000), ("50.000.000,00", 50_000_000),
    ("50 triệu", 50_000_000), ("1,5 tỷ", 1_500_000_000), ("2.5 triệu đồng", 2_500_000), ("500k", 500_000),
    ("", None), (None, None), ("không", None),
])
def test_donation_amounts(cfg, value, amount):
    out = normalize_donations(_rows("tai-tro", [{"donor": "A", "kind": "Tiền mặt", "amount_vnd": value}]), cfg)
    got = out.iloc[0]["amount_vnd"]
    assert (None if pd.isna(got) else got) == amount


@pytest.mark.parametrize(("kind", "expected"), [
    ("Tiền mặt", "cash"), ("Chuyển khoản", "cash"), ("Ngân sách nhà nước", "budget"), ("Quỹ khuyến học", "budget"),
    ("Máy tính để bàn", "desktop"), ("Laptop", "laptop"), ("Máy tính xách tay Dell", "laptop"),
    ("Máy tính bảng", "tablet"), ("iPad", "tablet"), ("Điện thoại thông minh", "smartphone"),
    ("Gói cước Internet 12 tháng", "internet_package"), ("SIM 4G", "internet_package"), ("Sách vở", ""),
])
def test_donation_kinds(cfg, kind, expected):
    out = normalize_donations(_rows("tai-tro", [{"donor": "A", "kind": kind, "quantity": 10}]), cfg)
    assert out.iloc[0]["kind"] == expected


def test_donations(cfg):
    raw = _rows("tai-tro", [
        {"donation_id": "", "donor": " Viettel  Lạng Sơn ", "date": dt.datetime(2021, 12, 20), "kind": "Máy tính bảng",
         "quantity": "50 chiếc", "amount_vnd": "", "status": "", "earmark": "Trường TH Hữu Liên"},
        {"donation_id": "TT-07", "donor": "Công ty A", "date": "05/01/2022", "kind": "", "quantity": "",
         "amount_vnd": "100.000.000", "status": "Cam kết", "earmark": "Học sinh xã Yên Bình"},
        {"donation_id": "", "donor": "Hội phụ nữ", "date": "", "kind": "Tiền mặt", "quantity": 3,
         "amount_vnd": 20000000, "status": "Đã nhận", "earmark": ""},
    ])
    out = normalize_donations(raw, cfg)
    assert list(out.columns[: len(DONATION_COLUMNS)]) == DONATION_COLUMNS
    a, b, c = (out.iloc[i] for i in range(3))
    assert (a["donor"], a["date"], a["kind"], a["quantity"], a["status"]) == (
        "Viettel Lạng Sơn", "2021-12-20", "tablet", 50, "received")
    assert pd.isna(a["amount_vnd"])
    assert (a["earmark_school_code"], a["earmark_commune_code"], a["earmark_text"]) == ("TH-06388", "",
                                                                                        "Trường TH Hữu Liên")
    assert (b["donation_id"], b["kind"], b["amount_vnd"], b["status"]) == ("TT-07", "cash", 100_000_000, "pledged")
    assert (b["earmark_commune_code"], b["earmark_school_code"]) == ("06391", "")
    assert c["kind"] == "cash" and pd.isna(c["quantity"])  # cash has no unit count
    assert a["donation_id"].startswith("TT-") and a["donation_id"] != c["donation_id"]
    # the generated id depends on the content, not on the row number
    moved = raw.copy()
    moved["source_row"] = moved["source_row"] + 10
    assert list(normalize_donations(moved, cfg)["donation_id"]) == list(out["donation_id"])


def test_connectivity(cfg):
    raw = _rows("ha-tang", [
        {"commune": "", "village": "Bãi Hào", "has_3g": "x", "has_4g": "Có", "has_fibre": "Chưa có", "households": 85},
        {"commune": "", "village": "thôn đồng mới", "has_3g": "x", "has_4g": "không", "has_fibre": "",
         "households": ""},
        {"commune": "Xã Yên Bình", "village": "Khuôn Nang", "has_3g": "", "has_4g": "x", "has_fibre": "x"},
    ], unit_code="06388")
    out = normalize_connectivity(raw, cfg)
    assert list(out.columns[: len(CONNECTIVITY_COLUMNS)]) == CONNECTIVITY_COLUMNS
    assert list(out["commune_code"]) == ["06388", "06388", "06391"]
    assert list(out["village"]) == ["Thôn Bãi Hào", "Thôn Đồng Mới", "Thôn Khuôn Nang"]
    assert list(out["has_3g"]) == [True, True, False]
    assert list(out["has_4g"]) == [True, False, True]
    assert list(out["has_fibre"]) == [False, False, True]


def test_connectivity_commune_from_the_sheet_name(cfg):
    raw = _rows("ha-tang", [{"village": "Cầu Ngầm", "has_4g": "x"}])
    raw["source_sheet"] = "Xã Quyết Thắng"
    out = normalize_connectivity(raw, cfg)
    assert (out.iloc[0]["commune_code"], out.iloc[0]["village"]) == ("06394", "Thôn Cầu Ngầm")


def test_handover(cfg):
    raw = _rows("ban-giao", [{"person_id": "P-000123", "full_name": "NGUYỄN VĂN AN", "date_of_birth": "05/09/2012",
                              "school": "TH Hữu Liên", "item": "Máy tính bảng", "serial": 123456789012.0,
                              "handover_date": dt.datetime(2022, 1, 5), "received_by": "nguyễn văn bố",
                              "donation_id": "TT-07"}])
    out = normalize_handover(raw, cfg)
    assert list(out.columns[: len(HANDOVER_COLUMNS)]) == HANDOVER_COLUMNS
    row = out.iloc[0]
    assert (row["person_id"], row["full_name"], row["date_of_birth"], row["school"], row["item"]) == (
        "P-000123", "Nguyễn Văn An", "2012-09-05", "Trường TH Hữu Liên", "tablet")
    assert (row["serial"], row["handover_date"], row["received_by"], row["donation_id"]) == (
        "123456789012", "2022-01-05", "Nguyễn Văn Bố", "TT-07")


def test_frames_from_several_sources_concatenated(cfg):
    """Columns missing in one source are NaN after concat: absent, not empty."""
    a = _raw([{"sex_female": "x"}])
    b = _raw([{"sex": "Nam"}])
    out = normalize_students(pd.concat([a, b], ignore_index=True), cfg)
    assert list(out["sex"]) == ["F", "M"]

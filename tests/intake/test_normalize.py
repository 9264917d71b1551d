"""Normalize: raw cells as schools write them become typed, official values."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from flows.intake import layout
from flows.config import load_config
from flows.frames import (
    CONNECTIVITY_COLUMNS, DONATION_COLUMNS, HANDOVER_COLUMNS, STUDENT_COLUMNS, SheetGrid, SourceData,
)
from flows.intake.normalize import normalize_connectivity, normalize_donations, normalize_handover, normalize_students
from tests.intake.builders import raw_students, raw_table, student


@pytest.fixture(scope="module")
def cfg():
    return load_config()


def test_columns_and_types(cfg):
    out = normalize_students(raw_students([{"grade": "3A", "date_of_birth": "2012"}]), cfg)
    assert list(out.columns[: len(STUDENT_COLUMNS)]) == STUDENT_COLUMNS
    assert {f"raw_{f}" for f in ("full_name", "date_of_birth", "grade", "category", "phone")} <= set(out.columns)
    assert "formula_like" in out.columns
    assert str(out["grade"].dtype) == "Int64" and str(out["birth_year"].dtype) == "Int64"
    assert out["lacks_device"].dtype == bool and out["source_row"].dtype.kind == "i"
    empty = normalize_students(pd.DataFrame(), cfg)
    assert list(empty.columns[: len(STUDENT_COLUMNS)]) == STUDENT_COLUMNS and empty.empty


def test_unreadable_date_keeps_raw_text(cfg):
    row = student(cfg, date_of_birth="31/02/2012")
    assert row["date_of_birth"] == "" and row["raw_date_of_birth"] == "31/02/2012"
    assert student(cfg, date_of_birth=dt.datetime(2012, 9, 5))["raw_date_of_birth"] == "05/09/2012"


def test_unknown_category_text_is_kept(cfg):
    row = student(cfg, category="Gia đình chính sách")
    assert row["category"] == "none" and row["raw_category"] == "Gia đình chính sách"
    assert student(cfg, category_poor="x")["raw_category"] == ""


def test_guardian_national_id_and_formula_like_text(cfg):
    row = student(cfg, guardian_name="TRẦN VĂN BỐ", national_id=20212345678.0, phone="+84912345678",
                  note="=HYPERLINK(\"http://x\")", full_name="@Nguyễn Văn An")
    assert row["guardian_name"] == "Trần Văn Bố"
    assert row["national_id"] == "020212345678"  # a 12-digit CCCD that lost its leading 0 in Excel
    assert row["note"] == "=HYPERLINK(\"http://x\")"  # kept literally, flagged for a warning
    assert row["raw_full_name"] == "@Nguyễn Văn An"
    assert row["formula_like"] == ["full_name", "note"]
    assert student(cfg, national_id="020 212 345 678")["national_id"] == "020212345678"
    assert student(cfg, lacks_device="-")["formula_like"] == []


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
def test_donations(cfg):
    raw = raw_table("tai-tro", [
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
    raw = raw_table("ha-tang", [
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
    raw = raw_table("ha-tang", [{"village": "Cầu Ngầm", "has_4g": "x"}])
    raw["source_sheet"] = "Xã Quyết Thắng"
    out = normalize_connectivity(raw, cfg)
    assert (out.iloc[0]["commune_code"], out.iloc[0]["village"]) == ("06394", "Thôn Cầu Ngầm")


def test_handover(cfg):
    raw = raw_table("ban-giao", [{"person_id": "P-000123", "full_name": "NGUYỄN VĂN AN", "date_of_birth": "05/09/2012",
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
    a = raw_students([{"sex_female": "x"}])
    b = raw_students([{"sex": "Nam"}])
    out = normalize_students(pd.concat([a, b], ignore_index=True), cfg)
    assert list(out["sex"]) == ["F", "M"]

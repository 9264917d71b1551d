"""Stage 7 — publish: run folder, CSV contract, manifest, workbooks read back with openpyxl and python-calamine."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from flows.config import load_config
from flows.frames import ALLOCATION_EXPORT_COLUMNS, ISSUE_COLUMNS, STUDENT_EXPORT_COLUMNS, RunResult, SourceReport
from flows.publishing.district import NO_REVIEW_PAIRS
from flows.publishing.publish import publish
from flows.publishing.workbook import HEADER_ROW, SHEETS, VI
from flows.text import split_name

HL, YB = "06388", "06391"  # Xã Hữu Liên, Xã Yên Bình
SCHOOLS = {"TH-06388": ("Trường TH Hữu Liên", HL), "THCS-06388": ("Trường THCS Hữu Liên", HL),
           "TH-06391": ("Trường TH Yên Bình", YB)}
COMMUNES = {HL: "Xã Hữu Liên", YB: "Xã Yên Bình"}
HL_CHILDREN = ["Nguyễn Văn An", "Trần Thị Ánh", "Hà Văn Xuân", "Hoàng Thị Bình", "Lường Văn Khánh", "Vi Thị Hoa"]
YB_CHILDREN = ["Lý Văn Cường", "Đặng Thị Dung", "Ma Văn Em"]
NO_COMMUNE_CHILD = "Tòng Văn Lạ"
FORMULA_MESSAGE = '=HYPERLINK("http://x.example","Ô bắt đầu bằng dấu bằng")'

ALLOCATION_HEADERS = ["STT", "Mã HS", "Họ và tên", "Ngày sinh", "Lớp", "Trường", "Xã", "Thôn", "Đối tượng",
                      "Hạng ưu tiên", "Nhu cầu", "Hỗ trợ", "Mã tài trợ", "Trạng thái", "Số sê-ri", "Ngày bàn giao"]
ISSUE_HEADERS = ["STT", "Tệp", "Trang tính", "Dòng", "Cột", "Mức độ", "Quy tắc", "Nội dung cần sửa"]
DISTRICT_SHEETS = ["Tổng hợp", "Danh sách phân bổ", "Danh sách chờ", "Không đủ điều kiện", "Cần xem xét",
                   "Lỗi dữ liệu", "Nguồn tài trợ", "Hạ tầng", "Tiến độ", "Nguồn dữ liệu"]


def _student(file, sheet, row, school, name, grade, category, device, internet, pid, status, reason="",
             list_type="school", dob="2014-05-06", village="Thôn Bãi Hào"):
    school_name, commune = SCHOOLS[school]
    family, middle, given = split_name(name)
    return {
        "source_file": file, "source_sheet": sheet, "source_row": row, "school": school_name,
        "commune": COMMUNES[commune], "village": village, "full_name": name, "date_of_birth": dob, "sex": "F",
        "grade": grade, "guardian_name": "Phụ Huynh", "phone": "0912345678", "category": category,
        "lacks_device": device, "lacks_internet": internet, "person_id": pid, "status": status, "reason": reason,
        "list_type": list_type, "school_code": school, "commune_code": commune, "given_name": given,
        "family_name": family, "middle_name": middle, "birth_year": int(dob[:4]) if dob else None,
        "national_id": "", "tier": 1, "priority_rank": None,
    }


def _allocation(pid, need, name, school, grade, category, rank, item, donation, status, reason=""):
    school_name, commune = SCHOOLS[school]
    return {"person_id": pid, "need": need, "full_name": name, "commune": COMMUNES[commune], "school": school_name,
            "grade": grade, "category": category, "priority_rank": rank, "item": item, "donation_id": donation,
            "status": status, "reason": reason, "commune_code": commune, "school_code": school,
            "village": "Thôn Bãi Hào", "date_of_birth": "2014-05-06"}


def make_result(run_id="20220115-020000", started=dt.datetime(2022, 1, 15, 2, 0, 0), review=True) -> RunResult:
    th_hl, thcs_hl, ubnd_hl, th_yb = "TH-HuuLien.xlsx", "THCS-HuuLien.xlsx", "UBND-HuuLien.xlsx", "TH-YenBinh.xlsx"
    students = pd.DataFrame([
        _student(th_hl, "DS", 8, "TH-06388", "Nguyễn Văn An", 3, "poor", True, True, "P001", "allocated"),
        _student(th_hl, "DS", 9, "TH-06388", "Trần Thị Ánh", 4, "none", True, False, "P002", "allocated"),
        _student(th_hl, "DS", 10, "TH-06388", "Hà Văn Xuân", 2, "none", True, False, "", "rejected", "rejected",
                 dob=""),
        _student(th_hl, "DS", 11, "TH-06388", "Nguyễn Văn An", 3, "poor", True, True, "P001", "duplicate",
                 "duplicate"),
        _student(thcs_hl, "Danh sách", 7, "THCS-06388", "Hoàng Thị Bình", 7, "near_poor", True, False, "P003",
                 "waitlisted"),
        _student(thcs_hl, "Danh sách", 8, "THCS-06388", "Lường Văn Khánh", 11, "none", True, True, "P004",
                 "excluded", "grade_out_of_range", dob="2006-01-02"),
        _student(ubnd_hl, "Sheet1", 6, "THCS-06388", "Hoàng Thị Bình", 7, "near_poor", True, False, "P003",
                 "waitlisted", list_type="commune"),
        _student(ubnd_hl, "Sheet1", 7, "TH-06388", "Vi Thị Hoa", 5, "none", False, False, "P005", "excluded",
                 "needs_nothing", list_type="commune"),
        _student(th_yb, "DS", 8, "TH-06391", "Lý Văn Cường", 2, "covid_orphan", False, True, "P006", "waitlisted",
                 village="Thôn Khòn Pần"),
        _student(th_yb, "DS", 9, "TH-06391", "Đặng Thị Dung", 1, "poor", True, True, "P007", "allocated",
                 village="Thôn Khòn Pần"),
        _student(th_yb, "DS", 10, "TH-06391", "Ma Văn Em", 4, "near_poor", True, False, "P008", "waitlisted",
                 village="Thôn Khòn Pần"),
    ])
    students["grade"] = students["grade"].astype("Int64")
    students["source_row"] = students["source_row"].astype(float)  # as a stage may hand it over: must export as int
    students["priority_rank"] = students["priority_rank"].astype("Int64")
    allocations = pd.DataFrame([
        _allocation("P001", "device", "Nguyễn Văn An", "TH-06388", 3, "poor", 1, "tablet", "D-CASH-1", "allocated"),
        _allocation("P001", "internet", "Nguyễn Văn An", "TH-06388", 3, "poor", 1, "internet_package", "D-VNPT",
                    "handed_over"),
        _allocation("P002", "device", "Trần Thị Ánh", "TH-06388", 4, "none", 6, "laptop", "D-002", "allocated"),
        _allocation("P003", "device", "Hoàng Thị Bình", "THCS-06388", 7, "near_poor", 4, "", "", "waitlisted",
                    "waitlisted"),
        _allocation("P006", "internet", "Lý Văn Cường", "TH-06391", 2, "covid_orphan", 5, "", "", "no_coverage",
                    "no_coverage"),
        _allocation("P007", "device", "Đặng Thị Dung", "TH-06391", 1, "poor", 2, "smartphone", "D-003",
                    "handed_over"),
        _allocation("P007", "internet", "Đặng Thị Dung", "TH-06391", 1, "poor", 2, "internet_package", "D-VNPT",
                    "allocated"),
        _allocation("P008", "device", "Ma Văn Em", "TH-06391", 4, "near_poor", 3, "", "", "waitlisted", "waitlisted"),
    ])
    issues = pd.DataFrame([
        ("TH-HuuLien.xlsx", "DS", 10, "Ngày sinh", "error", "date_valid", "Ngày sinh \"31/02\" không đọc được."),
        ("TH-HuuLien.xlsx", "DS", 8, "Ngày sinh", "warning", "date_missing", "Thiếu ngày sinh."),
        ("TH-HuuLien.xlsx", "DS", None, "Ghi chú 2", "warning", "unknown_column", "Cột \"Ghi chú 2\" không thuộc mẫu."),
        ("TH-HuuLien.xlsx", "DS", 11, "Họ và tên", "warning", "duplicate_in_sheet", "Đã có ở dòng 8."),
        ("TH-YenBinh.xlsx", "DS", 9, "Ghi chú", "warning", "formula_like_text", FORMULA_MESSAGE),
        # a row the school wrote whose commune is unknown: the school sees it, no commune does
        ("TH-YenBinh.xlsx", "DS", 12, "Họ và tên", "warning", "name_plausible", f"Họ tên \"{NO_COMMUNE_CHILD}\" lạ."),
        ("UBND-HuuLien.xlsx", "Sheet1", 6, "Đối tượng", "warning", "category_conflict", "Đối tượng khác nhau."),
        ("Truong-cu.xls", "", None, "", "error", "unreadable_file", "Không đọc được tệp."),
    ], columns=ISSUE_COLUMNS)
    issues["source_row"] = issues["source_row"].astype("Int64")
    donations = pd.DataFrame([
        {"source_id": "donations.xlsx", "source_file": "donations.xlsx", "source_sheet": "TT", "source_row": 5,
         "donation_id": "D-CASH-1", "donor": "Hội Khuyến học", "date": "2022-01-03", "kind": "cash", "quantity": None,
         "amount_vnd": 45_000_000, "status": "received", "earmark_commune_code": "", "earmark_school_code": "",
         "earmark_text": "", "note": "", "units": 9},
        {"source_id": "donations.xlsx", "source_file": "donations.xlsx", "source_sheet": "TT", "source_row": 6,
         "donation_id": "D-002", "donor": "=Công ty Máy tính", "date": "2022-01-05", "kind": "laptop", "quantity": 5,
         "amount_vnd": None, "status": "received", "earmark_commune_code": HL, "earmark_school_code": "",
         "earmark_text": "", "note": "=SUM(A1:A3)", "units": 5},
        {"source_id": "donations.xlsx", "source_file": "donations.xlsx", "source_sheet": "TT", "source_row": 7,
         "donation_id": "D-003", "donor": "Viettel", "date": "2022-01-06", "kind": "smartphone", "quantity": 3,
         "amount_vnd": None, "status": "received", "earmark_commune_code": "", "earmark_school_code": "",
         "earmark_text": "", "note": "", "units": 3},
        {"source_id": "donations.xlsx", "source_file": "donations.xlsx", "source_sheet": "TT", "source_row": 8,
         "donation_id": "D-VNPT", "donor": "VNPT Lạng Sơn", "date": "2022-01-07", "kind": "internet_package",
         "quantity": 50, "amount_vnd": None, "status": "pledged", "earmark_commune_code": "",
         "earmark_school_code": "", "earmark_text": "", "note": "", "units": 50},
    ])
    donation_summary = pd.DataFrame([
        {"item": "tablet", "received_units": 9, "from_cash_units": 9, "pledged_units": 0, "allocated": 1,
         "handed_over": 0, "remaining": 8},
        {"item": "laptop", "received_units": 5, "from_cash_units": 0, "pledged_units": 0, "allocated": 1,
         "handed_over": 0, "remaining": 4},
        {"item": "smartphone", "received_units": 3, "from_cash_units": 0, "pledged_units": 0, "allocated": 0,
         "handed_over": 1, "remaining": 2},
        {"item": "internet_package", "received_units": 1, "from_cash_units": 1, "pledged_units": 50,
         "allocated": 1, "handed_over": 1, "remaining": 0},
    ])
    connectivity = pd.DataFrame([
        {"source_id": "song.xlsx", "source_file": "song.xlsx", "source_sheet": "S", "source_row": 3,
         "commune_code": HL, "commune": "Xã Hữu Liên", "village": "Thôn Bãi Hào", "has_3g": True, "has_4g": True,
         "has_fibre": False, "note": ""},
        {"source_id": "song.xlsx", "source_file": "song.xlsx", "source_sheet": "S", "source_row": 4,
         "commune_code": YB, "commune": "Xã Yên Bình", "village": "Thôn Khòn Pần", "has_3g": False,
         "has_4g": False, "has_fibre": False, "note": ""},
    ])
    pair_fields = ["full_name", "date_of_birth", "school", "commune", "village", "guardian_name", "source_file",
                   "source_row"]
    review_pairs = pd.DataFrame([{
        "person_id_l": "P002", "person_id_r": "P005", "match_probability": 0.82,
        "reasons": "=tên giống, cùng thôn",
        **{f"{f}_l": v for f, v in zip(pair_fields, ["Trần Thị Ánh", "2014-05-06", "Trường TH Hữu Liên", "Xã Hữu Liên",
                                                      "Thôn Bãi Hào", "Phụ Huynh", "TH-HuuLien.xlsx", 9])},
        **{f"{f}_r": v for f, v in zip(pair_fields, ["Vi Thị Hoa", "2014-05-06", "Trường TH Hữu Liên", "Xã Hữu Liên",
                                                      "Thôn Bãi Hào", "Phụ Huynh", "UBND-HuuLien.xlsx", 7])},
    }]) if review else pd.DataFrame(columns=["person_id_l", "person_id_r", "match_probability", "reasons"])
    changes = pd.DataFrame([{"person_id": "P001", "need": "device", "before": "", "after": "allocated",
                             "rule": "new_allocation"}])
    sources = [
        SourceReport("TH-HuuLien.xlsx", "TH-HuuLien.xlsx", "students", "ok", "", 4),
        SourceReport("THCS-HuuLien.xlsx", "THCS-HuuLien.xlsx", "students", "ok", "", 2),
        SourceReport("UBND-HuuLien.xlsx", "UBND-HuuLien.xlsx", "students", "ok", "", 2),
        SourceReport("TH-YenBinh.xlsx", "TH-YenBinh.xlsx", "students", "stale", "Dùng bản ngày 14/01/2022", 3),
        SourceReport("Truong-cu.xls", "Truong-cu.xls", "students", "failed", "Tệp hỏng", 0),
        SourceReport("donations.xlsx", "donations.xlsx", "donations", "ok", "", 4),
    ]
    return RunResult(
        run_id=run_id, as_of=dt.date(2022, 1, 15), started_at=started,
        finished_at=started + dt.timedelta(minutes=3), sources=sources, students=students, issues=issues,
        allocations=allocations, donations=donations, donation_summary=donation_summary, connectivity=connectivity,
        review_pairs=review_pairs, changes=changes,
        cash={"received_vnd": 45_000_000, "pledged_vnd": 10_000_000, "converted_vnd": 40_500_000,
              "carried_vnd": 4_500_000},
        counts={"sources": 6},
    )


@pytest.fixture(scope="module")
def cfg():
    return load_config()


@pytest.fixture(scope="module")
def published(cfg, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return publish(make_result(), cfg, out)


def _district_path(run: Path) -> Path:
    (path,) = (run / "district").glob("*.xlsx")
    return path


def _cells(path: Path, sheet: str | None = None) -> list[list]:
    wb = CalamineWorkbook.from_path(str(path))
    names = [sheet] if sheet else wb.sheet_names
    return [row for name in names for row in wb.get_sheet_by_name(name).to_python()]


def _strings(path: Path) -> set[str]:
    return {str(v) for row in _cells(path) for v in row if isinstance(v, str) and v}


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _table(path: Path, sheet: str) -> tuple[list, list[list]]:
    """Header row (Excel row HEADER_ROW + 1) and the numbered data rows under it."""
    rows = _cells(path, sheet)
    header = rows[HEADER_ROW]
    data = []
    for row in rows[HEADER_ROW + 1:]:
        if not isinstance(row[0], (int, float)):  # the STT column numbers every data row
            break
        data.append(row)
    return header, data


# --- run folder, latest, manifest --------------------------------------------------------------------------

def test_run_folder_layout_and_latest(published):
    out = published.parent
    assert published == out / "20220115-020000"
    assert not list(out.glob("*.partial"))
    assert (out / "latest").is_symlink() and (out / "latest").resolve() == published.resolve()
    assert not (out / "latest.txt").exists()
    names = {p.relative_to(published).as_posix() for p in published.rglob("*") if p.is_file()}
    assert {"manifest.json", "exports/students.csv", "exports/issues.csv", "exports/allocations.csv",
            "exports/changes.csv", "exports/review_pairs.csv", "district/huu-lung-tong-hop-2022-01-15.xlsx",
            "communes/06388-xa-huu-lien.xlsx", "communes/06391-xa-yen-binh.xlsx",
            "schools/TH-06388-th-huu-lien.xlsx", "schools/THCS-06388-thcs-huu-lien.xlsx",
            "schools/TH-06391-th-yen-binh.xlsx"} <= names
    # One workbook per commune of the district; school workbooks only for schools with rows or issues.
    assert len(list((published / "communes").glob("*.xlsx"))) == 23
    assert len(list((published / "schools").glob("*.xlsx"))) == 3


def test_manifest_lists_every_file_with_its_sha256(published):
    manifest = json.loads((published / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["run_id"] == "20220115-020000"
    assert manifest["as_of"] == "2022-01-15"
    assert manifest["started_at"] == "2022-01-15T02:00:00"
    assert manifest["finished_at"] == "2022-01-15T02:03:00"
    failed = [s for s in manifest["sources"] if s["status"] == "failed"]
    assert failed == [{"source": "Truong-cu.xls", "id": "Truong-cu.xls", "kind": "students", "status": "failed",
                       "message": "Tệp hỏng", "rows": 0}]
    on_disk = {p.relative_to(published).as_posix() for p in published.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((published / rel).read_bytes()).hexdigest() == digest, rel
    counts = manifest["counts"]
    assert counts["sources"] == 6 and counts["student_rows"] == 11 and counts["persons"] == 8
    assert counts["rejected_rows"] == 1 and counts["issues_error"] == 2


# --- CSV exports -------------------------------------------------------------------------------------------

def test_csv_exports_follow_the_contract(published):
    header, rows = _read_csv(published / "exports" / "students.csv")
    assert header[: len(STUDENT_EXPORT_COLUMNS)] == STUDENT_EXPORT_COLUMNS
    assert len(rows) == 11
    assert {r["lacks_device"] for r in rows} == {"true", "false"}
    assert {r["lacks_internet"] for r in rows} == {"true", "false"}
    assert [r["source_row"] for r in rows[:3]] == ["8", "9", "10"]
    assert all(r["grade"].isdigit() for r in rows)
    rejected = [r for r in rows if r["status"] == "rejected"]
    assert len(rejected) == 1 and rejected[0]["person_id"] == "" and rejected[0]["date_of_birth"] == ""
    assert "national_id" in header and header.index("list_type") > len(STUDENT_EXPORT_COLUMNS) - 1

    header, rows = _read_csv(published / "exports" / "issues.csv")
    assert header[: len(ISSUE_COLUMNS)] == ISSUE_COLUMNS
    assert len(rows) == 8
    unreadable = [r for r in rows if r["rule"] == "unreadable_file"][0]
    assert unreadable["source_sheet"] == "" and unreadable["source_row"] == ""
    assert [r["message"] for r in rows if r["rule"] == "formula_like_text"] == [FORMULA_MESSAGE]

    header, rows = _read_csv(published / "exports" / "allocations.csv")
    assert header[: len(ALLOCATION_EXPORT_COLUMNS)] == ALLOCATION_EXPORT_COLUMNS
    assert len(rows) == 8
    assert {r["status"] for r in rows} == {"allocated", "handed_over", "waitlisted", "no_coverage"}
    assert all(r["priority_rank"].isdigit() for r in rows)

    header, rows = _read_csv(published / "exports" / "changes.csv")
    assert header[:5] == ["person_id", "need", "before", "after", "rule"] and len(rows) == 1
    header, rows = _read_csv(published / "exports" / "review_pairs.csv")
    assert header[:2] == ["person_id_l", "person_id_r"] and rows[0]["source_row_l"] == "9"
    raw = (published / "exports" / "students.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r\n" not in raw


# --- district workbook -------------------------------------------------------------------------------------

def test_district_workbook_sheets_and_headers(published):
    path = _district_path(published)
    assert CalamineWorkbook.from_path(str(path)).sheet_names == DISTRICT_SHEETS
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == DISTRICT_SHEETS
    ws = wb["Danh sách phân bổ"]
    assert [c.value for c in ws[HEADER_ROW + 1]] == ALLOCATION_HEADERS
    for name in ("Danh sách phân bổ", "Hạ tầng", "Tiến độ"):  # frozen header, filter, A4 landscape, titles
        ws = wb[name]
        assert ws.freeze_panes == f"A{HEADER_ROW + 2}", name
        assert ws.auto_filter.ref.startswith(f"A{HEADER_ROW + 1}:"), name
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9, name
        assert ws.print_title_rows == f"${HEADER_ROW + 1}:${HEADER_ROW + 1}", name
    for name in DISTRICT_SHEETS:
        sheet = wb[name]
        assert sheet["A1"].value == "UBND HUYỆN HỮU LŨNG", name
        assert sheet["A2"].value == "PHÒNG GIÁO DỤC VÀ ĐÀO TẠO", name
        assert sheet[HEADER_ROW + 1][0].value == "STT", name
        assert sheet["A1"].font.name == "Times New Roman"
        row1 = [c.value for c in sheet[1]]
        assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in row1 and "Hữu Lũng, ngày 15 tháng 01 năm 2022" in [
            c.value for c in sheet[3]], name
    assert [c.value for c in wb["Lỗi dữ liệu"][HEADER_ROW + 1]] == ISSUE_HEADERS
    assert wb["Tổng hợp"]._charts, "the summary carries a chart"


def test_summary_totals_match_the_inputs(published):
    header, rows = _table(_district_path(published), "Tổng hợp")
    assert header[:2] == ["STT", "Xã, thị trấn"]
    communes = {r[1]: r for r in rows}
    total = next(r for r in _cells(_district_path(published), "Tổng hợp") if r[1] == "Tổng cộng")
    # listed rows, rejected rows, persons, eligible, devices, internet, waiting needs, excluded, issues
    assert [int(v) for v in total[2:11]] == [11, 1, 8, 6, 3, 2, 3, 2, 8]
    assert [int(v) for v in communes["Xã Hữu Liên"][2:11]] == [8, 1, 5, 3, 2, 1, 1, 2, 5]
    assert [int(v) for v in communes["Xã Yên Bình"][2:11]] == [3, 0, 3, 3, 1, 1, 2, 0, 1]
    # The unreadable file and the row without a commune belong to no commune: they are counted on the "other"
    # row so the total still adds up.
    other = next(r for r in _cells(_district_path(published), "Tổng hợp") if r[1] == "Khác / chưa xác định")
    assert int(other[10]) == 2
    assert len(rows) == 23  # every commune listed, zeros included


def test_lists_are_complete_sorted_and_in_vietnamese(published):
    path = _district_path(published)
    _, allocated = _table(path, "Danh sách phân bổ")
    assert len(allocated) == 5
    # Grouped by commune (config order) then school, names in Vietnamese order inside each group.
    assert [r[2] for r in allocated] == ["Nguyễn Văn An", "Nguyễn Văn An", "Trần Thị Ánh", "Đặng Thị Dung",
                                         "Đặng Thị Dung"]
    assert {r[13] for r in allocated} == {"Đã phân bổ", "Đã bàn giao"}
    assert {r[11] for r in allocated} == {"Máy tính bảng", "Gói cước Internet", "Máy tính xách tay",
                                          "Điện thoại thông minh"}
    assert allocated[0][8] == "Hộ nghèo" and allocated[0][3] == dt.date(2014, 5, 6)
    _, waiting = _table(path, "Danh sách chờ")
    assert [int(r[1]) for r in waiting] == [3, 4, 5]  # by priority rank
    assert waiting[2][12] == "Thôn chưa có sóng/cáp quang"
    _, excluded = _table(path, "Không đủ điều kiện")
    assert {(r[2], r[8]) for r in excluded} == {("Lường Văn Khánh", "Không thuộc lớp 1-9"),
                                                ("Vi Thị Hoa", "Đã có thiết bị và Internet")}
    _, sources = _table(path, "Nguồn dữ liệu")
    assert [r[4] for r in sources][:2] == ["Lỗi", "Dùng bản cũ"] and "Đã đọc" in {r[4] for r in sources}
    _, pairs = _table(path, "Cần xem xét")
    assert pairs[0][3] == "Trần Thị Ánh" and pairs[0][13] == "Vi Thị Hoa"  # both records side by side
    _, issues = _table(path, "Lỗi dữ liệu")
    assert len(issues) == 8 and {r[5] for r in issues} == {"Lỗi", "Cảnh báo"}


def test_vietnamese_collation_and_empty_review_queue(cfg, tmp_path):
    result = make_result(review=False)
    names = ["Trần Văn Bình", "Nguyễn Văn Đức", "Nguyễn Thị Ánh", "Phạm Thị Dũng", "Lê Văn An", "Bùi Văn Dung"]
    template = result.allocations.iloc[2].to_dict()  # an allocated device, Trường TH Hữu Liên
    result.allocations = pd.DataFrame([template | {"person_id": f"Q{i}", "full_name": n} for i, n in enumerate(names)])
    run = publish(result, cfg, tmp_path)
    _, allocated = _table(_district_path(run), "Danh sách phân bổ")
    # Given name first; a ă â b c d đ ...; tones after the bare letter (Dung before Dũng). Code-point order would
    # put Ánh after Dũng.
    assert [r[2] for r in allocated] == ["Lê Văn An", "Nguyễn Thị Ánh", "Trần Văn Bình", "Bùi Văn Dung",
                                         "Phạm Thị Dũng", "Nguyễn Văn Đức"]
    rows = _cells(_district_path(run), "Cần xem xét")
    assert rows[HEADER_ROW + 1][0] == NO_REVIEW_PAIRS
    assert _read_csv(run / "exports" / "review_pairs.csv") == (["person_id_l", "person_id_r", "match_probability",
                                                                 "reasons", "pair_key"], [])


def test_data_is_written_as_data_never_formulas(published):
    for path in published.rglob("*.xlsx"):
        wb = openpyxl.load_workbook(path)
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (path.name, ws.title, cell.coordinate)
    strings = _strings(_district_path(published))
    assert FORMULA_MESSAGE in strings and "=Công ty Máy tính" in strings and "=SUM(A1:A3)" in strings
    feedback = _strings(published / "schools" / "TH-06391-th-yen-binh.xlsx")
    assert FORMULA_MESSAGE in feedback


def test_commune_workbook_holds_only_its_own_children(published):
    hl = published / "communes" / "06388-xa-huu-lien.xlsx"
    yb = published / "communes" / "06391-xa-yen-binh.xlsx"
    hl_text, yb_text = " ".join(_strings(hl)), " ".join(_strings(yb))
    for name in HL_CHILDREN:
        # The rejected row's child is in no list (its issue names the row, not the child).
        assert (name in hl_text or name == "Hà Văn Xuân") and name not in yb_text, name
    for name in YB_CHILDREN:
        assert name in yb_text and name not in hl_text, name
    assert FORMULA_MESSAGE not in hl_text and FORMULA_MESSAGE in yb_text
    for pid in ("P006", "P007", "P008"):
        assert pid not in hl_text
    assert CalamineWorkbook.from_path(str(hl)).sheet_names == [
        "Tổng hợp", "Danh sách phân bổ", "Danh sách chờ", "Không đủ điều kiện", "Lỗi dữ liệu", "Hạ tầng", "Tiến độ"]
    total = next(r for r in _cells(hl, "Tổng hợp") if r[1] == "Tổng cộng")
    assert [int(v) for v in total[2:11]] == [8, 1, 5, 3, 2, 1, 1, 2, 5]
    _, issues = _table(hl, "Lỗi dữ liệu")
    assert len(issues) == 5
    empty = published / "communes" / "06385-thi-tran-huu-lung.xlsx"
    assert not set(HL_CHILDREN + YB_CHILDREN) & _strings(empty)
    for path in (published / "communes").glob("*.xlsx"):
        assert NO_COMMUNE_CHILD not in " ".join(_strings(path)), path.name
    assert NO_COMMUNE_CHILD in " ".join(_strings(published / "schools" / "TH-06391-th-yen-binh.xlsx"))


def test_school_workbook_is_its_feedback(published):
    path = published / "schools" / "TH-06388-th-huu-lien.xlsx"
    assert CalamineWorkbook.from_path(str(path)).sheet_names == ["Phản hồi", "Danh sách", "Danh sách phân bổ"]
    header, feedback = _table(path, "Phản hồi")
    assert header == ["STT", "Tệp", "Trang tính", "Dòng", "Cột", "Mức độ", "Nội dung cần sửa"]
    # Its own file's issues only, the sheet-level one first, then by row.
    assert [r[3] for r in feedback] == ["", 8.0, 10.0, 11.0]
    assert {r[1] for r in feedback} == {"TH-HuuLien.xlsx"}
    _, students = _table(path, "Danh sách")
    statuses = {r[3]: r[12] for r in students}
    assert statuses["Hà Văn Xuân"] == "Dòng bị loại (lỗi dữ liệu)" and statuses["Trần Thị Ánh"] == "Đã phân bổ"
    assert "Vi Thị Hoa" in statuses and "Lý Văn Cường" not in statuses  # commune-list row of its pupil is shown
    _, allocated = _table(path, "Danh sách phân bổ")
    assert {r[2] for r in allocated} == {"Nguyễn Văn An", "Trần Thị Ánh"}


def _fake_run(root: Path, name: str, started: str) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"run_id": name, "started_at": started}), encoding="utf-8")
    return folder


def test_retention_prunes_oldest_runs_and_latest_follows(cfg, tmp_path):
    old = [_fake_run(tmp_path, f"run-{i}", f"2022-01-1{i}T02:00:00") for i in range(3)]
    (tmp_path / "notes").mkdir()  # not a run folder
    (tmp_path / "run-9.partial").mkdir()  # another run still writing
    run = publish(make_result(run_id="run-3", started=dt.datetime(2022, 1, 13, 2)), cfg, tmp_path, retention=2)
    left = sorted(p.name for p in tmp_path.iterdir() if p.is_dir() and not p.is_symlink())
    assert left == ["notes", "run-2", "run-3", "run-9.partial"]
    assert os.readlink(tmp_path / "latest") == "run-3" and (tmp_path / "latest").resolve() == run.resolve()
    assert not old[0].exists() and not old[1].exists()
    first = json.loads((run / "manifest.json").read_text(encoding="utf-8"))["files"]
    # Republishing a run id replaces its folder, byte for byte the same (workbooks are reproducible); the run
    # just written is kept even with retention 0.
    again = publish(make_result(run_id="run-3", started=dt.datetime(2022, 1, 13, 2)), cfg, tmp_path, retention=0)
    assert again == run and json.loads((run / "manifest.json").read_text(encoding="utf-8"))["files"] == first
    left = sorted(p.name for p in tmp_path.iterdir() if p.is_dir() and not p.is_symlink())
    assert left == ["notes", "run-3", "run-9.partial"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_latest_txt_when_symlinks_are_not_possible_and_clock_gives_finish_time(cfg, tmp_path, monkeypatch):
    def no_symlinks(*args, **kwargs):
        raise OSError("symlinks not supported on this file system")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    result = make_result()
    result.finished_at = None  # the manifest then takes the finish time from the clock
    run = publish(result, cfg, tmp_path, clock=lambda: dt.datetime(2022, 1, 15, 2, 5))
    assert (tmp_path / "latest.txt").read_text(encoding="utf-8").strip() == run.name
    assert not (tmp_path / "latest").exists()
    assert json.loads((run / "manifest.json").read_text(encoding="utf-8"))["finished_at"] == "2022-01-15T02:05:00"


def test_bad_run_id_is_refused(cfg, tmp_path):
    with pytest.raises(ValueError, match="run_id"):
        publish(make_result(run_id="../elsewhere"), cfg, tmp_path)


def test_labels_cover_every_contract_code():
    for group, codes in {
        "status": ["allocated", "handed_over", "waitlisted", "no_coverage", "excluded", "rejected", "duplicate"],
        "reason": ["grade_out_of_range", "needs_nothing", "outside_district", "already_supported", "no_coverage"],
        "item": ["desktop", "laptop", "tablet", "smartphone", "internet_package"],
        "need": ["device", "internet"], "category": ["poor", "near_poor", "covid_orphan", "none"],
        "source_status": ["ok", "stale", "failed"], "severity": ["error", "warning"],
    }.items():
        assert set(codes) <= set(VI[group]), group
    assert all(len(name) <= 31 for name in SHEETS.values())


# --- Hạ tầng, Tiến độ, reconciliation, retention from config -----------------------------------------------

@pytest.fixture(scope="module")
def officer_run(cfg, tmp_path_factory):
    result = make_result(run_id="officer")
    al = result.allocations
    al.loc[al["person_id"].isin(["P006", "P007", "P008"]), "village"] = "Thôn Khòn Pần"
    result.handovers = pd.DataFrame([{"person_id": "P007", "need": "device", "item": "smartphone", "serial": "SN1",
                                      "date": dt.date(2022, 1, 8), "received_by": "Đặng Văn Bố", "donation_id": "D-003",
                                      "source": "ban-giao.xlsx", "run_id": "r"}])
    result.follow_ups = pd.DataFrame([{"person_id": "P007", "need": "device", "item": "smartphone", "serial": "SN1",
                                       "state": "broken", "checked_on": "2022-01-10", "checked_by": "GVCN",
                                       "note": "", "source": "theo-doi.xlsx"}])
    return publish(result, cfg, tmp_path_factory.mktemp("officer"))


def _rows_after(path: Path, sheet: str, first_cell: str) -> list[list]:
    rows = _cells(path, sheet)
    start = next(i for i, r in enumerate(rows) if r and r[0] == "STT" and first_cell in r)
    out = []
    for row in rows[start + 1:]:
        if not isinstance(row[0], (int, float)) and row[1] != "Tổng cộng":
            break
        out.append(row)
    return out


def test_infrastructure_sheet_counts_villages_and_lists_children_without_signal(officer_run):
    path = _district_path(officer_run)
    header, communes = _table(path, "Hạ tầng")
    assert header[:4] == ["STT", "Xã, thị trấn", "Thôn, khu", "Số thôn"]
    assert len(communes) == 23
    by_name = {r[1]: r for r in communes}
    # Hữu Liên: 12 official villages, Bãi Hào has 3G and 4G, the other 11 not reported yet
    assert by_name["Xã Hữu Liên"][3:9] == [12, 1, 1, 0, 1, 11]
    assert by_name["Xã Hữu Liên"][9] == pytest.approx(1 / 12)
    assert by_name["Xã Hữu Liên"][11] == 11  # villages short of the 100 % target
    # Yên Bình: Khòn Pần reported without any signal; one child waits for internet there
    assert by_name["Xã Yên Bình"][7:9] == [0, 7] and by_name["Xã Yên Bình"][12] == 1
    villages = _rows_after(path, "Hạ tầng", "3G")
    khon_pan = [r for r in villages if r[2] == "Thôn Khòn Pần" and r[1] == "Xã Yên Bình"]
    assert khon_pan and khon_pan[0][3:8] == ["", "", "", "Chưa có", 1]
    children = _rows_after(path, "Hạ tầng", "Mã HS")
    assert [(r[3], r[4], r[2]) for r in children] == [("P006", "Lý Văn Cường", "Thôn Khòn Pần")]
    # privacy: Hữu Liên's copy shows only its villages and none of Yên Bình's children
    hl = " ".join(str(v) for r in _cells(officer_run / "communes" / "06388-xa-huu-lien.xlsx", "Hạ tầng") for v in r)
    assert "Thôn Bãi Hào" in hl and "Lý Văn Cường" not in hl and "Xã Yên Bình" not in hl


def test_progress_sheet_reports_targets_handovers_and_follow_up(officer_run):
    path = _district_path(officer_run)
    _, rows = _table(path, "Tiến độ")
    devices = [r for r in rows if r[1].startswith("Bộ thiết bị")]
    assert devices[0][2].startswith("Giai đoạn 1") and devices[0][3:5] == ["1.500", "3"]
    assert devices[0][5] == pytest.approx(3 / 1500)
    internet = [r for r in rows if r[1].startswith("Học sinh lớp 1-9 có kết nối Internet (ước tính)")]
    assert [r[3] for r in internet] == ["50%", "100%"]
    assert internet[1][4] == "" and internet[1][6] == "Chưa đến giai đoạn"  # phase 2 starts in 2023
    _, given = _table(path, "Danh sách phân bổ")
    handed = [r for r in given if r[1] == "P007" and r[10] == "Thiết bị"]
    assert [r[13:16] for r in handed] == [["Đã bàn giao", "SN1", dt.date(2022, 1, 8)]]
    follow = _rows_after(path, "Tiến độ", "Đã bàn giao")
    yb = next(r for r in follow if r[1] == "Xã Yên Bình")
    assert yb[2:8] == [1, 1, 0, 1, 0, 0]  # one smartphone handed over, reported broken
    total = next(r for r in follow if r[1] == "Tổng cộng")
    assert total[2:8] == [3, 1, 0, 1, 0, 0]


def test_summary_reconciles_rows_and_persons(officer_run):
    rows = _cells(_district_path(officer_run), "Tổng hợp")
    start = next(i for i, r in enumerate(rows) if r[1] == "Số dòng trong các danh sách")
    block = rows[start:start + 11]
    assert block[0][2:4] == [11, "Khớp"]
    assert [r[2] for r in block[1:6]] == [3, 4, 2, 1, 1]  # allocated, waitlisted, excluded, rejected, duplicate
    assert block[6][1].startswith("Số học sinh") and block[6][2:4] == [8, "Khớp"]
    assert [r[2] for r in block[7:10]] == [3, 3, 2]
    assert block[10][2] == 1  # Hoàng Thị Bình is on her school's list and the commune's


def test_retention_defaults_to_the_config(cfg, tmp_path):
    keep_one = cfg.model_copy(update={"district": cfg.district.model_copy(
        update={"publish": cfg.district.publish.model_copy(update={"retention": 1})})})
    publish(make_result(run_id="run-a", started=dt.datetime(2022, 1, 13, 2)), keep_one, tmp_path)
    publish(make_result(run_id="run-b", started=dt.datetime(2022, 1, 14, 2)), keep_one, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir() and not p.is_symlink()) == ["run-b"]

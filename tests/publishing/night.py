"""A small night for the publishing tests (``make_result``) and readers of what ``publish`` wrote.

Two communes (Hữu Liên, Yên Bình), three schools and a commune list; rows allocated, handed over, waitlisted,
excluded, rejected and repeated; issues at row and sheet level (one in a file no one can read, one about a row
with no commune); donations, connectivity, a review pair and text that looks like a formula. The readers open
workbooks with python-calamine.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pandas as pd
from python_calamine import CalamineWorkbook

from flows.frames import ISSUE_COLUMNS, RunResult, SourceReport
from flows.publishing.workbook import HEADER_ROW
from flows.text import split_name

HL, YB = "06388", "06391"  # Xã Hữu Liên, Xã Yên Bình
SCHOOLS = {"TH-06388": ("Trường TH Hữu Liên", HL), "THCS-06388": ("Trường THCS Hữu Liên", HL),
           "TH-06391": ("Trường TH Yên Bình", YB)}
COMMUNES = {HL: "Xã Hữu Liên", YB: "Xã Yên Bình"}
HL_CHILDREN = ["Nguyễn Văn An", "Trần Thị Ánh", "Hà Văn Xuân", "Hoàng Thị Bình", "Lường Văn Khánh", "Vi Thị Hoa"]
YB_CHILDREN = ["Lý Văn Cường", "Đặng Thị Dung", "Ma Văn Em"]
NO_COMMUNE_CHILD = "Tòng Văn Lạ"
FORMULA_MESSAGE = '=HYPERLINK("http://x.example","Ô bắt đầu bằng dấu bằng")'


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
    changes = pd.DataFrame([
        {"person_id": "P001", "need": "device", "before": "", "after": "allocated", "rule": "new_allocation"},
        # tonight found P009 to be P002: its laptop was released, P002 keeps its own (both ids on each line)
        {"person_id": "P009", "need": "device", "before": "provisional:laptop:D-002", "after": "released",
         "rule": "merged", "other_person_id": "P002"},
        {"person_id": "P002", "need": "device", "before": "provisional:tablet:D-001",
         "after": "provisional:tablet:D-001", "rule": "merged", "other_person_id": "P009"}])
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


def district_path(run: Path) -> Path:
    (path,) = (run / "district").glob("*.xlsx")
    return path


def cells(path: Path, sheet: str | None = None) -> list[list]:
    wb = CalamineWorkbook.from_path(str(path))
    names = [sheet] if sheet else wb.sheet_names
    return [row for name in names for row in wb.get_sheet_by_name(name).to_python()]


def strings(path: Path) -> set[str]:
    return {str(v) for row in cells(path) for v in row if isinstance(v, str) and v}


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def table(path: Path, sheet: str) -> tuple[list, list[list]]:
    """Header row (Excel row HEADER_ROW + 1) and the numbered data rows under it."""
    rows = cells(path, sheet)
    header = rows[HEADER_ROW]
    data = []
    for row in rows[HEADER_ROW + 1:]:
        if not isinstance(row[0], (int, float)):  # the STT column numbers every data row
            break
        data.append(row)
    return header, data


def rows_after(path: Path, sheet: str, first_cell: str) -> list[list]:
    rows = cells(path, sheet)
    start = next(i for i, r in enumerate(rows) if r and r[0] == "STT" and first_cell in r)
    out = []
    for row in rows[start + 1:]:
        if not isinstance(row[0], (int, float)) and row[1] != "Tổng cộng":
            break
        out.append(row)
    return out

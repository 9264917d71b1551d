"""The lists every audience reads: Danh sách phân bổ, Danh sách chờ, Không đủ điều kiện and Lỗi dữ liệu.

The district and each commune get all four (a commune only its own children); a school gets the allocation
list of its students.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from flows.publishing.grades import write_grade_sheet
from flows.publishing.prepared import GIVEN, WAITING, Prepared, as_int, ordered, sorted_issues
from flows.publishing.workbook import Book, Col, Sheet, date_value, label, tier_label
from flows.text import as_text

_ALLOCATION_COLS = [
    Col("STT", 6, "stt"), Col("Mã HS", 14, "center"), Col("Họ và tên", 26), Col("Ngày sinh", 12, "date"),
    Col("Lớp", 6, "int"), Col("Trường", 28), Col("Xã", 20), Col("Thôn", 16), Col("Đối tượng", 24),
    Col("Hạng ưu tiên", 9, "int"), Col("Nhu cầu", 10), Col("Hỗ trợ", 20), Col("Mã tài trợ", 14, "center"),
    Col("Trạng thái", 14), Col("Số sê-ri", 14, "center"), Col("Ngày bàn giao", 12, "date"),
]
_WAITLIST_COLS = [
    Col("STT", 6, "stt"), Col("Hạng ưu tiên", 9, "int"), Col("Mã HS", 14, "center"), Col("Họ và tên", 26),
    Col("Ngày sinh", 12, "date"), Col("Lớp", 6, "int"), Col("Trường", 28), Col("Xã", 20), Col("Thôn", 16),
    Col("Đối tượng", 24), Col("Nhu cầu", 10), Col("Trạng thái", 18), Col("Lý do", 34, "wrap"),
]
_EXCLUDED_COLS = [
    Col("STT", 6, "stt"), Col("Mã HS", 14, "center"), Col("Họ và tên", 26), Col("Ngày sinh", 12, "date"),
    Col("Lớp", 6, "int"), Col("Trường", 28), Col("Xã", 20), Col("Thôn", 16), Col("Lý do", 30, "wrap"),
    Col("Nguồn dữ liệu", 36, "wrap"),
]
_ISSUE_COLS = [
    Col("STT", 6, "stt"), Col("Tệp", 30, "wrap"), Col("Trang tính", 14), Col("Dòng", 7, "int"),
    Col("Cột", 16), Col("Mức độ", 10), Col("Quy tắc", 18), Col("Nội dung cần sửa", 60, "wrap"),
]


def write_list_sheets(book: Book, data: Prepared, al: pd.DataFrame, persons: pd.DataFrame, iss: pd.DataFrame,
                      where: str) -> None:
    """Danh sách phân bổ, Danh sách chờ (by priority rank) and Không đủ điều kiện of these rows."""
    as_of = data.result.as_of.strftime("%d/%m/%Y")
    sub = f"{where} - số liệu đến ngày {as_of}"
    write_allocated_sheet(book, data, al, sub)

    def waitlist(sh: Sheet) -> None:
        h = sh.header()
        sh.rows(_waitlist_rows(data, al), filter_from=h, empty="Không có học sinh đang chờ")
        sh.signature(left_title="NGƯỜI LẬP BIỂU")

    book.sheet("waitlist", "DANH SÁCH HỌC SINH CHỜ PHÂN BỔ (THEO THỨ TỰ ƯU TIÊN)", sub, _WAITLIST_COLS).fill(
        waitlist, frames=(al,))

    def excluded(sh: Sheet) -> None:
        h = sh.header()
        sh.rows(_excluded_rows(persons), filter_from=h, empty="Không có học sinh nào")
        sh.signature(left_title="NGƯỜI LẬP BIỂU")

    book.sheet("excluded", "DANH SÁCH HỌC SINH KHÔNG ĐỦ ĐIỀU KIỆN HỖ TRỢ", sub, _EXCLUDED_COLS).fill(
        excluded, frames=(persons,))
    write_grade_sheet(book, data, persons, sub)


def write_allocated_sheet(book: Book, data: Prepared, al: pd.DataFrame, sub: str) -> None:
    """Danh sách phân bổ: the needs given (allocated or handed over), by commune, school and name."""
    def fill(sh: Sheet) -> None:
        h = sh.header()
        sh.rows(_allocation_rows(data, al), filter_from=h, empty="Chưa có học sinh được phân bổ")
        sh.signature(left_title="NGƯỜI LẬP BIỂU")

    book.sheet("allocated", "DANH SÁCH HỌC SINH ĐƯỢC PHÂN BỔ HỖ TRỢ", sub, _ALLOCATION_COLS).fill(
        fill, frames=(al,), reads=("handovers",))


def write_issue_sheet(book: Book, data: Prepared, iss: pd.DataFrame, where: str) -> None:
    """Lỗi dữ liệu: every issue of these rows and files, what to fix, errors before warnings."""
    errors = int((iss["severity"] == "error").sum())
    sub = f"{where} - {errors} lỗi, {len(iss) - errors} cảnh báo (dòng có lỗi không được tổng hợp; hãy sửa và gửi lại)"

    def fill(sh: Sheet) -> None:
        h = sh.header()
        sh.rows(_issue_rows(iss), filter_from=h, empty="Không có lỗi dữ liệu")

    book.sheet("issues", "DANH SÁCH LỖI DỮ LIỆU CẦN SỬA", sub, _ISSUE_COLS).fill(fill, frames=(iss,))


def _allocation_rows(data: Prepared, al: pd.DataFrame) -> list[list[Any]]:
    given = ordered(al[al["status"].isin(GIVEN)], "_commune_order", "commune", "_school_order", "school",
                    "_name_rank", "need")
    handed: dict[tuple[str, str], tuple[str, Any]] = {}
    ho = data.result.handovers
    if ho is not None and len(ho):
        for pid, need, serial, day in zip(ho["person_id"], ho["need"], ho["serial"], ho["date"]):
            handed[(as_text(pid), as_text(need))] = (as_text(serial), date_value(as_text(day)[:10]))
    out = []
    for i, r in enumerate(given.itertuples(index=False), 1):
        serial, day = handed.get((r.person_id, r.need), ("", None)) if r.status == "handed_over" else ("", None)
        out.append([i, r.person_id, r.full_name, date_value(r.date_of_birth), as_int(r.grade), r.school, r.commune,
                    r.village, tier_label(data.district, r.category), as_int(r.priority_rank), label("need", r.need),
                    label("item", r.item), r.donation_id, label("status", r.status), serial, day])
    return out


def _waitlist_rows(data: Prepared, al: pd.DataFrame) -> list[list[Any]]:
    waiting = al[al["status"].isin(WAITING)].copy()
    waiting["_rank"] = waiting["priority_rank"].fillna(10**9) if len(waiting) else []
    waiting = ordered(waiting, "_rank", "_commune_order", "_school_order", "_name_rank", "need")
    out = []
    for i, r in enumerate(waiting.itertuples(index=False), 1):
        reason = r.reason or r.status
        out.append([i, as_int(r.priority_rank), r.person_id, r.full_name, date_value(r.date_of_birth), as_int(r.grade),
                    r.school, r.commune, r.village, tier_label(data.district, r.category), label("need", r.need),
                    label("status", r.status), label("reason", reason)])
    return out


def _excluded_rows(persons: pd.DataFrame) -> list[list[Any]]:
    ex = ordered(persons[persons["status"] == "excluded"], "_commune_order", "commune", "_school_order", "school",
                 "_name_rank")
    return [[i, r.person_id, r.full_name, date_value(r.date_of_birth, r.birth_year), as_int(r.grade), r.school,
             r.commune, r.village, label("reason", r.reason or "ineligible"), r.sources]
            for i, r in enumerate(ex.itertuples(index=False), 1)]


def _issue_rows(iss: pd.DataFrame) -> list[list[Any]]:
    return [[i, r.source_file, r.source_sheet, as_int(r.source_row), r.column, label("severity", r.severity), r.rule,
             r.message] for i, r in enumerate(sorted_issues(iss).itertuples(index=False), 1)]

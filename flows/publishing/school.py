"""A school's workbook: its feedback (Phản hồi), its rows as sent, its students' outcome, its allocation list.

Written for every school with rows or issues tonight. Phản hồi lists the issues in the school's own files, what
to fix first; Dòng đã gửi shows its rows as it wrote them with the problem cells marked; Danh sách gives each
listed student's status and reason; Danh sách phân bổ what its students were given.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from pathlib import Path

from flows.publishing.lists import write_allocated_sheet
from flows.publishing.prepared import Prepared, as_int, sorted_issues
from flows.publishing.rows_as_sent import write_unit_rows
from flows.publishing.workbook import REISSUE_NOTE, Book, Col, date_value, label, tier_label

_FEEDBACK_COLS = [
    Col("STT", 6, "stt"), Col("Tệp", 28, "wrap"), Col("Trang tính", 14), Col("Dòng", 7, "int"),
    Col("Cột", 16), Col("Mức độ", 10), Col("Nội dung cần sửa", 64, "wrap"),
]
_SCHOOL_LIST_COLS = [
    Col("STT", 6, "stt"), Col("Tệp", 24, "wrap"), Col("Dòng", 7, "int"), Col("Họ và tên", 26),
    Col("Ngày sinh", 12, "date"), Col("Lớp", 6, "int"), Col("Xã", 20), Col("Thôn", 16),
    Col("Đối tượng", 24), Col("Chưa có thiết bị", 9, "center"), Col("Chưa có Internet", 9, "center"),
    Col("Mã HS", 14, "center"), Col("Trạng thái", 20), Col("Lý do", 30, "wrap"),
]


def write_school(data: Prepared, code: str, path: Path) -> None:
    """The school's feedback: issues in its files, its students with their status, its allocation list."""
    name = data.school_name(code, code)
    st = data.students
    st = st[(st["school_code"] == code) | (st["_file_school"] == code)]
    al = data.allocations[data.allocations["school_code"] == code]
    iss = data.issues[data.issues["_school_key"] == code]
    book = Book(path, data, f"Phản hồi dữ liệu - {name}", rows=len(st) + len(al) + len(iss))
    errors = int((iss["severity"] == "error").sum())
    sub = f"{name} - {errors} lỗi, {len(iss) - errors} cảnh báo - số liệu đến ngày {data.result.as_of:%d/%m/%Y}"
    issues = list(sorted_issues(iss).itertuples(index=False))
    folder, files = _short_paths([r.source_file for r in issues])
    sh = book.sheet("feedback", "PHẢN HỒI DỮ LIỆU DANH SÁCH HỌC SINH",
                    sub + (f" - các tệp trong thư mục {folder}/" if folder else ""), _FEEDBACK_COLS)
    h = sh.header()
    sh.rows([[i, file, r.source_sheet, as_int(r.source_row), r.column, label("severity", r.severity), r.message]
             for i, (r, file) in enumerate(zip(issues, files), 1)],
            filter_from=h, empty="Không có lỗi dữ liệu. Cảm ơn nhà trường.")
    sh.line("Dòng có mức độ “Lỗi” chưa được tổng hợp: hãy sửa trong tệp gốc; “Cảnh báo” cần kiểm tra lại.")
    sh.line(REISSUE_NOTE)
    write_unit_rows(book, data, st, iss, code, sub)

    sh = book.sheet("students", "DANH SÁCH HỌC SINH VÀ KẾT QUẢ XÉT HỖ TRỢ", sub, _SCHOOL_LIST_COLS)
    h = sh.header()
    ordered = st.sort_values(["grade", "_name_rank", "source_file", "source_row"], kind="stable", na_position="last")
    rows = []
    for i, r in enumerate(ordered.itertuples(index=False), 1):
        rows.append([i, r.source_file, as_int(r.source_row), r.full_name, date_value(r.date_of_birth, r.birth_year),
                     as_int(getattr(r, "grade_as_listed", r.grade)), r.commune, r.village,
                     tier_label(data.district, r.category), "x" if r.lacks_device else "",
                     "x" if r.lacks_internet else "", r.person_id, label("status", r.status),
                     label("reason", r.reason)])
    sh.rows(rows, filter_from=h, empty="Không có học sinh trong danh sách")

    write_allocated_sheet(book, data, al, sub)
    book.close()


def _short_paths(files: Sequence[str]) -> tuple[str, list[str]]:
    """The folder every file is in (said once, in the sheet's subtitle) and each file's path below it."""
    folders = {posixpath.dirname(f.replace("\\", "/")) for f in files if f}
    if not folders or "" in folders:
        return "", list(files)
    common = posixpath.commonpath(sorted(folders))
    if not common:
        return "", list(files)
    return common, [posixpath.relpath(f.replace("\\", "/"), common) if f else f for f in files]

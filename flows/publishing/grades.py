"""Lớp chưa ghi: the children whose lists wrote no class, the class the night used for them and where it came from.

Commune lists are drawn from the household register and often leave the class out; the class is then taken from
the child's school record or inferred from the birth year (``flows.rules.grades``). This sheet lets the commune
confirm it. Written only when there are such children.
"""

from __future__ import annotations

import pandas as pd

from flows.publishing.prepared import Prepared, as_int, ordered
from flows.publishing.workbook import Book, Col, Sheet, date_value, label
from flows.text import as_text

_GRADE_COLS = [
    Col("STT", 6, "stt"), Col("Mã HS", 14, "center"), Col("Họ và tên", 26), Col("Ngày sinh", 12, "date"),
    Col("Xã", 20), Col("Thôn", 16), Col("Lớp", 6, "int"), Col("Lớp lấy theo", 24, "wrap"),
    Col("Trạng thái", 16), Col("Lý do", 28, "wrap"), Col("Nguồn dữ liệu", 36, "wrap"),
]


def write_grade_sheet(book: Book, data: Prepared, persons: pd.DataFrame, sub: str) -> None:
    """The children of ``persons`` whose rows wrote no class, with the class used and its source."""
    st = data.students
    if "grade_source" not in st or not len(persons):
        return
    source = st["grade_source"].map(as_text)
    unwritten = st[(st["person_id"] != "") & (source != "list") & (st["status"] != "rejected")]
    kids = persons[persons["person_id"].isin(set(unwritten["person_id"]))]
    if kids.empty:
        return

    def fill(sh: Sheet) -> None:
        first = unwritten.drop_duplicates("person_id").set_index("person_id")
        rows = []
        for i, r in enumerate(ordered(kids, "_commune_order", "commune", "village", "_name_rank").itertuples(
                index=False), 1):
            row = first.loc[r.person_id]
            grade = as_int(row.get("grade_resolved"))
            rows.append([i, r.person_id, r.full_name, date_value(r.date_of_birth, r.birth_year), r.commune,
                         r.village, grade if grade is not None and grade >= 1 else None,
                         label("grade_source", as_text(row["grade_source"])), label("status", r.status),
                         label("reason", r.reason) if r.reason else "", r.sources])
        h = sh.header()
        sh.rows(rows, filter_from=h)
        sh.line("Lớp theo danh sách của trường khi em có trong danh sách của trường; nếu không, lớp suy ra từ năm "
                "sinh (vào lớp 1 năm em tròn 6 tuổi). Nếu lớp của em khác, hãy ghi lớp vào danh sách gửi lại.")

    book.sheet("grades", "HỌC SINH DANH SÁCH KHÔNG GHI LỚP: LỚP ĐÃ DÙNG ĐỂ XÉT HỖ TRỢ", sub, _GRADE_COLS).fill(
        fill, frames=(persons, st))

"""Thay đổi: what the night changed in the allocations since the night before, for the district office.

New allocations are listed in "Danh sách phân bổ"; this sheet lists every other change, each with the rule
behind it: a support released (the child left the lists, the need was withdrawn, an officer's decision), a unit
reallocated, a hand-over recorded, and two records found to be one child, with both ids ("Hồ sơ gộp"), so
that no support is taken back without a line the officer can read and defend.
"""

from __future__ import annotations

from flows.publishing.prepared import Prepared
from flows.publishing.workbook import Book, Col, label
from flows.text import as_text

_COLS = [
    Col("STT", 6, "stt"), Col("Mã HS", 12, "center"), Col("Họ và tên", 24, "text"), Col("Trường", 24, "wrap"),
    Col("Xã", 16, "text"), Col("Nhu cầu", 12, "text"), Col("Trước", 30, "wrap"), Col("Sau", 30, "wrap"),
    Col("Căn cứ", 34, "wrap"), Col("Hồ sơ gộp (mã HS)", 14, "center"),
]


def state_words(state: str) -> str:
    """A change-log state ("provisional:tablet:TT-1") in words."""
    if not state:
        return "chưa có"
    status, _, rest = state.partition(":")
    item, _, donation = rest.partition(":")
    words = {"provisional": "đã phân bổ (chưa bàn giao)", "handed_over": "đã bàn giao", "released": "thu hồi",
             "waitlisted": "chờ phân bổ", "no_coverage": "thôn chưa có sóng"}.get(status, status)
    if item:
        words += f" {label('item', item).lower()}" + (f" (khoản {donation})" if donation else "")
    return words


def write_changes_sheet(book: Book, data: Prepared) -> None:
    """Every change but a new allocation (nothing before it, whatever its rule: priority, an earmark, an officer's
    assignment; those are listed in "Danh sách phân bổ" and counted here), ordered by rule, the child's id, need."""
    changes = data.result.changes
    records = [] if changes is None or not len(changes) else changes.fillna("").to_dict("records")
    new = sum(1 for c in records if not as_text(c.get("before")))
    others = sorted((c for c in records if as_text(c.get("before"))),
                    key=lambda c: (as_text(c.get("rule")), as_text(c.get("person_id")), as_text(c.get("need"))))
    persons = data.persons.set_index("person_id") if len(data.persons) else None
    sh = book.sheet("changes", "THAY ĐỔI PHÂN BỔ SO VỚI LẦN TỔNG HỢP TRƯỚC",
                    f"{new} phân bổ mới (xem Danh sách phân bổ); {len(others)} thay đổi khác dưới đây - "
                    f"lần tổng hợp {data.result.run_id}", _COLS)
    h = sh.header()
    rows = []
    for i, c in enumerate(others, 1):
        pid = as_text(c.get("person_id"))
        p = persons.loc[pid] if persons is not None and pid in persons.index else None
        name, school, commune = ("", "", "") if p is None else (
            as_text(p["full_name"]), data.school_name(as_text(p["school_code"]), as_text(p["school"])),
            data.commune_name(as_text(p["commune_code"]), as_text(p["commune"])))
        rows.append([i, pid, name, school, commune, label("need", c.get("need")) if c.get("need") else "",
                     state_words(as_text(c.get("before"))), state_words(as_text(c.get("after"))),
                     label("reason", c.get("rule")), as_text(c.get("other_person_id"))])
    sh.rows(rows, filter_from=h, empty="Không có thay đổi nào ngoài phân bổ mới")

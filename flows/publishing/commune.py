"""A commune's workbook: the district's sheets for that commune's children only (privacy), and its own rows.

Tổng hợp per school, Danh sách phân bổ, Danh sách chờ, Không đủ điều kiện, Lỗi dữ liệu, the rows the commune
committee sent with the cells to fix (Dòng đã gửi, when it sent a list), Hạ tầng and Tiến độ.
"""

from __future__ import annotations

from pathlib import Path

from flows.publishing.lists import write_issue_sheet, write_list_sheets
from flows.publishing.prepared import Prepared
from flows.publishing.progress import write_infrastructure_sheet, write_progress_sheet
from flows.publishing.rows_as_sent import write_unit_rows
from flows.publishing.summary import write_summary
from flows.publishing.workbook import Book


def write_commune(data: Prepared, code: str, path: Path) -> None:
    """The commune's workbook: only rows whose commune is this commune (privacy)."""
    name = data.commune_name(code, code)
    st = data.students[data.students["commune_code"] == code]
    persons = data.persons[data.persons["commune_code"] == code]
    al = data.allocations[data.allocations["commune_code"] == code]
    iss = data.issues[data.issues["_commune_key"] == code]
    book = Book(path, data, f"{data.district.district.programme} - {name}",
                rows=len(al) + len(persons) + len(iss))
    write_summary(book, data, st, persons, al, iss, commune=code)
    write_list_sheets(book, data, al, persons, iss, name)
    write_issue_sheet(book, data, iss, name)
    write_unit_rows(book, data, st, iss, code, f"{name} - số liệu đến ngày {data.result.as_of:%d/%m/%Y}",
                    unit="commune")
    write_infrastructure_sheet(book, data, al, code)
    write_progress_sheet(book, data, al, code)
    book.close()

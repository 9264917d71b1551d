"""A school's workbook is its feedback: its own files' issues, its students' outcome, its allocation list."""

from __future__ import annotations

from python_calamine import CalamineWorkbook

from tests.publishing.night import table


def test_school_workbook_is_its_feedback(published):
    path = published / "schools" / "TH-06388-th-huu-lien.xlsx"
    assert CalamineWorkbook.from_path(str(path)).sheet_names == ["Phản hồi", "Danh sách", "Danh sách phân bổ"]
    header, feedback = table(path, "Phản hồi")
    assert header == ["STT", "Tệp", "Trang tính", "Dòng", "Cột", "Mức độ", "Nội dung cần sửa"]
    # Its own file's issues only, the sheet-level one first, then by row.
    assert [r[3] for r in feedback] == ["", 8.0, 10.0, 11.0]
    assert {r[1] for r in feedback} == {"TH-HuuLien.xlsx"}
    _, students = table(path, "Danh sách")
    statuses = {r[3]: r[12] for r in students}
    assert statuses["Hà Văn Xuân"] == "Dòng bị loại (lỗi dữ liệu)" and statuses["Trần Thị Ánh"] == "Đã phân bổ"
    assert "Vi Thị Hoa" in statuses and "Lý Văn Cường" not in statuses  # commune-list row of its pupil is shown
    _, allocated = table(path, "Danh sách phân bổ")
    assert {r[2] for r in allocated} == {"Nguyễn Văn An", "Trần Thị Ánh"}

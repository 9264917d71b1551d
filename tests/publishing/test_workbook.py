"""The workbook engine: data written as data (never a formula), a Vietnamese label for every contract code."""

from __future__ import annotations

import openpyxl

from flows.publishing import textfit
from flows.publishing.workbook import SHEETS, VI
from tests.publishing.night import FORMULA_MESSAGE, district_path, strings


def test_data_is_written_as_data_never_formulas(published):
    for path in published.rglob("*.xlsx"):
        wb = openpyxl.load_workbook(path)
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (path.name, ws.title, cell.coordinate)
    found = strings(district_path(published))
    assert FORMULA_MESSAGE in found and "=Công ty Máy tính" in found and "=SUM(A1:A3)" in found
    feedback = strings(published / "schools" / "TH-06391-th-yen-binh.xlsx")
    assert FORMULA_MESSAGE in feedback


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


def test_every_row_with_wrapping_text_is_tall_enough_for_it(published):
    """xlsxwriter writes no row heights and no spreadsheet grows a row for text another program wrapped: every
    row holding a wrapping cell carries a height fitting its lines at its column's width, in every sheet of every
    workbook, and a value wider than its column wraps instead of running into the next cell."""
    checked = 0
    for path in published.rglob("*.xlsx"):
        wb = openpyxl.load_workbook(path)
        for ws in wb.worksheets:
            widths = {openpyxl.utils.get_column_letter(c): d.width for d in ws.column_dimensions.values()
                      if d.min for c in range(d.min, d.max + 1)}
            merged = {r.min_row for r in ws.merged_cells.ranges}
            for row in ws.iter_rows():
                for cell in row:
                    if not isinstance(cell.value, str) or not cell.value or cell.row in merged:
                        continue
                    # openpyxl reads the stored width, which xlsxwriter writes 5/7 of a character wider
                    width = widths.get(cell.column_letter, 8.43 + 5 / 7) - 5 / 7
                    lines = textfit.wrapped_lines(cell.value, width, bold=bool(cell.font and cell.font.b))
                    if cell.alignment.wrap_text:
                        height = ws.row_dimensions[cell.row].height
                        assert height is not None and height >= textfit.row_height(lines) - 0.5, \
                            (path.name, ws.title, cell.coordinate, cell.value, height)
                        checked += 1
                    elif cell.border.left.style and lines > 1:  # a table cell (not a heading line)
                        raise AssertionError((path.name, ws.title, cell.coordinate, cell.value, "runs over"))
    assert checked > 100


def test_text_is_measured_and_wrapped_like_a_spreadsheet():
    message = "Ngày sinh \"2015/3/45\" không đọc được. Hãy ghi theo dạng ngày/tháng/năm, ví dụ 05/09/2012."
    assert textfit.wrapped_lines(message, 64) == 2
    assert textfit.wrapped_lines(message, 200) == 1
    assert textfit.wrapped_lines("truong/TH_Thi_tran_Huu_Lung_DS_hoc_sinh.xlsx", 10) >= 3
    assert textfit.wrapped_lines("một\nhai\nba", 50) == 3
    assert textfit.text_points("WWW") > textfit.text_points("iii") * 2
    assert textfit.text_points("Nguyễn Thị Ánh") == textfit.text_points("Nguyen Thi Anh")
    assert textfit.row_height(3) > textfit.row_height(2) > textfit.row_height(1) >= 15

"""The workbook engine: data written as data (never a formula), a Vietnamese label for every contract code."""

from __future__ import annotations

import openpyxl

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

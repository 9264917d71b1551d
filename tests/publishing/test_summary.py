"""Tổng hợp: totals per commune that match the inputs, an "other" row, and the reconciliation of rows and
children."""

from __future__ import annotations

from tests.publishing.night import cells, district_path, table


def test_summary_totals_match_the_inputs(published):
    header, rows = table(district_path(published), "Tổng hợp")
    assert header[:2] == ["STT", "Xã, thị trấn"]
    communes = {r[1]: r for r in rows}
    total = next(r for r in cells(district_path(published), "Tổng hợp") if r[1] == "Tổng cộng")
    # listed rows, rejected rows, persons, eligible, devices, internet, waiting needs, excluded, issues
    assert [int(v) for v in total[2:11]] == [11, 1, 8, 6, 3, 2, 3, 2, 8]
    assert [int(v) for v in communes["Xã Hữu Liên"][2:11]] == [8, 1, 5, 3, 2, 1, 1, 2, 5]
    assert [int(v) for v in communes["Xã Yên Bình"][2:11]] == [3, 0, 3, 3, 1, 1, 2, 0, 1]
    # The unreadable file and the row without a commune belong to no commune: they are counted on the "other"
    # row so the total still adds up.
    other = next(r for r in cells(district_path(published), "Tổng hợp") if r[1] == "Khác / chưa xác định")
    assert int(other[10]) == 2
    assert len(rows) == 23  # every commune listed, zeros included


def test_summary_reconciles_rows_and_persons(officer_run):
    rows = cells(district_path(officer_run), "Tổng hợp")
    start = next(i for i, r in enumerate(rows) if r[1] == "Số dòng trong các danh sách")
    block = rows[start:start + 11]
    assert block[0][2:4] == [11, "Khớp"]
    assert [r[2] for r in block[1:6]] == [3, 4, 2, 1, 1]  # allocated, waitlisted, excluded, rejected, duplicate
    assert block[6][1].startswith("Số học sinh") and block[6][2:4] == [8, "Khớp"]
    assert [r[2] for r in block[7:10]] == [3, 3, 2]
    assert block[10][2] == 1  # Hoàng Thị Bình is on her school's list and the commune's

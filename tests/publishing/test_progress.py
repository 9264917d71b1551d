"""Hạ tầng and Tiến độ: village coverage against the target, children without a signal, phase targets,
handovers and the device-use follow-up."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.publishing.night import cells, district_path, rows_after, table


def test_infrastructure_sheet_counts_villages_and_lists_children_without_signal(officer_run):
    path = district_path(officer_run)
    header, communes = table(path, "Hạ tầng")
    assert header[:4] == ["STT", "Xã, thị trấn", "Thôn, khu", "Số thôn"]
    assert len(communes) == 23
    by_name = {r[1]: r for r in communes}
    # Hữu Liên: 12 official villages, Bãi Hào has 3G and 4G, the other 11 not reported yet
    assert by_name["Xã Hữu Liên"][3:9] == [12, 1, 1, 0, 1, 11]
    assert by_name["Xã Hữu Liên"][9] == pytest.approx(1 / 12)
    assert by_name["Xã Hữu Liên"][11] == 11  # villages short of the 100 % target
    # Yên Bình: Khòn Pần reported without any signal; one child waits for internet there
    assert by_name["Xã Yên Bình"][7:9] == [0, 7] and by_name["Xã Yên Bình"][12] == 1
    villages = rows_after(path, "Hạ tầng", "3G")
    khon_pan = [r for r in villages if r[2] == "Thôn Khòn Pần" and r[1] == "Xã Yên Bình"]
    assert khon_pan and khon_pan[0][3:8] == ["", "", "", "Chưa có", 1]
    children = rows_after(path, "Hạ tầng", "Mã HS")
    assert [(r[3], r[4], r[2]) for r in children] == [("P006", "Lý Văn Cường", "Thôn Khòn Pần")]
    # privacy: Hữu Liên's copy shows only its villages and none of Yên Bình's children
    hl = " ".join(str(v) for r in cells(officer_run / "communes" / "06388-xa-huu-lien.xlsx", "Hạ tầng") for v in r)
    assert "Thôn Bãi Hào" in hl and "Lý Văn Cường" not in hl and "Xã Yên Bình" not in hl


def test_progress_sheet_reports_targets_handovers_and_follow_up(officer_run):
    path = district_path(officer_run)
    _, rows = table(path, "Tiến độ")
    devices = [r for r in rows if r[1].startswith("Bộ thiết bị")]
    assert devices[0][2].startswith("Giai đoạn 1") and devices[0][3:5] == ["1.500", "3"]
    assert devices[0][5] == pytest.approx(3 / 1500)
    internet = [r for r in rows if r[1].startswith("Học sinh lớp 1-9 có kết nối Internet (ước tính)")]
    assert [r[3] for r in internet] == ["50%", "100%"]
    assert internet[1][4] == "" and internet[1][6] == "Chưa đến giai đoạn"  # phase 2 starts in 2023
    _, given = table(path, "Danh sách phân bổ")
    handed = [r for r in given if r[1] == "P007" and r[10] == "Thiết bị"]
    assert [r[13:16] for r in handed] == [["Đã bàn giao", "SN1", dt.date(2022, 1, 8)]]
    follow = rows_after(path, "Tiến độ", "Đã bàn giao")
    yb = next(r for r in follow if r[1] == "Xã Yên Bình")
    assert yb[2:8] == [1, 1, 0, 1, 0, 0]  # one smartphone handed over, reported broken
    total = next(r for r in follow if r[1] == "Tổng cộng")
    assert total[2:8] == [3, 1, 0, 1, 0, 0]

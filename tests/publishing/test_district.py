"""The district's workbook: its sheets, official heading and headers; complete lists in Vietnamese order."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pandas as pd
from python_calamine import CalamineWorkbook

from flows.publishing.district import NO_REVIEW_PAIRS
from flows.publishing.publish import publish
from flows.publishing.workbook import HEADER_ROW
from tests.publishing.night import cells, district_path, make_result, read_csv, table

ALLOCATION_HEADERS = ["STT", "Mã HS", "Họ và tên", "Ngày sinh", "Lớp", "Trường", "Xã", "Thôn", "Đối tượng",
                      "Hạng ưu tiên", "Nhu cầu", "Hỗ trợ", "Mã tài trợ", "Trạng thái", "Số sê-ri", "Ngày bàn giao"]
ISSUE_HEADERS = ["STT", "Tệp", "Trang tính", "Dòng", "Cột", "Mức độ", "Quy tắc", "Nội dung cần sửa"]
DISTRICT_SHEETS = ["Tổng hợp", "Danh sách phân bổ", "Danh sách chờ", "Không đủ điều kiện", "Cần xem xét",
                   "Thay đổi", "Lỗi dữ liệu", "Nguồn tài trợ", "Hạ tầng", "Tiến độ", "Nguồn dữ liệu"]


def test_district_workbook_sheets_and_headers(published):
    path = district_path(published)
    assert CalamineWorkbook.from_path(str(path)).sheet_names == DISTRICT_SHEETS
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == DISTRICT_SHEETS
    ws = wb["Danh sách phân bổ"]
    assert [c.value for c in ws[HEADER_ROW + 1]] == ALLOCATION_HEADERS
    for name in ("Danh sách phân bổ", "Hạ tầng", "Tiến độ"):  # frozen header, filter, A4 landscape, titles
        ws = wb[name]
        assert ws.freeze_panes == f"A{HEADER_ROW + 2}", name
        assert ws.auto_filter.ref.startswith(f"A{HEADER_ROW + 1}:"), name
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9, name
        assert ws.print_title_rows == f"${HEADER_ROW + 1}:${HEADER_ROW + 1}", name
    for name in DISTRICT_SHEETS:
        sheet = wb[name]
        assert sheet["A1"].value == "UBND HUYỆN HỮU LŨNG", name
        assert sheet["A2"].value == "PHÒNG GIÁO DỤC VÀ ĐÀO TẠO", name
        assert sheet[HEADER_ROW + 1][0].value == "STT", name
        assert sheet["A1"].font.name == "Times New Roman"
        row1 = [c.value for c in sheet[1]]
        assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in row1 and "Hữu Lũng, ngày 15 tháng 01 năm 2022" in [
            c.value for c in sheet[3]], name
    assert [c.value for c in wb["Lỗi dữ liệu"][HEADER_ROW + 1]] == ISSUE_HEADERS
    assert wb["Tổng hợp"]._charts, "the summary carries a chart"


def test_changes_sheet_shows_every_change_but_new_allocations_with_both_ids_of_a_merge(published):
    path = district_path(published)
    header, rows = table(path, "Thay đổi")
    assert header == ["STT", "Mã HS", "Họ và tên", "Trường", "Xã", "Nhu cầu", "Trước", "Sau", "Căn cứ",
                      "Hồ sơ gộp (mã HS)"]
    assert [(r[1], r[8], r[9]) for r in rows] == [
        ("P002", "Đã gộp với hồ sơ khác của cùng học sinh", "P009"),
        ("P009", "Đã gộp với hồ sơ khác của cùng học sinh", "P002")]
    assert rows[0][2] == "Trần Thị Ánh" and rows[1][6].startswith("đã phân bổ (chưa bàn giao) máy tính xách tay")
    assert rows[1][7] == "thu hồi"
    subtitle = " ".join(str(v) for row in cells(path, "Thay đổi")[:HEADER_ROW] for v in row if v)
    assert "1 phân bổ mới" in subtitle and "2 thay đổi khác" in subtitle
    _, allocated = table(path, "Danh sách phân bổ")  # the new allocation is listed there, not here
    assert "P001" in {r[1] for r in allocated}


def test_lists_are_complete_sorted_and_in_vietnamese(published):
    path = district_path(published)
    _, allocated = table(path, "Danh sách phân bổ")
    assert len(allocated) == 5
    # Grouped by commune (config order) then school, names in Vietnamese order inside each group.
    assert [r[2] for r in allocated] == ["Nguyễn Văn An", "Nguyễn Văn An", "Trần Thị Ánh", "Đặng Thị Dung",
                                         "Đặng Thị Dung"]
    assert {r[13] for r in allocated} == {"Đã phân bổ", "Đã bàn giao"}
    assert {r[11] for r in allocated} == {"Máy tính bảng", "Gói cước Internet", "Máy tính xách tay",
                                          "Điện thoại thông minh"}
    assert allocated[0][8] == "Hộ nghèo" and allocated[0][3] == dt.date(2014, 5, 6)
    _, waiting = table(path, "Danh sách chờ")
    assert [int(r[1]) for r in waiting] == [3, 4, 5]  # by priority rank
    assert waiting[2][12] == "Thôn chưa có sóng/cáp quang"
    _, excluded = table(path, "Không đủ điều kiện")
    assert {(r[2], r[8]) for r in excluded} == {("Lường Văn Khánh", "Không thuộc lớp 1-9"),
                                                ("Vi Thị Hoa", "Đã có thiết bị và Internet")}
    _, sources = table(path, "Nguồn dữ liệu")
    assert [r[4] for r in sources][:2] == ["Lỗi", "Dùng bản cũ"] and "Đã đọc" in {r[4] for r in sources}
    _, pairs = table(path, "Cần xem xét")
    assert pairs[0][3] == "Trần Thị Ánh" and pairs[0][13] == "Vi Thị Hoa"  # both records side by side
    _, issues = table(path, "Lỗi dữ liệu")
    assert len(issues) == 8 and {r[5] for r in issues} == {"Lỗi", "Cảnh báo"}


def test_vietnamese_collation_and_empty_review_queue(cfg, tmp_path):
    result = make_result(review=False)
    names = ["Trần Văn Bình", "Nguyễn Văn Đức", "Nguyễn Thị Ánh", "Phạm Thị Dũng", "Lê Văn An", "Bùi Văn Dung"]
    template = result.allocations.iloc[2].to_dict()  # an allocated device, Trường TH Hữu Liên
    result.allocations = pd.DataFrame([template | {"person_id": f"Q{i}", "full_name": n} for i, n in enumerate(names)])
    run = publish(result, cfg, tmp_path)
    _, allocated = table(district_path(run), "Danh sách phân bổ")
    # Given name first; a ă â b c d đ ...; tones after the bare letter (Dung before Dũng). Code-point order would
    # put Ánh after Dũng.
    assert [r[2] for r in allocated] == ["Lê Văn An", "Nguyễn Thị Ánh", "Trần Văn Bình", "Bùi Văn Dung",
                                         "Phạm Thị Dũng", "Nguyễn Văn Đức"]
    rows = cells(district_path(run), "Cần xem xét")
    assert rows[HEADER_ROW + 1][0] == NO_REVIEW_PAIRS
    assert read_csv(run / "exports" / "review_pairs.csv") == (["person_id_l", "person_id_r", "match_probability",
                                                                 "reasons", "pair_key"], [])

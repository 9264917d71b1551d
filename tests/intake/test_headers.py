"""Headers: the header of the table is found in messy sheets and its columns named (one- to three-row headers,
merged or not, in Unicode or TCVN3); the kind of table is inferred from it."""

from __future__ import annotations

import datetime as dt

import pytest

from flows.config import load_config
from flows.intake import layout
from flows.intake.headers import field_of
from flows.intake.normalize import normalize_students
from flows.intake.legacy_fonts import encode
from tests.intake.builders import KIND_SHEETS, TITLE, grid, source


@pytest.fixture(scope="module")
def cfg():
    return load_config()


# --- Header rows ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("header", "expected"), [
    (["STT", "Họ và tên", "Ngày sinh", "Lớp"], ["full_name", "date_of_birth", "grade"]),
    (["TT", "Họ tên học sinh", "Ngày/tháng/năm sinh", "Lớp học"], ["full_name", "date_of_birth", "grade"]),
    (["Số TT", "HỌ VÀ TÊN HỌC SINH", "Năm sinh", "Khối"], ["full_name", "date_of_birth", "grade"]),
    (["STT", "Họ và tên học sinh (viết in hoa)", "Ngày sinh (dd/mm/yyyy)", "Học lớp"],
     ["full_name", "date_of_birth", "grade"]),
    (["STT", "Họ và tên", "Giới tính", "Thôn/Xóm", "Họ tên bố/mẹ", "SĐT phụ huynh"],
     ["full_name", "sex", "village", "guardian_name", "phone"]),
    (["STT", "Họ và tên", "Họ và tên cha/mẹ hoặc người giám hộ", "Số điện thoại liên hệ", "Đối tượng ưu tiên"],
     ["full_name", "guardian_name", "phone", "category"]),
    (["STT", "Họ và tên", "Xã/Thị trấn", "Trường", "Chưa có máy tính", "Chưa có kết nối Internet"],
     ["full_name", "commune", "school", "lacks_device", "lacks_internet"]),
    (["Hä vµ tªn", "Ngµy sinh", "Líp", "Ghi chó"], ["full_name", "date_of_birth", "grade", "note"]),  # TCVN3
    (["STT", "Ho va ten", "Ngay sinh", "Lop", "Gioi tinh"], ["full_name", "date_of_birth", "grade", "sex"]),
    (["STT", "Họ và tên", "Nam", "Nữ", "Năm sinh"], ["full_name", "sex_male", "sex_female", "date_of_birth"]),
])
def test_header_variants(cfg, header, expected):
    has_stt = header[0].upper() in ("STT", "TT", "SỐ TT")
    row = [1, "Lê Văn Tám"] if has_stt else ["Lê Văn Tám"]
    row += ["x"] * (len(header) - len(row))
    result = layout.extract(source([grid([*TITLE, header, row])]), cfg)
    labels = result.headers[("truong/danh-sach.xlsx", "Sheet1")]
    assert list(labels) == expected
    assert result.issues == []
    assert list(result.tables["students"]["source_row"]) == [6]


def test_three_row_header(cfg):
    rows = [
        ["TRƯỜNG TH YÊN BÌNH"],
        ["STT", "Họ và tên", "Giới tính", None, "Thông tin hỗ trợ", None, None, None],
        [None, None, "Nam", "Nữ", "Đối tượng", None, "Nhu cầu", None],
        [None, None, None, None, "Hộ nghèo", "Hộ cận nghèo", "Chưa có thiết bị", "Chưa có Internet"],
        [1, "Lý Thị Mai", None, "x", None, "x", "x", None],
        [2, "Hà Văn Nam", "x", None, "x", None, None, "x"],
    ]
    merged = [(1, 0, 3, 0), (1, 1, 3, 1), (1, 2, 1, 3), (2, 2, 3, 2), (2, 3, 3, 3), (1, 4, 1, 7), (2, 4, 2, 5),
              (2, 6, 2, 7)]
    result = layout.extract(source([grid(rows, merged=merged)]), cfg)
    labels = result.headers[("truong/danh-sach.xlsx", "Sheet1")]
    assert labels == {
        "full_name": "Họ và tên",
        "sex_male": "Giới tính / Nam",
        "sex_female": "Giới tính / Nữ",
        "category_poor": "Thông tin hỗ trợ / Đối tượng / Hộ nghèo",
        "category_near_poor": "Thông tin hỗ trợ / Đối tượng / Hộ cận nghèo",
        "lacks_device": "Thông tin hỗ trợ / Nhu cầu / Chưa có thiết bị",
        "lacks_internet": "Thông tin hỗ trợ / Nhu cầu / Chưa có Internet",
    }
    table = result.tables["students"]
    assert list(table["source_row"]) == [5, 6]
    assert list(table["sex_female"]) == ["x", ""]
    assert result.issues == []


def test_lost_merges_parent_over_children(cfg):
    """A CSV of a two-row header: the parent label sits in its first cell with empty cells to its right."""
    rows = [
        ["STT", "Họ và tên", "Đối tượng", None, None, "Ghi chú"],
        [None, None, "Hộ nghèo", "Cận nghèo", "Khó khăn khác", None],
        [1, "Đinh Văn Hùng", None, "x", None, None],
    ]
    result = layout.extract(source([grid(rows, name="")], file="xa/huu-lien.csv"), cfg)
    labels = result.headers[("xa/huu-lien.csv", "")]
    assert labels["category_near_poor"] == "Đối tượng / Cận nghèo"
    assert labels["category_other"] == "Đối tượng / Khó khăn khác"
    assert labels["note"] == "Ghi chú"
    assert result.tables["students"].iloc[0]["category_near_poor"] == "x"


def test_full_name_merged_over_family_and_given_name_columns(cfg):
    rows = [
        ["TRƯỜNG TH HÒA BÌNH"],
        ["STT", "Họ và tên", None, "Lớp"],
        [None, "Họ đệm", "Tên", None],
        [1, "Nguyễn Thị", "Hoa", "2A"],
    ]
    result = layout.extract(source([grid(rows, merged=[(1, 1, 1, 2), (1, 0, 2, 0), (1, 3, 2, 3)])]), cfg)
    assert result.tables["students"].iloc[0]["full_name"] == "Nguyễn Thị Hoa"
    assert result.issues == []


def test_date_of_birth_split_over_day_month_year_columns(cfg):
    rows = [
        ["TRƯỜNG TH HÒA BÌNH"],
        ["STT", "Họ và tên", "Ngày sinh", None, None, "Lớp"],
        [None, None, "Ngày", "Tháng", "Năm", None],
        [1, "Nguyễn Thị Hoa", 5, 9, 2012, "2A"],
        [2, "Nguyễn Thị Huệ", None, None, 2013, "1A"],
    ]
    merged = [(1, 0, 2, 0), (1, 1, 2, 1), (1, 2, 1, 4), (1, 5, 2, 5)]
    result = layout.extract(source([grid(rows, merged=merged)]), cfg)
    assert list(result.tables["students"]["date_of_birth"]) == ["5/9/2012", "2013"]
    assert result.headers[("truong/danh-sach.xlsx", "Sheet1")]["date_of_birth"] == "Ngày sinh"
    assert result.issues == []


def test_a_family_name_column_then_the_rest_of_the_name(cfg):
    rows = [*TITLE, ["STT", "Họ", "Tên đệm và tên", "Ngày sinh", "Lớp"], [1, "Lê", "Văn An", "05/03/2014", "2A"],
            [2, "Hoàng", "Thị Bích Ngọc", "05/03/2013", "3A"]]
    result = layout.extract(source([grid(rows)], unit="TH-06388"), cfg)
    assert result.issues == []
    students = normalize_students(result.tables["students"], cfg)
    assert students["full_name"].tolist() == ["Lê Văn An", "Hoàng Thị Bích Ngọc"]
    assert students["given_name"].tolist() == ["An", "Ngọc"]


@pytest.mark.parametrize("parts", [["Ngày", "Tháng", "Năm sinh"], ["Ngày sinh", "Tháng sinh", "Năm sinh"],
                                   ["Ngày", "Tháng", "Năm"]])
def test_date_of_birth_in_three_columns_with_nothing_above_them(cfg, parts):
    rows = [["TRƯỜNG TH HÒA BÌNH"], ["STT", "Họ và tên", *parts, "Lớp"],
            [1, "Nguyễn Thị Hoa", 5, 9, 2012, "2A"], [2, "Nguyễn Thị Huệ", None, None, 2013, "1A"]]
    result = layout.extract(source([grid(rows)]), cfg)
    assert result.issues == []
    students = normalize_students(result.tables["students"], cfg)
    assert students["date_of_birth"].tolist() == ["2012-09-05", ""]
    assert students["birth_year"].tolist() == [2012, 2013]


def test_birth_date_written_under_nam_or_nu_gives_date_and_sex(cfg):
    rows = [
        ["TRƯỜNG THCS THỊ TRẤN HỮU LŨNG"],
        ["STT", "Họ và tên", "Ngày, tháng, năm sinh", None, "Lớp"],
        [None, None, "Nam", "Nữ", None],
        [1, "Hoàng Văn Hải", dt.date(2010, 9, 4), None, "7A"],
        [2, "Lương Thị Hiên", None, "07/05/2009", "9B"],
    ]
    merged = [(1, 2, 1, 3), (1, 0, 2, 0), (1, 1, 2, 1), (1, 4, 2, 4)]
    result = layout.extract(source([grid(rows, merged=merged)]), cfg)
    table = result.tables["students"]
    assert list(table["date_of_birth"]) == [dt.date(2010, 9, 4), "07/05/2009"]
    assert list(table["sex_male"]) == ["x", ""] and list(table["sex_female"]) == ["", "x"]
    assert result.issues == []


# --- Kinds ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(KIND_SHEETS))
def test_kind_is_inferred_from_the_header(cfg, kind):
    title = [["DANH SÁCH"], []]
    result = layout.extract(source([grid([*title, *KIND_SHEETS[kind]])], file="khac/tong-hop.xlsx"), cfg)
    assert list(result.tables) == [kind]
    assert list(result.tables[kind]["source_row"]) == [4]


def test_given_kind_is_used(cfg):
    rows = KIND_SHEETS["handover"]
    result = layout.extract(source([grid(rows)], kind="students", unit="TH-06388"), cfg)
    assert list(result.tables) == ["students"]
    unknown = [i.column for i in result.issues if i.rule == "unknown_column"]
    assert unknown == ["Số sê-ri", "Ngày bàn giao", "Người nhận"]


def test_a_sheet_of_another_kind_in_a_registered_workbook(cfg):
    """A commune sends its children and its village coverage in one workbook registered as students."""
    sheets = [grid([["UBND XÃ HỮU LIÊN"], *KIND_SHEETS["students"]], name="Hoc sinh"),
              grid([["UBND XÃ HỮU LIÊN"], ["STT", "Thôn", "Sóng 3G", "Sóng 4G", "Cáp quang", "Số hộ"],
                    [1, "Bãi Hào", "x", "x", None, 85]], name="Ha tang")]
    result = layout.extract(source(sheets, file="xa/huu-lien.xlsx", kind="students", unit_type="commune"), cfg)
    assert sorted(result.tables) == ["connectivity", "students"]
    assert result.tables["connectivity"].iloc[0]["unit_code"] == "06388"
    assert result.issues == []


# --- Issues ---------------------------------------------------------------------------------------------------
def test_unknown_columns_are_reported_once_per_sheet(cfg):
    rows = [
        ["TRƯỜNG TH HỮU LIÊN"],
        ["STT", "Họ và tên", "Dân tộc", "Lớp", None, "Con thứ mấy"],
        ["(1)", "(2)", "(3)", "(4)", "(5)", "(6)"],
        [1, "Lê Văn A", "Tày", "3A", None, 2],
        [2, "Lê Văn B", "Nùng", "3A", None, 1],
    ]
    result = layout.extract(source([grid(rows, name="Lop 3")]), cfg)
    unknown = [i for i in result.issues if i.rule == "unknown_column"]
    assert [i.column for i in unknown] == ["Dân tộc", "Con thứ mấy"]
    issue = unknown[0]
    assert issue.source_file == "truong/danh-sach.xlsx" and issue.source_sheet == "Lop 3" and issue.source_row is None
    assert issue.severity == cfg.rules.severity("unknown_column") == "warning"
    assert issue.message == cfg.rules.message("unknown_column", column="Dân tộc")
    assert "Dân tộc" in issue.message
    assert len(result.tables["students"]) == 2


def test_missing_name_column(cfg):
    rows = [["STT", "Tên", "Ngày sinh", "Lớp", "Hộ nghèo"], [1, "An", "01/01/2012", "3A", "x"]]
    result = layout.extract(source([grid(rows)], kind="students", unit="TH-06388"), cfg)
    rules = [i.rule for i in result.issues]
    assert "missing_column" in rules and "unknown_column" in rules
    missing = next(i for i in result.issues if i.rule == "missing_column")
    assert missing.severity == "error" and "Họ và tên" in missing.message
    assert "students" not in result.tables



# --- Names in parts, needs under a merged header, header variants (issue 20) -----------------------------------
def _names(rows, cfg, **kw):
    result = layout.extract(source([grid(rows, **kw)], unit="TH-06388", unit_type="school"), cfg)
    return result, list(result.tables["students"]["full_name"])


@pytest.mark.parametrize(("header", "cells", "name"), [
    (["STT", "Họ và tên đệm", "Tên", "Lớp"], [1, "Nguyễn Văn", "An", "3A"], "Nguyễn Văn An"),
    (["STT", "Họ", "Tên đệm", "Tên", "Lớp"], [1, "Nguyễn", "Thị Thu", "Hà", "3A"], "Nguyễn Thị Thu Hà"),
    (["STT", "HỌ ĐỆM", "TÊN", "LỚP"], [1, "LÊ THỊ", "BÍCH", "3A"], "LÊ THỊ BÍCH"),
    (["STT", "Họ", "Đệm", "Tên", "Lớp"], [1, "Quách", None, "Linh", "3A"], "Quách Linh"),  # no middle name
    (["STT", "Tên", "Họ và tên đệm", "Lớp"], [1, "An", "Nguyễn Văn", "3A"], "Nguyễn Văn An"),  # joined in name order
    (["STT", "Họ, tên đệm", "Tên", "Lớp"], [1, "Vi Văn", "Tú", "3A"], "Vi Văn Tú"),
])
def test_a_name_written_in_parts_is_joined(cfg, header, cells, name):
    result, names = _names([*TITLE, header, cells], cfg)
    assert names == [name]
    assert not [i for i in result.issues if i.rule in ("unknown_column", "missing_column")]


def test_a_merged_name_header_over_its_parts(cfg):
    rows = [*TITLE, ["STT", "Họ và tên", None, None, "Lớp"], [None, "Họ", "Tên đệm", "Tên", None],
            [1, "Hoàng", "Văn", "Thái", "3A"]]
    merges = [(4, 1, 4, 3), (4, 0, 5, 0), (4, 4, 5, 4)]
    result, names = _names(rows, cfg, merged=merges)
    assert names == ["Hoàng Văn Thái"]
    assert result.headers[("truong/danh-sach.xlsx", "Sheet1")]["full_name"] == "Họ và tên"


def test_a_given_name_column_kept_for_sorting_is_not_added_again(cfg):
    rows = [*TITLE, ["STT", "Họ và tên", "Tên", "Lớp"], [1, "Nguyễn Văn An", "An", "3A"],
            [2, "Lê Thị Bích", "Bích", "3A"], [3, "Hà Văn Thu Lâm", "Lâm", "3A"]]
    assert _names(rows, cfg)[1] == ["Nguyễn Văn An", "Lê Thị Bích", "Hà Văn Thu Lâm"]
    split = [*TITLE, ["STT", "Họ và tên", "Tên", "Lớp"], [1, "Nguyễn Văn", "An", "3A"], [2, "Lê Thị", "Bích", "3A"]]
    assert _names(split, cfg)[1] == ["Nguyễn Văn An", "Lê Thị Bích"]


@pytest.mark.parametrize(("parent", "children", "fields"), [
    ("Nhu cầu hỗ trợ", ["Máy tính", "Điện thoại", "Internet"], {"lacks_device": [4, 5], "lacks_internet": [6]}),
    ("Đề nghị hỗ trợ", ["Máy tính bảng", "Laptop", "Gói cước"], {"lacks_device": [4, 5], "lacks_internet": [6]}),
    ("Chưa có", ["Máy tính", "Điện thoại thông minh", "Mạng Internet"],
     {"lacks_device": [4, 5], "lacks_internet": [6]}),
    ("Nhu cầu", ["Chưa có thiết bị", "Chưa có Internet", "Sim 4G"], {"lacks_device": [4], "lacks_internet": [5, 6]}),
])
def test_need_sub_columns_under_a_merged_header(cfg, parent, children, fields):
    rows = [*TITLE, ["STT", "Họ và tên", "Ngày sinh", "Lớp", parent, None, None], [None] * 4 + children,
            [1, "Lê Văn A", "01/02/2012", "3A", "x", None, "1"]]
    merges = [(4, 4, 4, 6)] + [(4, c, 5, c) for c in range(4)]
    result = layout.extract(source([grid(rows, merged=merges)], unit="TH-06388"), cfg)
    header_fields = {f: c for f, c in fields.items()}
    table = result.tables["students"]
    assert not [i for i in result.issues if i.rule == "unknown_column"]
    assert "phone" not in table.columns  # "Điện thoại" under a need is a phone the child needs
    for f, cols in header_fields.items():
        assert f in table.columns, (f, cols)


def test_a_sub_column_saying_what_the_child_has_is_not_a_need(cfg):
    rows = [*TITLE, ["STT", "Họ và tên", "Lớp", "Nhu cầu hỗ trợ", None], [None, None, None, "Đã có máy tính", "Internet"],
            [1, "Lê Văn A", "3A", "x", "x"]]
    merges = [(4, 3, 4, 4)] + [(4, c, 5, c) for c in range(3)]
    result = layout.extract(source([grid(rows, merged=merges)], unit="TH-06388"), cfg)
    table = result.tables["students"]
    assert "lacks_device" not in table.columns
    assert table["has_device"].tolist() == ["x"]  # read as what the child has
    assert not [i for i in result.issues if i.rule == "unknown_column"]
    row = normalize_students(table, cfg).iloc[0]
    assert (bool(row["lacks_device"]), bool(row["lacks_internet"])) == (False, True)


@pytest.mark.parametrize(("header", "field"), [
    ("Có máy tính, điện thoại thông minh?", "has_device"), ("Có Internet?", "has_internet"),
    ("Đã có thiết bị học tập", "has_device"), ("Gia đình có máy tính không", "has_device"),
    ("Có kết nối Internet (Có/Không)", "has_internet"), ("Hiện có điện thoại thông minh", "has_device"),
    ("Em có máy tính chưa", "has_device"), ("Có/Không có máy tính", "has_device"),
    # a Google Form's questions
    ("Gia đình em hiện nay đã có máy tính hoặc điện thoại thông minh để học trực tuyến chưa?", "has_device"),
    ("Nhà em có mạng Internet không?", "has_internet"), ("Hiện nay gia đình có kết nối Internet không?", "has_internet"),
    # not a question of what the child has
    ("Không có máy tính", "lacks_device"), ("Chưa có Internet", "lacks_internet"), ("Có nhu cầu", "need"),
    ("Có nhu cầu hỗ trợ máy tính", "need"),
    ("Số điện thoại", "phone"), ("Có bố hoặc mẹ tử vong do COVID-19", "category_covid_orphan"),
])
def test_a_header_asking_what_the_child_has(cfg, header, field):
    assert field_of(cfg, "students", header) == field


@pytest.mark.parametrize(("header", "field"), [
    # PHHS is "phụ huynh học sinh": the parent's name, though it starts as the child's does ("Họ tên")
    ("Họ tên PHHS", "guardian_name"), ("Họ và tên PHHS", "guardian_name"), ("Tên PH", "guardian_name"),
    # a mark of the COVID-19 category, though it names the parents
    ("Cha/mẹ mất do Covid", "category_covid_orphan"), ("Bố hoặc mẹ mất do Covid-19", "category_covid_orphan"),
    ("Con hộ nghèo", "category_poor"), ("Con hộ cận nghèo", "category_near_poor"), ("Hộ nghèo/cận nghèo", "category"),
    ("GT", "sex"), ("Nơi thường trú", "village"), ("Số định danh cá nhân", "national_id"),
    ("Họ tên học sinh", "full_name"), ("Họ tên cha/mẹ", "guardian_name"),
    # the parent's card number: neither the guardian's name nor the child's national id
    ("Số CCCD của cha/mẹ", "guardian_id"), ("CCCD phụ huynh", "guardian_id"), ("CCCD của học sinh", "national_id"),
    # a Google Form's responses: its timestamp, and an e-mail address that is neither a village nor a guardian
    ("Dấu thời gian", "submitted_at"), ("Địa chỉ email", "email"), ("Email phụ huynh", "email"),
    ("Gia đình em thuộc diện nào?", "category"), ("Em đã có thiết bị học trực tuyến chưa?", "has_device"),
    ("Gia đình có kết nối Internet không?", "has_internet"),
])
def test_header_aliases_of_other_forms(cfg, header, field):
    assert field_of(cfg, "students", header) == field


def test_a_list_asking_what_each_child_has(cfg):
    """A form that asks "Có máy tính?" / "Có Internet?" with Có / Không: "Không" is the need (it was read as the
    family's phone number and as nothing, and every child lacked a need)."""
    rows = [*TITLE, ["STT", "Họ và tên", "Lớp", "Có máy tính, điện thoại thông minh?", "Có Internet?", "Số điện thoại"],
            [1, "Lê Văn A", "3A", "Không", "Có", "0912345678"],
            [2, "Lê Thị B", "3A", "Chưa có", "Không", "0987654321"],
            [3, "Lê Văn C", "3A", "Có", "Không", "0911222333"],
            [4, "Lê Văn D", "3A", "Dùng chung với anh", "Không", "0911222444"]]
    result = layout.extract(source([grid(rows)], unit="TH-06388"), cfg)
    table = result.tables["students"]
    students = normalize_students(table, cfg)
    assert students["lacks_device"].tolist() == [True, True, False, False]
    assert students["lacks_internet"].tolist() == [False, True, True, True]
    assert students["phone"].tolist() == ["0912345678", "0987654321", "0911222333", "0911222444"]
    assert [(i.source_row, i.column) for i in result.issues if i.rule == "need_unreadable"] == [
        (9, "Có máy tính, điện thoại thông minh?")]


@pytest.mark.parametrize(("header", "field"), [
    ("Sinh ngày", "date_of_birth"), ("Khu phố", "village"), ("Tổ dân phố", "village"), ("Hoàn cảnh gia đình", "category"),
    ("Thiết bị học tập", "lacks_device"), ("Nhu cầu hỗ trợ", "need"), ("Điện thoại liên hệ", "phone"),
    ("Nơi ở hiện nay", "village"), ("Số di động", "phone"), ("Họ tên người đại diện hộ", "household_head"),
])
def test_header_aliases_of_a_second_district(cfg, header, field):
    rows = [*TITLE, ["STT", "Họ và tên", "Lớp", header], [1, "Lê Văn A", "3A", "Chưa có"]]
    result = layout.extract(source([grid(rows)], unit="TH-06388"), cfg)
    assert result.headers[("truong/danh-sach.xlsx", "Sheet1")].get(field) == header


def test_a_vni_header_row_is_read_with_the_sheets_evidence(cfg):
    vni = [encode(h, "vni") for h in ["STT", "Họ và tên", "Ngày sinh", "Lớp", "SĐT phụ huynh", "Số ĐT", "Thôn"]]
    rows = [*TITLE, vni, [1, encode("Bế Kim Hoa", "vni"), "01/02/2012", "3A", "0912345678", "0987654321",
                          encode("Bãi Hào", "vni")]]
    result = layout.extract(source([grid(rows)], unit="TH-06388"), cfg)
    labels = result.headers[("truong/danh-sach.xlsx", "Sheet1")]
    assert labels["phone"] == "SĐT phụ huynh"  # alone, "SÑT" reads as TCVN3 "SẸT"
    assert result.tables["students"]["full_name"].tolist() == ["Bế Kim Hoa"]  # alone: TCVN3 "Beỏ Kim Hoa"


def test_the_parents_card_number_is_kept_apart_from_the_guardians_name(cfg):
    rows = [*TITLE, ["STT", "Họ và tên", "Lớp", "Họ tên cha/mẹ", "Số CCCD của cha/mẹ", "Chưa có thiết bị"],
            [1, "Lê Văn A", "3A", "Lê Văn Ba", "020123456789", "x"]]
    result = layout.extract(source([grid(rows)], unit="TH-06388"), cfg)
    assert not [i for i in result.issues if i.rule == "unknown_column"]
    row = normalize_students(result.tables["students"], cfg).iloc[0]
    assert (row["guardian_name"], row["national_id"]) == ("Lê Văn Ba", "")


COUNTS = [["TỔNG HỢP SỐ HỌC SINH THIẾU THIẾT BỊ"], [],
          ["STT", "Lớp", "Sĩ số", "Hộ nghèo", "Hộ cận nghèo", "Chưa có thiết bị", "Chưa có Internet"],
          [1, "1A", 32, 3, 2, 5, 1], [2, "2A", 30, 0, 4, 3, 0], ["", "Cộng", 62, 3, 6, 8, 1]]


def test_a_sheet_of_numbers_per_class_beside_the_list_is_passed_over(cfg):
    """A school's summary sheet (how many children per class) is not a list whose name column is missing."""
    listed = [*TITLE, ["STT", "Họ và tên", "Ngày sinh", "Lớp", "Hộ nghèo", "Chưa có thiết bị"],
              [1, "Lê Văn A", "01/02/2014", "2A", "x", "x"]]
    result = layout.extract(source([grid(COUNTS, name="Tổng hợp"), grid(listed, name="Danh sách")],
                                   unit="TH-06388"), cfg)
    assert result.issues == []
    assert result.counts_sheets == ["Tổng hợp"]
    assert result.tables["students"]["source_sheet"].tolist() == ["Danh sách"]


def test_a_file_of_numbers_alone_asks_for_the_list(cfg):
    result = layout.extract(source([grid(COUNTS, name="Tổng hợp")], unit="TH-06388"), cfg)
    assert [(i.rule, i.source_sheet, i.severity) for i in result.issues] == [("counts_only", "Tổng hợp", "error")]
    assert "students" not in result.tables


def test_marks_of_1_without_a_name_column_are_still_a_list_missing_its_names(cfg):
    rows = [*TITLE, ["STT", "Ngày sinh", "Lớp", "Hộ nghèo", "Chưa có thiết bị"],
            [1, "01/02/2014", "2A", 1, 1], [2, "03/04/2014", "2A", "", 1]]
    result = layout.extract(source([grid(rows)], unit="TH-06388"), cfg)
    assert [i.rule for i in result.issues] == ["missing_column"]

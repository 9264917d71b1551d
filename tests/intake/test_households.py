"""Commune lists kept by household are read into one row per child, the head of household as guardian.

Each list is written as an xlsx file the way a commune keeps it and checked as the night reads it
(``flows.rules.checkfile.check_file``: sources → layout → normalize → validate)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from flows.rules.checkfile import check_file

AS_OF = dt.date(2022, 3, 15)
TITLE = [["UBND XÃ HỮU LIÊN"], ["DANH SÁCH TRẺ EM THUỘC HỘ NGHÈO, CẬN NGHÈO CHƯA CÓ THIẾT BỊ HỌC TẬP"], []]


def _xlsx(path: Path, rows: list[list], merges: list[str] = ()) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Danh sách"
    for row in rows:
        ws.append(row)
    for rng in merges:
        ws.merge_cells(rng)
    wb.save(path)
    return path


def _children(report) -> list[dict]:
    st = report.students
    cols = ["source_row", "full_name", "birth_year", "grade", "guardian_name", "village", "category", "lacks_device",
            "lacks_internet", "row_status", "grade_by_birth_year"]
    return [{c: (None if (v is None or v != v) else (int(v) if c in ("birth_year", "grade", "grade_by_birth_year")
                                                         else v)) for c, v in r.items()}
            for r in st[cols].to_dict("records")]


def _check(path: Path, cfg):
    report = check_file(path, cfg, AS_OF)
    assert not [i for i in report.issues if i.severity == "error"], report.issues
    assert not [i for i in report.issues if i.rule == "unknown_column"], report.issues
    return report


def test_a_household_row_followed_by_its_childrens_rows(tmp_path, cfg):
    """The head's name and the household's details (village, category, needs) on the household's row only."""
    rows = TITLE + [
        ["STT", "Họ tên chủ hộ", "Họ tên học sinh", "Ngày sinh", "Thôn", "Diện hộ", "Chưa có thiết bị",
         "Chưa có Internet"],
        [1, "Hoàng Văn Tuấn", None, None, "Bãi Hào", "Hộ nghèo", "x", "x"],
        [None, None, "Hoàng Văn Minh", "14/03/2012", None, None, None, None],
        [None, None, "Hoàng Thị Mai", "02/02/2015", None, None, None, None],
        [2, "Ông Lương Văn Sơn", None, None, "Bình Minh", "Hộ cận nghèo", "x", None],
        [None, None, "Lương Thị Hoa", "02/07/2013", None, None, None, "x"],  # the child's own mark kept too
    ]
    report = _check(_xlsx(tmp_path / "xa-huu-lien-theo-ho.xlsx", rows), cfg)
    got = _children(report)
    assert [(c["source_row"], c["full_name"], c["guardian_name"], c["village"], c["category"]) for c in got] == [
        (6, "Hoàng Văn Minh", "Hoàng Văn Tuấn", "Thôn Bãi Hào", "poor"),
        (7, "Hoàng Thị Mai", "Hoàng Văn Tuấn", "Thôn Bãi Hào", "poor"),
        (9, "Lương Thị Hoa", "Lương Văn Sơn", "Thôn Bình Minh", "near_poor"),  # "Ông" is not part of the name
    ]
    assert [(c["lacks_device"], c["lacks_internet"]) for c in got] == [(True, True), (True, True), (True, True)]
    assert [c["grade_by_birth_year"] for c in got] == [4, 1, 3] and {c["row_status"] for c in got} == {"ok"}


def test_a_relation_column_tells_the_household_row_from_the_children(tmp_path, cfg):
    """A register extract: every member of the household, with the relation to its head."""
    rows = TITLE + [
        ["STT", "Họ và tên", "Quan hệ với chủ hộ", "Năm sinh", "Thôn", "Hộ nghèo", "Hộ cận nghèo",
         "Chưa có thiết bị", "Chưa có Internet"],
        [1, "Nông Văn Bảy", "Chủ hộ", 1980, "Đồng Giang", "x", None, "x", "x"],
        [2, "Hoàng Thị Nga", "Vợ", 1983, None, None, None, None, None],
        [3, "Nông Thị Lan", "Con", 2010, None, None, None, None, None],
        [4, "Nông Văn Lâm", "Cháu", 2014, None, None, None, None, None],
        [5, "Vi Văn Cảnh", "Chủ hộ", 1978, "Hố Cát", None, "x", None, "x"],
        [6, "Vi Thị Nhung", "Con", 2009, None, None, None, None, None],
    ]
    got = _children(_check(_xlsx(tmp_path / "xa-huu-lien-ho-khau.xlsx", rows), cfg))
    assert [(c["source_row"], c["full_name"], c["birth_year"], c["guardian_name"], c["village"], c["category"],
             c["lacks_device"], c["lacks_internet"]) for c in got] == [
        (7, "Nông Thị Lan", 2010, "Nông Văn Bảy", "Thôn Đồng Giang", "poor", True, True),
        (8, "Nông Văn Lâm", 2014, "Nông Văn Bảy", "Thôn Đồng Giang", "poor", True, True),
        (10, "Vi Thị Nhung", 2009, "Vi Văn Cảnh", "Thôn Hố Cát", "near_poor", False, True),
    ]


def test_a_household_written_as_a_title_row(tmp_path, cfg):
    rows = TITLE + [
        ["STT", "Họ và tên", "Ngày sinh", "Thôn", "Đối tượng", "Chưa có thiết bị", "Chưa có Internet"],
        ["I", "Hộ ông Triệu Văn Sinh", None, "Làng Mới", "Hộ nghèo", "x", "x"],
        [1, "Triệu Thị Thu", "05/09/2011", None, None, None, None],
        [2, "Triệu Văn Sáng", "07/11/2013", None, None, None, None],
        ["II", "Hộ bà Lý Thị Hạnh", None, "Làng Trang", "Hộ cận nghèo", "x", None],
        [3, "Lý Văn Hùng", "2015", None, None, None, None],
    ]
    got = _children(_check(_xlsx(tmp_path / "xa-huu-lien-theo-ho-tieu-de.xlsx", rows), cfg))
    assert [(c["full_name"], c["guardian_name"], c["village"], c["category"], c["lacks_internet"]) for c in got] == [
        ("Triệu Thị Thu", "Triệu Văn Sinh", "Thôn Làng Mới", "poor", True),  # "Sinh" is a name, not "sinh" (born)
        ("Triệu Văn Sáng", "Triệu Văn Sinh", "Thôn Làng Mới", "poor", True),
        ("Lý Văn Hùng", "Lý Thị Hạnh", "Thôn Làng Trang", "near_poor", False),
    ]


def test_one_row_per_household_with_a_group_of_columns_per_child(tmp_path, cfg):
    rows = TITLE + [
        ["STT", "Họ tên chủ hộ", "Thôn", "Diện hộ", "Con thứ nhất", None, None, "Con thứ hai", None, None,
         "Chưa có thiết bị", "Chưa có Internet"],
        [None, None, None, None, "Họ và tên", "Năm sinh", "Lớp", "Họ và tên", "Năm sinh", "Lớp", None, None],
        [1, "Hoàng Văn Tuấn", "Bãi Hào", "Hộ nghèo", "Hoàng Văn Minh", 2012, "4A", "Hoàng Thị Mai", 2015, None,
         "x", "x"],
        [2, "Lương Văn Sơn", "Bình Minh", "Hộ cận nghèo", "Lương Thị Hoa", 2013, None, None, None, None, "x", None],
    ]
    merges = ["A4:A5", "B4:B5", "C4:C5", "D4:D5", "E4:G4", "H4:J4", "K4:K5", "L4:L5"]
    report = _check(_xlsx(tmp_path / "xa-huu-lien-mot-dong-mot-ho.xlsx", rows, merges), cfg)
    got = _children(report)
    assert [(c["source_row"], c["full_name"], c["birth_year"], c["grade"], c["guardian_name"], c["village"],
             c["category"], c["lacks_device"], c["lacks_internet"]) for c in got] == [
        (6, "Hoàng Văn Minh", 2012, 4, "Hoàng Văn Tuấn", "Thôn Bãi Hào", "poor", True, True),
        (6, "Hoàng Thị Mai", 2015, None, "Hoàng Văn Tuấn", "Thôn Bãi Hào", "poor", True, True),
        (7, "Lương Thị Hoa", 2013, None, "Lương Văn Sơn", "Thôn Bình Minh", "near_poor", True, False),
    ]
    assert [c["grade_by_birth_year"] for c in got] == [None, 1, 3]


@pytest.mark.parametrize("names, born", [
    ("Hoàng Văn Minh\nHoàng Thị Mai", "14/03/2012\n02/02/2015"),  # one per line (Alt+Enter)
    ("1. Hoàng Văn Minh; 2. Hoàng Thị Mai", "14/03/2012; 02/02/2015"),
    ("Hoàng Văn Minh, Hoàng Thị Mai", "14/03/2012, 02/02/2015"),
    ("Hoàng Văn Minh (14/03/2012)\nHoàng Thị Mai (02/02/2015)", None),  # the dates written after the names
    ("Hoàng Văn Minh - sinh 14/03/2012, Hoàng Thị Mai - sinh 02/02/2015", ""),
])
def test_several_children_in_one_cell(tmp_path, cfg, names, born):
    rows = TITLE + [
        ["STT", "Họ tên chủ hộ", "Họ tên con", "Ngày sinh", "Thôn", "Diện hộ", "Chưa có thiết bị",
         "Chưa có Internet"],
        [1, "Hoàng Văn Tuấn", names, born, "Bãi Hào", "Hộ nghèo", "x", None],
        [2, "Lương Văn Sơn", "Lương Thị Hoa (2013)", None, "Bình Minh", "Hộ cận nghèo", None, "x"],
    ]
    got = _children(_check(_xlsx(tmp_path / "xa-huu-lien-nhieu-con.xlsx", rows), cfg))
    assert [(c["source_row"], c["full_name"], c["birth_year"], c["guardian_name"], c["category"]) for c in got] == [
        (5, "Hoàng Văn Minh", 2012, "Hoàng Văn Tuấn", "poor"),
        (5, "Hoàng Thị Mai", 2015, "Hoàng Văn Tuấn", "poor"),
        (6, "Lương Thị Hoa", 2013, "Lương Văn Sơn", "near_poor"),
    ]


def test_a_list_not_kept_by_household_reads_as_before(tmp_path, cfg):
    """A name with a comma, a new line inside one name, a given name that is a word: one child each."""
    rows = TITLE + [
        ["STT", "Họ và tên", "Ngày sinh", "Lớp", "Thôn", "Chưa có thiết bị"],
        [1, "Triệu Văn Sinh", "05/09/2011", "4", "Làng Mới", "x"],
        [2, "Nguyễn Văn\nAn", "05/09/2012", "3", "Bãi Hào", "x"],
        [3, "Lê Thị Hoa, Lê Văn Hải", "05/09/2013", "2", "Bãi Hào", "x"],
    ]
    report = check_file(_xlsx(tmp_path / "xa-huu-lien.xlsx", rows), cfg, AS_OF)
    assert list(report.students["full_name"]) == ["Triệu Văn Sinh", "Nguyễn Văn An", "Lê Thị Hoa, Lê Văn Hải"]


# --- Households told apart by age and by a head written once (issue 20) ----------------------------------------
def test_households_told_apart_by_age_alone(tmp_path, cfg):
    """No relation column, no head column: the head's numbered row (born a generation before), the spouse, then
    the children's rows that leave the household's details blank."""
    rows = TITLE + [
        ["STT", "Họ và tên", "Năm sinh", "Thôn", "Hoàn cảnh gia đình", "Nhu cầu hỗ trợ"],
        [1, "Hoàng Văn Tuấn", 1979, "Bãi Hào", "Hộ nghèo", None],
        [None, "Đinh Thị Lụa", 1984, None, None, None],
        [None, "Hoàng Văn Minh", 2012, None, None, "Máy tính"],
        [None, "Hoàng Thị Mai", 2015, None, None, "Internet"],
        [2, "Lương Văn Sơn", 1982, "Bình Minh", "Cận nghèo", None],
        [None, "Lương Thị Hoa", 2013, None, None, "Máy tính, Internet"],
    ]
    got = _children(_check(_xlsx(tmp_path / "xa-huu-lien-theo-tuoi.xlsx", rows), cfg))
    assert [(c["source_row"], c["full_name"], c["guardian_name"], c["village"], c["category"], c["lacks_device"],
             c["lacks_internet"]) for c in got] == [
        (7, "Hoàng Văn Minh", "Hoàng Văn Tuấn", "Thôn Bãi Hào", "poor", True, False),
        (8, "Hoàng Thị Mai", "Hoàng Văn Tuấn", "Thôn Bãi Hào", "poor", False, True),
        (10, "Lương Thị Hoa", "Lương Văn Sơn", "Thôn Bình Minh", "near_poor", True, True),
    ]


def test_a_head_numbered_with_the_children_and_sharing_their_family_name(tmp_path, cfg):
    rows = TITLE + [
        ["STT", "Họ và tên", "Năm sinh", "Thôn", "Đối tượng", "Chưa có thiết bị"],
        [1, "Hoàng Văn Tuấn", 1979, "Bãi Hào", "Hộ nghèo", "x"],
        [2, "Hoàng Văn Minh", 2012, "Bãi Hào", "Hộ nghèo", "x"],
        [3, "Lương Văn Sơn", 1982, "Bình Minh", "Cận nghèo", "x"],
        [4, "Lương Thị Hoa", 2013, "Bình Minh", "Cận nghèo", "x"],
    ]
    got = _children(_check(_xlsx(tmp_path / "xa-huu-lien-cung-ho.xlsx", rows), cfg))
    assert [(c["full_name"], c["guardian_name"], c["category"]) for c in got] == [
        ("Hoàng Văn Minh", "Hoàng Văn Tuấn", "poor"), ("Lương Thị Hoa", "Lương Văn Sơn", "near_poor")]


def test_a_year_typed_wrong_in_a_list_of_children_is_not_a_household(tmp_path, cfg):
    rows = TITLE + [
        ["STT", "Họ và tên", "Năm sinh", "Thôn", "Đối tượng", "Chưa có thiết bị"],
        [1, "Hoàng Văn Minh", 1912, "Bãi Hào", "Hộ nghèo", "x"],
        [2, "Hoàng Thị Mai", 2012, "Bãi Hào", "Hộ nghèo", "x"],
        [3, "Lương Thị Hoa", 2013, "Bình Minh", "Cận nghèo", "x"],
        [4, "Vi Văn Tú", 1998, "Bình Minh", "Cận nghèo", "x"],  # a grown-up with no household shape around him
        [5, "Vi Văn Lâm", 2014, "Bình Minh", "Cận nghèo", "x"],
    ]
    report = check_file(_xlsx(tmp_path / "xa-huu-lien-sai-nam.xlsx", rows), cfg, AS_OF)
    assert list(report.students["full_name"]) == ["Hoàng Văn Minh", "Hoàng Thị Mai", "Lương Thị Hoa", "Vi Văn Tú",
                                                  "Vi Văn Lâm"]
    assert set(report.students["guardian_name"]) == {""}


def test_a_head_written_on_the_first_childs_row_only(tmp_path, cfg):
    rows = TITLE + [
        ["STT", "Họ tên chủ hộ", "Họ tên học sinh", "Ngày sinh", "Thôn", "Diện hộ", "Chưa có thiết bị"],
        [1, "Nông Văn Bảy", "Nông Thị Lan", "02/03/2010", "Bãi Hào", "Hộ nghèo", "x"],
        [2, None, "Nông Văn Lâm", "15/09/2013", None, None, None],
        [3, "Bà Hứa Thị Tươi", "Hứa Văn Tài", "08/08/2008", "Bình Minh", "Hộ cận nghèo", "x"],
    ]
    got = _children(_check(_xlsx(tmp_path / "xa-huu-lien-chu-ho-mot-lan.xlsx", rows), cfg))
    assert [(c["full_name"], c["guardian_name"], c["village"], c["category"], c["lacks_device"]) for c in got] == [
        ("Nông Thị Lan", "Nông Văn Bảy", "Thôn Bãi Hào", "poor", True),
        ("Nông Văn Lâm", "Nông Văn Bảy", "Thôn Bãi Hào", "poor", True),
        ("Hứa Văn Tài", "Hứa Thị Tươi", "Thôn Bình Minh", "near_poor", True),
    ]

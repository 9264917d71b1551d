"""Layout: the rows of the table are lifted out of messy sheets (and nothing that is not a row of data), with the
unit that sent them; real .xlsx files written with xlsxwriter and read back with python-calamine, and grids built
directly (what a CSV or Google Sheet gives). How the header is found: test_headers.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook, SheetVisibleEnum

from flows.intake import layout
from flows.config import load_config
from flows.frames import PROVENANCE, SheetGrid, SourceData
from flows.intake.legacy_fonts import encode
from tests.intake.builders import KIND_SHEETS, TITLE, grid, source


@pytest.fixture(scope="module")
def cfg():
    return load_config()


def _read_xlsx(path: Path) -> list[SheetGrid]:
    """An .xlsx file as the sources stage reads it: python-calamine for cells and merges; hidden rows come from
    openpyxl because python-calamine does not expose row visibility."""
    hidden_rows: dict[str, frozenset[int]] = {}
    opx = openpyxl.load_workbook(path)
    for ws in opx.worksheets:
        hidden_rows[ws.title] = frozenset(i - 1 for i, d in ws.row_dimensions.items() if d.hidden)
    grids = []
    wb = CalamineWorkbook.from_path(str(path))
    for meta in wb.sheets_metadata:
        sheet = wb.get_sheet_by_name(meta.name)
        rows = [[None if v == "" else v for v in row] for row in sheet.to_python(skip_empty_area=False)]
        merged = [(r0, c0, r1, c1) for (r0, c0), (r1, c1) in (sheet.merged_cell_ranges or [])]
        grids.append(SheetGrid(name=meta.name, rows=rows, merged=merged, hidden_rows=hidden_rows[meta.name],
                               hidden=meta.visible != SheetVisibleEnum.Visible))
    return grids


# --- A school's sheet as it really arrives ---------------------------------------------------------------------
STUDENTS = [  # (name, date of birth, class, poor, near-poor, covid, device, internet)
    ("Nguyễn Văn An", dt.datetime(2012, 5, 9), "3A", "x", None, None, "x", None),
    ("TRẦN THỊ BÌNH", "05/09/2013", "Lớp 2", None, "x", None, None, "x"),
    ("Hoàng Thị Ánh", dt.datetime(2011, 1, 30), "4B", None, None, "x", "x", "x"),
    ("Lường Văn Đức", dt.datetime(2010, 12, 1), "5A", "x", None, None, "x", "x"),
]


def _write_school_workbook(path: Path) -> None:
    wb = xlsxwriter.Workbook(str(path))
    bold = wb.add_format({"bold": True, "align": "center", "text_wrap": True, "border": 1})
    date = wb.add_format({"num_format": "dd/mm/yyyy"})
    ws = wb.add_worksheet("DS hoc sinh")
    ws.merge_range(0, 0, 0, 3, "PHÒNG GD&ĐT HỮU LŨNG", bold)  # row 1
    ws.merge_range(0, 5, 0, 8, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold)
    ws.merge_range(1, 0, 1, 3, "TRƯỜNG TH HỮU LIÊN", bold)  # row 2
    ws.merge_range(1, 5, 1, 8, "Độc lập - Tự do - Hạnh phúc", bold)
    ws.merge_range(3, 0, 3, 8, "DANH SÁCH HỌC SINH CHƯA CÓ THIẾT BỊ HỌC TRỰC TUYẾN", bold)  # row 4
    # rows 6-7: a two-row header with merged cells
    for col, label in enumerate(["STT", "Họ và tên", "Ngày, tháng, năm sinh", "Lớp"]):
        ws.merge_range(5, col, 6, col, label, bold)
    ws.merge_range(5, 4, 5, 6, "Đối tượng", bold)
    ws.merge_range(5, 7, 5, 8, "Nhu cầu", bold)
    for col, label in zip(range(4, 9), ["Hộ nghèo", "Hộ cận nghèo", "Con mồ côi do COVID-19",
                                        "Chưa có thiết bị", "Chưa có Internet"]):
        ws.write(6, col, label, bold)
    for col in range(9):  # row 8: column numbers
        ws.write(7, col, f"({col + 1})")
    r = 8
    data_rows = []
    for i, (name, born, grade, *marks) in enumerate(STUDENTS):
        if i == 2:
            r += 1  # a blank row inside the table (row 11)
            ws.write(r, 1, "Nguyễn Văn Ẩn")  # row 12: a hidden row (a child taken off the list)
            ws.write(r, 3, "3A")
            ws.set_row(r, None, None, {"hidden": True})
            r += 1
        ws.write_number(r, 0, i + 1)
        ws.write(r, 1, name)
        if isinstance(born, dt.datetime):
            ws.write_datetime(r, 2, born, date)
        else:
            ws.write_string(r, 2, born)
        ws.write(r, 3, grade)
        for col, mark in zip(range(4, 9), marks):
            if mark:
                ws.write(r, col, mark)
        data_rows.append(r + 1)
        r += 1
    ws.write(r, 0, 5)  # a row with only its STT
    r += 1
    ws.merge_range(r, 0, r, 3, "Cộng", bold)  # subtotal
    ws.write_formula(r, 4, "=COUNTA(E9:E15)", None, 2)
    r += 2
    ws.merge_range(r, 5, r, 8, "Hữu Lũng, ngày 10 tháng 12 năm 2021")
    r += 1
    ws.merge_range(r, 0, r, 3, "Người lập biểu", bold)
    ws.merge_range(r, 5, r, 8, "HIỆU TRƯỞNG", bold)
    r += 1
    ws.merge_range(r, 0, r, 3, "(Ký, ghi rõ họ tên)")
    ws.merge_range(r, 5, r, 8, "(Ký, ghi rõ họ tên, đóng dấu)")
    r += 4
    ws.merge_range(r, 0, r, 3, "Nông Thị Lập")
    ws.merge_range(r, 5, r, 8, "Hoàng Văn Trưởng")
    guide = wb.add_worksheet("Hướng dẫn")
    guide.write(0, 0, "Hướng dẫn: ghi đầy đủ họ và tên học sinh, ngày sinh theo dạng ngày/tháng/năm.")
    guide.write(1, 0, "Đánh dấu x vào cột đối tượng và nhu cầu của học sinh.")
    wb.add_worksheet("Sheet2")
    old = wb.add_worksheet("Cu")  # a hidden sheet with last year's list
    old.write_row(0, 0, ["STT", "Họ và tên", "Ngày sinh", "Lớp"])
    old.write_row(1, 0, [1, "Phạm Văn Cũ", "01/01/2010", "5A"])
    old.hide()
    wb.close()
    assert data_rows == [9, 10, 13, 14]  # rows 11 (blank) and 12 (hidden) sit between the 2nd and 3rd child


@pytest.fixture(scope="module")
def school_xlsx(tmp_path_factory):
    path = tmp_path_factory.mktemp("xlsx") / "DS TH Huu Lien.xlsx"
    _write_school_workbook(path)
    return path


def test_calamine_reads_merges_and_sheet_visibility(school_xlsx):
    grids = {g.name: g for g in _read_xlsx(school_xlsx)}
    ds = grids["DS hoc sinh"]
    assert (5, 4, 5, 6) in ds.merged and (5, 1, 6, 1) in ds.merged
    assert ds.hidden_rows == {11}
    assert grids["Cu"].hidden and not ds.hidden


def test_messy_school_sheet_gives_exactly_the_student_rows(school_xlsx, cfg):
    result = layout.extract(source(_read_xlsx(school_xlsx)), cfg)
    # the row hidden by hand is not counted, and the school is told (it may unhide it or delete it)
    assert [(i.source_row, i.column, i.rule, i.severity) for i in result.issues] == [
        (12, "Họ và tên", "hidden_row", "warning")]
    assert "Dòng 12 (Nguyễn Văn Ẩn)" in result.issues[0].message and "Unhide" in result.issues[0].message
    assert result.sheets_read == 3  # the hidden sheet is not read
    assert list(result.tables) == ["students"]
    table = result.tables["students"]
    assert list(table["source_row"]) == [9, 10, 13, 14]
    assert list(table["full_name"]) == [s[0] for s in STUDENTS]
    assert list(table.columns[:6]) == [*PROVENANCE, "list_type", "unit_code"]
    assert set(table["source_sheet"]) == {"DS hoc sinh"}
    assert set(table["list_type"]) == {"school"} and set(table["unit_code"]) == {"TH-06388"}
    first = table.iloc[0]
    assert first["date_of_birth"] == dt.date(2012, 5, 9)  # the Excel date object is passed on
    assert table.iloc[1]["date_of_birth"] == "05/09/2013"  # text stays text
    assert first["category_poor"] == "x" and first["category_near_poor"] == ""
    assert list(table["lacks_internet"]) == ["", "x", "x", "x"]
    assert result.headers[("truong/danh-sach.xlsx", "DS hoc sinh")] == {
        "full_name": "Họ và tên",
        "date_of_birth": "Ngày, tháng, năm sinh",
        "grade": "Lớp",
        "category_poor": "Đối tượng / Hộ nghèo",
        "category_near_poor": "Đối tượng / Hộ cận nghèo",
        "category_covid_orphan": "Đối tượng / Con mồ côi do COVID-19",
        "lacks_device": "Nhu cầu / Chưa có thiết bị",
        "lacks_internet": "Nhu cầu / Chưa có Internet",
    }


def _without_merges(grid: SheetGrid) -> SheetGrid:
    """The same sheet as a CSV export gives it: merged values only in the first cell, no merge list."""
    rows = [list(r) for r in grid.rows]
    return SheetGrid(name="", rows=rows, hidden_rows=grid.hidden_rows)


def test_the_same_sheet_without_merge_information_reads_the_same(school_xlsx, cfg):
    grid = next(g for g in _read_xlsx(school_xlsx) if g.name == "DS hoc sinh")
    flat = _without_merges(grid)
    result = layout.extract(source([flat], file="DS TH Huu Lien.csv"), cfg)
    table = result.tables["students"]
    assert list(table["source_row"]) == [9, 10, 13, 14]
    assert result.headers[("DS TH Huu Lien.csv", "")]["category_near_poor"] == "Đối tượng / Hộ cận nghèo"
    assert set(table["unit_code"]) == {"TH-06388"}


# --- Grids built directly -----------------------------------------------------------------------------------
def test_vertically_merged_village_is_repeated_for_each_child(cfg):
    rows = [
        ["UBND XÃ HỮU LIÊN"],
        ["STT", "Họ và tên", "Thôn", "Lớp"],
        [1, "Vi Văn Một", "Bãi Hào", "3"],
        [2, "Vi Văn Hai", None, "4"],
        [3, "Vi Văn Ba", "Đồng Mới", "5"],
    ]
    result = layout.extract(source([grid(rows, merged=[(2, 2, 3, 2)])], file="xa/huu-lien.xlsx"), cfg)
    table = result.tables["students"]
    assert list(table["village"]) == ["Bãi Hào", "Bãi Hào", "Đồng Mới"]
    assert set(table["list_type"]) == {"commune"} and set(table["unit_code"]) == {"06388"}


def test_rows_that_are_not_children_are_skipped_and_the_table_continues(cfg):
    rows = [
        ["TRƯỜNG TH MINH SƠN"],
        ["STT", "Họ và tên", "Lớp", "Chưa có thiết bị"],  # row 2
        ["1", "2", "3", "4"],  # column numbers
        ["Lớp 3A", None, None, None],  # a section title
        [1, "Ký Văn Tài", "3A", "x"],  # a name that begins like "Ký": not a footer
        [None, "Thôn Bãi Hào", None, None],  # a section title
        [None, "Trương Thị Bàn", None, None],  # a name alone is a child (validation reports what is missing)
        [None, "Bàn Văn Xa", "3A", ""],
        [2, None, None, None],  # only STT
        [None, "Tổng Thị Hoa", "3A", "x"],  # a surname that begins like "Tổng": not a subtotal
        [None, "Tổng số: 2 học sinh", None, None],
        ["STT", "Họ và tên", "Lớp", "Chưa có thiết bị"],  # the header printed again on page 2
        [3, "Mạc Văn Bốn", "4B", "x"],  # row 10
        [None, "Tổng cộng", 3, 3],
        [None, "Người lập biểu", None, "Hiệu trưởng"],
        [None, "Nguyễn Thị Lập", None, "Trần Văn Trưởng"],
    ]
    result = layout.extract(source([grid(rows)]), cfg)
    table = result.tables["students"]
    assert list(table["full_name"]) == ["Ký Văn Tài", "Trương Thị Bàn", "Bàn Văn Xa", "Tổng Thị Hoa", "Mạc Văn Bốn"]
    assert list(table["source_row"]) == [5, 7, 8, 10, 13]


def test_column_numbers_under_a_header_printed_again_are_not_a_child(cfg):
    header = ["STT", "Họ và tên", "Ngày sinh", "Lớp", "Chưa có thiết bị"]
    rows = [["TRƯỜNG TH MINH SƠN"], header, [1, 2, 3, 4, 5], [1, "Ký Văn Tài", "05/03/2014", "2A", "x"],
            header, [1, 2, 3, 4, 5],  # page 2: the header and its column numbers again
            [2, "Mạc Văn Bốn", "06/03/2014", "2B", "x"]]
    result = layout.extract(source([grid(rows)]), cfg)
    assert list(result.tables["students"]["full_name"]) == ["Ký Văn Tài", "Mạc Văn Bốn"]
    assert result.issues == []


def test_tables_pasted_one_below_another_with_their_signatures_are_all_read(cfg):
    """A commune pastes each school's table, signature block and all, into one sheet: the header printed again
    after a signature block starts another table; a child written below the last signatures is still reported."""
    header = ["STT", "Họ và tên", "Ngày sinh", "Lớp", "Chưa có thiết bị"]
    signatures = [[None, "Người lập biểu", None, "Hiệu trưởng", None], [None, "Nguyễn Thị Lập", None, "Trần Văn Trưởng"]]
    rows = [["UBND XÃ HỮU LIÊN"], ["DANH SÁCH HỌC SINH TRƯỜNG TH HỮU LIÊN"], header,
            [1, "Lê Văn An", "05/03/2014", "2A", "x"], *signatures, [],
            ["DANH SÁCH HỌC SINH TRƯỜNG THCS HỮU LIÊN"], header, [1, "Lò Văn Cường", "07/03/2010", "6A", "x"],
            *signatures, [2, "Hoàng Văn Em", "08/03/2010", "6A", "x"]]
    result = layout.extract(source([grid(rows)], file="xa/huu-lien.xlsx"), cfg)
    assert list(result.tables["students"]["full_name"]) == ["Lê Văn An", "Lò Văn Cường"]
    assert [(i.rule, i.source_row) for i in result.issues] == [("below_footer", 13)]


def test_a_templates_example_rows_are_not_children(cfg):
    header = ["STT", "Họ và tên", "Ngày sinh", "Lớp", "Chưa có thiết bị"]
    rows = [["TRƯỜNG TH MINH SƠN"], header, ["VD", "Nguyễn Văn A", "01/01/2012", "1A", "x"],
            ["Ví dụ:", "Trần Thị B", "02/02/2013", "2B", "x"], [None, "VD: Lò Văn C", "02/02/2013", "2B", "x"],
            [1, "Lê Văn An", "05/03/2014", "2A", "x"], [None, "Mẫu Văn Cường", "06/03/2014", "2A", "x"]]
    result = layout.extract(source([grid(rows)]), cfg)
    assert list(result.tables["students"]["full_name"]) == ["Lê Văn An", "Mẫu Văn Cường"]  # Mẫu is also a name


def test_group_titles_inside_a_commune_list_are_not_children(cfg):
    rows = [
        ["UBND XÃ YÊN BÌNH"],
        ["STT", "Họ và tên", "Lớp", "Hộ nghèo", "Hộ cận nghèo"],
        ["I", "TRƯỜNG TH YÊN BÌNH", None, 1, 1],
        [1, "Hà Văn Một", "2A", "x", None],
        ["II", "Trường THCS Yên Bình", None, 0, 1],
        [2, "Hà Thị Hai", "7A", None, "x"],
        ["III", "Xã Yên Bình", None, None, None],
        [3, "Trương Văn Ba", "9A", "x", None],
    ]
    result = layout.extract(source([grid(rows)], file="xa/yen-binh.xlsx"), cfg)
    assert list(result.tables["students"]["full_name"]) == ["Hà Văn Một", "Hà Thị Hai", "Trương Văn Ba"]


def test_signature_block_ends_the_table(cfg):
    rows = [
        ["STT", "Họ và tên", "Ngày sinh", "Lớp"],
        [1, "Nông Văn A", "01/01/2012", "4A"],
        [None, None, None, None],
        [None, None, "Hữu Lũng, ngày 15 tháng 12 năm 2021", None],
        [None, "XÁC NHẬN CỦA UBND XÃ", None, "NGƯỜI LẬP BIỂU"],
        [None, "Hoàng Văn Chủ", None, "Lê Thị Lập"],
        [2, "Nông Văn B", "01/01/2012", "4A"],
    ]
    result = layout.extract(source([grid(rows)], unit="TH-06391", unit_type="school"), cfg)
    assert list(result.tables["students"]["full_name"]) == ["Nông Văn A"]


# --- Other kinds ----------------------------------------------------------------------------------------------
def test_donation_values_are_raw(cfg):
    result = layout.extract(source([grid(KIND_SHEETS["donations"])]), cfg)
    row = result.tables["donations"].iloc[0]
    assert row["date"] == dt.datetime(2021, 12, 20) and row["quantity"] == 50 and row["amount_vnd"] == ""


# --- Issues ---------------------------------------------------------------------------------------------------
def test_student_like_sheet_without_a_header_is_reported(cfg):
    rows = [["Danh sách lớp 3A"], *[[i, f"Nguyễn Văn {n}", "12/03/2013", "3A", "x"] for i, n in
                                     enumerate(["An", "Bình", "Cường", "Dũng"], 1)]]
    result = layout.extract(source([grid(rows, name="Lop3A"), grid([["Hướng dẫn điền biểu mẫu"]], name="HD")],
                                   kind="students", unit="TH-06388"), cfg)
    assert [(i.rule, i.source_sheet) for i in result.issues] == [("no_table", "Lop3A")]
    assert result.issues[0].severity == "error"
    assert result.tables == {}


def test_instructions_and_empty_sheets_are_ignored_without_issues(cfg):
    sheets = [grid([["Hướng dẫn: ghi đủ họ tên, ngày sinh, lớp."], ["Đánh dấu x vào cột nhu cầu."]], name="HD"),
              SheetGrid("Sheet2", []), grid(KIND_SHEETS["students"], name="DS")]
    result = layout.extract(source(sheets, unit="TH-06388"), cfg)
    assert result.issues == [] and result.sheets_read == 3
    assert len(result.tables["students"]) == 1


# --- Units ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("file", "title", "list_type", "unit"), [
    ("a.xlsx", "TRƯỜNG TH HỮU LIÊN", "school", "TH-06388"),
    ("a.xlsx", "Trường Tiểu học Hữu Liên", "school", "TH-06388"),
    ("a.xlsx", "TRƯỜNG THCS HỮU LIÊN", "school", "THCS-06388"),
    ("a.xlsx", "Trường Trung học cơ sở Thị trấn Hữu Lũng", "school", "THCS-06385"),
    ("a.xlsx", "UBND XÃ HỮU LIÊN", "commune", "06388"),
    ("a.xlsx", "UBND THỊ TRẤN HỮU LŨNG", "commune", "06385"),
    ("DS TH Huu Lien.xlsx", "DANH SÁCH HỌC SINH", "school", "TH-06388"),
    ("xa/Yen Binh.xlsx", "DANH SÁCH HỌC SINH", "commune", "06391"),
    ("a.xlsx", "TR¦êNG TH Y£N B×NH", "school", "TH-06391"),  # TCVN3 title
    ("TH-06388.xlsx", "DANH SÁCH HỌC SINH", "school", "TH-06388"),  # the school's code, not its commune's
    ("a.xlsx", "UBND HUYỆN HỮU LŨNG", "", ""),  # the district is not a unit
    ("a.xlsx", "DANH SÁCH HỌC SINH", "", ""),
])
def test_unit_from_title_or_file_name(cfg, file, title, list_type, unit):
    rows = [["UBND HUYỆN HỮU LŨNG"], [title], [], *KIND_SHEETS["students"]]
    result = layout.extract(source([grid(rows)], file=file), cfg)
    table = result.tables["students"]
    assert (table.iloc[0]["list_type"], table.iloc[0]["unit_code"]) == (list_type, unit)
    assert [i.rule for i in result.issues] == ([] if unit else ["unknown_unit"])


def test_registry_unit_wins(cfg):
    rows = [["TRƯỜNG TH HỮU LIÊN"], *KIND_SHEETS["students"]]
    result = layout.extract(source([grid(rows)], unit="06391", unit_type="commune"), cfg)
    table = result.tables["students"]
    assert (table.iloc[0]["list_type"], table.iloc[0]["unit_code"]) == ("commune", "06391")


def test_commune_list_naming_a_school_level(cfg):
    rows = [["UBND XÃ HỮU LIÊN"], ["DANH SÁCH HỌC SINH TIỂU HỌC VÀ THCS XÃ HỮU LIÊN"], *KIND_SHEETS["students"]]
    result = layout.extract(source([grid(rows)], file="x.xlsx"), cfg)
    assert result.tables["students"].iloc[0]["unit_code"] == "06388"


def test_tcvn3_sheet(cfg):
    rows = [[encode("TRƯỜNG TH HÒA BÌNH", "tcvn3")],
            [encode(h, "tcvn3") for h in ["STT", "Họ và tên", "Ngày sinh", "Lớp", "Hộ nghèo"]],
            [1, encode("Nguyễn Văn Đức", "tcvn3"), "01/02/2012", "3A", "x"]]
    result = layout.extract(source([grid(rows)]), cfg)
    table = result.tables["students"]
    assert table.iloc[0]["unit_code"] == "TH-06397"
    # layout reads the sheet's cells with the sheet's evidence, header and data alike
    assert table.iloc[0]["full_name"] == "Nguyễn Văn Đức"
    assert result.headers[("truong/danh-sach.xlsx", "Sheet1")]["category_poor"] == "Hộ nghèo"


def test_several_sheets_and_failed_source(cfg):
    sheets = [grid([["TRƯỜNG TH HỮU LIÊN"], *KIND_SHEETS["students"]], name="3A"),
              grid([["TRƯỜNG TH HỮU LIÊN"], *KIND_SHEETS["students"]], name="4A")]
    result = layout.extract(source(sheets), cfg)
    assert list(result.tables["students"]["source_sheet"]) == ["3A", "4A"]
    assert set(result.headers) == {("truong/danh-sach.xlsx", "3A"), ("truong/danh-sach.xlsx", "4A")}
    other_kind = layout.extract(source(sheets, kind="decisions"), cfg)
    assert other_kind.tables == {} and other_kind.issues == []
    failed = layout.extract(SourceData("x", "x.xlsx", status="failed", message="bad zip"), cfg)
    assert failed.tables == {} and failed.issues == [] and failed.sheets_read == 0


def test_a_first_row_of_numbers_is_a_child_not_column_numbers(cfg):
    rows = [["STT", "Họ và tên", "Năm sinh", "Lớp"], [1, None, 2013, 3], [2, "Lê Văn B", 2012, 4]]
    result = layout.extract(source([grid(rows)], unit="TH-06388"), cfg)
    assert list(result.tables["students"]["source_row"]) == [2, 3]
    numbered = [["STT", "Họ và tên", "Năm sinh", "Lớp"], ["A", "B", "1", "2"], [2, "Lê Văn B", 2012, 4]]
    result = layout.extract(source([grid(numbered)], unit="TH-06388"), cfg)
    assert list(result.tables["students"]["source_row"]) == [3]


def test_numbered_row_starting_like_a_total_is_data(cfg):
    rows = [["STT", "Mã", "Nhà tài trợ", "Loại", "Số lượng", "Tình trạng"],
            [1, "TT-2021-001", "Tổng công ty Điện lực miền Bắc", "Máy tính bảng", 20, "Đã nhận"],
            [None, None, "Tổng cộng", None, 20, None]]
    result = layout.extract(source([grid(rows)], file="tai-tro/so.xlsx", kind="donations"), cfg)
    assert list(result.tables["donations"]["donor"]) == ["Tổng công ty Điện lực miền Bắc"]


@pytest.mark.parametrize(("sheet", "grade"), [("6A", "6A"), ("Lớp 3B", "Lớp 3B"), ("Khối 7", "Khối 7"),
                                              ("lop 9a1", "lop 9a1"), ("Sheet1", None), ("DS", None),
                                              ("2021", None), ("Lớp học", None)])
def test_class_comes_from_a_per_class_sheet_name_only_when_there_is_no_class_column(cfg, sheet, grade):
    rows = [*TITLE, ["STT", "Họ và tên", "Ngày sinh", "Chưa có thiết bị"], [1, "Nguyễn Văn An", "05/09/2010", "x"]]
    result = layout.extract(source([grid(rows, name=sheet)]), cfg)
    table = result.tables["students"]
    assert (table["grade"].tolist() if "grade" in table else [None]) == [grade]
    with_column = [*TITLE, ["STT", "Họ và tên", "Lớp"], [1, "Nguyễn Văn An", "8A"]]
    table = layout.extract(source([grid(with_column, name=sheet)]), cfg).tables["students"]
    assert table["grade"].tolist() == ["8A"]  # the sheet's own column wins


def test_unlabelled_totals_row_is_not_a_child_but_a_nameless_numbered_row_is(cfg):
    rows = [*TITLE, ["STT", "Họ và tên", "Lớp", "Chưa có thiết bị", "Chưa có Internet"],
            [1, "Nguyễn Văn An", "8A", "x", None],
            [2, None, "8A", "x", "x"],  # a child whose name was left out: reported, not dropped
            [None, None, None, 2, 1]]  # column totals
    table = layout.extract(source([grid(rows)]), cfg).tables["students"]
    assert table["source_row"].tolist() == [6, 7]


def test_csv_titles_and_commas_inside_cells_do_not_fool_the_delimiter(tmp_path):
    from flows.adapters.files import read_grids

    text = ("DANH SÁCH HỌC SINH TRƯỜNG TH HỮU LIÊN\n\nSTT;Họ và tên;Ngày, tháng, năm sinh;Lớp\n"
            "1;Nguyễn Văn An;05/09/2014;3A\n2;Lê Thị Bình;2013;4B\n")
    path = tmp_path / "ds.csv"
    path.write_text(text, encoding="utf-8")
    rows = read_grids(path)[0].rows
    assert rows[2] == ["STT", "Họ và tên", "Ngày, tháng, năm sinh", "Lớp"]
    assert rows[3] == ["1", "Nguyễn Văn An", "05/09/2014", "3A"]


# --- Signatures by their shape, rows not counted reported (issue 20) ------------------------------------------
_TABLE = [["STT", "Họ và tên", "Ngày sinh", "Lớp", "Thôn", "Chưa có thiết bị"],
          [1, "Nguyễn Văn An", "01/02/2012", "4A", "Bãi Hào", "x"],
          [2, "Lê Thị Bích", "03/03/2012", "4A", "Bãi Hào", "x"]]


@pytest.mark.parametrize("footer", [
    [[None, "Người tổng hợp", None, None, "Hiệu trưởng"], [None, "Lý Văn Tám", None, None, "Hoàng Thị Nguyệt"]],
    [[None, "Cán bộ văn hóa - xã hội"], [], [None, "Nông Thị Hằng"]],
    [[None, "NGƯỜI TỔNG HỢP", None, None, "THỦ TRƯỞNG ĐƠN VỊ"], [None, "LÝ VĂN TÁM", None, None, "PHAN THANH HÀ"]],
    [[None, "Giáo viên chủ nhiệm", None, None, "Kế toán"], [None, "(Đã ký)", None, None, "(Đã ký)"],
     [None, "Phan Văn Tình", None, None, "ThS. Lê Văn Lợi"]],
    [[None, "KẾ TOÁN", None, None, "TRƯỞNG BAN"], [None, "Nông Văn Ba", None, None, "Lê Văn Lợi"]],
    [[None, "Người trích lục danh sách"]],
])
def test_a_signature_block_is_never_a_child_whatever_its_wording(cfg, footer):
    rows = [*TITLE, *_TABLE, [], *footer]
    result = layout.extract(source([grid(rows)], unit="TH-06388", unit_type="school"), cfg)
    assert list(result.tables["students"]["full_name"]) == ["Nguyễn Văn An", "Lê Thị Bích"]
    assert result.issues == []


def test_a_child_with_nothing_but_a_name_at_the_end_is_still_read(cfg):
    rows = [*TITLE, *_TABLE, [3, "Vi Văn Cường", None, None, None, None], [None, "Hoàng Văn Dũng"]]
    result = layout.extract(source([grid(rows)], unit="TH-06388", unit_type="school"), cfg)
    assert list(result.tables["students"]["full_name"]) == ["Nguyễn Văn An", "Lê Thị Bích", "Vi Văn Cường",
                                                            "Hoàng Văn Dũng"]


def test_a_childs_row_below_the_signature_is_reported_not_read(cfg):
    rows = [*TITLE, *_TABLE, [None, None, "Hữu Liên, ngày 5 tháng 12 năm 2021"], [None, "Người lập biểu"],
            [None, "Lý Văn Tám"], [3, "Vi Văn Cường", "04/04/2012", "4A", "Bãi Hào", "x"]]
    result = layout.extract(source([grid(rows)], unit="TH-06388", unit_type="school"), cfg)
    assert list(result.tables["students"]["full_name"]) == ["Nguyễn Văn An", "Lê Thị Bích"]
    assert [(i.source_row, i.rule, i.column) for i in result.issues] == [(len(rows), "below_footer", "Họ và tên")]
    assert "Vi Văn Cường" in result.issues[0].message


def test_rows_hidden_by_hand_are_reported_and_not_counted(cfg):
    rows = [*TITLE, *_TABLE, [3, "Vi Văn Cường", "04/04/2012", "4A", "Bãi Hào", "x"], ["Cộng", None, None, None, None, 3]]
    hidden = frozenset({len(TITLE) + 1, len(rows) - 1})  # a child and the totals row
    result = layout.extract(source([grid(rows, hidden_rows=hidden)], unit="TH-06388"), cfg)
    assert list(result.tables["students"]["full_name"]) == ["Lê Thị Bích", "Vi Văn Cường"]
    assert [(i.source_row, i.rule, i.severity) for i in result.issues] == [(len(TITLE) + 2, "hidden_row", "warning")]
    assert "Nguyễn Văn An" in result.issues[0].message and "Unhide" in result.issues[0].message


def test_a_need_that_cannot_be_read_is_a_warning_naming_the_cell(cfg):
    rows = [*TITLE, ["STT", "Họ và tên", "Lớp", "Nhu cầu hỗ trợ"], [1, "Nguyễn Văn An", "4A", "cần máy tính bảng"],
            [2, "Lê Thị Bích", "4A", "Dùng chung máy với anh"], [3, "Vi Văn Cường", "4A", "chưa có mạng"]]
    result = layout.extract(source([grid(rows)], unit="TH-06388"), cfg)
    [issue] = result.issues
    assert (issue.source_file, issue.source_sheet, issue.source_row, issue.column, issue.rule, issue.severity) == (
        "truong/danh-sach.xlsx", "Sheet1", 7, "Nhu cầu hỗ trợ", "need_unreadable", "warning")
    assert "Dùng chung máy với anh" in issue.message


def test_a_phone_column_of_marks_is_a_phone_the_child_needs(cfg):
    rows = [*TITLE, ["STT", "Họ và tên", "Lớp", "Máy tính", "Điện thoại", "Internet", "SĐT"],
            [1, "Nguyễn Văn An", "4A", "x", None, "x", "0912345678"], [2, "Lê Thị Bích", "4A", None, "x", None, None],
            [3, "Vi Văn Cường", "4A", None, "1", "1", None], [4, "Hà Văn Dũng", "4A", None, "✓", None, None]]
    result = layout.extract(source([grid(rows)], unit="TH-06388"), cfg)
    table = result.tables["students"]
    assert list(table["lacks_device"]) == ["x", "x", "1", "✓"]
    assert list(table["phone"]) == ["0912345678", "", "", ""]
    assert result.issues == []


@pytest.mark.parametrize("header", [["STT", "Họ và tên", "Lớp", "SĐT", "Máy tính", "Điện thoại", "Internet"],
                                    ["STT", "Họ và tên", "Lớp", "Máy tính", "Điện thoại", "Internet", "SĐT"]])
def test_a_few_phone_marks_beside_the_familys_number(cfg, header):
    phone_first = header[3] == "SĐT"
    cells = [[1, "Nguyễn Văn An", "4A", "x", None, "x"], [2, "Lê Thị Bích", "4A", None, "1", None]]
    rows = [*TITLE, header, *[(c[:3] + [n] + c[3:]) if phone_first else (c + [n])
                              for c, n in zip(cells, ["0912345678", None])]]
    result = layout.extract(source([grid(rows)], unit="TH-06388"), cfg)
    table = result.tables["students"]
    assert list(table["phone"]) == ["0912345678", ""] and list(table["lacks_device"]) == ["x", "1"]
    assert result.issues == []


def test_a_list_without_need_columns_states_the_need_in_its_notes(cfg):
    from flows.intake.normalize import normalize_students

    rows = [*TITLE, ["STT", "Họ và tên", "Lớp", "Ghi chú"], [1, "Nguyễn Văn An", "4A", "Cần máy tính bảng"],
            [2, "Lê Thị Bích", "4A", "Nhà chưa có mạng Internet"], [3, "Vi Văn Cường", "4A", "Nhà xa trường"]]
    result = layout.extract(source([grid(rows)], unit="TH-06388"), cfg)
    table = normalize_students(result.tables["students"], cfg)
    assert list(zip(table["lacks_device"], table["lacks_internet"])) == [(True, False), (False, True),
                                                                         (False, False)]
    assert list(table["note"]) == ["Cần máy tính bảng", "Nhà chưa có mạng Internet", "Nhà xa trường"]
    assert result.headers[("truong/danh-sach.xlsx", "Sheet1")] == {"full_name": "Họ và tên", "grade": "Lớp",
                                                                     "note": "Ghi chú"}

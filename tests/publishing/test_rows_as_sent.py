"""One night over real-world files: the school's feedback workbook shows its rows as sent, problem cells coloured
by severity with a note; the run folder carries the GX Data Docs without any child's data."""

from __future__ import annotations

import json
import shutil

import openpyxl
import pytest

from flows.publishing.rows_as_sent import SHEET_NAME
from flows.pipeline import run_night
from tests.fixtures.real_world import build

RED, YELLOW = "FFC7CE", "FFEB9C"


@pytest.fixture(scope="module")
def school_book(tmp_path_factory, cfg):
    root = tmp_path_factory.mktemp("feedback")
    files = build.write_all(root / "corpus")
    sources = root / "sources"
    sources.mkdir()
    for path in files:
        if path.name in ("thcs-cai-kinh-loi.xlsx", "th-huu-lien-khoi-3.xlsx", "mat-khau.xlsx",
                         "ubnd-xa-van-nham-theo-thon.xlsx"):
            shutil.copy(path, sources / path.name)
    _, run_dir = run_night(sources, cfg, root / "out", as_of=build.AS_OF)
    return run_dir


def _rows(ws):
    """{school row number: {header: cell}} for the table under the header row that starts with "Dòng"."""
    out, header = {}, None
    for row in ws.iter_rows():
        first = row[0].value
        if first == "Dòng":
            header = [c.value for c in row]
        elif header and isinstance(first, (int, float)):
            out[int(first)] = {h: c for h, c in zip(header, row) if h}
    return out


def _fill(cell) -> str:
    return str(cell.fill.fgColor.rgb)[-6:] if cell.fill and cell.fill.fill_type else ""


def test_problem_cells_are_coloured_and_say_what_to_fix(school_book):
    wb = openpyxl.load_workbook(school_book / "schools" / "THCS-06427-thcs-cai-kinh.xlsx")
    assert wb.sheetnames[:2] == ["Phản hồi", SHEET_NAME]
    rows = _rows(wb[SHEET_NAME])
    assert sorted(rows) == list(range(3, 14))  # every row of the file, by the row number the school sees
    # an error: red, with the fix in a note, and the row's outcome
    bad_date = rows[5]["Ngày sinh"]
    assert bad_date.value == "31/02/2009" and _fill(bad_date) == RED
    assert "ngày/tháng/năm" in bad_date.comment.text
    assert rows[5]["Tình trạng"].value == "Dòng bị loại (lỗi dữ liệu)"
    assert _fill(rows[4]["Họ và tên"]) == RED and "Thiếu họ và tên" in rows[4]["Họ và tên"].comment.text
    # a warning: yellow; the formula-looking text is kept as text, not turned into a formula
    guardian = rows[10]["Họ tên phụ huynh"]
    assert guardian.value == "=Hà Văn Dũng" and guardian.data_type == "s" and _fill(guardian) == YELLOW
    assert _fill(rows[8]["Lớp"]) == YELLOW and rows[8]["Tình trạng"].value == "Không đủ điều kiện"
    assert rows[7]["Tình trạng"].value == "Dòng lặp"
    # a clean row is not marked
    assert all(_fill(c) == "" and c.comment is None for h, c in rows[3].items() if h != "Tình trạng")


def test_rows_keep_the_school_headers_and_cells_as_written(school_book):
    wb = openpyxl.load_workbook(school_book / "schools" / "TH-06388-th-huu-lien.xlsx")
    ws = wb[SHEET_NAME]
    headers = next(([c.value for c in r] for r in ws.iter_rows() if r[0].value == "Dòng"))
    assert headers[:7] == ["Dòng", "Tình trạng", "Họ và tên", "Ngày sinh", "Nữ", "Lớp", "Thôn"]
    assert "Đối tượng / Hộ nghèo" in headers and headers[-1] == "SĐT phụ huynh"
    rows = _rows(ws)
    assert sorted(rows) == [9, 10, 13, 14, 16]  # the hidden row 11, subtotals and footer are not students
    assert rows[14]["SĐT phụ huynh"].value == "+84 98 765 4321"
    assert rows[16]["Họ và tên"].value == "hoàng thị mai"  # as written (spaces tidied), not title-cased
    # only this school's files: the other school's rows are not in its workbook
    assert all(c.value != "Lưu Văn Kiên" for r in ws.iter_rows() for c in r)


def test_a_commune_sees_the_rows_it_sent_in_its_own_workbook(school_book):
    [path] = (school_book / "communes").glob("06433-*.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb[SHEET_NAME]
    assert ws.cell(1, 1).value.startswith("CÁC DÒNG UBND XÃ ĐÃ GỬI")
    rows = _rows(ws)
    assert sorted(rows) == [7, 8, 10, 11]  # the village title rows, total and signature are not children
    assert rows[10]["Thôn"].value == "khe dam"  # as the commune typed it
    # a commune that sent no list of its own has no such sheet
    [other] = (school_book / "communes").glob("06427-*.xlsx")
    assert SHEET_NAME not in openpyxl.load_workbook(other).sheetnames


def test_run_publishes_data_docs_without_personal_data(school_book):
    docs = school_book / "data-docs"
    pages = sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.html"))
    assert "index.html" in pages and "expectations/students.html" in pages
    assert any(p.startswith("validations/students/") for p in pages)
    manifest = json.loads((school_book / "manifest.json").read_text(encoding="utf-8"))
    assert "data-docs/index.html" in manifest["files"]
    html = "\n".join(p.read_text(encoding="utf-8") for p in docs.rglob("*.html"))
    assert "expect_column_values_to_match_regex" in html or "phone" in html  # the rules are there
    for value in ("Lưu Văn Kiên", "0912345678", "Hà Văn Dũng", "09123", "Nà Pàn", "31/02/2009", "Vương Văn Lực"):
        assert value not in html

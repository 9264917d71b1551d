"""Hidden rows (issue 20): rows a filter hides are a view of the sheet and are read; rows hidden by hand are not
counted and each is reported as a warning naming its row, so the school can unhide it or delete it. Never silent.
Checked through the readers of each format (flows.adapters.files) and the night's stages (check_file)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from flows.adapters.files import read_grids
from flows.rules.checkfile import check_file

AS_OF = dt.date(2021, 12, 1)
HEADER = ["STT", "Họ và tên", "Lớp", "Thôn", "Chưa có thiết bị"]
CHILDREN = [[1, "Nguyễn Văn An", "6A", "Đồng Chùa", "x"], [2, "Lê Thị Bình", "6B", "Đồng Chùa", "x"],
            [3, "Hoàng Văn Cường", "6A", "Đồng Chùa", "x"], [4, "Vi Thị Dung", "6B", "Đồng Chùa", "x"],
            [5, "Lò Văn Em", "6A", "Đồng Chùa", "x"]]
ROWS = [["TRƯỜNG THCS CAI KINH"], HEADER, *CHILDREN]  # the header is row 2, the children rows 3 to 7
FILTERED = {3, 5}  # 0-based: "Lê Thị Bình" and "Vi Thị Dung" (6B) when the sheet is filtered to 6A


LATE = [6, "Mạc Văn Phúc", "6A", "Đồng Chùa", "x"]  # a child added below the filter's range (row 8)


def _xlsx(path: Path, *, criterion: bool, by_hand: set[int] = frozenset(), table: bool = False,
          late: bool = False) -> Path:
    """Written with xlsxwriter: an autofilter (or a table's filter) on the list, with a criterion ("Lớp" = 6A,
    its rows hidden as Excel saves them) or with its buttons only; ``late``: a child added below its range."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("DS")
    for r, row in enumerate([*ROWS, LATE] if late else ROWS):
        ws.write_row(r, 0, row)
    if table:  # xlsxwriter writes a table's filter without a criterion: add one, as Excel saves it
        ws.add_table(1, 0, len(ROWS) - 1, len(HEADER) - 1,
                     {"columns": [{"header": h} for h in HEADER], "data": CHILDREN, "autofilter": True})
    else:
        ws.autofilter(1, 0, len(ROWS) - 1, len(HEADER) - 1)
        if criterion:
            ws.filter_column_list(2, ["6A"])
    for r in (FILTERED if criterion else set()) | set(by_hand):
        ws.set_row(r, None, None, {"hidden": True})
    wb.close()
    if table and criterion:
        _table_criterion(path)
    return path


def _table_criterion(path: Path) -> None:
    """Give the table's autoFilter the criterion "Lớp" = 6A (column 2), as Excel writes it."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    name = next(n for n in parts if n.startswith("xl/tables/table"))
    parts[name] = re.sub(r'<autoFilter ref="([^"]+)"\s*/>',
                         r'<autoFilter ref="\1"><filterColumn colId="2"><filters><filter val="6A"/></filters>'
                         r'</filterColumn></autoFilter>', parts[name].decode(), count=1).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, data in parts.items():
            zf.writestr(n, data)


def _ods(path: Path, visibility: dict[int, str]) -> Path:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    table = Table(name="DS")
    for r, row in enumerate(ROWS):
        tr = TableRow(visibility=visibility.get(r, "visible"))
        for v in row:
            cell = TableCell(valuetype="float", value=v) if isinstance(v, int) else TableCell(valuetype="string")
            cell.addElement(P(text=str(v)))
            tr.addElement(cell)
        table.addElement(tr)
    doc.spreadsheet.addElement(table)
    doc.save(str(path))
    return path


def _names(path: Path, cfg) -> tuple[list[str], list[tuple[int, str]]]:
    """The children read, and the issues about rows not counted."""
    report = check_file(path, cfg, AS_OF)
    return list(report.students["full_name"]), [(i.source_row, i.rule) for i in report.issues
                                                if i.rule in ("hidden_row", "below_footer")]


def test_rows_a_filter_hides_are_read(tmp_path, cfg):
    path = _xlsx(tmp_path / "loc.xlsx", criterion=True)
    assert read_grids(path)[0].hidden_rows == frozenset()
    names, issues = _names(path, cfg)
    assert names == [c[1] for c in CHILDREN] and issues == []


def test_rows_hidden_by_hand_under_filter_buttons_are_reported(tmp_path, cfg):
    path = _xlsx(tmp_path / "an-tay.xlsx", criterion=False, by_hand={4})
    assert read_grids(path)[0].hidden_rows == {4}
    names, issues = _names(path, cfg)
    assert "Hoàng Văn Cường" not in names and len(names) == 4
    assert issues == [(5, "hidden_row")]


def test_a_row_hidden_by_hand_outside_an_active_filter_is_reported(tmp_path, cfg):
    path = _xlsx(tmp_path / "loc-va-an.xlsx", criterion=True, by_hand={len(ROWS)}, late=True)
    assert read_grids(path)[0].hidden_rows == {len(ROWS)}
    names, issues = _names(path, cfg)
    assert names == [c[1] for c in CHILDREN] and issues == [(len(ROWS) + 1, "hidden_row")]


def test_a_tables_filter_is_a_view_too(tmp_path, cfg):
    path = _xlsx(tmp_path / "bang.xlsx", criterion=True, table=True)
    assert read_grids(path)[0].hidden_rows == frozenset()
    buttons_only = _xlsx(tmp_path / "bang-an.xlsx", criterion=False, table=True, by_hand={4})
    assert read_grids(buttons_only)[0].hidden_rows == {4}


def test_ods_tells_a_filter_from_a_hand(tmp_path, cfg):
    path = _ods(tmp_path / "ds.ods", {3: "filter", 5: "filter", 4: "collapse"})
    assert read_grids(path)[0].hidden_rows == {4}
    names, issues = _names(path, cfg)
    assert names == ["Nguyễn Văn An", "Lê Thị Bình", "Vi Thị Dung", "Lò Văn Em"]
    assert issues == [(5, "hidden_row")]


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice converts the .xls files")
def test_xls_files_saved_filtered_and_hidden_by_hand(tmp_path, cfg):
    """Excel 97-2003 files as LibreOffice saves them: a filter on (FILTERMODE, _FilterDatabase) and a row hidden
    by hand below its range; and a list hidden by hand with no filter."""
    _xlsx(tmp_path / "loc.xlsx", criterion=True, by_hand={len(ROWS)}, late=True)
    _xlsx(tmp_path / "an.xlsx", criterion=False, by_hand={4})
    for name in ("loc.xlsx", "an.xlsx"):
        subprocess.run(["soffice", "--headless", "--convert-to", "xls", "--outdir", str(tmp_path),
                        str(tmp_path / name)], check=True, capture_output=True, timeout=180)
    assert read_grids(tmp_path / "loc.xls")[0].hidden_rows == {len(ROWS)}
    names, issues = _names(tmp_path / "loc.xls", cfg)
    assert names == [c[1] for c in CHILDREN] and issues == [(len(ROWS) + 1, "hidden_row")]
    assert read_grids(tmp_path / "an.xls")[0].hidden_rows == {4}
    assert _names(tmp_path / "an.xls", cfg)[1] == [(5, "hidden_row")]


def test_a_row_the_filter_would_show_but_hidden_by_hand_is_reported(tmp_path, cfg):
    """Filtered to 6A, and one 6A child hidden by hand as well: the filter would show that row, so a hand hid it."""
    path = _xlsx(tmp_path / "loc-6a-an.xlsx", criterion=True, by_hand={4})  # "Hoàng Văn Cường", 6A
    assert read_grids(path)[0].hidden_rows == {4}
    names, issues = _names(path, cfg)
    assert names == ["Nguyễn Văn An", "Lê Thị Bình", "Vi Thị Dung", "Lò Văn Em"] and issues == [(5, "hidden_row")]


def test_the_scan_for_hidden_finds_the_word_across_chunk_boundaries(tmp_path):
    """A sheet's XML is parsed for hidden rows only when it mentions "hidden" (``_mentions``, a chunked scan):
    the word split between two chunks is found, whatever the chunk size."""
    import zipfile

    from flows.adapters.files import _mentions

    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("sheet.xml", b"<row r=\"3\" hid" + b"den=\"1\"/>" + b" " * 50)
        zf.writestr("plain.xml", b"<row r=\"3\"/>" * 20)
    with zipfile.ZipFile(path) as zf:
        assert all(_mentions(zf, "sheet.xml", b"hidden", chunk=n) for n in range(1, 40))
        assert not any(_mentions(zf, "plain.xml", b"hidden", chunk=n) for n in range(1, 40))

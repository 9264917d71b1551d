import datetime as dt
import unicodedata

import xlsxwriter

from flows.adapters.files import read_grids, read_local
from tests.fixtures.real_world.build import encode_cp1258


def _xlsx(path, build):
    wb = xlsxwriter.Workbook(str(path))
    build(wb)
    wb.close()


def test_grid_keeps_row_numbers_merges_and_hidden_rows(tmp_path):
    def build(wb):
        ws = wb.add_worksheet("DS")
        ws.merge_range(0, 0, 0, 3, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
        ws.write_row(3, 0, ["STT", "Họ và tên", "Ngày sinh"])
        ws.write_row(4, 0, [1, "Nguyễn Văn An"])
        ws.write_datetime(4, 2, dt.datetime(2012, 9, 5), wb.add_format({"num_format": "dd/mm/yyyy"}))
        ws.set_row(5, None, None, {"hidden": True})
        ws.write_row(5, 0, [2, "Lê Thị Bình"])
        wb.add_worksheet("Ẩn").hide()

    _xlsx(tmp_path / "a.xlsx", build)
    sheets = read_grids(tmp_path / "a.xlsx")
    ds = sheets[0]
    assert ds.name == "DS" and not ds.hidden
    assert ds.rows[4][1] == "Nguyễn Văn An"  # row 5 as the school sees it
    assert isinstance(ds.rows[4][2], (dt.date, dt.datetime))
    assert (0, 0, 0, 3) in ds.merged
    assert 5 in ds.hidden_rows
    assert sheets[1].hidden


def test_csv_encodings(tmp_path):
    text = "STT,Họ và tên,Lớp\n1,Đặng Thị Ánh Nguyệt,3A\n"
    files = {"bom.csv": text.encode("utf-8-sig"), "plain.csv": text.encode("utf-8"),
             "u16.csv": text.encode("utf-16"), "win.csv": encode_cp1258(text)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        rows = read_grids(tmp_path / name)[0].rows
        assert rows[0] == ["STT", "Họ và tên", "Lớp"] or unicodedata.normalize("NFC", rows[0][1]) == "Họ và tên", name
        assert unicodedata.normalize("NFC", rows[1][1]) == "Đặng Thị Ánh Nguyệt", name


def test_semicolon_csv(tmp_path):
    (tmp_path / "s.csv").write_text("STT;Họ và tên\n1;An\n", encoding="utf-8")
    assert read_grids(tmp_path / "s.csv")[0].rows[1] == ["1", "An"]


def test_broken_files_become_failed_sources_not_crashes(tmp_path, cfg):
    (tmp_path / "trang-web.xlsx").write_text("<!DOCTYPE html><html><body>Google Sheets</body></html>")
    (tmp_path / "hong.xlsx").write_bytes(b"PK\x03\x04 this is not really a zip")
    (tmp_path / "~$lock.xlsx").write_bytes(b"lock")
    (tmp_path / "ghi-chu.txt").write_text("notes")
    _xlsx(tmp_path / "tot.xlsx", lambda wb: wb.add_worksheet("A").write(0, 0, "x"))
    sources = {s.source_file: s for s in read_local(tmp_path, cfg)}
    assert set(sources) == {"trang-web.xlsx", "hong.xlsx", "tot.xlsx"}
    assert sources["trang-web.xlsx"].status == "failed" and "HTML" in sources["trang-web.xlsx"].message
    assert sources["hong.xlsx"].status == "failed"
    assert sources["tot.xlsx"].status == "ok"


def test_registry_patterns_give_kind(tmp_path, cfg):
    (tmp_path / "truong").mkdir()
    (tmp_path / "tai-tro").mkdir()
    _xlsx(tmp_path / "truong" / "a.xlsx", lambda wb: wb.add_worksheet("A").write(0, 0, "x"))
    _xlsx(tmp_path / "tai-tro" / "b.xlsx", lambda wb: wb.add_worksheet("A").write(0, 0, "x"))
    _xlsx(tmp_path / "other.xlsx", lambda wb: wb.add_worksheet("A").write(0, 0, "x"))
    got = {s.source_id: (s.kind, s.unit_type) for s in read_local(tmp_path, cfg)}
    assert got == {"truong/a.xlsx": ("students", "school"), "tai-tro/b.xlsx": ("donations", None),
                   "other.xlsx": (None, None)}


def test_undecodable_csv_is_still_read_as_text(tmp_path):
    (tmp_path / "junk.csv").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "half-utf16.csv").write_bytes("STT;Tên\n".encode("utf-16-le")[:-1])
    for name in ("junk.csv", "half-utf16.csv"):
        assert isinstance(read_grids(tmp_path / name)[0].rows, list)


def test_unknown_format_message_is_for_a_clerk(tmp_path, cfg):
    (tmp_path / "la.xlsx").write_bytes(b"\x00\x01 not a workbook at all" * 10)
    (source,) = read_local(tmp_path, cfg)
    assert source.status == "failed"
    assert "Error" not in source.message and source.message

"""Hostile files: each becomes one clear `unreadable_file` issue naming the file, with memory bounded by the
per-source limits (config `local.limits`), and the rest of the night reads on. A fuzz test feeds the reader and
the layout stage arbitrary bytes and grids: no exception escapes."""

from __future__ import annotations

import zipfile

import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.adapters.files import read_grids, read_local
from flows.config import SourceLimits
from flows.frames import SheetGrid, SourceData
from flows.intake.layout import extract
from flows.stages import extract_tables

HEADER = "Họ và tên,Ngày sinh,Lớp,Chưa có thiết bị\n"


def _good(path):
    path.write_text(HEADER + "Nguyễn Văn An,05/09/2013,3A,x\n", encoding="utf-8")


def _bomb(path, megabytes=120):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("xl/worksheets/sheet1.xml", "w") as fh:
            chunk = b"\0" * (1 << 20)
            for _ in range(megabytes):
                fh.write(chunk)


def _xlsx(path, build):
    wb = xlsxwriter.Workbook(str(path))
    build(wb.add_worksheet("DS"))
    wb.close()


def _failed(path, limits=None):
    with pytest.raises(Exception) as exc:
        read_grids(path, limits)
    return exc.value


def test_each_hostile_file_is_one_issue_naming_it_and_the_night_reads_on(tmp_path, cfg, tally):
    _bomb(tmp_path / "bom-nen.xlsx")
    (tmp_path / "nhi-phan.csv").write_bytes(bytes(range(256)) * 400)
    (tmp_path / "nhieu-cot.csv").write_text(HEADER.strip() + "," + ",".join(f"c{i}" for i in range(20000)) + "\n",
                                            encoding="utf-8")
    (tmp_path / "o-qua-dai.csv").write_text(HEADER + "Nguyễn Văn " + "A" * 10_000_000 + ",05/09/2013,3A,x\n",
                                            encoding="utf-8")
    _xlsx(tmp_path / "nhieu-dong.xlsx", lambda ws: (ws.write(0, 0, "Họ và tên"), ws.write(999_999, 0, "x")))
    _xlsx(tmp_path / "cot-xa.xlsx", lambda ws: (ws.write(0, 0, "Họ và tên"), ws.write(0, 16_000, "x")))
    _good(tmp_path / "tot.csv")
    tally.hostile_tried(sum(p.name != "tot.csv" for p in tmp_path.iterdir()))
    sources = {s.source_file: s for s in read_local(tmp_path, cfg)}
    assert sources["tot.csv"].status == "ok"
    expected = {"bom-nen.xlsx": "giải nén", "nhi-phan.csv": "nhị phân", "nhieu-cot.csv": "cột",
                "o-qua-dai.csv": "ký tự", "nhieu-dong.xlsx": "dòng", "cot-xa.xlsx": "cột"}
    for name, words in expected.items():
        assert sources[name].status == "failed", name
        assert words in sources[name].message, (name, sources[name].message)
    issues = extract_tables(list(sources.values()), cfg).issues
    unreadable = [i for i in issues if i.rule == "unreadable_file"]
    assert sorted(i.source_file for i in unreadable) == sorted(expected)
    assert all(i.source_row is None and i.source_sheet == "" and i.severity == "error" for i in unreadable)
    tally.hostile_reported(len(unreadable))


def test_limits_come_from_config_and_apply_per_source(tmp_path):
    path = tmp_path / "lop.csv"
    path.write_text(HEADER + "".join("Nguyễn Văn An,05/09/2013,3A,x\n" for _ in range(30)), encoding="utf-8")
    assert len(read_grids(path)[0].rows) == 31
    assert "dòng" in str(_failed(path, SourceLimits(max_rows=10)))
    assert "MB" in str(_failed(path, SourceLimits(max_file_bytes=100)))
    with pytest.raises(ValueError):
        SourceLimits(max_rows=0)


def test_control_characters_are_removed_from_cells(tmp_path):
    path = tmp_path / "ky-tu-la.csv"
    path.write_bytes((HEADER + "Nguyễn\x00 Văn\x07 An\x1b,05/09/2013,3A,x\n").encode("utf-8"))
    (grid,) = read_grids(path)
    assert grid.rows[1][0] == "Nguyễn Văn An"
    xlsx = tmp_path / "ky-tu-la.xlsx"
    _xlsx(xlsx, lambda ws: ws.write(0, 0, "Lê\x0b Thị\x01 Bình"))
    assert read_grids(xlsx)[0].rows[0][0] == "Lê Thị Bình"


SUFFIXES = st.sampled_from([".csv", ".xlsx", ".xls", ".ods", ".xlsm"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4096), suffix=SUFFIXES, zipped=st.booleans())
def test_fuzz_no_file_content_makes_the_reader_raise(tmp_path_factory, cfg, data, suffix, zipped):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / f"tep{suffix}"
    if zipped:  # something zip-shaped, as a spreadsheet is
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("xl/workbook.xml", data)
            zf.writestr("content.xml", data)
    else:
        path.write_bytes(data)
    (source,) = read_local(folder, cfg)
    assert source.status in {"ok", "failed"}
    extract_tables([source], cfg)  # and a grid that was read goes through layout


CELL = st.one_of(st.none(), st.text(max_size=30), st.integers(-10**6, 10**6),
                 st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                 st.sampled_from(["Họ và tên", "STT", "Lớp", "Ngày sinh", "x", "Hộ nghèo", "Tổng cộng", "=1+1"]))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(CELL, max_size=12), max_size=25), hidden=st.sets(st.integers(0, 30), max_size=5))
def test_fuzz_no_grid_makes_the_layout_raise(cfg, rows, hidden):
    source = SourceData(source_id="f.xlsx", source_file="f.xlsx", kind="students", unit_type="school",
                        sheets=[SheetGrid(name="DS", rows=rows, hidden_rows=frozenset(hidden))])
    extract(source, cfg)

"""Property: every row of a school's list that names a child either comes out of the sources, layout and normalize
stages with its ``source_row``, or is reported by an issue citing that row — whatever the other cells hold (dates
as text, Excel serials or garbage, grades in any form, control characters, empty cells), with blank rows in between.
(Hidden rows are skipped by design and are the subject of their own tests.) Hypothesis generates the lists, written
as real .xlsx files and read as the night reads them; ``rows lost`` in the fault tally sums what went missing.
Two rows the layout stage still drops without a word are pinned below as strict expected failures."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import pytest
import xlsxwriter

from flows.frames import SheetGrid, SourceData
from flows.stages import extract_tables, fetch_sources, normalize_tables

HEADER = ["STT", "Họ và tên", "Ngày sinh", "Lớp", "Chưa có thiết bị", "Chưa có Internet", "Ghi chú"]
NAMES = ["Nguyễn Văn An", "Lò Thị Bình", "HOÀNG VĂN CƯỜNG", "đinh thị dung", "Vi Văn  Ếch", "Mông Thị Phương",
         "Nông Văn Giang Sơn", "Lục Thị Hà", "Triệu Thị\x00 Hoa", "Hà Văn Kiên (2)", "Bé Na", "lê  thị\tmai"]
JUNK = st.text(alphabet="abcdđeêghiklmnoôơpqrstuưvxyáàảãạ0123456789/-.,=+@ \t\x07", max_size=20)
DATES = st.one_of(st.none(), st.integers(38000, 45000), JUNK,
                  st.dates().map(lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}"))
GRADES = st.one_of(st.none(), st.integers(-3, 15), st.sampled_from(["3A", "Lớp 7", "9/2", "lop 1", "x"]), JUNK)
MARK = st.sampled_from([None, "x", "X", "có", "", "1", "✓"])
# A row that holds a name and nothing else beside its STT is left to the two known-gap tests below.
ROW = st.tuples(st.sampled_from(NAMES), DATES, GRADES, MARK, MARK, st.one_of(st.none(), JUNK)).filter(
    lambda row: any(v not in (None, "") for v in row[1:5]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(children=st.lists(ROW, min_size=1, max_size=25), blanks=st.sets(st.integers(0, 30), max_size=4))
# found by Hypothesis: a school's pupil whose date says 2000, numbered like the others and of the next row's family,
# was read as a household's head and dropped without a word (households by age are a commune list's shape only)
@example(children=[("Nguyễn Văn An", "01102000", None, None, None, None), ("Nguyễn Văn An", 43101, None, None, None, None),
                   ("Nguyễn Văn An", 38000, None, None, None, None)], blanks=set())
def test_every_child_of_a_list_comes_out_or_is_reported(cfg, tmp_path_factory, children, blanks, tally):
    rows = [["TRƯỜNG TIỂU HỌC MINH SƠN"], ["DANH SÁCH HỌC SINH THIẾU THIẾT BỊ HỌC TẬP"], [], HEADER]
    named = []  # the 1-based rows the school sees that name a child
    for i, child in enumerate(children):
        if i in blanks:
            rows.append([])
        rows.append([i + 1, *child])
        named.append(len(rows))
    folder = tmp_path_factory.mktemp("list")
    (folder / "truong").mkdir()
    book = xlsxwriter.Workbook(str(folder / "truong" / "ds.xlsx"))
    sheet = book.add_worksheet("DS")
    for r, row in enumerate(rows):
        sheet.write_row(r, 0, row)
    book.close()
    (source,) = fetch_sources(folder, cfg)
    assert source.status == "ok", source.message
    extraction = extract_tables([source], cfg)
    students = normalize_tables(extraction, cfg).students
    out = set(students["source_row"].astype(int)) if len(students) else set()
    reported = {i.source_row for i in extraction.issues if i.source_row is not None}
    lost = [r for r in named if r not in out and r not in reported]
    tally.rows_lost(len(lost))
    assert lost == [], (lost, [rows[r - 1] for r in lost])


@pytest.mark.parametrize("name", ["Hà Văn Kiên (2)", "=1+1"])
def test_a_row_holding_only_a_name_comes_out_or_is_reported(cfg, name):
    rows = [["TRƯỜNG TIỂU HỌC MINH SƠN"], ["DANH SÁCH"], [], HEADER, [1, name],
            [2, "Lê Thị Bình", "01/02/2013", "3A", "x"]]
    source = SourceData(source_id="truong/ds.xlsx", source_file="truong/ds.xlsx", kind="students",
                        unit_type="school", sheets=[SheetGrid(name="DS", rows=rows)])
    extraction = extract_tables([source], cfg)
    out = set(extraction.tables["students"]["source_row"].astype(int))
    reported = {i.source_row for i in extraction.issues}
    assert 5 in out | reported

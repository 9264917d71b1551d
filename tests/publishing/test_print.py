"""The workbooks printed as a person sees them: LibreOffice prints the small sample district's workbook, one
commune's and one school's to PDF; no two printed lines run over each other, the chart prints whole on its own
page within the table's width, every table column is on the page, a school clerk can read every message of
"Phản hồi", and the page counts stay those of a report. PNGs of the first pages are kept for a person to look
at, under the test's tmp dir and outputs/test-artifacts/print/ (git-ignored)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from tests.publishing.render import ROOT, ensure_office, overlapping_text, page_texts, to_pdf, to_png, words

CHART_TITLE = "Phân bổ và nhu cầu đang chờ theo xã, thị trấn"
LEGEND = ["Thiết bị đã phân bổ", "Internet đã hỗ trợ", "Nhu cầu đang chờ"]
MAX_PAGES = {"district": 80, "commune": 20, "school": 10}


def _squash(text: str) -> str:
    return "".join(text.split())


# the tests share module fixtures (whole nights): one xdist worker runs them all, and the nights once
pytestmark = pytest.mark.xdist_group("printed-books")


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    from samples.generate import generate

    ensure_office()  # installs LibreOffice when missing (as root), never skipped
    base = tmp_path_factory.mktemp("print")
    generate(base / "sources", seed=2021, scale=0.05)
    exe = Path(sys.executable).with_name("songmaytinh")
    run = subprocess.run([str(exe), "run", "--sources", str(base / "sources"), "--out", str(base / "out"),
                          "--as-of", "2022-03-15"], cwd=base, capture_output=True, text=True, timeout=900,
                         env={**os.environ, "PYTHONUTF8": "1"})
    assert run.returncode == 0, run.stdout + run.stderr
    latest = (base / "out" / "latest").resolve()
    district = next((latest / "district").glob("*.xlsx"))
    commune = max((latest / "communes").glob("*.xlsx"), key=lambda p: p.stat().st_size)
    school = max((latest / "schools").glob("*.xlsx"), key=lambda p: len(_sheet(p, "Phản hồi")))
    books = {"district": district, "commune": commune, "school": school}
    copies = base / "books"
    copies.mkdir()
    for kind, path in books.items():  # short names: the PDFs and PNGs say which is which
        shutil.copy(path, copies / f"{kind}.xlsx")
    pdfs = dict(zip(books, to_pdf([copies / f"{k}.xlsx" for k in books], base / "pdf")))
    shown = base / "png"
    for pdf in pdfs.values():
        to_png(pdf, shown)
    chart_page = next(i for i, text in enumerate(page_texts(pdfs["district"]), 1)
                      if _squash(CHART_TITLE) in _squash(text))
    subprocess.run(["pdftoppm", "-r", "72", "-png", "-f", str(chart_page), "-l", str(chart_page),
                    str(pdfs["district"]), str(shown / "district-chart")], check=True, timeout=120)
    keep = ROOT / "outputs" / "test-artifacts" / "print"
    shutil.rmtree(keep, ignore_errors=True)
    shutil.copytree(shown, keep)
    for pdf in pdfs.values():
        shutil.copy(pdf, keep / pdf.name)
    return {"books": books, "pdfs": pdfs, "png": shown, "chart_page": chart_page}


def _sheet(path: Path, name: str) -> list[list]:
    wb = CalamineWorkbook.from_path(str(path))
    return wb.get_sheet_by_name(name).to_python() if name in wb.sheet_names else []


@pytest.mark.parametrize("kind", ["district", "commune", "school"])
def test_no_printed_lines_run_over_each_other(printed, kind):
    overlaps = overlapping_text(printed["pdfs"][kind])
    assert overlaps == [], [(a.page, a.text, b.text) for a, b in overlaps[:10]]


@pytest.mark.parametrize("kind", ["district", "commune", "school"])
def test_page_counts_stay_those_of_a_report(printed, kind):
    pages = len(page_texts(printed["pdfs"][kind]))
    assert 1 <= pages <= MAX_PAGES[kind], pages
    assert list(printed["png"].glob(f"{kind}-*.png")), "first pages kept as PNG"


def test_the_commune_chart_prints_whole_on_its_own_page(printed):
    pdf = printed["pdfs"]["district"]
    texts = page_texts(pdf)
    on = [i for i, text in enumerate(texts, 1) if _squash(CHART_TITLE) in _squash(text)]
    assert on == [printed["chart_page"]], "the chart's title is printed once"
    page = on[0]
    flat = _squash(texts[page - 1])
    assert all(_squash(x) in flat for x in LEGEND), "the legend is on the chart's page"
    assert "Tổngcộng" not in flat and "Theotrường" not in flat, "the chart has its page to itself"
    # the slanted axis labels: every commune's name on the chart's page, and inside the table's printed width
    import pdfplumber

    names = [row[1] for row in _sheet(printed["books"]["district"], "Tổng hợp")[7:30]]
    with pdfplumber.open(pdf) as doc:
        table_right = max(ln["x1"] for ln in doc.pages[0].lines)
        p = doc.pages[page - 1]
        slanted = [c for c in p.chars if abs(c["matrix"][1]) > 0.1]
        assert Counter(_squash("".join(c["text"] for c in slanted))) == Counter(_squash("".join(names)))
        assert max(c["x1"] for c in slanted) <= table_right + 1
        assert all(r["x1"] <= table_right + 1 for r in p.rects + p.curves), "the chart's frame is inside the table"


def test_every_column_is_on_the_page(printed):
    """The first and last columns' headers are on the first page (a header wraps: read word by word)."""
    first = {kind: _squash(page_texts(pdf)[0]) for kind, pdf in printed["pdfs"].items()}
    for kind, headers in (("district", ["STT", "Xã, thị trấn", "Sĩ số lớp 1-9", "Tỷ lệ có Internet (ước tính)"]),
                          ("commune", ["STT", "Trường", "Sĩ số lớp 1-9", "Tỷ lệ có Internet (ước tính)"]),
                          ("school", ["STT", "Tệp", "Mức độ", "Nội dung cần sửa"])):
        for header in headers:
            assert all(word in first[kind] for word in re.split(r"[\s-]+", header)), (kind, header)


def test_a_school_clerk_can_read_every_feedback_message(printed):
    """The "Phản hồi" pages, read down the message column, hold every message whole."""
    book, pdf = printed["books"]["school"], printed["pdfs"]["school"]
    sheet = _sheet(book, "Phản hồi")
    header = next(i for i, row in enumerate(sheet) if row and row[0] == "STT")
    rows = [r for r in sheet[header + 1:] if isinstance(r[0], (int, float)) and r[0] != ""]
    assert len(rows) >= 2, "the school chosen has feedback to print"
    assert not any("/" in str(r[1]) for r in rows), "the folder is said once, in the subtitle"
    assert "thư mục truong/" in sheet[4][0]
    texts = page_texts(pdf)
    last = next(i for i, t in enumerate(texts) if "chưa được tổng hợp: hãy sửa" in t)
    found = [w for w in words(pdf) if w.page <= last + 1]
    import pdfplumber

    with pdfplumber.open(pdf) as doc:  # the message column: from the cell border left of its header
        first = doc.pages[0]
        header_x = first.search("Nội dung cần sửa")[0]["x0"]
        column = max(e["x0"] for e in first.edges if e["orientation"] == "v" and e["x0"] <= header_x)
    down = "".join(w.text for w in sorted((w for w in found if w.x0 >= column - 1),
                                           key=lambda w: (w.page, round(w.top), w.x0)))
    for r in rows:
        assert _squash(str(r[6])) in down, r[6]

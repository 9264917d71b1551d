"""``workbook.Cells`` writes each cell's XML itself (formatted numbers, dates, texts, blanks): the worksheet is byte
for byte the one xlsxwriter's own ``Worksheet`` writes, in-line strings (constant memory) and shared strings alike,
for texts xlsxwriter escapes (markup, control characters, ``_x0000_`` runs, surrounding spaces, rich-looking text)."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest
import xlsxwriter

from flows.publishing.workbook import Cells

TEXTS = ["Nguyễn Văn An", "a & b < c > d \"e\"", " leading", "trailing ", "tab\there", "line\nbreak",
         "bell\x07", "_x0041_ literal", "x_x00zz_", "<r>not rich</r>", "\ufffe\uffff", "", "Nguyễn Văn An", "=1+2",
         "😀 emoji", "x" * 40000]
VALUES = [0, -1, 3, 1.5, 1e20, 1 / 3, -0.0, 12345678901234567890, 2.5e-9]


def _book(path: Path, constant_memory: bool, worksheet_class=None) -> bytes:  # noqa: ANN001
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": constant_memory, "in_memory": not constant_memory,
                                         "strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False})
    wb.set_properties({"created": dt.datetime(2022, 1, 1)})
    ws = wb.add_worksheet("S", worksheet_class=worksheet_class) if worksheet_class else wb.add_worksheet("S")
    plain, wrap = wb.add_format({"border": 1}), wb.add_format({"text_wrap": True, "num_format": "dd/mm/yyyy"})
    r = 0
    for i, text in enumerate(TEXTS):
        ws.write_string(r, 0, text, plain)
        ws._write_string(r, 1, text, wrap)
        ws.write_string(r, 2, text)  # no format: xlsxwriter's own path
        ws.write_blank(r, 3, None, plain if i % 2 else wrap)
        ws.write_number(r, 4, VALUES[i % len(VALUES)], plain)
        ws._write_number(r, 5, VALUES[(i + 3) % len(VALUES)])
        ws.write_datetime(r, 6, dt.datetime(2021, 1 + i % 12, 1 + i, 7, 30), wrap)
        ws._write_datetime(r, 7, dt.date(2022, 3, 15), plain)
        ws.write_boolean(r, 8, bool(i % 2), plain)
        ws.write_formula(r, 9, "=A1", plain)
        r += 1 + i % 3  # rows skipped too
    ws.write_rich_string(r, 0, "a", wrap, "b", "c", plain)
    ws.merge_range(r + 1, 0, r + 1, 3, "merged & <wrapped>", wrap)
    wb.close()
    with zipfile.ZipFile(path) as z:
        return b"".join(z.read(n) for n in sorted(z.namelist()) if n.startswith("xl/"))


@pytest.mark.parametrize("constant_memory", [True, False])
def test_cells_write_the_xml_xlsxwriter_writes(tmp_path, constant_memory):
    ours = _book(tmp_path / "ours.xlsx", constant_memory, Cells)
    theirs = _book(tmp_path / "theirs.xlsx", constant_memory)
    assert ours == theirs
    assert b"_x005F_x0041_" in ours and b"&amp; b &lt; c &gt;" in ours  # the texts did need escaping

"""The school's own rows, as it sent them, with the problem cells marked: a sheet of the school's feedback workbook.

``rows_as_sent`` keeps, from the layout stage's raw student table, the cells each row had under the school's own
headers (legacy fonts repaired, nothing else changed). ``write_rows_as_sent`` writes them one block per file and
sheet, under the headers the school wrote, with the row number the school sees: a cell an issue is about is
filled red (error) or yellow (warning) and carries a note saying what to fix; an issue about no particular cell
marks the row number. ``write_unit_rows`` picks from the night's rows those of one school's (or commune's) files
and adds the sheet to that unit's published workbook.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache
from typing import Any

import pandas as pd

from flows.frames import PROVENANCE
from flows.intake.legacy_fonts import to_unicode
from flows.publishing import textfit
from flows.publishing.prepared import Prepared
from flows.publishing.workbook import Book, Cells, label, page_setup
from flows.text import as_text, clean_spaces, is_missing, nfc

SHEET_NAME = "Dòng đã gửi"
HeaderMap = dict[tuple[str, str], dict[str, str]]
_KEY = ["source_file", "source_sheet", "source_row"]
_SEVERITY_VI = {"error": "Lỗi", "warning": "Cảnh báo"}
_STATUS_VI = {"error": "Chưa tổng hợp - cần sửa", "warning": "Đã tổng hợp - cần kiểm tra", "": "Hợp lệ"}


def rows_as_sent(raw_students: pd.DataFrame | None, headers: HeaderMap) -> pd.DataFrame:
    """Provenance + one column per field the school's sheet had, cell text as written (legacy fonts repaired).

    Only fields with a header in that sheet are kept (a field another sheet had stays empty), so the frame can
    be written back under the school's own headers.
    """
    if raw_students is None or raw_students.empty:
        return pd.DataFrame(columns=_KEY)
    fields = [c for c in raw_students.columns if c not in PROVENANCE and c not in ("list_type", "unit_code")]
    out = raw_students[_KEY].copy()
    sheets = list(zip(raw_students["source_file"].tolist(), raw_students["source_sheet"].tolist()))
    written = {sheet: headers.get(sheet, {}) for sheet in set(sheets)}  # the fields each sheet had a header for
    for f in fields:
        having = {sheet for sheet, fields_of in written.items() if f in fields_of}
        values = raw_students[f].tolist()
        if len(having) == len(written):  # every sheet had it (most fields): no sheet to look up per cell
            out[f] = [_display(v) for v in values]
        elif not having:
            out[f] = [None] * len(values)
        else:
            out[f] = [_display(v) if sheet in having else None for v, sheet in zip(values, sheets)]
    return out.reset_index(drop=True)


def _display(value: Any) -> Any:
    if isinstance(value, str):
        return _display_text(value)
    if is_missing(value):
        return None
    return value


@lru_cache(maxsize=1 << 16)
def _display_text(value: str) -> str | None:
    """A cell's text as shown (a function of the text alone: lists repeat their villages, marks and categories)."""
    if not value.strip():
        return None
    return clean_spaces(nfc(to_unicode(value)))


def write_rows_as_sent(wb, fmt: dict, rows: pd.DataFrame, issues: pd.DataFrame, headers: HeaderMap,
                       subtitle: str, status: dict[tuple[str, str, int], str] | None = None,
                       title: str = "CÁC DÒNG NHÀ TRƯỜNG ĐÃ GỬI VÀ CÁC Ô CẦN SỬA") -> None:
    """Add the sheet to an open xlsxwriter workbook (``strings_to_formulas`` off: "=..." stays text).

    ``status``: the row's outcome as the officer words it, by (file, sheet, row); else one from its issues."""
    status = status or {}
    ws = wb.add_worksheet(SHEET_NAME, worksheet_class=Cells)
    f = wb.add_format
    base = {"border": 1, "valign": "vcenter", "text_wrap": True}
    cell = f(base)
    date = f({**base, "num_format": "dd/mm/yyyy", "align": "center"})
    th = f({**base, "bold": True, "align": "center", "bg_color": "#D9D9D9"})
    marked = {
        "error": (f({**base, "bg_color": "#FFC7CE", "font_color": "#9C0006"}),
                  f({**base, "bg_color": "#FFC7CE", "font_color": "#9C0006", "num_format": "dd/mm/yyyy"})),
        "warning": (f({**base, "bg_color": "#FFEB9C", "font_color": "#9C5700"}),
                    f({**base, "bg_color": "#FFEB9C", "font_color": "#9C5700", "num_format": "dd/mm/yyyy"})),
    }
    page_setup(ws)
    blocks = list(rows.groupby(["source_file", "source_sheet"], sort=False)) if not rows.empty else []
    ncols = 2 + max((len([c for c in headers.get(k, {}) if c in b.columns]) for k, b in blocks), default=4)
    widths = [8, 26, *[18] * (ncols - 2)]
    ws.set_column(0, 0, 8)
    ws.set_column(1, 1, 26)
    ws.set_column(2, 30, 18)
    wrap_title = f({"bold": True, "text_wrap": True, "valign": "top"})
    wrap_note = f({"italic": True, "text_wrap": True, "valign": "top"})
    for r, text, one, wrapped, bold in (
            (0, title, fmt.get("title_left", fmt["section"]), wrap_title, True), (1, subtitle, fmt["note"], wrap_note, False),
            (2, "Ô tô đỏ: lỗi, dòng chưa được tổng hợp, hãy sửa trong tệp gốc. Ô tô vàng: cảnh báo, hãy kiểm tra "
                "lại. Di chuột vào ô để xem cách sửa.", fmt["note"], wrap_note, False)):
        _heading(ws, r, text, one, wrapped, widths, bold)
    r = 4
    if rows.empty:
        ws.write(r, 0, "Không có dòng học sinh nào trong các tệp của nhà trường.", fmt["note"])
        return
    by_row: dict[tuple[str, str, int], list[dict]] = {}
    for i in issues.to_dict("records"):
        if is_missing(i.get("source_row")):
            continue
        by_row.setdefault((i["source_file"], i["source_sheet"], int(i["source_row"])), []).append(i)
    if len(blocks) == 1:
        ws.repeat_rows(r + 1)  # one table: its header on every printed page
    for (file, sheet), block in blocks:
        labels = headers.get((file, sheet), {})
        fields = [c for c in labels if c in block.columns]  # the school's column order
        where = f"Tệp {file}" + (f", trang tính {sheet}" if sheet else "")
        ws.write(r, 0, where, fmt["section"])
        r += 1
        head = ["Dòng", "Tình trạng", *[labels[c] for c in fields]]
        ws.set_row(r, _height(head, widths, bold=True))
        ws.write_row(r, 0, head, th)
        r += 1
        for row in block.sort_values("source_row").to_dict("records"):
            found = by_row.get((file, sheet, int(row["source_row"])), [])
            worst = "error" if any(i["severity"] == "error" for i in found) else ("warning" if found else "")
            by_label: dict[str, list[dict]] = {}
            unplaced = []
            for i in found:
                if i["column"] and i["column"] in labels.values():
                    by_label.setdefault(i["column"], []).append(i)
                else:
                    unplaced.append(i)
            row_fmt = marked[worst][0] if unplaced else cell
            ws._write_number(r, 0, int(row["source_row"]), row_fmt)
            if unplaced:
                ws.write_comment(r, 0, _note(unplaced), {"x_scale": 3, "y_scale": 2})
            outcome = status.get((file, sheet, int(row["source_row"]))) or _STATUS_VI[worst]
            ws.set_row(r, _height([str(row["source_row"]), outcome, *(_shown(row.get(fld)) for fld in fields)], widths))
            ws._write_string(r, 1, outcome, marked[worst][0] if worst else cell)
            for c, fld in enumerate(fields, 2):
                value = row.get(fld)
                cited = by_label.get(labels[fld], [])
                sev = "error" if any(i["severity"] == "error" for i in cited) else ("warning" if cited else "")
                text_fmt, date_fmt = marked[sev] if sev else (cell, date)
                _write(ws, r, c, value, text_fmt, date_fmt)
                if cited:
                    ws.write_comment(r, c, _note(cited), {"x_scale": 3, "y_scale": 2})
                    by_label[labels[fld]] = []  # a split column (Họ / Tên) carries the note once
            r += 1
        r += 1
    ws.freeze_panes(5, 2)


def write_unit_rows(book: Book, data: Prepared, st: pd.DataFrame, iss: pd.DataFrame, code: str,
                    sub: str, unit: str = "school") -> None:
    """The sheet in a published school (or commune) workbook: the rows of the files that unit sent, as written,
    problem cells marked, each row's outcome as the officer words it.

    A commune sees only the rows of its own lists that are its own children (commune workbooks' privacy rule).
    """
    sent = data.result.rows_as_sent
    if sent is None:
        return
    if unit == "commune":
        mine = st.loc[(st["_file_commune"] == code) & (st["commune_code"] == code)].dropna(subset=["source_row"])
        if mine.empty:
            return
        title = "CÁC DÒNG UBND XÃ ĐÃ GỬI VÀ CÁC Ô CẦN SỬA"
    else:
        mine = st.loc[st["_file_school"] == code].dropna(subset=["source_row"])
        title = "CÁC DÒNG NHÀ TRƯỜNG ĐÃ GỬI VÀ CÁC Ô CẦN SỬA"
    keys = mine[["source_file", "source_sheet", "source_row"]].drop_duplicates().astype({"source_row": "int64"})
    rows = sent.merge(keys, on=["source_file", "source_sheet", "source_row"])
    status = {(f, s, int(r)): label("status", v) for f, s, r, v in
              zip(mine["source_file"], mine["source_sheet"], mine["source_row"], mine["status"])}
    write_rows_as_sent(book.wb, book.fmt, rows, iss, data.result.headers, sub, status, title=title)


def _write(ws, r: int, c: int, value: Any, text_fmt, date_fmt) -> None:
    # xlsxwriter's undecorated writers (the public ones first try to read the row as A1 notation, every cell)
    if value is None or is_missing(value):
        ws._write_blank(r, c, None, text_fmt)
    elif isinstance(value, bool):
        ws._write_string(r, c, "x" if value else "", text_fmt)
    elif isinstance(value, (dt.datetime, dt.date)):
        ws._write_datetime(r, c, value if isinstance(value, dt.datetime) else
                           dt.datetime(value.year, value.month, value.day), date_fmt)
    elif isinstance(value, (int, float)) and math.isfinite(value):
        ws._write_number(r, c, value, text_fmt)
    else:
        ws._write_string(r, c, as_text(value), text_fmt)


def _heading(ws, r: int, text: str, one, wrapped, widths: list[float], bold: bool) -> None:
    """A heading line: over the empty cells to its right, or merged across the table and wrapped if wider."""
    if textfit.text_points(text, bold=bold) <= textfit.column_points(sum(widths)):
        ws.write_string(r, 0, text, one)
        return
    ws.set_row(r, textfit.row_height(textfit.wrapped_lines(text, sum(widths), bold=bold)))
    ws.merge_range(r, 0, r, len(widths) - 1, text, wrapped)


def _shown(value: Any) -> str:
    if value is None or is_missing(value):
        return ""
    if isinstance(value, (dt.datetime, dt.date)):
        return "00/00/0000"
    return as_text(value)


def _height(texts: list[str], widths: list[float], bold: bool = False) -> float:
    """Row height fitting the longest of its wrapping cells."""
    lines = max((textfit.wrapped_lines(t, widths[min(c, len(widths) - 1)], bold=bold)
                 for c, t in enumerate(texts) if t), default=1)
    return textfit.row_height(lines)


def _note(issues: list[dict]) -> str:
    return "\n".join(f"{_SEVERITY_VI.get(i['severity'], i['severity'])}: {i['message']}" for i in issues)

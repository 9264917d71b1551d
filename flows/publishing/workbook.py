"""The workbook engine every audience's workbook shares: Vietnamese labels, formats and the official document.

``Book`` opens an xlsxwriter workbook that writes data as data (string conversions off), in Times New Roman,
reproducibly (the same result gives the same bytes), streaming rows to temporary files when it is large.
``Sheet`` writes one worksheet strictly top to bottom: the heading of an official document (the issuing units
on the left; quốc hiệu, tiêu ngữ and the place and date on the right; the title), then tables (a header row,
typed data rows, totals, notes) and the signature block; A4 landscape, frozen and repeated header, autofilter.
``label`` gives the Vietnamese wording of every code the workbooks show.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xlsxwriter

from flows.config import District
from flows.publishing import textfit
from flows.publishing.labels import SHEETS, VI
from flows.publishing.prepared import Prepared, as_int
from flows.text import as_text

HEADER_ROW = 6  # 0-based row of every sheet's (first) table header: Excel row 7, under the document heading
# The custom document property that marks a workbook as published here (district | commune | school), so a copy an
# officer returns among the sources is read only for decisions and overrides (flows.intake.returned).
PUBLISHED_MARKER = "songmaytinh_workbook"
_AUDIENCES = {"district": "district", "communes": "commune", "schools": "school"}
# What a commune's or school's workbook says about its date (flows.reuse.workbooks): it is issued again only when
# its content changes, so its date is the night its data was consolidated, and a later district workbook's date
# is the last night that checked it.
REISSUE_NOTE = ("Bảng tính này chỉ được lập lại khi số liệu của đơn vị thay đổi: ngày ghi trên bảng là ngày tổng hợp "
                "số liệu này. Các lần tổng hợp sau không làm thay đổi số liệu thì giữ nguyên bảng tính; ngày kiểm tra "
                "gần nhất là ngày của bảng tổng hợp mới nhất của huyện.")
_QUOC_HIEU = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
_TIEU_NGU = "Độc lập - Tự do - Hạnh phúc"
_STREAM_ROWS = 5000  # workbooks with more data rows than this are written in xlsxwriter's constant-memory mode
_NUMERIC = ("stt", "int", "money", "pct", "date")
_GROW = 1.5  # a text column grows to fit its longest value up to this many times its planned width, then wraps
_PRINT_WIDTH_PT = (11.69 - 0.5 - 0.4) * 72  # A4 landscape between the margins


def page_setup(ws: Any) -> None:
    """How every sheet prints: A4 landscape, as wide as the page, centred, page numbers in the footer."""
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.5, right=0.4, top=0.6, bottom=0.6)
    ws.center_horizontally()
    ws.set_footer('&C&"Times New Roman,Regular"&10Trang &P/&N')


def label(group: str, code: object) -> str:
    """Vietnamese wording of a code (``label("item", "tablet")`` -> "Máy tính bảng"); unknown codes as is."""
    text = as_text(code)
    return VI.get(group, {}).get(text, text)


def tier_label(district: District, category: str) -> str:
    """The district's wording of a priority category ("poor" -> its tier label); unknown categories as they are."""
    if not category:
        return ""
    return district.tier_label(category) if category in VI["category"] else category


# ----------------------------------------------------------------------------------------------------------
# Cell values
# ----------------------------------------------------------------------------------------------------------

def date_value(iso: object, birth_year: object = None) -> dt.date | str | None:
    """A date cell: an ISO date as a date, other text as written, else the birth year as text (or None)."""
    text = as_text(iso)
    if text:
        try:
            return dt.date.fromisoformat(text[:10])
        except ValueError:
            return text
    year = as_int(birth_year)
    return str(year) if year else None


def _date_line(place: str, day: dt.date) -> str:
    """"Hữu Lũng, ngày 05 tháng 01 năm 2022": days below 10 and months 1-2 take a leading zero (ND 30/2020)."""
    d = f"{day.day:02d}" if day.day < 10 else str(day.day)
    m = f"{day.month:02d}" if day.month <= 2 else str(day.month)
    return f"{place}, ngày {d} tháng {m} năm {day.year}"


def vn_int(n: int) -> str:
    """1500 -> "1.500" (Vietnamese thousands separator)."""
    return f"{n:,}".replace(",", ".")


def vn_pct(share: float, digits: int) -> str:
    """0.843 -> "84,3%" (Vietnamese decimal comma)."""
    return f"{share * 100:.{digits}f}".replace(".", ",") + "%"


# ----------------------------------------------------------------------------------------------------------
# Workbook writing
# ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Col:
    """A table column: its header, its width in characters and its kind (the cell format)."""

    header: str
    width: float
    kind: str = "text"  # text | center | wrap | stt | int | money | date | pct


class Book:
    """One xlsxwriter workbook with its formats, created once."""

    def __init__(self, path: Path, data: Prepared, title: str, rows: int):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.data = data
        self.wb = xlsxwriter.Workbook(str(path), {
            "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
            # Large workbooks stream rows to temporary files; small ones are faster kept in memory, and assembled
            # there too (``in_memory``: no temporary file per part of the package; it would override streaming).
            "constant_memory": rows > _STREAM_ROWS,
            "in_memory": rows <= _STREAM_ROWS,
            "default_format_properties": {"font_name": "Times New Roman", "font_size": 12},
        })
        info = data.district.district
        created = data.result.started_at
        if created.tzinfo is not None:
            created = created.astimezone(dt.timezone.utc).replace(tzinfo=None)
        self.wb.set_properties({"title": title, "subject": info.programme, "author": info.issuing_unit,
                                "company": info.parent_unit, "created": created})
        self.wb.set_custom_property(PUBLISHED_MARKER, _AUDIENCES.get(path.parent.name, "district"))
        cell = {"border": 1, "valign": "vcenter"}
        self.sheets: list[Sheet] = []
        self._variants: dict[str, Any] = {}
        self.props: dict[str, dict[str, Any]] = {
            "unit": {"align": "center_across", "font_size": 13},
            "unit_bold": {"align": "center_across", "font_size": 13, "bold": True},
            "nation": {"align": "center_across", "font_size": 13, "bold": True},
            "motto": {"align": "center_across", "font_size": 13, "bold": True, "underline": 1},
            "place": {"align": "center_across", "font_size": 13, "italic": True},
            "title": {"align": "center_across", "font_size": 14, "bold": True},
            "subtitle": {"align": "center_across", "italic": True},
            "section": {"bold": True, "font_size": 13},
            "note": {"italic": True},
            "th": {**cell, "bold": True, "align": "center", "text_wrap": True, "bg_color": "#D9D9D9"},
            "text": dict(cell),
            "center": {**cell, "align": "center"},
            "wrap": {**cell, "text_wrap": True},
            "stt": {**cell, "align": "center", "num_format": "0"},
            "int": {**cell, "num_format": "#,##0"},
            "money": {**cell, "num_format": "#,##0"},
            "date": {**cell, "align": "center", "num_format": "dd/mm/yyyy"},
            "pct": {**cell, "num_format": "0.0%"},
            "total_text": {**cell, "bold": True, "align": "center"},
            "total_int": {**cell, "bold": True, "num_format": "#,##0"},
            "total_pct": {**cell, "bold": True, "num_format": "0.0%"},
            "empty": {**cell, "italic": True},
            "sign": {"align": "center_across", "bold": True, "font_size": 13},
            "sign_note": {"align": "center_across", "italic": True},
            "recipients": {"bold": True, "italic": True},
            "small": {"font_size": 11},
        }
        self.fmt = {name: self.wb.add_format(props) for name, props in self.props.items()}

    def sheet(self, key: str, title: str, subtitle: str, cols: Sequence[Col]) -> "Sheet":
        sheet = Sheet(self, SHEETS[key], title, subtitle, cols)
        self.sheets.append(sheet)
        return sheet

    def wrapping(self, style: str) -> Any:
        """The format ``style`` with text wrapping on (made once)."""
        if style not in self._variants:
            props = self.props[style]
            if props.get("align") == "center_across":
                props = {**props, "align": "center"}
            self._variants[style] = self.wb.add_format({**props, "text_wrap": True, "valign": "vcenter"})
        return self._variants[style]

    def close(self) -> None:
        for sheet in self.sheets:
            sheet.finish()
        self.wb.close()


class Sheet:
    """A worksheet written strictly top to bottom (as constant-memory mode needs): heading, tables, signature."""

    def __init__(self, book: Book, name: str, title: str, subtitle: str, cols: Sequence[Col]):
        self.book = book
        self.ws = book.wb.add_worksheet(name)
        self.name = name
        self.cols = list(cols)
        self.widths = [c.width for c in self.cols]  # the columns' widths as printed (the first table fits them)
        self.row = 0
        self.filtered = False
        self.fitted = False
        self.breaks: list[int] = []
        ws = self.ws
        for i, c in enumerate(self.cols):
            ws.set_column(i, i, c.width)
        page_setup(ws)
        info = book.data.district.district
        n = len(self.cols)
        split = self._split()
        self._across(0, 0, split, info.parent_unit.upper(), "unit")
        self._across(0, split, n, _QUOC_HIEU, "nation")
        self._across(1, 0, split, info.issuing_unit.upper(), "unit_bold")
        self._across(1, split, n, _TIEU_NGU, "motto")
        self._across(2, split, n, _date_line(info.place_name, book.data.result.as_of), "place")
        ws.set_row(3, 22)
        self._across(3, 0, n, title, "title")
        self._across(4, 0, n, subtitle, "subtitle")
        self.row = HEADER_ROW

    def _split(self) -> int:
        widths = [c.width for c in self.cols]
        total, run = sum(widths), 0.0
        for i, w in enumerate(widths):
            run += w
            if run >= 0.4 * total:
                return max(1, min(i + 1, len(widths) - 1))
        return max(1, len(widths) - 1)

    def _room(self, first: int, last: int) -> float:
        """Points of text room across columns [first, last)."""
        return textfit.column_points(sum(self.widths[first:last]) + (last - first - 1) * 5 / 7)

    def _across(self, row: int, first: int, last: int, text: str, style: str) -> None:
        """Text centred across columns [first, last) without merging (works in constant-memory mode); text
        wider than those columns is merged across them and wrapped, its row made tall enough."""
        if last <= first:
            return
        props, fmt = self.book.props[style], self.book.fmt[style]
        size, bold = props.get("font_size", textfit.DEFAULT_SIZE), bool(props.get("bold"))
        if last - first > 1 and textfit.text_points(text, size, bold) > self._room(first, last):
            lines = textfit.wrapped_lines(text, sum(self.widths[first:last]), size, bold)
            self.ws.set_row(row, textfit.row_height(lines, size))
            self.ws.merge_range(row, first, row, last - 1, text, self.book.wrapping(style))
            return
        self.ws.write_string(row, first, text, fmt)
        for c in range(first + 1, last):
            self.ws.write_blank(row, c, None, fmt)

    def header(self, cols: Sequence[Col] | None = None, *, freeze: bool = True, repeat: bool = True) -> int:
        cols = list(cols or self.cols)
        r = self.row
        lines = max(textfit.wrapped_lines(col.header, self._width(c), bold=True) for c, col in enumerate(cols))
        self.ws.set_row(r, max(textfit.row_height(lines), 20))
        for c, col in enumerate(cols):
            self.ws.write_string(r, c, col.header, self.book.fmt["th"])
        if freeze and r == HEADER_ROW:
            self.ws.freeze_panes(r + 1, 0)
            if repeat:
                self.ws.repeat_rows(r)
        self.row += 1
        return r

    def _width(self, c: int) -> float:
        return self.widths[c] if c < len(self.widths) else 8.43

    def _fit(self, rows: list[Sequence[Any]], cols: list[Col]) -> None:
        """The first table's columns grow to fit their values: numbers and dates always, text up to ``_GROW``
        times the planned width (longer text wraps); wrapping columns keep their width."""
        self.fitted = True
        for c, col in enumerate(cols[:len(self.widths)]):
            if col.kind == "wrap":
                continue
            need = max((textfit.text_points(_shown(r[c], col.kind)) for r in rows if c < len(r)), default=0.0)
            if need <= textfit.column_points(self.widths[c]):
                continue
            width = textfit.points_to_width(need) + 0.5
            if col.kind not in _NUMERIC:
                width = min(width, col.width * _GROW)
            self.widths[c] = round(width, 1)
            self.ws.set_column(c, c, self.widths[c])

    def rows(self, rows: Iterable[Sequence[Any]], cols: Sequence[Col] | None = None, *,
             filter_from: int | None = None, empty: str = "") -> int:
        """Write data rows; returns how many. ``filter_from``: header row to put the autofilter on.

        A value wider than its column wraps (text columns) and its row gets the height of its longest cell."""
        cols = list(cols or self.cols)
        rows = list(rows)
        if not self.fitted and rows and cols == self.cols:
            self._fit(rows, cols)
        ws, fmt = self.ws, self.book.fmt
        writers = []
        for col in cols:
            if col.kind in ("stt", "int", "money", "pct"):
                writers.append((ws.write_number, fmt[col.kind], False))
            elif col.kind == "date":
                writers.append((ws.write_datetime, fmt["date"], True))
            else:
                writers.append((ws.write_string, fmt[col.kind], False))
        wrapped = [self.book.wrapping(col.kind) if col.kind in ("text", "center", "wrap") else None for col in cols]
        rooms = [textfit.column_points(self._width(c)) for c in range(len(cols))]
        widths = [self._width(c) for c in range(len(cols))]
        write_blank, write_string, text_fmt = ws.write_blank, ws.write_string, fmt["center"]
        r = start = self.row
        for values in rows:
            lines, wraps = 1, False
            for c, v in enumerate(values):
                if wrapped[c] is not None and isinstance(v, str) and v:
                    if cols[c].kind == "wrap":
                        wraps = True
                    if textfit.text_points(v) > rooms[c]:
                        wraps = True
                        lines = max(lines, textfit.wrapped_lines(v, widths[c]))
            if wraps:
                ws.set_row(r, textfit.row_height(lines))
            for c, v in enumerate(values):
                write, f, is_date = writers[c]
                if v is None or v == "":
                    write_blank(r, c, None, f)
                elif is_date and isinstance(v, str):
                    write_string(r, c, v, text_fmt)
                elif wrapped[c] is not None and isinstance(v, str) and textfit.text_points(v) > rooms[c]:
                    write_string(r, c, v, wrapped[c])
                else:
                    write(r, c, v, f)
            r += 1
        count = r - start
        if count == 0 and empty:  # the message spans the table, in a cell of its own
            if len(cols) > 1:
                ws.merge_range(r, 0, r, len(cols) - 1, empty, fmt["empty"])
            else:
                write_string(r, 0, empty, fmt["empty"])
            r += 1
        if filter_from is not None and not self.filtered:
            ws.autofilter(filter_from, 0, max(r - 1, filter_from), len(cols) - 1)
            self.filtered = True
        self.row = r
        return count

    def total(self, values: Sequence[Any], cols: Sequence[Col] | None = None) -> None:
        cols = list(cols or self.cols)
        fmt = self.book.fmt
        for c, (col, v) in enumerate(zip(cols, values)):
            if v is None or v == "":
                self.ws.write_blank(self.row, c, None, fmt["total_text"])
            elif isinstance(v, str):
                self.ws.write_string(self.row, c, v, fmt["total_text"])
            else:
                self.ws.write_number(self.row, c, v, fmt["total_pct" if col.kind == "pct" else "total_int"])
        self.row += 1

    def line(self, text: str, style: str = "note") -> None:
        """A line of text under the tables; one wider than the table wraps across its columns."""
        props = self.book.props[style]
        size, bold = props.get("font_size", textfit.DEFAULT_SIZE), bool(props.get("bold"))
        n = len(self.cols)
        if n > 1 and textfit.text_points(text, size, bold) > self._room(0, n):
            lines = textfit.wrapped_lines(text, sum(self.widths), size, bold)
            self.ws.set_row(self.row, textfit.row_height(lines, size))
            self.ws.merge_range(self.row, 0, self.row, n - 1, text, self.book.wrapping(style))
        else:
            self.ws.write_string(self.row, 0, text, self.book.fmt[style])
        self.row += 1

    def page_break(self) -> None:
        """Start a new printed page at the current row. Excel ignores manual breaks on a sheet fitted to the
        page width, so such a sheet is printed at a fixed scale that fits its columns instead (``finish``)."""
        self.breaks.append(self.row)

    def finish(self) -> None:
        """Page set-up that needs the final column widths (called when the book closes)."""
        if not self.breaks:
            return
        self.ws.set_h_pagebreaks(self.breaks)
        # Columns measured as Excel and LibreOffice draw them in Times New Roman 12: the stored width (xlsxwriter
        # adds 5/7 of a character) at 8 px a character; 2 % to spare.
        table = sum((w + 5 / 7) * 8 for w in self.widths) * 0.75
        self.ws.set_print_scale(max(10, min(100, int(98 * _PRINT_WIDTH_PT / table))))

    def skip(self, n: int = 1) -> None:
        self.row += n

    def signature(self, recipients: Sequence[str] = (), left_title: str = "") -> None:
        """Signature block: "Nơi nhận" or the preparer on the left, the signer's title on the right."""
        fmt, n = self.book.fmt, len(self.cols)
        split = self._split()
        signer = self.book.data.district.district.signer_title.upper()
        self.skip()
        lines = max(len(recipients) + 1 if recipients else 2, 2)
        for i in range(lines):
            r = self.row
            if recipients:
                if i == 0:
                    self.ws.write_string(r, 0, "Nơi nhận:", fmt["recipients"])
                elif i <= len(recipients):
                    self.ws.write_string(r, 0, recipients[i - 1], fmt["small"])
            elif left_title:
                text = left_title if i == 0 else "(Ký, ghi rõ họ tên)" if i == 1 else ""
                if text:
                    self._across(r, 0, split, text, "sign" if i == 0 else "sign_note")
            if i == 0:
                self._across(r, split, n, signer, "sign")
            elif i == 1:
                self._across(r, split, n, "(Ký, ghi rõ họ tên và đóng dấu)", "sign_note")
            self.row += 1


def _shown(value: Any, kind: str) -> str:
    """A value as the cell shows it (for measuring): numbers with thousands separators, dates as dd/mm/yyyy."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value
    if kind == "pct":
        return f"{value * 100:.1f}%"
    if kind == "date" or isinstance(value, (dt.date, dt.datetime)):
        return "00/00/0000"
    if isinstance(value, (int, float)):
        return f"{value:,.0f}"
    return str(value)

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
import hashlib
import io
import re
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter import worksheet as _xlsx_worksheet
from xlsxwriter.utility import _preserve_whitespace, xl_col_to_name
from xlsxwriter.worksheet import Worksheet

from flows.config import District
from flows.publishing import textfit
from flows.reuse.fingerprints import exact_bytes
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
    """One xlsxwriter workbook with its formats, created once.

    ``parts`` (``flows.reuse.workbooks.SheetParts``, streamed workbooks only): where the XML of each worksheet
    written tonight is kept under the digest of everything its ``Sheet`` was given, and taken from instead of
    writing the sheet again when that digest is a kept one (``close``)."""

    def __init__(self, path: Path, data: Prepared, title: str, rows: int, parts: Any = None):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.data = data
        self.wb = _Workbook(str(path), {
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
        for style in self.props:
            self.wrapping(style)
        # Every format gets its xf index now, in this fixed order, not at its first use: a sheet's XML then never
        # depends on which sheets were written before it (``close`` may take a sheet's XML from an earlier night).
        self._names = {id(f): name for name, f in self.fmt.items()}
        self._names.update({id(f): f"wrap:{name}" for name, f in self._variants.items()})
        for f in (*self.fmt.values(), *self._variants.values()):
            f._get_xf_index()
        self.parts = parts if self.wb.constant_memory else None  # inline strings: a sheet's XML is its own
        if self.parts is not None:  # the package is zipped with each worksheet deflated once per content
            self.wb.members, self.wb.deflate = {}, self.parts.deflated

    def sheet(self, key: str, title: str, subtitle: str, cols: Sequence[Col]) -> "Sheet":
        sheet = Sheet(self, SHEETS[key], title, subtitle, cols)
        sheet._ws.members = self.wb.members
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

    def format_named(self, name: str) -> Any:
        return self._variants[name[5:]] if name.startswith("wrap:") else self.fmt[name]

    def close(self) -> None:
        """Write every sheet (or take its XML from ``parts``: ``Sheet.key``), then the workbook; keep the XML of
        each sheet written tonight that can be reused (``Sheet.kept``)."""
        tokens = _tokens(self.data)
        written = []
        for sheet in self.sheets:
            made = None  # the key of the inputs a deferred sheet's rows are made from (``Sheet.fill``)
            if sheet.deferred is not None:
                inputs, fill = sheet.deferred
                made = sheet.inputs_key(tokens, inputs) if self.parts is not None else None
                if made is not None and self._take_made(sheet, made, tokens):
                    continue
                sheet.deferred = None
                fill(sheet)
            if sheet.played:  # written as it was given (a sheet whose worksheet a writer used directly)
                sheet.finish()
                continue
            key = sheet.key(tokens) if self.parts is not None else None
            kept = self.parts.take(key, sheet.name) if key is not None else None
            if kept is None or not sheet.reuse(kept, tokens):
                sheet.play(capture=key is not None, final=True)
                if key is not None:
                    written.append((sheet, key, made))
            elif made is not None:  # new inputs that made a kept sheet: found by them from now on
                self.parts.keep_made(made, key, sheet.name)
        self.wb.close()
        for sheet, key, made in written:
            value = sheet.kept(tokens)
            if value is not None:
                self.parts.keep(key, value, sheet.name)
                if made is not None:
                    self.parts.keep_made(made, key, sheet.name)

    def _take_made(self, sheet: "Sheet", made: str, tokens: dict[str, str]) -> bool:
        """Take the sheet kept from the same inputs (``Sheet.fill``) without making its rows; False when there is
        none (or it is no longer kept)."""
        key = self.parts.made(made, sheet.name)
        kept = self.parts.take(key, sheet.name) if key is not None else None
        if kept is None or not sheet.reuse(kept, tokens):
            return False
        sheet.deferred = None
        return True


class Sheet:
    """A worksheet written strictly top to bottom (as constant-memory mode needs): heading, tables, signature.

    What a sheet is given (``header``, ``rows``, ``total``, ``line``, ``skip``, ``page_break``, ``signature``) is
    recorded and written when the book closes (``play``), so that a sheet given exactly what an earlier night's
    was can take that night's XML instead (``key``, ``reuse``). A writer that reaches past these (``ws``,
    ``widths``) has the sheet written at once, and written every night."""

    def __init__(self, book: Book, name: str, title: str, subtitle: str, cols: Sequence[Col]):
        self.book = book
        self._ws = book.wb.add_worksheet(name, worksheet_class=_Part)
        self.name = name
        self.title, self.subtitle = title, subtitle
        self.cols = list(cols)
        self._widths = [c.width for c in self.cols]  # the columns' widths as printed (the first table fits them)
        self.ops: list[tuple[str, tuple]] = []
        self.played = False
        self.row = HEADER_ROW  # the next row to write (counted as the calls are recorded)
        self.deferred: tuple[str, Callable[[Sheet], None]] | None = None  # ``fill``: (inputs, fill) until made

    @property
    def ws(self) -> Any:
        """The worksheet, for what ``Sheet`` does not write (a chart): the sheet is written now, and every night."""
        self.play()
        return self._ws

    @property
    def widths(self) -> list[float]:
        self.play()
        return self._widths

    def fill(self, fill: Callable[["Sheet"], None], frames: Sequence[Any] = (), reads: Sequence[str] = ()) -> None:
        """Give the sheet what ``fill(sheet)`` gives it (tables, lines, the signature), made only when needed.

        ``fill`` reads nothing but the night's prepared frames (``Prepared``: the district workbook's, whose key
        ``Prepared.key`` is known; ``frames``, the ones it was handed, must be those frames themselves, not a part
        of them), the fields ``reads`` of the night's result, the config and the code, and of tonight's date only
        what the heading prints and the phase facts. On a book that takes kept sheets
        (``parts``), a sheet whose inputs (those, ``SheetParts.inputs``) made a kept sheet is taken without calling
        ``fill``: a quiet night does not make the rows of lists it does not write. Otherwise ``fill`` is called
        (when the book closes), and the sheet is written or taken as one given those rows would be."""
        data = self.book.data
        whole = [getattr(data, name, None) for name in ("students", "persons", "allocations", "issues",
                                                          "review_pairs", "donations")]
        inputs = self.book.parts.inputs(data, tuple(reads)) if self.book.parts is not None and all(
            any(frame is w for w in whole) for frame in frames) else None
        if inputs is None:
            fill(self)
        else:
            self.deferred = (inputs, fill)

    def _record(self, op: str, args: tuple, rows: int) -> None:
        if self.played:
            getattr(self, op)(*args)
        else:
            self.ops.append((op, args))
            self.row += rows

    def play(self, capture: bool = False, final: bool = False) -> None:
        """Write what was recorded (once). ``final``: the last call (the book closes: ``finish`` too). ``capture``:
        note the worksheet calls the workbook reads and keep the XML (``kept``)."""
        if self.played:
            return
        self.played = True
        if capture:
            self._ws.capture = True
            self._ws = _Recorder(self._ws, self.book._names)
        planned, self.row = self.row, 0
        self._heading()
        for op, args in self.ops:
            getattr(self, op)(*args)
        assert self.row == planned, (self.name, self.row, planned)
        self.ops = []
        if final:
            self.finish()
        if capture:
            self._calls, self._ws = self._ws.calls if self._ws.clean else None, self._ws.ws

    def _heading(self) -> None:
        self.row = 0
        self.filtered = False
        self.fitted = False
        self.breaks: list[int] = []
        ws = self._ws
        for i, c in enumerate(self.cols):
            ws.set_column(i, i, c.width)
        page_setup(ws)
        info = self.book.data.district.district
        n = len(self.cols)
        split = self._split()
        self._across(0, 0, split, info.parent_unit.upper(), "unit")
        self._across(0, split, n, _QUOC_HIEU, "nation")
        self._across(1, 0, split, info.issuing_unit.upper(), "unit_bold")
        self._across(1, split, n, _TIEU_NGU, "motto")
        self._across(2, split, n, _date_line(info.place_name, self.book.data.result.as_of), "place")
        ws.set_row(3, 22)
        self._across(3, 0, n, self.title, "title")
        self._across(4, 0, n, self.subtitle, "subtitle")
        self.row = HEADER_ROW

    # -- reuse ---------------------------------------------------------------------------------------------------

    def key(self, tokens: dict[str, str]) -> str | None:
        """The digest of everything this sheet writes, or None when it cannot be reused. Tonight's date appears
        only as placeholders: the heading's date line, and the as-of date (dd/mm/yyyy) in the title and subtitle;
        how those texts fit their columns (what the heading does with them) is part of the digest. Any other text
        is in it as it is, and a value of any type but a plain str, int, float, bool, date or None, or a
        placeholder character anywhere, makes the sheet not reusable."""
        if self.played or tokens is None:
            return None
        heading = self._heading_key(tokens)
        if heading is None or not _plain(self.ops):
            return None
        # every value with its exact type (a pickle without its memo: the same content gives the same bytes)
        rest = exact_bytes((self._ws.index, self.name, self.cols, self.ops))
        if _PLACEHOLDER.encode() in rest:
            return None
        return self.book.parts.key(repr(heading), hashlib.sha256(rest).hexdigest())

    def inputs_key(self, tokens: dict[str, str] | None, inputs: str) -> str | None:
        """The digest of this sheet (its place, name, columns and heading, as ``key`` has them) made from
        ``inputs`` (``fill``): what a kept sheet is found by before its rows are made; None when it cannot be."""
        heading = self._heading_key(tokens) if tokens is not None and not self.played else None
        if heading is None:
            return None
        place = hashlib.sha256(exact_bytes((self._ws.index, self.name, self.cols))).hexdigest()
        return self.book.parts.key("inputs", repr(heading), place, inputs)

    def _heading_key(self, tokens: dict[str, str]) -> list | None:
        """The heading's texts with tonight's date as placeholders and how each fits (``key``); None when one
        holds a placeholder character or is too long."""
        n, split = len(self.cols), self._split()
        heading = []
        for first, text, style in ((split, tokens["line"], "place"), (0, self.title, "title"),
                                   (0, self.subtitle, "subtitle")):  # heading rows 2, 3 and 4
            if _PLACEHOLDER in text or len(text) > 30000:
                return None
            heading.append((_templated(text, tokens), self._fits(first, n, text, style)))
        return heading

    def _fits(self, first: int, last: int, text: str, style: str) -> tuple:
        """What ``_across`` makes of ``text`` on columns [first, last): written as is, or merged over that many
        lines."""
        props = self.book.props[style]
        size, bold = props.get("font_size", textfit.DEFAULT_SIZE), bool(props.get("bold"))
        if last <= first:
            return ()
        if last - first > 1 and textfit.text_points(text, size, bold) > self._room(first, last):
            return ("merged", textfit.wrapped_lines(text, sum(self._widths[first:last]), size, bold))
        return ("written",)

    def reuse(self, kept: dict, tokens: dict[str, str]) -> bool:
        """Take a kept sheet: replay its worksheet calls the workbook's own parts read (``_WORKBOOK_READS``: print
        titles, autofilter) and give the worksheet the kept XML with tonight's date put in."""
        xml, calls = kept.get("xml"), kept.get("calls")
        if not isinstance(xml, list) or not isinstance(calls, list) or len(xml) % 2 != 1:
            return False

        def value(a: Any) -> Any:
            return self.book.format_named(a[1]) if type(a) is tuple and a[:1] == ("fmt",) else a

        for name, args, kwargs in calls:
            getattr(self._ws, name)(*map(value, args), **{k: value(v) for k, v in kwargs.items()})
        dates = {_LINE: tokens["line"].encode(), _DATE: tokens["date"].encode()}
        self._ws.part = b"".join(piece if i % 2 == 0 else dates[piece] for i, piece in enumerate(xml))
        self.played = True
        self.ops = []
        return True

    def kept(self, tokens: dict[str, str]) -> dict | None:
        """What to keep of a sheet written tonight: its XML with tonight's date as placeholders (only where the
        heading wrote it: it must appear there and nowhere else) and its worksheet calls the workbook reads."""
        xml, calls = self._ws.xml, getattr(self, "_calls", None)
        self._ws.xml = None
        if xml is None or calls is None or _PLACEHOLDER in xml:
            return None
        line, date = tokens["line"], tokens["date"]
        if xml.count(line) != 1 + self.title.count(line) + self.subtitle.count(line) \
                or xml.count(date) != self.title.count(date) + self.subtitle.count(date):
            return None  # tonight's date also elsewhere (in a value): never kept, never taken
        # the XML between the dates (UTF-8), each date as its placeholder: [text, placeholder, text, ...]
        pieces = re.split(f"({re.escape(line)}|{re.escape(date)})", xml)
        if pieces[1::2].count(date) != xml.count(date) or pieces[1::2].count(line) != xml.count(line):
            return None  # the two overlap somewhere
        return {"xml": [p.encode("utf-8") if i % 2 == 0 else _LINE if p == line else _DATE
                        for i, p in enumerate(pieces)], "calls": calls}

    # -- writing -------------------------------------------------------------------------------------------------

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
        return textfit.column_points(sum(self._widths[first:last]) + (last - first - 1) * 5 / 7)

    def _across(self, row: int, first: int, last: int, text: str, style: str) -> None:
        """Text centred across columns [first, last) without merging (works in constant-memory mode); text
        wider than those columns is merged across them and wrapped, its row made tall enough."""
        if last <= first:
            return
        props, fmt = self.book.props[style], self.book.fmt[style]
        size, bold = props.get("font_size", textfit.DEFAULT_SIZE), bool(props.get("bold"))
        if last - first > 1 and textfit.text_points(text, size, bold) > self._room(first, last):
            lines = textfit.wrapped_lines(text, sum(self._widths[first:last]), size, bold)
            self._ws.set_row(row, textfit.row_height(lines, size))
            self._ws.merge_range(row, first, row, last - 1, text, self.book.wrapping(style))
            return
        self._ws.write_string(row, first, text, fmt)
        for c in range(first + 1, last):
            self._ws.write_blank(row, c, None, fmt)

    def header(self, cols: Sequence[Col] | None = None, *, freeze: bool = True, repeat: bool = True) -> int:
        """A table's header row; returns its row."""
        r = self.row
        self._record("_header", (list(cols or self.cols), freeze, repeat), 1)
        return r

    def rows(self, rows: Iterable[Sequence[Any]], cols: Sequence[Col] | None = None, *,
             filter_from: int | None = None, empty: str = "") -> int:
        """Data rows; returns how many. ``filter_from``: header row to put the autofilter on. A value wider than
        its column wraps (text columns) and its row gets the height of its longest cell; no rows and ``empty``:
        that message in a row of its own."""
        rows = [list(r) for r in rows]
        self._record("_rows", (rows, list(cols or self.cols), filter_from, empty), len(rows) or (1 if empty else 0))
        return len(rows)

    def total(self, values: Sequence[Any], cols: Sequence[Col] | None = None) -> None:
        self._record("_total", (list(values), list(cols or self.cols)), 1)

    def line(self, text: str, style: str = "note") -> None:
        """A line of text under the tables; one wider than the table wraps across its columns."""
        self._record("_line", (text, style), 1)

    def page_break(self) -> None:
        """Start a new printed page at the current row. Excel ignores manual breaks on a sheet fitted to the
        page width, so such a sheet is printed at a fixed scale that fits its columns instead (``finish``)."""
        self._record("_page_break", (), 0)

    def skip(self, n: int = 1) -> None:
        self._record("_skip", (n,), n)

    def signature(self, recipients: Sequence[str] = (), left_title: str = "") -> None:
        """Signature block: "Nơi nhận" or the preparer on the left, the signer's title on the right."""
        recipients = list(recipients)
        self._record("_signature", (recipients, left_title), 1 + max(len(recipients) + 1 if recipients else 2, 2))

    def _header(self, cols: list[Col], freeze: bool, repeat: bool) -> None:
        r = self.row
        lines = max(textfit.wrapped_lines(col.header, self._width(c), bold=True) for c, col in enumerate(cols))
        self._ws.set_row(r, max(textfit.row_height(lines), 20))
        for c, col in enumerate(cols):
            self._ws.write_string(r, c, col.header, self.book.fmt["th"])
        if freeze and r == HEADER_ROW:
            self._ws.freeze_panes(r + 1, 0)
            if repeat:
                self._ws.repeat_rows(r)
        self.row += 1

    def _width(self, c: int) -> float:
        return self._widths[c] if c < len(self._widths) else 8.43

    def _fit(self, rows: list[Sequence[Any]], cols: list[Col]) -> None:
        """The first table's columns grow to fit their values: numbers and dates always, text up to ``_GROW``
        times the planned width (longer text wraps); wrapping columns keep their width."""
        self.fitted = True
        for c, col in enumerate(cols[:len(self._widths)]):
            if col.kind == "wrap":
                continue
            column = [r[c] for r in rows if c < len(r)]
            # each text measured once (lists repeat their schools, communes, labels); other values as shown
            texts = {v for v in column if type(v) is str}
            need = max(chain(map(textfit.text_points, texts),
                             (textfit.text_points(_shown(v, col.kind)) for v in column if type(v) is not str)),
                       default=0.0)
            if need <= textfit.column_points(self._widths[c]):
                continue
            width = textfit.points_to_width(need) + 0.5
            if col.kind not in _NUMERIC:
                width = min(width, col.width * _GROW)
            self._widths[c] = round(width, 1)
            self._ws.set_column(c, c, self._widths[c])

    def _rows(self, rows: list[list[Any]], cols: list[Col], filter_from: int | None, empty: str) -> None:
        if not self.fitted and rows and cols == self.cols:
            self._fit(rows, cols)
        ws, fmt = self._ws, self.book.fmt
        writers = []
        for col in cols:
            if col.kind in ("stt", "int", "money", "pct"):
                writers.append((ws._write_number, fmt[col.kind], False))
            elif col.kind == "date":
                writers.append((ws._write_datetime, fmt["date"], True))
            else:
                writers.append((ws._write_string, fmt[col.kind], False))
        wrapped = [self.book.wrapping(col.kind) if col.kind in ("text", "center", "wrap") else None for col in cols]
        rooms = [textfit.column_points(self._width(c)) for c in range(len(cols))]
        widths = [self._width(c) for c in range(len(cols))]
        # the columns whose texts may wrap, with their room, width and whether they always wrap (kind "wrap")
        fitting = [(c, rooms[c], widths[c], cols[c].kind == "wrap") for c in range(len(cols)) if wrapped[c] is not None]
        # (xlsxwriter's undecorated writers: the public ones first try to read the row as A1 notation, every cell)
        write_blank, write_string, text_fmt = ws._write_blank, ws._write_string, fmt["center"]
        text_points, wrapped_lines = textfit.text_points, textfit.wrapped_lines
        r = start = self.row
        for values in rows:
            lines, wraps, wide = 1, False, ()
            for c, room, width, always in fitting:
                if c >= len(values):
                    break
                v = values[c]
                if isinstance(v, str) and v:
                    if always:
                        wraps = True
                    if text_points(v) > room:
                        wraps = True
                        wide = (*wide, c)  # written in the wrapping format
                        lines = max(lines, wrapped_lines(v, width))
            if wraps:
                ws.set_row(r, textfit.row_height(lines))
            for c, v in enumerate(values):
                write, f, is_date = writers[c]
                if v is None or v == "":
                    write_blank(r, c, None, f)
                elif is_date and isinstance(v, str):
                    write_string(r, c, v, text_fmt)
                elif c in wide:
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

    def _total(self, values: list[Any], cols: list[Col]) -> None:
        fmt = self.book.fmt
        for c, (col, v) in enumerate(zip(cols, values)):
            if v is None or v == "":
                self._ws.write_blank(self.row, c, None, fmt["total_text"])
            elif isinstance(v, str):
                self._ws.write_string(self.row, c, v, fmt["total_text"])
            else:
                self._ws.write_number(self.row, c, v, fmt["total_pct" if col.kind == "pct" else "total_int"])
        self.row += 1

    def _line(self, text: str, style: str) -> None:
        props = self.book.props[style]
        size, bold = props.get("font_size", textfit.DEFAULT_SIZE), bool(props.get("bold"))
        n = len(self.cols)
        if n > 1 and textfit.text_points(text, size, bold) > self._room(0, n):
            lines = textfit.wrapped_lines(text, sum(self._widths), size, bold)
            self._ws.set_row(self.row, textfit.row_height(lines, size))
            self._ws.merge_range(self.row, 0, self.row, n - 1, text, self.book.wrapping(style))
        else:
            self._ws.write_string(self.row, 0, text, self.book.fmt[style])
        self.row += 1

    def _page_break(self) -> None:
        self.breaks.append(self.row)

    def finish(self) -> None:
        """Page set-up that needs the final column widths (called when the book closes)."""
        if not self.breaks:
            return
        self._ws.set_h_pagebreaks(self.breaks)
        # Columns measured as Excel and LibreOffice draw them in Times New Roman 12: the stored width (xlsxwriter
        # adds 5/7 of a character) at 8 px a character; 2 % to spare.
        table = sum((w + 5 / 7) * 8 for w in self._widths) * 0.75
        self._ws.set_print_scale(max(10, min(100, int(98 * _PRINT_WIDTH_PT / table))))

    def _skip(self, n: int) -> None:
        self.row += n

    def _signature(self, recipients: list[str], left_title: str) -> None:
        fmt, n = self.book.fmt, len(self.cols)
        split = self._split()
        signer = self.book.data.district.district.signer_title.upper()
        self._skip(1)
        lines = max(len(recipients) + 1 if recipients else 2, 2)
        for i in range(lines):
            r = self.row
            if recipients:
                if i == 0:
                    self._ws.write_string(r, 0, "Nơi nhận:", fmt["recipients"])
                elif i <= len(recipients):
                    self._ws.write_string(r, 0, recipients[i - 1], fmt["small"])
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


# ----------------------------------------------------------------------------------------------------------
# Sheets taken from an earlier night (Book.close, Sheet.key)
# ----------------------------------------------------------------------------------------------------------

_PLACEHOLDER = "\ue000"  # a private-use character: in no text a sheet is given (``Sheet.key`` checks)
_LINE, _DATE = f"{_PLACEHOLDER}L{_PLACEHOLDER}", f"{_PLACEHOLDER}D{_PLACEHOLDER}"
_PLAIN = frozenset({str, int, float, bool, type(None), dt.date, dt.datetime})
_CELLS = frozenset({"write_string", "write_number", "write_blank", "write_datetime",
                    "_write_string", "_write_number", "_write_blank", "_write_datetime"})
# Of a worksheet, the workbook's own parts (workbook.xml, content types, rels, docProps) read its name and index,
# what it holds (charts, images, comments, tables, links), its print area, print titles and autofilter (defined
# names). Of the calls ``Sheet`` makes, only these two reach them: they are noted and replayed on a sheet whose
# XML is taken, so the workbook's parts come out as a full write makes them.
_WORKBOOK_READS = frozenset({"repeat_rows", "autofilter"})
# The other worksheet calls ``Sheet`` makes besides cells (the sheet's XML alone); any call outside these makes a
# sheet not reusable.
_META = frozenset({"set_column", "set_row", "set_paper", "set_landscape", "fit_to_pages", "set_margins",
                   "center_horizontally", "set_footer", "freeze_panes", "repeat_rows", "autofilter", "merge_range",
                   "set_h_pagebreaks", "set_print_scale"})


def _tokens(data: Any) -> dict[str, str] | None:
    """Tonight's date as the sheets print it: the heading's date line and the as-of date (dd/mm/yyyy); None when
    they cannot be told apart from each other or would be escaped in XML (no sheet is then reused)."""
    try:
        info, as_of = data.district.district, data.result.as_of
        tokens = {"line": _date_line(info.place_name, as_of), "date": f"{as_of:%d/%m/%Y}"}
    except AttributeError:
        return None
    if tokens["date"] in tokens["line"] or tokens["line"] in tokens["date"]:
        return None
    for text in tokens.values():
        if text != text.strip() or any(ch in text for ch in '&<>"' + _PLACEHOLDER) \
                or any(ord(ch) < 32 for ch in text):
            return None
    return tokens


def _templated(text: str, tokens: dict[str, str]) -> str:
    return text.replace(tokens["line"], _LINE).replace(tokens["date"], _DATE)


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only lists, tuples, columns and values whose ``repr`` is what xlsxwriter writes of
    them (str, int, float, bool, date, datetime, None)."""
    kind = type(value)
    if kind in _PLAIN or kind is Col:
        return True
    if kind is list and value and all(type(v) is list for v in value):  # a table's rows
        return set(map(type, chain.from_iterable(value))) <= _PLAIN
    if kind in (list, tuple):
        return all(_plain(v) for v in value)
    return False


class _Workbook(xlsxwriter.Workbook):
    """A workbook whose package is zipped by ``_Zip`` when it has ``members`` (a book that keeps its sheets): each
    worksheet there is deflated by ``deflate`` (``SheetParts.deflated``: once per content, then kept)."""

    members: dict[str, bytes] | None = None
    deflate: Callable[[bytes], tuple[int, bytes]] | None = None

    def _store_workbook(self) -> None:
        if self.members is None:  # (filled as the package is made, inside this call)
            super()._store_workbook()
            return
        import xlsxwriter.workbook as module

        # xlsxwriter zips the package with the ``ZipFile`` of its module: ``_Zip`` there stores this thread's
        # members deflated and zips anything else (any other workbook, any other thread's) as ``ZipFile`` does
        module.ZipFile = _Zip
        _ZIPPING.members, _ZIPPING.deflate = self.members, self.deflate
        try:
            super()._store_workbook()
        finally:
            _ZIPPING.members = _ZIPPING.deflate = None
            self.members.clear()  # the worksheets' XML, zipped: not held while the book is kept


_ZIPPING = threading.local()  # the members (and their deflate) of the workbook this thread is zipping


class _Zip(zipfile.ZipFile):
    """A zip file that stores the members of the workbook this thread is zipping (``_Workbook``: temporary file ->
    its XML) already deflated, as ``ZipFile.write`` stores them (the same local header, sizes, CRC and deflate
    stream: zlib's output does not depend on how its input is split); any other file as ``ZipFile.write`` does."""

    def write(self, filename: Any, arcname: Any = None, compress_type: Any = None, compresslevel: Any = None) -> None:
        members, deflate_xml = getattr(_ZIPPING, "members", None), getattr(_ZIPPING, "deflate", None)
        xml = members.get(filename) if members and deflate_xml and isinstance(filename, str) else None
        if xml is None or compress_type is not None or compresslevel is not None \
                or self.compression != zipfile.ZIP_DEFLATED or self.compresslevel is not None:
            super().write(filename, arcname, compress_type, compresslevel)
            return
        crc, data = deflate_xml(xml)
        info = zipfile.ZipInfo.from_file(filename, arcname, strict_timestamps=self._strict_timestamps)
        info.compress_type, info._compresslevel = self.compression, self.compresslevel
        with self.open(info, "w") as dest:  # the local header; sizes and CRC written back on close
            dest._fileobj.write(data)
            dest._compressor = _DEFLATED  # nothing left to flush
            dest._crc, dest._file_size, dest._compress_size = crc, len(xml), len(data)


class _Deflated:
    """The compressor of a member written already deflated: nothing left to flush."""

    @staticmethod
    def flush() -> bytes:
        return b""


_DEFLATED = _Deflated()


def deflate(xml: bytes) -> tuple[int, bytes]:
    """``xml``'s CRC-32 and its raw deflate stream as ``ZipFile`` makes it (``ZIP_DEFLATED``, default level)."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return zlib.crc32(xml), compressor.compress(xml) + compressor.flush()


# The cells ``_Part._write_cell`` writes itself (xlsxwriter's cell tuples, by class) and the texts whose in-line XML
# xlsxwriter changes besides escaping &, < and > (``_x0000_``-like runs, control characters, U+FFFE and U+FFFF).
_NUMBER_CELLS = frozenset({_xlsx_worksheet.CellNumberTuple, _xlsx_worksheet.CellDatetimeTuple})
_STRING_CELL, _BLANK_CELL = _xlsx_worksheet.CellStringTuple, _xlsx_worksheet.CellBlankTuple
_CONTROL = re.compile("_x|[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_COLUMNS: dict[int, str] = {}


class Cells(Worksheet):
    """A worksheet whose formatted number, date, text and blank cells are written as xlsxwriter writes them, with
    each text's in-line XML made once (``_write_cell``): the worksheet class of every sheet published here."""

    def __init__(self) -> None:
        super().__init__()
        self._inline: dict[str, str] = {}  # a text -> its in-line string XML after ``t="inlineStr"``

    def _write_cell(self, row: int, col: int, cell: Any) -> None:
        """The ``<c>`` element of a cell, the bytes ``Worksheet._write_cell`` writes: for a cell with a format (every
        cell ``Sheet`` writes) of a number or date, a text or a blank, without building its attributes one by one;
        any other cell through xlsxwriter."""
        kind, fmt = type(cell), cell.format
        if not fmt or (kind is not _STRING_CELL and kind is not _BLANK_CELL and kind not in _NUMBER_CELLS):
            super()._write_cell(row, col, cell)
            return
        name = _COLUMNS.get(col)
        if name is None:
            name = _COLUMNS[col] = xl_col_to_name(col)
        head = f'<c r="{name}{row + 1}" s="{fmt._get_xf_index()}"'
        if kind is _BLANK_CELL:
            self.fh.write(head + "/>")
        elif kind is not _STRING_CELL:
            self.fh.write(f"{head}><v>{cell.number:.16G}</v></c>")
        elif not self.constant_memory:
            self.fh.write(f'{head} t="s"><v>{cell.string}</v></c>')
        else:
            text = cell.string
            inline = self._inline.get(text)
            if inline is None:
                inline = self._inline[text] = self._inline_xml(text)
            self.fh.write(head + inline)

    def _inline_xml(self, text: str) -> str:
        """What ``Worksheet._write_cell`` writes of an in-line text after the cell's reference and format."""
        if _CONTROL.search(text):
            text = self._escape_control_characters(text)
        if text.startswith("<r>") and text.endswith("</r>"):
            return f' t="inlineStr"><is>{text}</is></c>'
        preserve = ' xml:space="preserve"' if _preserve_whitespace(text) else ""
        return f' t="inlineStr"><is><t{preserve}>{self._escape_data(text)}</t></is></c>'


class _Part(Cells):
    """A worksheet that writes a kept XML part (``part``, UTF-8) instead of its own, or keeps a copy of what it
    writes (``capture``: ``xml``). In a book that keeps its sheets (``members``: the XML of its worksheets by
    temporary file) the XML goes there, not to the file, and ``_Zip`` stores it."""

    def __init__(self) -> None:
        super().__init__()
        self.part: bytes | None = None
        self.capture = False
        self.xml: str | None = None
        self.members: dict[str, bytes] | None = None
        self.path: str | None = None  # the temporary file the package writes this worksheet to

    def _set_xml_writer(self, filename: Any) -> None:
        self.path = filename if isinstance(filename, str) else None
        super()._set_xml_writer(filename)

    def _assemble_xml_file(self) -> None:
        if self.part is not None:
            if self.members is not None and self.path is not None:
                self.members[self.path] = self.part
                self._xml_close()
                return
            if hasattr(self.fh, "buffer"):  # the part's file, opened as UTF-8 text
                self.fh.flush()
                self.fh.buffer.write(self.part)
            else:
                self.fh.write(self.part.decode("utf-8"))
            self._xml_close()
            return
        if not self.capture:
            super()._assemble_xml_file()
            return
        fh, internal, buffer = self.fh, self.internal_fh, io.StringIO()
        self.fh, self.internal_fh = buffer, False
        super()._assemble_xml_file()
        self.xml = buffer.getvalue()
        self.fh, self.internal_fh = fh, internal
        if self.members is not None and self.path is not None:
            self.members[self.path] = self.xml.encode("utf-8")
        else:
            fh.write(self.xml)
        self._xml_close()


class _Recorder:
    """A worksheet's stand-in while a sheet is written to be kept: cells and the calls only its XML shows go
    straight through; those the workbook reads (``_WORKBOOK_READS``) are noted (formats by name) for ``Sheet.reuse``
    to replay; a call outside ``_META`` marks it not reusable."""

    def __init__(self, ws: _Part, names: dict[int, str]):
        self.ws, self.names, self.calls, self.clean = ws, names, [], True

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.ws, name)
        if name in _CELLS or (name in _META and name not in _WORKBOOK_READS):
            return attr
        if name not in _META:
            self.clean = False
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            noted = []
            for a in (*args, *kwargs.values()):
                if isinstance(a, xlsxwriter.format.Format):
                    if id(a) not in self.names:
                        self.clean = False
                    noted.append(("fmt", self.names.get(id(a), "")))
                elif _plain(a):
                    noted.append(a if type(a) is not list else list(a))
                else:
                    self.clean = False
                    noted.append(a)
            self.calls.append((name, tuple(noted[:len(args)]), dict(zip(kwargs, noted[len(args):]))))
            return attr(*args, **kwargs)

        return call

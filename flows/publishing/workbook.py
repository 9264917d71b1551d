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
from flows.publishing.prepared import Prepared, as_int
from flows.text import as_text

# Every code the workbooks show, with its Vietnamese wording. Unknown codes are shown as they are.
VI: dict[str, dict[str, str]] = {
    "status": {
        "allocated": "Đã phân bổ",
        "handed_over": "Đã bàn giao",
        "waitlisted": "Chờ phân bổ",
        "no_coverage": "Thôn chưa có sóng/cáp quang",
        "excluded": "Không đủ điều kiện",
        "rejected": "Dòng bị loại (lỗi dữ liệu)",
        "duplicate": "Dòng lặp",
    },
    "reason": {
        "grade_out_of_range": "Không thuộc lớp 1-9",
        "needs_nothing": "Đã có thiết bị và Internet",
        "outside_district": "Không thuộc địa bàn huyện",
        "already_supported": "Đã được hỗ trợ trước đây",
        "no_coverage": "Thôn chưa có sóng/cáp quang",
        "waitlisted": "Chưa đủ nguồn hỗ trợ, chờ theo thứ tự ưu tiên",
        "no_units": "Chưa đủ nguồn hỗ trợ, chờ theo thứ tự ưu tiên",
        "rejected": "Dòng có lỗi, cần sửa và gửi lại",
        "duplicate": "Trùng với dòng khác trong cùng trang tính",
        "merged": "Đã gộp với hồ sơ khác của cùng học sinh",
        "released": "Đã thu hồi phân bổ",
        "override": "Điều chỉnh của cán bộ phụ trách",
        "earmarked": "Theo nguồn tài trợ dành riêng",
        "ineligible": "Không thuộc đối tượng hỗ trợ",
        "handed_over": "Đã bàn giao",
        "earmark": "Theo nguồn tài trợ dành riêng",
        "no_signal": "Thôn chưa có sóng 3G/4G, cáp quang",
        "coverage_unknown": "Chưa có thông tin phủ sóng của thôn",
        "not_listed": "Không còn trong danh sách lần này",
        "person_absent": "Không còn trong danh sách lần này",
        "need_withdrawn": "Danh sách không còn ghi nhu cầu này",
        "donation_unavailable": "Nguồn tài trợ không còn đủ",
        "new_allocation": "Phân bổ mới",
        "handover": "Sổ bàn giao thiết bị",
        "reallocated": "Phân bổ lại",
        "officer_override": "Điều chỉnh của cán bộ phụ trách",
        "officer_excluded": "Cán bộ phụ trách loại khỏi danh sách",
        "officer_released": "Cán bộ phụ trách thu hồi nhu cầu hỗ trợ",
        # rejected rows carry their first error rule; duplicate rows the duplicate rule
        "duplicate_in_sheet": "Trùng với dòng khác trong cùng trang tính",
        "name_present": "Thiếu họ và tên",
        "date_valid": "Ngày sinh không đọc được",
        "grade_valid": "Lớp không đọc được",
        "commune_in_district": "Xã không thuộc huyện",
        "need_marked": "Chưa đánh dấu nhu cầu",
        "missing_column": "Thiếu cột bắt buộc",
        "no_table": "Không tìm thấy bảng danh sách",
        "unreadable_file": "Không đọc được tệp",
    },
    "need": {"device": "Thiết bị", "internet": "Internet"},
    "item": {
        "desktop": "Máy tính để bàn",
        "laptop": "Máy tính xách tay",
        "tablet": "Máy tính bảng",
        "smartphone": "Điện thoại thông minh",
        "internet_package": "Gói cước Internet",
        "cash": "Tiền mặt",
        "budget": "Ngân sách nhà nước",
    },
    "category": {
        "poor": "Hộ nghèo",
        "near_poor": "Hộ cận nghèo",
        "covid_orphan": "Con có bố/mẹ tử vong do COVID-19",
        "none": "Hoàn cảnh khó khăn khác",
    },
    "severity": {"error": "Lỗi", "warning": "Cảnh báo"},
    "source_status": {"ok": "Đã đọc", "stale": "Dùng bản cũ", "failed": "Lỗi"},
    "source_kind": {
        "students": "Danh sách học sinh",
        "donations": "Nguồn tài trợ",
        "connectivity": "Phủ sóng thôn",
        "handover": "Bàn giao",
        "follow_up": "Theo dõi sử dụng",
        "decisions": "Kết luận trùng lặp",
        "overrides": "Điều chỉnh phân bổ",
    },
    "donation_status": {"received": "Đã nhận", "pledged": "Cam kết"},
    "device_state": {"in_use": "Đang sử dụng", "broken": "Hỏng", "lost": "Mất"},
    "override_action": {"exclude": "Loại khỏi danh sách", "release": "Thu hồi", "assign": "Giao thiết bị"},
    "override_result": {"applied": "Đã áp dụng", "unserved": "Chưa có thiết bị loại này để giao",
                        "not_listed": "Không có học sinh trong danh sách lần này",
                        "not_eligible": "Học sinh không đủ điều kiện", "handed_over": "Đã bàn giao, không thay đổi",
                        "superseded": "Đã được thay bằng điều chỉnh sau", "pending": "Chưa đến ngày áp dụng",
                        "invalid": "Không hợp lệ"},
    "sex": {"M": "Nam", "F": "Nữ"},
}

SHEETS = {
    "summary": "Tổng hợp",
    "allocated": "Danh sách phân bổ",
    "waitlist": "Danh sách chờ",
    "excluded": "Không đủ điều kiện",
    "review": "Cần xem xét",
    "issues": "Lỗi dữ liệu",
    "donations": "Nguồn tài trợ",
    "infrastructure": "Hạ tầng",
    "progress": "Tiến độ",
    "sources": "Nguồn dữ liệu",
    "feedback": "Phản hồi",
    "students": "Danh sách",
}

HEADER_ROW = 6  # 0-based row of every sheet's (first) table header: Excel row 7, under the document heading
_QUOC_HIEU = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
_TIEU_NGU = "Độc lập - Tự do - Hạnh phúc"
_STREAM_ROWS = 5000  # workbooks with more data rows than this are written in xlsxwriter's constant-memory mode


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
            # Large workbooks stream rows to temporary files; small ones are faster kept in memory.
            "constant_memory": rows > _STREAM_ROWS,
            "default_format_properties": {"font_name": "Times New Roman", "font_size": 12},
        })
        info = data.district.district
        created = data.result.started_at
        if created.tzinfo is not None:
            created = created.astimezone(dt.timezone.utc).replace(tzinfo=None)
        self.wb.set_properties({"title": title, "subject": info.programme, "author": info.issuing_unit,
                                "company": info.parent_unit, "created": created})
        f = self.wb.add_format
        cell = {"border": 1, "valign": "vcenter"}
        self.fmt = {
            "unit": f({"align": "center_across", "font_size": 13}),
            "unit_bold": f({"align": "center_across", "font_size": 13, "bold": True}),
            "nation": f({"align": "center_across", "font_size": 13, "bold": True}),
            "motto": f({"align": "center_across", "font_size": 13, "bold": True, "underline": 1}),
            "place": f({"align": "center_across", "font_size": 13, "italic": True}),
            "title": f({"align": "center_across", "font_size": 14, "bold": True}),
            "subtitle": f({"align": "center_across", "italic": True}),
            "section": f({"bold": True, "font_size": 13}),
            "note": f({"italic": True}),
            "th": f({**cell, "bold": True, "align": "center", "text_wrap": True, "bg_color": "#D9D9D9"}),
            "text": f(cell),
            "center": f({**cell, "align": "center"}),
            "wrap": f({**cell, "text_wrap": True}),
            "stt": f({**cell, "align": "center", "num_format": "0"}),
            "int": f({**cell, "num_format": "#,##0"}),
            "money": f({**cell, "num_format": "#,##0"}),
            "date": f({**cell, "align": "center", "num_format": "dd/mm/yyyy"}),
            "pct": f({**cell, "num_format": "0.0%"}),
            "total_text": f({**cell, "bold": True, "align": "center"}),
            "total_int": f({**cell, "bold": True, "num_format": "#,##0"}),
            "total_pct": f({**cell, "bold": True, "num_format": "0.0%"}),
            "empty": f({**cell, "italic": True}),
            "sign": f({"align": "center_across", "bold": True, "font_size": 13}),
            "sign_note": f({"align": "center_across", "italic": True}),
            "recipients": f({"bold": True, "italic": True}),
            "small": f({"font_size": 11}),
        }

    def sheet(self, key: str, title: str, subtitle: str, cols: Sequence[Col]) -> "Sheet":
        return Sheet(self, SHEETS[key], title, subtitle, cols)

    def close(self) -> None:
        self.wb.close()


class Sheet:
    """A worksheet written strictly top to bottom (as constant-memory mode needs): heading, tables, signature."""

    def __init__(self, book: Book, name: str, title: str, subtitle: str, cols: Sequence[Col]):
        self.book = book
        self.ws = book.wb.add_worksheet(name)
        self.name = name
        self.cols = list(cols)
        self.row = 0
        self.filtered = False
        ws, fmt = self.ws, book.fmt
        for i, c in enumerate(self.cols):
            ws.set_column(i, i, c.width)
        ws.set_paper(9)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.set_margins(left=0.5, right=0.4, top=0.6, bottom=0.6)
        ws.center_horizontally()
        ws.set_footer('&C&"Times New Roman,Regular"&10Trang &P/&N')
        info = book.data.district.district
        n = len(self.cols)
        split = self._split()
        self._across(0, 0, split, info.parent_unit.upper(), fmt["unit"])
        self._across(0, split, n, _QUOC_HIEU, fmt["nation"])
        self._across(1, 0, split, info.issuing_unit.upper(), fmt["unit_bold"])
        self._across(1, split, n, _TIEU_NGU, fmt["motto"])
        self._across(2, split, n, _date_line(info.place_name, book.data.result.as_of), fmt["place"])
        ws.set_row(3, 22)
        self._across(3, 0, n, title, fmt["title"])
        self._across(4, 0, n, subtitle, fmt["subtitle"])
        self.row = HEADER_ROW

    def _split(self) -> int:
        widths = [c.width for c in self.cols]
        total, run = sum(widths), 0.0
        for i, w in enumerate(widths):
            run += w
            if run >= 0.4 * total:
                return max(1, min(i + 1, len(widths) - 1))
        return max(1, len(widths) - 1)

    def _across(self, row: int, first: int, last: int, text: str, fmt: Any) -> None:
        """Text centred across columns [first, last) without merging (works in constant-memory mode)."""
        if last <= first:
            return
        self.ws.write_string(row, first, text, fmt)
        for c in range(first + 1, last):
            self.ws.write_blank(row, c, None, fmt)

    def header(self, cols: Sequence[Col] | None = None, *, freeze: bool = True, repeat: bool = True) -> int:
        cols = list(cols or self.cols)
        r = self.row
        self.ws.set_row(r, 36)
        for c, col in enumerate(cols):
            self.ws.write_string(r, c, col.header, self.book.fmt["th"])
        if freeze and r == HEADER_ROW:
            self.ws.freeze_panes(r + 1, 0)
            if repeat:
                self.ws.repeat_rows(r)
        self.row += 1
        return r

    def rows(self, rows: Iterable[Sequence[Any]], cols: Sequence[Col] | None = None, *,
             filter_from: int | None = None, empty: str = "") -> int:
        """Write data rows; returns how many. ``filter_from``: header row to put the autofilter on."""
        cols = list(cols or self.cols)
        ws, fmt = self.ws, self.book.fmt
        writers = []
        for col in cols:
            if col.kind in ("stt", "int", "money", "pct"):
                writers.append((ws.write_number, fmt[col.kind], False))
            elif col.kind == "date":
                writers.append((ws.write_datetime, fmt["date"], True))
            else:
                writers.append((ws.write_string, fmt[col.kind], False))
        write_blank, write_string, text_fmt = ws.write_blank, ws.write_string, fmt["center"]
        r = start = self.row
        for values in rows:
            for c, v in enumerate(values):
                write, f, is_date = writers[c]
                if v is None or v == "":
                    write_blank(r, c, None, f)
                elif is_date and isinstance(v, str):
                    write_string(r, c, v, text_fmt)
                else:
                    write(r, c, v, f)
            r += 1
        count = r - start
        if count == 0 and empty:
            write_string(r, 0, empty, fmt["empty"])
            for c in range(1, len(cols)):
                write_blank(r, c, None, fmt["empty"])
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
        self.ws.write_string(self.row, 0, text, self.book.fmt[style])
        self.row += 1

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
                    self._across(r, 0, split, text, fmt["sign"] if i == 0 else fmt["sign_note"])
            if i == 0:
                self._across(r, split, n, signer, fmt["sign"])
            elif i == 1:
                self._across(r, split, n, "(Ký, ghi rõ họ tên và đóng dấu)", fmt["sign_note"])
            self.row += 1

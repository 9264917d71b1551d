"""Limits a source file must keep before and while it is read (``config/sources.yaml`` ``local.limits``).

Checked before anything is unpacked: the file's size, and for a zip-based workbook (xlsx, xlsm, xlsb, ods) the
members' declared sizes and compression ratios (a zip bomb declares gigabytes, or packs a thousand to one).
Checked while reading: rows and columns per sheet (from the sheet's dimensions, before its cells are built),
characters per cell, and a CSV that is binary rather than text. A breach raises ``HostileFile`` whose message
(Vietnamese, for the school) becomes the ``unreadable_file`` issue. ``clean_cell`` removes control characters
(NUL, BEL, ESC...; tab and line breaks stay) from text cells.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from flows.config import SourceLimits

ZIP_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".ods"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class HostileFile(ValueError):
    """A file beyond the limits; ``str()`` is the Vietnamese reason a school can act on."""


def check_file(path: Path, limits: SourceLimits) -> None:
    """Size and, for a zip-based workbook, what it would unpack to; raises ``HostileFile``."""
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise HostileFile(f"tệp quá lớn ({size / 1e6:.1f} MB, giới hạn {limits.max_file_bytes / 1e6:.0f} MB); "
                          "hãy chỉ gửi danh sách học sinh")
    if path.suffix.lower() in ZIP_SUFFIXES and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
        total = sum(m.file_size for m in members)
        ratio = max((m.file_size / max(m.compress_size, 1) for m in members if m.file_size > 1_000_000), default=0)
        if total > limits.max_uncompressed_bytes or ratio > limits.max_compression_ratio:
            raise HostileFile(f"tệp nén bất thường: giải nén ra {total / 1e6:.0f} MB (có thể là tệp độc hại); "
                              "hãy mở bằng Excel, sao chép danh sách sang tệp mới và gửi lại")


def check_shape(rows: int, columns: int, limits: SourceLimits, sheet: str = "") -> None:
    where = f"trang tính \"{sheet}\" " if sheet else ""
    if rows > limits.max_rows:
        raise HostileFile(f"{where}có {rows} dòng, quá giới hạn {limits.max_rows} dòng; hãy xóa các dòng thừa "
                          "(kể cả ô định dạng ở cuối trang) rồi gửi lại")
    if columns > limits.max_columns:
        raise HostileFile(f"{where}có {columns} cột, quá giới hạn {limits.max_columns} cột; hãy xóa các cột thừa "
                          "rồi gửi lại")


def check_text(text: str) -> None:
    """A CSV that is not text: NUL bytes or mostly control characters (a program, an image renamed .csv)."""
    sample = text[:100_000]
    controls = len(_CONTROL.findall(sample))
    if (controls > 8 and controls / len(sample) > 0.05) or sample.count("\x00") > 16:
        raise HostileFile("tệp .csv là tệp nhị phân, không phải văn bản CSV; hãy lưu lại danh sách dạng .xlsx")


def cell_too_long(limits: SourceLimits) -> HostileFile:
    return HostileFile(f"có ô dài quá {limits.max_cell_chars} ký tự; hãy kiểm tra lại ô bị dán nhầm nội dung")


def clean_cell(value: object, limits: SourceLimits) -> object:
    """A text cell without control characters; ``HostileFile`` when longer than the limit."""
    if type(value) is not str:
        return value
    if len(value) > limits.max_cell_chars:
        raise cell_too_long(limits)
    return _CONTROL.sub("", value) if _CONTROL.search(value) else value

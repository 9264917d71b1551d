"""How much room a cell's text takes when printed: its width in points and the lines it wraps to.

xlsxwriter stores no row heights of its own and neither Excel nor LibreOffice nor Google Sheets grows a row to
fit wrapped text written by another program: a row whose text wraps must carry its height in the file, or its
lines are drawn over the next row's. This module measures text in Times New Roman (the workbooks' font; Liberation
Serif, which LibreOffice substitutes, has the same metrics) from the font's character widths, wraps it the way a
spreadsheet does (at spaces, after "/" and "-", inside a word too long for the line) and turns lines into a row
height. Estimates lean to the generous side: a row a little too tall reads fine, one too short does not.
"""

from __future__ import annotations

import math
import re
import unicodedata
from functools import lru_cache

# Times-Roman advance widths in 1/1000 em (Adobe's core font metrics), printable ASCII from the space.
_ASCII_WIDTHS = [
    250, 333, 408, 500, 500, 833, 778, 180, 333, 333, 500, 564, 250, 333, 250, 278,  # space ! " # $ % & ' ( ) * + , - . /
    500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 278, 278, 564, 564, 564, 444,  # 0-9 : ; < = > ?
    921, 722, 667, 667, 722, 611, 556, 722, 722, 333, 389, 722, 611, 889, 722, 722,  # @ A-O
    556, 722, 667, 556, 611, 722, 722, 944, 722, 722, 611, 333, 278, 333, 469, 500,  # P-Z [ \ ] ^ _
    333, 444, 500, 444, 500, 444, 333, 500, 500, 278, 278, 500, 278, 778, 500, 500,  # ` a-o
    500, 500, 333, 389, 278, 500, 500, 722, 500, 500, 444, 480, 200, 480, 541,  # p-z { | } ~
]
_WIDTH = {chr(32 + i): w for i, w in enumerate(_ASCII_WIDTHS)}
_WIDTH.update({"Đ": 722, "đ": 500, "Ơ": 780, "ơ": 560, "Ư": 780, "ư": 560, "“": 444, "”": 444, "‘": 333,
               "’": 333, "–": 500, "—": 1000, "…": 1000, "\u00a0": 250})
_BOLD = 1.08  # Times-Bold runs about this much wider than Times-Roman
_SAFETY = 1.04  # renderers differ a little (hinting, kerning): measure text a little wide

# Column widths: xlsxwriter writes a width of w characters as w * 7 + 5 pixels (its Calibri 11 model), which
# LibreOffice and Google Sheets draw at 96 dpi; a cell keeps about 2 points of padding on each side.
PX_PER_CHAR, COL_PADDING_PX, CELL_MARGIN_PT = 7, 5, 4.0
LINE_FACTOR, ROW_PADDING_PT = 1.25, 3.0  # a line of 12 pt text takes 15 pt; a row adds a little room
DEFAULT_SIZE = 12

_BREAK = re.compile(r"(?<=[/\-_,;])|(?= )")


def char_width(ch: str) -> int:
    """Advance width of one character in 1/1000 em; accented letters as their base letter."""
    w = _WIDTH.get(ch)
    if w is not None:
        return w
    if unicodedata.combining(ch):
        return 0
    base = unicodedata.normalize("NFD", ch)[0]
    if base in _WIDTH:
        return _WIDTH[base]
    return 1000 if unicodedata.east_asian_width(ch) in ("W", "F") else 556


@lru_cache(maxsize=1 << 16)
def text_points(text: str, size: float = DEFAULT_SIZE, bold: bool = False) -> float:
    """Width of one line of text in points."""
    units = sum(char_width(ch) for ch in text)
    return units / 1000 * size * (_BOLD if bold else 1.0) * _SAFETY


def column_points(width: float) -> float:
    """Room for text, in points, in a column ``width`` characters wide (as given to ``set_column``)."""
    return max((width * PX_PER_CHAR + COL_PADDING_PX) * 0.75 - CELL_MARGIN_PT, 1.0)


def points_to_width(points: float) -> float:
    """The column width (characters) whose room for text is ``points``."""
    return max(((points + CELL_MARGIN_PT) / 0.75 - COL_PADDING_PX) / PX_PER_CHAR, 1.0)


@lru_cache(maxsize=1 << 16)  # the same names and messages fill the district, commune and school workbooks
def wrapped_lines(text: str, width: float, size: float = DEFAULT_SIZE, bold: bool = False) -> int:
    """How many lines ``text`` takes in a wrapping cell ``width`` characters wide."""
    if not text:
        return 1
    room = column_points(width)
    lines = 0
    for paragraph in str(text).split("\n"):
        lines += _paragraph_lines(paragraph, room, size, bold)
    return max(lines, 1)


def _paragraph_lines(paragraph: str, room: float, size: float, bold: bool) -> int:
    if not paragraph.strip():
        return 1
    lines, used = 1, 0.0
    for piece in _BREAK.split(paragraph):
        if not piece:
            continue
        w = text_points(piece, size, bold)
        if used + w <= room:
            used += w
            continue
        piece = piece.lstrip(" ")  # a line never starts with the space it broke at
        w = text_points(piece, size, bold)
        if used > 0:
            lines += 1
            used = 0.0
        while w > room:  # a word longer than the line breaks inside itself
            lines += 1
            w -= room
        used = w
    return lines


def row_height(lines: int, size: float = DEFAULT_SIZE) -> float:
    """Row height in points for ``lines`` lines of text of ``size`` points."""
    return round(math.ceil(lines) * size * LINE_FACTOR + ROW_PADDING_PT, 1)

"""Cells as layout reads them to find a table and tell its rows apart: empty or not, the text shown (for matching,
never for data: ``flows.intake.values`` parses values), a column number under a header, a value only data has.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Any

from flows.intake.legacy_fonts import to_unicode
from flows.text import TEXT_CACHE, clean_spaces

# "(1)", "2", "A", "(5)=(3)+(4)": the row of column numbers under a header
_COLUMN_NUMBER = re.compile(r"[(\[]?\d{1,2}[)\]]?|[(\[]?[A-Za-z][)\]]?|\(\d{1,2}\)\s*[=+\-*/x].*")
_DATE_TEXT = re.compile(r"\d{1,2}\s*[/.\-]\s*\d{1,2}\s*[/.\-]\s*\d{2,4}|\d{4}-\d{1,2}-\d{1,2}")


def is_empty(value: Any) -> bool:
    """Nothing in the cell: None, NaN or only spaces."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float) and value != value:
        return True
    return False


def display_text(value: Any) -> str:
    """Display text of a cell, legacy fonts repaired, single spaces (for matching, never for data)."""
    if type(value) is str:
        return _display(value)
    if is_empty(value):
        return ""
    if isinstance(value, str):
        return _display(str(value))
    if isinstance(value, bool):
        return "x" if value else ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@lru_cache(maxsize=TEXT_CACHE)
def _display(text: str) -> str:
    return clean_spaces(to_unicode(text)) if text.strip() else ""


def is_column_number(text: str) -> bool:
    """``text`` (a cell's display text) is one of the column numbers printed under a header."""
    return bool(text) and bool(_COLUMN_NUMBER.fullmatch(text))


def data_like(value: Any) -> bool:
    """A value that belongs to a data row, never to a header: a date, or a date written as text."""
    if isinstance(value, (dt.date, dt.datetime)):
        return True
    return isinstance(value, str) and bool(_DATE_TEXT.fullmatch(value.strip()))

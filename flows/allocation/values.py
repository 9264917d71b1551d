"""Reading the cells of the allocator's input frames: a whole number, a yes/no flag, a day.

Spreadsheets give these as numbers, text, booleans or blanks (``None``, NaN, ``pd.NA``); a cell that cannot be
read is ``None`` (``False`` for a flag), never an error.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from flows.text import fold


def as_int(value: Any) -> int | None:
    """A whole number (``2.0`` and ``"2"`` are 2; a fraction is cut), or ``None``: blank, not a number, a bool."""
    if value is None or isinstance(value, bool):
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return int(f) if math.isfinite(f) else None


def as_flag(value: Any) -> bool:
    """Yes or no: text "true", "1", "x", "yes" or "có" (any case and tone) is yes; blank is no."""
    if isinstance(value, str):
        return fold(value) in ("true", "1", "x", "yes", "co")
    try:
        if pd.isna(value):
            return False
    except (TypeError, ValueError):
        pass
    return bool(value)


def as_day(value: Any) -> dt.date | None:
    """A date (a datetime's day; text as ``pd.to_datetime`` reads it, month before day), or ``None`` when blank or
    unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    ts = pd.to_datetime(str(value), errors="coerce", dayfirst=False)
    return None if pd.isna(ts) else ts.date()

"""The night's CSV exports under ``exports/``, for other tools.

students.csv, issues.csv and allocations.csv follow the contract in DESIGN.md column for column (contract
columns first, in order, then the frame's other columns); changes.csv (the change log against the previous
night), review_pairs.csv (the review queue), overrides.csv and follow_ups.csv lead with their own columns.
Cells are formatted as the contract says: true/false, integers without ".0", ISO dates, empty for missing;
UTF-8 without BOM, LF line ends. No cell runs when a spreadsheet opens the file (CSV injection, OWASP): text
beginning with = + - @, a tab or a carriage return is written behind a single quote ("'=1+1"); the stages type
numbers as numbers (source_row, grade, priority_rank, match_probability), and those are written as they are.
A line break inside a cell is written as LF.
"""

from __future__ import annotations

import csv
import datetime as dt
import numbers
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from flows.frames import ALLOCATION_EXPORT_COLUMNS, CHANGE_COLUMNS, ISSUE_COLUMNS, STUDENT_EXPORT_COLUMNS, RunResult
from flows.text import csv_safe, is_missing


# file -> (the RunResult field it writes, its leading columns, whether they are DESIGN.md's contract). A file is
# a function of that field alone (and of this code): ``flows.reuse.workbooks`` links a file whose field is unchanged.
EXPORTS: dict[str, tuple[str, Sequence[str], bool]] = {
    "students.csv": ("students", STUDENT_EXPORT_COLUMNS, True),
    "issues.csv": ("issues", ISSUE_COLUMNS, True),
    "allocations.csv": ("allocations", ALLOCATION_EXPORT_COLUMNS, True),
    "changes.csv": ("changes", CHANGE_COLUMNS, False),
    "review_pairs.csv": ("review_pairs", ["person_id_l", "person_id_r", "match_probability", "reasons", "pair_key"],
                         False),
    "overrides.csv": ("override_log", ["override_id", "person_id", "need", "action", "item", "donation_id", "officer",
                                       "reason", "decided_on", "result"], False),
    "follow_ups.csv": ("follow_ups", ["person_id", "need", "item", "serial", "state", "checked_on"], False),
}


def write_exports(result: RunResult, folder: Path, skip: Collection[str] = ()) -> list[str]:
    """Every CSV export of the night (``EXPORTS``) into ``folder``, except the files named in ``skip`` (already
    there: linked from a night with the same frames); returns the files written."""
    written = []
    for name, (field, leading, contract) in EXPORTS.items():
        if name not in skip:
            _write_csv(folder / name, getattr(result, field, None), leading, contract=contract)
            written.append(name)
    return written


def _write_csv(path: Path, df: Any, leading: Sequence[str], *, contract: bool = True) -> None:
    """``leading`` columns first, in order, then the frame's other columns; a contract column must exist."""
    df = df if df is not None else pd.DataFrame()
    missing = [c for c in leading if c not in df.columns]
    if missing and len(df) and contract:
        raise ValueError(f"publish: {path.name} lacks contract column(s) {', '.join(missing)}")
    columns = [*leading, *(c for c in df.columns if c not in leading and not str(c).startswith("_"))]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        if len(df):
            values = [_csv_column(df[c].tolist()) if c in df.columns else [""] * len(df) for c in columns]
            writer.writerows(zip(*values))


def _csv_column(values: list) -> list[str]:
    """``_csv_cell`` of each value; each text, int and (non-NaN) float made once (columns repeat their schools,
    statuses, codes, grades), None as the empty cell it is."""
    texts: dict[str, str] = {}
    plain: dict[tuple[type, object], str] = {}  # by type too: 1, 1.0 and True are one dict key, not one cell
    out = []
    for v in values:
        kind = type(v)
        if kind is str:
            cell = texts.get(v)
            if cell is None:
                cell = texts[v] = _csv_cell(v)
        elif v is None:
            cell = ""
        elif kind is int or (kind is float and v == v):
            cell = plain.get((kind, v))
            if cell is None:
                cell = plain[(kind, v)] = _csv_cell(v)
        else:
            cell = _csv_cell(v)
        out.append(cell)
    return out


def _csv_cell(v: object) -> str:
    """Contract formatting: true/false, integers without ".0", ISO dates, empty for missing; text that a
    spreadsheet would run (= + - @ tab CR first) behind a single quote. Numbers are typed by the stages, never
    text, so they stay numbers ("-5")."""
    if type(v) is str:
        return _line_breaks(csv_safe(v))
    if is_missing(v):
        return ""
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return "true" if v else "false"
    if isinstance(v, float) or type(v).__name__.startswith("float"):
        f = float(v)  # type: ignore[arg-type]
        return str(int(f)) if f.is_integer() else repr(f)
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time() and v.tzinfo is None else v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, numbers.Number):
        return str(v)
    return _line_breaks(csv_safe(str(v)))


def _line_breaks(text: str) -> str:
    """Line breaks inside a cell as LF (Excel's own), so that a bare CR never ends a record early."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text

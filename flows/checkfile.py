"""Check one spreadsheet the way the night would (``songmaytinh validate FILE``), without the ledger."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from flows.config import AppConfig
from flows.frames import STUDENT_COLUMNS, Issue, SourceData


@dataclass
class FileReport:
    rows: int
    issues: list[Issue]
    students: pd.DataFrame  # the validated rows (normalized fields, raw_<field>, row_status, exclusion)
    sheets: list[tuple[str, str]] = field(default_factory=list)  # (sheet name, what was found in it, Vietnamese)


def check_file(path: Path, cfg: AppConfig, as_of: dt.date) -> FileReport:
    """Read, lay out, normalize and validate one file as the night would (same stage functions, no Prefect)."""
    from flows.layout import Extracted, extract
    from flows.normalize import normalize_students
    from flows.sources import _describe_failure, read_grids
    from flows.validate import validate_students

    source = SourceData(source_id=path.name, source_file=path.name)
    try:
        source.sheets = read_grids(path)
    except Exception as exc:  # a broken file is data, not a crash
        source.status, source.message = "failed", _describe_failure(path, exc)
    extraction = Extracted()
    if source.status != "failed":
        extraction = extract(source, cfg)
    else:
        extraction.issues.append(Issue(
            source.source_file, "", None, "", cfg.rules.severity("unreadable_file"), "unreadable_file",
            cfg.rules.message("unreadable_file", detail=source.message)))
    raw = extraction.tables.get("students")
    normalized = normalize_students(raw, cfg) if raw is not None and not raw.empty else pd.DataFrame(
        columns=STUDENT_COLUMNS)
    students, issues = validate_students(normalized, extraction.headers, cfg, as_of)
    all_issues = sorted(extraction.issues + issues,
                        key=lambda i: (i.source_sheet, -1 if i.source_row is None else i.source_row, i.rule))
    return FileReport(rows=len(normalized), issues=all_issues, students=students,
                      sheets=_sheet_summary(source, extraction, students))


def _sheet_summary(source: SourceData, extraction, students: pd.DataFrame) -> list[tuple[str, str]]:
    """What the night made of each sheet, so a clerk sees which sheet was read and which was passed over."""
    per_sheet = students["source_sheet"].value_counts().to_dict() if len(students) else {}
    tables = {sheet for (_, sheet) in extraction.headers}
    out = []
    for grid in source.sheets:
        if grid.hidden:
            found = "trang tính ẩn, bỏ qua"
        elif per_sheet.get(grid.name):
            found = f"{per_sheet[grid.name]} dòng học sinh"
        elif grid.name in tables:
            found = "có bảng nhưng không có dòng học sinh"
        elif not any(v not in (None, "") for row in grid.rows for v in row):
            found = "trống"
        else:
            found = "không có bảng danh sách, bỏ qua"
        out.append((grid.name or "(CSV)", found))
    return out

"""Check one spreadsheet the way the night would (``songmaytinh validate FILE``), without the ledger."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from flows.config import AppConfig
from flows.frames import Issue, SourceData


@dataclass
class FileReport:
    rows: int
    issues: list[Issue]
    students: pd.DataFrame  # the validated rows (normalized fields, raw_<field>, row_status, exclusion)


def check_file(path: Path, cfg: AppConfig, as_of: dt.date) -> FileReport:
    from flows.nightly import extract_tables, normalize_tables
    from flows.sources import read_grids
    from flows.validate import validate_students

    source = SourceData(source_id=path.name, source_file=path.name)
    try:
        source.sheets = read_grids(path)
    except Exception as exc:
        from flows.sources import _describe_failure

        source.status, source.message = "failed", _describe_failure(path, exc)
    extraction = extract_tables([source], cfg)
    normalized = normalize_tables(extraction, cfg)
    students, issues = validate_students(normalized.students, extraction.headers, cfg, as_of)
    all_issues = sorted(extraction.issues + issues,
                        key=lambda i: (i.source_sheet, -1 if i.source_row is None else i.source_row, i.rule))
    return FileReport(rows=len(normalized.students), issues=all_issues, students=students)

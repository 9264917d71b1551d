"""Check one spreadsheet the way the night would (``songmaytinh validate FILE``), without the ledger."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
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
    headers: dict = field(default_factory=dict)  # (file, sheet) -> {field: header as the school wrote it}
    rows_as_sent: pd.DataFrame | None = None  # flows.publishing.rows_as_sent.rows_as_sent of the file


def check_file(path: Path, cfg: AppConfig, as_of: dt.date) -> FileReport:
    """Read, lay out, normalize and validate one file as the night would (same stage functions, no Prefect)."""
    from flows.publishing.rows_as_sent import rows_as_sent
    from flows.intake.layout import Extracted, extract
    from flows.intake.normalize import normalize_students
    from flows.adapters.files import _describe_failure, read_grids
    from flows.rules.grades import rows_alone
    from flows.rules.validate import header_label, validate_students

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
    if len(students):  # rows without a class: the class their birth year gives, as the night would alone
        students["exclusion"], grade_issues = rows_alone(students, cfg)
        issues += [replace(i, column=header_label(extraction.headers, cfg, i.source_file, i.source_sheet,
                                                  cfg.rules.rules[i.rule].column)) for i in grade_issues]
    all_issues = sorted(extraction.issues + issues,
                        key=lambda i: (i.source_sheet, -1 if i.source_row is None else i.source_row, i.rule))
    return FileReport(rows=len(normalized), issues=all_issues, students=students,
                      sheets=_sheet_summary(source, extraction, students), headers=extraction.headers,
                      rows_as_sent=rows_as_sent(raw, extraction.headers))


_SEVERITY_VI = {"error": "Lỗi", "warning": "Cảnh báo"}
_ROW_STATUS_VI = {"ok": "Hợp lệ", "rejected": "Dòng bị loại (lỗi dữ liệu)", "duplicate": "Dòng lặp"}


def write_feedback(report: FileReport, path: Path, title: str) -> None:
    """The file's feedback workbook, as a school gets it after the night: its issues with what to fix, and its
    rows as sent with the problem cells coloured and noted."""
    import xlsxwriter

    from flows.publishing import textfit
    from flows.publishing.rows_as_sent import write_rows_as_sent
    from flows.publishing.workbook import page_setup

    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False,
                                         "default_format_properties": {"font_name": "Times New Roman"}})
    fmt = {"section": wb.add_format({"bold": True}), "note": wb.add_format({"italic": True})}
    th = wb.add_format({"bold": True, "border": 1, "bg_color": "#D9D9D9", "text_wrap": True, "valign": "vcenter"})
    cell = wb.add_format({"border": 1, "text_wrap": True, "valign": "vcenter"})
    ws = wb.add_worksheet("Phản hồi")
    page_setup(ws)
    ws.write(0, 0, f"PHẢN HỒI DỮ LIỆU - {title}", fmt["section"])
    cols = [("STT", 6), ("Trang tính", 16), ("Dòng", 7), ("Cột", 20), ("Mức độ", 10), ("Nội dung cần sửa", 90)]
    for c, (name, width) in enumerate(cols):
        ws.set_column(c, c, width)
        ws.write(2, c, name, th)
    ws.repeat_rows(2)
    for i, issue in enumerate(report.issues, 1):
        values = [i, issue.source_sheet, "" if issue.source_row is None else issue.source_row,
                  issue.column, _SEVERITY_VI.get(issue.severity, issue.severity), issue.message]
        lines = max(textfit.wrapped_lines(str(v), w) for v, (_, w) in zip(values, cols))
        ws.set_row(2 + i, textfit.row_height(lines))
        ws.write_row(2 + i, 0, values, cell)
    if not report.issues:
        ws.write(3, 0, "Không có lỗi dữ liệu.", fmt["note"])
    issues = pd.DataFrame([i.__dict__ for i in report.issues],
                          columns=["source_file", "source_sheet", "source_row", "column", "severity", "rule",
                                   "message"])
    status = {}
    if len(report.students):
        status = {(f, s, int(r)): _ROW_STATUS_VI.get(v, v) for f, s, r, v in zip(
            report.students["source_file"], report.students["source_sheet"], report.students["source_row"],
            report.students["row_status"])}
    rows = report.rows_as_sent if report.rows_as_sent is not None else pd.DataFrame()
    write_rows_as_sent(wb, fmt, rows, issues, report.headers, title, status)
    wb.close()

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
        elif grid.name in extraction.counts_sheets:
            found = "bảng số liệu tổng hợp (không phải danh sách học sinh), bỏ qua"
        elif not any(v not in (None, "") for row in grid.rows for v in row):
            found = "trống"
        else:
            found = "không có bảng danh sách, bỏ qua"
        out.append((grid.name or "(CSV)", found))
    return out

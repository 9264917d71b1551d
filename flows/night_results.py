"""What the night reports from its stages: the student export rows, the issue frame, each source's report and
the summary counts; plain functions over the stages' frames (``flows.nightly`` calls them)."""

from __future__ import annotations

import pandas as pd

from flows.config import AppConfig
from flows.frames import ISSUE_COLUMNS, STUDENT_EXPORT_COLUMNS, Issue, SourceData, SourceReport
from flows.rules.grades import row_grades


def cite_column(issue: Issue, headers, cfg: AppConfig) -> Issue:
    """Issues raised after validation name the column the rule is about, as the school wrote it."""
    from dataclasses import replace

    from flows.rules.validate import header_label

    field = cfg.rules.rules[issue.rule].column if issue.rule in cfg.rules.rules else ""
    if issue.column or not field:
        return issue
    return replace(issue, column=header_label(headers, cfg, issue.source_file, issue.source_sheet, field))


def issue_frame(issues: list[Issue]) -> pd.DataFrame:
    df = pd.DataFrame([i.__dict__ for i in issues], columns=ISSUE_COLUMNS)
    df["source_row"] = pd.array(df["source_row"], dtype="Int64")
    order = df.sort_values(["source_file", "source_sheet", "source_row", "rule"], na_position="first", kind="stable")
    return order.reset_index(drop=True)


def student_export(students: pd.DataFrame, persons: pd.DataFrame, person_status: pd.DataFrame,
                   issues: list[Issue], cfg: AppConfig) -> pd.DataFrame:
    df = students.copy()
    # person_id -> (status, reason, priority_rank): looked up once per row
    status = dict(zip(person_status["person_id"].tolist(), zip(person_status["status"].tolist(),
                                                              person_status["reason"].tolist(),
                                                              person_status["priority_rank"].tolist())))
    first_error: dict[tuple[str, str, int], str] = {}
    for i in issues:
        if i.severity == "error" and i.source_row is not None:
            first_error.setdefault((i.source_file, i.source_sheet, i.source_row), i.rule)
    statuses, reasons, ranks = [], [], []
    for r in df[["row_status", "source_file", "source_sheet", "source_row", "person_id"]].itertuples():
        if r.row_status == "rejected":
            statuses.append("rejected")
            reasons.append(first_error.get((r.source_file, r.source_sheet, int(r.source_row)), "rejected"))
            ranks.append(pd.NA)
        elif r.person_id and r.person_id in status:
            person_status_, reason, rank = status[r.person_id]
            statuses.append("duplicate" if r.row_status == "duplicate" else person_status_)
            reasons.append("duplicate_in_sheet" if r.row_status == "duplicate" else (reason or ""))
            ranks.append(rank)
        else:
            statuses.append("duplicate" if r.row_status == "duplicate" else "rejected")
            reasons.append("duplicate_in_sheet" if r.row_status == "duplicate" else "unlinked")
            ranks.append(pd.NA)
    df["status"] = statuses
    df["reason"] = reasons
    df["priority_rank"] = pd.array(ranks, dtype="Int64")
    # The contract's columns hold only values in their domain (grade 1-9, phone 0xxxxxxxxx); what the school
    # wrote otherwise stays beside them, so an excluded grade-11 child still shows why.
    # A row that wrote no class shows its child's (from the school's list or the birth year), and says where it
    # came from (grade_source: list | school_record | birth_year | "" unknown).
    df["grade_as_listed"] = df["grade"]
    df["grade_resolved"], df["grade_source"] = row_grades(df, persons)
    df["grade"] = df["grade_resolved"].where(df["grade_resolved"].between(cfg.rules.grade_min, cfg.rules.grade_max))
    df["phone_as_listed"] = df["phone"]
    df["phone"] = df["phone"].where(df["phone"].fillna("").str.fullmatch(r"0\d{9}"), "")
    extras = [c for c in ("list_type", "school_code", "commune_code", "given_name", "family_name", "middle_name",
                          "birth_year", "grade_source", "grade_resolved", "grade_as_listed", "phone_as_listed",
                          "national_id", "priority_rank",
                          "fingerprint") if c in df]
    return df[STUDENT_EXPORT_COLUMNS + extras]


def source_reports(sources: list[SourceData], extraction) -> list[SourceReport]:
    return [SourceReport(source=s.source_file, id=s.source_id, kind=extraction.kind_by_source.get(s.source_id, ""),
                         status=s.status, message=s.message, rows=extraction.rows_by_source.get(s.source_id, 0))
            for s in sources]


def night_counts(reports, students: pd.DataFrame, issues: pd.DataFrame, allocation, review_pairs) -> dict[str, int]:
    status = allocation.person_status["status"] if len(allocation.person_status) else pd.Series(dtype=object)
    alloc = allocation.allocations
    return {
        "sources": len(reports),
        "sources_stale": sum(r.status == "stale" for r in reports),
        "sources_failed": sum(r.status == "failed" for r in reports),
        "student_rows": len(students),
        "rows_rejected": int((students["status"] == "rejected").sum()),
        "rows_duplicate": int((students["status"] == "duplicate").sum()),
        "issues": len(issues),
        "issues_error": int((issues["severity"] == "error").sum()),
        "persons": int(len(allocation.person_status)),
        "allocated": int((status == "allocated").sum()),
        "waitlisted": int((status == "waitlisted").sum()),
        "excluded": int((status == "excluded").sum()),
        "devices_allocated": int(((alloc["need"] == "device") & alloc["status"].isin(["allocated", "handed_over"])).sum()),
        "internet_allocated": int(((alloc["need"] == "internet") & alloc["status"].isin(["allocated", "handed_over"])).sum()),
        "review_pairs": len(review_pairs),
        "changes": len(allocation.changes),
        "handovers": int((alloc["status"] == "handed_over").sum()),
        "overrides_applied": int((allocation.override_log["result"] == "applied").sum()),
    }

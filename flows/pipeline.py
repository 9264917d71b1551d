"""The nightly consolidation as a plain pipeline: every stage once, in order, then publish.

``run_night`` is testable without Prefect; ``flows.nightly.nightly_consolidation`` is the Prefect flow that runs it
with one task per stage (``step``). Logs carry counts and ids only.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

import pandas as pd

from flows.config import AppConfig
from flows.frames import ISSUE_COLUMNS, STUDENT_EXPORT_COLUMNS, Issue, RunResult, SourceData, SourceReport
from flows.stages import (Extraction, allocate_supports, extract_tables, fetch_sources, link_persons,
                          normalize_tables, open_ledger, send_feedback)

TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def default_ledger_url(out_root: Path) -> str:
    """SONGMAYTINH_LEDGER_URL (PostgreSQL in production) or a SQLite file beside the run outputs."""
    return os.environ.get("SONGMAYTINH_LEDGER_URL") or f"sqlite:///{(out_root / 'ledger.sqlite').resolve()}"


def make_run_id(started: dt.datetime, as_of: dt.date, out_root: Path) -> str:
    base = f"{as_of:%Y-%m-%d}_{started.astimezone(TIMEZONE):%H%M%S}"
    run_id, n = base, 1
    while (out_root / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


Step = Callable[..., object]


def _direct(name: str, fn: Callable, *args):
    return fn(*args)


def run_night(
    sources_dir: Path | None,
    cfg: AppConfig,
    out_root: Path,
    as_of: dt.date | None = None,
    ledger_url: str | None = None,
    progress: Progress = _quiet,
    step: Step = _direct,
    offline: bool = False,
    replay_run: str | None = None,
    on_run: Callable[[str, dt.date], None] | None = None,
) -> tuple[RunResult, Path]:
    """Run every stage once and publish; returns the result and the published run folder.

    ``step(name, fn, *args)`` runs one stage; the Prefect flow passes a runner that wraps each stage in a task
    (and retries the steps that may meet a passing failure: ``ledger``, ``sources``). ``on_run(run_id, as_of)`` is
    told the run id before the first step, so a caller can name the run in a failure report.
    """
    from flows.publishing.rows_as_sent import rows_as_sent
    from flows.publishing.publish import publish
    from flows.rules.validate import validate_students_for_docs

    started = dt.datetime.now(dt.timezone.utc)
    as_of = as_of or started.astimezone(TIMEZONE).date()
    out_root.mkdir(parents=True, exist_ok=True)
    run_id = make_run_id(started, as_of, out_root)

    if on_run is not None:
        on_run(run_id, as_of)

    # The ledger opens first: the sources stage reads and stores Google Sheets snapshots there.
    progress("Kết nối sổ cái")
    ledger = step("ledger", open_ledger, ledger_url or default_ledger_url(out_root), run_id, as_of)
    try:
        progress("Đọc nguồn dữ liệu")
        sources = step("sources", fetch_sources, sources_dir, cfg, ledger, run_id, offline, replay_run)
        log.info("run %s: %d sources (%d stale, %d failed)", run_id, len(sources),
                 sum(s.status == "stale" for s in sources), sum(s.status == "failed" for s in sources))
        progress("Nhận dạng bảng")
        extraction = step("layout", extract_tables, sources, cfg)
        log.info("layout: %s; %d sheet-level issues",
                 ", ".join(f"{k}={len(v)}" for k, v in extraction.tables.items()), len(extraction.issues))
        progress("Chuẩn hoá dữ liệu")
        normalized = step("normalize", normalize_tables, extraction, cfg)
        progress("Kiểm tra dữ liệu (Great Expectations)")
        students, validation_issues, validation = step("validate", validate_students_for_docs,
                                                       normalized.students, extraction.headers, cfg, as_of)
        issues = extraction.issues + validation_issues
        log.info("validate: %d rows, %d rejected, %d duplicate, %d issues", len(students),
                 int((students.get("row_status") == "rejected").sum()) if len(students) else 0,
                 int((students.get("row_status") == "duplicate").sum()) if len(students) else 0,
                 len(validation_issues))
        progress("Ghép trùng học sinh")
        dedupe = step("dedupe", link_persons, students, normalized.handover, cfg, ledger, run_id, sources)
        issues = issues + [_cite_column(i, extraction.headers, cfg) for i in dedupe.issues]
        log.info("dedupe: %d persons, %d new links, %d merged ids, %d pairs to review", len(dedupe.persons),
                 len(dedupe.new_links), len(dedupe.aliases), len(dedupe.review_pairs))
        progress("Phân bổ thiết bị và gói cước")
        allocation = step("allocate", allocate_supports, dedupe.persons, normalized, cfg, ledger, run_id, as_of,
                          dedupe.ledger_changes, extraction.headers)
        issues = issues + allocation.issues

        students_out = _student_export(dedupe.students, allocation.person_status, issues, cfg)
        issues_df = _issue_frame(issues)
        reports = _source_reports(sources, extraction)
        counts = _counts(reports, students_out, issues_df, allocation, dedupe.review_pairs)
        result = RunResult(
            run_id=run_id, as_of=as_of, started_at=started, finished_at=None, sources=reports,
            students=students_out, issues=issues_df, allocations=allocation.allocations,
            donations=allocation.donations, donation_summary=allocation.donation_summary,
            connectivity=normalized.connectivity, review_pairs=dedupe.review_pairs, changes=allocation.changes,
            cash=allocation.cash, counts=counts,
            rows_as_sent=rows_as_sent(extraction.tables.get("students"), extraction.headers),
            headers=extraction.headers, validation=validation,
        )
        result.override_log = allocation.override_log  # extras publish shows (Tiến độ, explain)
        result.follow_ups = allocation.follow_ups
        result.handovers = allocation.handovers
        progress("Xuất bảng tính")
        result.finished_at = dt.datetime.now(dt.timezone.utc)
        run_dir = step("publish", publish, result, cfg, out_root)
        if cfg.sources.google.feedback and not offline and not replay_run:
            progress("Gửi phản hồi vào Google Sheets")
            step("feedback", send_feedback, sources, issues_df, cfg, ledger, run_id)
        ledger.finish_run(run_id, counts, status="ok")
        log.info("run %s published: %s", run_id, ", ".join(f"{k}={v}" for k, v in counts.items()))
        return result, run_dir
    except Exception:
        ledger.finish_run(run_id, {}, status="failed")
        raise
    finally:
        ledger.close()


def _cite_column(issue: Issue, headers, cfg: AppConfig) -> Issue:
    """Issues raised after validation name the column the rule is about, as the school wrote it."""
    from dataclasses import replace

    from flows.rules.validate import header_label

    field = cfg.rules.rules[issue.rule].column if issue.rule in cfg.rules.rules else ""
    if issue.column or not field:
        return issue
    return replace(issue, column=header_label(headers, cfg, issue.source_file, issue.source_sheet, field))


def _issue_frame(issues: list[Issue]) -> pd.DataFrame:
    df = pd.DataFrame([i.__dict__ for i in issues], columns=ISSUE_COLUMNS)
    df["source_row"] = pd.array(df["source_row"], dtype="Int64")
    order = df.sort_values(["source_file", "source_sheet", "source_row", "rule"], na_position="first", kind="stable")
    return order.reset_index(drop=True)


def _student_export(students: pd.DataFrame, person_status: pd.DataFrame, issues: list[Issue],
                    cfg: AppConfig) -> pd.DataFrame:
    df = students.copy()
    status = person_status.set_index("person_id")
    first_error: dict[tuple[str, str, int], str] = {}
    for i in issues:
        if i.severity == "error" and i.source_row is not None:
            first_error.setdefault((i.source_file, i.source_sheet, i.source_row), i.rule)
    statuses, reasons, ranks = [], [], []
    for r in df.itertuples():
        if r.row_status == "rejected":
            statuses.append("rejected")
            reasons.append(first_error.get((r.source_file, r.source_sheet, int(r.source_row)), "rejected"))
            ranks.append(pd.NA)
        elif r.person_id and r.person_id in status.index:
            s = status.loc[r.person_id]
            statuses.append("duplicate" if r.row_status == "duplicate" else s["status"])
            reasons.append("duplicate_in_sheet" if r.row_status == "duplicate" else (s["reason"] or ""))
            ranks.append(s["priority_rank"])
        else:
            statuses.append("duplicate" if r.row_status == "duplicate" else "rejected")
            reasons.append("duplicate_in_sheet" if r.row_status == "duplicate" else "unlinked")
            ranks.append(pd.NA)
    df["status"] = statuses
    df["reason"] = reasons
    df["priority_rank"] = pd.array(ranks, dtype="Int64")
    # The contract's columns hold only values in their domain (grade 1-9, phone 0xxxxxxxxx); what the school
    # wrote otherwise stays beside them, so an excluded grade-11 child still shows why.
    df["grade_as_listed"] = df["grade"]
    df["grade"] = df["grade"].where(df["grade"].between(cfg.rules.grade_min, cfg.rules.grade_max))
    df["phone_as_listed"] = df["phone"]
    df["phone"] = df["phone"].where(df["phone"].fillna("").str.fullmatch(r"0\d{9}"), "")
    extras = [c for c in ("list_type", "school_code", "commune_code", "given_name", "family_name", "middle_name",
                          "birth_year", "grade_as_listed", "phone_as_listed", "national_id", "priority_rank",
                          "fingerprint") if c in df]
    return df[STUDENT_EXPORT_COLUMNS + extras]


def _source_reports(sources: list[SourceData], extraction: Extraction) -> list[SourceReport]:
    return [SourceReport(source=s.source_file, id=s.source_id, kind=extraction.kind_by_source.get(s.source_id, ""),
                         status=s.status, message=s.message, rows=extraction.rows_by_source.get(s.source_id, 0))
            for s in sources]


def _counts(reports, students: pd.DataFrame, issues: pd.DataFrame, allocation, review_pairs) -> dict[str, int]:
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

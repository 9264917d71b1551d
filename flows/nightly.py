"""The nightly consolidation: every stage wired together, and the Prefect flow that schedules it.

``run_night`` is the plain pipeline (testable without Prefect); ``nightly_consolidation`` is the Prefect flow
with one task per stage. Neither keeps personal data in Prefect: results are not persisted and tasks have no
cache policy; logs carry counts and ids only.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

import pandas as pd

from flows.config import AppConfig, load_config
from flows.frames import Issue, RunResult, SourceData
from flows.night_results import cite_column, issue_frame, night_counts, source_reports, student_export

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


# ---------------------------------------------------------------------------------------------------------------
# Stage wrappers: plain functions over DataFrames (Prefect tasks wrap exactly these).


def fetch_sources(sources_dir: Path | None, cfg: AppConfig, ledger=None, run_id: str | None = None,
                  offline: bool = False, replay_run: str | None = None) -> list[SourceData]:
    """Local files, then the registered Google spreadsheets (changed ones fetched, the rest from snapshots).

    ``ledger`` stores the snapshots; ``offline`` reads only stored snapshots; ``replay_run`` reads the snapshots
    that run read.
    """
    from flows.adapters.files import read_local

    sources: list[SourceData] = []
    if sources_dir is not None:
        sources.extend(read_local(sources_dir, cfg))
    if cfg.sources.google.configured and ledger is not None:
        from flows.adapters.google.sheets import GoogleSheetSource

        replay = ledger.run_snapshots(replay_run) if replay_run else None
        pull = GoogleSheetSource(cfg, ledger).pull(run_id, offline=offline, replay=replay)
        if run_id is not None:
            ledger.record_run_sources(run_id, [(key, pull.snapshot_ids.get(key), status, message)
                                               for key, (status, message) in pull.statuses.items()])
        if pull.registry_problems:
            log.warning("google registry: %d problem(s): %s", len(pull.registry_problems),
                        "; ".join(pull.registry_problems[:5]))
        sources.extend(pull.sources)
    return sources


@dataclass
class Extraction:
    tables: dict[str, pd.DataFrame]
    headers: dict[tuple[str, str], dict[str, str]]
    issues: list[Issue]
    rows_by_source: dict[str, int] = field(default_factory=dict)
    kind_by_source: dict[str, str] = field(default_factory=dict)


def extract_tables(sources: list[SourceData], cfg: AppConfig) -> Extraction:
    from flows.intake.layout import extract

    tables: dict[str, list[pd.DataFrame]] = {}
    headers: dict[tuple[str, str], dict[str, str]] = {}
    issues: list[Issue] = []
    rows_by_source: dict[str, int] = {}
    kind_by_source: dict[str, str] = {}
    for source in sources:
        kind_by_source[source.source_id] = source.kind or ""
        if source.status != "failed":
            try:
                result = extract(source, cfg)
            except Exception as exc:  # our bug, but one file must never stop the night: report and go on
                # type and place only: an exception message may quote a cell, and logs never hold personal data
                frame = traceback.extract_tb(exc.__traceback__)[-1]
                log.error("layout failed for source %s: %s at %s:%d", source.source_id, type(exc).__name__,
                          Path(frame.filename).name, frame.lineno)
                source.status, source.message = "failed", f"lỗi xử lý: {type(exc).__name__}"
        if source.status == "failed":
            issues.append(Issue(source.source_file, "", None, "", cfg.rules.severity("unreadable_file"),
                                "unreadable_file", cfg.rules.message("unreadable_file", detail=source.message)))
            continue
        headers.update(result.headers)
        issues.extend(result.issues)
        sizes = {kind: len(table) for kind, table in result.tables.items() if len(table)}
        for kind in sizes:
            tables.setdefault(kind, []).append(result.tables[kind])
        rows_by_source[source.source_id] = sum(sizes.values())
        if sizes and not source.kind:  # inferred from the headers: the kind most of its rows are
            kind_by_source[source.source_id] = max(sizes, key=sizes.get)
    merged = {k: pd.concat(v, ignore_index=True) for k, v in tables.items()}
    return Extraction(merged, headers, issues, rows_by_source, kind_by_source)


@dataclass
class Normalized:
    students: pd.DataFrame
    donations: pd.DataFrame
    connectivity: pd.DataFrame
    handover: pd.DataFrame
    follow_up: pd.DataFrame | None = None
    overrides: pd.DataFrame | None = None


def normalize_tables(extraction: Extraction, cfg: AppConfig) -> Normalized:
    from flows.intake import normalize as n
    from flows.frames import CONNECTIVITY_COLUMNS, DONATION_COLUMNS, HANDOVER_COLUMNS, STUDENT_COLUMNS

    def run(kind: str, fn, columns: list[str]) -> pd.DataFrame:
        raw = extraction.tables.get(kind)
        if raw is None or raw.empty:
            return pd.DataFrame(columns=columns)
        return fn(raw, cfg)

    return Normalized(
        students=run("students", n.normalize_students, STUDENT_COLUMNS),
        donations=run("donations", n.normalize_donations, DONATION_COLUMNS),
        connectivity=run("connectivity", n.normalize_connectivity, CONNECTIVITY_COLUMNS),
        handover=run("handover", n.normalize_handover, HANDOVER_COLUMNS),
        follow_up=run("follow_up", n.normalize_follow_up, n.FOLLOW_UP_COLUMNS),
        overrides=run("overrides", n.normalize_overrides, n.OVERRIDE_SOURCE_COLUMNS),
    )


# ---------------------------------------------------------------------------------------------------------------


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
    lock_wait: float | None = None,
) -> tuple[RunResult, Path]:
    """Run every stage once and publish; returns the result and the published run folder.

    ``step(name, fn, *args)`` runs one stage; the Prefect flow passes a runner that wraps each stage in a task.
    One night at a time per ledger and output folder: another night running makes this one wait up to
    ``lock_wait`` seconds (default ``night.lock_wait_seconds``), then raise ``NightLocked``. Holding the locks,
    the night first clears what a killed night left: its ``<run>.partial`` folder, its run marked ``failed``.
    """
    from flows.adapters.night_lock import night_lock
    from flows.publishing import run_folder

    out_root.mkdir(parents=True, exist_ok=True)
    url = ledger_url or default_ledger_url(out_root)
    wait = cfg.district.night.lock_wait_seconds if lock_wait is None else lock_wait
    with night_lock(url, out_root, wait_seconds=wait):
        removed = run_folder.remove_leftovers(out_root)
        if removed:
            log.warning("removed %d leftover(s) of an interrupted night under the output folder", removed)
        return _locked_night(sources_dir, cfg, out_root, as_of, url, progress, step, offline, replay_run)


def _locked_night(sources_dir: Path | None, cfg: AppConfig, out_root: Path, as_of: dt.date | None, ledger_url: str,
                  progress: Progress, step: Step, offline: bool, replay_run: str | None) -> tuple[RunResult, Path]:
    from flows.publishing.rows_as_sent import rows_as_sent
    from flows.adapters.ledger import Ledger
    from flows.allocation.stage import allocate_supports
    from flows.publishing.publish import publish
    from flows.rules.validate import validate_students_for_docs

    started = dt.datetime.now(dt.timezone.utc)
    as_of = as_of or started.astimezone(TIMEZONE).date()
    run_id = make_run_id(started, as_of, out_root)

    # The ledger opens first: the sources stage reads and stores Google Sheets snapshots there.
    ledger = Ledger(ledger_url)
    try:
        ledger.migrate()
        interrupted = ledger.fail_unfinished_runs()
        if interrupted:
            log.warning("%d run(s) of an interrupted night marked failed", interrupted)
        ledger.begin_run(run_id, as_of)
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
        issues = issues + [cite_column(i, extraction.headers, cfg) for i in dedupe.issues]
        log.info("dedupe: %d persons, %d new links, %d merged ids, %d pairs to review", len(dedupe.persons),
                 len(dedupe.new_links), len(dedupe.aliases), len(dedupe.review_pairs))
        progress("Phân bổ thiết bị và gói cước")
        allocation = step("allocate", allocate_supports, dedupe.persons, normalized, cfg, ledger, run_id, as_of,
                          dedupe.ledger_changes, extraction.headers, dedupe.review_pairs)
        issues = issues + allocation.issues

        students_out = student_export(dedupe.students, dedupe.persons, allocation.person_status, issues, cfg)
        issues_df = issue_frame(issues)
        reports = source_reports(sources, extraction)
        counts = night_counts(reports, students_out, issues_df, allocation, dedupe.review_pairs)
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


def send_feedback(sources: list[SourceData], issues: pd.DataFrame, cfg: AppConfig, ledger, run_id: str) -> dict:
    """Write each student-list spreadsheet's issues into its "Phản hồi" sheet (only when they changed)."""
    from flows.adapters.google.feedback import write_feedback

    outcome = write_feedback(sources, issues, cfg, ledger, run_id)
    log.info("feedback: %s", ", ".join(f"{k}={v}" for k, v in outcome.items()))
    return outcome


def link_persons(students: pd.DataFrame, handover: pd.DataFrame, cfg: AppConfig, ledger, run_id: str,
                 sources: list[SourceData] = ()):
    """Dedupe stage with its ledger I/O: officer decisions read from the sources and kept in the ledger (all of
    them applied every night), stable ids from stored fingerprints, merges recorded as aliases."""
    from flows.linkage.dedupe import assign_persons
    from flows.linkage.decisions import read_decisions

    decided, decision_issues = read_decisions(list(sources), cfg)
    stored = ledger.add_decisions(decided)
    log.info("dedupe: %d officer decisions read, %d new or changed", len(decided), stored)
    dedupe = assign_persons(students, cfg, known_links=ledger.person_for_fingerprints(),
                            allocate_ids=ledger.next_person_ids, past_recipients=ledger.past_recipients(),
                            decisions=ledger.decisions())
    dedupe.issues = decision_issues + dedupe.issues
    ledger.link_fingerprints(dedupe.new_links, run_id=run_id)
    changes = []
    if dedupe.aliases:
        changes.append(ledger.merge_persons(dedupe.aliases, run_id=run_id))
    if not handover.empty:  # rows naming an id the ledger issued; the others are linked by name at allocate
        ids = handover["person_id"].fillna("").astype(str)
        named = handover[ids.isin(ledger.known_person_ids(ids))]
        if len(named):
            changes.append(ledger.record_handovers(run_id, named))
    dedupe.ledger_changes = [c for c in changes if c is not None and len(c)]
    return dedupe




# ---------------------------------------------------------------------------------------------------------------
# Prefect


def quiet_prefect_env() -> None:
    """Keep Prefect's own logging and telemetry out of the user's terminal (an operator can override)."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_SERVER_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_RESULTS_PERSIST_BY_DEFAULT", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "flows")  # our stage logs (counts, ids) in Prefect's
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")  # stages also run outside a flow
    # the temporary local server (no PREFECT_API_URL) may start slowly on a busy 2-core machine
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


quiet_prefect_env()

from prefect import flow, get_run_logger, task  # noqa: E402  (environment must be set first)


_TASK = dict(persist_result=False, cache_policy=None, log_prints=False)


def _as_task(name: str, fn: Callable, *args):
    """Run one stage as a Prefect task (no persisted results, no cache: the data is personal)."""
    return task(fn, name=name, **_TASK)(*args)


@flow(name="nightly-consolidation", persist_result=False, log_prints=False, validate_parameters=False)
def nightly_consolidation(
    sources_dir: str | None = None,
    config_dir: str | None = None,
    out_dir: str = "outputs",
    as_of: str | None = None,
    ledger_url: str | None = None,
    offline: bool = False,
    replay_run: str | None = None,
    lock_wait: float | None = None,
) -> dict:
    """Pull, validate, merge, allocate and publish; returns the run id, folder and counts (no personal data)."""
    logger = get_run_logger()
    cfg = load_config(config_dir)
    if sources_dir is None and cfg.sources.local.default_dir:
        sources_dir = str(cfg.config_dir.parent / cfg.sources.local.default_dir)
    day = dt.date.fromisoformat(as_of) if as_of else None
    result, run_dir = run_night(Path(sources_dir) if sources_dir else None, cfg, Path(out_dir), day, ledger_url,
                                progress=PROGRESS["callback"], step=_as_task, offline=offline,
                                replay_run=replay_run, lock_wait=lock_wait)
    logger.info("run %s: %s", result.run_id, ", ".join(f"{k}={v}" for k, v in result.counts.items()))
    return {"run_id": result.run_id, "run_dir": str(run_dir), "counts": result.counts,
            "sources": [{"source": s.source, "status": s.status, "rows": s.rows} for s in result.sources]}


# The CLI sets a progress callback here (kept out of flow parameters, which Prefect records).
PROGRESS: dict[str, Progress] = {"callback": _quiet}

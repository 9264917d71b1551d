"""The nightly consolidation as a plain pipeline: every stage once, in order, then publish.

``run_night`` is testable without Prefect; ``flows.nightly.nightly_consolidation`` is the Prefect flow that runs it
with one task per stage (``step``). Logs carry counts and ids only.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo


from flows.config import AppConfig
from flows.allocation.stage import allocate_supports
from flows.frames import RunResult
from flows.heap import frozen_between_stages
from flows.night_results import cite_column, issue_frame, night_counts, source_reports
from flows.stages import extract_tables, fetch_sources, link_persons, normalize_tables, open_ledger, send_feedback

TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def default_ledger_url(out_root: Path) -> str:
    """SONGMAYTINH_LEDGER_URL (PostgreSQL in production) or a SQLite file beside the run outputs."""
    return os.environ.get("SONGMAYTINH_LEDGER_URL") or f"sqlite:///{(out_root / 'ledger.sqlite').resolve()}"


def make_run_id(started: dt.datetime, as_of: dt.date, out_root: Path, prefix: str | None = None) -> str:
    base = f"{prefix or f'{as_of:%Y-%m-%d}'}_{started.astimezone(TIMEZONE):%H%M%S}"
    run_id, n = base, 1
    while (out_root / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


Step = Callable[..., object]


def _direct(name: str, fn: Callable, *args):
    return fn(*args)


class TimedSteps:
    """A stage runner (``run_night``'s ``step``) that also keeps each stage's seconds (for ``bench``): ``step`` runs
    the stage (``_direct`` when None)."""

    def __init__(self, step: Callable | None = None) -> None:
        self.step = step or _direct
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str, fn: Callable, *args):
        clock = time.perf_counter()
        try:
            return self.step(name, fn, *args)
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - clock


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
    lock_wait: float | None = None,
    full: bool = False,
) -> tuple[RunResult, Path]:
    """Run every stage once and publish; returns the result and the published run folder.

    ``step(name, fn, *args)`` runs one stage; the Prefect flow passes a runner that wraps each stage in a task
    (and retries the steps that may meet a passing failure: ``ledger``, ``sources``). ``on_run(run_id, as_of)`` is
    told the run id before the first step, so a caller can name the run in a failure report.

    One night at a time per ledger and output folder: another night running makes this one wait up to
    ``lock_wait`` seconds (default ``night.lock_wait_seconds``), then raise ``NightLocked``. Holding the locks,
    the night first clears what a killed night left: its ``<run>.partial`` folder, its run marked ``failed``.

    ``replay_run``: replay that past run read-only — every source as that night read it (its snapshots, local files
    and Google Sheets alike), on a scratch copy of the ledger, published under ``OUT/replays/`` (``OUT/latest`` is
    not moved), on that run's as-of day unless ``as_of`` is given; ``UnknownRun`` when the ledger has no such run.
    What did not change since the last night is taken from the store beside the outputs (``flows.reuse``); the
    result is the same as a full night's. ``full=True`` rebuilds every piece (and refreshes the store).
    """
    out_root.mkdir(parents=True, exist_ok=True)
    url = ledger_url or default_ledger_url(out_root)
    step, thaw = frozen_between_stages(step)  # the night's rows out of the cyclic collector's scans
    scratch = None
    if replay_run:  # read-only: a copy of the ledger, its own output folder (UnknownRun for an unknown id)
        wait = cfg.district.night.lock_wait_seconds if lock_wait is None else lock_wait
        scratch, url, out_root, as_of = _replay_setup(url, replay_run, out_root, as_of, wait)
    try:
        return _night(sources_dir, cfg, out_root, as_of, url, progress, step, offline, replay_run, on_run, lock_wait,
                      full)
    finally:
        thaw()
        if scratch is not None:
            scratch.remove()


REPLAY_FOLDER = "replays"  # OUT/replays/<run>/: where a replay publishes (``latest`` is never moved)


def _replay_setup(url: str, replay_run: str, out_root: Path, as_of: dt.date | None, wait: float):
    """A replay's scratch ledger (``flows.adapters.ledger.replay``, copied under the real night's locks, so no night
    writes while it is read), its output folder and its day (the replayed run's as-of day unless another is given)."""
    from flows.adapters.ledger.replay import replayed_day, scratch_copy
    from flows.adapters.night_lock import night_lock

    replayed_day(url, replay_run)  # an unknown run is refused before waiting for any lock
    with night_lock(url, out_root, wait_seconds=wait):
        scratch = scratch_copy(url, replay_run)
    folder = out_root / REPLAY_FOLDER
    folder.mkdir(exist_ok=True)
    log.warning("replay of run %s: read-only (the ledger is not written, %s/latest is not moved); published under "
                "%s", replay_run, out_root, folder)
    return scratch, scratch.url, folder, as_of or scratch.as_of


def _night(sources_dir: Path | None, cfg: AppConfig, out_root: Path, as_of: dt.date | None, url: str,
           progress: Progress, step: Step, offline: bool, replay_run: str | None,
           on_run: Callable[[str, dt.date], None] | None, lock_wait: float | None,
           full: bool = False) -> tuple[RunResult, Path]:
    wait = cfg.district.night.lock_wait_seconds if lock_wait is None else lock_wait
    started = dt.datetime.now(dt.timezone.utc)
    as_of = as_of or started.astimezone(TIMEZONE).date()
    run_id = make_run_id(started, as_of, out_root, f"replay-{replay_run}" if replay_run else None)
    if on_run is not None:
        on_run(run_id, as_of)
    # The ledger opens first (the sources stage reads and stores Google Sheets snapshots there), under the night's
    # locks: taking them connects to the ledger too, so a server that refuses is tried again as one step.
    progress("Kết nối sổ cái")
    lock, ledger = step("ledger", _open_night, url, out_root, wait, run_id, as_of)
    try:
        return _locked_night(sources_dir, cfg, out_root, as_of, ledger, progress, step, offline, replay_run,
                             started, run_id, full)
    finally:
        lock.__exit__(None, None, None)


def _open_night(url: str, out_root: Path, wait: float, run_id: str, as_of: dt.date):
    """The night's locks (``flows.adapters.night_lock``) entered, what a killed night left cleared, and the ledger
    open (``open_ledger``); the caller releases the locks. ``NightLocked`` when another night holds them."""
    from flows.adapters.night_lock import night_lock
    from flows.publishing import run_folder

    lock = night_lock(url, out_root, wait_seconds=wait)
    lock.__enter__()
    try:
        removed = run_folder.remove_leftovers(out_root)
        if removed:
            log.warning("removed %d leftover(s) of an interrupted night under the output folder", removed)
        return lock, open_ledger(url, run_id, as_of)
    except BaseException:
        lock.__exit__(None, None, None)
        raise


def _locked_night(sources_dir: Path | None, cfg: AppConfig, out_root: Path, as_of: dt.date, ledger,
                  progress: Progress, step: Step, offline: bool, replay_run: str | None,
                  started: dt.datetime, run_id: str, full: bool = False) -> tuple[RunResult, Path]:
    from flows.publishing.publish import publish
    from flows.reuse import Reuse
    from flows.reuse.intake import validate_night
    from flows.reuse.results import reusing_rows_as_sent, reusing_student_export

    # a replay reads the past and writes no store; any other night reuses what did not change (``--full``: nothing)
    reuse = Reuse(None, run_id) if replay_run else Reuse.beside(out_root, run_id, full=full)

    try:
        progress("Đọc nguồn dữ liệu")
        sources = step("sources", fetch_sources, sources_dir, cfg, ledger, run_id, offline, replay_run,
                       reuse)
        log.info("run %s: %d sources (%d stale, %d failed)", run_id, len(sources),
                 sum(s.status == "stale" for s in sources), sum(s.status == "failed" for s in sources))
        progress("Nhận dạng bảng")
        extraction = step("layout", extract_tables, sources, cfg, reuse)
        log.info("layout: %s; %d sheet-level issues",
                 ", ".join(f"{k}={len(v)}" for k, v in extraction.tables.items()), len(extraction.issues))
        progress("Chuẩn hoá dữ liệu")
        normalized = step("normalize", normalize_tables, extraction, cfg, reuse)
        progress("Kiểm tra dữ liệu (Great Expectations)")
        students, validation_issues, validation = step("validate", validate_night, normalized.students,
                                                       extraction.headers, cfg, as_of, reuse)
        issues = extraction.issues + validation_issues
        log.info("validate: %d rows, %d rejected, %d duplicate, %d issues", len(students),
                 int((students.get("row_status") == "rejected").sum()) if len(students) else 0,
                 int((students.get("row_status") == "duplicate").sum()) if len(students) else 0,
                 len(validation_issues))
        progress("Ghép trùng học sinh")
        dedupe = step("dedupe", link_persons, students, normalized.handover, cfg, ledger, run_id, sources,
                      reuse)
        issues = issues + [cite_column(i, extraction.headers, cfg) for i in dedupe.issues]
        log.info("dedupe: %d persons, %d new links, %d merged ids, %d pairs to review", len(dedupe.persons),
                 len(dedupe.new_links), len(dedupe.aliases), len(dedupe.review_pairs))
        progress("Phân bổ thiết bị và gói cước")
        allocation = step("allocate", allocate_supports, dedupe.persons, normalized, cfg, ledger, run_id, as_of,
                          dedupe.ledger_changes, extraction.headers, dedupe.review_pairs, reuse)
        issues = issues + allocation.issues

        students_out = reusing_student_export(dedupe.students, dedupe.persons, allocation.person_status, issues,
                                              cfg, reuse)
        issues_df = issue_frame(issues)
        reports = source_reports(sources, extraction)
        counts = night_counts(reports, students_out, issues_df, allocation, dedupe.review_pairs)
        result = RunResult(
            run_id=run_id, as_of=as_of, started_at=started, finished_at=None, sources=reports,
            students=students_out, issues=issues_df, allocations=allocation.allocations,
            donations=allocation.donations, donation_summary=allocation.donation_summary,
            connectivity=normalized.connectivity, review_pairs=dedupe.review_pairs, changes=allocation.changes,
            cash=allocation.cash, counts=counts,
            rows_as_sent=reusing_rows_as_sent(extraction.tables.get("students"), extraction.headers, reuse),
            headers=extraction.headers, validation=validation,
        )
        result.override_log = allocation.override_log  # extras publish shows (Tiến độ, explain)
        result.follow_ups = allocation.follow_ups
        result.handovers = allocation.handovers
        progress("Xuất bảng tính")
        result.finished_at = dt.datetime.now(dt.timezone.utc)
        run_dir = step("publish", publish, result, cfg, out_root, None, reuse)
        swept = reuse.sweep()
        log.info("reuse: %s; %d stale piece(s) dropped", ", ".join(
            f"{area} {len(r['reused'])} reused/{r['rebuilt']} rebuilt" for area, r in reuse.report()["areas"].items()),
            swept)
        if cfg.sources.google.feedback and not offline and not replay_run:
            progress("Gửi phản hồi vào Google Sheets")
            step("feedback", send_feedback, sources, issues_df, cfg, ledger, run_id)
        ledger.finish_run(run_id, counts, status="ok")
        log.info("run %s published: %s", run_id, ", ".join(f"{k}={v}" for k, v in counts.items()))
        return result, run_dir
    except Exception:
        try:
            ledger.finish_run(run_id, {}, status="failed")
        except Exception as exc:  # the ledger itself went away: the next night finds the run open and fails it
            log.warning("run %s not marked failed: %s; the next night will", run_id, type(exc).__name__)
        raise
    finally:
        ledger.close()

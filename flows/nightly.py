"""The Prefect flow of the nightly consolidation: one task per stage, retries where they help, the night's
artifacts and the morning message.

The stages and their order are plain code (``flows.pipeline.run_night``, ``flows.stages``); this module only
wraps them. Each stage runs as a task with no persisted result and no cache policy (the data is personal). Two
steps meet outside services and are tried again on a failure that may pass (``flows.failures``), as
``retries`` in ``config/sources.yaml`` says: ``ledger`` (connecting to the ledger database) and ``sources`` (the
Google pull, which falls back to stored snapshots on its last attempt). A failure that is a bug is never
retried. The flow's final state message says how the night ended: completed (and what had to be retried), or
which step failed, how, and whether it was retried. Artifacts (counts, sources needing attention, links) and
the morning e-mail carry counts, ids and file names only.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Callable

from flows.adapters.night_lock import NightLocked
from flows.config import AppConfig, load_config
from flows.failures import StageFailure, classify, google_transient, ledger_transient, where
from flows.operations import Retries, RetryPolicy
from flows.pipeline import Progress, _quiet, run_night

log = logging.getLogger(__name__)


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
from prefect.artifacts import (create_link_artifact, create_markdown_artifact,  # noqa: E402
                               create_table_artifact)
from prefect.states import Completed  # noqa: E402

_TASK = dict(persist_result=False, cache_policy=None, log_prints=False)

# step -> (the retry policy in sources.yaml ``retries``, the failures it is tried again on)
RETRIED_STEPS: dict[str, tuple[str, Callable[[BaseException], bool]]] = {
    "ledger": ("ledger", ledger_transient),
    "sources": ("google", google_transient),
}
# step -> the keyword that tells it this is its last attempt (the Google pull then falls back to the snapshots)
_LAST_ATTEMPT_KEYWORD = {"sources": "google_fallback"}


def _retry_only_transient(task, task_run, state) -> bool:
    """Prefect's retry condition: only a ``StageFailure`` that says it may pass and has attempts left."""
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, StageFailure) and exc.will_retry


class StageRunner:
    """The ``step`` the pipeline calls: each stage as a Prefect task; ``attempts`` counts the tries of each."""

    def __init__(self, retries: Retries) -> None:
        self.retries = retries
        self.attempts: dict[str, int] = {}

    def policy(self, name: str) -> tuple[RetryPolicy | None, Callable[[BaseException], bool] | None]:
        if name not in RETRIED_STEPS:
            return None, None
        key, test = RETRIED_STEPS[name]
        return getattr(self.retries, key), test

    @property
    def retried(self) -> dict[str, int]:
        """step -> retries it needed (steps tried once are left out)."""
        return {name: n - 1 for name, n in self.attempts.items() if n > 1}

    def __call__(self, name: str, fn: Callable, *args):
        policy, retry_on = self.policy(name)
        most = policy.attempts if policy else 1

        def attempt(*stage_args):
            n = self.attempts[name] = self.attempts.get(name, 0) + 1
            extra = {_LAST_ATTEMPT_KEYWORD[name]: n >= most} if name in _LAST_ATTEMPT_KEYWORD else {}
            try:
                return fn(*stage_args, **extra)
            except NightLocked:
                raise  # another night holds the ledger: not a failure of this one, nothing to retry
            except Exception as exc:  # type and place only: the message may quote a school's cell
                raise classify(name, exc, attempts=n, retry_on=retry_on, max_attempts=most) from None

        options = dict(_TASK)
        if policy is not None and policy.attempts > 1:
            options.update(retries=policy.attempts - 1, retry_delay_seconds=list(policy.delay_seconds),
                           retry_condition_fn=_retry_only_transient)
        return task(attempt, name=name, **options)(*args)


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
    full: bool = False,
):
    """Pull, validate, merge, allocate and publish; returns the run id, folder and counts (no personal data).

    ``lock_wait``: how long to wait for another night on the same ledger or outputs (``NightLocked`` after it: not
    a failure of this night, nothing is reported or mailed). ``full``: rebuild every piece, reusing nothing kept
    from earlier nights (``flows.reuse``)."""
    import datetime as dt

    from flows.publishing.night_report import report_for_failure, report_for_run, sources_markdown

    logger = get_run_logger()
    cfg = load_config(config_dir)
    if sources_dir is None and cfg.sources.local.default_dir:
        sources_dir = str(cfg.config_dir.parent / cfg.sources.local.default_dir)
    day = dt.date.fromisoformat(as_of) if as_of else None
    runner = StageRunner(cfg.sources.retries)
    run: dict = {}
    try:
        result, run_dir = run_night(Path(sources_dir) if sources_dir else None, cfg, Path(out_dir), day, ledger_url,
                                    progress=PROGRESS["callback"], step=runner, offline=offline,
                                    replay_run=replay_run, on_run=lambda rid, d: run.update(run_id=rid, as_of=d),
                                    lock_wait=lock_wait, full=full)
    except NightLocked:
        raise
    except Exception as exc:
        failure = classify("night", exc)
        logger.error("night failed: %s", failure.describe())
        report = report_for_failure(Path(out_dir), failure.describe(), run.get("run_id"), run.get("as_of") or day,
                                    runner.retried)
        _best_effort("failure artifact", logger, lambda: create_markdown_artifact(
            sources_markdown(report), key="night-failure",
            description=f"Lần chạy {report.run_id or ''} không hoàn thành"))
        if not replay_run:
            _send_morning_message(cfg, report, logger)
        raise failure from None
    logger.info("run %s: %s", result.run_id, ", ".join(f"{k}={v}" for k, v in result.counts.items()))
    # The night's work is published: what follows tells people about it and must not turn it into a failure.
    report = _best_effort("night report", logger, lambda: report_for_run(run_dir, runner.retried))
    if report is not None:
        _best_effort("artifacts", logger, lambda: _publish_artifacts(report))
        # a replay (read-only, its own folder) is an officer's question, not a night to tell everyone about
        mailed = _send_morning_message(cfg, report, logger) if not replay_run else "không gửi (chạy lại)"
    else:
        mailed = "không gửi được (báo cáo lỗi)"
    outcome = {"run_id": result.run_id, "run_dir": str(run_dir), "counts": result.counts,
               "sources": [{"source": s.source, "status": s.status, "message": s.message, "rows": s.rows}
                           for s in result.sources],
               "retried": runner.retried, "mailed": mailed}
    return Completed(message=_completed_message(result.run_id, result.counts, runner.retried, mailed),
                     data=outcome)


def _completed_message(run_id: str, counts: dict, retried: dict[str, int], mailed: str) -> str:
    """The final state's message: how the night ended (counts and ids only)."""
    text = (f"Hoàn thành {run_id}: {counts.get('sources', 0)} nguồn ({counts.get('sources_stale', 0)} dùng bản "
            f"lưu, {counts.get('sources_failed', 0)} lỗi), {counts.get('persons', 0)} học sinh, "
            f"{counts.get('changes', 0)} thay đổi")
    if retried:
        text += "; đã thử lại sau lỗi tạm thời: " + ", ".join(f"{k} thêm {n} lần" for k, n in retried.items())
    else:
        text += "; không cần thử lại"
    return f"{text}; thư buổi sáng: {mailed}"


def _best_effort(what: str, logger, fn: Callable):
    """``fn()``, or None with a warning (type only) when it fails: telling about a night never fails it."""
    try:
        return fn()
    except Exception as exc:
        logger.warning("%s not made: %s at %s", what, type(exc).__name__, where(exc))
        return None


def _publish_artifacts(report) -> None:
    """The night in the Prefect UI: counts, sources needing attention, links to the run folder and workbook."""
    from flows.publishing.night_report import count_rows, sources_markdown

    title = f"{report.run_id} (số liệu ngày {report.as_of:%d/%m/%Y})"
    create_table_artifact(count_rows(report), key="night-counts", description=f"Số liệu tổng hợp — {title}")
    create_markdown_artifact(sources_markdown(report), key="night-sources",
                             description=f"Nguồn dùng bản lưu hoặc lỗi — {title}")
    create_link_artifact(report.run_dir.resolve().as_uri(), link_text=f"Thư mục kết quả {report.run_id}",
                         key="night-run-folder", description=f"Thư mục kết quả — {title}")
    for workbook in report.district_workbooks:
        create_link_artifact(workbook.resolve().as_uri(), link_text=workbook.name, key="night-district-workbook",
                             description=f"Bảng tổng hợp của huyện — {title}")


def _send_morning_message(cfg: AppConfig, report, logger) -> str:
    """Send the officers' e-mail when configured; never fails the night. Returns what happened (for the state)."""
    settings = cfg.district.morning_message
    if not settings.enabled:
        return "không bật"
    from flows.adapters.notify import send
    from flows.publishing.night_report import morning_message

    started = time.monotonic()
    try:
        subject, body = morning_message(report, settings.subject_prefix, cfg.district.district.name)
        send(settings, subject, body)
    except Exception as exc:  # the night's work is done (or failed) already: report, do not raise
        logger.warning("morning message not sent: %s", type(exc).__name__)
        return f"không gửi được ({type(exc).__name__})"
    logger.info("morning message sent to %d recipient(s) in %.1fs", len(settings.recipients),
                time.monotonic() - started)
    return f"đã gửi {len(settings.recipients)} người nhận"


# The CLI sets a progress callback here (kept out of flow parameters, which Prefect records).
PROGRESS: dict[str, Progress] = {"callback": _quiet}

"""The stages as the night calls them: plain functions over DataFrames, with their ledger I/O at the edge.

``flows.pipeline.run_night`` calls each through a ``step`` (the Prefect flow in ``flows.nightly`` wraps each in a
task). The ledger is opened here too (``open_ledger``), so that connecting to it is one step the flow can retry.
Nothing here knows Prefect; logs carry counts and ids only.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from flows.config import AppConfig
from flows.frames import Issue, SourceData

log = logging.getLogger(__name__)


def fetch_sources(sources_dir: Path | None, cfg: AppConfig, ledger=None, run_id: str | None = None,
                  offline: bool = False, replay_run: str | None = None, reuse=None, *,
                  google_fallback: bool = True) -> list[SourceData]:
    """Local files, then the registered Google spreadsheets (changed ones fetched, the rest from snapshots).

    ``ledger`` stores the snapshots; ``offline`` reads only stored snapshots; ``replay_run`` reads the snapshots
    that run read. ``google_fallback=False``: a Drive listing that fails for a reason that may pass raises
    (``GoogleUnavailable``) instead of falling back to the snapshots, so the step can be tried again; the flow
    passes ``True`` on its last attempt. ``reuse``: a local file whose bytes are unchanged since a kept night is
    not parsed again (``flows.reuse.intake.grid_reader``).
    """
    from flows.intake.returned import set_aside_returned

    sources, markers, entries = _local_sources(sources_dir, cfg, ledger, run_id, replay_run, reuse)
    if cfg.sources.google.configured and ledger is not None:
        from flows.adapters.google.sheets import GoogleSheetSource

        replay = ledger.run_snapshots(replay_run) if replay_run else None
        pull = GoogleSheetSource(cfg, ledger).pull(run_id, offline=offline, replay=replay,
                                                   fallback=google_fallback)
        entries += [(key, pull.snapshot_ids.get(key), status, message)
                    for key, (status, message) in pull.statuses.items()]
        if pull.registry_problems:
            log.warning("google registry: %d problem(s): %s", len(pull.registry_problems),
                        "; ".join(pull.registry_problems[:5]))
        sources.extend(pull.sources)
    if run_id is not None and ledger is not None:
        ledger.record_run_sources(run_id, entries)
    return set_aside_returned(sources, cfg, markers)


def _local_sources(sources_dir: Path | None, cfg: AppConfig, ledger, run_id: str | None, replay_run: str | None,
                   reuse=None):
    """(sources, published-workbook markers, run-source entries) of the local files: read from ``sources_dir`` and
    kept as snapshots in the ledger, or — replaying — the snapshots that run kept (today's files are not read).
    ``reuse``: a file whose bytes are unchanged since a kept night is not parsed again."""
    from flows.adapters.files import read_local
    from flows.intake.returned import published_marker

    if replay_run and ledger is not None:
        sources, markers = ledger.replay_local_sources(replay_run)
        log.info("replay of run %s: %d local files from its snapshots", replay_run, len(sources))
        return sources, markers, []
    if sources_dir is None:
        return [], {}, []
    from flows.reuse.intake import grid_reader

    sources = read_local(sources_dir, cfg, grid_reader(reuse) if reuse is not None else None)
    markers = {s.source_id: published_marker(sources_dir / s.source_id) for s in sources}
    entries = ledger.keep_local_sources(sources, markers, run_id) if ledger is not None and run_id else []
    return sources, {k: v for k, v in markers.items() if v}, entries


@dataclass
class Extraction:
    tables: dict[str, pd.DataFrame]
    headers: dict[tuple[str, str], dict[str, str]]
    issues: list[Issue]
    rows_by_source: dict[str, int] = field(default_factory=dict)
    kind_by_source: dict[str, str] = field(default_factory=dict)
    source_keys: dict[str, str] = field(default_factory=dict)  # source id -> its reuse key (``flows.reuse``)


def extract_tables(sources: list[SourceData], cfg: AppConfig, reuse=None) -> Extraction:
    """Each source's tables, header labels and sheet-level issues. ``reuse`` (``flows.reuse.Reuse``): a source
    whose content, the config and the code are unchanged since a kept night is not laid out again. The first
    student list (or source of a kind still unknown) laid out starts the rule engine's worker
    (``flows.rules.engine``), which imports Great Expectations meanwhile; a night whose every source was kept may
    need none."""
    from flows.intake.layout import extract
    from flows.reuse.intake import source_keys
    from flows.rules import engine

    keys = source_keys(sources, cfg) if reuse is not None else {}
    if reuse is not None:
        reuse.source_keys = keys
    tables: dict[str, list[pd.DataFrame]] = {}
    headers: dict[tuple[str, str], dict[str, str]] = {}
    issues: list[Issue] = []
    rows_by_source: dict[str, int] = {}
    kind_by_source: dict[str, str] = {}
    for source in sources:
        kind_by_source[source.source_id] = source.kind or ""
        if source.status != "failed":
            key = keys.get(source.source_id)
            result = reuse.take("layout", key, source.source_id) if key else None
            try:
                if result is None:
                    if source.kind in (None, "students"):
                        engine.start()  # returns at once; the worker imports GX while layout goes on
                    result = extract(source, cfg)
                    if key:
                        reuse.keep("layout", key, result, source.source_id)
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
    return Extraction(merged, headers, issues, rows_by_source, kind_by_source,
                      {sid: key for sid, key in keys.items() if sid in rows_by_source})


@dataclass
class Normalized:
    students: pd.DataFrame
    donations: pd.DataFrame
    connectivity: pd.DataFrame
    handover: pd.DataFrame
    follow_up: pd.DataFrame | None = None
    overrides: pd.DataFrame | None = None


def normalize_tables(extraction: Extraction, cfg: AppConfig, reuse=None) -> Normalized:
    """Typed rows of every kind. ``reuse``: a student list whose layout was kept is not normalized again (student
    rows are normalized one by one, so a source's rows do not depend on the other sources)."""
    from flows.intake import normalize as n
    from flows.frames import CONNECTIVITY_COLUMNS, DONATION_COLUMNS, HANDOVER_COLUMNS, STUDENT_COLUMNS
    from flows.reuse.intake import per_source

    def students(raw: pd.DataFrame, cfg: AppConfig) -> pd.DataFrame:
        if reuse is None or not extraction.source_keys:
            return n.normalize_students(raw, cfg)
        return per_source(raw, extraction.source_keys, "normalize", reuse, lambda part: n.normalize_students(part, cfg))

    def run(kind: str, fn, columns: list[str]) -> pd.DataFrame:
        raw = extraction.tables.get(kind)
        if raw is None or raw.empty:
            return pd.DataFrame(columns=columns)
        return fn(raw, cfg)

    return Normalized(
        students=run("students", students, STUDENT_COLUMNS),
        donations=run("donations", n.normalize_donations, DONATION_COLUMNS),
        connectivity=run("connectivity", n.normalize_connectivity, CONNECTIVITY_COLUMNS),
        handover=run("handover", n.normalize_handover, HANDOVER_COLUMNS),
        follow_up=run("follow_up", n.normalize_follow_up, n.FOLLOW_UP_COLUMNS),
        overrides=run("overrides", n.normalize_overrides, n.OVERRIDE_SOURCE_COLUMNS),
    )


def send_feedback(sources: list[SourceData], issues: pd.DataFrame, cfg: AppConfig, ledger, run_id: str) -> dict:
    """Write each student-list spreadsheet's issues into its "Phản hồi" sheet (only when they changed)."""
    from flows.adapters.google.feedback import write_feedback

    outcome = write_feedback(sources, issues, cfg, ledger, run_id)
    log.info("feedback: %s", ", ".join(f"{k}={v}" for k, v in outcome.items()))
    return outcome


def link_persons(students: pd.DataFrame, handover: pd.DataFrame, cfg: AppConfig, ledger, run_id: str,
                 sources: list[SourceData] = (), reuse=None):
    """Dedupe stage with its ledger I/O: officer decisions read from the sources and kept in the ledger (all of
    them applied every night), stable ids from stored fingerprints, merges recorded as aliases. ``reuse``: the
    partition of records identical to a kept night's is taken, not computed, and so is the whole assignment when
    the ledger's state is that night's too (``flows.reuse.linkage``)."""
    from flows.linkage.backends import using
    from flows.linkage.clustering import link
    from flows.linkage.dedupe import assign_persons
    from flows.linkage.decisions import read_decisions, unmatched_decisions
    from flows.reuse.linkage import assigner

    from flows.reuse.intake import per_source_call

    decided, decision_issues = read_decisions(list(sources), cfg, per_source_call(reuse, "decisions"))
    stored = ledger.add_decisions(decided)
    log.info("dedupe: %d officer decisions read, %d new or changed", len(decided), stored)
    with using(cfg.district.linkage.backend):  # duckdb, or spark: the same children (flows.linkage.backends)
        assign = assigner(reuse) if reuse is not None else lambda *a, **k: assign_persons(*a, **k, linker=link)
        dedupe = assign(students, cfg, known_links=ledger.person_for_fingerprints(),
                        allocate_ids=ledger.next_person_ids, past_recipients=ledger.past_recipients(),
                        decisions=ledger.decisions())
    usable = dedupe.students[dedupe.students["row_status"] == "ok"] if len(dedupe.students) else dedupe.students
    unmatched = unmatched_decisions(decided, usable.get("fingerprint", pd.Series(dtype=str)))
    if unmatched:
        log.warning("dedupe: %d officer decision(s) match no pair of tonight's records", len(unmatched))
    dedupe.issues = decision_issues + unmatched + dedupe.issues
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


def open_ledger(url: str, run_id: str, as_of: dt.date):
    """Connect to the ledger, bring its schema up to date and record the start of the run.

    A server that refuses the connection raises here, before any stage has read or written anything, so the
    whole step can be tried again (``flows.adapters.transient.ledger_transient`` says which errors may pass).
    """
    from flows.adapters.ledger import Ledger

    ledger = Ledger(url)
    try:
        ledger.migrate()
        interrupted = ledger.fail_unfinished_runs()  # runs a killed night left open (this night holds the lock)
        if interrupted:
            log.warning("%d run(s) of an interrupted night marked failed", interrupted)
        ledger.begin_run(run_id, as_of)
    except BaseException:
        ledger.close()
        raise
    return ledger

"""Stage 7 — publish: the night's result as workbooks district officers can defend, CSV exports and a manifest.

``publish`` writes ``OUT/<run_id>.partial/``, renames it to ``OUT/<run_id>/`` when every file is written, points
``OUT/latest`` at it (a symlink replaced atomically; ``latest.txt`` where the file system has no symlinks) and
prunes old runs (``run_folder``). Layout of a run folder::

    exports/students.csv, issues.csv, allocations.csv    the contract in DESIGN.md, column for column (exports)
    exports/changes.csv, review_pairs.csv                 change log against the previous night, review queue
    district/<district>-tong-hop-<as_of>.xlsx             the district workbook, all sheets (district)
    communes/<commune_code>-<slug>.xlsx                   one per commune: only that commune's children (commune)
    schools/<school_code>-<slug>.xlsx                     one per school with rows or issues: its feedback (school)
    data-docs/                                            the Great Expectations Data Docs of tonight's validation
    manifest.json                                         written last; sha256 of every other file (manifest)

Workbooks write data as data (every text through ``write_string``, string conversions off), in Times New
Roman with the official document heading, and are reproducible: the same result gives the same bytes
(``workbook``). The night's frames are prepared once for all of them (``prepared``).
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import pickle
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from flows.config import AppConfig
from flows.frames import RunResult
from flows.heap import collector_paused
from flows.publishing import run_folder
from flows.publishing.commune import write_commune
from flows.publishing.district import write_district
from flows.publishing.exports import EXPORTS, write_exports
from flows.publishing.manifest import write_manifest
from flows.publishing.prepared import UnitIndex
from flows.publishing.school import write_school

log = logging.getLogger(__name__)


def publish(
    result: RunResult,
    cfg: AppConfig,
    out_root: Path,
    retention: int | None = None,
    reuse=None,
    *,
    clock: Callable[[], dt.datetime] | None = None,
) -> Path:
    """Write the run folder ``out_root/<run_id>/``, point ``out_root/latest`` at it, prune old runs; return it.

    ``retention`` is how many run folders to keep (the one just written always stays; default: the config's
    ``publish.retention``). ``clock`` gives the
    finish time recorded in the manifest when ``result.finished_at`` is not set. ``reuse`` (``flows.reuse.Reuse``):
    when the result, the config and the code are those of a kept night, its workbooks and Data Docs are linked
    from the last run folder instead of written, and so is each CSV export whose frame is unchanged
    (``flows.reuse.workbooks``; the frames prepared for the workbooks are kept too); the manifest says what was
    reused.
    """
    from flows.reuse import workbooks as kept

    started = time.perf_counter()
    out_root = Path(out_root)
    with run_folder.writing(out_root, result.run_id) as partial:
        fields = kept.field_fingerprints(result) if reuse is not None else {}
        data = kept.prepared(result, cfg, reuse, fields)  # prepare(result, cfg), or its kept frames
        exports = {name: kept.export_key(name, fields) for name in EXPORTS} if reuse is not None else {}
        linked = {name for name, key in exports.items()
                  if kept.link_kept(reuse, key, out_root, partial, kept.EXPORTS_AREA, name)}
        for name in write_exports(result, partial / kept.EXPORTS_FOLDER, skip=linked):
            if reuse is not None:
                kept.keep_written(reuse, exports[name], partial, kept.EXPORTS_AREA, name)
        workbooks = 1 + len(data.commune_codes) + len(data.school_codes)
        key = kept.workbook_key(result, cfg, "district", fields) if reuse is not None else ""
        district = not kept.link_kept(reuse, key, out_root, partial, name="district")
        units, stamps = _unit_workbooks(data, cfg, out_root, partial, reuse, fields)
        parts = kept.SheetParts(reuse, cfg, fields) if district and reuse is not None and reuse.root is not None else None
        if district or units:
            write_workbooks(data, partial, groups=("district",) if district else (), units=units, parts=parts)
        if parts is not None:
            parts.merge(reuse)
        if district:
            kept.keep_written(reuse, key, partial, name="district",
                              pieces=parts.reuse.touched() if parts is not None else None)
        docs = kept.docs_key(result.validation or {}, cfg) if reuse is not None else ""
        if not kept.link_kept(reuse, docs, out_root, partial, kept.DOCS_AREA):
            if _write_data_docs(result, cfg, partial):
                kept.keep_written(reuse, docs, partial, kept.DOCS_AREA)
        finished_at = result.finished_at or (clock or _now_like(result.started_at))()
        write_manifest(result, data, partial, finished_at, workbooks,
                       reuse=reuse.report() if reuse is not None else None, unit_workbooks=stamps)
    final, pruned = run_folder.switch(
        partial, retention=cfg.district.publish.retention if retention is None else retention)
    log.info("published run %s: %d workbooks, %d student rows, %d issues, %d pruned in %.1fs", final.name,
             workbooks, len(data.students), len(data.issues), pruned, time.perf_counter() - started)
    return final


def _unit_workbooks(data, cfg: AppConfig, out_root: Path, folder: Path, reuse,  # noqa: ANN001
                    fields: dict[str, str]) -> tuple[list, dict]:
    """Which commune and school workbooks to write tonight, each with its stamp, after linking the others
    from the last run folder; and each one's key and stamp for the manifest (``flows.reuse.workbooks``).

    A unit workbook whose key (what it shows, ``UnitKeys``) is the one the last run published it under keeps that
    run's stamp (the date, run and time it states), whether it is linked or written again (a full night writes
    it, with the same bytes). A night without a store (``reuse`` None, or a replay) stamps every one tonight."""
    from flows.publishing.prepared import Stamp
    from flows.reuse import workbooks as kept

    result = data.result
    tonight = Stamp(result.as_of, result.run_id, result.started_at)
    history = reuse is not None and reuse.root is not None
    last, entries, listed = kept.unit_workbooks(out_root) if history else (None, {}, {})
    linking = history and not reuse.full and last is not None
    keys = kept.unit_keys(data, cfg, reuse, fields) if history else {}
    jobs, stamps = [], {}
    for kind, code, rel in data.unit_files():
        key = keys.get(rel, "")
        stamp = kept.kept_stamp(entries.get(rel), key) if history else None
        if linking and stamp is not None and kept.link_file(last, rel, listed.get(rel), folder, listed):
            reuse.taken.setdefault(kept.AREA, {})[rel] = stamp.run_id
        else:
            jobs.append((kind, code, folder / rel, stamp))
            if reuse is not None:
                reuse.rebuilt.setdefault(kept.AREA, []).append(rel)
        if history:
            stamps[rel] = kept.stamp_entry(key, stamp or tonight)
    return jobs, stamps


# Below this many rows, starting worker processes costs more than it saves.
PARALLEL_MIN_ROWS = 20_000
_WRITERS = {"district": write_district, "commune": write_commune, "school": write_school}
_SHARED: dict[str, object] = {}  # a worker process's copy of the night's prepared data (and its UnitIndex)
WORKER_CPU = {"seconds": 0.0}  # CPU seconds spent by workbook writer processes so far (for ``bench``)


def write_workbooks(data, folder: Path, workers: int | None = None,  # noqa: ANN001 - Prepared
                    groups: Sequence[str] = ("district", "units"), units: Sequence | None = None,
                    parts=None) -> int:  # noqa: ANN001 - SheetParts | None
    """The district (group ``district``), commune and school (group ``units``) workbooks into ``folder``; return
    how many. ``units``: instead of group ``units``, the (kind, code, path, stamp) of the unit workbooks to write,
    each from its unit's data (``Prepared.unit``) stating ``stamp`` (None: tonight). With ``workers`` > 1
    (default: one per core once the jobs' rows are worth it, ``_big``; ``SONGMAYTINH_PUBLISH_WORKERS`` sets it;
    a daemonic process, such as a Dask worker, may start none and writes them itself) they are written by that
    many processes, each given the prepared data once. A workbook is the same whichever process writes it: its
    writer reads nothing but its unit's data and its code. ``parts`` (``flows.reuse.workbooks.SheetParts``): the
    district workbook's kept sheets (what a writer process took and kept is noted back in it)."""
    jobs = [("district", "", folder / "district" / data.district_file, None)] if "district" in groups else []
    if units is not None:
        jobs += list(units)
    elif "units" in groups:
        jobs += [(kind, code, folder / rel, None) for kind, code, rel in data.unit_files()]
    if not jobs:
        return 0
    if workers is None:
        env = os.environ.get("SONGMAYTINH_PUBLISH_WORKERS", "")
        workers = int(env) if env.isdigit() else (os.cpu_count() or 1) if _big(data, jobs) else 1
    workers = min(workers, len(jobs))
    if workers > 1 and multiprocessing.current_process().daemon:
        workers = 1  # a daemonic process (a Dask worker) may start none: it writes them itself, the same workbooks
    if workers <= 1:
        shared = {"data": data}
        for kind, code, path, stamp in jobs:
            _write_one(shared, kind, code, path, stamp, parts)
        return len(jobs)
    from concurrent.futures import ProcessPoolExecutor

    # a fresh process per worker (forkserver), not a fork of this one: the night may run beside threads (Prefect)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["flows.publishing.publish"])
    payload = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_receive, initargs=(payload,)) as pool:
        done = [f.result() for f in [pool.submit(_write_shared, kind, code, str(path), stamp,
                                                 parts if kind == "district" else None)
                                     for kind, code, path, stamp in jobs]]
    cpu = sum(seconds for seconds, _ in done)
    WORKER_CPU["seconds"] += cpu
    log.info("publish: %d workbooks written by %d processes (%.1f CPU s)", len(jobs), workers, cpu)
    for _, used in done:
        if parts is not None and used is not None:
            parts.reuse = used.reuse  # the writer process's account of what it took and kept
    return len(jobs)


def _big(data, jobs: list) -> bool:  # noqa: ANN001 - Prepared
    """Whether tonight's jobs are worth worker processes: their rows, the district workbook writing every row
    and the commune and school workbooks each row about twice (its commune's and its school's), against
    ``PARALLEL_MIN_ROWS`` rows of a whole night's set (so a night that writes the district workbook and a few
    units writes them itself, without starting processes)."""
    rows = len(data.students) + len(data.allocations)
    units = sum(kind != "district" for kind, *_ in jobs) / max(len(data.commune_codes) + len(data.school_codes), 1)
    return rows * (any(kind == "district" for kind, *_ in jobs) + 2 * units) >= 3 * PARALLEL_MIN_ROWS


def _write_one(shared: dict, kind: str, code: str, path: Path, stamp=None, parts=None) -> None:  # noqa: ANN001
    """Write one workbook from ``shared["data"]`` (the night's prepared data; its ``UnitIndex`` is kept beside it);
    ``parts``: the district workbook's kept sheets."""
    data = shared["data"]
    with collector_paused():
        if kind == "district":
            _WRITERS[kind](data, path, parts)
            return
        if "index" not in shared:
            shared["index"] = UnitIndex(data)
        _WRITERS[kind](shared["index"].view(kind, code, stamp), code, path)


def _receive(payload: bytes) -> None:
    _SHARED["data"] = pickle.loads(payload)


def _write_shared(kind: str, code: str, path: str, stamp, parts=None) -> tuple:  # noqa: ANN001
    started = time.process_time()
    _write_one(_SHARED, kind, code, Path(path), stamp, parts)
    return time.process_time() - started, parts


def _write_data_docs(result: RunResult, cfg: AppConfig, folder: Path) -> bool:
    """The GX Data Docs site of tonight's validation (flows.rules.datadocs), inside the run folder and its manifest.
    False when it could not be built (nothing to keep for the next night)."""
    from flows.rules import datadocs
    target = folder / datadocs.FOLDER
    try:
        datadocs.build(result.validation, cfg, result.run_id, result.started_at, target)
    except Exception as exc:  # the officers' detail view must not cost the schools their night's results
        log.warning("data docs not built (%s): %s", type(exc).__name__, str(exc)[:200])
        shutil.rmtree(target, ignore_errors=True)
        return False
    return True


def _now_like(started: dt.datetime) -> Callable[[], dt.datetime]:
    return lambda: dt.datetime.now(started.tzinfo).replace(microsecond=0)

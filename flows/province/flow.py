"""The province night on Prefect and Dask distributed: each district's night is one task on a ``DaskTaskRunner``
(a ``LocalCluster`` of worker processes by default, or the scheduler at ``dask.address`` in province.yaml), its
stages the nightly flow's tasks (``flows.nightly.StageRunner``: the same retries); then children who moved between
districts are linked across the districts' published runs (``flows.province.moves``) and the province workbook is
written.

Each district night runs in a worker process, publishes its own folder ``OUT/<code>-<slug>/`` and returns only its
summary (counts), so no process ever holds two districts' frames. The province's own folder is ``OUT/tinh/<run>/``
(``OUT/tinh/latest``): the workbook ``Tong hop tinh.xlsx`` and ``province.json`` (the summaries).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import resource
import time
from pathlib import Path

# Dask's own INFO lines (workers starting and stopping) stay out of the officer's terminal; an operator can override
os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")

from flows.nightly import StageRunner  # noqa: E402  (sets Prefect's quiet environment first)
from flows.pipeline import TIMEZONE, TimedSteps  # noqa: E402
from flows.province.config import load_province  # noqa: E402
from flows.province.night import district_night  # noqa: E402

from prefect import flow, task  # noqa: E402

log = logging.getLogger(__name__)
PROVINCE_FOLDER = "tinh"


@task(name="district-night", task_run_name="district-night-{code}", persist_result=False, cache_policy=None,
      log_prints=False)
def district_night_task(province_file: str, code: str, out_dir: str, as_of: str | None) -> dict:
    """One district's whole night in a Dask worker (its stages as nested tasks); returns its summary."""
    outcome = district_night(province_file, code, out_dir, as_of,
                             step=lambda cfg: TimedSteps(StageRunner(cfg.sources.retries)))
    outcome["worker"] = _worker_address()
    outcome["worker_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # for bench
    return outcome


def _worker_address() -> str | None:
    """The Dask worker running this task (None outside Dask)."""
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return None


@flow(name="province-consolidation", persist_result=False, log_prints=False, validate_parameters=False)
def province_consolidation(province_file: str, out_dir: str = "outputs/province", as_of: str | None = None) -> dict:
    """Every district taking part, in parallel on the flow's task runner; then the province workbook."""
    province = load_province(province_file)
    started = dt.datetime.now(dt.timezone.utc)
    clock = time.perf_counter()
    futures = [district_night_task.submit(str(province.path), d.code, out_dir, as_of) for d in province.taking_part]
    outcomes = [f.result() for f in futures]
    seconds = {"district_nights": time.perf_counter() - clock}
    clock = time.perf_counter()
    moves = moved_between_districts(outcomes, province.province.linkage.backend)
    seconds["province_linkage"] = time.perf_counter() - clock
    clock = time.perf_counter()
    outcome = publish_province(province, outcomes, Path(out_dir), as_of, started, moves)
    seconds["province_workbook"] = time.perf_counter() - clock
    return {**outcome, "seconds": seconds}  # for bench: where the province night's time went


def moved_between_districts(outcomes: list[dict], backend: str | None = None):
    """Candidate pairs of children in two districts (``flows.province.moves``), from the published runs, linked on
    ``backend`` (province.yaml's ``linkage.backend``)."""
    from flows.province.moves import moved_children

    return moved_children([(o["code"], Path(o["run_dir"])) for o in outcomes if o["status"] == "ok"], backend)


def publish_province(province, outcomes: list[dict], out_dir: Path, as_of: str | None,
                     started: dt.datetime, moves=None) -> dict:
    """Write ``OUT/tinh/<run>/`` (workbook and summaries) and point ``OUT/tinh/latest`` at it."""
    from flows.pipeline import make_run_id
    from flows.province.workbook import WORKBOOK_NAME, write_province_workbook
    from flows.publishing import run_folder

    day = dt.date.fromisoformat(as_of) if as_of else started.astimezone(TIMEZONE).date()
    root = out_dir / PROVINCE_FOLDER
    run_id = make_run_id(started, day, root)
    with run_folder.writing(root, run_id) as partial:
        write_province_workbook(partial / WORKBOOK_NAME, province, outcomes, day, run_id, started, moves)
        summary = {"run_id": run_id, "as_of": day.isoformat(), "started_at": started.isoformat(),
                   "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(),
                   "province": province.province.province.code, "districts": outcomes,
                   "moved_pairs": _pair_counts(moves)}  # counts only: the names are in the workbook
        (partial / "province.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
        run_dir, _ = run_folder.switch(partial, retention=14)
    failed = [o["code"] for o in outcomes if o["status"] != "ok"]
    log.info("province run %s: %d district nights, %d failed %s", run_id, len(outcomes), len(failed), failed)
    return {"run_id": run_id, "run_dir": str(run_dir), "workbook": str(run_dir / WORKBOOK_NAME),
            "districts": outcomes, "moved_pairs": _pair_counts(moves)}


def _pair_counts(moves) -> dict[str, int]:
    if moves is None or not len(moves):
        return {"match": 0, "review": 0}
    return {k: int((moves["decision"] == k).sum()) for k in ("match", "review")}


def local_cluster(settings):
    """A ``LocalCluster`` of ``dask.n_workers`` processes whose workers import the night's modules as they start
    (``flows.province.warm``)."""
    from distributed import LocalCluster

    kwargs: dict = {"n_workers": settings.n_workers, "threads_per_worker": settings.threads_per_worker,
                    "processes": True, "dashboard_address": None, "silence_logs": logging.ERROR,
                    "preload": ["flows.province.warm"],
                    # no dashboard (bokeh is not installed), and the scheduler's HTTP routes (health, metrics) on a
                    # free port rather than 8787, which a second cluster on the machine would find taken (a warning)
                    "scheduler_kwargs": {"dashboard_address": ":0"}}
    if settings.memory_limit:
        kwargs["memory_limit"] = settings.memory_limit
    return LocalCluster(**kwargs)


def run_province(province_file: Path | str, out_dir: Path | str, as_of: str | None = None,
                 address: str | None = None) -> dict:
    """The province night on Dask (``address``: a running scheduler; default province.yaml's, else a LocalCluster
    that this call starts and stops). Starts Prefect's temporary server for this process when no
    ``PREFECT_API_URL`` is set (the local cluster's workers start meanwhile) and points the workers at it."""
    from concurrent.futures import ThreadPoolExecutor

    from prefect_dask import DaskTaskRunner

    from flows.ephemeral_server import start_for_this_process

    province = load_province(province_file)
    address = address or province.province.dask.address
    with ThreadPoolExecutor(1, thread_name_prefix="local-cluster") as pool:
        starting = None if address else pool.submit(local_cluster, province.province.dask)
        try:
            url = start_for_this_process()  # the main thread's: the server's parent-death signal follows it
        except BaseException:
            if starting is not None and starting.exception() is None:
                starting.result().close()
            raise
        cluster = starting.result() if starting else None
    saved = os.environ.get("PREFECT_API_URL")
    if url and not saved:
        os.environ["PREFECT_API_URL"] = url
    try:
        if cluster is not None:
            address = cluster.scheduler_address
            api = os.environ.get("PREFECT_API_URL")
            if api:  # the local workers report to this process's Prefect API (not a temporary server each)
                _tell_workers(address, api)
        runner = DaskTaskRunner(address=address)
        return province_consolidation.with_options(task_runner=runner)(
            province_file=str(province.path), out_dir=str(out_dir), as_of=as_of)
    finally:
        if url and not saved:
            os.environ.pop("PREFECT_API_URL", None)
        if cluster is not None:
            cluster.close()


def _tell_workers(address: str, api: str) -> None:
    from distributed import Client

    from flows.province.warm import PrefectApi

    with Client(address) as client:
        client.register_plugin(PrefectApi(api))

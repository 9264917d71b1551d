"""The Prefect flow: one task per stage, nothing persisted, deployable as declared in prefect.yaml."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
STAGES = {"ledger", "sources", "layout", "normalize", "validate", "dedupe", "allocate", "publish"}


def test_prefect_yaml_deploys_the_nightly_flow_at_one_in_the_morning():
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    (deployment,) = spec["deployments"]
    assert deployment["name"] == "nightly-consolidation"
    module, _, attr = deployment["entrypoint"].partition(":")
    flow = getattr(importlib.import_module(module.removesuffix(".py").replace("/", ".")), attr)
    assert flow.name == "nightly-consolidation"
    (schedule,) = deployment["schedules"]
    assert schedule == {"cron": "0 1 * * *", "timezone": "Asia/Ho_Chi_Minh", "active": True}


def test_flow_runs_one_task_per_stage_and_persists_nothing(tmp_path):
    from prefect.client.orchestration import get_client

    from flows.nightly import nightly_consolidation
    from samples.generate import generate

    src = tmp_path / "src"
    generate(src, seed=7, scale=0.03)
    outcome = nightly_consolidation(sources_dir=str(src), out_dir=str(tmp_path / "out"), as_of="2022-03-01")
    assert Path(outcome["run_dir"]).is_dir()
    assert outcome["counts"]["student_rows"] > 0

    async def task_runs():
        async with get_client() as client:
            flows = await client.read_flow_runs()
            run = next(f for f in flows if f.parameters.get("sources_dir") == str(src))
            from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

            tasks = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
            return run, tasks

    run, tasks = asyncio.run(task_runs())
    assert run.state.is_completed()
    assert {t.name.rsplit("-", 1)[0] for t in tasks} == STAGES
    assert all(t.state.is_completed() for t in tasks)
    # personal data never reaches Prefect's storage
    assert not any(getattr(t.state, "data", None) for t in tasks)
    assert not list((tmp_path / "out").glob("**/.prefect*"))


from tests.pg import postgres_url  # noqa: E402,F401  (module-scoped fixture: a fresh PostgreSQL database)


def test_night_with_the_ledger_in_postgresql_is_stable(tmp_path, postgres_url, cfg):  # noqa: F811
    """The production path: the same nights, ledger in PostgreSQL; a replay changes nothing."""
    import datetime as dt

    import pandas as pd

    from flows.adapters.ledger import Ledger
    from flows.pipeline import run_night
    from samples.generate import generate

    src = tmp_path / "src"
    generate(src, seed=11, scale=0.04)
    first, _ = run_night(src, cfg, tmp_path / "out", dt.date(2022, 3, 1), ledger_url=postgres_url)
    second, _ = run_night(src, cfg, tmp_path / "out", dt.date(2022, 3, 2), ledger_url=postgres_url)
    cols = ["person_id", "need", "item", "donation_id", "status"]
    a = first.allocations[cols].sort_values(["person_id", "need"]).reset_index(drop=True)
    b = second.allocations[cols].sort_values(["person_id", "need"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert second.counts["changes"] == 0
    with Ledger(postgres_url) as ledger:
        assert len(ledger.runs()) == 2
        active = ledger.active_allocations()
        assert len(active) == int(first.allocations["status"].isin(["allocated", "handed_over"]).sum())

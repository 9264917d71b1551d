"""The ledger's protocol for a night that does not finish (``flows/adapters/ledger/runs.py``), on SQLite and on
PostgreSQL: its allocation decisions are voided — made ones deleted, released ones active again, its change log
dropped — and the facts it stored stay. Whether it failed (``finish_run(status="failed")``) or was killed (the next
night's ``fail_unfinished_runs``)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from flows.adapters.ledger import Ledger
from tests.adapters.ledger.helpers import Clock, active, alloc_rows
from tests.pg import fresh_schema, postgres_url  # noqa: F401  (postgres_url: fixture)

DAY = dt.date(2022, 3, 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request, tmp_path):
    url = (f"sqlite:///{tmp_path / 'ledger.sqlite'}" if request.param == "sqlite"
           else fresh_schema(request.getfixturevalue("postgres_url")))
    with Ledger(url, clock=Clock()) as led:
        led.migrate()
        yield led


def _a_good_night(ledger: Ledger) -> set[tuple]:
    ledger.begin_run("r1", DAY)
    ledger.record_allocations("r1", alloc_rows(("HS1", "device", "tablet", "D1", "allocated"),
                                               ("HS2", "device", "laptop", "D1", "allocated"),
                                               ("HS3", "internet", "internet_package", "T1", "allocated")))
    ledger.write_change_log("r1", pd.DataFrame([{"person_id": "HS1", "need": "device", "before": "",
                                                 "after": "provisional:tablet:D1", "rule": "new_allocation"}]))
    ledger.finish_run("r1", {"persons": 3})
    return active(ledger)


def _a_night_that_decides(ledger: Ledger, run_id: str) -> None:
    """Releases HS2's laptop, gives HS1 another unit, allocates HS4, records a handover for HS3 and its log."""
    ledger.begin_run(run_id, DAY)
    ledger.record_handovers(run_id, pd.DataFrame([{"person_id": "HS3", "item": "internet_package",
                                                   "serial": "SIM-9", "handover_date": "2022-02-20"}]))
    ledger.record_allocations(run_id, alloc_rows(("HS1", "device", "smartphone", "D2", "allocated"),
                                                 ("HS4", "device", "tablet", "D1", "allocated")),
                              releases=pd.DataFrame([{"person_id": "HS2", "need": "device", "rule": "ineligible"}]))
    ledger.write_change_log(run_id, pd.DataFrame([
        {"person_id": "HS3", "need": "internet", "before": "provisional:internet_package:T1",
         "after": "handed_over:internet_package:T1", "rule": "handover"},
        {"person_id": "HS4", "need": "device", "before": "", "after": "provisional:tablet:D1",
         "rule": "new_allocation"}]))


@pytest.mark.parametrize("how", ["failed", "killed"])
def test_an_unfinished_night_decided_nothing_and_its_facts_stay(ledger, how):
    before = _a_good_night(ledger)
    _a_night_that_decides(ledger, "r2")
    assert active(ledger) != before
    if how == "failed":
        ledger.finish_run("r2", {}, status="failed")
    else:
        assert ledger.fail_unfinished_runs() == 1
    handed = ("HS3", "internet", "internet_package", "T1", "handed_over")
    assert active(ledger) == (before - {handed[:4] + ("provisional",)}) | {handed}
    assert list(ledger.handovers()["serial"]) == ["SIM-9"]  # the handover is a fact read from a sheet: it stays
    log = ledger.change_log()
    assert log[["run_id", "rule"]].values.tolist() == [["r1", "new_allocation"], ["r2", "handover"]]
    runs = ledger.runs().set_index("run_id")["status"].to_dict()
    assert runs == {"r1": "ok", "r2": "failed"}
    # the next night decides again, from what the good night left
    _a_night_that_decides(ledger, "r3")
    ledger.finish_run("r3", {})
    assert ("HS4", "device", "tablet", "D1", "provisional") in active(ledger)
    assert ("HS2", "device", "laptop", "D1", "provisional") not in active(ledger)
    assert ledger.fail_unfinished_runs() == 0

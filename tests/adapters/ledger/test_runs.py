"""Run history, and the change log each run writes."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from flows.adapters.ledger import Ledger
from tests.adapters.ledger.helpers import Clock


def test_runs_and_change_log(ledger: Ledger, clock: Clock) -> None:
    ledger.begin_run("2022-03-01T01", dt.date(2022, 3, 1))
    clock.tick(5)
    ledger.finish_run("2022-03-01T01", {"persons": 12, "allocated": 3})
    runs = ledger.runs()
    assert runs[["run_id", "as_of", "status"]].values.tolist() == [["2022-03-01T01", dt.date(2022, 3, 1), "ok"]]
    assert runs.loc[0, "counts"] == {"persons": 12, "allocated": 3}
    assert runs.loc[0, "finished_at"] - runs.loc[0, "started_at"] == dt.timedelta(minutes=5)
    with pytest.raises(KeyError):
        ledger.finish_run("never-begun", {})
    log = pd.DataFrame([{"person_id": "HS1", "need": "device", "before": "", "after": "provisional:tablet:D1",
                         "rule": "new_allocation"}])
    assert ledger.write_change_log("2022-03-01T01", log) == 1
    assert ledger.write_change_log("2022-03-01T01", log) == 1  # a rerun rewrites, never duplicates
    assert ledger.change_log()[["run_id", "person_id", "rule"]].values.tolist() == [
        ["2022-03-01T01", "HS1", "new_allocation"]]

"""The ledger's PostgreSQL goes away in the middle of a night (its server stopped as the allocate stage begins):
the night fails with a message that says which step and why, publishes nothing (``latest`` stays the last
complete run, no ``.partial`` left), and holds the night lock no longer. A night started while the server is
still down tries to connect as many times as ``retries.ledger`` in config says, then fails saying so. With the
server back, the next night voids what the failed one decided and publishes exactly what a night that never
met the outage publishes (a reference pair of nights on SQLite)."""

from __future__ import annotations

import datetime as dt
import time

import pandas as pd
import pytest

from flows.adapters.ledger import Ledger
from flows.pipeline import run_night
from tests.faults.district import EXPORTS, KEPT_FACTS, complete_run, exports, left_by
from tests.faults.pg_outage import PrivatePostgres
from tests.nights import config_copy

AS_OF = dt.date(2022, 3, 1)
ATTEMPTS = 2
pytestmark = pytest.mark.xdist_group("fault-nights")


@pytest.fixture
def server(tmp_path):
    pg = PrivatePostgres(tmp_path / "pg")
    try:
        yield pg
    finally:
        pg.destroy()


def test_the_ledger_server_going_away_fails_the_night_cleanly_and_the_next_is_correct(
        tmp_path, district, reference, server, cfg, monkeypatch, tally):
    from flows.nightly import nightly_consolidation

    night_a, night_b = district
    conf = config_copy(tmp_path / "config", retries={"google": {"attempts": 1, "delay_seconds": [0]},
                                                     "ledger": {"attempts": ATTEMPTS, "delay_seconds": [0]}})
    out, url = tmp_path / "out", server.url
    first, _ = run_night(night_a, cfg, out, AS_OF, url)

    import flows.pipeline

    allocate = flows.pipeline.allocate_supports

    def server_gone_then_allocate(*args, **kwargs):
        server.stop()
        return allocate(*args, **kwargs)

    tally.injected()
    monkeypatch.setattr(flows.pipeline, "allocate_supports", server_gone_then_allocate)
    time.sleep(1 - time.time() % 1)  # run ids are to the second
    state = nightly_consolidation(sources_dir=str(night_b), config_dir=str(conf), out_dir=str(out),
                                  as_of=AS_OF.isoformat(), ledger_url=url, lock_wait=0, return_state=True)
    monkeypatch.undo()
    assert state.is_failed()
    assert "allocate" in state.message and "sổ cái" in state.message and "không thử lại" in state.message, \
        state.message
    assert complete_run(out / "latest") == first.run_id and not list(out.glob("*.partial"))

    time.sleep(1 - time.time() % 1)
    down = nightly_consolidation(sources_dir=str(night_b), config_dir=str(conf), out_dir=str(out),
                                 as_of=AS_OF.isoformat(), ledger_url=url, lock_wait=0, return_state=True)
    assert down.is_failed()
    assert "ledger" in down.message and f"đã thử {ATTEMPTS} lần" in down.message, down.message
    assert complete_run(out / "latest") == first.run_id

    server.start()
    time.sleep(1 - time.time() % 1)
    last, last_dir = run_night(night_b, cfg, out, AS_OF, url, lock_wait=0)  # the locks went with the night
    assert complete_run(out / "latest") == last.run_id
    with Ledger(url) as ledger:
        runs = ledger.runs().set_index("run_id")["status"]
    (failed,) = [r for r, s in runs.items() if s == "failed"]
    assert runs[first.run_id] == runs[last.run_id] == "ok"
    assert set(left_by(url, failed)) <= KEPT_FACTS

    got, expected = exports(last_dir), reference.exports
    for name in EXPORTS:
        pd.testing.assert_frame_equal(got[name], expected[name], obj=name)
    assert last.counts == reference.counts
    tally.rows_lost(len(expected["students.csv"]) - len(got["students.csv"].merge(expected["students.csv"])))
    tally.survived()

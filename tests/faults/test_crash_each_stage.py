"""SIGKILL (as the OOM killer sends it) inside each stage of the night in turn, on a small district.

One ledger and output folder live through: a complete night on night A's sources, then, on night B's, a night
killed on entering each stage (publish: once its run folder is half written), then a night that completes. After
each kill ``latest`` is still night A's complete run and nothing of the night is left running; each next night
clears what the killed one left (its ``.partial`` folder, its run marked failed, its allocation decisions voided:
the protocol in ``flows/adapters/ledger/runs.py``). The last night publishes exactly what a night on a ledger that
never saw a kill publishes (a reference pair of nights A, B): nothing lost, nothing decided twice, every change
reported once.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

import pandas as pd
import pytest

from flows.adapters.ledger import Ledger
from flows.pipeline import run_night
from tests.faults.district import EXPORTS, KEPT_FACTS, complete_run, exports, left_by, session_processes

pytestmark = [pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork and /proc are Linux's"),
              pytest.mark.xdist_group("fault-nights")]

AS_OF = dt.date(2022, 3, 1)
STAGES = ["sources", "layout", "normalize", "validate", "dedupe", "allocate", "publish"]


def _killer(stage: str, out: Path):
    """The ``step`` of a night that SIGKILLs itself on entering ``stage`` (publish: once a file is written)."""

    def step(name, fn, *args):
        if name == stage:
            if stage != "publish":
                os.kill(os.getpid(), signal.SIGKILL)

            def when_half_written():
                while not any(p.is_file() for p in out.glob("*.partial/**/*")):
                    time.sleep(0.005)
                os.kill(os.getpid(), signal.SIGKILL)

            threading.Thread(target=when_half_written, daemon=True).start()
        return fn(*args)

    return step


def _killed_night(sources: Path, cfg, out: Path, url: str, stage: str) -> int:
    """A night forked from this (already warm) process, in a session of its own, killed in ``stage``."""
    pid = os.fork()
    if pid == 0:  # the night
        try:
            os.setsid()
            run_night(sources, cfg, out, AS_OF, url, step=_killer(stage, out), lock_wait=60)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(70)  # reached only when the night was not killed
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"the night was not killed in {stage}"
    return pid


def test_a_night_killed_in_each_stage_loses_nothing_and_the_next_completes(tmp_path, district, reference, cfg,
                                                                           tally):
    night_a, night_b = district

    out = tmp_path / "out"
    url = f"sqlite:///{out / 'ledger.sqlite'}"
    first, _ = run_night(night_a, cfg, out, AS_OF, url)
    killed: list[str] = []
    for stage in STAGES:
        tally.injected()
        time.sleep(1 - time.time() % 1)  # run ids are to the second: each night its own
        before = {p.name for p in out.iterdir()}
        pid = _killed_night(night_b, cfg, out, url, stage)
        assert complete_run(out / "latest") == first.run_id, stage
        deadline = time.monotonic() + 10
        while session_processes(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert session_processes(pid) == [], f"processes of the night killed in {stage} outlived it"
        with Ledger(url) as ledger:
            runs = ledger.runs()
        (run_id,) = set(runs["run_id"]) - {first.run_id, *killed}
        assert list(runs.loc[runs["run_id"] == run_id, "status"]) == ["running"]
        left = left_by(url, run_id)
        if STAGES.index(stage) <= STAGES.index("dedupe"):
            # before the dedupe stage the night writes only what it read (the sources' snapshots, kept for replay)
            assert set(left) <= {"source_snapshots", "run_sources"}, (stage, left)
        if killed:  # this night, on opening, recovered the one killed before it
            assert set(left_by(url, killed[-1])) <= KEPT_FACTS, (stage, left_by(url, killed[-1]))
            assert f"{killed[-1]}.partial" not in {p.name for p in out.iterdir()}
        if stage == "publish":
            assert f"{run_id}.partial" in {p.name for p in out.iterdir()} - before  # it was half written
        killed.append(run_id)
        tally.survived()

    time.sleep(1 - time.time() % 1)
    last, last_dir = run_night(night_b, cfg, out, AS_OF, url)
    assert complete_run(out / "latest") == last.run_id
    assert not list(out.glob("*.partial"))
    with Ledger(url) as ledger:
        runs = ledger.runs().set_index("run_id")["status"]
    assert [runs[r] for r in killed] == ["failed"] * len(STAGES) and runs[last.run_id] == "ok"
    for run_id in killed:
        assert set(left_by(url, run_id)) <= KEPT_FACTS, (run_id, left_by(url, run_id))

    got, expected = exports(last_dir), reference.exports
    for name in EXPORTS:
        pd.testing.assert_frame_equal(got[name], expected[name], obj=name)
    assert len(expected["changes.csv"]) > 0  # night B changed something, and the last night reported it
    assert last.counts == reference.counts
    tally.rows_lost(len(expected["students.csv"]) - len(got["students.csv"].merge(expected["students.csv"])))

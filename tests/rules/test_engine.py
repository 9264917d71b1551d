"""The rule engine's worker process (flows.rules.engine): the same answers as Great Expectations in the night's own
process, and a worker that is killed, cannot start or is turned off never stops validation."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from flows.rules import engine
from flows.rules.validate import validate_students_for_docs
from tests.helpers import students

AS_OF = dt.date(2022, 3, 1)


def _rows():
    return students(
        {"full_name": ""},
        {"full_name": "Trần Văn Cường", "date_of_birth": "", "birth_year": None, "raw_date_of_birth": "32/13/2012"},
        {"full_name": "Phạm Thị Dung", "grade": 11},
        {"full_name": "Hoàng Văn Em", "lacks_device": False, "lacks_internet": False},
        {"full_name": "Lê Thị Hoa", "phone": "09123", "raw_phone": "09123"},
        {"full_name": "Nguyễn Văn An"},
    )


def _same(a, b):
    pd.testing.assert_frame_equal(a[0], b[0])
    assert a[1] == b[1]
    assert json.dumps(a[2], sort_keys=True) == json.dumps(b[2], sort_keys=True)


@pytest.fixture
def in_process(cfg, monkeypatch):
    """The answer with Great Expectations in this process."""
    monkeypatch.setenv(engine.ENV, "0")
    engine.stop()
    answer = validate_students_for_docs(_rows(), {}, cfg, AS_OF)
    monkeypatch.delenv(engine.ENV)
    return answer


def test_the_worker_answers_as_the_night_process_would(cfg, in_process):
    requests = engine.WORKER_STATS["requests"]
    assert engine.start()
    by_worker = validate_students_for_docs(_rows(), {}, cfg, AS_OF)
    assert engine.WORKER_STATS["requests"] == requests + 1  # it went through the worker
    assert {i.rule for i in by_worker[1]} >= {"name_present", "date_valid", "grade_in_range", "need_marked"}
    _same(by_worker, in_process)


def test_a_killed_worker_does_not_stop_validation(cfg, in_process, caplog):
    assert engine.start()
    os.kill(engine.worker_pid(), signal.SIGKILL)
    fallbacks = engine.WORKER_STATS["fallbacks"]
    with caplog.at_level(logging.WARNING, logger="flows.rules.engine"):
        answer = validate_students_for_docs(_rows(), {}, cfg, AS_OF)
    _same(answer, in_process)
    # the kill is seen either as a dead worker before the request, then a new one answers, or as one lost on it
    assert engine.WORKER_STATS["fallbacks"] == fallbacks + 1 or engine.worker_pid() is not None
    engine.stop()


def test_a_worker_lost_during_a_request_falls_back(cfg, in_process, caplog):
    assert engine.start()
    worker = engine._worker

    class DiesOnTheWay:
        """The worker's pipe: the worker is killed as the request is sent."""

        def __init__(self, conn):  # noqa: ANN001
            self.conn = conn

        def send(self, message):  # noqa: ANN001, ANN202
            self.conn.send(message)
            os.kill(worker.process.pid, signal.SIGKILL)

        def __getattr__(self, name):  # noqa: ANN001, ANN204
            return getattr(self.conn, name)

    worker.conn = DiesOnTheWay(worker.conn)
    fallbacks = engine.WORKER_STATS["fallbacks"]
    with caplog.at_level(logging.WARNING, logger="flows.rules.engine"):
        answer = validate_students_for_docs(_rows(), {}, cfg, AS_OF)
    _same(answer, in_process)
    assert engine.WORKER_STATS["fallbacks"] == fallbacks + 1
    assert any("lost" in r.getMessage() for r in caplog.records)
    assert engine.worker_pid() is None  # discarded; the next request starts another


def test_turned_off_no_worker_starts(cfg, monkeypatch):
    engine.stop()
    monkeypatch.setenv(engine.ENV, "0")
    assert not engine.start()
    assert engine.worker_pid() is None


def test_stop_ends_the_worker():
    assert engine.start()
    process = engine._worker.process
    engine.stop()
    assert engine.worker_pid() is None
    assert process.poll() is not None  # ended and reaped


def test_the_night_process_never_imports_great_expectations(tmp_path):
    """Validation and the Data Docs in a fresh process: Great Expectations only in the worker."""
    code = textwrap.dedent(f"""
        import datetime as dt, sys
        from flows.config import load_config
        from flows.rules import datadocs
        from flows.rules.validate import validate_students_for_docs
        from tests.helpers import students
        cfg = load_config()
        df, issues, summary = validate_students_for_docs(students({{"full_name": "", "grade": 11}}), {{}}, cfg,
                                                         dt.date(2022, 3, 1))
        index = datadocs.build(summary, cfg, "r1", dt.datetime(2022, 3, 1, 2), __import__("pathlib").Path({str(tmp_path / "dd")!r}))
        print(len(issues), index is not None and index.exists(), "great_expectations" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, engine.ENV: "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    issues, docs, imported = done.stdout.split()
    assert int(issues) >= 2 and docs == "True" and imported == "False"


def test_the_worker_ends_with_a_killed_night():
    """SIGKILL to the night's process (while its worker may still be importing Great Expectations): the worker
    leaves at once, it does not outlive the night."""
    code = ("import sys, time; from flows.rules import engine; engine.start(); print(engine.worker_pid(), flush=True); "
            "time.sleep(600)")
    night = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, engine.ENV: "1"})
    try:
        pid = int(night.stdout.readline())
        os.kill(night.pid, signal.SIGKILL)
        night.wait(30)
        import time

        deadline = time.monotonic() + 10
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(pid), "the worker outlived the killed night"
    finally:
        if night.poll() is None:
            night.kill()


def _running(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_a_forked_process_starts_its_own_worker():
    assert engine.start()
    parent_worker = engine.worker_pid()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's worker is not its own
        try:
            os.write(write, str(engine.worker_pid()).encode())
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 100) == b"None"
    assert engine.worker_pid() == parent_worker  # the parent's is untouched

"""One night at a time per ledger: a second night waits or stops with a message naming the first; the lock of a
night killed with SIGKILL is gone at once (the kernel or PostgreSQL drops it), on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.adapters.night_lock import NightLocked, night_lock
from tests.pg import postgres_url  # noqa: F401  (module-scoped fixture: a fresh PostgreSQL database)

ROOT = Path(__file__).resolve().parents[2]
HOLD = """
import pathlib, sys, time
from flows.adapters.night_lock import night_lock
with night_lock(sys.argv[1], pathlib.Path(sys.argv[2]), wait_seconds=0):
    pathlib.Path(sys.argv[3]).write_text("held")
    time.sleep(float(sys.argv[4]))
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'out' / 'ledger.sqlite'}"
    return request.getfixturevalue("postgres_url")


def _holder(url: str, out: Path, marker: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, url, str(out), str(marker), str(seconds)], cwd=ROOT)
    for _ in range(600):
        if marker.exists():
            return proc
        assert proc.poll() is None, "the holder exited before taking the lock"
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the holder never took the lock")


def test_a_second_night_stops_with_a_message_naming_the_first(tmp_path, ledger_url):
    out = tmp_path / "out"
    first = _holder(ledger_url, out, tmp_path / "held", 600)
    try:
        with pytest.raises(NightLocked) as exc:
            with night_lock(ledger_url, out, wait_seconds=0):
                pass
        message = str(exc.value)
        assert f"pid {first.pid}" in message and "Một lần chạy tổng hợp khác" in message and "--wait" in message
        # another output folder, the same ledger: still one night at a time
        with pytest.raises(NightLocked) as exc:
            with night_lock(ledger_url, tmp_path / "elsewhere", wait_seconds=0):
                pass
        if ledger_url.startswith("postgresql"):
            assert "PostgreSQL" in str(exc.value) and f"pid {first.pid}" in str(exc.value)
    finally:
        first.kill()
        first.wait()


def test_a_second_night_waits_up_to_its_timeout(tmp_path, ledger_url):
    out = tmp_path / "out"
    first = _holder(ledger_url, out, tmp_path / "held", 600)
    now = [0.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    try:
        with pytest.raises(NightLocked):
            with night_lock(ledger_url, out, wait_seconds=5, poll_seconds=1, clock=lambda: now[0], sleep=sleep):
                pass
        assert sleeps == [1] * 5
    finally:
        first.kill()
        first.wait()
    # a night that ends while the next one waits lets it through
    first = _holder(ledger_url, out, tmp_path / "held-again", 2)
    with night_lock(ledger_url, out, wait_seconds=120, poll_seconds=0.2):
        assert first.poll() is not None or first.wait(timeout=30) == 0


def test_the_lock_of_a_killed_night_is_released(tmp_path, ledger_url):
    out = tmp_path / "out"
    first = _holder(ledger_url, out, tmp_path / "held", 600)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    with night_lock(ledger_url, out, wait_seconds=10, poll_seconds=0.2):
        with pytest.raises(NightLocked):  # and it is ours now
            with night_lock(ledger_url, out, wait_seconds=0):
                pass

"""Shared test setup: an isolated Prefect home per test process, quiet telemetry, the real config."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_PREFECT_HOME = Path(tempfile.mkdtemp(prefix="songmaytinh-prefect-"))
os.environ["PREFECT_HOME"] = str(_PREFECT_HOME)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
# each test process starts its own temporary Prefect server once; on a loaded 2-core machine that can take minutes
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")
os.environ.pop("SONGMAYTINH_LEDGER_URL", None)

import pytest  # noqa: E402

from flows.config import load_config  # noqa: E402


@pytest.fixture(scope="session")
def cfg():
    return load_config()


@pytest.fixture
def fake():
    """The fake Google server (token, Drive v3, Sheets v4) on a free local port."""
    from tests.fake_google import FakeGoogle

    server = FakeGoogle()
    server.serve()
    yield server
    server.stop()
    assert server.errors == []  # the fake itself never failed


@pytest.fixture
def key(fake):
    """A throwaway service-account key whose token endpoint is the fake server."""
    from tests.fake_google import service_account

    return service_account(fake)


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd) on a free local port; ``smtp.messages`` holds what it received, parsed."""
    from tests.nights import SmtpSink

    sink = SmtpSink().start()
    yield sink
    sink.stop()


# --- The fault tests' tally (issue 15): each records what it injected and what it checked through ``tally``; the
# run ends with one line summing them, read from the test reports' user_properties (which pytest-xdist carries
# from its workers to the controller).
_TALLY = "songmaytinh_tally"
_TALLY_KEYS = ("injected", "survived", "hostile_tried", "hostile_reported", "rows_lost", "personal_data")


class FaultTally:
    """``injected()`` a fault, ``survived()`` once the test checked the night came through it; ``hostile_tried()``
    a hostile file, ``hostile_reported()`` once its one clear issue was seen; ``rows_lost(n)`` and
    ``personal_data(n)`` (names, birth dates, phones, or a secret such as a key, found where they must not be)
    what the test measured (it asserts 0 too)."""

    def __init__(self, node: pytest.Item) -> None:
        self._node = node

    def _add(self, key: str, n: int) -> None:
        self._node.user_properties.append((_TALLY, (key, int(n))))

    def injected(self, n: int = 1) -> None:
        self._add("injected", n)

    def survived(self, n: int = 1) -> None:
        self._add("survived", n)

    def hostile_tried(self, n: int = 1) -> None:
        self._add("hostile_tried", n)

    def hostile_reported(self, n: int = 1) -> None:
        self._add("hostile_reported", n)

    def rows_lost(self, n: int) -> None:
        self._add("rows_lost", n)

    def personal_data(self, n: int) -> None:
        self._add("personal_data", n)


@pytest.fixture
def tally(request) -> FaultTally:
    return FaultTally(request.node)


def tally_totals(reports) -> dict[str, int]:
    totals = dict.fromkeys(_TALLY_KEYS, 0)
    for report in reports:
        if getattr(report, "when", None) != "call":
            continue
        for name, value in getattr(report, "user_properties", ()):
            if name == _TALLY:
                key, n = value
                totals[key] += n
    return totals


def pytest_unconfigure(config) -> None:
    """The tally's line, last in the output (after pytest's own "N passed" line), on the controller only."""
    terminalreporter = config.pluginmanager.get_plugin("terminalreporter")
    if terminalreporter is None or hasattr(config, "workerinput"):
        return
    reports = [r for rs in terminalreporter.stats.values() for r in rs if hasattr(r, "user_properties")]
    if not any(name == _TALLY for r in reports for name, _ in r.user_properties):
        return  # no fault test ran
    t = tally_totals(reports)
    terminalreporter.write_line(
        f"faults injected {t['injected']} / survived {t['survived']} · hostile files tried {t['hostile_tried']} / "
        f"reported {t['hostile_reported']} · rows lost {t['rows_lost']} · personal data in logs {t['personal_data']}")

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

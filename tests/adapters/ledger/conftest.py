"""The ledger on SQLite and on a real PostgreSQL server (every test runs on both): one module per part of the ledger."""

from __future__ import annotations

import pytest

from flows.adapters.ledger import Ledger
from tests.adapters.ledger.helpers import Clock
from tests.pg import fresh_schema, postgres_url  # noqa: F401  (postgres_url: fixture)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    return fresh_schema(request.getfixturevalue("postgres_url"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(backend_url: str, clock: Clock):
    with Ledger(backend_url, clock=clock) as led:
        led.migrate()
        yield led

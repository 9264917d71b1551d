"""PostgreSQL for tests: the server that ``tests/pg_server.sh`` started (``tests/run.sh`` does it for you).

Use in a test module::

    from tests.pg import postgres_url  # noqa: F401  (a module-scoped fixture: a fresh database per module)

    def test_something(postgres_url): ...

Without ``SONGMAYTINH_TEST_PG_URL`` the fixture FAILS (it never skips): PostgreSQL is part of the suite.
Start a server by hand with ``eval "$(bash tests/pg_server.sh start)"``.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

ENV_VAR = "SONGMAYTINH_TEST_PG_URL"


def server_url() -> str:
    """The server URL (its maintenance database), or a test failure saying how to get one."""
    url = os.environ.get(ENV_VAR, "").strip()
    if not url:
        pytest.fail(
            f"{ENV_VAR} is not set: run the suite with `make test` / `bash tests/run.sh`, or start a server with "
            '`eval "$(bash tests/pg_server.sh start)"`',
            pytrace=False,
        )
    return url


def _execute(url: str | sa.engine.URL, statement: str) -> None:
    """Run one DDL statement outside a transaction (CREATE/DROP DATABASE need that)."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def create_database(prefix: str = "t") -> str:
    """Create an empty database on the test server; returns its SQLAlchemy URL."""
    base = sa.engine.make_url(server_url())
    name = re.sub(r"[^a-z0-9_]", "_", f"{prefix}_{uuid.uuid4().hex[:10]}".lower())[:60]
    _execute(base, f'CREATE DATABASE "{name}"')
    return base.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    name = sa.engine.make_url(url).database
    _execute(server_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test module (dropped afterwards)."""
    url = create_database(request.module.__name__.rsplit(".", 1)[-1])
    try:
        yield url
    finally:
        drop_database(url)


def fresh_schema(url: str, prefix: str = "s") -> str:
    """A new empty schema in the database at ``url``; returns a URL whose connections use only that schema.

    Cheaper than a database per test: tests of one module share the module's database, one schema each.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _execute(url, f'CREATE SCHEMA "{name}"')
    scoped = sa.engine.make_url(url).update_query_dict({"options": f"-csearch_path={name}"})
    return scoped.render_as_string(hide_password=False)

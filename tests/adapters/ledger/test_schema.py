"""The schema: built by the migrations, equal to the table definitions, enforcing once per student."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from flows.adapters.ledger import Ledger, schema
from tests.adapters.ledger.helpers import T0, active, alloc_rows
from tests.pg import ENV_VAR, server_url


def test_migrate_builds_the_schema_the_code_expects_and_is_repeatable(ledger: Ledger) -> None:
    ledger.migrate()  # second time: nothing to do
    assert ledger.schema_revision() == ledger.head_revision() == "0004_change_log_other_person"
    with ledger.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), schema.metadata)
        tables = set(sa.inspect(conn).get_table_names())
    assert diffs == []
    assert {"persons", "person_aliases", "record_links", "allocations", "handovers", "decisions", "runs",
            "change_log", "overrides", "follow_ups"} <= tables


def test_the_allocation_migration_goes_down_and_up_again(ledger: Ledger) -> None:
    ledger.record_allocations("r1", alloc_rows(("HS000001", "device", "tablet", "D1", "allocated")))
    command.downgrade(ledger._alembic_config(), "0002_source_snapshots")
    with ledger.engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        columns = {c["name"] for c in sa.inspect(conn).get_columns("allocations")}
    assert not {"overrides", "follow_ups"} & tables and "left_when_turn" not in columns
    ledger.migrate()
    assert ledger.schema_revision() == "0004_change_log_other_person"
    assert active(ledger) == {("HS000001", "device", "tablet", "D1", "provisional")}  # allocations survive


def test_a_fresh_database_has_no_tables_until_migrated(backend_url: str) -> None:
    led = Ledger(backend_url)
    try:
        with led.engine.connect() as conn:
            assert "allocations" not in sa.inspect(conn).get_table_names()
        assert led.schema_revision() is None
    finally:
        led.close()


def test_at_most_one_active_allocation_per_person_and_need_is_enforced_by_the_database(ledger: Ledger) -> None:
    row = {"person_id": "HS000001", "need": "device", "item": "tablet", "donation_id": "D1",
           "status": "provisional", "allocated_at": T0.replace(tzinfo=None)}
    with ledger.engine.begin() as conn:
        conn.execute(sa.insert(schema.allocations), [row])
    with pytest.raises(sa.exc.IntegrityError):
        with ledger.engine.begin() as conn:
            conn.execute(sa.insert(schema.allocations), [{**row, "status": "handed_over"}])
    with ledger.engine.begin() as conn:  # history rows are free; another need is another support
        conn.execute(sa.insert(schema.allocations), [{**row, "status": "released"},
                                                            {**row, "need": "internet", "item": "internet_package"}])
    with pytest.raises(sa.exc.IntegrityError):  # an internet package cannot serve a device need
        with ledger.engine.begin() as conn:
            conn.execute(sa.insert(schema.allocations), [{**row, "person_id": "HS2", "item": "internet_package"}])


def test_postgres_tests_fail_rather_than_skip_without_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(pytest.fail.Exception, match=ENV_VAR):
        server_url()

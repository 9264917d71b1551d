"""Ledger schema: persons and their links, allocations, handovers, officer decisions, runs, change log.

Revision ID: 0001
Revises:
Create Date: 2021-12-01

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ACTIVE = sa.text("status IN ('provisional', 'handed_over')")
ITEMS = "('desktop', 'laptop', 'tablet', 'smartphone', 'internet_package')"


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("person_id", sa.String(32), primary_key=True),
        sa.Column("created_run", sa.String(64), nullable=True),
        sa.Column("first_seen", sa.Date, nullable=False),
        sa.Column("fingerprint", sa.String(200), nullable=True),
    )
    op.create_table(
        "person_aliases",
        sa.Column("alias_id", sa.String(32), primary_key=True),
        sa.Column("person_id", sa.String(32), sa.ForeignKey("persons.person_id"), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("merged_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "record_links",
        sa.Column("fingerprint", sa.String(200), primary_key=True),
        sa.Column("person_id", sa.String(32), sa.ForeignKey("persons.person_id"), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("linked_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_record_links_person", "record_links", ["person_id"])
    op.create_table(
        "id_counters",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("last_value", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(sa.table("id_counters", sa.column("name"), sa.column("last_value")),
                   [{"name": "person", "last_value": 0}])
    op.create_table(
        "allocations",
        sa.Column("allocation_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.String(32), nullable=False),
        sa.Column("need", sa.String(16), nullable=False),
        sa.Column("item", sa.String(32), nullable=False),
        sa.Column("donation_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("allocated_at", sa.DateTime, nullable=False),
        sa.Column("released_at", sa.DateTime, nullable=True),
        sa.Column("released_run", sa.String(64), nullable=True),
        sa.Column("release_rule", sa.String(64), nullable=True),
        # identity as known when allocated, so later nights can match new records against past recipients
        sa.Column("full_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("date_of_birth", sa.String(10), nullable=False, server_default=""),
        sa.Column("commune_code", sa.String(16), nullable=False, server_default=""),
        sa.Column("school_code", sa.String(32), nullable=False, server_default=""),
        sa.Column("guardian_name", sa.String(200), nullable=False, server_default=""),
        sa.CheckConstraint("need IN ('device', 'internet')", name="ck_allocations_need"),
        sa.CheckConstraint(f"item IN {ITEMS}", name="ck_allocations_item"),
        sa.CheckConstraint("status IN ('provisional', 'handed_over', 'released')", name="ck_allocations_status"),
        sa.CheckConstraint("(need = 'internet') = (item = 'internet_package')", name="ck_allocations_item_need"),
    )
    # once per student: at most one active (provisional or handed-over) allocation per person and need
    op.create_index("uq_allocations_active", "allocations", ["person_id", "need"], unique=True,
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE)
    op.create_index("ix_allocations_status", "allocations", ["status"])
    op.create_table(
        "handovers",
        sa.Column("handover_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.String(32), nullable=False),
        sa.Column("need", sa.String(16), nullable=False),
        sa.Column("item", sa.String(32), nullable=False),
        sa.Column("serial", sa.String(100), nullable=False, server_default=""),
        sa.Column("date", sa.Date, nullable=True),
        sa.Column("received_by", sa.String(200), nullable=False, server_default=""),
        sa.Column("donation_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("source", sa.String(300), nullable=False, server_default=""),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("need IN ('device', 'internet')", name="ck_handovers_need"),
        sa.UniqueConstraint("person_id", "need", name="uq_handovers_person_need"),
    )
    op.create_table(
        "decisions",
        sa.Column("decision_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fingerprint_a", sa.String(200), nullable=False),
        sa.Column("fingerprint_b", sa.String(200), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=False, server_default=""),
        sa.Column("decided_at", sa.DateTime, nullable=True),
        sa.Column("source", sa.String(300), nullable=False, server_default=""),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("decision IN ('same', 'different')", name="ck_decisions_decision"),
        sa.UniqueConstraint("fingerprint_a", "fingerprint_b", name="uq_decisions_pair"),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("counts", sa.JSON, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.CheckConstraint("status IN ('running', 'ok', 'failed')", name="ck_runs_status"),
    )
    op.create_table(
        "change_log",
        sa.Column("change_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("person_id", sa.String(32), nullable=False),
        sa.Column("need", sa.String(16), nullable=False, server_default=""),
        sa.Column("before", sa.String(200), nullable=False, server_default=""),
        sa.Column("after", sa.String(200), nullable=False, server_default=""),
        sa.Column("rule", sa.String(64), nullable=False, server_default=""),
    )
    op.create_index("ix_change_log_run", "change_log", ["run_id"])


def downgrade() -> None:
    for index, table in (("ix_change_log_run", "change_log"), ("ix_allocations_status", "allocations"),
                         ("uq_allocations_active", "allocations"), ("ix_record_links_person", "record_links")):
        op.drop_index(index, table_name=table)
    for table in ("change_log", "runs", "decisions", "handovers", "allocations", "id_counters", "record_links",
                  "person_aliases", "persons"):
        op.drop_table(table)

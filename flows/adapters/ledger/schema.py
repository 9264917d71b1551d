"""The ledger's schema and connection, shared by every part: tables, the engine, migrations, time and text helpers.

The table definitions are used for queries; they mirror the alembic migrations in
``flows/adapters/ledger/migrations`` (a test compares the two), which alone create and change the schema
(``LedgerBase.migrate()``). Times are stored as naive UTC (``_naive_utc``); text is cut to its column before it is
written (``_fit``: PostgreSQL enforces lengths); long ``IN`` lists are queried in chunks (``_chunks``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Self

import pandas as pd
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flows.frames import CHANGE_COLUMNS  # noqa: F401 - the change log's columns, with its table
from flows.text import as_text

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DEFAULT_URL = "sqlite:///outputs/ledger.sqlite"
IDENTITY_FIELDS = ["full_name", "date_of_birth", "commune_code", "school_code", "guardian_name"]
_CHUNK = 500

# Table definitions used for queries; they mirror the migrations (a test compares the two).
metadata = sa.MetaData()
persons = sa.Table(
    "persons", metadata,
    sa.Column("person_id", sa.String(32), primary_key=True),
    sa.Column("created_run", sa.String(64)),
    sa.Column("first_seen", sa.Date, nullable=False),
    sa.Column("fingerprint", sa.String(200)),
)
person_aliases = sa.Table(
    "person_aliases", metadata,
    sa.Column("alias_id", sa.String(32), primary_key=True),
    sa.Column("person_id", sa.String(32), sa.ForeignKey("persons.person_id"), nullable=False),
    sa.Column("run_id", sa.String(64)),
    sa.Column("merged_at", sa.DateTime, nullable=False),
)
record_links = sa.Table(
    "record_links", metadata,
    sa.Column("fingerprint", sa.String(200), primary_key=True),
    sa.Column("person_id", sa.String(32), sa.ForeignKey("persons.person_id"), nullable=False),
    sa.Column("run_id", sa.String(64)),
    sa.Column("linked_at", sa.DateTime, nullable=False),
    sa.Index("ix_record_links_person", "person_id"),
)
id_counters = sa.Table(
    "id_counters", metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("last_value", sa.BigInteger, nullable=False),
)
allocations = sa.Table(
    "allocations", metadata,
    sa.Column("allocation_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("person_id", sa.String(32), nullable=False),
    sa.Column("need", sa.String(16), nullable=False),
    sa.Column("item", sa.String(32), nullable=False),
    sa.Column("donation_id", sa.String(64), nullable=False, server_default=""),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("run_id", sa.String(64)),
    sa.Column("allocated_at", sa.DateTime, nullable=False),
    sa.Column("released_at", sa.DateTime),
    sa.Column("released_run", sa.String(64)),
    sa.Column("release_rule", sa.String(64)),
    *[sa.Column(name, sa.String(10 if name == "date_of_birth" else 16 if name == "commune_code"
                                else 32 if name == "school_code" else 200), nullable=False, server_default="")
      for name in IDENTITY_FIELDS],
    sa.Column("left_when_turn", sa.String(200), nullable=False, server_default=""),
    sa.Index("ix_allocations_status", "status"),
    # once per student: at most one active allocation per person and need
    sa.Index("uq_allocations_active", "person_id", "need", unique=True,
             sqlite_where=sa.text("status IN ('provisional', 'handed_over')"),
             postgresql_where=sa.text("status IN ('provisional', 'handed_over')")),
)
handovers = sa.Table(
    "handovers", metadata,
    sa.Column("handover_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("person_id", sa.String(32), nullable=False),
    sa.Column("need", sa.String(16), nullable=False),
    sa.Column("item", sa.String(32), nullable=False),
    sa.Column("serial", sa.String(100), nullable=False, server_default=""),
    sa.Column("date", sa.Date),
    sa.Column("received_by", sa.String(200), nullable=False, server_default=""),
    sa.Column("donation_id", sa.String(64), nullable=False, server_default=""),
    sa.Column("source", sa.String(300), nullable=False, server_default=""),
    sa.Column("run_id", sa.String(64)),
    sa.Column("recorded_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("person_id", "need", name="uq_handovers_person_need"),
)
decisions = sa.Table(
    "decisions", metadata,
    sa.Column("decision_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("fingerprint_a", sa.String(200), nullable=False),
    sa.Column("fingerprint_b", sa.String(200), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("decided_by", sa.String(200), nullable=False, server_default=""),
    sa.Column("decided_at", sa.DateTime),
    sa.Column("source", sa.String(300), nullable=False, server_default=""),
    sa.Column("recorded_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("fingerprint_a", "fingerprint_b", name="uq_decisions_pair"),
)
runs = sa.Table(
    "runs", metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("counts", sa.JSON),
    sa.Column("status", sa.String(16), nullable=False),
)
change_log = sa.Table(
    "change_log", metadata,
    sa.Column("change_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("person_id", sa.String(32), nullable=False),
    sa.Column("need", sa.String(16), nullable=False, server_default=""),
    sa.Column("before", sa.String(200), nullable=False, server_default=""),
    sa.Column("after", sa.String(200), nullable=False, server_default=""),
    sa.Column("rule", sa.String(64), nullable=False, server_default=""),
    sa.Column("other_person_id", sa.String(32), nullable=False, server_default=""),
    sa.Index("ix_change_log_run", "run_id"),
)
overrides = sa.Table(
    "overrides", metadata,
    sa.Column("override_id", sa.String(40), primary_key=True),
    sa.Column("person_id", sa.String(32), nullable=False),
    sa.Column("need", sa.String(16), nullable=False, server_default=""),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("item", sa.String(32), nullable=False, server_default=""),
    sa.Column("donation_id", sa.String(64), nullable=False, server_default=""),
    sa.Column("officer", sa.String(200), nullable=False, server_default=""),
    sa.Column("reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("decided_on", sa.Date),
    sa.Column("source", sa.String(300), nullable=False, server_default=""),
    sa.Column("run_id", sa.String(64)),
    sa.Column("recorded_at", sa.DateTime, nullable=False),
    sa.Index("ix_overrides_person", "person_id"),
)
follow_ups = sa.Table(
    "follow_ups", metadata,
    sa.Column("follow_up_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("person_id", sa.String(32), nullable=False),
    sa.Column("need", sa.String(16), nullable=False),
    sa.Column("item", sa.String(32), nullable=False, server_default=""),
    sa.Column("serial", sa.String(100), nullable=False, server_default=""),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("checked_on", sa.Date),
    sa.Column("checked_by", sa.String(200), nullable=False, server_default=""),
    sa.Column("note", sa.String(500), nullable=False, server_default=""),
    sa.Column("source", sa.String(300), nullable=False, server_default=""),
    sa.Column("run_id", sa.String(64)),
    sa.Column("recorded_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("person_id", "need", "checked_on", name="uq_follow_ups_check"),
)
source_snapshots = sa.Table(
    "source_snapshots", metadata,
    sa.Column("snapshot_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source_id", sa.String(200), nullable=False),
    sa.Column("title", sa.String(500), nullable=False, server_default=""),
    sa.Column("modified_time", sa.String(40), nullable=False, server_default=""),
    sa.Column("fetched_at", sa.DateTime, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("grids", sa.LargeBinary, nullable=False),
    sa.UniqueConstraint("source_id", "modified_time", name="uq_source_snapshots_version"),
)
run_sources = sa.Table(
    "run_sources", metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("source_id", sa.String(200), primary_key=True),
    sa.Column("snapshot_id", sa.Integer, sa.ForeignKey("source_snapshots.snapshot_id"), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=False, server_default=""),
)
sheet_feedback = sa.Table(
    "sheet_feedback", metadata,
    sa.Column("source_id", sa.String(200), primary_key=True),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Column("written_at", sa.DateTime, nullable=False),
)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _naive_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def _date(value: Any) -> dt.date | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value)
    # an ISO day of pandas' range, as the stages write them, read directly (pandas reads it the same, slowly)
    if len(text) == 10 and text.isascii() and text[4] == text[7] == "-" and "1700" <= text[:4] <= "2199":
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass  # not a day of the calendar: read (and refused) below, as any other text
    ts = pd.to_datetime(text, errors="coerce")
    return None if pd.isna(ts) else ts.date()


def _datetime(value: Any) -> dt.datetime | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "":
        return None
    ts = pd.to_datetime(value, errors="coerce", utc=isinstance(value, str))
    if pd.isna(ts):
        return None
    return _naive_utc(ts.to_pydatetime())


def _chunks(values: list, size: int = _CHUNK) -> Iterable[list]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


def _fit(table: sa.Table, column: str, value: Any) -> str:
    """Text cut to the column's length: an officer's long note must not stop the night (PostgreSQL enforces it)."""
    return as_text(value)[: table.c[column].type.length]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class LedgerBase:
    """The connection every part of the ledger builds on: the engine, the clock (``_now``), the migrations.

    ``url``: SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://...``); ``clock`` returns "now" (aware or
    naive UTC); tests inject a fixed one. The parts never import one another: where one needs another's query
    (aliases resolved, a run's day, the allocations a merge moves), it calls it through ``self``, and ``Ledger``
    combines them all.
    """

    def __init__(self, url: str = DEFAULT_URL, *, clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self.url = sa.engine.make_url(url)
        self.clock = clock
        if self.url.get_backend_name() == "sqlite" and self.url.database not in (None, "", ":memory:"):
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(self.url, future=True)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)

    def _now(self) -> dt.datetime:
        return _naive_utc(self.clock())

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema ---------------------------------------------------------------------------------------------
    def _alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", self.url.render_as_string(hide_password=False).replace("%", "%%"))
        return cfg

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (alembic upgrade); safe to call every night."""
        cfg = self._alembic_config()
        chatter = logging.getLogger("alembic")
        level = chatter.level
        chatter.setLevel(max(level, logging.WARNING))  # "Running upgrade ..." is not news every night
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
        finally:
            chatter.setLevel(level)

    def schema_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

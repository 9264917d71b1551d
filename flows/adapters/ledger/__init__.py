"""The ledger: state that must survive nights — person ids, allocations, handovers, officer decisions, runs.

SQLAlchemy 2 (Core) over SQLite (a file, the default) or PostgreSQL (by URL); the schema is created and changed
only by the alembic migrations in ``flows/adapters/ledger/migrations`` (``Ledger.migrate()``). Stage code never sees SQL: the
nightly flow reads DataFrames from here, hands them to the plain stage functions and writes their results back.

Allocation rows: ``provisional`` (allocated, not yet handed over) and ``handed_over`` are *active*; at most one
active row per person and need (a partial unique index). ``released`` rows are history and keep the rule that
released them. Times are stored as naive UTC.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flows.text import as_text

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DEFAULT_URL = "sqlite:///outputs/ledger.sqlite"
PERSON_ID_PREFIX = "HS"
PERSON_ID_DIGITS = 6
ACTIVE_STATUSES = ("provisional", "handed_over")
ITEMS = ("desktop", "laptop", "tablet", "smartphone", "internet_package")
IDENTITY_FIELDS = ["full_name", "date_of_birth", "commune_code", "school_code", "guardian_name"]
ACTIVE_ALLOCATION_COLUMNS = ["person_id", "need", "item", "donation_id", "status", "run_id", "allocated_at",
                             *IDENTITY_FIELDS, "left_when_turn"]
DECISION_COLUMNS = ["fingerprint_a", "fingerprint_b", "decision", "decided_by", "decided_at", "source"]
CHANGE_COLUMNS = ["person_id", "need", "before", "after", "rule"]
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
OVERRIDE_FIELDS = ["person_id", "need", "action", "item", "donation_id", "officer", "reason", "decided_on"]
FOLLOW_UP_COLUMNS = ["person_id", "need", "item", "serial", "state", "checked_on", "checked_by", "note", "source"]
FOLLOW_UP_STATES = ("in_use", "broken", "lost")
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
_ACTIVE = allocations.c.status.in_(ACTIVE_STATUSES)


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
    ts = pd.to_datetime(str(value), errors="coerce")
    return None if pd.isna(ts) else ts.date()


def _datetime(value: Any) -> dt.datetime | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "":
        return None
    ts = pd.to_datetime(value, errors="coerce", utc=isinstance(value, str))
    if pd.isna(ts):
        return None
    return _naive_utc(ts.to_pydatetime())


def need_for_item(item: str) -> str:
    return "internet" if item == "internet_package" else "device"


def _chunks(values: list, size: int = _CHUNK) -> Iterable[list]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


class Ledger:
    """The ledger database. ``url``: SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://...``).

    ``clock`` returns "now" (aware or naive UTC); tests inject a fixed one.
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

    def __enter__(self) -> "Ledger":
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

    # --- runs ----------------------------------------------------------------------------------------------
    def begin_run(self, run_id: str, as_of: dt.date) -> None:
        """Record the start of a run (a rerun of the same id starts it again)."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(runs).where(runs.c.run_id == run_id))
            conn.execute(sa.insert(runs).values(run_id=run_id, as_of=as_of, started_at=self._now(),
                                                finished_at=None, counts=None, status="running"))

    def finish_run(self, run_id: str, counts: Mapping[str, int] | None = None, status: str = "ok") -> None:
        with self.engine.begin() as conn:
            done = conn.execute(sa.update(runs).where(runs.c.run_id == run_id).values(
                finished_at=self._now(), status=status,
                counts=json.loads(json.dumps(dict(counts or {}), default=int))))
            if done.rowcount != 1:
                raise KeyError(f"run {run_id!r} was not begun")

    def runs(self) -> pd.DataFrame:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(runs).order_by(runs.c.started_at, runs.c.run_id)).mappings().all()
        return pd.DataFrame([dict(r) for r in rows],
                            columns=["run_id", "as_of", "started_at", "finished_at", "counts", "status"])

    # --- person ids ----------------------------------------------------------------------------------------
    def next_person_ids(self, n: int) -> list[str]:
        """Reserve ``n`` new person ids ("HS000123"): monotonic, never handed out twice (even if unused)."""
        if n <= 0:
            return []
        with self.engine.begin() as conn:
            last = conn.execute(
                sa.update(id_counters).where(id_counters.c.name == "person")
                .values(last_value=id_counters.c.last_value + n).returning(id_counters.c.last_value)
            ).scalar_one()
        return [f"{PERSON_ID_PREFIX}{i:0{PERSON_ID_DIGITS}d}" for i in range(last - n + 1, last + 1)]

    def link_fingerprints(self, mapping: Mapping[str, str], run_id: str | None = None) -> int:
        """Store fingerprint -> person_id links (new or moved); unknown person ids are registered as persons.

        Links to an alias are stored against the surviving person. Returns the number of links written.
        """
        if not mapping:
            return 0
        now = self._now()
        with self.engine.begin() as conn:
            roots = self._resolve(conn, set(mapping.values()))
            wanted = {fp: roots.get(pid, pid) for fp, pid in mapping.items() if fp}
            first_seen = self._run_day(conn, run_id) or now.date()
            known = set()
            for chunk in _chunks(sorted(set(wanted.values()))):
                known |= set(conn.execute(sa.select(persons.c.person_id)
                                          .where(persons.c.person_id.in_(chunk))).scalars())
            new_persons = {}
            for fp, pid in sorted(wanted.items()):
                if pid not in known and pid not in new_persons:
                    new_persons[pid] = {"person_id": pid, "created_run": run_id, "first_seen": first_seen,
                                        "fingerprint": fp}
            if new_persons:
                conn.execute(sa.insert(persons), list(new_persons.values()))
            existing: dict[str, str] = {}
            for chunk in _chunks(sorted(wanted)):
                existing.update(conn.execute(sa.select(record_links.c.fingerprint, record_links.c.person_id)
                                             .where(record_links.c.fingerprint.in_(chunk))).all())
            inserts = [{"fingerprint": fp, "person_id": pid, "run_id": run_id, "linked_at": now}
                       for fp, pid in sorted(wanted.items()) if fp not in existing]
            moves = [(fp, pid) for fp, pid in sorted(wanted.items()) if fp in existing and existing[fp] != pid]
            if inserts:
                conn.execute(sa.insert(record_links), inserts)
            for fp, pid in moves:
                conn.execute(sa.update(record_links).where(record_links.c.fingerprint == fp)
                             .values(person_id=pid, run_id=run_id, linked_at=now))
        return len(inserts) + len(moves)

    def person_for_fingerprints(self, fingerprints: Iterable[str] | None = None) -> dict[str, str]:
        """fingerprint -> current person_id (aliases resolved) for the known ones; ``None`` = every link."""
        with self.engine.connect() as conn:
            query = sa.select(record_links.c.fingerprint, record_links.c.person_id)
            if fingerprints is None:
                links = dict(conn.execute(query).all())
            else:
                links = {}
                for chunk in _chunks(sorted({f for f in fingerprints if f})):
                    links.update(conn.execute(query.where(record_links.c.fingerprint.in_(chunk))).all())
            roots = self._resolve(conn, set(links.values()))
        return {fp: roots.get(pid, pid) for fp, pid in links.items()}

    def merge_persons(self, merges: Mapping[str, str], run_id: str | None = None) -> pd.DataFrame:
        """Merge clusters: each ``alias -> survivor`` (the oldest id survives; ids are monotonic, so the smallest).

        Links move to the survivor; the alias is kept in ``person_aliases``. Active allocations follow once per
        student: per need the survivor keeps a handed-over row if any, else the earliest; other provisional
        rows are released (rule ``merged``). Two handed-over rows (a child supported twice under two ids)
        both stay, as history. Returns the change rows (``CHANGE_COLUMNS``) for the change log.
        """
        changes: list[dict] = []
        if not merges:
            return pd.DataFrame(columns=CHANGE_COLUMNS)
        now = self._now()
        with self.engine.begin() as conn:
            for alias_in, survivor_in in sorted(merges.items()):
                roots = self._resolve(conn, {alias_in, survivor_in})
                alias, survivor = roots.get(alias_in, alias_in), roots.get(survivor_in, survivor_in)
                if alias == survivor:
                    continue  # already merged
                for pid in (alias, survivor):
                    if conn.execute(sa.select(persons.c.person_id).where(persons.c.person_id == pid)).first() \
                            is None:
                        conn.execute(sa.insert(persons).values(person_id=pid, created_run=run_id,
                                                               first_seen=now.date(), fingerprint=None))
                conn.execute(sa.update(person_aliases).where(person_aliases.c.person_id == alias)
                             .values(person_id=survivor))
                conn.execute(sa.insert(person_aliases).values(alias_id=alias, person_id=survivor, run_id=run_id,
                                                              merged_at=now))
                conn.execute(sa.update(record_links).where(record_links.c.person_id == alias)
                             .values(person_id=survivor, run_id=run_id, linked_at=now))
                changes += self._merge_allocations(conn, alias, survivor, run_id, now)
        return pd.DataFrame(changes, columns=CHANGE_COLUMNS)

    def _merge_allocations(self, conn: sa.Connection, alias: str, survivor: str, run_id: str | None,
                           now: dt.datetime) -> list[dict]:
        changes = []
        rows = conn.execute(sa.select(allocations).where(_ACTIVE, allocations.c.person_id.in_([alias, survivor]))
                            .order_by(allocations.c.need, allocations.c.allocated_at,
                                      allocations.c.allocation_id)).mappings().all()
        for need in ("device", "internet"):
            mine = [r for r in rows if r["need"] == need]
            if not mine:
                continue
            keep = next((r for r in mine if r["status"] == "handed_over"), mine[0])
            for r in mine:
                if r is keep or r["status"] == "handed_over":
                    continue
                conn.execute(sa.update(allocations).where(allocations.c.allocation_id == r["allocation_id"])
                             .values(status="released", released_at=now, released_run=run_id,
                                     release_rule="merged"))
                changes.append({"person_id": r["person_id"], "need": need, "before": _state(r),
                                "after": "released", "rule": "merged"})
            survivor_has = any(r["person_id"] == survivor and r["status"] == "handed_over" for r in mine
                               if r is not keep)
            if keep["person_id"] == alias and not survivor_has:
                conn.execute(sa.update(allocations).where(allocations.c.allocation_id == keep["allocation_id"])
                             .values(person_id=survivor))
                changes.append({"person_id": survivor, "need": need, "before": _state(keep),
                                "after": _state(keep), "rule": "merged"})
        return changes

    def known_person_ids(self, ids: Iterable[str]) -> set[str]:
        """Those of ``ids`` the ledger has issued (persons and merged-away aliases): an officer sheet that names
        any other id names nobody (a typo), and must not create a person."""
        wanted = sorted({i for i in (as_text(x) for x in ids) if i})
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted):
                found.update(conn.execute(sa.select(persons.c.person_id).where(persons.c.person_id.in_(chunk))).scalars())
                found.update(conn.execute(sa.select(person_aliases.c.alias_id)
                                          .where(person_aliases.c.alias_id.in_(chunk))).scalars())
        return found

    def aliases(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.select(person_aliases.c.alias_id, person_aliases.c.person_id)).all())

    @staticmethod
    def _resolve(conn: sa.Connection, ids: set[str]) -> dict[str, str]:
        """alias -> surviving person for those of ``ids`` that are aliases (aliases always point at a root)."""
        out: dict[str, str] = {}
        for chunk in _chunks(sorted(ids)):
            out.update(conn.execute(sa.select(person_aliases.c.alias_id, person_aliases.c.person_id)
                                    .where(person_aliases.c.alias_id.in_(chunk))).all())
        return out

    @staticmethod
    def _run_day(conn: sa.Connection, run_id: str | None) -> dt.date | None:
        if run_id is None:
            return None
        return conn.execute(sa.select(runs.c.as_of).where(runs.c.run_id == run_id)).scalar_one_or_none()

    # --- allocations ---------------------------------------------------------------------------------------
    def active_allocations(self) -> pd.DataFrame:
        """Provisional and handed-over allocations (``ACTIVE_ALLOCATION_COLUMNS``): the allocator's ``previous``."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*[allocations.c[c] for c in ACTIVE_ALLOCATION_COLUMNS]).where(_ACTIVE)
                                .order_by(allocations.c.person_id, allocations.c.need)).mappings().all()
        return pd.DataFrame([dict(r) for r in rows], columns=ACTIVE_ALLOCATION_COLUMNS)

    def allocation_history(self, person_id: str | None = None) -> pd.DataFrame:
        """Every allocation row, released ones included (for ``explain``)."""
        query = sa.select(allocations).order_by(allocations.c.allocation_id)
        if person_id is not None:
            query = query.where(allocations.c.person_id == person_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in allocations.columns])

    def record_allocations(self, run_id: str, allocation_rows: pd.DataFrame,
                           releases: pd.DataFrame | None = None) -> dict[str, int]:
        """Store tonight's allocations: rows with status ``allocated`` become provisional allocations.

        ``releases`` (person_id, need, rule — ``Allocation.releases``) are released first, with their rule.
        Idempotent: a person+need whose active row already has the same item and donation is untouched; a
        provisional row with another unit is released (rule ``reallocated``) and replaced. Handed-over rows are
        never changed here, and other statuses (waitlisted, no_coverage) are not stored.
        Returns counts: released, inserted, unchanged, reallocated.
        """
        counts = {"released": 0, "inserted": 0, "unchanged": 0, "reallocated": 0}
        if releases is not None and not releases.empty:
            counts["released"] = self.release(run_id, releases)
        if allocation_rows is None or allocation_rows.empty:
            return counts
        wanted = allocation_rows[allocation_rows["status"].astype(str) == "allocated"]
        now = self._now()
        with self.engine.begin() as conn:
            active = self._active_by_key(conn, sorted(set(wanted["person_id"].astype(str))))
            inserts = []
            for row in wanted.to_dict("records"):
                key = (as_text(row["person_id"]), as_text(row["need"]))
                item, donation = as_text(row.get("item")), as_text(row.get("donation_id"))
                if not item:
                    raise ValueError(f"allocation for {key} has no item")
                current = active.get(key)
                if current is not None:
                    if current["item"] == item and current["donation_id"] == donation:
                        counts["unchanged"] += 1
                        continue
                    if current["status"] == "handed_over":
                        raise ValueError(f"{key} was handed over; a handed-over allocation never changes")
                    conn.execute(sa.update(allocations).where(allocations.c.allocation_id == current["allocation_id"])
                                 .values(status="released", released_at=now, released_run=run_id,
                                         release_rule="reallocated"))
                    counts["reallocated"] += 1
                else:
                    counts["inserted"] += 1
                inserts.append({"person_id": key[0], "need": key[1], "item": item, "donation_id": donation,
                                "status": "provisional", "run_id": run_id, "allocated_at": now,
                                **{f: as_text(row.get(f)) for f in IDENTITY_FIELDS},
                                "left_when_turn": as_text(row.get("left_when_turn"))[:200]})
            if inserts:
                conn.execute(sa.insert(allocations), inserts)
        return counts

    def release(self, run_id: str, releases: pd.DataFrame) -> int:
        """Release provisional allocations: ``releases`` has person_id, need, rule (the documented reason) and
        optionally item, donation_id — then only an active allocation of that very unit is released, so
        applying the same releases again never touches a newer allocation.

        A handed-over allocation is never released (ValueError: that is a bug in the caller). Rows without a
        matching active allocation are ignored (idempotent). Returns the number released.
        """
        if releases is None or releases.empty:
            return 0
        now = self._now()
        done = 0
        with self.engine.begin() as conn:
            active = self._active_by_key(conn, sorted(set(releases["person_id"].astype(str))))
            for row in releases.to_dict("records"):
                key = (as_text(row["person_id"]), as_text(row["need"]))
                current = active.get(key)
                if current is None or any(
                        c in row and as_text(row[c]) and as_text(row[c]) != current[c] for c in ("item", "donation_id")):
                    continue
                if current["status"] == "handed_over":
                    raise ValueError(f"{key} was handed over; a handed-over allocation is never released")
                rule = as_text(row.get("rule")) or "released"
                conn.execute(sa.update(allocations).where(allocations.c.allocation_id == current["allocation_id"])
                             .values(status="released", released_at=now, released_run=run_id, release_rule=rule))
                del active[key]
                done += 1
        return done

    def record_handovers(self, run_id: str, rows: pd.DataFrame) -> pd.DataFrame:
        """Store handovers (person_id, item, serial, handover_date, received_by, donation_id, source_file).

        One handover per person and need (need from ``need`` if given, else from the item); re-reading the same
        sheet changes nothing, a corrected row updates the handover. The person's allocation for that need
        becomes ``handed_over`` (created if the device was handed over outside the allocation list); an
        allocation already handed over never changes. Rows without person_id or a known item are skipped.
        Returns the allocation changes (``CHANGE_COLUMNS``, rule ``handover``) for the change log.
        """
        changes: list[dict] = []
        if rows is None or rows.empty:
            return pd.DataFrame(columns=CHANGE_COLUMNS)
        now = self._now()
        records: list[dict] = []
        for row in rows.to_dict("records"):
            pid, item = as_text(row.get("person_id")), as_text(row.get("item"))
            if not pid or item not in ITEMS:
                continue
            records.append({
                "person_id": pid, "need": as_text(row.get("need")) or need_for_item(item), "item": item,
                "serial": _fit(handovers, "serial", row.get("serial")),
                "date": _date(row.get("handover_date", row.get("date"))),
                "received_by": _fit(handovers, "received_by", row.get("received_by")),
                "donation_id": _fit(handovers, "donation_id", row.get("donation_id")),
                "source": _fit(handovers, "source", row.get("source", row.get("source_file"))),
                "identity": {f: _fit(allocations, f, row.get(f)) for f in IDENTITY_FIELDS},
            })
        with self.engine.begin() as conn:
            roots = self._resolve(conn, {r["person_id"] for r in records})
            by_key: dict[tuple[str, str], dict] = {}
            for r in records:  # one handover per person and need: the last row read wins
                r["person_id"] = roots.get(r["person_id"], r["person_id"])
                by_key[(r["person_id"], r["need"])] = r
            records = [by_key[k] for k in sorted(by_key)]
            pids = sorted({r["person_id"] for r in records})
            active = self._active_by_key(conn, pids)
            known: dict[tuple[str, str], dict] = {}
            for chunk in _chunks(pids):
                for h in conn.execute(sa.select(handovers).where(handovers.c.person_id.in_(chunk))).mappings():
                    known[(h["person_id"], h["need"])] = dict(h)
            fields = ["item", "serial", "date", "received_by", "donation_id", "source"]
            for r in records:
                key = (r["person_id"], r["need"])
                values = {f: r[f] for f in fields}
                old = known.get(key)
                if old is None:
                    conn.execute(sa.insert(handovers).values(person_id=key[0], need=key[1], run_id=run_id,
                                                             recorded_at=now, **values))
                elif any(old[f] != values[f] for f in fields):
                    conn.execute(sa.update(handovers).where(handovers.c.handover_id == old["handover_id"])
                                 .values(run_id=run_id, recorded_at=now, **values))
                current = active.get(key)
                if current is not None and current["status"] == "handed_over":
                    continue
                if current is not None:
                    update = {"status": "handed_over", "item": r["item"],
                              "donation_id": r["donation_id"] or current["donation_id"]}
                    conn.execute(sa.update(allocations).where(allocations.c.allocation_id == current["allocation_id"])
                                 .values(**update))
                    after = {**current, **update}
                else:
                    after = {"status": "handed_over", "item": r["item"], "donation_id": r["donation_id"]}
                    conn.execute(sa.insert(allocations).values(
                        person_id=key[0], need=key[1], run_id=run_id, allocated_at=now,
                        **after, **r["identity"]))
                active[key] = {**after, "allocation_id": None}
                changes.append({"person_id": key[0], "need": key[1],
                                "before": _state(current) if current is not None else "",
                                "after": _state(after), "rule": "handover"})
        return pd.DataFrame(changes, columns=CHANGE_COLUMNS)

    def handovers(self) -> pd.DataFrame:
        cols = ["person_id", "need", "item", "serial", "date", "received_by", "donation_id", "source", "run_id"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*[handovers.c[c] for c in cols])
                                .order_by(handovers.c.person_id, handovers.c.need)).mappings().all()
        return pd.DataFrame([dict(r) for r in rows], columns=cols)

    def past_recipients(self) -> pd.DataFrame:
        """One row per supported person (an active allocation): person_id + identity fields stored when
        allocated (full_name, date_of_birth, commune_code, school_code, guardian_name), ``needs`` ("device",
        "internet" or "device,internet") and ``handed_over`` (bool: at least one need handed over)."""
        cols = ["person_id", *IDENTITY_FIELDS, "needs", "handed_over"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(allocations).where(_ACTIVE)
                                .order_by(allocations.c.person_id, allocations.c.allocated_at.desc(),
                                          allocations.c.allocation_id.desc())).mappings().all()
        out: dict[str, dict] = {}
        for r in rows:
            entry = out.get(r["person_id"])
            if entry is None:
                entry = out[r["person_id"]] = {"person_id": r["person_id"], **{f: r[f] for f in IDENTITY_FIELDS},
                                               "needs": set(), "handed_over": False}
            for f in IDENTITY_FIELDS:  # the latest non-empty value of each field
                if not entry[f] and r[f]:
                    entry[f] = r[f]
            entry["needs"].add(r["need"])
            entry["handed_over"] = entry["handed_over"] or r["status"] == "handed_over"
        for entry in out.values():
            entry["needs"] = ",".join(n for n in ("device", "internet") if n in entry["needs"])
        return pd.DataFrame(list(out.values()), columns=cols)

    @staticmethod
    def _active_by_key(conn: sa.Connection, person_ids: list[str]) -> dict[tuple[str, str], dict]:
        out: dict[tuple[str, str], dict] = {}
        for chunk in _chunks(person_ids):
            for r in conn.execute(sa.select(allocations).where(_ACTIVE, allocations.c.person_id.in_(chunk))).mappings():
                out[(r["person_id"], r["need"])] = dict(r)
        return out

    # --- officer decisions ---------------------------------------------------------------------------------
    def decisions(self) -> pd.DataFrame:
        """Officer decisions on record pairs (``DECISION_COLUMNS``); fingerprint_a < fingerprint_b."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*[decisions.c[c] for c in DECISION_COLUMNS])
                                .order_by(decisions.c.fingerprint_a, decisions.c.fingerprint_b)).mappings().all()
        return pd.DataFrame([dict(r) for r in rows], columns=DECISION_COLUMNS)

    def add_decisions(self, rows: pd.DataFrame) -> int:
        """Upsert decisions (same|different) keyed on the unordered fingerprint pair.

        A pair decided again is updated unless the stored decision is strictly newer (``decided_at``); the
        same row read again changes nothing. Returns the number of rows inserted or updated.
        """
        if rows is None or rows.empty:
            return 0
        incoming: dict[tuple[str, str], dict] = {}
        for row in rows.to_dict("records"):
            a, b = as_text(row.get("fingerprint_a")), as_text(row.get("fingerprint_b"))
            decision = as_text(row.get("decision")).lower()
            if not a or not b or a == b:
                raise ValueError(f"decision needs two different fingerprints, got {a!r}, {b!r}")
            if decision not in ("same", "different"):
                raise ValueError(f"decision must be 'same' or 'different', got {decision!r}")
            a, b = sorted((a, b))
            incoming[(a, b)] = {"fingerprint_a": a, "fingerprint_b": b, "decision": decision,
                                "decided_by": as_text(row.get("decided_by")),
                                "decided_at": _datetime(row.get("decided_at")), "source": as_text(row.get("source"))}
        now = self._now()
        written = 0
        with self.engine.begin() as conn:
            existing: dict[tuple[str, str], dict] = {}
            for chunk in _chunks(sorted({k[0] for k in incoming})):
                for r in conn.execute(sa.select(decisions).where(decisions.c.fingerprint_a.in_(chunk))).mappings():
                    existing[(r["fingerprint_a"], r["fingerprint_b"])] = dict(r)
            fields = ["decision", "decided_by", "decided_at", "source"]
            for key, new in sorted(incoming.items()):
                old = existing.get(key)
                if old is None:
                    conn.execute(sa.insert(decisions).values(**new, recorded_at=now))
                    written += 1
                    continue
                if all(old[f] == new[f] for f in fields):
                    continue
                if old["decided_at"] and new["decided_at"] and old["decided_at"] > new["decided_at"]:
                    continue
                conn.execute(sa.update(decisions).where(decisions.c.decision_id == old["decision_id"])
                             .values(**{f: new[f] for f in fields}, recorded_at=now))
                written += 1
        return written

    # --- change log ----------------------------------------------------------------------------------------
    def write_change_log(self, run_id: str, changes: pd.DataFrame) -> int:
        """Replace the run's change log with ``changes`` (``CHANGE_COLUMNS``); rerunning a run id rewrites it."""
        rows = [] if changes is None else [
            {"run_id": run_id, **{c: as_text(r.get(c)) for c in CHANGE_COLUMNS}} for r in changes.to_dict("records")]
        with self.engine.begin() as conn:
            conn.execute(sa.delete(change_log).where(change_log.c.run_id == run_id))
            if rows:
                conn.execute(sa.insert(change_log), rows)
        return len(rows)

    def change_log(self, run_id: str | None = None) -> pd.DataFrame:
        query = sa.select(change_log.c.run_id, *[change_log.c[c] for c in CHANGE_COLUMNS]) \
            .order_by(change_log.c.change_id)
        if run_id is not None:
            query = query.where(change_log.c.run_id == run_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return pd.DataFrame([dict(r) for r in rows], columns=["run_id", *CHANGE_COLUMNS])

    # -- source snapshots (Google Sheets): raw grids + provenance, so any night can be replayed offline --------

    def save_snapshot(self, snapshot: "Snapshot", run_id: str | None = None) -> int:
        """Store one fetched spreadsheet version (idempotent per source and modifiedTime); returns its id."""
        blob = zlib.compress(json.dumps(snapshot.payload(), ensure_ascii=False, separators=(",", ":"),
                                        default=str).encode("utf-8"), 6)
        digest = hashlib.sha256(blob).hexdigest()
        key = (source_snapshots.c.source_id == snapshot.source_id) & \
            (source_snapshots.c.modified_time == snapshot.modified_time)
        with self.engine.begin() as conn:
            found = conn.execute(sa.select(source_snapshots.c.snapshot_id).where(key)).scalar()
            values = {"title": snapshot.title, "fetched_at": self._now(), "run_id": run_id,
                      "content_sha256": digest, "grids": blob}
            if found is not None:
                conn.execute(sa.update(source_snapshots).where(key).values(**values))
                return int(found)
            result = conn.execute(sa.insert(source_snapshots).values(
                source_id=snapshot.source_id, modified_time=snapshot.modified_time, **values))
            return int(result.inserted_primary_key[0])

    def latest_snapshot(self, source_id: str) -> "Snapshot | None":
        """The most recently fetched good version of a source, or None."""
        query = sa.select(source_snapshots).where(source_snapshots.c.source_id == source_id) \
            .order_by(source_snapshots.c.fetched_at.desc(), source_snapshots.c.snapshot_id.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _snapshot(row) if row else None

    def record_run_sources(self, run_id: str, entries: Iterable[tuple[str, int | None, str, str]]) -> None:
        """Which snapshot each source of a run used: (source_id, snapshot_id, status, message)."""
        rows = [{"run_id": run_id, "source_id": sid, "snapshot_id": snap, "status": status, "message": message}
                for sid, snap, status, message in entries]
        with self.engine.begin() as conn:
            conn.execute(sa.delete(run_sources).where(run_sources.c.run_id == run_id))
            if rows:
                conn.execute(sa.insert(run_sources), rows)

    def run_snapshots(self, run_id: str) -> "dict[str, Snapshot]":
        """The snapshots a past run read, by source id (replaying that night offline)."""
        query = sa.select(source_snapshots).join(
            run_sources, run_sources.c.snapshot_id == source_snapshots.c.snapshot_id) \
            .where(run_sources.c.run_id == run_id)
        with self.engine.connect() as conn:
            return {row["source_id"]: _snapshot(row) for row in conn.execute(query).mappings()}

    def feedback_hash(self, source_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sheet_feedback.c.content_sha256)
                                .where(sheet_feedback.c.source_id == source_id)).scalar()

    def set_feedback_hash(self, source_id: str, digest: str, run_id: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(sheet_feedback).where(sheet_feedback.c.source_id == source_id))
            conn.execute(sa.insert(sheet_feedback).values(source_id=source_id, content_sha256=digest,
                                                          run_id=run_id, written_at=self._now()))


    # --- officer overrides and device-use follow-up ----------------------------------------------------
    def record_overrides(self, run_id: str, rows: pd.DataFrame) -> int:
        """Store officer overrides (person_id, need, action, item, donation_id, officer, reason, decided_on,
        source). An override is kept for good once read — removing its row from the sheet does not undo it
        (the officer writes a new override instead); the same row read again changes nothing. Its id is a
        digest of what it decides, so the allocator can apply and log it under the same id every night.
        Returns the number of overrides inserted."""
        if rows is None or rows.empty:
            return 0
        now = self._now()
        incoming: dict[str, dict] = {}
        for row in rows.to_dict("records"):
            values = {f: _fit(overrides, f, row.get(f)) for f in OVERRIDE_FIELDS if f != "decided_on"}
            if not values["person_id"] or not values["action"]:
                continue
            day = _date(row.get("decided_on"))
            values["decided_on"] = day.isoformat() if day else ""
            key = hashlib.sha1("|".join(values[f] for f in OVERRIDE_FIELDS).encode("utf-8")).hexdigest()[:16]
            incoming[key] = {**values, "decided_on": day, "source": _fit(overrides, "source", row.get("source"))}
        with self.engine.begin() as conn:
            known = set()
            for chunk in _chunks(sorted(incoming)):
                known |= set(conn.execute(sa.select(overrides.c.override_id)
                                          .where(overrides.c.override_id.in_(chunk))).scalars())
            new = [{"override_id": k, **v, "run_id": run_id, "recorded_at": now}
                   for k, v in sorted(incoming.items()) if k not in known]
            if new:
                conn.execute(sa.insert(overrides), new)
        return len(new)

    def overrides(self) -> pd.DataFrame:
        """Every stored override (``override_id`` + ``OVERRIDE_FIELDS`` + source), person ids resolved through
        merges; ``decided_on`` ISO text or ""."""
        cols = ["override_id", *OVERRIDE_FIELDS, "source"]
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(sa.select(*[overrides.c[c] for c in cols])
                                                  .order_by(overrides.c.override_id)).mappings()]
            roots = self._resolve(conn, {r["person_id"] for r in rows})
        for r in rows:
            r["person_id"] = roots.get(r["person_id"], r["person_id"])
            r["decided_on"] = r["decided_on"].isoformat() if r["decided_on"] else ""
        return pd.DataFrame(rows, columns=cols)

    def record_follow_ups(self, run_id: str, rows: pd.DataFrame) -> int:
        """Store device-use checks (``FOLLOW_UP_COLUMNS``; state in_use | broken | lost): one per person, need
        and check date — a corrected row updates it. Rows without person_id or a known state are skipped.
        Returns the number inserted or updated."""
        if rows is None or rows.empty:
            return 0
        now = self._now()
        fields = ["item", "serial", "state", "checked_by", "note", "source"]
        incoming: dict[tuple, dict] = {}
        for row in rows.to_dict("records"):
            pid, state = as_text(row.get("person_id")), as_text(row.get("state"))
            item = as_text(row.get("item"))
            if not pid or state not in FOLLOW_UP_STATES:
                continue
            need = as_text(row.get("need")) or (need_for_item(item) if item in ITEMS else "device")
            day = _date(row.get("checked_on"))
            incoming[(pid, need, day)] = {"person_id": pid, "need": need, "checked_on": day,
                                          **{f: _fit(follow_ups, f, row.get(f)) for f in fields}, "item": item}
        written = 0
        with self.engine.begin() as conn:
            roots = self._resolve(conn, {k[0] for k in incoming})
            merged: dict[tuple, dict] = {}
            for (pid, need, day), r in incoming.items():
                r["person_id"] = roots.get(pid, pid)
                merged[(r["person_id"], need, day)] = r
            known: dict[tuple, dict] = {}
            for chunk in _chunks(sorted({k[0] for k in merged})):
                for f in conn.execute(sa.select(follow_ups).where(follow_ups.c.person_id.in_(chunk))).mappings():
                    known[(f["person_id"], f["need"], f["checked_on"])] = dict(f)
            for key in sorted(merged, key=lambda k: (k[0], k[1], k[2] or dt.date.min)):
                r, old = merged[key], known.get(key)
                if old is None:
                    conn.execute(sa.insert(follow_ups).values(**r, run_id=run_id, recorded_at=now))
                elif any(old[f] != r[f] for f in fields):
                    conn.execute(sa.update(follow_ups).where(follow_ups.c.follow_up_id == old["follow_up_id"])
                                 .values(**{f: r[f] for f in fields}, run_id=run_id, recorded_at=now))
                else:
                    continue
                written += 1
        return written

    def follow_ups(self, latest_only: bool = False) -> pd.DataFrame:
        """Device-use checks (``FOLLOW_UP_COLUMNS``, checked_on ISO or ""); ``latest_only``: the newest check
        of each person and need."""
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(sa.select(*[follow_ups.c[c] for c in FOLLOW_UP_COLUMNS])
                                                  .order_by(follow_ups.c.person_id, follow_ups.c.need,
                                                            follow_ups.c.checked_on)).mappings()]
        if latest_only:
            last: dict[tuple[str, str], dict] = {}
            for r in rows:
                last[(r["person_id"], r["need"])] = r
            rows = list(last.values())
        for r in rows:
            r["checked_on"] = r["checked_on"].isoformat() if r["checked_on"] else ""
        return pd.DataFrame(rows, columns=FOLLOW_UP_COLUMNS)


@dataclass
class Snapshot:
    """One stored version of a spreadsheet: provenance and raw grids (``SheetGrid`` fields as JSON)."""

    source_id: str
    title: str
    modified_time: str
    sheets: list[dict[str, Any]]
    snapshot_id: int | None = None
    fetched_at: dt.datetime | None = None

    def payload(self) -> dict[str, Any]:
        return {"source_id": self.source_id, "title": self.title, "modified_time": self.modified_time,
                "sheets": self.sheets}


def _snapshot(row: Mapping[str, Any]) -> Snapshot:
    data = json.loads(zlib.decompress(row["grids"]).decode("utf-8"))
    return Snapshot(source_id=row["source_id"], title=row["title"], modified_time=row["modified_time"],
                    sheets=data["sheets"], snapshot_id=row["snapshot_id"], fetched_at=row["fetched_at"])


def _fit(table: sa.Table, column: str, value: Any) -> str:
    """Text cut to the column's length: an officer's long note must not stop the night (PostgreSQL enforces it)."""
    return as_text(value)[: table.c[column].type.length]


def _state(row: Mapping[str, Any]) -> str:
    """An allocation as the change log writes it: "provisional:tablet:D001"."""
    return f"{row['status']}:{row['item']}:{row['donation_id']}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()

"""The ledger: state that must survive nights — person ids, allocations, handovers, officer decisions, runs.

SQLAlchemy 2 (Core) over SQLite (a file, the default) or PostgreSQL (by URL); the schema is created and changed
only by the alembic migrations in ``flows/adapters/ledger/migrations`` (``Ledger.migrate()``). Stage code never sees SQL: the
nightly flow reads DataFrames from here, hands them to the plain stage functions and writes their results back.

``Ledger`` is one class assembled from one part per thing it remembers, each a mixin in its own module:

- ``schema``: the table definitions (mirroring the migrations), ``LedgerBase`` (engine, clock, ``migrate``) and the
  helpers the parts share (times as naive UTC, text cut to its column, queries in chunks);
- ``identities``: person ids, fingerprint links, merges and aliases, officer decisions on record pairs;
- ``allocations``: allocations and releases, handovers, past recipients, the change log, officer overrides and
  device-use follow-up;
- ``snapshots``: spreadsheet snapshots, the sources each run read, feedback hashes;
- ``runs``: run history.

Of the ledger's modules the parts import ``schema`` only, never one another nor this package; where one needs
another's query it calls it through ``self``. The tables are ``schema``'s (``from flows.adapters.ledger import schema``):
the package's names ``allocations`` and ``runs`` are its part modules.
"""

from __future__ import annotations

from flows.adapters.ledger.allocations import (ACTIVE_ALLOCATION_COLUMNS, ACTIVE_STATUSES, FOLLOW_UP_COLUMNS,
                                               FOLLOW_UP_STATES, ITEMS, OVERRIDE_FIELDS, AllocationsMixin,
                                               need_for_item)
from flows.adapters.ledger.identities import DECISION_COLUMNS, PERSON_ID_DIGITS, PERSON_ID_PREFIX, IdentitiesMixin
from flows.adapters.ledger.runs import RunsMixin
from flows.adapters.ledger.snapshots import Snapshot, SnapshotsMixin

from flows.adapters.ledger.schema import CHANGE_COLUMNS, DEFAULT_URL, IDENTITY_FIELDS, MIGRATIONS_DIR

__all__ = [
    "Ledger", "Snapshot", "need_for_item",
    # constants
    "ACTIVE_ALLOCATION_COLUMNS", "ACTIVE_STATUSES", "CHANGE_COLUMNS", "DECISION_COLUMNS", "DEFAULT_URL",
    "FOLLOW_UP_COLUMNS", "FOLLOW_UP_STATES", "IDENTITY_FIELDS", "ITEMS", "MIGRATIONS_DIR", "OVERRIDE_FIELDS",
    "PERSON_ID_DIGITS", "PERSON_ID_PREFIX",
]


class Ledger(IdentitiesMixin, AllocationsMixin, SnapshotsMixin, RunsMixin):
    """The ledger database. ``url``: SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://...``).

    ``clock`` returns "now" (aware or naive UTC); tests inject a fixed one.
    """

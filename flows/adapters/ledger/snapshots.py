"""Source snapshots: every fetched spreadsheet version (raw grids + provenance), which version each run read,
and the hash of the feedback last written to each sheet — so any night can be replayed offline.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flows.adapters.ledger.schema import LedgerBase, run_sources, sheet_feedback, source_snapshots


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


class SnapshotsMixin(LedgerBase):
    """Spreadsheet snapshots, the sources each run used, feedback hashes (``SnapshotStore`` for Google Sheets)."""

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

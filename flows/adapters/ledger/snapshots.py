"""Source snapshots: every fetched spreadsheet version (raw grids + provenance), which version each run read,
and the hash of the feedback last written to each sheet — so any night can be replayed offline.

Google spreadsheets are kept per ``modifiedTime``; local files (``keep_local_sources``) are content-addressed: one
row per file and content (``modified_time`` holds the start of the content's sha256, the source id is the file's
path with ``local:`` before it), their cells typed (dates stay dates), with how the night read them (kind,
unit, read failure, published-workbook marker), so ``replay_local_sources`` gives back exactly what a night read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import sqlalchemy as sa
from flows.adapters.ledger.schema import (
    LedgerBase, _chunks, run_sources, runs, sheet_feedback, source_snapshots,
)


@dataclass
class Snapshot:
    """One stored version of a spreadsheet: provenance and raw grids (``SheetGrid`` fields as JSON)."""

    source_id: str
    title: str
    modified_time: str
    sheets: list[dict[str, Any]]
    snapshot_id: int | None = None
    fetched_at: dt.datetime | None = None
    read: dict[str, Any] | None = None  # local files: how the night read the file (kind, status, marker, ...)

    def payload(self) -> dict[str, Any]:
        payload = {"source_id": self.source_id, "title": self.title, "modified_time": self.modified_time,
                   "sheets": self.sheets}
        if self.read is not None:
            payload["read"] = self.read
        return payload


def _snapshot(row: Mapping[str, Any]) -> Snapshot:
    data = json.loads(zlib.decompress(row["grids"]).decode("utf-8"))
    return Snapshot(source_id=row["source_id"], title=row["title"], modified_time=row["modified_time"],
                    sheets=data["sheets"], snapshot_id=row["snapshot_id"], fetched_at=row["fetched_at"],
                    read=data.get("read"))


LOCAL_PREFIX = "local:"  # source ids of local files in the snapshot tables (Google keys never hold a colon)
_TYPED = {"date": dt.date.fromisoformat, "datetime": dt.datetime.fromisoformat, "time": dt.time.fromisoformat,
          "timedelta": lambda v: dt.timedelta(seconds=float(v))}


_PLAIN = frozenset({str, int, float, bool, type(None)})  # cells ``_cell`` gives back as they are (most of them)


def _cell(value: Any) -> Any:
    """A cell as JSON, its type kept: dates, times and durations tagged (``{"datetime": "..."}``)."""
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"time": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"timedelta": value.total_seconds()}
    return value


def _uncell(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        (tag, text), = value.items()
        return _TYPED[tag](text)
    return value


def _local_snapshot(source: Any, marker: str) -> Snapshot:
    plain = _PLAIN
    sheets = [{"name": g.name, "rows": [[v if type(v) in plain else _cell(v) for v in r] for r in g.rows],
               "merged": [list(m) for m in g.merged],
               "hidden_rows": sorted(g.hidden_rows), "hidden_cols": sorted(g.hidden_cols), "hidden": g.hidden}
              for g in source.sheets]
    read = {"file": source.source_file, "kind": source.kind, "unit_type": source.unit_type, "unit": source.unit,
            "status": source.status, "message": source.message, "marker": marker}
    body = json.dumps({"sheets": sheets, "read": read}, ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                      default=str)
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return Snapshot(source_id=LOCAL_PREFIX + source.source_id, title=source.source_file, modified_time=digest[:40],
                    sheets=sheets, read=read)


def _local_source(snapshot: Snapshot) -> Any:
    from flows.frames import SheetGrid, SourceData

    read = snapshot.read or {}
    sheets = [SheetGrid(name=s["name"], rows=[[_uncell(v) for v in r] for r in s["rows"]],
                        merged=[tuple(m) for m in s["merged"]], hidden_rows=frozenset(s["hidden_rows"]),
                        hidden_cols=frozenset(s["hidden_cols"]), hidden=bool(s["hidden"])) for s in snapshot.sheets]
    return SourceData(source_id=snapshot.source_id[len(LOCAL_PREFIX):], source_file=read.get("file", snapshot.title),
                      kind=read.get("kind"), unit_type=read.get("unit_type"), unit=read.get("unit"),
                      sheets=sheets, status=read.get("status", "ok"),
                      message=read.get("message", ""))


class SnapshotsMixin(LedgerBase):
    """Spreadsheet snapshots, the sources each run used, feedback hashes (``SnapshotStore`` for Google Sheets)."""

    def save_snapshot(self, snapshot: "Snapshot", run_id: str | None = None) -> int:
        """Store one fetched spreadsheet version (idempotent per source and modifiedTime); returns its id.

        A local file's snapshot is content-addressed (its modifiedTime is the digest of its content): found again,
        its stored content is the same, so only the run and time that read it are written, not the content."""
        with self.engine.begin() as conn:
            return self._save_snapshot(conn, snapshot, run_id)

    def _save_snapshot(self, conn, snapshot: "Snapshot", run_id: str | None) -> int:  # noqa: ANN001
        key = (source_snapshots.c.source_id == snapshot.source_id) & \
            (source_snapshots.c.modified_time == snapshot.modified_time)
        found = conn.execute(sa.select(source_snapshots.c.snapshot_id).where(key)).scalar()
        values = {"title": snapshot.title, "fetched_at": self._now(), "run_id": run_id}
        if found is not None and snapshot.source_id.startswith(LOCAL_PREFIX):
            conn.execute(sa.update(source_snapshots).where(key).values(**values))
            return int(found)
        blob = zlib.compress(json.dumps(snapshot.payload(), ensure_ascii=False, separators=(",", ":"),
                                        default=str).encode("utf-8"), 6)
        values.update(content_sha256=hashlib.sha256(blob).hexdigest(), grids=blob)
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

    def keep_local_sources(self, sources: list[Any], markers: Mapping[str, str], run_id: str | None = None
                           ) -> list[tuple[str, int | None, str, str]]:
        """Store tonight's local files (``SourceData``, as read, failed ones too) as content-addressed snapshots;
        returns their ``record_run_sources`` entries. ``markers``: source id -> published-workbook marker."""
        snapshots = [_local_snapshot(source, markers.get(source.source_id, "")) for source in sources]
        entries = []
        with self.engine.begin() as conn:  # one transaction for the night's files (one commit, not one per file)
            # most files are found again, content and all (a quiet night: every one): looked up and marked as read
            # tonight in one statement each, not two per file
            found = self._local_snapshots_found(conn, snapshots)
            seen = [{"sid": found[(s.source_id, s.modified_time)], "title": s.title} for s in snapshots
                    if (s.source_id, s.modified_time) in found]
            if seen:
                conn.execute(sa.update(source_snapshots)
                             .where(source_snapshots.c.snapshot_id == sa.bindparam("sid"))
                             .values(title=sa.bindparam("title"), fetched_at=self._now(), run_id=run_id), seen)
            for source, snapshot in zip(sources, snapshots):
                snapshot_id = found.get((snapshot.source_id, snapshot.modified_time))
                if snapshot_id is None:
                    snapshot_id = self._save_snapshot(conn, snapshot, run_id)
                entries.append((snapshot.source_id, snapshot_id, source.status, source.message))
        return entries

    @staticmethod
    def _local_snapshots_found(conn, snapshots: list["Snapshot"]) -> dict[tuple[str, str], int]:  # noqa: ANN001
        """(source id, modified time) -> snapshot id of those of ``snapshots`` the ledger already holds."""
        wanted = {(s.source_id, s.modified_time) for s in snapshots}
        found: dict[tuple[str, str], int] = {}
        # by the content digest (a local file's modified time): a source's older versions are not read
        for chunk in _chunks(sorted({s.modified_time for s in snapshots})):
            query = sa.select(source_snapshots.c.source_id, source_snapshots.c.modified_time,
                              source_snapshots.c.snapshot_id).where(source_snapshots.c.modified_time.in_(chunk))
            for source_id, modified_time, snapshot_id in conn.execute(query):
                if (source_id, modified_time) in wanted:
                    found[(source_id, modified_time)] = int(snapshot_id)
        return found

    def replay_local_sources(self, run_id: str) -> tuple[list[Any], dict[str, str]]:
        """The local files a past run read (``SourceData``, in the order the night reads files: by path) and their
        published-workbook markers."""
        snapshots = [s for key, s in self.run_snapshots(run_id).items() if key.startswith(LOCAL_PREFIX)]
        snapshots.sort(key=lambda s: PurePosixPath(s.source_id[len(LOCAL_PREFIX):]).parts)
        sources = [_local_source(s) for s in snapshots]
        return sources, {src.source_id: (s.read or {}).get("marker", "") for src, s in zip(sources, snapshots)}

    def knows_run(self, run_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(runs.c.run_id).where(runs.c.run_id == run_id)).first() is not None

    def feedback_hash(self, source_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sheet_feedback.c.content_sha256)
                                .where(sheet_feedback.c.source_id == source_id)).scalar()

    def set_feedback_hash(self, source_id: str, digest: str, run_id: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(sheet_feedback).where(sheet_feedback.c.source_id == source_id))
            conn.execute(sa.insert(sheet_feedback).values(source_id=source_id, content_sha256=digest,
                                                          run_id=run_id, written_at=self._now()))

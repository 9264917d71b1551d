"""One night at a time per ledger and per output folder.

A night holds two locks for its whole length, both of them released by the operating system or the database
server when the process ends, however it ends (``kill -9`` included), so a killed night never leaves a lock
that needs a staleness guess (no pid liveness check, no heartbeat):

- the **ledger**: on PostgreSQL a session-level advisory lock (``pg_try_advisory_lock``) on a connection of its
  own, kept for the night; the server drops it when that session ends, and TCP keepalives (about a minute) end the
  session of a machine that vanished. On a SQLite file, an exclusive ``flock`` on ``<ledger file>.night.lock``
  beside it; the kernel drops it when the process dies. An in-memory SQLite ledger needs none.
- the **output folder**: an exclusive ``flock`` on ``OUT/.night.lock``, so whatever a night finds under ``OUT``
  unfinished (a ``<run>.partial`` folder) was left by a night that is no longer running.

Whoever holds a lock writes who it is (host, pid, start time) where the next night can read it: the lock file, or
the PostgreSQL session's ``application_name``. A night that finds a lock taken polls until ``wait_seconds`` have
passed, then raises ``NightLocked`` with a message naming the holder. ``flock`` needs a local file system (not
NFS); keep the SQLite ledger and the output folder on local disk, or use PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import socket
import zlib
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

# pg_try_advisory_lock(int4, int4): "SMTC" and 1, the night. Advisory locks are per database: per ledger.
_PG_KEY = (0x534D5443, 1)
_PG_APP = "songmaytinh night"


class NightLocked(RuntimeError):
    """Another night holds the ledger or the output folder; the message says who and what to do."""


def _me() -> dict[str, object]:
    return {"host": socket.gethostname(), "pid": os.getpid(),
            "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def _describe(holder: dict | None) -> str:
    if not holder:
        return "không rõ (unknown)"
    return f"pid {holder.get('pid', '?')} trên máy (on host) {holder.get('host', '?')}, từ (since) " \
           f"{holder.get('started', '?')}"


class _FileLock:
    """An exclusive, non-blocking ``flock`` on ``path``; the holder's identity written inside."""

    def __init__(self, path: Path, what: str) -> None:
        self.path, self.what = path, what
        self._fh = None

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps(_me()) + "\n")
        fh.flush()
        self._fh = fh
        return True

    def holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8") or "null")
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


class _PostgresLock:
    """A session-level advisory lock on a connection of its own (AUTOCOMMIT: never idle in a transaction)."""

    def __init__(self, url: sa.engine.URL) -> None:
        self.what = f"sổ cái PostgreSQL (ledger) {url.render_as_string(hide_password=True)}"
        app = f"{_PG_APP} {os.getpid()}@{socket.gethostname()}"[:63]  # PostgreSQL keeps 63 bytes
        self.engine = sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT", connect_args={
            "application_name": app, "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
            "keepalives_count": 3})
        self._conn: sa.Connection | None = None
        # advisory locks belong to the whole server: the key names this ledger's database, so two ledgers on one
        # server (districts, test databases) never wait for each other
        self.key = {"a": _PG_KEY[0], "b": zlib.crc32(f"{_PG_KEY[1]}:{url.database}".encode()) & 0x7FFFFFFF}

    def try_acquire(self) -> bool:
        conn = self.engine.connect()
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:a, :b)"), self.key).scalar()
        if got:
            self._conn = conn
            return True
        conn.close()
        return False

    def holder(self) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.text(
                "SELECT a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a "
                "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :a AND l.objid = :b"
            ), self.key).first()
        if row is None or not (row[0] or "").startswith(_PG_APP):
            return None
        pid, _, host = row[0].removeprefix(_PG_APP).strip().partition("@")
        started = row[1].isoformat(timespec="seconds") if row[1] is not None else "?"
        return {"pid": pid, "host": host, "started": started}

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:a, :b)"), self.key)
            except sa.exc.DBAPIError as exc:  # the server went away: the lock went with the session
                log.warning("night lock: the ledger server dropped the session holding the lock (%s)",
                            type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__)
            finally:
                try:
                    self._conn.close()
                except sa.exc.DBAPIError:
                    pass
                self._conn = None
        self.engine.dispose()


def _locks(ledger_url: str, out_root: Path) -> list:
    locks: list = [_FileLock(out_root / ".night.lock", f"thư mục kết quả (output folder) {out_root}")]
    url = sa.engine.make_url(ledger_url)
    backend = url.get_backend_name()
    if backend == "postgresql":
        locks.append(_PostgresLock(url))
    elif backend == "sqlite" and url.database not in (None, "", ":memory:"):
        db = Path(url.database)
        locks.append(_FileLock(db.with_name(db.name + ".night.lock"), f"sổ cái (ledger) {db}"))
    return locks


@contextmanager
def night_lock(ledger_url: str, out_root: Path, *, wait_seconds: float, poll_seconds: float = 1.0,
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> Iterator[None]:
    """Hold the output folder's and the ledger's night locks while the block runs.

    When another night holds one, try again every ``poll_seconds`` until ``wait_seconds`` have passed, then raise
    ``NightLocked`` naming the holder. ``clock`` and ``sleep`` are injectable so tests need not wait.
    """
    locks = _locks(ledger_url, out_root)
    deadline = clock() + max(wait_seconds, 0.0)
    waited = False
    while True:
        busy = None
        with ExitStack() as held:
            for lock in locks:
                if not lock.try_acquire():
                    busy = lock
                    break
                held.callback(lock.release)
            if busy is None:
                held.pop_all()
                break
        if clock() >= deadline:
            for lock in locks:
                if isinstance(lock, _PostgresLock):
                    lock.engine.dispose()
            raise NightLocked(
                f"Một lần chạy tổng hợp khác đang dùng {busy.what}: {_describe(busy.holder())}. Đã chờ "
                f"{wait_seconds:g} giây. Hãy chạy lại khi lần kia xong, hoặc chờ lâu hơn với --wait GIÂY. "
                f"(Another night holds this {'ledger' if 'ledger' in busy.what else 'output folder'}; waited "
                f"{wait_seconds:g} s. Run again when it has finished, or wait longer with --wait SECONDS.)")
        if not waited:
            log.warning("night lock busy (%s); waiting up to %g s", busy.__class__.__name__, wait_seconds)
            waited = True
        sleep(poll_seconds)
    try:
        yield
    finally:
        with ExitStack() as releasing:  # every lock is released, even when releasing one fails
            for lock in locks:
                releasing.callback(lock.release)

"""A replay's ledger: a scratch SQLite copy of the real one, so replaying a past night never writes the ledger.

``songmaytinh run --replay-run RUN_ID`` reads exactly the sources that run read (its snapshots) and runs every
stage; the stages record links, decisions, allocations and the run itself as any night does — here into the copy,
which is thrown away afterwards. The real ledger is only read (SQLite or PostgreSQL alike).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from flows.adapters.ledger.schema import metadata, run_sources, runs


class UnknownRun(LookupError):
    """``--replay-run`` names a run the ledger does not know (or one it cannot replay)."""


@dataclass
class ScratchLedger:
    """The copy: its URL, the replayed run's as-of day, and the folder to remove when the replay is done."""

    url: str
    as_of: dt.date
    folder: Path

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def replayed_day(url: str, run_id: str) -> dt.date:
    """The as-of day of run ``run_id`` in the ledger at ``url`` (only read); ``UnknownRun`` when the ledger has no
    such run, cannot be read, or its schema is not this version's (run a night first)."""
    from flows.adapters.ledger import Ledger

    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not Path(parsed.database).is_file():
        raise UnknownRun(f"không có sổ cái tại {parsed.database}: không có lần tổng hợp {run_id!r} để chạy lại")
    source = Ledger(url)
    try:
        revision, head = source.schema_revision(), source.head_revision()
        as_of, kept = None, 0
        if revision is not None:
            with source.engine.connect() as conn:
                as_of = conn.execute(sa.select(runs.c.as_of).where(runs.c.run_id == run_id)).scalar()
                kept = conn.execute(sa.select(sa.func.count()).select_from(run_sources)
                                    .where(run_sources.c.run_id == run_id)).scalar()
    except sa.exc.SQLAlchemyError as exc:
        raise UnknownRun(f"không đọc được sổ cái để chạy lại lần tổng hợp {run_id!r} ({type(exc).__name__})") from None
    finally:
        source.close()
    if as_of is None:
        raise UnknownRun(f"không có lần tổng hợp {run_id!r} trong sổ cái (xem `songmaytinh status`)")
    if not kept:
        raise UnknownRun(f"lần tổng hợp {run_id!r} không lưu bản chụp nguồn nào (chạy trước khi có bản chụp tệp, "
                         "hoặc không đọc nguồn nào): không chạy lại được")
    if revision != head:
        raise UnknownRun(f"sổ cái ở phiên bản {revision}, cần {head}: chạy một đêm bình thường trước khi chạy lại")
    return as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of)[:10])


def scratch_copy(url: str, run_id: str, *, chunk: int = 2000) -> ScratchLedger:
    """Copy every table of the ledger at ``url`` into a new SQLite file (``replayed_day`` checks the run first)."""
    from flows.adapters.ledger import Ledger

    as_of = replayed_day(url, run_id)
    folder = Path(tempfile.mkdtemp(prefix="songmaytinh-replay-"))
    source, copy = Ledger(url), Ledger(f"sqlite:///{folder / 'ledger.sqlite'}")
    try:
        copy.migrate()
        with source.engine.connect() as src, copy.engine.begin() as dst:
            for table in reversed(metadata.sorted_tables):  # rows the migrations seed (id counters) give way
                dst.execute(sa.delete(table))
            for table in metadata.sorted_tables:
                result = src.execute(sa.select(table))
                while rows := result.mappings().fetchmany(chunk):
                    dst.execute(sa.insert(table), [dict(r) for r in rows])
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        source.close()
        copy.close()
    return ScratchLedger(url=f"sqlite:///{folder / 'ledger.sqlite'}", as_of=as_of, folder=folder)

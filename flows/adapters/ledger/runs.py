"""Run history: each night's run id, as-of day, start and finish times, status and counts.

A night that does not finish — it failed, or was killed and the next night found its run still ``running`` —
decided nothing: its allocation decisions are voided when its run is marked ``failed`` (``_void_decisions``:
its provisional allocations deleted, its releases undone, its change log dropped), so the next night decides
again and reports every change in its own change log. What it read and stored stays (person ids and links,
merges, officer decisions, handovers, overrides, follow-ups, snapshots): facts the next night reads the same. The
change-log lines of a handover or merge it recorded stay under its run (the ledger's history; the next night
does not see them as changes again). A night killed after it published but before its run was marked ``ok``
(while writing feedback into the schools' sheets) is voided as well: the next night decides the same again and
its change log repeats those changes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping

import pandas as pd
import sqlalchemy as sa
from flows.adapters.ledger.schema import LedgerBase, runs


class RunsMixin(LedgerBase):
    """The runs: begun, finished (with their counts), listed; ``_run_day`` for the other parts."""

    _void_decisions: Callable[[sa.Connection, str], int]  # the allocations part's

    def begin_run(self, run_id: str, as_of: dt.date) -> None:
        """Record the start of a run (a rerun of the same id starts it again)."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(runs).where(runs.c.run_id == run_id))
            conn.execute(sa.insert(runs).values(run_id=run_id, as_of=as_of, started_at=self._now(),
                                                finished_at=None, counts=None, status="running"))

    def fail_unfinished_runs(self) -> int:
        """Mark ``failed`` the runs still ``running``: nights that were killed. Call it holding the night lock
        (``flows.adapters.night_lock``), when no other night can be running; returns how many."""
        with self.engine.begin() as conn:
            unfinished = conn.execute(sa.select(runs.c.run_id).where(runs.c.status == "running")).scalars().all()
            for run_id in unfinished:
                self._void_decisions(conn, run_id)
            conn.execute(sa.update(runs).where(runs.c.run_id.in_(unfinished)).values(
                finished_at=self._now(), status="failed"))
        return len(unfinished)

    def finish_run(self, run_id: str, counts: Mapping[str, int] | None = None, status: str = "ok") -> None:
        """Record how the run ended; ``failed`` voids its allocation decisions (see the module's docstring)."""
        with self.engine.begin() as conn:
            if status == "failed":
                self._void_decisions(conn, run_id)
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

    @staticmethod
    def _run_day(conn: sa.Connection, run_id: str | None) -> dt.date | None:
        if run_id is None:
            return None
        return conn.execute(sa.select(runs.c.as_of).where(runs.c.run_id == run_id)).scalar_one_or_none()

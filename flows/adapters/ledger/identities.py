"""Who is who across nights: person ids, fingerprint links, aliases left by merges, officer decisions on pairs.

A person id ("HS000123") is issued once and never reused. Each record fingerprint links to one person; merging
persons moves the links to the survivor and keeps each merged-away id as an alias, which always points at a
surviving person. Officer decisions (same | different) are kept per unordered fingerprint pair.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd
import sqlalchemy as sa
from flows.adapters.ledger.schema import (CHANGE_COLUMNS, LedgerBase, _chunks, _datetime, decisions, id_counters,
                                          person_aliases, persons, record_links)
from flows.text import as_text
from flows.frames import frame_records

PERSON_ID_PREFIX = "HS"
PERSON_ID_DIGITS = 6
DECISION_COLUMNS = ["fingerprint_a", "fingerprint_b", "decision", "decided_by", "decided_at", "source"]


class IdentitiesMixin(LedgerBase):
    """Person ids, fingerprint links, merges and aliases, officer decisions; ``_resolve`` for the other parts.

    ``merge_persons`` moves the merged persons' allocations through ``_merge_allocations`` (the allocations part)
    and ``link_fingerprints`` dates a new person by ``_run_day`` (the runs part).
    """

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

    def merged_ids(self) -> pd.DataFrame:
        """Every merged-away id: alias_id, the surviving person_id, the run that merged it and when."""
        cols = ["alias_id", "person_id", "run_id", "merged_at"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*[person_aliases.c[c] for c in cols])
                                .order_by(person_aliases.c.alias_id)).mappings().all()
        return pd.DataFrame([dict(r) for r in rows], columns=cols)

    @staticmethod
    def _resolve(conn: sa.Connection, ids: set[str]) -> dict[str, str]:
        """alias -> surviving person for those of ``ids`` that are aliases (aliases always point at a root)."""
        out: dict[str, str] = {}
        for chunk in _chunks(sorted(ids)):
            out.update(conn.execute(sa.select(person_aliases.c.alias_id, person_aliases.c.person_id)
                                    .where(person_aliases.c.alias_id.in_(chunk))).all())
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
        for row in frame_records(rows):
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

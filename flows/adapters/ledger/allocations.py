"""What each child was given: allocations, releases, handovers, the change log, officer overrides, device follow-up.

Allocation rows: ``provisional`` (allocated, not yet handed over) and ``handed_over`` are *active*; at most one
active row per person and need (a partial unique index). ``released`` rows are history and keep the rule that
released them. A handover freezes its allocation: a handed-over row is never released nor given another unit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

import pandas as pd
import sqlalchemy as sa
from flows.adapters.ledger.schema import (CHANGE_COLUMNS, IDENTITY_FIELDS, LedgerBase, _chunks, _date, _fit,
                                          allocations, change_log, follow_ups, handovers, overrides)
from flows.frames import frame_records
from flows.text import as_text

ACTIVE_STATUSES = ("provisional", "handed_over")
ITEMS = ("desktop", "laptop", "tablet", "smartphone", "internet_package")
ACTIVE_ALLOCATION_COLUMNS = ["person_id", "need", "item", "donation_id", "status", "run_id", "allocated_at",
                             *IDENTITY_FIELDS, "left_when_turn"]
OVERRIDE_FIELDS = ["person_id", "need", "action", "item", "donation_id", "officer", "reason", "decided_on"]
FOLLOW_UP_COLUMNS = ["person_id", "need", "item", "serial", "state", "checked_on", "checked_by", "note", "source"]
FOLLOW_UP_STATES = ("in_use", "broken", "lost")
_ACTIVE = allocations.c.status.in_(ACTIVE_STATUSES)


def need_for_item(item: str) -> str:
    return "internet" if item == "internet_package" else "device"


def _state(row: Mapping[str, Any]) -> str:
    """An allocation as the change log writes it: "provisional:tablet:D001"."""
    return f"{row['status']}:{row['item']}:{row['donation_id']}"


class AllocationsMixin(LedgerBase):
    """Allocations, releases, handovers, past recipients, the change log, officer overrides and follow-ups.

    ``_merge_allocations`` serves ``merge_persons`` (the identities part); person ids read from handover, override
    and follow-up sheets are resolved through merges by ``_resolve`` (the identities part).
    """

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
            for row in frame_records(wanted):
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
            for row in frame_records(releases):
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
        for row in frame_records(rows):
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
            # the columns read below only: converting every row's times was most of the read
            rows = conn.execute(sa.select(*[allocations.c[c] for c in ("person_id", *IDENTITY_FIELDS, "need", "status")])
                                .where(_ACTIVE)
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

    # --- merged persons: the allocations follow (``merge_persons``) ----------------------------------------
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
                other = survivor if r["person_id"] == alias else alias
                changes.append({"person_id": r["person_id"], "need": need, "before": _state(r),
                                "after": "released", "rule": "merged", "other_person_id": other})
            survivor_has = any(r["person_id"] == survivor and r["status"] == "handed_over" for r in mine
                               if r is not keep)
            if keep["person_id"] == alias and not survivor_has:
                conn.execute(sa.update(allocations).where(allocations.c.allocation_id == keep["allocation_id"])
                             .values(person_id=survivor))
                changes.append({"person_id": survivor, "need": need, "before": _state(keep),
                                "after": _state(keep), "rule": "merged", "other_person_id": alias})
        return changes

    # --- a night that did not finish: its allocation decisions voided (``RunsMixin``) ---------------------
    def _void_decisions(self, conn: sa.Connection, run_id: str) -> int:
        """Undo what run ``run_id`` decided about allocations, in ``conn``'s transaction: the provisional
        allocations it made are deleted, the ones it released are active again (a release by a merge of two
        persons stands, as the merge does), its change log is dropped but for the facts that stand (``handover``,
        ``merged`` lines). What it read and stored — person ids, links, merges, handovers, overrides, follow-ups,
        snapshots — stays: the next night reads the same again. Returns the allocation rows changed."""
        made = conn.execute(sa.delete(allocations).where(allocations.c.run_id == run_id,
                                                         allocations.c.status.in_(("provisional", "released"))))
        restored = 0
        released = conn.execute(sa.select(allocations).where(
            allocations.c.released_run == run_id, allocations.c.status == "released",
            sa.or_(allocations.c.release_rule.is_(None), allocations.c.release_rule != "merged"))
            .order_by(allocations.c.allocation_id.desc())).mappings().all()
        for row in released:
            if (row["person_id"], row["need"]) in self._active_by_key(conn, [row["person_id"]]):
                continue  # the person holds another active unit for that need (a handover): keep it released
            conn.execute(sa.update(allocations).where(allocations.c.allocation_id == row["allocation_id"])
                         .values(status="provisional", released_at=None, released_run=None, release_rule=None))
            restored += 1
        conn.execute(sa.delete(change_log).where(change_log.c.run_id == run_id,
                                                 change_log.c.rule.notin_(("handover", "merged"))))
        return int(made.rowcount or 0) + restored

    # --- change log ----------------------------------------------------------------------------------------
    def write_change_log(self, run_id: str, changes: pd.DataFrame) -> int:
        """Replace the run's change log with ``changes`` (``CHANGE_COLUMNS``); rerunning a run id rewrites it."""
        rows = [] if changes is None else [
            {"run_id": run_id, **{c: as_text(r.get(c)) for c in CHANGE_COLUMNS}} for r in frame_records(changes)]
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
        for row in frame_records(rows):
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
        for row in frame_records(rows):
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

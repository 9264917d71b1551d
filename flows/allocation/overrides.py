"""Officer overrides: tonight's decisions on a child or a need, which of them stand, and the unit an officer names.

Officer overrides (``overrides``: person_id, need, action, item, donation_id, officer, reason, decided_on,
override_id; those dated after ``as_of`` wait) — every one is listed in ``override_log`` with its result:
- ``exclude``: the child is excluded (reason ``officer_excluded``); provisional units are released.
- ``release``: the need (both needs when ``need`` is empty) is withdrawn by the officer: a provisional unit
  is released and the need is not served again; a child left with no need is excluded (``officer_released``).
- ``assign``: the child gets a unit of ``item`` (from ``donation_id`` when given), ahead of the priority
  order and of any earmark, before provisional allocations are kept (a provisional unit of another child
  that is no longer there is released as ``donation_unavailable`` and that child queues again).
- Handed-over allocations are never changed by an override (result ``handed_over``).

override_log.result: ``applied``, ``unserved`` (assign: no unit of that item left), ``not_listed`` (no such
person tonight), ``not_eligible`` (assign to an excluded child), ``handed_over`` (the need was already handed
over), ``superseded`` (a later release or assign of the same need), ``pending`` (dated after ``as_of``),
``invalid`` (unknown action or item).

``officer_decisions`` settles everything but the assignments, which ``flows.allocation.allocate`` serves in
its own order of steps (with ``assigned_lot``) and logs.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from flows.allocation.units import ITEMS, NEEDS, Lot
from flows.allocation.values import as_day
from flows.text import as_text, fold
from flows.frames import frame_records

OVERRIDE_COLUMNS = ["override_id", "person_id", "need", "action", "item", "donation_id", "officer", "reason",
                    "decided_on"]
OVERRIDE_LOG_COLUMNS = [*OVERRIDE_COLUMNS, "result"]
OVERRIDE_ACTIONS = ("exclude", "release", "assign")


def officer_decisions(overrides: pd.DataFrame | None, as_of: dt.date, people: list[dict], prev: dict
                      ) -> tuple[list[dict], list[dict], set[tuple[str, str]]]:
    """Apply tonight's overrides to ``people`` (their ``exclusion``, in place) and settle which decision on each
    need stands; ``prev`` is the previous active allocations by (person_id, need).

    Returns the assignments still in force, in the order they apply (each with ``_i``, its row in the log), the
    log (``OVERRIDE_LOG_COLUMNS`` rows; an assignment's result is left for the allocator to write) and the needs
    an officer released."""
    by_id = {p["person_id"]: p for p in people}
    orders, override_log = _read(overrides, as_of)
    blocked: set[tuple[str, str]] = set()  # needs an officer released
    last: dict[tuple[str, str], dict] = {}  # the latest release or assign of each person and need wins
    for o in orders:
        person = by_id.get(o["person_id"])
        if person is None:
            override_log[o["_i"]]["result"] = "not_listed"
        elif o["action"] == "exclude":
            person["exclusion"] = person["exclusion"] or "officer_excluded"
            override_log[o["_i"]]["result"] = "applied"
        else:
            for need in ([o["need"]] if o["need"] else list(NEEDS)):
                earlier = last.get((o["person_id"], need))
                if earlier is not None and earlier is not o:
                    override_log[earlier["_i"]]["result"] = "superseded"
                last[(o["person_id"], need)] = o
    for key, o in last.items():
        if o["action"] != "release":
            continue
        log = override_log[o["_i"]]
        if prev.get(key, {}).get("status") == "handed_over":
            log["result"] = log["result"] or "handed_over"
        else:
            blocked.add(key)
            log["result"] = "applied"
    assignments = [o for o in orders if o["action"] == "assign" and last.get((o["person_id"], o["need"])) is o]
    for person in people:
        needs = [n for n in NEEDS if person["lacks"][n]]
        if not person["exclusion"] and needs and all((person["person_id"], n) in blocked for n in needs):
            person["exclusion"] = "officer_released"
    return assignments, override_log, blocked


def _read(overrides: pd.DataFrame | None, as_of: dt.date) -> tuple[list[dict], list[dict]]:
    """Tonight's overrides in the order they apply (date, then id) and a log row for each one read."""
    if overrides is None or overrides.empty:
        return [], []
    log: list[dict] = []
    orders: list[dict] = []
    for r in frame_records(overrides):
        o = {c: as_text(r.get(c)) for c in OVERRIDE_COLUMNS}
        o["action"] = fold(o["action"])
        day = as_day(r.get("decided_on"))
        o["decided_on"] = day.isoformat() if day else ""
        if o["action"] == "assign" and o["item"]:
            o["need"] = "internet" if o["item"] == "internet_package" else "device"
        if o["need"] and o["need"] not in NEEDS:
            o["result"] = "invalid"
        elif o["action"] not in OVERRIDE_ACTIONS or not o["person_id"] or (
                o["action"] == "assign" and o["item"] not in ITEMS):
            o["result"] = "invalid"
        elif day is not None and day > as_of:
            o["result"] = "pending"
        else:
            o["result"] = ""
        log.append(o)
    order = sorted(range(len(log)), key=lambda i: (log[i]["decided_on"], log[i]["override_id"], log[i]["person_id"],
                                                    log[i]["action"], log[i]["need"], log[i]["item"],
                                                    log[i]["donation_id"]))
    log = [log[i] for i in order]
    for i, o in enumerate(log):
        if not o["result"]:
            orders.append({**o, "_i": i})
    return orders, log


def assigned_lot(lots: dict[tuple[str, str], Lot], order: dict, previous: dict | None) -> Lot | None:
    """The unit an officer assigned: from the named donation, else the child's own provisional unit if it is of
    that item, else the first lot of the item in use order (earmarks do not bind an officer; units held for an
    earmark naming an unknown place are only given when the officer names their donation)."""
    item = order["item"]
    if order["donation_id"]:
        lot = lots.get((order["donation_id"], item))
        return lot if lot is not None and lot.left > 0 else None
    if previous and previous["status"] == "provisional" and previous["item"] == item:
        lot = lots.get((previous["donation_id"], item))
        if lot is not None and lot.left > 0:
            return lot
    candidates = sorted((lot for lot in lots.values() if lot.item == item and lot.left > 0 and not lot.held),
                        key=lambda x: x.order)
    return candidates[0] if candidates else None

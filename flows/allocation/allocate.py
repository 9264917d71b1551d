"""Stage 6 — allocate: donations -> available units; eligible children -> priority rank -> devices and packages.

A plain function over DataFrames (no I/O): the nightly flow passes the ledger's active allocations in as
``previous`` and writes the result back: ``Ledger.record_allocations(run_id, result.allocations, result.releases)``
and ``Ledger.write_change_log(run_id, result.changes)``.

How units are counted
- Only *received* donations count (pledges are reported); a donation dated after ``as_of`` is not yet received.
- Device and internet-package donations give ``quantity`` units. Cash and state budget money is pooled in
  donation order (per earmark): ``cash_internet_share`` of each amount buys internet packages and the rest buys
  the first item of ``cash_buys``, at ``unit_prices``. A unit is bought as soon as the pooled money reaches its
  price and carries the id of the donation that completed it; money left over is carried (``cash``).
- Units are used in donation order: date, then donation id (``_lot_order``).

Who gets what
- Eligible: no exclusion and grade 1-9. Everyone eligible gets a global ``priority_rank``: tier
  (``district.priority_tiers``), then ``district.tie_breaks``, then person_id.
- Previous allocations are honoured first: handed-over ones never change (even for a child now excluded or no
  longer listed); provisional ones keep their unit unless a rule releases them (rule codes below). So a new
  higher-priority child never takes a unit that is already allocated.
- Then, in rank order, each need: a device need gets the next device unit, an internet need the next
  internet package — but only where the child's village has 3G, 4G or fibre (else ``no_coverage``).
  Units earmarked for the child's school, then commune, are used before general units; earmarked units never
  go elsewhere (left over, they are reported as ``reserved``). Within one of those pools a device need takes
  the item its grade prefers (``district.device_preference``), else units in donation order. What was left
  in the pools the child could draw from, at the child's turn, is recorded (``left_when_turn``).

Officer overrides (``overrides``: person_id, need, action, item, donation_id, officer, reason, decided_on,
override_id; those dated after ``as_of`` wait) — every one is listed in ``override_log`` with its result:
- ``exclude``: the child is excluded (reason ``officer_excluded``); provisional units are released.
- ``release``: the need (both needs when ``need`` is empty) is withdrawn by the officer: a provisional unit
  is released and the need is not served again; a child left with no need is excluded (``officer_released``).
- ``assign``: the child gets a unit of ``item`` (from ``donation_id`` when given), ahead of the priority
  order and of any earmark, before provisional allocations are kept (a provisional unit of another child
  that is no longer there is released as ``donation_unavailable`` and that child queues again).
- Handed-over allocations are never changed by an override (result ``handed_over``).

Codes
- allocations.status: allocated | handed_over | waitlisted | no_coverage.
- allocations.reason: allocated -> "" or ``earmark``; waitlisted -> ``no_units``; no_coverage -> ``no_signal``
  or ``coverage_unknown`` (village not in the connectivity lists); handed_over -> "" or, for a child no longer
  eligible, the exclusion code, or ``not_listed`` for a child absent from tonight's lists.
- person_status.status: allocated (at least one support, handed over or not) | waitlisted | excluded; reason:
  the exclusion code (``grade_out_of_range``, ``needs_nothing``, ``outside_district``, ...), or for waitlisted
  ``no_units`` / ``no_coverage``.
- changes.rule / releases.rule: ``new_allocation``, ``earmark`` (new allocations); ``person_absent``, the
  exclusion code, ``need_withdrawn`` (the list no longer marks the need), ``donation_unavailable`` (the unit's
  donation is gone or smaller) for released provisional allocations; ``officer_override`` for allocations
  made or released by an override (``officer_excluded`` for an officer's exclusion).
- override_log.result: ``applied``, ``unserved`` (assign: no unit of that item left), ``not_listed`` (no such
  person tonight), ``not_eligible`` (assign to an excluded child), ``handed_over`` (the need was already
  handed over), ``superseded`` (a later release or assign of the same need), ``pending`` (dated after
  ``as_of``), ``invalid`` (unknown action or item).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import pandas as pd

from flows.config import DEVICE_ITEMS, District
from flows.frames import ALLOCATION_EXPORT_COLUMNS, DONATION_COLUMNS
from flows.text import as_text, collation_key, fold, split_name

NEEDS = ("device", "internet")
ITEMS = (*DEVICE_ITEMS, "internet_package")
MONEY_KINDS = ("cash", "budget")
ALLOCATION_COLUMNS = [*ALLOCATION_EXPORT_COLUMNS, "commune_code", "school_code", "village", "date_of_birth",
                      "tier", "guardian_name", "left_when_turn"]
PERSON_STATUS_COLUMNS = ["person_id", "status", "reason", "priority_rank"]
SUMMARY_COLUMNS = ["item", "received_units", "from_cash_units", "pledged_units", "allocated", "handed_over",
                   "remaining", "reserved"]
CHANGE_COLUMNS = ["person_id", "need", "before", "after", "rule"]
RELEASE_COLUMNS = ["person_id", "need", "rule", "item", "donation_id"]
OVERRIDE_COLUMNS = ["override_id", "person_id", "need", "action", "item", "donation_id", "officer", "reason",
                    "decided_on"]
OVERRIDE_LOG_COLUMNS = [*OVERRIDE_COLUMNS, "result"]
OVERRIDE_ACTIONS = ("exclude", "release", "assign")
OVERRIDE_RULE = "officer_override"
GRADE_MIN, GRADE_MAX = 1, 9


@dataclass
class Allocation:
    """The allocation of one night (see the module docstring for the codes).

    - allocations: ``ALLOCATION_COLUMNS`` — one row per eligible person and need, plus the handed-over rows of
      children no longer eligible or listed.
    - person_status: person_id, status, reason, priority_rank (Int64; NA when excluded).
    - donations: the input rows + ``units`` (Int64: units the row provides tonight, after cash conversion).
    - donation_summary: ``SUMMARY_COLUMNS``, one row per item; ``remaining`` includes ``reserved`` (earmarked
      units nobody in their commune/school can use yet).
    - cash: received_vnd, pledged_vnd, converted_vnd, carried_vnd.
    - changes: person_id, need, before, after, rule — against ``previous`` (states written
      ``provisional:tablet:D001``, ``handed_over:...``, ``waitlisted``, ``no_coverage``, ``released``).
    - releases: person_id, need, rule, item, donation_id — provisional allocations the ledger must release
      (``Ledger.record_allocations(run_id, allocations, releases)``).
    - override_log: ``OVERRIDE_LOG_COLUMNS`` — every override read tonight and what became of it.
    """

    allocations: pd.DataFrame
    person_status: pd.DataFrame
    donations: pd.DataFrame
    donation_summary: pd.DataFrame
    cash: dict[str, int]
    changes: pd.DataFrame
    releases: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RELEASE_COLUMNS))
    override_log: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=OVERRIDE_LOG_COLUMNS))
    # filled by the nightly stage wrapper (ledger I/O), not by ``allocate``:
    issues: list = field(default_factory=list)  # officer-sheet rows that could not be used
    follow_ups: pd.DataFrame | None = None  # latest device-use check per person and need
    handovers: pd.DataFrame | None = None  # every handover on record


@dataclass
class _Lot:
    """Units of one item from one donation."""

    donation_id: str
    item: str
    order: tuple
    earmark_school: str
    earmark_commune: str
    from_cash: bool = False
    units: int = 0
    left: int = 0

    @property
    def earmarked(self) -> bool:
        return bool(self.earmark_school or self.earmark_commune)


# --- small value helpers -------------------------------------------------------------------------------------
def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return int(f) if math.isfinite(f) else None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return fold(value) in ("true", "1", "x", "yes", "co")
    try:
        if pd.isna(value):
            return False
    except (TypeError, ValueError):
        pass
    return bool(value)


def _day(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    ts = pd.to_datetime(str(value), errors="coerce", dayfirst=False)
    return None if pd.isna(ts) else ts.date()


def _village_key(commune_code: str, village: str) -> tuple[str, str]:
    v = fold(village)
    for prefix in ("thon ", "khu ", "xom "):
        if v.startswith(prefix):
            v = v[len(prefix):]
            break
    return commune_code, v


village_key = _village_key  # publish groups villages the same way the allocator looks up coverage


def _state(status: str, item: str = "", donation_id: str = "") -> str:
    return f"{status}:{item}:{donation_id}" if item else status


# --- donations -> lots ---------------------------------------------------------------------------------------
def _lot_order(date: dt.date | None, donation_id: str) -> tuple:
    """Units are used in this order: dated donations by date, undated last, then by donation id."""
    return (date is None, date or dt.date.min, donation_id)


def _donation_lots(donations: pd.DataFrame, district: District, as_of: dt.date
                   ) -> tuple[dict[tuple[str, str], _Lot], pd.DataFrame, dict[str, int], dict[str, int]]:
    """Lots keyed by (donation_id, item), the donations frame with ``units``, the cash balance, pledged units."""
    rows = donations.reset_index(drop=True).copy()
    for col in DONATION_COLUMNS:
        if col not in rows.columns:
            rows[col] = pd.NA
    ids = []
    for i, r in rows.iterrows():
        did = as_text(r["donation_id"]) or f"{as_text(r['source_file'])}#{as_text(r['source_row']) or i + 1}"
        ids.append(did)
    rows["_id"] = ids
    rows["_date"] = [_day(v) for v in rows["date"]]
    rows["_kind"] = [fold(v).replace(" ", "_") for v in rows["kind"]]
    rows["_status"] = [fold(v) for v in rows["status"]]
    rows["_counts"] = [s == "received" and (d is None or d <= as_of) for s, d in zip(rows["_status"], rows["_date"])]
    rows["_order"] = [_lot_order(d, i) for d, i in zip(rows["_date"], rows["_id"])]
    units = [0] * len(rows)
    lots: dict[tuple[str, str], _Lot] = {}
    pledged_units = {item: 0 for item in ITEMS}
    cash = {"received_vnd": 0, "pledged_vnd": 0, "converted_vnd": 0, "carried_vnd": 0}

    def add(i: int, item: str, n: int, from_cash: bool) -> None:
        r = rows.iloc[i]
        key = (r["_id"], item)
        lot = lots.get(key)
        if lot is None:
            lot = lots[key] = _Lot(r["_id"], item, (*r["_order"], ITEMS.index(item)),
                                   as_text(r["earmark_school_code"]), as_text(r["earmark_commune_code"]), from_cash)
        lot.units += n
        lot.left += n
        units[i] += n

    prices = district.unit_prices
    device_item = district.cash_buys[0] if district.cash_buys else None
    internet_price = prices.get("internet_package") or 0
    share = Fraction(str(district.cash_internet_share)) if internet_price else Fraction(0)
    balances: dict[tuple[str, str, str], int] = {}  # (earmark school, earmark commune, item) -> pooled VND
    for i in sorted(range(len(rows)), key=lambda j: rows.at[j, "_order"]):
        r = rows.iloc[i]
        kind = r["_kind"]
        if kind in MONEY_KINDS:
            amount = max(_int(r["amount_vnd"]) or 0, 0)
            if r["_status"] == "pledged":
                cash["pledged_vnd"] += amount
            if not r["_counts"] or amount == 0:
                continue
            cash["received_vnd"] += amount
            internet_part = math.floor(amount * share)
            for item, part in (("internet_package", internet_part), (device_item, amount - internet_part)):
                if not item or part <= 0:
                    continue
                pool = (as_text(r["earmark_school_code"]), as_text(r["earmark_commune_code"]), item)
                balances[pool] = balances.get(pool, 0) + part
                n = balances[pool] // prices[item]
                if n:
                    balances[pool] -= n * prices[item]
                    cash["converted_vnd"] += n * prices[item]
                    add(i, item, n, True)
        elif kind in ITEMS:
            quantity = max(_int(r["quantity"]) or 0, 0)
            if r["_status"] == "pledged":
                pledged_units[kind] += quantity
            elif r["_counts"] and quantity:
                add(i, kind, quantity, False)
    cash["carried_vnd"] = cash["received_vnd"] - cash["converted_vnd"]
    out = donations.reset_index(drop=True).copy()
    for col in DONATION_COLUMNS:
        if col not in out.columns:
            out[col] = pd.Series([pd.NA] * len(out), dtype="object")
    out["units"] = pd.array(units, dtype="Int64")
    return lots, out, cash, pledged_units


class _Pools:
    """Lots grouped by need and earmark scope, each in use order."""

    def __init__(self, lots: Iterable[_Lot], district: District | None = None) -> None:
        self.district = district
        self.pools: dict[tuple[str, str, str], list[_Lot]] = {}
        for lot in sorted(lots, key=lambda x: x.order):
            need = "internet" if lot.item == "internet_package" else "device"
            if lot.earmark_school:
                scope = ("school", lot.earmark_school)
            elif lot.earmark_commune:
                scope = ("commune", lot.earmark_commune)
            else:
                scope = ("all", "")
            self.pools.setdefault((need, *scope), []).append(lot)

    def _scopes(self, need: str, person: dict) -> Iterable[list[_Lot]]:
        """The pools this person may draw from for a need, in order: school earmark, commune earmark, general."""
        for scope in (("school", person["school_code"]), ("commune", person["commune_code"]), ("all", "")):
            if scope[0] != "all" and not scope[1]:
                continue
            lots = self.pools.get((need, *scope))
            if not lots:
                continue
            while lots and lots[0].left <= 0:  # used-up lots leave the front of the queue
                lots.pop(0)
            yield lots

    def left_for(self, need: str, person: dict) -> str:
        """Units left per item in the pools this person may draw from: "laptop:1;tablet:3" (``ITEMS`` order,
        items with units only), or "0" when nothing is left."""
        left: dict[str, int] = {}
        for lots in self._scopes(need, person):
            for lot in lots:
                if lot.left > 0:
                    left[lot.item] = left.get(lot.item, 0) + lot.left
        return ";".join(f"{item}:{left[item]}" for item in ITEMS if item in left) or "0"

    def take(self, need: str, person: dict) -> _Lot | None:
        """The next unit for this person's need: school earmark, then commune earmark, then general units."""
        prefer = self.district.preferred_items(person["grade"]) if self.district and need == "device" else []
        for lots in self._scopes(need, person):
            lot = _choose_lot(need, person, lots, prefer)
            if lot is not None:
                lot.left -= 1
                return lot
        return None


def _choose_lot(need: str, person: dict, lots: list[_Lot], prefer: list[str] = ()) -> _Lot | None:
    """Which of the available lots (in use order) serves this person: the first lot of the most preferred item
    (``prefer``, best first) with units left; items not in ``prefer`` after, in use order."""
    rank = {item: i for i, item in enumerate(prefer)}
    best: _Lot | None = None
    for lot in lots:
        if lot.left > 0 and (best is None or rank.get(lot.item, len(rank)) < rank.get(best.item, len(rank))):
            best = lot
    return best


# --- persons -> eligibility and rank ------------------------------------------------------------------------
def _person_records(persons: pd.DataFrame, district: District) -> list[dict]:
    records = []
    seen: set[str] = set()
    for r in persons.to_dict("records"):
        pid = as_text(r.get("person_id"))
        if not pid:
            raise ValueError("persons: a row has no person_id")
        if pid in seen:
            raise ValueError(f"persons: person_id {pid} appears twice")
        seen.add(pid)
        grade = _int(r.get("grade"))
        full_name = as_text(r.get("full_name"))
        family, middle, given = split_name(full_name)
        lacks = {"device": _flag(r.get("lacks_device")), "internet": _flag(r.get("lacks_internet"))}
        exclusion = as_text(r.get("exclusion"))
        if not exclusion and (grade is None or not GRADE_MIN <= grade <= GRADE_MAX):
            exclusion = "grade_out_of_range"
        if not exclusion and not any(lacks.values()):
            exclusion = "needs_nothing"
        category = as_text(r.get("category")) or "none"
        records.append({
            "person_id": pid, "full_name": full_name,
            "given_name": as_text(r.get("given_name")) or given, "family_name": as_text(r.get("family_name")) or family,
            "middle_name": as_text(r.get("middle_name")) if as_text(r.get("given_name")) else middle,
            "commune_code": as_text(r.get("commune_code")), "commune": as_text(r.get("commune")),
            "school_code": as_text(r.get("school_code")), "school": as_text(r.get("school")),
            "village": as_text(r.get("village")), "grade": grade, "date_of_birth": as_text(r.get("date_of_birth")),
            "guardian_name": as_text(r.get("guardian_name")), "category": category,
            "tier": district.tier_rank(category), "lacks": lacks, "exclusion": exclusion,
        })
    return records


def _tie_key(name: str, p: dict) -> Any:
    if name == "lacks_both":
        return 0 if all(p["lacks"].values()) else 1
    if name == "grade_desc":
        return -(p["grade"] or 0)
    if name == "grade_asc":
        return p["grade"] or 0
    if name == "birth_date_asc":
        return (p["date_of_birth"] == "", p["date_of_birth"])
    if name == "given_name":
        return (collation_key(p["given_name"]), collation_key(p["family_name"]), collation_key(p["middle_name"]))
    if name == "person_id":
        return p["person_id"]
    raise ValueError(f"unknown tie-break {name!r}")


def priority_order(eligible: list[dict], district: District) -> list[dict]:
    """Eligible persons in global priority order: tier, then the district's tie-breaks, then person_id."""
    breaks = [b for b in district.tie_breaks if b != "person_id"] + ["person_id"]
    return sorted(eligible, key=lambda p: (p["tier"], *[_tie_key(b, p) for b in breaks]))


# --- the allocation -----------------------------------------------------------------------------------------
def allocate(persons: pd.DataFrame, donations: pd.DataFrame, connectivity: pd.DataFrame, previous: pd.DataFrame,
             district: District, as_of: dt.date, overrides: pd.DataFrame | None = None) -> Allocation:
    """Allocate tonight's received units to eligible children (see the module docstring for the rules)."""
    lots, donation_rows, cash, pledged_units = _donation_lots(donations, district, as_of)
    people = _person_records(persons, district)
    by_id = {p["person_id"]: p for p in people}
    prev = _previous(previous)
    orders, override_log = _overrides(overrides, as_of)
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
    orders = [o for o in orders if o["action"] != "assign" or last.get((o["person_id"], o["need"])) is o]
    for person in people:
        needs = [n for n in NEEDS if person["lacks"][n]]
        if not person["exclusion"] and needs and all((person["person_id"], n) in blocked for n in needs):
            person["exclusion"] = "officer_released"
    ranked = priority_order([p for p in people if not p["exclusion"]], district)
    rank = {p["person_id"]: i + 1 for i, p in enumerate(ranked)}
    coverage = _coverage(connectivity)

    # state[(person_id, need)] = (status, item, donation_id, reason) for the rows the night ends with
    state: dict[tuple[str, str], tuple[str, str, str, str]] = {}
    releases: dict[tuple[str, str], str] = {}
    new_rule: dict[tuple[str, str], str] = {}
    left_when: dict[tuple[str, str], str] = {}  # kept allocations: as recorded on the night they were made

    # 1. handed over: never changes; its unit is used (if its donation is known)
    for key, row in sorted(prev.items()):
        if row["status"] != "handed_over":
            continue
        lot = lots.get((row["donation_id"], row["item"]))
        if lot is not None and lot.left > 0:
            lot.left -= 1
        person = by_id.get(key[0])
        reason = "not_listed" if person is None else person["exclusion"]
        state[key] = ("handed_over", row["item"], row["donation_id"], reason)
        left_when[key] = row["left_when_turn"]

    # 2. officer assignments: a named unit, ahead of the priority order
    for o in orders:
        if o["action"] != "assign" or o["person_id"] not in by_id:
            continue
        key = (o["person_id"], o["need"])
        log = override_log[o["_i"]]
        if by_id[key[0]]["exclusion"]:
            log["result"] = "not_eligible"
            continue
        if key in state:
            log["result"] = "handed_over" if state[key][0] == "handed_over" else "applied"
            continue
        lot = _assigned_lot(lots, o, prev.get(key))
        if lot is None:
            log["result"] = "unserved"
            continue
        lot.left -= 1
        state[key] = ("allocated", lot.item, lot.donation_id, "override")
        blocked.discard(key)
        log["result"] = "applied"

    # 3. provisional: kept (in rank order) unless a rule releases it
    provisional = [(key, row) for key, row in prev.items() if row["status"] == "provisional"]
    provisional.sort(key=lambda kr: (rank.get(kr[0][0], len(rank) + 1), kr[0]))
    for key, row in provisional:
        person = by_id.get(key[0])
        if key in state:  # an officer assigned this need tonight
            same = state[key][1:3] == (row["item"], row["donation_id"])
            if not same:
                releases[key] = OVERRIDE_RULE
                new_rule[key] = OVERRIDE_RULE
            continue
        if person is None:
            releases[key] = "person_absent"
            continue
        if person["exclusion"]:
            releases[key] = person["exclusion"]
            continue
        if key in blocked:
            releases[key] = OVERRIDE_RULE
            continue
        if not person["lacks"][key[1]]:
            releases[key] = "need_withdrawn"
            continue
        lot = lots.get((row["donation_id"], row["item"]))
        if lot is None or lot.left <= 0 or (key[1] == "internet") != (row["item"] == "internet_package"):
            releases[key] = "donation_unavailable"
            continue
        lot.left -= 1
        state[key] = ("allocated", lot.item, lot.donation_id, "earmark" if lot.earmarked else "")
        left_when[key] = row["left_when_turn"]
    for key in state:
        if state[key][3] == "override" and key not in prev:
            new_rule[key] = OVERRIDE_RULE

    # 4. new allocations in priority order
    pools = _Pools(lots.values(), district)
    for person in ranked:
        for need in NEEDS:
            key = (person["person_id"], need)
            if not person["lacks"][need] or key in state or key in blocked:
                continue
            if need == "internet":
                covered = coverage.get(_village_key(person["commune_code"], person["village"]))
                if not covered:
                    state[key] = ("no_coverage", "", "", "coverage_unknown" if covered is None else "no_signal")
                    continue
            left_when[key] = pools.left_for(need, person)
            lot = pools.take(need, person)
            if lot is None:
                state[key] = ("waitlisted", "", "", "no_units")
                continue
            state[key] = ("allocated", lot.item, lot.donation_id, "earmark" if lot.earmarked else "")
            new_rule[key] = "earmark" if lot.earmarked else "new_allocation"

    allocations = _allocation_frame(state, by_id, rank, prev, district, left_when)
    person_status = _person_status(people, state, rank)
    summary = _summary(lots, state, pledged_units)
    changes, release_rows = _changes(prev, state, releases, new_rule)
    log_frame = pd.DataFrame(override_log, columns=OVERRIDE_LOG_COLUMNS)
    return Allocation(allocations=allocations, person_status=person_status, donations=donation_rows,
                      donation_summary=summary, cash=cash, changes=changes, releases=release_rows,
                      override_log=log_frame)


def _overrides(overrides: pd.DataFrame | None, as_of: dt.date) -> tuple[list[dict], list[dict]]:
    """Tonight's overrides in the order they apply (date, then id) and a log row for each one read."""
    if overrides is None or overrides.empty:
        return [], []
    log: list[dict] = []
    orders: list[dict] = []
    for r in overrides.to_dict("records"):
        o = {c: as_text(r.get(c)) for c in OVERRIDE_COLUMNS}
        o["action"] = fold(o["action"])
        day = _day(r.get("decided_on"))
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


def _assigned_lot(lots: dict[tuple[str, str], _Lot], order: dict, previous: dict | None) -> _Lot | None:
    """The unit an officer assigned: from the named donation, else the child's own provisional unit if it is of
    that item, else the first lot of the item in use order (earmarks do not bind an officer)."""
    item = order["item"]
    if order["donation_id"]:
        lot = lots.get((order["donation_id"], item))
        return lot if lot is not None and lot.left > 0 else None
    if previous and previous["status"] == "provisional" and previous["item"] == item:
        lot = lots.get((previous["donation_id"], item))
        if lot is not None and lot.left > 0:
            return lot
    candidates = sorted((lot for lot in lots.values() if lot.item == item and lot.left > 0), key=lambda x: x.order)
    return candidates[0] if candidates else None


def _previous(previous: pd.DataFrame | None) -> dict[tuple[str, str], dict]:
    out: dict[tuple[str, str], dict] = {}
    if previous is None or previous.empty:
        return out
    for r in previous.to_dict("records"):
        status = as_text(r.get("status"))
        if status not in ("provisional", "handed_over"):
            continue
        key = (as_text(r.get("person_id")), as_text(r.get("need")))
        if key in out:
            raise ValueError(f"previous: two active allocations for {key}")
        out[key] = {"status": status, "item": as_text(r.get("item")), "donation_id": as_text(r.get("donation_id")),
                    **{f: as_text(r.get(f)) for f in ("full_name", "date_of_birth", "commune_code", "school_code",
                                                     "guardian_name", "left_when_turn")}}
    return out


def _coverage(connectivity: pd.DataFrame | None) -> dict[tuple[str, str], bool]:
    """(commune_code, folded village) -> has 3G, 4G or fibre (any row saying so)."""
    out: dict[tuple[str, str], bool] = {}
    if connectivity is None or connectivity.empty:
        return out
    for r in connectivity.to_dict("records"):
        key = _village_key(as_text(r.get("commune_code")), as_text(r.get("village")))
        if not key[1]:
            continue
        covered = any(_flag(r.get(c)) for c in ("has_3g", "has_4g", "has_fibre"))
        out[key] = out.get(key, False) or covered
    return out


def _allocation_frame(state: dict, by_id: dict[str, dict], rank: dict[str, int], prev: dict,
                      district: District, left_when: dict[tuple[str, str], str]) -> pd.DataFrame:
    rows = []
    for (pid, need), (status, item, donation_id, reason) in state.items():
        p = by_id.get(pid)
        if p is None:
            old = prev.get((pid, need), {})
            p = {"full_name": old.get("full_name", ""), "commune": "", "school": "", "grade": None,
                 "category": "", "commune_code": old.get("commune_code", ""),
                 "school_code": old.get("school_code", ""), "village": "",
                 "date_of_birth": old.get("date_of_birth", ""), "tier": None,
                 "guardian_name": old.get("guardian_name", "")}
            if p["commune_code"] in district.commune_by_code:
                p["commune"] = district.commune_by_code[p["commune_code"]].name
            if p["school_code"] in district.school_by_code:
                p["school"] = district.school_by_code[p["school_code"]].name
        rows.append({
            "person_id": pid, "need": need, "full_name": p["full_name"], "commune": p["commune"],
            "school": p["school"], "grade": p["grade"], "category": p["category"], "priority_rank": rank.get(pid),
            "item": item, "donation_id": donation_id, "status": status, "reason": reason,
            "commune_code": p["commune_code"], "school_code": p["school_code"], "village": p["village"],
            "date_of_birth": p["date_of_birth"], "tier": p["tier"], "guardian_name": p["guardian_name"],
            "left_when_turn": left_when.get((pid, need), ""),
        })
    rows.sort(key=lambda r: (r["priority_rank"] is None, r["priority_rank"] or 0, r["person_id"],
                             NEEDS.index(r["need"])))
    df = pd.DataFrame(rows, columns=ALLOCATION_COLUMNS)
    for col in ("grade", "priority_rank", "tier"):
        df[col] = pd.array([None if v is None or pd.isna(v) else int(v) for v in df[col]], dtype="Int64")
    return df


def _person_status(people: list[dict], state: dict, rank: dict[str, int]) -> pd.DataFrame:
    rows = []
    for p in people:
        pid = p["person_id"]
        mine = [state[(pid, n)] for n in NEEDS if (pid, n) in state]
        supported = any(s[0] in ("allocated", "handed_over") for s in mine)
        if p["exclusion"]:
            status, reason = ("allocated" if supported else "excluded"), p["exclusion"]
        elif supported:
            status, reason = "allocated", ""
        else:
            status = "waitlisted"
            reason = "no_units" if any(s[0] == "waitlisted" for s in mine) else "no_coverage"
        rows.append({"person_id": pid, "status": status, "reason": reason, "priority_rank": rank.get(pid)})
    df = pd.DataFrame(rows, columns=PERSON_STATUS_COLUMNS)
    df["priority_rank"] = pd.array(list(df["priority_rank"]), dtype="Int64")
    return df.sort_values("person_id", kind="stable").reset_index(drop=True)


def _summary(lots: dict[tuple[str, str], _Lot], state: dict, pledged_units: dict[str, int]) -> pd.DataFrame:
    rows = []
    for item in ITEMS:
        mine = [lot for lot in lots.values() if lot.item == item]
        rows.append({
            "item": item,
            "received_units": sum(lot.units for lot in mine if not lot.from_cash),
            "from_cash_units": sum(lot.units for lot in mine if lot.from_cash),
            "pledged_units": pledged_units.get(item, 0),
            "allocated": sum(1 for s in state.values() if s[0] == "allocated" and s[1] == item),
            "handed_over": sum(1 for s in state.values() if s[0] == "handed_over" and s[1] == item),
            "remaining": sum(lot.left for lot in mine),
            "reserved": sum(lot.left for lot in mine if lot.earmarked),
        })
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _changes(prev: dict, state: dict, releases: dict[tuple[str, str], str], new_rule: dict[tuple[str, str], str]
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    changes, release_rows = [], []
    for key in sorted(set(prev) | set(new_rule)):
        old = prev.get(key)
        now = state.get(key)
        after = "released" if now is None else _state(
            "provisional" if now[0] == "allocated" else now[0], now[1], now[2])
        before = "" if old is None else _state(old["status"], old["item"], old["donation_id"])
        if before == after:
            continue
        rule = releases.get(key) or new_rule.get(key, "")
        changes.append({"person_id": key[0], "need": key[1], "before": before, "after": after, "rule": rule})
        if old is not None and old["status"] == "provisional":
            release_rows.append({"person_id": key[0], "need": key[1], "rule": rule, "item": old["item"],
                                 "donation_id": old["donation_id"]})
    return pd.DataFrame(changes, columns=CHANGE_COLUMNS), pd.DataFrame(release_rows, columns=RELEASE_COLUMNS)

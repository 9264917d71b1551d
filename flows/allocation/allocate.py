"""Stage 6 — allocate: donations -> available units; eligible children -> priority rank -> devices and packages.

A plain function over DataFrames (no I/O): the nightly flow passes the ledger's active allocations in as
``previous`` and writes the result back: ``Ledger.record_allocations(run_id, result.allocations, result.releases)``
and ``Ledger.write_change_log(run_id, result.changes)``.

The parts, each with its own rules: ``flows.allocation.units`` (how received donations and cash become units,
earmarked pools), ``flows.allocation.priority`` (who is eligible, the global priority rank),
``flows.allocation.coverage`` (which villages have a signal) and ``flows.allocation.overrides`` (officer
decisions). This module keeps earlier allocations stable, serves the rest in rank order and writes the result.

Who gets what
- Eligible: no exclusion and grade 1-9. Everyone eligible gets a global ``priority_rank``: tier
  (``district.priority_tiers``), then ``district.tie_breaks``, then person_id.
- Previous allocations are honoured first: handed-over ones never change (even for a child now excluded or no
  longer listed); provisional ones keep their unit unless a rule releases them (rule codes below). So a new
  higher-priority child never takes a unit that is already allocated.
- An officer's ``assign`` is served after the handovers and before provisional allocations are kept; an
  officer's ``exclude`` or ``release`` releases provisional units (``flows.allocation.overrides``).
- Then, in rank order, each need: a device need gets the next general device unit, an internet need the next
  general internet package — but only where the child's village has 3G, 4G or fibre (else ``no_coverage``).
- Earmarks are additional: once district priority has given out the general units, units earmarked for a
  school, then for a commune, go in rank order to that place's children still waiting. So a place gets its
  earmarked units on top of what district priority gives it (5 laptops earmarked for a school are 5 more
  devices for that school while it has 5 children waiting), and earmarked units never go elsewhere (left over,
  they are reported as ``reserved``). Units earmarked for a place the district does not know are held
  (``flows.allocation.units``). Within one pool a device need takes the item its grade prefers
  (``district.device_preference``), else units in donation order. What was left in the pools the child could
  draw from, at the child's turn, is recorded (``left_when_turn``).
- An open review pair is never supported twice: until an officer decides whether the two persons of a pair in
  ``review_pairs`` (dedupe's "Cần xem xét") are one child, they never both receive the same need, on one night
  or across nights. The higher-ranked one is served as usual and the other waits (``pending_review``) — unless
  the other already holds that need (provisional or handed over from an earlier night, or an officer's
  assignment): this rule never takes a support away, so then the higher-ranked one waits. Once the officer
  decides, the pair leaves the queue (same child: one person; different: both served by the rules above).
- Every night checks that no donation gives out more than it holds: units allocated from a donation never
  exceed its units less those handed over (else ``RuntimeError``: a bug); handovers beyond a donation's units
  are an officer's record to check (``donation_overdrawn`` in ``donation_problems``).

Codes
- allocations.status: allocated | handed_over | waitlisted | no_coverage.
- allocations.reason: allocated -> "" or ``earmark``; waitlisted -> ``no_units`` or ``pending_review``;
  no_coverage -> ``no_signal`` or ``coverage_unknown`` (village not in the connectivity lists); handed_over -> ""
  or, for a child no longer eligible, the exclusion code, or ``not_listed`` for a child absent from tonight's
  lists.
- person_status.status: allocated (at least one support, handed over or not) | waitlisted | excluded; reason:
  the exclusion code (``grade_out_of_range``, ``needs_nothing``, ``outside_district``, ...), or for waitlisted
  ``pending_review`` (a need waits for an officer's decision on a pair), else ``no_units`` / ``no_coverage``.
- changes.rule / releases.rule: ``new_allocation``, ``earmark`` (new allocations); ``person_absent``, the
  exclusion code, ``need_withdrawn`` (the list no longer marks the need), ``donation_unavailable`` (the unit's
  donation is gone or smaller) for released provisional allocations; ``officer_override`` for allocations
  made or released by an override (``officer_excluded`` for an officer's exclusion).
- override_log.result: see ``flows.allocation.overrides``.
- donation_problems.rule: ``duplicate_donation``, ``earmark_unknown`` (``flows.allocation.units``),
  ``donation_overdrawn``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from flows.allocation.coverage import coverage, village_key
from flows.allocation.overrides import OVERRIDE_LOG_COLUMNS, assigned_lot, officer_decisions
from flows.allocation.priority import person_records, priority_order
from flows.allocation.units import EARMARKED, GENERAL, ITEMS, NEEDS, PROBLEM_COLUMNS, Lot, Pools, donation_lots
from flows.config import District
from flows.frames import ALLOCATION_EXPORT_COLUMNS, CHANGE_COLUMNS
from flows.text import as_text
from flows.frames import frame_records

ALLOCATION_COLUMNS = [*ALLOCATION_EXPORT_COLUMNS, "commune_code", "school_code", "village", "date_of_birth",
                      "tier", "guardian_name", "left_when_turn"]
PERSON_STATUS_COLUMNS = ["person_id", "status", "reason", "priority_rank"]
SUMMARY_COLUMNS = ["item", "received_units", "from_cash_units", "pledged_units", "allocated", "handed_over",
                   "remaining", "reserved"]
RELEASE_COLUMNS = ["person_id", "need", "rule", "item", "donation_id"]
OVERRIDE_RULE = "officer_override"
PENDING_REVIEW = "pending_review"
_GIVEN = ("allocated", "handed_over")


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
    - donation_problems: ``flows.allocation.units.PROBLEM_COLUMNS`` — donation rows an officer must fix (a
      repeated donation id, an earmark naming an unknown place, more handed over than received).
    """

    allocations: pd.DataFrame
    person_status: pd.DataFrame
    donations: pd.DataFrame
    donation_summary: pd.DataFrame
    cash: dict[str, int]
    changes: pd.DataFrame
    releases: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RELEASE_COLUMNS))
    override_log: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=OVERRIDE_LOG_COLUMNS))
    donation_problems: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PROBLEM_COLUMNS))
    # filled by the nightly stage wrapper (ledger I/O), not by ``allocate``:
    issues: list = field(default_factory=list)  # officer-sheet rows that could not be used
    follow_ups: pd.DataFrame | None = None  # latest device-use check per person and need
    handovers: pd.DataFrame | None = None  # every handover on record


def _state(status: str, item: str = "", donation_id: str = "") -> str:
    return f"{status}:{item}:{donation_id}" if item else status


def allocate(persons: pd.DataFrame, donations: pd.DataFrame, connectivity: pd.DataFrame, previous: pd.DataFrame,
             district: District, as_of: dt.date, overrides: pd.DataFrame | None = None,
             review_pairs: pd.DataFrame | None = None) -> Allocation:
    """Allocate tonight's received units to eligible children (see the module docstring for the rules).

    ``review_pairs``: the pairs an officer has not decided on yet (person_id_l, person_id_r, ...: dedupe's
    ``review_pairs``); none when omitted."""
    units = donation_lots(donations, district, as_of)
    lots = units.lots
    partners = _open_pairs(review_pairs)
    people = person_records(persons, district)
    by_id = {p["person_id"]: p for p in people}
    prev = _previous(previous)
    assignments, override_log, blocked = officer_decisions(overrides, as_of, people, prev)
    ranked = priority_order([p for p in people if not p["exclusion"]], district)
    rank = {p["person_id"]: i + 1 for i, p in enumerate(ranked)}
    has_signal = coverage(connectivity)

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
    for o in assignments:  # each for a listed child
        key = (o["person_id"], o["need"])
        log = override_log[o["_i"]]
        if by_id[key[0]]["exclusion"]:
            log["result"] = "not_eligible"
            continue
        if key in state:
            log["result"] = "handed_over" if state[key][0] == "handed_over" else "applied"
            continue
        lot = assigned_lot(lots, o, prev.get(key))
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

    # 4. new allocations in priority order: general units first, then earmarked units (on top of them)
    pools = Pools(lots.values(), district)
    for kinds in (GENERAL, EARMARKED):
        for person in ranked:
            for need in NEEDS:
                key = (person["person_id"], need)
                if not person["lacks"][need] or key in blocked:
                    continue
                if key in state and (kinds == GENERAL or state[key] != _WAITING):
                    continue
                if need == "internet" and kinds == GENERAL:
                    covered = has_signal.get(village_key(person["commune_code"], person["village"]))
                    if not covered:
                        state[key] = ("no_coverage", "", "", "coverage_unknown" if covered is None else "no_signal")
                        continue
                if any(state.get((other, need), ("",))[0] in _GIVEN for other in partners.get(key[0], ())):
                    state[key] = ("waitlisted", "", "", PENDING_REVIEW)
                    left_when.pop(key, None)
                    continue
                left_when[key] = pools.left_for(need, person, kinds)
                lot = pools.take(need, person, kinds)
                if lot is None:
                    state[key] = _WAITING
                    continue
                state[key] = ("allocated", lot.item, lot.donation_id, "earmark" if lot.earmarked else "")
                new_rule[key] = "earmark" if lot.earmarked else "new_allocation"

    allocations = _allocation_frame(state, by_id, rank, prev, district, left_when)
    person_status = _person_status(people, state, rank)
    summary = _summary(lots, state, units.pledged_units)
    changes, release_rows = _changes(prev, state, releases, new_rule)
    log_frame = pd.DataFrame(override_log, columns=OVERRIDE_LOG_COLUMNS)
    problems = pd.DataFrame(units.problems + _check_units(lots, state), columns=PROBLEM_COLUMNS)
    return Allocation(allocations=allocations, person_status=person_status, donations=units.donations,
                      donation_summary=summary, cash=units.cash, changes=changes, releases=release_rows,
                      override_log=log_frame, donation_problems=problems)


_WAITING = ("waitlisted", "", "", "no_units")


def _open_pairs(review_pairs: pd.DataFrame | None) -> dict[str, set[str]]:
    """person_id -> the persons it is paired with in a review an officer has not decided yet."""
    partners: dict[str, set[str]] = {}
    if review_pairs is None or review_pairs.empty:
        return partners
    pairs = list(zip(review_pairs["person_id_l"], review_pairs["person_id_r"]))
    for also in review_pairs.get("also_pairs", pd.Series(dtype=str)):  # pairs sharing one shown pair key
        pairs += [tuple(p.split("~", 1)) for p in as_text(also).split(";") if "~" in p]
    for left, right in pairs:
        a, b = as_text(left), as_text(right)
        if a and b and a != b:
            partners.setdefault(a, set()).add(b)
            partners.setdefault(b, set()).add(a)
    return partners


def _check_units(lots: dict[tuple[str, str], Lot], state: dict) -> list[dict]:
    """Tonight's check that no donation gives out more than it holds. Units allocated beyond what a donation holds
    less its handovers are our bug (``RuntimeError``, ids only); handovers beyond its units are the officer's
    record to check: a ``donation_overdrawn`` problem on the donation's row."""
    given: dict[tuple[str, str], list[int]] = {}  # (donation_id, item) -> [allocated, handed over]
    for status, item, donation_id, _ in state.values():
        if status in _GIVEN:
            given.setdefault((donation_id, item), [0, 0])[status == "handed_over"] += 1
    problems = []
    for key, (allocated, handed) in sorted(given.items()):
        lot = lots.get(key)
        units = lot.units if lot is not None else 0
        if allocated and allocated + handed > units:
            raise RuntimeError(f"donation {key[0]} ({key[1]}): {allocated} allocated and {handed} handed over, "
                               f"but it holds {units}")
        if lot is not None and handed > units:
            problems.append({"rule": "donation_overdrawn", "donation_id": key[0], "item": key[1],
                             "source_file": lot.place[0], "source_sheet": lot.place[1],
                             "source_row": lot.place[2] or None, "value": key[0], "other_file": "",
                             "other_sheet": "", "other_row": None, "handed_over": handed, "units": units})
    return problems


def _previous(previous: pd.DataFrame | None) -> dict[tuple[str, str], dict]:
    out: dict[tuple[str, str], dict] = {}
    if previous is None or previous.empty:
        return out
    for r in frame_records(previous):
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
            waits = {s[3] for s in mine if s[0] == "waitlisted"}
            reason = PENDING_REVIEW if PENDING_REVIEW in waits else "no_units" if waits else "no_coverage"
        rows.append({"person_id": pid, "status": status, "reason": reason, "priority_rank": rank.get(pid)})
    df = pd.DataFrame(rows, columns=PERSON_STATUS_COLUMNS)
    df["priority_rank"] = pd.array(list(df["priority_rank"]), dtype="Int64")
    return df.sort_values("person_id", kind="stable").reset_index(drop=True)


def _summary(lots: dict[tuple[str, str], Lot], state: dict, pledged_units: dict[str, int]) -> pd.DataFrame:
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
        changes.append({"person_id": key[0], "need": key[1], "before": before, "after": after, "rule": rule,
                        "other_person_id": ""})
        if old is not None and old["status"] == "provisional":
            release_rows.append({"person_id": key[0], "need": key[1], "rule": rule, "item": old["item"],
                                 "donation_id": old["donation_id"]})
    return pd.DataFrame(changes, columns=CHANGE_COLUMNS), pd.DataFrame(release_rows, columns=RELEASE_COLUMNS)

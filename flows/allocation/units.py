"""Donations -> available units: the lots each donation gives tonight and the pools a child draws them from.

How units are counted
- Only *received* donations count (pledges are reported); a donation dated after ``as_of`` is not yet received.
- A donation id is counted once: the same id on several rows (in one source or in two) gives the units of one
  row only — the first received by ``as_of``, else the first, in file, sheet and row order; every other row is a
  ``duplicate_donation`` problem naming both places, and gives no units (``units`` 0).
- Device and internet-package donations give ``quantity`` units. Cash and state budget money is pooled in
  donation order (per earmark): ``cash_internet_share`` of each amount buys internet packages and the rest buys
  the first item of ``cash_buys``, at ``unit_prices``. A unit is bought as soon as the pooled money reaches its
  price and carries the id of the donation that completed it; money left over is carried (``cash``).
- Units are used in donation order: date, then donation id (``_lot_order``).
- An earmark naming a school or commune the district does not know (``district.yaml``; an earmark text that
  names neither, or a code not in the lists) is an ``earmark_unknown`` problem: its units are *held* — nobody
  draws them, they are reported as ``reserved`` until the officer writes the place right.

How units are drawn (``Pools``)
- General units (no earmark) go by district priority alone (scope ``GENERAL``). Earmarked units are drawn
  after, by the children of the place they name who are still waiting (scope ``EARMARKED``: the school's, then
  the commune's), so they come on top of what district priority gives that place; earmarked units never go
  elsewhere. Within one pool a device need takes the item its grade prefers (``district.device_preference``),
  else units in donation order.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

import pandas as pd

from flows.allocation.values import as_day, as_int
from flows.config import DEVICE_ITEMS, District
from flows.frames import DONATION_COLUMNS
from flows.text import as_text, fold

NEEDS = ("device", "internet")
ITEMS = (*DEVICE_ITEMS, "internet_package")
MONEY_KINDS = ("cash", "budget")
GENERAL = ("all",)  # the pools of units without an earmark
EARMARKED = ("school", "commune")  # the pools earmarked for the child's school, then commune
PROBLEM_COLUMNS = ["rule", "donation_id", "item", "source_file", "source_sheet", "source_row", "value",
                   "other_file", "other_sheet", "other_row", "handed_over", "units"]


@dataclass
class Lot:
    """Units of one item from one donation."""

    donation_id: str
    item: str
    order: tuple
    earmark_school: str
    earmark_commune: str
    from_cash: bool = False
    units: int = 0
    left: int = 0
    held: bool = False  # earmarked for a place the district does not know: drawn by nobody
    place: tuple[str, str, int] = ("", "", 0)  # source file, sheet and row of the donation row that counts

    @property
    def earmarked(self) -> bool:
        return bool(self.earmark_school or self.earmark_commune or self.held)


@dataclass
class DonationUnits:
    """What tonight's donations give: ``lots`` keyed by (donation_id, item); ``donations``, the input rows with
    ``units`` (Int64, after cash conversion; 0 for a repeated id); ``cash`` (received_vnd, pledged_vnd,
    converted_vnd, carried_vnd); ``pledged_units`` per item; ``problems`` (``PROBLEM_COLUMNS``: repeated donation
    ids and unknown earmarks, for the officer)."""

    lots: dict[tuple[str, str], Lot]
    donations: pd.DataFrame
    cash: dict[str, int]
    pledged_units: dict[str, int]
    problems: list[dict]


def _lot_order(date: dt.date | None, donation_id: str) -> tuple:
    """Units are used in this order: dated donations by date, undated last, then by donation id."""
    return (date is None, date or dt.date.min, donation_id)


def donation_lots(donations: pd.DataFrame, district: District, as_of: dt.date) -> DonationUnits:
    """Tonight's lots from the received donations (see the module docstring for the rules)."""
    rows = donations.reset_index(drop=True).copy()
    for col in DONATION_COLUMNS:
        if col not in rows.columns:
            rows[col] = pd.NA
    ids = []
    for i, r in rows.iterrows():
        did = as_text(r["donation_id"]) or f"{as_text(r['source_file'])}#{as_text(r['source_row']) or i + 1}"
        ids.append(did)
    rows["_id"] = ids
    rows["_date"] = [as_day(v) for v in rows["date"]]
    rows["_kind"] = [fold(v).replace(" ", "_") for v in rows["kind"]]
    rows["_status"] = [fold(v) for v in rows["status"]]
    rows["_counts"] = [s == "received" and (d is None or d <= as_of) for s, d in zip(rows["_status"], rows["_date"])]
    rows["_order"] = [_lot_order(d, i) for d, i in zip(rows["_date"], rows["_id"])]
    rows["_earmark"] = [_earmark(r, district) for r in rows.to_dict("records")]
    records = rows.to_dict("records")
    problems = _repeated_ids(records)
    repeated = {p["_row"] for p in problems}
    problems += [_problem("earmark_unknown", r, value=r["_earmark"][3]) for i, r in enumerate(records)
                 if r["_earmark"][2] and i not in repeated]
    units = [0] * len(rows)
    lots: dict[tuple[str, str], Lot] = {}
    pledged_units = {item: 0 for item in ITEMS}
    cash = {"received_vnd": 0, "pledged_vnd": 0, "converted_vnd": 0, "carried_vnd": 0}

    def add(i: int, item: str, n: int, from_cash: bool) -> None:
        r = rows.iloc[i]
        key = (r["_id"], item)
        lot = lots.get(key)
        if lot is None:
            school, commune, held, _ = r["_earmark"]
            lot = lots[key] = Lot(r["_id"], item, (*r["_order"], ITEMS.index(item)), school, commune, from_cash,
                                  held=held, place=_place(records[i]))
        lot.units += n
        lot.left += n
        units[i] += n

    prices = district.unit_prices
    device_item = district.cash_buys[0] if district.cash_buys else None
    internet_price = prices.get("internet_package") or 0
    share = Fraction(str(district.cash_internet_share)) if internet_price else Fraction(0)
    balances: dict[tuple, int] = {}  # (earmark school, commune, held place, item) -> pooled VND
    for i in sorted(range(len(rows)), key=lambda j: rows.at[j, "_order"]):
        if i in repeated:
            continue
        r = rows.iloc[i]
        kind = r["_kind"]
        if kind in MONEY_KINDS:
            amount = max(as_int(r["amount_vnd"]) or 0, 0)
            if r["_status"] == "pledged":
                cash["pledged_vnd"] += amount
            if not r["_counts"] or amount == 0:
                continue
            cash["received_vnd"] += amount
            internet_part = math.floor(amount * share)
            for item, part in (("internet_package", internet_part), (device_item, amount - internet_part)):
                if not item or part <= 0:
                    continue
                school, commune, held, place = r["_earmark"]
                pool = (school, commune, place if held else "", item)
                balances[pool] = balances.get(pool, 0) + part
                n = balances[pool] // prices[item]
                if n:
                    balances[pool] -= n * prices[item]
                    cash["converted_vnd"] += n * prices[item]
                    add(i, item, n, True)
        elif kind in ITEMS:
            quantity = max(as_int(r["quantity"]) or 0, 0)
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
    problems = [{c: p[c] for c in PROBLEM_COLUMNS} for p in sorted(problems, key=_problem_order)]
    return DonationUnits(lots, out, cash, pledged_units, problems)


def _earmark(row: dict, district: District) -> tuple[str, str, bool, str]:
    """(school code, commune code, held, as written): held when the earmark names a place the district does not
    know — a code not in ``district.yaml``, or a text that named no school or commune."""
    school, commune = as_text(row.get("earmark_school_code")), as_text(row.get("earmark_commune_code"))
    text = as_text(row.get("earmark_text"))
    unknown = (school and school not in district.school_by_code) or (
        commune and commune not in district.commune_by_code) or (text and not school and not commune)
    return school, commune, bool(unknown), text or school or commune


def _place(row: dict) -> tuple[str, str, int]:
    return as_text(row.get("source_file")), as_text(row.get("source_sheet")), as_int(row.get("source_row")) or 0


def _problem(rule: str, row: dict, **extra: object) -> dict:
    file, sheet, line = _place(row)
    return {"rule": rule, "donation_id": row["_id"], "item": "", "source_file": file, "source_sheet": sheet,
            "source_row": line or None, "value": row["_id"], "other_file": "", "other_sheet": "", "other_row": None,
            "handed_over": None, "units": None, **extra}


def _repeated_ids(records: list[dict]) -> list[dict]:
    """One ``duplicate_donation`` problem per row repeating a donation id (``_row``: its index), naming the row
    whose units count: the first received by as_of, else the first, in file, sheet, row (then content) order."""
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        groups.setdefault(r["_id"], []).append(i)
    problems = []
    for members in groups.values():
        if len(members) < 2:
            continue
        order = sorted(members, key=lambda i: (not records[i]["_counts"], _place(records[i]), _content(records[i])))
        kept = records[order[0]]
        file, sheet, line = _place(kept)
        for i in order[1:]:
            problems.append({**_problem("duplicate_donation", records[i], other_file=file, other_sheet=sheet,
                                        other_row=line or None), "_row": i})
    return problems


def _content(row: dict) -> tuple:
    return tuple(as_text(row.get(c)) for c in DONATION_COLUMNS)


def _problem_order(p: dict) -> tuple:
    return (p["source_file"], p["source_sheet"], p["source_row"] or 0, p["rule"], p["donation_id"], p["item"])


class Pools:
    """Lots grouped by need and earmark scope, each in use order."""

    def __init__(self, lots: Iterable[Lot], district: District | None = None) -> None:
        self.district = district
        self.pools: dict[tuple[str, str, str], list[Lot]] = {}
        for lot in sorted(lots, key=lambda x: x.order):
            need = "internet" if lot.item == "internet_package" else "device"
            if lot.held:
                continue
            if lot.earmark_school:
                scope = ("school", lot.earmark_school)
            elif lot.earmark_commune:
                scope = ("commune", lot.earmark_commune)
            else:
                scope = ("all", "")
            self.pools.setdefault((need, *scope), []).append(lot)

    def _scopes(self, need: str, person: dict, kinds: tuple[str, ...]) -> Iterable[list[Lot]]:
        """The pools of ``kinds`` (``GENERAL``, ``EARMARKED``) this person may draw from for a need, in order."""
        for kind in kinds:
            code = "" if kind == "all" else person[f"{kind}_code"]
            if kind != "all" and not code:
                continue
            lots = self.pools.get((need, kind, code))
            if not lots:
                continue
            while lots and lots[0].left <= 0:  # used-up lots leave the front of the queue
                lots.pop(0)
            yield lots

    def left_for(self, need: str, person: dict, kinds: tuple[str, ...] = (*EARMARKED, *GENERAL)) -> str:
        """Units left per item in the pools of ``kinds`` this person may draw from: "laptop:1;tablet:3" (``ITEMS``
        order, items with units only), or "0" when nothing is left."""
        left: dict[str, int] = {}
        for lots in self._scopes(need, person, kinds):
            for lot in lots:
                if lot.left > 0:
                    left[lot.item] = left.get(lot.item, 0) + lot.left
        return ";".join(f"{item}:{left[item]}" for item in ITEMS if item in left) or "0"

    def take(self, need: str, person: dict, kinds: tuple[str, ...] = (*EARMARKED, *GENERAL)) -> Lot | None:
        """The next unit for this person's need from the pools of ``kinds``, in that order."""
        prefer = self.district.preferred_items(person["grade"]) if self.district and need == "device" else []
        for lots in self._scopes(need, person, kinds):
            lot = _choose_lot(need, person, lots, prefer)
            if lot is not None:
                lot.left -= 1
                return lot
        return None


def _choose_lot(need: str, person: dict, lots: list[Lot], prefer: list[str] = ()) -> Lot | None:
    """Which of the available lots (in use order) serves this person: the first lot of the most preferred item
    (``prefer``, best first) with units left; items not in ``prefer`` after, in use order."""
    rank = {item: i for i, item in enumerate(prefer)}
    best: Lot | None = None
    for lot in lots:
        if lot.left > 0 and (best is None or rank.get(lot.item, len(rank)) < rank.get(best.item, len(rank))):
            best = lot
    return best

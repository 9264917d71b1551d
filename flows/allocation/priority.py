"""Who may be served and in what order: tonight's persons -> eligibility -> one global priority rank.

- Eligible: no exclusion and grade 1-9 (else ``grade_out_of_range``), lacking a device or internet (else
  ``needs_nothing``); an exclusion the lists already give (``outside_district``, ...) is kept.
- Everyone eligible gets a global ``priority_rank``: tier (``district.priority_tiers``), then
  ``district.tie_breaks``, then person_id — so the order never depends on the order of the input rows.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from flows.allocation.values import as_flag, as_int
from flows.config import District
from flows.frames import frame_records
from flows.text import as_text, collation_key, split_name

GRADE_MIN, GRADE_MAX = 1, 9


def person_records(persons: pd.DataFrame, district: District) -> list[dict]:
    """One record per person (tier, needs in ``lacks``, ``exclusion`` or ""); a missing or repeated person_id is a
    bug upstream (``ValueError``)."""
    records = []
    seen: set[str] = set()
    for r in frame_records(persons):
        pid = as_text(r.get("person_id"))
        if not pid:
            raise ValueError("persons: a row has no person_id")
        if pid in seen:
            raise ValueError(f"persons: person_id {pid} appears twice")
        seen.add(pid)
        grade = as_int(r.get("grade"))
        full_name = as_text(r.get("full_name"))
        family, middle, given = split_name(full_name)
        lacks = {"device": as_flag(r.get("lacks_device")), "internet": as_flag(r.get("lacks_internet"))}
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


def _tie_key(name: str, p: dict, collate=collation_key) -> Any:
    if name == "lacks_both":
        return 0 if all(p["lacks"].values()) else 1
    if name == "grade_desc":
        return -(p["grade"] or 0)
    if name == "grade_asc":
        return p["grade"] or 0
    if name == "birth_date_asc":
        return (p["date_of_birth"] == "", p["date_of_birth"])
    if name == "given_name":
        return (collate(p["given_name"]), collate(p["family_name"]), collate(p["middle_name"]))
    if name == "person_id":
        return p["person_id"]
    raise ValueError(f"unknown tie-break {name!r}")


def priority_order(eligible: list[dict], district: District) -> list[dict]:
    """Eligible persons in global priority order: tier, then the district's tie-breaks, then person_id."""
    breaks = [b for b in district.tie_breaks if b != "person_id"] + ["person_id"]
    keys: dict[str, tuple] = {}  # one collation key per name part of tonight's persons (they repeat a lot)

    def collate(text: str) -> tuple:
        key = keys.get(text)
        if key is None:
            key = keys[text] = collation_key(text)
        return key

    return sorted(eligible, key=lambda p: (p["tier"], *[_tie_key(b, p, collate) for b in breaks]))

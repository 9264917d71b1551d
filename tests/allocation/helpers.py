"""Small worlds for the allocator's tests: children, donations and villages with a signal, and a night's run."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from flows.allocation.allocate import allocate
from flows.config import load_config

DISTRICT = load_config().district  # tablet 4 500 000, internet package 1 200 000, 10 % of cash for internet
AS_OF = dt.date(2022, 6, 1)
NO_PREVIOUS = pd.DataFrame(columns=["person_id", "need", "item", "donation_id", "status"])
COVERED = pd.DataFrame([
    {"commune_code": "06388", "village": "Thôn Bãi Hào", "has_3g": False, "has_4g": True, "has_fibre": False},
    {"commune_code": "06388", "village": "Thôn Còn Cuông", "has_3g": False, "has_4g": False, "has_fibre": False},
    {"commune_code": "06391", "village": "Thôn Cầu Ngầm", "has_3g": True, "has_4g": False, "has_fibre": False},
])


def child(pid: str, name: str = "Nguyễn Văn An", *, category: str = "none", grade: int | None = 5,
          commune: str = "06388", school: str = "TH-06388", village: str = "Thôn Bãi Hào", device: bool = True,
          internet: bool = False, exclusion: str = "", dob: str = "2012-01-01") -> dict:
    family, *middle, given_ = name.split()
    return {"person_id": pid, "full_name": name, "given_name": given_, "family_name": family,
            "middle_name": " ".join(middle), "commune_code": commune, "commune": "", "school_code": school,
            "school": "", "village": village, "grade": grade, "date_of_birth": dob, "category": category,
            "lacks_device": device, "lacks_internet": internet, "exclusion": exclusion}


def persons_frame(*rows: dict) -> pd.DataFrame:
    df = pd.DataFrame(list(rows), columns=list(child("x")))
    df["grade"] = pd.array([None if g is None or pd.isna(g) else int(g) for g in df["grade"]], dtype="Int64")
    return df


def donation(did: str, kind: str, *, quantity: int | None = None, amount: int | None = None,
             status: str = "received", date: str | None = "2022-01-10", commune: str = "", school: str = "") -> dict:
    return {"donation_id": did, "donor": "", "date": date, "kind": kind, "quantity": quantity, "amount_vnd": amount,
            "status": status, "earmark_commune_code": commune, "earmark_school_code": school, "earmark_text": "",
            "note": ""}


def donations_frame(*rows: dict) -> pd.DataFrame:
    df = pd.DataFrame(list(rows), columns=list(donation("x", "cash")))
    for col in ("quantity", "amount_vnd"):
        df[col] = pd.array([None if v is None or pd.isna(v) else int(v) for v in df[col]], dtype="Int64")
    return df


def run(persons: pd.DataFrame, donations: pd.DataFrame, previous: pd.DataFrame = NO_PREVIOUS,
        connectivity: pd.DataFrame = COVERED, district=DISTRICT, review_pairs: pd.DataFrame | None = None):
    return allocate(persons, donations, connectivity, previous, district, AS_OF, review_pairs=review_pairs)


def review_pairs(*pairs: tuple[str, str]) -> pd.DataFrame:
    """Pairs of persons an officer has not decided on yet (the dedupe stage's ``review_pairs``)."""
    rows = [{"person_id_l": a, "person_id_r": b, "pair_key": f"{a.lower():0>16}-{b.lower():0>16}"} for a, b in pairs]
    return pd.DataFrame(rows, columns=["person_id_l", "person_id_r", "pair_key"])


def rows_of(result, *cols: str) -> dict:
    df = result.allocations.set_index(["person_id", "need"])
    return {k: tuple(v) for k, v in df[list(cols)].iterrows()}


def as_previous(result) -> pd.DataFrame:
    """The ledger's view of a result: its allocated rows become provisional allocations."""
    keep = result.allocations[result.allocations["status"].isin(["allocated", "handed_over"])]
    prev = keep[["person_id", "need", "item", "donation_id", "status", "full_name", "date_of_birth",
                 "commune_code", "school_code", "left_when_turn"]].copy()
    prev["status"] = prev["status"].replace({"allocated": "provisional"})
    return prev.reset_index(drop=True)

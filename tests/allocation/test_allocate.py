"""The allocator: readable examples of each rule, then properties that must hold for any input (hypothesis)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.allocation.allocate import ALLOCATION_COLUMNS, OVERRIDE_COLUMNS, allocate
from flows.config import DEVICE_ITEMS, load_config

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
        connectivity: pd.DataFrame = COVERED, district=DISTRICT):
    return allocate(persons, donations, connectivity, previous, district, AS_OF)


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


# --- examples ---------------------------------------------------------------------------------------------------
def test_cash_is_pooled_into_units_and_the_remainder_is_carried() -> None:
    donations = donations_frame(
        donation("C1", "cash", amount=3_000_000, date="2022-01-01"),
        donation("C2", "budget", amount=4_000_000, date="2022-01-02"),  # completes a tablet with C1's money
        donation("C3", "cash", amount=12_000_000, date="2022-01-03"),  # 1 200 000 -> 1 package; 10 800 000 -> 2 tablets
        donation("C4", "cash", amount=50_000_000, status="pledged"),
    )
    result = run(persons_frame(child("HS1")), donations)
    assert result.donations.set_index("donation_id")["units"].to_dict() == {"C1": 0, "C2": 1, "C3": 3, "C4": 0}
    # received 19.0M; internet share 1.9M -> 1 package (1.2M, 0.7M left); devices 17.1M -> 3 tablets (13.5M, 3.6M left)
    assert result.cash == {"received_vnd": 19_000_000, "pledged_vnd": 50_000_000, "converted_vnd": 14_700_000,
                           "carried_vnd": 4_300_000}
    summary = result.donation_summary.set_index("item")
    assert summary.loc["tablet", ["from_cash_units", "allocated", "remaining"]].tolist() == [3, 1, 2]
    assert summary.loc["internet_package", ["from_cash_units", "remaining"]].tolist() == [1, 1]
    # cash-derived units carry the id of the cash donation they came from
    assert rows_of(result, "item", "donation_id", "status")[("HS1", "device")] == ("tablet", "C2", "allocated")


def test_only_received_donations_are_allocated_and_pledges_are_reported() -> None:
    donations = donations_frame(donation("P1", "laptop", quantity=5, status="pledged"),
                                donation("L1", "laptop", quantity=1, date="2022-05-30"),
                                donation("L2", "laptop", quantity=4, date="2022-06-02"))  # after the as-of date
    result = run(persons_frame(child("HS1", category="poor"), child("HS2")), donations)
    assert rows_of(result, "status", "donation_id") == {("HS1", "device"): ("allocated", "L1"),
                                                        ("HS2", "device"): ("waitlisted", "")}
    laptops = result.donation_summary.set_index("item").loc["laptop"]
    assert laptops[["received_units", "pledged_units", "allocated", "remaining"]].tolist() == [1, 5, 1, 0]


def test_priority_is_tier_then_tie_breaks_then_person_id() -> None:
    persons = persons_frame(
        child("HS9", "Vi Văn Bình", category="none", internet=True),
        child("HS1", "Lục Thị Ánh", category="near_poor", grade=3),
        child("HS2", "Hà Văn An", category="near_poor", grade=3),  # "An" sorts before "Ánh"
        child("HS3", "Lý Thị Chi", category="near_poor", grade=8),  # higher grade first
        child("HS4", "Mông Văn Dũng", category="near_poor", grade=3, internet=True),  # lacks both: first in tier
        child("HS5", "Nông Thị Hoa", category="poor", grade=1),
        child("HS6", "Hà Văn An", category="near_poor", grade=3, dob="2011-12-31"),  # older first
        child("HS7", "Hà Văn An", category="near_poor", grade=3),  # identical to HS2: person_id decides
        child("HS8", "Hoàng Thị Em", category="covid_orphan", grade=12),  # not eligible: no rank
    )
    result = run(persons, donations_frame(donation("T1", "tablet", quantity=2)))
    ranks = result.person_status.set_index("person_id")["priority_rank"]
    order = ranks.dropna().sort_values().index.tolist()
    assert order == ["HS5", "HS4", "HS3", "HS6", "HS2", "HS7", "HS1", "HS9"]
    assert pd.isna(ranks["HS8"])
    allocated = result.allocations.query("status == 'allocated'")[["person_id", "need"]].values.tolist()
    assert allocated == [["HS5", "device"], ["HS4", "device"]]  # two tablets, by rank
    assert rows_of(result, "status", "priority_rank")[("HS4", "internet")] == ("waitlisted", 2)


def test_tie_breaks_come_from_the_district_config() -> None:
    persons = persons_frame(child("HS1", grade=3), child("HS2", grade=8))
    by_grade_asc = DISTRICT.model_copy(update={"tie_breaks": ["grade_asc"]})
    assert run(persons, donations_frame(), district=by_grade_asc).person_status["priority_rank"].tolist() == [1, 2]
    assert run(persons, donations_frame()).person_status["priority_rank"].tolist() == [2, 1]


def test_earmarked_units_serve_their_commune_or_school_first_and_otherwise_stay_reserved() -> None:
    persons = persons_frame(
        child("HS1", category="poor", commune="06391", school="TH-06391", village="Thôn Cầu Ngầm"),
        child("HS2", category="none", commune="06388", school="TH-06388"),
        child("HS3", category="near_poor", commune="06388", school="THCS-06388", grade=7),
        child("HS4", category="poor", commune="06391", school="TH-06391", village="Thôn Cầu Ngầm", device=False,
              internet=True),
    )
    donations = donations_frame(
        donation("G1", "tablet", quantity=1, date="2022-01-01"),
        donation("E-COMMUNE", "laptop", quantity=1, date="2022-01-02", commune="06388"),
        donation("E-SCHOOL", "smartphone", quantity=1, date="2022-01-03", commune="06388", school="TH-06388"),
        donation("E-ELSEWHERE", "desktop", quantity=2, date="2022-01-04", commune="06394"),
        donation("E-NET", "internet_package", quantity=1, commune="06388"),
    )
    result = run(persons, donations)
    assert rows_of(result, "item", "donation_id", "reason") == {
        ("HS1", "device"): ("tablet", "G1", ""),  # the only general unit goes to the top of the list
        ("HS3", "device"): ("laptop", "E-COMMUNE", "earmark"),  # commune 06388, not of the earmarked school
        ("HS2", "device"): ("smartphone", "E-SCHOOL", "earmark"),  # the school's own unit, despite lower tier
        ("HS4", "internet"): ("", "", "no_units"),  # the 06388 package is not given to another commune
    }
    summary = result.donation_summary.set_index("item")
    assert summary.loc["desktop", ["remaining", "reserved"]].tolist() == [2, 2]
    assert summary.loc["internet_package", ["remaining", "reserved"]].tolist() == [1, 1]


def test_internet_needs_a_signal_in_the_village() -> None:
    persons = persons_frame(
        child("HS1", village="Thôn Bãi Hào", device=False, internet=True),  # 4G
        child("HS2", village="Còn Cuông", device=False, internet=True, category="poor"),  # listed, no signal
        child("HS3", village="Thôn Làng Mới", device=True, internet=True),  # not in the connectivity lists
    )
    result = run(persons, donations_frame(donation("N1", "internet_package", quantity=5)))
    assert rows_of(result, "status", "reason", "item") == {
        ("HS2", "internet"): ("no_coverage", "no_signal", ""),
        ("HS3", "device"): ("waitlisted", "no_units", ""),
        ("HS3", "internet"): ("no_coverage", "coverage_unknown", ""),
        ("HS1", "internet"): ("allocated", "", "internet_package"),
    }
    status = result.person_status.set_index("person_id")
    assert status.loc["HS2", ["status", "reason"]].tolist() == ["waitlisted", "no_coverage"]
    assert status.loc["HS3", ["status", "reason"]].tolist() == ["waitlisted", "no_units"]
    assert result.donation_summary.set_index("item").loc["internet_package", "remaining"] == 4


def test_exclusion_releases_a_provisional_allocation_but_never_a_handover() -> None:
    persons = persons_frame(child("HS1", category="poor"), child("HS2", category="poor", internet=True),
                            child("HS3", category="none"))
    donations = donations_frame(donation("T1", "tablet", quantity=2),
                                donation("N1", "internet_package", quantity=1))
    first = run(persons, donations)
    assert rows_of(first, "status")[("HS3", "device")] == ("waitlisted",)
    previous = as_previous(first)
    previous.loc[(previous["person_id"] == "HS2") & (previous["need"] == "internet"), "status"] = "handed_over"
    # next night: both HS1 and HS2 turn out to be in grade 10
    tonight = persons.assign(exclusion=["grade_out_of_range", "grade_out_of_range", ""])
    second = run(tonight, donations, previous)
    assert second.changes.to_dict("records") == [
        {"person_id": "HS1", "need": "device", "before": "provisional:tablet:T1", "after": "released",
         "rule": "grade_out_of_range"},
        {"person_id": "HS2", "need": "device", "before": "provisional:tablet:T1", "after": "released",
         "rule": "grade_out_of_range"},
        {"person_id": "HS3", "need": "device", "before": "", "after": "provisional:tablet:T1",
         "rule": "new_allocation"},
    ]
    assert second.releases[["person_id", "need", "rule", "item", "donation_id"]].values.tolist() == [
        ["HS1", "device", "grade_out_of_range", "tablet", "T1"], ["HS2", "device", "grade_out_of_range", "tablet", "T1"]]
    assert rows_of(second, "status", "reason", "priority_rank") == {
        ("HS3", "device"): ("allocated", "", 1),
        ("HS2", "internet"): ("handed_over", "grade_out_of_range", pd.NA),  # a handover is a fact: it stays
    }
    status = second.person_status.set_index("person_id")
    assert status["status"].to_dict() == {"HS1": "excluded", "HS2": "allocated", "HS3": "allocated"}
    assert status.loc["HS2", "reason"] == "grade_out_of_range"


def test_device_type_follows_the_grade_preference_from_config() -> None:
    # district.yaml: grades 1-5 prefer tablets, grades 6-9 laptops; the laptop lot is the older donation
    persons = persons_frame(child("HS1", category="poor", grade=2), child("HS2", category="poor", grade=8),
                            child("HS3", category="none", grade=4))
    donations = donations_frame(donation("L1", "laptop", quantity=1, date="2022-01-01"),
                                donation("T1", "tablet", quantity=1, date="2022-01-05"))
    result = run(persons, donations)
    assert rows_of(result, "status", "item") == {("HS2", "device"): ("allocated", "laptop"),
                                                  ("HS1", "device"): ("allocated", "tablet"),
                                                  ("HS3", "device"): ("waitlisted", "")}
    # what was left when each turn came
    assert rows_of(result, "left_when_turn") == {("HS2", "device"): ("laptop:1;tablet:1",),
                                                  ("HS1", "device"): ("tablet:1",), ("HS3", "device"): ("0",)}
    no_preference = DISTRICT.model_copy(update={"device_preference": []})
    plain = run(persons, donations, district=no_preference)  # donation order: the laptop goes first
    assert rows_of(plain, "item")[("HS2", "device")] == ("laptop",)
    assert rows_of(plain, "item")[("HS1", "device")] == ("tablet",)
    older_tablet = donations_frame(donation("T1", "tablet", quantity=1, date="2021-12-20"),
                                   donation("L1", "laptop", quantity=1, date="2022-01-01"))
    assert rows_of(run(persons, older_tablet, district=no_preference), "item")[("HS2", "device")] == ("tablet",)
    assert rows_of(run(persons, older_tablet), "item")[("HS2", "device")] == ("laptop",)


def override(pid: str, action: str, *, need: str = "", item: str = "", donation_id: str = "",
             day: str = "2022-05-01", oid: str = "O1") -> dict:
    return {"override_id": oid, "person_id": pid, "need": need, "action": action, "item": item,
            "donation_id": donation_id, "officer": "Nguyễn Văn Cán", "reason": "Xác minh tại nhà",
            "decided_on": day}


def test_officer_overrides_are_applied_by_rule_and_logged() -> None:
    persons = persons_frame(child("HS1", category="poor", internet=True), child("HS2", category="near_poor"),
                            child("HS3", category="none"), child("HS4", category="none", grade=7))
    donations = donations_frame(donation("T1", "tablet", quantity=2), donation("N1", "internet_package", quantity=1),
                                donation("L1", "laptop", quantity=1, school="THCS-06388"))
    first = run(persons, donations)
    assert rows_of(first, "status")[("HS3", "device")] == ("waitlisted",)
    overrides = pd.DataFrame([
        override("HS1", "release", need="internet", oid="O1"),  # the family has internet now
        override("HS2", "exclude", oid="O2"),  # moved away
        override("HS4", "assign", item="laptop", donation_id="L1", oid="O3"),  # earmarked elsewhere: officer decides
        override("HS3", "assign", item="smartphone", oid="O4"),  # no smartphone received
        override("HS9", "exclude", oid="O5"),
        override("HS3", "exclude", day="2022-12-01", oid="O6"),  # not yet
    ], columns=OVERRIDE_COLUMNS)
    second = allocate(persons, donations, COVERED, as_previous(first), DISTRICT, AS_OF, overrides)
    assert second.override_log.set_index("override_id")["result"].to_dict() == {
        "O1": "applied", "O2": "applied", "O3": "applied", "O4": "unserved", "O5": "not_listed", "O6": "pending"}
    changes = {(c["person_id"], c["need"]): (c["before"], c["after"], c["rule"]) for c in second.changes.to_dict("records")}
    assert changes == {
        ("HS1", "internet"): ("provisional:internet_package:N1", "released", "officer_override"),
        ("HS2", "device"): ("provisional:tablet:T1", "released", "officer_excluded"),
        ("HS4", "device"): ("", "provisional:laptop:L1", "officer_override"),
        ("HS3", "device"): ("", "provisional:tablet:T1", "new_allocation"),  # HS2's tablet goes to the next child
    }
    status = second.person_status.set_index("person_id")
    assert status.loc["HS2", ["status", "reason"]].tolist() == ["excluded", "officer_excluded"]
    assert rows_of(second, "status", "reason")[("HS4", "device")] == ("allocated", "override")
    assert ("HS1", "internet") not in rows_of(second, "status")  # released by the officer: not served again
    # the same overrides again: nothing moves
    third = allocate(persons, donations, COVERED, as_previous(second), DISTRICT, AS_OF, overrides)
    assert third.changes.empty
    # the latest decision on a need wins: a release, then an assignment of the same need
    later = pd.DataFrame([override("HS1", "release", need="internet", oid="O1"),
                          override("HS1", "assign", item="internet_package", day="2022-05-20", oid="O7")],
                         columns=OVERRIDE_COLUMNS)
    again = allocate(persons, donations, COVERED, as_previous(first), DISTRICT, AS_OF, later)
    assert again.override_log.set_index("override_id")["result"].to_dict() == {"O1": "superseded", "O7": "applied"}
    assert rows_of(again, "status", "item")[("HS1", "internet")] == ("allocated", "internet_package")
    assert again.changes.empty  # the officer confirmed the unit HS1 already had
    # an officer can never undo a handover
    handed = as_previous(second)
    handed.loc[handed["person_id"] == "HS4", "status"] = "handed_over"
    undo = pd.DataFrame([override("HS4", "release", need="device")], columns=OVERRIDE_COLUMNS)
    fourth = allocate(persons, donations, COVERED, handed, DISTRICT, AS_OF, undo)
    assert fourth.override_log["result"].tolist() == ["handed_over"]
    assert rows_of(fourth, "status")[("HS4", "device")] == ("handed_over",)


def test_a_kept_unit_is_not_taken_by_a_new_higher_priority_child() -> None:
    donations = donations_frame(donation("T1", "tablet", quantity=1))
    first = run(persons_frame(child("HS1", category="none")), donations)
    newcomer = child("HS2", category="poor", internet=True)
    second = run(persons_frame(child("HS1", category="none"), newcomer), donations, as_previous(first))
    assert rows_of(second, "status", "donation_id", "priority_rank")[("HS1", "device")] == ("allocated", "T1", 2)
    assert rows_of(second, "status", "priority_rank")[("HS2", "device")] == ("waitlisted", 1)
    assert second.changes.empty


def test_absent_children_and_vanished_donations_release_provisional_units() -> None:
    persons = persons_frame(child("HS1", category="poor"), child("HS2"), child("HS3"))
    tablet = donation("T1", "tablet", quantity=1, date="2022-01-01")  # units are used in donation-date order
    first = run(persons, donations_frame(tablet, donation("L1", "laptop", quantity=2, date="2022-01-02")))
    assert rows_of(first, "donation_id") == {("HS1", "device"): ("T1",), ("HS2", "device"): ("L1",),
                                             ("HS3", "device"): ("L1",)}
    # tonight HS2's row is gone from every list, and the laptop donation turned out to be a single laptop
    second = run(persons.iloc[[0, 2]], donations_frame(tablet, donation("L1", "laptop", quantity=1)),
                 as_previous(first))
    assert second.changes[["person_id", "after", "rule"]].values.tolist() == [["HS2", "released", "person_absent"]]
    assert rows_of(second, "donation_id") == {("HS1", "device"): ("T1",), ("HS3", "device"): ("L1",)}
    third = run(persons.iloc[[0, 2]], donations_frame(tablet), as_previous(second))
    assert third.changes[["person_id", "before", "after", "rule"]].values.tolist() == [
        ["HS3", "provisional:laptop:L1", "waitlisted", "donation_unavailable"]]


def test_a_need_no_longer_marked_is_released_and_handed_over_rows_of_absent_children_stay() -> None:
    previous = pd.DataFrame([
        {"person_id": "HS1", "need": "internet", "item": "internet_package", "donation_id": "N1",
         "status": "provisional"},
        {"person_id": "HS8", "need": "device", "item": "tablet", "donation_id": "T1", "status": "handed_over",
         "full_name": "Đinh Văn Tám", "commune_code": "06388", "school_code": "TH-06388"},
    ])
    donations = donations_frame(donation("N1", "internet_package", quantity=1), donation("T1", "tablet", quantity=1))
    result = run(persons_frame(child("HS1", internet=False)), donations, previous)
    assert result.changes[["person_id", "rule"]].values.tolist() == [["HS1", "need_withdrawn"]]
    row = result.allocations.set_index("person_id").loc["HS8"]
    assert row[["status", "reason", "full_name", "commune", "school"]].tolist() == [
        "handed_over", "not_listed", "Đinh Văn Tám", "Xã Hữu Liên", "Trường TH Hữu Liên"]
    # HS8's handover used the only tablet; HS1 waits
    assert rows_of(result, "status")[("HS1", "device")] == ("waitlisted",)
    assert result.donation_summary.set_index("item").loc["tablet", ["handed_over", "remaining"]].tolist() == [1, 0]


def test_two_active_previous_rows_for_one_need_are_a_bug() -> None:
    row = {"person_id": "HS1", "need": "device", "item": "tablet", "donation_id": "T1", "status": "provisional"}
    with pytest.raises(ValueError, match="two active"):
        run(persons_frame(child("HS1")), donations_frame(), pd.DataFrame([row, {**row, "donation_id": "T2"}]))


# --- properties ---------------------------------------------------------------------------------------------------
COMMUNES = {"06385": "TH-06385", "06388": "TH-06388", "06391": "TH-06391"}
VILLAGES = ["Thôn Một", "Thôn Hai", "Thôn Ba"]
NAMES = ["Nguyễn Văn An", "Lê Thị Ánh", "Hà Văn Bình", "Vi Thị Chi", "Lục Văn Dũng", "Mã Thị Đào"]
ITEMS = [*DEVICE_ITEMS, "internet_package"]


@st.composite
def worlds(draw, previous: bool = True) -> dict:
    n = draw(st.integers(0, 18))
    people = []
    for i in range(n):
        commune = draw(st.sampled_from(sorted(COMMUNES)))
        people.append(child(
            f"HS{i + 1:06d}", draw(st.sampled_from(NAMES)), category=draw(st.sampled_from(
                ["poor", "near_poor", "covid_orphan", "none", "none"])),
            grade=draw(st.sampled_from([None, 0, 1, 2, 5, 5, 7, 9, 9, 10])), commune=commune,
            school=draw(st.sampled_from([COMMUNES[commune], COMMUNES[commune], "THCS-06388"])),
            village=draw(st.sampled_from(VILLAGES)), device=draw(st.booleans()), internet=draw(st.booleans()),
            exclusion=draw(st.sampled_from(["", "", "", "", "outside_district"])),
            dob=draw(st.sampled_from(["", "2010-01-01", "2011-06-15", "2012-03-03"]))))
    gifts = []
    for j in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["cash", "budget", *ITEMS]))
        earmark = draw(st.sampled_from(["", "", "", "commune", "school"]))
        commune = draw(st.sampled_from(sorted(COMMUNES)))
        gifts.append(donation(
            f"D{j}", kind, quantity=draw(st.integers(0, 4)) if kind in ITEMS else None,
            amount=draw(st.sampled_from([0, 1_000_000, 3_000_000, 4_500_000, 12_000_000]))
            if kind in ("cash", "budget") else None,
            status=draw(st.sampled_from(["received", "received", "received", "pledged"])),
            date=draw(st.sampled_from([None, "2022-01-01", "2022-02-01", "2022-09-01"])),
            commune=commune if earmark else "", school=COMMUNES[commune] if earmark == "school" else ""))
    coverage = [{"commune_code": c, "village": v, "has_3g": draw(st.booleans()), "has_4g": draw(st.booleans()),
                 "has_fibre": False}
                for c in sorted(COMMUNES) for v in VILLAGES if draw(st.integers(0, 3))]
    prev = []
    if previous:
        ids = [p["person_id"] for p in people] + ["HS999998", "HS999999"]
        keys = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(["device", "internet"])),
                             max_size=8, unique=True))
        for pid, need in keys:
            item = "internet_package" if need == "internet" else draw(st.sampled_from(DEVICE_ITEMS))
            prev.append({"person_id": pid, "need": need, "item": item,
                         "donation_id": draw(st.sampled_from([g["donation_id"] for g in gifts] + ["GONE"])),
                         "status": draw(st.sampled_from(["provisional", "provisional", "handed_over"]))})
    return {"persons": persons_frame(*people), "donations": donations_frame(*gifts),
            "connectivity": pd.DataFrame(coverage, columns=["commune_code", "village", "has_3g", "has_4g",
                                                            "has_fibre"]),
            "previous": pd.DataFrame(prev, columns=["person_id", "need", "item", "donation_id", "status"]),
            "overrides": draw(override_lists(people, gifts)) if previous else NO_OVERRIDES}


NO_OVERRIDES = pd.DataFrame(columns=OVERRIDE_COLUMNS)


@st.composite
def override_lists(draw, people: list[dict], gifts: list[dict]) -> pd.DataFrame:
    ids = [p["person_id"] for p in people] + ["HS999999"]
    rows = []
    for k in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["exclude", "release", "assign", "assign", "bogus"]))
        item = draw(st.sampled_from(ITEMS)) if action == "assign" else ""
        rows.append({"override_id": f"O{k}", "person_id": draw(st.sampled_from(ids)),
                     "need": "" if action == "assign" else draw(st.sampled_from(["", "device", "internet"])),
                     "action": action, "item": item,
                     "donation_id": draw(st.sampled_from(["", *[g["donation_id"] for g in gifts]])) if item else "",
                     "officer": "Cán bộ A", "reason": "lý do", "decided_on": draw(st.sampled_from(
                         ["2022-05-01", "2022-05-01", "", "2022-07-01"]))})
    return pd.DataFrame(rows, columns=OVERRIDE_COLUMNS)


def allocate_world(world: dict, previous: pd.DataFrame | None = None):
    prev = world["previous"] if previous is None else previous
    return allocate(world["persons"], world["donations"], world["connectivity"], prev, DISTRICT, AS_OF,
                    world.get("overrides"))


def officer_effects(world: dict) -> tuple[set[str], set[tuple[str, str]]]:
    """The persons an officer excluded and the needs an officer released (valid overrides dated by AS_OF)."""
    ov = world.get("overrides", NO_OVERRIDES)
    due = ov[ov["decided_on"].map(lambda d: d == "" or dt.date.fromisoformat(d) <= AS_OF)] if len(ov) else ov
    excluded = set(due.loc[due["action"] == "exclude", "person_id"])
    handed = {(p.person_id, p.need) for p in world["previous"].itertuples() if p.status == "handed_over"}
    last: dict[tuple[str, str], str] = {}  # the latest release or assign of a need wins
    for o in due.sort_values(["decided_on", "override_id"]).itertuples() if len(due) else []:
        if o.action == "release":
            for n in ([o.need] if o.need else ["device", "internet"]):
                last[(o.person_id, n)] = "release"
        elif o.action == "assign":
            last[(o.person_id, "internet" if o.item == "internet_package" else "device")] = "assign"
    released = {k for k, action in last.items() if action == "release" and k not in handed}
    return excluded, released


def check_invariants(world: dict, result) -> None:
    persons = world["persons"].set_index("person_id")
    alloc = result.allocations
    assert list(alloc.columns) == ALLOCATION_COLUMNS
    officer_excluded, released = officer_effects(world)
    needs = {pid: [n for n, f in (("device", "lacks_device"), ("internet", "lacks_internet")) if p[f]]
             for pid, p in persons.iterrows()}
    eligible = {pid for pid, p in persons.iterrows()
                if p["exclusion"] == "" and not pd.isna(p["grade"]) and 1 <= p["grade"] <= 9
                and (p["lacks_device"] or p["lacks_internet"]) and pid not in officer_excluded
                and not all((pid, n) in released for n in needs[pid])}
    # nobody twice: one row per person and need, so at most one device and one package each
    keys = list(zip(alloc["person_id"], alloc["need"]))
    assert len(keys) == len(set(keys))
    # every eligible person+need ends in exactly one status, unless an officer released that need
    for pid in eligible:
        for need in needs[pid]:
            assert (pid, need) in set(keys) or (pid, need) in released
    for key in released:  # a released need is never served again, unless an officer assigned it
        row = alloc[(alloc["person_id"] == key[0]) & (alloc["need"] == key[1])]
        assert row.empty or row["reason"].tolist() == ["override"]
    valid = {"allocated", "handed_over", "waitlisted", "no_coverage"}
    assert set(alloc["status"]) <= valid
    for r in alloc.itertuples():
        if r.status in ("allocated", "handed_over"):
            assert (r.item == "internet_package") == (r.need == "internet") and r.item
        else:
            assert r.item == "" and r.donation_id == ""
            assert r.person_id in eligible
        if r.person_id not in eligible:
            assert r.status == "handed_over"
    # handed-over rows never change
    for p in world["previous"].itertuples():
        if p.status == "handed_over":
            row = alloc[(alloc["person_id"] == p.person_id) & (alloc["need"] == p.need)]
            assert row[["status", "item", "donation_id"]].values.tolist() == [["handed_over", p.item, p.donation_id]]
    # never more units than received
    summary = result.donation_summary.set_index("item")
    assert (summary["remaining"] >= 0).all() and (summary["reserved"] <= summary["remaining"]).all()
    assert (summary["allocated"] <= summary["received_units"] + summary["from_cash_units"]).all()
    units = result.donations.groupby("donation_id")["units"].sum().to_dict()
    kinds = world["donations"].set_index("donation_id")["kind"].to_dict()
    for did, n in Counter(alloc.loc[alloc["status"] == "allocated", "donation_id"]).items():
        handed = ((alloc["status"] == "handed_over") & (alloc["donation_id"] == did)
                  & (alloc["item"] == kinds[did])).sum()
        if kinds[did] in ITEMS:
            assert n <= max(0, units[did] - handed)
    cash = result.cash
    assert cash["converted_vnd"] + cash["carried_vnd"] == cash["received_vnd"]
    assert cash["converted_vnd"] == sum(summary.loc[i, "from_cash_units"] * DISTRICT.unit_prices[i] for i in ITEMS)
    # person status
    status = result.person_status.set_index("person_id")
    assert set(status.index) == set(persons.index)
    supported = set(alloc.loc[alloc["status"].isin(["allocated", "handed_over"]), "person_id"])
    for pid, s in status.iterrows():
        expected = "allocated" if pid in supported else "waitlisted" if pid in eligible else "excluded"
        assert s["status"] == expected
        if pid in officer_excluded and expected == "excluded" and persons.loc[pid, "exclusion"] == "":
            assert s["reason"] in ("officer_excluded", "grade_out_of_range", "needs_nothing")
    # what was left at the child's turn holds the unit the child got; the grade's preferred item wins
    earmarked = (world["donations"]["earmark_commune_code"] != "").any() if len(world["donations"]) else False
    for r in alloc[(alloc["left_when_turn"] != "") & (alloc["status"] == "allocated")].itertuples():
        if r.left_when_turn == "0":
            continue
        left = {item: int(n) for item, _, n in (x.partition(":") for x in r.left_when_turn.split(";"))}
        assert left.get(r.item, 0) >= 1, (r.person_id, r.left_when_turn, r.item)
        prefer = DISTRICT.preferred_items(persons.loc[r.person_id, "grade"]) if r.need == "device" else []
        if prefer and not earmarked:
            rank = {item: i for i, item in enumerate(prefer)}
            assert rank.get(r.item, 99) == min(rank.get(i, 99) for i in left), (r.item, r.left_when_turn)
    for r in alloc[alloc["status"] == "waitlisted"].itertuples():
        assert r.left_when_turn == "0"  # nobody waits while a unit they could take is left
    # every override read is accounted for
    assert len(result.override_log) == len(world.get("overrides", NO_OVERRIDES))
    assert set(result.override_log["result"]) <= {"applied", "unserved", "not_listed", "not_eligible",
                                                  "handed_over", "superseded", "pending", "invalid"}
    ranks = status.loc[sorted(eligible), "priority_rank"].tolist()
    assert sorted(ranks) == list(range(1, len(eligible) + 1))
    assert status.loc[sorted(set(persons.index) - eligible), "priority_rank"].isna().all()


def check_priority(world: dict, result) -> None:
    """A waitlisted child is never passed over by a lower-ranked child's new allocation — unless that unit was
    earmarked for a place the waitlisted child does not belong to."""
    alloc = result.allocations
    prev = {(p.person_id, p.need): (p.item, p.donation_id) for p in world["previous"].itertuples()}
    earmarks = {d.donation_id: (d.earmark_school_code, d.earmark_commune_code)
                for d in world["donations"].itertuples()}
    persons = world["persons"].set_index("person_id")
    for need in ("device", "internet"):
        mine = alloc[alloc["need"] == need]
        waiting = mine[mine["status"] == "waitlisted"]
        new = [r for r in mine[mine["status"] == "allocated"].itertuples()
               if prev.get((r.person_id, need)) != (r.item, r.donation_id) and r.reason != "override"]
        for w in waiting.itertuples():
            for r in new:
                if r.priority_rank <= w.priority_rank:
                    continue
                school, commune = earmarks[r.donation_id]
                assert school or commune, f"{r.person_id} (rank {r.priority_rank}) passed {w.person_id}"
                if school:
                    assert persons.loc[w.person_id, "school_code"] != school
                else:
                    assert persons.loc[w.person_id, "commune_code"] != commune


PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(worlds())
def test_invariants_hold_for_any_input(world: dict) -> None:
    result = allocate_world(world)
    check_invariants(world, result)
    check_priority(world, result)


@PROPERTY
@given(worlds())
def test_feeding_the_result_back_changes_nothing(world: dict) -> None:
    first = allocate_world(world)
    again = allocate_world(world, as_previous(first))
    pd.testing.assert_frame_equal(again.allocations, first.allocations)
    pd.testing.assert_frame_equal(again.person_status, first.person_status)
    assert again.changes.empty and again.releases.empty
    same = allocate_world(world)  # unchanged inputs: identical result
    pd.testing.assert_frame_equal(same.allocations, first.allocations)
    pd.testing.assert_frame_equal(same.changes, first.changes)


@PROPERTY
@given(worlds(), st.randoms(use_true_random=False))
def test_the_order_of_input_rows_does_not_matter(world: dict, rnd) -> None:
    shuffled = {k: v.sample(frac=1, random_state=rnd.randint(0, 10_000)) for k, v in world.items()}
    a, b = allocate_world(world), allocate_world(shuffled)
    pd.testing.assert_frame_equal(a.allocations, b.allocations)
    pd.testing.assert_frame_equal(a.person_status, b.person_status)
    pd.testing.assert_frame_equal(a.donation_summary, b.donation_summary)
    assert a.cash == b.cash


@PROPERTY
@given(worlds(previous=False), st.data())
def test_a_second_night_keeps_what_the_first_allocated(world: dict, data) -> None:
    first = allocate_world(world)
    previous = as_previous(first)
    if len(previous):  # some units were handed over in between
        handed = data.draw(st.lists(st.sampled_from(range(len(previous))), unique=True))
        previous.loc[handed, "status"] = "handed_over"
    persons = world["persons"].copy()
    if len(persons):  # some children leave the lists, some become ineligible, new poor children arrive
        gone = data.draw(st.lists(st.sampled_from(list(persons.index)), unique=True, max_size=3))
        excluded = data.draw(st.lists(st.sampled_from(list(persons.index)), unique=True, max_size=3))
        persons.loc[excluded, "exclusion"] = "outside_district"
        persons = persons.drop(index=[g for g in gone if g not in excluded])
    newcomers = persons_frame(*[child(f"HS5{i:05d}", category="poor", internet=True, grade=9,
                                      commune=data.draw(st.sampled_from(sorted(COMMUNES))), village="Thôn Một")
                                for i in range(data.draw(st.integers(0, 3)))])
    night2 = {**world, "persons": pd.concat([persons, newcomers], ignore_index=True), "previous": previous}
    second = allocate_world(night2)
    check_invariants(night2, second)
    check_priority(night2, second)
    still = night2["persons"].set_index("person_id")
    for p in previous.itertuples():
        row = second.allocations[(second.allocations["person_id"] == p.person_id)
                                 & (second.allocations["need"] == p.need)]
        stays = p.person_id in still.index and still.loc[p.person_id, "exclusion"] == ""
        if p.status == "handed_over" or stays:
            expected = "handed_over" if p.status == "handed_over" else "allocated"
            assert row[["status", "item", "donation_id"]].values.tolist() == [[expected, p.item, p.donation_id]]
        else:
            change = second.changes[(second.changes["person_id"] == p.person_id)
                                    & (second.changes["need"] == p.need)]
            rule = "person_absent" if p.person_id not in still.index else "outside_district"
            assert change[["after", "rule"]].values.tolist() == [["released", rule]]
    assert "donation_unavailable" not in set(second.changes["rule"])

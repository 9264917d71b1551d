"""Officer overrides: exclude, release and assign, each by its rule, every one logged with its result."""

from __future__ import annotations

import pandas as pd

from flows.allocation.allocate import allocate
from flows.allocation.overrides import OVERRIDE_COLUMNS
from tests.allocation.helpers import (AS_OF, COVERED, DISTRICT, as_previous, child, donation, donations_frame,
                                      persons_frame, rows_of, run)


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


def test_units_held_for_an_unknown_earmark_go_only_where_an_officer_names_their_donation() -> None:
    persons = persons_frame(child("HS1"), child("HS2"))
    held = {**donation("E1", "tablet", quantity=2), "earmark_text": "Trường TH Không Có"}
    overrides = pd.DataFrame([override("HS1", "assign", item="tablet", oid="O1"),
                              override("HS2", "assign", item="tablet", donation_id="E1", oid="O2")],
                             columns=OVERRIDE_COLUMNS)
    result = allocate(persons, donations_frame(held), COVERED, as_previous(run(persons, donations_frame())),
                      DISTRICT, AS_OF, overrides)
    assert result.override_log.set_index("override_id")["result"].to_dict() == {"O1": "unserved", "O2": "applied"}
    assert rows_of(result, "status", "donation_id")[("HS2", "device")] == ("allocated", "E1")

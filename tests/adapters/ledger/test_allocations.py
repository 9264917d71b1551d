"""Allocations, releases, handovers, past recipients, officer overrides, device-use follow-up."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from flows.adapters.ledger import Ledger
from flows.allocation.allocate import allocate
from tests.adapters.ledger.helpers import T0, Clock, active, alloc_rows


def test_record_allocations_is_idempotent_and_releases_with_a_rule(ledger: Ledger, clock: Clock) -> None:
    rows = alloc_rows(("HS1", "device", "tablet", "D1", "allocated", "Nguyễn Thị Ánh"),
                      ("HS2", "internet", "internet_package", "C1", "allocated"),
                      ("HS3", "device", "", "", "waitlisted"), ("HS4", "internet", "", "", "no_coverage"))
    assert ledger.record_allocations("r1", rows) == {"released": 0, "inserted": 2, "unchanged": 0,
                                                     "reallocated": 0}
    before = ledger.active_allocations()
    clock.tick()
    assert ledger.record_allocations("r2", rows)["unchanged"] == 2
    pd.testing.assert_frame_equal(ledger.active_allocations(), before)  # untouched: same run id and time
    assert before.loc[0, "allocated_at"] == T0.replace(tzinfo=None) and before.loc[0, "run_id"] == "r1"
    # tonight HS1's unit changed (its donation disappeared) and HS2 was found ineligible
    tonight = alloc_rows(("HS1", "device", "laptop", "D9", "allocated"))
    releases = pd.DataFrame([
        {"person_id": "HS1", "need": "device", "rule": "donation_unavailable", "item": "tablet", "donation_id": "D1"},
        {"person_id": "HS2", "need": "internet", "rule": "grade_out_of_range", "item": "", "donation_id": ""}])
    counts = ledger.record_allocations("r3", tonight, releases)
    assert counts == {"released": 2, "inserted": 1, "unchanged": 0, "reallocated": 0}
    assert active(ledger) == {("HS1", "device", "laptop", "D9", "provisional")}
    history = ledger.allocation_history()
    assert history.set_index(["person_id", "item"])["release_rule"].to_dict() == {
        ("HS1", "tablet"): "donation_unavailable", ("HS2", "internet_package"): "grade_out_of_range",
        ("HS1", "laptop"): None}
    assert ledger.release("r3", releases) == 0  # already released: the new laptop allocation is not touched
    # without an explicit release, a changed unit is a reallocation
    assert ledger.record_allocations("r4", alloc_rows(("HS1", "device", "tablet", "D1", "allocated")))[
        "reallocated"] == 1


def test_a_handover_with_overlong_text_is_stored_cut_not_refused(ledger: Ledger) -> None:
    # PostgreSQL enforces VARCHAR lengths: an officer's long note must not stop the night.
    sheet = pd.DataFrame([{"person_id": "HS1", "item": "laptop", "serial": "S" * 500, "handover_date": "2022-03-05",
                           "received_by": "Bà " * 200, "donation_id": "D" * 100, "source_file": "b/" * 400,
                           "full_name": "Tên " * 100}])
    assert len(ledger.record_handovers("r1", sheet)) == 1
    h = ledger.handovers().iloc[0]
    assert (len(h["serial"]), len(h["received_by"]), len(h["donation_id"])) == (100, 200, 64)
    assert h["serial"] == "S" * 100


def test_handovers_freeze_allocations(ledger: Ledger) -> None:
    ledger.record_allocations("r1", alloc_rows(("HS1", "device", "tablet", "D1", "allocated"),
                                               ("HS2", "device", "tablet", "D1", "allocated")))
    sheet = pd.DataFrame([
        {"person_id": "HS1", "item": "tablet", "serial": "SN-1", "handover_date": "2022-03-05",
         "received_by": "Nguyễn Văn Bố", "donation_id": "", "source_file": "ban-giao.xlsx"},
        {"person_id": "HS7", "item": "internet_package", "serial": "SIM-7", "handover_date": dt.date(2022, 3, 6),
         "received_by": "Lê Thị Mẹ", "donation_id": "V1", "source_file": "ban-giao.xlsx", "full_name": "Lê Văn Bảy"},
        {"person_id": "", "item": "tablet", "serial": "SN-x"},  # not linked to a person: skipped
    ])
    changes = ledger.record_handovers("r2", sheet)
    assert changes[["person_id", "before", "after"]].values.tolist() == [
        ["HS1", "provisional:tablet:D1", "handed_over:tablet:D1"],
        ["HS7", "", "handed_over:internet_package:V1"]]
    assert active(ledger) == {("HS1", "device", "tablet", "D1", "handed_over"),
                              ("HS2", "device", "tablet", "D1", "provisional"),
                              ("HS7", "internet", "internet_package", "V1", "handed_over")}
    assert ledger.record_handovers("r3", sheet).empty  # the same sheet read again: nothing changes
    h = ledger.handovers()
    assert h[["person_id", "need", "serial", "date"]].values.tolist() == [
        ["HS1", "device", "SN-1", dt.date(2022, 3, 5)], ["HS7", "internet", "SIM-7", dt.date(2022, 3, 6)]]
    corrected = sheet.iloc[:1].assign(serial="SN-1b")
    ledger.record_handovers("r4", corrected)
    assert ledger.handovers()["serial"].tolist() == ["SN-1b", "SIM-7"]
    with pytest.raises(ValueError, match="handed over"):
        ledger.release("r5", pd.DataFrame([{"person_id": "HS1", "need": "device", "rule": "officer_override"}]))
    with pytest.raises(ValueError, match="handed over"):
        ledger.record_allocations("r5", alloc_rows(("HS1", "device", "laptop", "D2", "allocated")))
    assert ledger.record_allocations("r5", alloc_rows(("HS1", "device", "tablet", "D1", "handed_over")))[
        "inserted"] == 0


def test_past_recipients_carry_identity_stored_at_allocation_time(ledger: Ledger) -> None:
    ledger.record_allocations("r1", alloc_rows(("HS1", "device", "tablet", "D1", "allocated", "Hoàng Văn Nam"),
                                               ("HS1", "internet", "internet_package", "C1", "allocated", ""),
                                               ("HS2", "device", "tablet", "D1", "allocated", "Lý Thị Hoa")))
    ledger.release("r2", pd.DataFrame([{"person_id": "HS2", "need": "device", "rule": "person_absent"}]))
    ledger.record_handovers("r2", pd.DataFrame([{"person_id": "HS1", "item": "tablet", "serial": "S"}]))
    past = ledger.past_recipients()
    assert past.to_dict("records") == [{
        "person_id": "HS1", "full_name": "Hoàng Văn Nam", "date_of_birth": "2012-05-01", "commune_code": "06388",
        "school_code": "TH-06388", "guardian_name": "Nguyễn Văn Bố", "needs": "device,internet",
        "handed_over": True}]


def test_officer_overrides_are_kept_once_and_follow_merges(ledger: Ledger) -> None:
    rows = pd.DataFrame([
        {"person_id": "HS000002", "need": "device", "action": "release", "item": "", "donation_id": "",
         "officer": "Nguyễn Văn Cán", "reason": "Gia đình đã tự mua máy", "decided_on": "2022-03-02",
         "source": "dieu-chinh/dieu chinh.xlsx"},
        {"person_id": "HS000003", "need": "", "action": "assign", "item": "laptop", "donation_id": "TT-1",
         "officer": "Lê Thị Bộ", "reason": "Học sinh khuyết tật. " * 40, "decided_on": dt.date(2022, 3, 5),
         "source": "x"},
    ])
    assert ledger.record_overrides("r1", rows) == 2
    assert ledger.record_overrides("r2", rows) == 0  # the same sheet read again
    assert ledger.record_overrides("r3", rows.iloc[:0]) == 0  # a row removed from the sheet stays decided
    ledger.merge_persons({"HS000002": "HS000001"}, run_id="r3")
    stored = ledger.overrides()
    assert len(stored) == 2 and stored["override_id"].is_unique
    assert stored.set_index("action")["person_id"].to_dict() == {"release": "HS000001", "assign": "HS000003"}
    assert stored.set_index("action")["decided_on"].to_dict() == {"release": "2022-03-02", "assign": "2022-03-05"}
    ids = set(stored["override_id"])
    assert len(stored.set_index("action").loc["assign", "reason"]) == 500
    changed = rows.assign(reason=["Gia đình đã tự mua máy", "Lý do khác"])
    assert ledger.record_overrides("r4", changed) == 1  # a different decision is a new override
    assert ids < set(ledger.overrides()["override_id"])


def test_follow_ups_keep_one_check_per_day_and_the_latest_wins(ledger: Ledger) -> None:
    def check(pid: str, state: str, day: str, note: str = "") -> dict:
        return {"person_id": pid, "item": "tablet", "serial": "SN1", "state": state, "checked_on": day,
                "checked_by": "GVCN", "note": note, "source": "theo-doi/a.xlsx"}
    rows = pd.DataFrame([check("HS000001", "in_use", "2022-02-01"), check("HS000001", "broken", "2022-03-01"),
                         check("HS000002", "unknown", "2022-03-01"), check("", "lost", "2022-03-01")])
    assert ledger.record_follow_ups("r1", rows) == 2
    assert ledger.record_follow_ups("r2", rows) == 0
    long_note = "mất khi đi học " * 60  # longer than the column: kept cut, on PostgreSQL too
    assert ledger.record_follow_ups("r3", pd.DataFrame([check("HS000001", "lost", "2022-03-01", long_note)])) == 1
    all_checks = ledger.follow_ups()
    assert all_checks[["person_id", "need", "state", "checked_on"]].values.tolist() == [
        ["HS000001", "device", "in_use", "2022-02-01"], ["HS000001", "device", "lost", "2022-03-01"]]
    assert ledger.follow_ups(latest_only=True)["state"].tolist() == ["lost"]
    assert ledger.follow_ups(latest_only=True)["note"].tolist() == [long_note[:500]]


def test_nights_through_the_ledger_are_stable(ledger: Ledger, cfg) -> None:
    """allocate -> ledger -> allocate: the second night changes nothing; an excluded child's unit is released."""
    persons = pd.DataFrame([
        {"person_id": pid, "full_name": name, "given_name": name.split()[-1], "family_name": name.split()[0],
         "middle_name": "", "commune_code": "06388", "commune": "Xã Hữu Liên", "school_code": "TH-06388",
         "school": "", "village": "Thôn Bãi Hào", "grade": pd.NA if grade is None else grade,
         "date_of_birth": "2012-01-01", "category": cat, "lacks_device": True, "lacks_internet": False,
         "exclusion": ""}
        for pid, name, grade, cat in [("HS1", "Hà Văn An", 5, "poor"), ("HS2", "Lò Thị Bé", 4, "near_poor"),
                                      ("HS3", "Mã Văn Cường", 3, "none")]])
    persons["grade"] = persons["grade"].astype("Int64")
    donations = pd.DataFrame([{"donation_id": "D1", "kind": "tablet", "quantity": 2, "status": "received",
                               "date": "2022-01-05", "amount_vnd": pd.NA}])
    empty = pd.DataFrame()

    def night(run_id: str, people: pd.DataFrame):
        result = allocate(people, donations, empty, ledger.active_allocations(), cfg.district, dt.date(2022, 3, 1))
        ledger.record_allocations(run_id, result.allocations, result.releases)
        ledger.write_change_log(run_id, result.changes)
        return result

    first = night("n1", persons)
    assert active(ledger) == {("HS1", "device", "tablet", "D1", "provisional"),
                              ("HS2", "device", "tablet", "D1", "provisional")}
    second = night("n2", persons)
    pd.testing.assert_frame_equal(second.allocations, first.allocations)
    assert second.changes.empty and ledger.change_log("n2").empty
    third = night("n3", persons.assign(exclusion=["outside_district", "", ""]))
    assert active(ledger) == {("HS2", "device", "tablet", "D1", "provisional"),
                              ("HS3", "device", "tablet", "D1", "provisional")}
    assert ledger.change_log("n3")[["person_id", "after", "rule"]].values.tolist() == [
        ["HS1", "released", "outside_district"], ["HS3", "provisional:tablet:D1", "new_allocation"]]
    assert third.allocations.set_index("person_id").loc["HS2", "priority_rank"] == 1

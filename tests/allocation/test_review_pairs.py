"""Pairs an officer has not decided on yet ("Cần xem xét"): the two persons may be one child, so until the
officer decides they never both receive the same need — the higher-ranked one is served, the other waits."""

from __future__ import annotations

import pandas as pd

from tests.allocation.helpers import (as_previous, child, donation, donations_frame, persons_frame, review_pairs,
                                      rows_of, run)

PLENTY = donations_frame(donation("T1", "tablet", quantity=5), donation("N1", "internet_package", quantity=5))


def _status(result) -> dict:
    return result.person_status.set_index("person_id")[["status", "reason"]].apply(tuple, axis=1).to_dict()


def test_an_open_pair_is_served_once_and_normally_after_the_officer_decides() -> None:
    persons = persons_frame(child("HS1", "Nguyễn Thị Thủy", category="near_poor", internet=True),
                            child("HS2", "Nguyễn Thị Thúy", category="poor", internet=True),
                            child("HS3", "Lê Văn Bình"))
    pending = review_pairs(("HS1", "HS2"))
    first = run(persons, PLENTY, review_pairs=pending)
    assert rows_of(first, "status", "reason", "item") == {
        ("HS2", "device"): ("allocated", "", "tablet"), ("HS2", "internet"): ("allocated", "", "internet_package"),
        ("HS1", "device"): ("waitlisted", "pending_review", ""),  # units are left, but HS1 may be HS2
        ("HS1", "internet"): ("waitlisted", "pending_review", ""),
        ("HS3", "device"): ("allocated", "", "tablet"),
    }
    assert _status(first) == {"HS1": ("waitlisted", "pending_review"), "HS2": ("allocated", ""),
                              "HS3": ("allocated", "")}
    # the officer decided (same child: merged by dedupe; different children: the pair leaves the queue)
    decided = run(persons, PLENTY, as_previous(first))
    assert rows_of(decided, "status", "reason")[("HS1", "device")] == ("allocated", "")
    assert rows_of(decided, "status", "reason")[("HS1", "internet")] == ("allocated", "")
    assert decided.changes[["person_id", "need", "before", "rule"]].values.tolist() == [
        ["HS1", "device", "", "new_allocation"], ["HS1", "internet", "", "new_allocation"]]


def test_each_need_is_held_apart_and_pairs_naming_nobody_tonight_are_ignored() -> None:
    persons = persons_frame(child("HS1", category="poor", device=True, internet=False),
                            child("HS2", category="poor", device=False, internet=True),
                            child("HS3", category="none"), child("HS4", category="none"))
    pairs = review_pairs(("HS1", "HS2"), ("HS3", "HS4"), ("HS3", "HS9"))
    result = run(persons, PLENTY, review_pairs=pairs)
    assert rows_of(result, "status", "reason") == {
        ("HS1", "device"): ("allocated", ""), ("HS2", "internet"): ("allocated", ""),  # not the same need
        ("HS3", "device"): ("allocated", ""), ("HS4", "device"): ("waitlisted", "pending_review")}


def test_what_a_partner_already_holds_is_never_taken_away_and_the_other_waits() -> None:
    lower = child("HS2", "Nguyễn Thị Thúy", category="none")
    night1 = run(persons_frame(lower), PLENTY)  # before the higher-ranked record appeared
    assert rows_of(night1, "status")[("HS2", "device")] == ("allocated",)
    persons = persons_frame(child("HS1", "Nguyễn Thị Thủy", category="poor"), lower)
    pending = review_pairs(("HS2", "HS1"))
    for status in ("provisional", "handed_over"):
        previous = as_previous(night1).assign(status=status)
        night2 = run(persons, PLENTY, previous, review_pairs=pending)
        assert rows_of(night2, "status", "reason") == {
            ("HS1", "device"): ("waitlisted", "pending_review"),
            ("HS2", "device"): ("handed_over" if status == "handed_over" else "allocated", "")}
        assert night2.changes.empty
    # both already supported before the pair went to review: the rule takes nothing away
    both = pd.concat([as_previous(night1), as_previous(night1).assign(person_id="HS1", donation_id="T1")],
                     ignore_index=True)
    kept = run(persons, PLENTY, both, review_pairs=pending)
    assert rows_of(kept, "status") == {("HS1", "device"): ("allocated",), ("HS2", "device"): ("allocated",)}
    assert kept.changes.empty and kept.releases.empty

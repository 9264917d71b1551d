"""Priority: tier, then the district's tie-breaks, then person_id; children not eligible get no rank."""

from __future__ import annotations

import pandas as pd

from tests.allocation.helpers import DISTRICT, child, donation, donations_frame, persons_frame, rows_of, run


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

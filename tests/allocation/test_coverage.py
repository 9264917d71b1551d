"""Coverage: an internet package only where the child's village has a signal."""

from __future__ import annotations

from tests.allocation.helpers import child, donation, donations_frame, persons_frame, rows_of, run


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

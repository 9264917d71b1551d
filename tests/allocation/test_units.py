"""Donations -> units: what counts as received, cash pooled into units, earmarked pools, the grade's preferred item."""

from __future__ import annotations

import pandas as pd

from tests.allocation.helpers import DISTRICT, child, donation, donations_frame, persons_frame, rows_of, run


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


def _at(row: dict, source_file: str, source_sheet: str, source_row: int) -> dict:
    return {**row, "source_file": source_file, "source_sheet": source_sheet, "source_row": source_row}


def test_a_donation_id_written_twice_is_counted_once_and_both_places_are_named() -> None:
    ledger, extra = ("tai-tro/so-tai-tro.xlsx", "Sổ tài trợ"), ("tai-tro/bo-sung.csv", "")
    laptops = donation("L1", "laptop", quantity=2)
    cash = donation("C1", "cash", amount=9_000_000)
    rows = [_at(laptops, *ledger, 7), _at(laptops, *extra, 3), _at(laptops, *ledger, 12),  # twice in one source
            _at(cash, *ledger, 8), _at({**cash, "status": "pledged"}, *extra, 2)]  # the received row counts
    donations = donations_frame(*rows).assign(**{k: [r[k] for r in rows]
                                                 for k in ("source_file", "source_sheet", "source_row")})
    persons = persons_frame(*[child(f"HS{i}", category="poor", grade=8) for i in range(1, 7)])
    result = run(persons, donations)
    given = result.allocations[result.allocations["status"] == "allocated"]
    assert sorted(given["item"]) == ["laptop", "laptop", "tablet"]  # 2 laptops, and 8.1M of cash buys 1 tablet
    assert result.donations["units"].tolist() == [0, 2, 0, 1, 0]  # only the counted row of each id gives units
    assert result.cash["received_vnd"] == 9_000_000 and result.cash["pledged_vnd"] == 0
    laptop = result.donation_summary.set_index("item").loc["laptop"]
    assert laptop[["received_units", "allocated", "remaining"]].tolist() == [2, 2, 0]
    problems = result.donation_problems
    assert problems[["rule", "donation_id", "source_file", "source_row", "other_file", "other_row"]].values.tolist() == [
        ["duplicate_donation", "C1", "tai-tro/bo-sung.csv", 2, "tai-tro/so-tai-tro.xlsx", 8],
        ["duplicate_donation", "L1", "tai-tro/so-tai-tro.xlsx", 7, "tai-tro/bo-sung.csv", 3],
        ["duplicate_donation", "L1", "tai-tro/so-tai-tro.xlsx", 12, "tai-tro/bo-sung.csv", 3],
    ]


def _school_devices(result, school: str) -> int:
    al = result.allocations
    return int(((al["school_code"] == school) & (al["need"] == "device") & (al["status"] == "allocated")).sum())


def test_earmarked_units_come_on_top_of_what_district_priority_gives_the_place() -> None:
    here = dict(commune="06388", school="TH-06388")
    there = dict(commune="06391", school="TH-06391", village="Thôn Cầu Ngầm")
    persons = persons_frame(
        *[child(f"HS0{i}", category="poor", **here) for i in (1, 2)],  # the school's top two children
        *[child(f"HS1{i}", category="near_poor", **there) for i in (1, 2, 3)],
        *[child(f"HS2{i}", category="none", **here) for i in range(1, 7)])
    general = donation("G1", "tablet", quantity=4, date="2022-01-01")
    earmarked = donation("E1", "laptop", quantity=5, date="2022-01-02", commune="06388", school="TH-06388")
    without = run(persons, donations_frame(general))
    with_earmark = run(persons, donations_frame(general, earmarked))
    assert _school_devices(without, "TH-06388") == 2
    # the 5 laptops are 5 more devices for the school; the other school keeps what district priority gives it
    assert _school_devices(with_earmark, "TH-06388") == 2 + 5
    assert _school_devices(with_earmark, "TH-06391") == _school_devices(without, "TH-06391") == 2
    assert rows_of(with_earmark, "donation_id", "reason")[("HS01", "device")] == ("G1", "")
    assert [rows_of(with_earmark, "donation_id")[(f"HS2{i}", "device")] for i in range(1, 7)] == [
        ("E1",)] * 5 + [("",)]


def test_an_earmark_naming_a_place_the_district_does_not_know_is_held_and_reported() -> None:
    persons = persons_frame(child("HS1", category="poor"), child("HS2"))
    unknown_text = {**donation("E1", "tablet", quantity=2), "earmark_text": "Trường TH Không Có"}
    unknown_code = donation("E2", "laptop", quantity=1, school="TH-99999")
    cash = {**donation("E3", "cash", amount=20_000_000), "earmark_text": "Xã Ngoài Huyện"}
    result = run(persons, donations_frame(unknown_text, unknown_code, cash, donation("G1", "smartphone", quantity=1)))
    assert rows_of(result, "status", "item") == {("HS1", "device"): ("allocated", "smartphone"),
                                                  ("HS2", "device"): ("waitlisted", "")}
    summary = result.donation_summary.set_index("item")
    assert summary.loc["tablet", ["received_units", "from_cash_units", "reserved"]].tolist() == [2, 4, 6]
    assert summary.loc["laptop", ["remaining", "reserved"]].tolist() == [1, 1]
    assert summary.loc["internet_package", ["from_cash_units", "reserved"]].tolist() == [1, 1]
    problems = result.donation_problems
    assert problems[["rule", "donation_id", "value"]].values.tolist() == [
        ["earmark_unknown", "E1", "Trường TH Không Có"], ["earmark_unknown", "E2", "TH-99999"],
        ["earmark_unknown", "E3", "Xã Ngoài Huyện"]]


def test_handovers_beyond_what_a_donation_holds_are_reported_and_nothing_more_is_given() -> None:
    persons = persons_frame(child("HS1"), child("HS2"), child("HS3"), child("HS4"))
    handed = pd.DataFrame([{"person_id": pid, "need": "device", "item": "tablet", "donation_id": "T1",
                            "status": "handed_over"} for pid in ("HS1", "HS2", "HS3")])
    result = run(persons, donations_frame(donation("T1", "tablet", quantity=2)), handed)
    assert rows_of(result, "status")[("HS4", "device")] == ("waitlisted",)
    assert result.donation_problems[["rule", "donation_id", "item", "handed_over", "units"]].values.tolist() == [
        ["donation_overdrawn", "T1", "tablet", 3, 2]]

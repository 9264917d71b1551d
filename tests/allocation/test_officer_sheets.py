"""Officer sheets: their normalizers and how their rows are linked to tonight's persons."""

from __future__ import annotations

import pandas as pd

from flows.intake.normalize import normalize_follow_up, normalize_overrides
from flows.allocation.officer_sheets import donation_issues, link_rows, usable_follow_ups, usable_overrides
from flows.allocation.units import PROBLEM_COLUMNS
from flows.text import fold


def raw(**cells) -> dict:
    return {"source_id": "dc.xlsx", "source_file": "dc.xlsx", "source_sheet": "DS", "source_row": 7, **cells}


def test_overrides_are_read_in_the_officers_words(cfg):
    rows = normalize_overrides(pd.DataFrame([
        raw(full_name="nguyễn  văn an", date_of_birth="03/04/2012", school="TH Hữu Liên", action="Thu hồi",
            need="Gói cước", officer="Lê Thị Bộ", reason="Đã có mạng", decided_on="05/03/2022"),
        raw(person_id="hs000123", action="Giao thiết bị", item="Laptop", donation_id="TT-2022-004"),
        raw(full_name="Hà Thị Mai", action="Loại khỏi danh sách"),
        raw(full_name="Hà Thị Mai", action="Tạm hoãn"),
    ]), cfg)
    assert rows[["full_name", "date_of_birth", "school_code", "action", "need", "decided_on"]].iloc[0].tolist() == [
        "Nguyễn Văn An", "2012-04-03", "TH-06388", "release", "internet", "2022-03-05"]
    assert rows[["person_id", "action", "item", "donation_id"]].iloc[1].tolist() == [
        "HS000123", "assign", "laptop", "TT-2022-004"]
    assert rows["action"].tolist()[2:] == ["exclude", ""]
    usable, issues = usable_overrides(rows)
    assert len(usable) == 3 and [(i.source_row, i.rule, i.severity) for i in issues] == [
        (7, "override_invalid", "warning")]


def test_override_actions_written_with_more_words(cfg):
    rows = normalize_overrides(pd.DataFrame([
        raw(person_id="HS000123", action="Giao máy tính bảng", donation_id="TT-2022-004"),  # the item in the action
        raw(person_id="HS000123", action="Cấp 1 điện thoại", item="Laptop"),  # the item column wins
        raw(person_id="HS000123", action="Thu hồi máy (chuyển trường)"),
        raw(person_id="HS000123", action="Hủy phân bổ"),
        raw(person_id="HS000123", action="Loại khỏi DS"),
        raw(person_id="HS000123", action="Không đủ ĐK"),
        raw(person_id="HS000123", action="Không giao"),  # not an assignment: reported, not guessed
    ]), cfg)
    assert rows[["action", "item"]].values.tolist() == [
        ["assign", "tablet"], ["assign", "laptop"], ["release", ""], ["release", ""], ["exclude", ""],
        ["exclude", ""], ["", ""]]


def test_follow_up_states_are_read_and_unknown_ones_reported(cfg):
    rows = normalize_follow_up(pd.DataFrame([
        raw(full_name="Lò Văn Hải", school="THCS Hữu Liên", item="Máy tính bảng", serial="SN 123",
            device_state="Bị hỏng màn hình", checked_on="10/03/2022"),
        raw(full_name="Lò Văn Hải", device_state="Đang sử dụng"),
        raw(full_name="Lò Văn Hải", device_state="???"),
    ]), cfg)
    assert rows["state"].tolist() == ["broken", "in_use", ""]
    assert rows[["item", "serial", "checked_on", "school_code"]].iloc[0].tolist() == [
        "tablet", "SN 123", "2022-03-10", "THCS-06388"]
    usable, issues = usable_follow_ups(rows)
    assert len(usable) == 2 and [i.rule for i in issues] == ["follow_up_state_unknown"]


PERSONS = pd.DataFrame([
    {"person_id": "HS1", "full_name": "Nguyễn Văn An", "date_of_birth": "2012-04-03", "school_code": "TH-06388"},
    {"person_id": "HS2", "full_name": "Nguyễn Văn An", "date_of_birth": "2013-01-01", "school_code": "TH-06388"},
    {"person_id": "HS3", "full_name": "Hà Thị Mai", "date_of_birth": "", "school_code": "TH-06391"},
])


def test_rows_link_by_id_or_name_birth_date_and_school_and_the_rest_are_issues():
    rows = pd.DataFrame([
        raw(person_id="HS2", full_name="", date_of_birth="", school_code=""),
        raw(person_id="", full_name="Nguyễn Văn An", date_of_birth="2012-04-03", school_code="TH-06388"),
        raw(person_id="", full_name="NGUYỄN VĂN AN", date_of_birth="", school_code="TH-06388"),  # two children
        raw(person_id="", full_name="Hà Thị Mai", date_of_birth="2014-02-02", school_code="TH-06391"),  # no dob kept
        raw(person_id="HS9", full_name="Vi Văn Nam", date_of_birth="", school_code="TH-06391"),  # nobody
        raw(person_id="", full_name="", date_of_birth="", school_code="", serial="SN-7"),
    ])
    linked, issues = link_rows(rows, PERSONS, by_serial={fold("SN-7"): "HS3"})  # as the night builds it
    assert linked["person_id"].tolist() == ["HS2", "HS1", "HS3", "HS3"]
    assert [i.rule for i in issues] == ["person_ambiguous", "person_not_found"]
    assert all(i.source_file == "dc.xlsx" and i.source_row == 7 for i in issues)
    none, nothing = link_rows(rows.iloc[:0], PERSONS)
    assert none.empty and "person_id" in none and nothing == []


def test_donation_problems_become_issues_naming_both_places_in_the_officers_words(cfg):
    blank = dict.fromkeys(PROBLEM_COLUMNS)
    problems = pd.DataFrame([
        {**blank, "rule": "duplicate_donation", "donation_id": "TT-01", "value": "TT-01", "source_file":
         "tai-tro/bo sung.csv", "source_sheet": "", "source_row": 4, "other_file": "tai-tro/so.xlsx",
         "other_sheet": "Sổ tài trợ", "other_row": 9},
        {**blank, "rule": "earmark_unknown", "donation_id": "TT-02", "value": "Trường TH Không Có",
         "source_file": "tai-tro/so.xlsx", "source_sheet": "Sổ tài trợ", "source_row": 10},
        {**blank, "rule": "donation_overdrawn", "donation_id": "TT-03", "value": "TT-03", "item": "tablet",
         "source_file": "tai-tro/so.xlsx", "source_sheet": "Sổ tài trợ", "source_row": 11, "handed_over": 6,
         "units": 5},
    ], columns=PROBLEM_COLUMNS)
    headers = {("tai-tro/so.xlsx", "Sổ tài trợ"): {"donation_id": "Mã", "earmark": "Dành cho", "quantity": "SL"},
               ("tai-tro/bo sung.csv", ""): {"donation_id": "Mã tài trợ"}}
    issues = donation_issues(problems, cfg.rules, headers)
    assert [(i.source_file, i.source_row, i.column, i.severity, i.rule) for i in issues] == [
        ("tai-tro/bo sung.csv", 4, "Mã tài trợ", "error", "duplicate_donation"),
        ("tai-tro/so.xlsx", 10, "Dành cho", "error", "earmark_unknown"),
        ("tai-tro/so.xlsx", 11, "SL", "warning", "donation_overdrawn")]
    assert "tệp tai-tro/so.xlsx, trang Sổ tài trợ, dòng 9" in issues[0].message
    assert "tệp tai-tro/bo sung.csv, dòng 4" in issues[0].message
    assert "Trường TH Không Có" in issues[1].message
    assert "6" in issues[2].message and "(5)" in issues[2].message
    assert donation_issues(problems.iloc[0:0], cfg.rules, headers) == []

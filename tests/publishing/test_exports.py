"""The CSV exports follow the contract: columns in order, true/false, integers without ".0", UTF-8, LF."""

from __future__ import annotations

from flows.frames import ALLOCATION_EXPORT_COLUMNS, ISSUE_COLUMNS, STUDENT_EXPORT_COLUMNS
from tests.publishing.night import FORMULA_MESSAGE, read_csv


def test_csv_exports_follow_the_contract(published):
    header, rows = read_csv(published / "exports" / "students.csv")
    assert header[: len(STUDENT_EXPORT_COLUMNS)] == STUDENT_EXPORT_COLUMNS
    assert len(rows) == 11
    assert {r["lacks_device"] for r in rows} == {"true", "false"}
    assert {r["lacks_internet"] for r in rows} == {"true", "false"}
    assert [r["source_row"] for r in rows[:3]] == ["8", "9", "10"]
    assert all(r["grade"].isdigit() for r in rows)
    rejected = [r for r in rows if r["status"] == "rejected"]
    assert len(rejected) == 1 and rejected[0]["person_id"] == "" and rejected[0]["date_of_birth"] == ""
    assert "national_id" in header and header.index("list_type") > len(STUDENT_EXPORT_COLUMNS) - 1

    header, rows = read_csv(published / "exports" / "issues.csv")
    assert header[: len(ISSUE_COLUMNS)] == ISSUE_COLUMNS
    assert len(rows) == 8
    unreadable = [r for r in rows if r["rule"] == "unreadable_file"][0]
    assert unreadable["source_sheet"] == "" and unreadable["source_row"] == ""
    assert [r["message"] for r in rows if r["rule"] == "formula_like_text"] == ["'" + FORMULA_MESSAGE]

    header, rows = read_csv(published / "exports" / "allocations.csv")
    assert header[: len(ALLOCATION_EXPORT_COLUMNS)] == ALLOCATION_EXPORT_COLUMNS
    assert len(rows) == 8
    assert {r["status"] for r in rows} == {"allocated", "handed_over", "waitlisted", "no_coverage"}
    assert all(r["priority_rank"].isdigit() for r in rows)

    header, rows = read_csv(published / "exports" / "changes.csv")
    assert header == ["person_id", "need", "before", "after", "rule", "other_person_id"] and len(rows) == 3
    assert [r["other_person_id"] for r in rows] == ["", "P002", "P009"]  # a merge names the other child
    header, rows = read_csv(published / "exports" / "review_pairs.csv")
    assert header[:2] == ["person_id_l", "person_id_r"] and rows[0]["source_row_l"] == "9"
    raw = (published / "exports" / "students.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r\n" not in raw

"""CSV injection: a cell a spreadsheet would run as a formula is written as text (OWASP: a leading single quote);
numbers we typed ourselves (source_row, grade, rank) stay numbers."""

from __future__ import annotations

import csv
from types import SimpleNamespace

import pandas as pd

from flows.frames import ALLOCATION_EXPORT_COLUMNS, ISSUE_COLUMNS, STUDENT_EXPORT_COLUMNS
from flows.publishing.exports import write_exports
from tests.publishing.night import read_csv

HOSTILE = ["=1+1", '=HYPERLINK("http://evil.example","bấm")', "+84912345678", "-5", "@SUM(A1)", "\tTab", "\rCR",
           "=cmd|' /C calc'!A0"]


def _frame(columns, n, **values):
    data = {c: [""] * n for c in columns}
    data.update(values)
    return pd.DataFrame(data)


def _result(n=len(HOSTILE)):
    students = _frame(STUDENT_EXPORT_COLUMNS, n, full_name=HOSTILE, guardian_name=["Nguyễn Văn An"] * n,
                      source_row=list(range(8, 8 + n)), grade=pd.array([-5] + [3] * (n - 1), dtype="Int64"),
                      lacks_device=[True] * n, raw_phone=HOSTILE)
    issues = _frame(ISSUE_COLUMNS, n, message=HOSTILE, column=HOSTILE, source_row=list(range(8, 8 + n)))
    allocations = _frame(ALLOCATION_EXPORT_COLUMNS, n, full_name=HOSTILE, priority_rank=list(range(1, n + 1)),
                         reason=HOSTILE)
    changes = pd.DataFrame({"person_id": HOSTILE, "need": "device", "before": "", "after": "", "rule": HOSTILE})
    return SimpleNamespace(students=students, issues=issues, allocations=allocations, changes=changes,
                           review_pairs=pd.DataFrame({"person_id_l": HOSTILE, "match_probability": [-0.5] * n}))


def test_every_export_neutralises_cells_a_spreadsheet_would_run(tmp_path):
    write_exports(_result(), tmp_path)
    expected = ["'" + v.replace("\r", "\n") for v in HOSTILE]  # a line break inside a cell is written as LF
    _, students = read_csv(tmp_path / "students.csv")
    assert [r["full_name"] for r in students] == expected
    assert [r["raw_phone"] for r in students] == expected  # extra columns too
    assert [r["source_row"] for r in students][:2] == ["8", "9"]
    assert students[0]["grade"] == "-5"  # a number we typed stays a number
    assert {r["guardian_name"] for r in students} == {"Nguyễn Văn An"}
    _, issues = read_csv(tmp_path / "issues.csv")
    assert [r["message"] for r in issues] == expected and [r["column"] for r in issues] == expected
    _, allocations = read_csv(tmp_path / "allocations.csv")
    assert [r["full_name"] for r in allocations] == expected and allocations[0]["priority_rank"] == "1"
    _, changes = read_csv(tmp_path / "changes.csv")
    assert [r["person_id"] for r in changes] == expected and [r["rule"] for r in changes] == expected
    _, pairs = read_csv(tmp_path / "review_pairs.csv")
    assert [r["person_id_l"] for r in pairs] == expected and pairs[0]["match_probability"] == "-0.5"
    for path in tmp_path.glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    assert not cell.startswith(("=", "+", "@", "\t", "\r")), (path.name, cell)
                    assert not cell.startswith("-") or cell in {"-5", "-0.5"}, (path.name, cell)

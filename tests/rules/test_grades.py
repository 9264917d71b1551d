"""A row without a class stays usable: the child's class comes from the school's list, else the birth year."""

import datetime as dt

import pandas as pd
import pytest

from flows.linkage.dedupe import assign_persons
from flows.rules.grades import grade_by_birth_year, row_grades, school_year_start
from flows.rules.validate import validate_students
from tests.helpers import students

AS_OF = dt.date(2022, 3, 15)  # school year 2021-2022
COMMUNE = {"source_id": "xa/huu-lien.xlsx", "source_file": "xa/huu-lien.xlsx", "source_sheet": "Sheet1",
           "list_type": "commune", "unit_code": "06388", "school_code": "", "school": "", "grade": None,
           "raw_grade": "", "raw_school": ""}


def _ids(n):
    return [f"HS{i:06d}" for i in range(1, n + 1)]


@pytest.mark.parametrize("as_of, born, grade", [
    (dt.date(2022, 3, 15), 2015, 1),   # turns 6 in 2021: grade 1 in 2021-2022
    (dt.date(2022, 3, 15), 2013, 3),
    (dt.date(2022, 3, 15), 2007, 9),
    (dt.date(2022, 3, 15), 2006, 10),
    (dt.date(2022, 3, 15), 2016, 0),   # not yet at school
    (dt.date(2022, 8, 31), 2015, 1),   # the school year runs to August
    (dt.date(2022, 9, 1), 2015, 2),    # and the next begins in September
    (dt.date(2021, 12, 31), 2015, 1),
])
def test_grade_by_birth_year_follows_the_vietnamese_entry_age(as_of, born, grade):
    assert grade_by_birth_year(born, as_of) == grade
    assert school_year_start(as_of) - born - 5 == grade


def test_grade_by_birth_year_without_a_year():
    assert grade_by_birth_year(None, AS_OF) is None
    assert grade_by_birth_year(pd.NA, AS_OF) is None


def test_a_commune_row_without_a_class_is_not_rejected(cfg):
    rows = students(
        {**COMMUNE, "full_name": "Hoàng Văn Minh", "date_of_birth": "2013-03-14", "birth_year": 2013},
        {**COMMUNE, "full_name": "Lương Thị Hoa", "date_of_birth": "", "birth_year": 2010, "raw_date_of_birth": "2010"},
        {**COMMUNE, "full_name": "Vi Văn Tú", "date_of_birth": "", "birth_year": None, "raw_date_of_birth": ""},
        {**COMMUNE, "full_name": "Nông Thị Lan", "raw_grade": "chưa rõ"},  # the commune says it does not know
    )
    df, issues = validate_students(rows, {}, cfg, AS_OF)
    assert list(df["row_status"]) == ["ok", "ok", "ok", "ok"]
    assert [i.rule for i in issues if i.severity == "error"] == []
    assert {i.rule for i in issues} <= {"date_missing"}
    assert [None if pd.isna(g) else g for g in df["grade_by_birth_year"]] == [3, 6, None, 2]


def test_a_class_written_but_unreadable_is_still_an_error(cfg):
    df, issues = validate_students(students({**COMMUNE, "full_name": "Hoàng Văn Minh", "raw_grade": "lớp hoa"}), {},
                                   cfg, AS_OF)
    assert [(i.rule, i.severity) for i in issues] == [("grade_valid", "error")]
    assert list(df["row_status"]) == ["rejected"]


def test_a_school_row_without_a_class_is_a_warning_not_an_error(cfg):
    df, issues = validate_students(students({"full_name": "Hoàng Văn Minh", "grade": None, "raw_grade": ""}), {},
                                   cfg, AS_OF)
    assert [(i.rule, i.severity, i.column) for i in issues] == [("grade_missing", "warning", "Lớp")]
    assert list(df["row_status"]) == ["ok"] and df["grade_by_birth_year"].tolist() == [2]


def test_a_listed_class_has_no_birth_year_class(cfg):
    df, _ = validate_students(students({"full_name": "Hoàng Văn Minh", "grade": 3}), {}, cfg, AS_OF)
    assert df["grade_by_birth_year"].isna().all()


def _night(cfg, *rows):
    df, issues = validate_students(students(*rows), {}, cfg, AS_OF)
    result = assign_persons(df, cfg, allocate_ids=_ids)
    persons = result.persons.set_index("full_name")
    return result, persons, issues + result.issues


def test_the_class_comes_from_the_school_record_first(cfg):
    school = {"full_name": "Hoàng Văn Minh", "date_of_birth": "2013-03-14", "birth_year": 2013, "grade": 4,
              "guardian_name": "Hoàng Văn Tuấn", "village": "Thôn Bãi Hào"}
    commune = {**COMMUNE, "source_row": 20, "full_name": "Hoàng Văn Minh", "date_of_birth": "2013-03-14",
               "birth_year": 2013, "guardian_name": "Hoàng Văn Tuấn", "village": "Thôn Bãi Hào"}
    result, persons, issues = _night(cfg, school, commune)
    assert result.students["person_id"].nunique() == 1  # linked without class or school on the commune row
    p = persons.loc["Hoàng Văn Minh"]
    assert (p["grade"], p["grade_source"], p["exclusion"]) == (4, "school_record", "")  # not 3, the birth year's
    grade, source = row_grades(result.students, result.persons)
    assert grade.tolist() == [4, 4] and source.tolist() == ["list", "school_record"]
    assert not [i for i in issues if i.rule.startswith("grade")]


def test_without_a_school_record_the_birth_year_gives_the_class(cfg):
    result, persons, issues = _night(
        cfg,
        {**COMMUNE, "full_name": "Lương Thị Hoa", "date_of_birth": "2011-05-02", "birth_year": 2011, "sex": "F"},
        {**COMMUNE, "full_name": "Triệu Văn Sáng", "date_of_birth": "2006-01-07", "birth_year": 2006,
         "source_row": 9},
        {**COMMUNE, "full_name": "Vi Văn Tú", "date_of_birth": "", "birth_year": None, "raw_date_of_birth": "",
         "source_row": 10, "village": "Thôn Bình Minh"},
        {**COMMUNE, "full_name": "Đinh Thị Mơ", "date_of_birth": "2016-02-01", "birth_year": 2016, "sex": "F",
         "source_row": 11},
    )
    got = {n: (None if pd.isna(p["grade"]) else int(p["grade"]), p["grade_source"], p["exclusion"])
           for n, p in persons.iterrows()}
    assert got == {
        "Lương Thị Hoa": (5, "birth_year", ""),
        "Triệu Văn Sáng": (10, "birth_year", "grade_out_of_range"),
        "Vi Văn Tú": (None, "", "grade_unknown"),
        "Đinh Thị Mơ": (0, "birth_year", "grade_out_of_range"),
    }
    by_row = {(i.source_row, i.rule): i for i in issues if i.rule.startswith("grade_")}
    assert sorted(by_row) == [(9, "grade_inferred_out_of_range"), (10, "grade_unknown"),
                              (11, "grade_inferred_out_of_range")]
    above, below, unknown = by_row[(9, "grade_inferred_out_of_range")], by_row[(11, "grade_inferred_out_of_range")], \
        by_row[(10, "grade_unknown")]
    assert all(i.severity == "warning" for i in (above, below, unknown))
    assert "2006" in above.message and "2021-2022" in above.message and "15 tuổi" in above.message
    assert "2016" in below.message and "5 tuổi" in below.message
    assert "ghi lớp hoặc ngày sinh" in unknown.message


def test_grade_unknown_only_when_neither_a_list_nor_a_birth_year_says_it(cfg):
    # the same undated child on the school's list: the school's class settles it, no issue
    result, persons, issues = _night(
        cfg,
        {"full_name": "Vi Văn Tú", "date_of_birth": "", "birth_year": None, "raw_date_of_birth": "", "grade": 2,
         "guardian_name": "Vi Văn Hợi", "phone": "0912000111", "village": "Thôn Bình Minh"},
        {**COMMUNE, "full_name": "Vi Văn Tú", "date_of_birth": "", "birth_year": None, "raw_date_of_birth": "",
         "source_row": 10, "guardian_name": "Vi Văn Hợi", "phone": "0912000111", "village": "Thôn Bình Minh"},
    )
    assert result.students["person_id"].nunique() == 1
    assert (persons.loc["Vi Văn Tú", "grade"], persons.loc["Vi Văn Tú", "grade_source"]) == (2, "school_record")
    assert not [i for i in issues if i.rule == "grade_unknown"]

"""A commune's record links to the child's school record without a class, and without a school."""

import datetime as dt

import pandas as pd

from flows.linkage.dedupe import assign_persons
from flows.linkage.features import features
from flows.rules.validate import validate_students
from tests.helpers import students

AS_OF = dt.date(2022, 3, 15)
COMMUNE = {"source_id": "xa/hoa-binh.xlsx", "source_file": "xa/hoa-binh.xlsx", "source_sheet": "DS",
           "list_type": "commune", "unit_code": "06397", "grade": None, "raw_grade": "", "commune_code": "06397",
           "commune": "Xã Hòa Bình"}
SCHOOL = {"source_id": "truong/th-hoa-binh.xlsx", "source_file": "truong/th-hoa-binh.xlsx", "source_sheet": "DS",
          "list_type": "school", "unit_code": "TH-06397", "school_code": "TH-06397", "school": "Trường TH Hòa Bình",
          "commune_code": "06397", "commune": "Xã Hòa Bình"}
# other children of the same school and commune, so the pair is not alone in the night
CLASSMATES = [
    {**SCHOOL, "full_name": "Lý Văn Hùng", "date_of_birth": "2012-01-09", "birth_year": 2012, "grade": 4,
     "village": "Thôn Lân Hà", "guardian_name": "Lý Văn Cường"},
    {**SCHOOL, "full_name": "Nguyễn Thị Hà", "date_of_birth": "2011-06-21", "birth_year": 2011, "grade": 5,
     "village": "Thôn Đồng Lầy", "guardian_name": "Nguyễn Văn Sơn"},
    {**SCHOOL, "full_name": "Nguyễn Văn Hào", "date_of_birth": "2013-10-10", "birth_year": 2013, "grade": 3,
     "village": "Thôn Làng Cóc", "guardian_name": "Nguyễn Văn Huy"},  # an older brother of another child
]


def _night(cfg, *rows):
    df, _ = validate_students(students(*[{"source_row": 8 + i, **r} for i, r in enumerate(rows)]), {}, cfg, AS_OF)
    result = assign_persons(df, cfg, allocate_ids=lambda n: [f"HS{i:06d}" for i in range(1, n + 1)])
    return result.students


def test_no_class_and_no_school_linked_by_name_birth_parents_village_and_phone(cfg):
    school = {**SCHOOL, "full_name": "Hoàng Thị Mai", "date_of_birth": "2014-02-02", "birth_year": 2014, "grade": 2,
              "village": "Thôn Lân Hà", "guardian_name": "Hoàng Văn Tuấn", "phone": "0912345678", "sex": "F"}
    commune = {**COMMUNE, "full_name": "Hoàng Thị Mai", "date_of_birth": "2014-02-02", "birth_year": 2014,
               "village": "Thôn Lân Hà", "guardian_name": "Hoàng Văn Tuấn", "phone": "0912345678", "sex": "F",
               "school_code": "", "school": "", "raw_school": ""}
    st = _night(cfg, *CLASSMATES, school, commune)
    assert st["person_id"].iloc[-1] == st["person_id"].iloc[-2]
    assert st["person_id"].nunique() == len(CLASSMATES) + 1


def test_no_class_linked_though_the_lists_name_different_parents(cfg):
    """The school names the mother, the commune the father (the head of household): name, birth date, school and
    village still make one child, as they did when the commune wrote the class."""
    school = {**SCHOOL, "full_name": "Nguyễn Thị Hương", "date_of_birth": "2015-05-07", "birth_year": 2015,
              "grade": 1, "village": "Thôn Đồng Lầy", "guardian_name": "Hoàng Thị Quế", "sex": "F"}
    commune = {**COMMUNE, "full_name": "Nguyễn Thị Hương", "date_of_birth": "2015-05-07", "birth_year": 2015,
               "village": "Thôn Đồng Lầy", "guardian_name": "Nguyễn Văn Văn", "sex": "F",
               "school_code": "TH-06397", "school": "Trường TH Hòa Bình"}
    st = _night(cfg, *CLASSMATES, school, commune)
    assert st["person_id"].iloc[-1] == st["person_id"].iloc[-2]


def test_a_missing_class_is_compared_as_the_birth_years_class():
    records = pd.DataFrame({"full_name": ["Nguyễn Văn An", "Nguyễn Văn Bình", "Lê Thị Chi"],
                            "grade": [3, None, None], "grade_by_birth_year": [None, 4, None]})
    assert [None if pd.isna(g) else int(g) for g in features(records)["grade"]] == [3, 4, None]
    # past recipients (the ledger) carry no birth-year class: their grade as it was
    assert [None if pd.isna(g) else int(g) for g in features(records.drop(columns="grade_by_birth_year"))["grade"]] \
        == [3, None, None]


def test_a_row_repeating_one_child_of_a_household_row_takes_that_childs_id(cfg):
    household = {**COMMUNE, "source_row": 8, "guardian_name": "Lục Văn Hải", "village": "Thôn Hố Cát",
                 "school_code": "", "school": ""}
    rows = students(
        {**household, "full_name": "Lục Thị Ngọc Ánh", "date_of_birth": "2011-10-20", "birth_year": 2011},
        {**household, "full_name": "Lục Văn Bình", "date_of_birth": "2014-05-05", "birth_year": 2014},
        {**household, "full_name": "Lục Thị Ngọc Ánh", "date_of_birth": "2011-10-20", "birth_year": 2011,
         "source_row": 12},  # the commune copied the first child again further down
    )
    df, _ = validate_students(rows, {}, cfg, AS_OF)
    assert list(df["row_status"]) == ["ok", "ok", "duplicate"] and int(df["duplicate_of"].iloc[2]) == 8
    st = assign_persons(df, cfg, allocate_ids=lambda n: [f"HS{i:06d}" for i in range(1, n + 1)]).students
    assert st["person_id"].iloc[2] == st["person_id"].iloc[0] != st["person_id"].iloc[1]

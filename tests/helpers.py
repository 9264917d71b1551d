"""Builders of small, typed stage frames for tests."""

from __future__ import annotations

import pandas as pd

from flows.frames import STUDENT_COLUMNS
from flows.text import split_name

DEFAULTS = {
    "source_id": "truong/a.xlsx", "source_file": "truong/a.xlsx", "source_sheet": "DS", "list_type": "school",
    "unit_code": "TH-06388", "school_code": "TH-06388", "school": "Trường TH Hữu Liên", "commune_code": "06388",
    "commune": "Xã Hữu Liên", "village": "Thôn Bãi Hào", "date_of_birth": "2014-09-05", "birth_year": 2014,
    "sex": "M", "grade": 3, "guardian_name": "", "phone": "", "national_id": "", "category": "poor",
    "lacks_device": True, "lacks_internet": False,
}


CATEGORY_TEXT = {"poor": "Hộ nghèo", "near_poor": "Hộ cận nghèo", "covid_orphan": "Con mồ côi do COVID-19",
                 "none": ""}


def students(*rows: dict) -> pd.DataFrame:
    out = []
    for i, r in enumerate(rows):
        row = {**DEFAULTS, "source_row": 8 + i, **r}
        family, middle, given = split_name(row["full_name"])
        row.setdefault("family_name", family)
        row.setdefault("middle_name", middle)
        row.setdefault("given_name", given)
        row.setdefault("raw_category", CATEGORY_TEXT.get(row["category"], row["category"]))
        for field in ("full_name", "date_of_birth", "grade", "category", "school", "commune", "village", "sex",
                      "phone"):
            row.setdefault(f"raw_{field}", "" if row.get(field) is None else str(row.get(field)))
        out.append(row)
    df = pd.DataFrame(out)
    for col in STUDENT_COLUMNS:
        if col not in df:
            df[col] = ""
    df["grade"] = pd.array(df["grade"], dtype="Int64")
    df["birth_year"] = pd.array(df["birth_year"], dtype="Int64")
    return df


def validated(df: pd.DataFrame) -> pd.DataFrame:
    """Student rows as the validate stage leaves usable ones: status ok, no duplicate, no exclusion."""
    df = df.copy()
    df["row_status"] = "ok"
    df["duplicate_of"] = pd.array([pd.NA] * len(df), dtype="Int64")
    df["exclusion"] = ""
    return df

"""Great Expectations suite for student rows, built from ``config/rules.yaml``.

Each expectation carries ``meta.rule`` (the rule name in rules.yaml) and ``meta.field`` (the canonical field
whose header the issue cites). ``check_frame`` derives the columns the suite reads from the normalized rows,
so that every rule is a plain, declarative expectation a reviewer can read here.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pandas as pd

from flows.config import AppConfig
from flows.rules.grades import school_year_start
from flows.text import as_text, fold, is_formula, is_missing

if TYPE_CHECKING:  # Great Expectations is imported where the suite is built, not by the night's own process
    import great_expectations as gx

TEXT_FIELDS = ["full_name", "guardian_name", "village", "school", "commune", "category", "note", "phone",
               "national_id"]


def _raw(df: pd.DataFrame, field: str) -> pd.Series:
    """Text as the school wrote it: ``raw_<field>``, or the field itself when it is kept as written (note)."""
    col = f"raw_{field}" if f"raw_{field}" in df else field
    if col not in df:
        return pd.Series([None] * len(df), index=df.index, dtype=object)
    return df[col].map(lambda v: as_text(v) or None)


def _blank_to_none(series: pd.Series) -> pd.Series:
    return series.map(lambda v: None if is_missing(v) or v == "" else v)


def category_vocabulary(cfg: AppConfig) -> list[str]:
    words: set[str] = set()
    for name in ("category_poor", "category_near_poor", "category_covid_orphan", "category_none"):
        for w in cfg.headers.vocabulary(name):
            words.add(fold(w.lstrip("~")))
    return sorted(words)


def check_frame(df: pd.DataFrame, cfg: AppConfig, as_of: dt.date) -> pd.DataFrame:
    """The columns the suite validates, one row per student row (index preserved as ``row_key``)."""
    out = pd.DataFrame(index=df.index)
    out["row_key"] = range(len(df))
    out["full_name"] = _blank_to_none(df["full_name"])
    # A formula is not a child ("=1+1", "@SUM(A1)"): the row is rejected by that rule alone, so the name's
    # shape (name_plausible) and the formula warning (formula_like_text) are not repeated on it.
    name_formula = _raw(df, "full_name").map(lambda v: v is not None and is_formula(v))
    out["name_formula"] = name_formula.map(lambda f: "formula" if f else None).tolist()
    out["name_shape"] = out["full_name"].where(~name_formula.to_numpy(), None)
    raw_dob = _raw(df, "date_of_birth")
    has_dob = df["date_of_birth"].fillna("") != ""
    has_year = df["birth_year"].notna()
    # missing when the school left it blank (date_missing), "bad" when written but unreadable (date_valid)
    out["date_status"] = [
        None if r is None else ("ok" if d else ("year" if y else "bad"))
        for r, d, y in zip(raw_dob, has_dob, has_year)
    ]
    grade = pd.to_numeric(df["grade"], errors="coerce")
    start = school_year_start(as_of)
    in_range = grade.between(cfg.rules.grade_min, cfg.rules.grade_max)
    out["age_gap"] = ((start - pd.to_numeric(df["birth_year"], errors="coerce")) - (grade + 5)).where(in_range)
    out["grade"] = grade
    # A class left blank (or written as "chưa rõ", "?") is no error: the night takes the child's class from the
    # school's list or the birth year (flows.rules.grades). A school's own row should say it (a warning).
    unknown = {fold(w) or w.strip() for w in cfg.headers.vocabulary("grade_unknown")}
    raw_grade = [None if r is None or (fold(r) or r.strip()) in unknown else r for r in _raw(df, "grade")]
    out["grade_read"] = [None if r is None and pd.isna(g) else ("ok" if not pd.isna(g) else "bad")
                         for r, g in zip(raw_grade, grade)]
    out["grade_missing"] = ["missing" if pd.isna(g) and r is None and lt == "school" else None
                            for g, r, lt in zip(grade, raw_grade, df["list_type"].fillna(""))]
    # text the night read as a category ("Gia đình thuộc hộ nghèo") is not questioned; other text is
    out["category_text"] = [None if v is None or c not in ("", "none") else fold(v)
                            for v, c in zip(_raw(df, "category"), df["category"].fillna(""))]
    raw_commune = _raw(df, "commune")
    missing = df["commune_code"].fillna("") == ""
    out["commune_claimed"] = [None if m and not r else (f"?{r}" if m else c)
                              for m, r, c in zip(missing, raw_commune, df["commune_code"])]
    raw_school = _raw(df, "school")
    out["school_claimed"] = [None if r is None else (c or f"?{r}") for r, c in zip(raw_school, df["school_code"])]
    out["commune_village"] = [
        None if not v or not c else f"{c}|{v}" for c, v in zip(df["commune_code"].fillna(""), df["village"].fillna(""))
    ]
    out["need_any"] = df["lacks_device"].fillna(False).astype(bool) | df["lacks_internet"].fillna(False).astype(bool)
    raw_sex = _raw(df, "sex")
    out["sex_claimed"] = [None if r is None else (s or "?") for r, s in zip(raw_sex, df["sex"].fillna(""))]
    out["phone"] = _blank_to_none(df["phone"])
    for field in TEXT_FIELDS:
        out[f"text_{field}"] = _raw(df, field)
    formula = df["formula_like"] if "formula_like" in df else pd.Series([[]] * len(df), index=df.index)
    out["formula_field"] = [
        next((f for f in fs if not (named and f == "full_name")), None) if isinstance(fs, (list, tuple)) else None
        for fs, named in zip(formula, name_formula)
    ]
    return out.reset_index(drop=True)


# An expectation as plain data: (Great Expectations class name, its keyword arguments, meta included)
Spec = tuple[str, dict[str, Any]]


class _Specs:
    """``gx.expectations`` as ``expectation_specs`` writes the suite: ``E.ExpectX(**kwargs)`` gives ``("ExpectX",
    kwargs)``, so that the suite reads as GX's own declarations and can be sent to the rule engine's process."""

    def __getattr__(self, name: str):  # noqa: ANN204
        return lambda **kwargs: (name, kwargs)


def build_suite(cfg: AppConfig) -> gx.ExpectationSuite:
    """The students suite of ``cfg`` (``expectation_specs`` as Great Expectations objects)."""
    return suite_of(expectation_specs(cfg))


def suite_of(specs: list[Spec], name: str = "students") -> gx.ExpectationSuite:
    import great_expectations as gx

    return gx.ExpectationSuite(name=name, expectations=[getattr(gx.expectations, kind)(**kwargs)
                                                        for kind, kwargs in specs])


def expectation_specs(cfg: AppConfig) -> list[Spec]:
    """The students suite of ``cfg`` as plain data: each expectation's class name and arguments."""
    r = cfg.rules
    E = _Specs()
    roster = sorted(s.code for s in cfg.district.schools)
    villages = sorted(f"{c.code}|{v}" for c in cfg.district.communes for v in c.villages)

    def meta(rule: str, field: str) -> dict:
        return {"rule": rule, "field": field}

    expectations = [
        E.ExpectColumnValuesToNotBeNull(column="full_name", meta=meta("name_present", "full_name")),
        E.ExpectColumnValuesToBeNull(column="name_formula", meta=meta("formula_in_name", "full_name")),
        E.ExpectColumnValueLengthsToBeBetween(column="name_shape", min_value=r.name_min_length,
                                              max_value=r.name_max_length, meta=meta("name_plausible", "full_name")),
        E.ExpectColumnValuesToNotMatchRegex(column="name_shape", regex=r"[0-9@#$%^&*_=+<>{}\[\]|\\]",
                                            meta=meta("name_plausible", "full_name")),
        E.ExpectColumnValuesToBeInSet(column="date_status", value_set=["ok", "year"],
                                      meta=meta("date_valid", "date_of_birth")),
        E.ExpectColumnValuesToNotBeNull(column="date_status", meta=meta("date_missing", "date_of_birth")),
        E.ExpectColumnValuesToBeBetween(column="age_gap", min_value=-r.age_band.below, max_value=r.age_band.above,
                                        meta=meta("age_grade_consistent", "date_of_birth")),
        E.ExpectColumnValuesToBeInSet(column="grade_read", value_set=["ok"], meta=meta("grade_valid", "grade")),
        E.ExpectColumnValuesToBeNull(column="grade_missing", meta=meta("grade_missing", "grade")),
        E.ExpectColumnValuesToBeBetween(column="grade", min_value=r.grade_min, max_value=r.grade_max,
                                        meta=meta("grade_in_range", "grade")),
        E.ExpectColumnValuesToBeInSet(column="category_text", value_set=category_vocabulary(cfg),
                                      meta=meta("category_in_domain", "category")),
        E.ExpectColumnValuesToBeInSet(column="commune_claimed", value_set=sorted(cfg.district.commune_by_code),
                                      meta=meta("commune_in_district", "commune")),
        E.ExpectColumnValuesToNotBeNull(column="commune_claimed", meta=meta("commune_missing", "commune")),
        E.ExpectColumnValuesToBeInSet(column="school_claimed", value_set=roster, meta=meta("school_in_roster", "school")),
        E.ExpectColumnValuesToBeInSet(column="commune_village", value_set=villages,
                                      meta=meta("village_in_commune", "village")),
        E.ExpectColumnValuesToBeInSet(column="need_any", value_set=[True], meta=meta("need_marked", "lacks_device")),
        E.ExpectColumnValuesToBeInSet(column="sex_claimed", value_set=["M", "F"], meta=meta("sex_valid", "sex")),
        E.ExpectColumnValuesToMatchRegex(column="phone", regex=r"^0[0-9]{9}$", meta=meta("phone_valid", "phone")),
        E.ExpectColumnValuesToBeNull(column="formula_field", meta=meta("formula_like_text", "")),
    ]
    for field in TEXT_FIELDS:
        expectations.append(E.ExpectColumnValueLengthsToBeBetween(
            column=f"text_{field}", max_value=r.text_max_length, meta=meta("text_too_long", field)))
    return [e for e in expectations if e[1]["meta"]["rule"] in r.rules]

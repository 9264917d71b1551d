"""The class of a child whose list does not say it.

Commune committees draw their lists from the household register: they know the child, the birth date, the parents
and the village, and often not the class. A row without a class stays usable; the child's class is then taken, in
this order, from:

1. a list that wrote it — the child's school record first (after linkage, ``person_grade``), and
2. the birth year and the school year (``grade_by_birth_year``): Vietnamese children enter grade 1 in the calendar
   year they turn 6, and the school year starts in September, so as of a day in school year Y–Y+1 a child born in
   year B is in grade Y − B − 5.

Where the class comes from is ``grade_source``: ``list`` (the row itself, or another list of the child, wrote it),
``school_record`` (taken from the child's school list), ``birth_year`` (inferred), or "" (unknown: the child is
excluded with ``grade_unknown``). A class inferred outside grades 1–9 is a warning on the rows that did not write
one, so the commune confirms it (a child may have started early or late, or repeated a year).
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

import pandas as pd

from flows.config import AppConfig
from flows.frames import Issue
from flows.text import as_text, is_missing
from flows.frames import frame_records

def school_year_start(as_of: dt.date) -> int:
    """The calendar year in which the school year of ``as_of`` began (September)."""
    return as_of.year if as_of.month >= 9 else as_of.year - 1


def grade_by_birth_year(birth_year: object, as_of: dt.date) -> int | None:
    """The grade a child born in ``birth_year`` is in during the school year of ``as_of`` (may be < 1 or > 12)."""
    year = _int(birth_year)
    return None if year is None else school_year_start(as_of) - year - 5


def birth_year_grades(students: pd.DataFrame, as_of: dt.date) -> pd.Series:
    """Per row: the grade its birth year gives, for rows that wrote no readable class (NA otherwise)."""
    values = [grade_by_birth_year(year, as_of) if _int(grade) is None else None
              for grade, year in zip(students["grade"], students["birth_year"])]
    return pd.Series(pd.array(values, dtype="Int64"), index=students.index)


def person_grade(school_rows: list[dict], rows: list[dict]) -> tuple[int | None, str]:
    """(grade, grade_source) of one child from its usable rows (``school_rows`` are those of school lists)."""
    for r in school_rows:
        if _int(r.get("grade")) is not None:
            return _int(r.get("grade")), "school_record"
    for r in rows:
        if _int(r.get("grade")) is not None:
            return _int(r.get("grade")), "list"
    for r in [*school_rows, *rows]:
        inferred = _int(r.get("grade_by_birth_year"))
        if inferred is not None:
            return inferred, "birth_year"
    return None, ""


def grade_issues(rows: Iterable[dict], grade: int | None, source: str, cfg: AppConfig) -> list[Issue]:
    """Warnings on the rows of one child that wrote no class: the class could not be known (``grade_unknown``),
    or the birth year puts the child outside grades 1–9 (``grade_inferred_out_of_range``: confirm the class)."""
    rules = cfg.rules
    if source == "":
        rule = "grade_unknown"
    elif source == "birth_year" and not rules.grade_min <= grade <= rules.grade_max:
        rule = "grade_inferred_out_of_range"
    else:
        return []
    if rule not in rules.rules:
        return []
    out = []
    for r in rows:
        if _int(r.get("grade")) is not None:
            continue
        year, inferred = _int(r.get("birth_year")), _int(r.get("grade_by_birth_year"))
        params: dict[str, object] = {"birth_year": "" if year is None else year, "grade": "" if grade is None else grade}
        if year is not None and inferred is not None:
            start = year + 5 + inferred
            params.update(grade=inferred, age=start - year, school_year=f"{start}-{start + 1}")
        out.append(Issue(
            source_file=r["source_file"], source_sheet=r["source_sheet"], source_row=int(r["source_row"]),
            column="", severity=rules.severity(rule), rule=rule,  # type: ignore[arg-type]
            message=rules.message(rule, **params),
        ))
    return out


def rows_alone(students: pd.DataFrame, cfg: AppConfig) -> tuple[list[str], list[Issue]]:
    """One file checked on its own (``songmaytinh validate FILE``): each usable row taken as its own child, the
    exclusion its class gives (``grade_out_of_range`` for a birth year outside grades 1–9, ``grade_unknown``) and
    the warnings the night would give it if no school list names the child."""
    exclusions, issues = [], []
    rules = cfg.rules
    for r in frame_records(students):
        exclusion = r.get("exclusion") or ""
        if r.get("row_status") == "ok" and _int(r.get("grade")) is None:
            grade, source = person_grade([], [r])
            issues += grade_issues([r], grade, source, cfg)
            if grade is None:
                exclusion = exclusion or "grade_unknown"
            elif not rules.grade_min <= grade <= rules.grade_max:
                exclusion = exclusion or "grade_out_of_range"
        exclusions.append(exclusion)
    return exclusions, issues


def row_grades(students: pd.DataFrame, persons: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per row of the night: the class the night settled on and where it came from. A row that wrote a class keeps
    it (``list``); a row without one carries its child's class and source; a rejected row (no child) has none."""
    by_person = {}
    if len(persons) and "grade_source" in persons:
        by_person = {as_text(p): (g, as_text(s)) for p, g, s in
                     zip(persons["person_id"], persons["grade"], persons["grade_source"])}
    grades, sources = [], []
    for grade, pid in zip(students["grade"], students.get("person_id", pd.Series([""] * len(students)))):
        own = _int(grade)
        if own is not None:
            grades.append(own)
            sources.append("list")
            continue
        found, source = by_person.get(as_text(pid), (None, ""))
        grades.append(_int(found))
        sources.append(source if _int(found) is not None else "")
    index = students.index
    return pd.Series(pd.array(grades, dtype="Int64"), index=index), pd.Series(sources, index=index, dtype=object)


def _int(value: object) -> int | None:
    if value is None or isinstance(value, bool) or is_missing(value):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None

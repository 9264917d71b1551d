"""The night's result prepared once for every workbook and the manifest.

``prepare`` turns the stage frames of a ``RunResult`` into display-ready frames (text columns "" when missing,
integers Int64), fills commune and school codes from official names, places each issue in the commune and
school workbooks that show it, keeps one row per person and adds the sort helpers every list uses (commune and
school in config order, names in Vietnamese collation). It also holds the plain value conversions the workbook
and manifest writers share.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from flows.config import AppConfig, District
from flows.frames import ALLOCATION_EXPORT_COLUMNS, ISSUE_COLUMNS, STUDENT_EXPORT_COLUMNS, RunResult
from flows.text import as_text, is_missing, name_sort_key, strip_tones

GIVEN = ("allocated", "handed_over")  # allocation statuses that count as given
WAITING = ("waitlisted", "no_coverage")  # allocation statuses of a need still waiting


# ----------------------------------------------------------------------------------------------------------
# Plain values
# ----------------------------------------------------------------------------------------------------------

def as_int(v: object) -> int | None:
    """An integer from a number or numeric text; None for missing, bool or non-numeric values."""
    kind = type(v)  # the lists' ints and floats first, as ``as_number`` takes them (it is called per cell)
    if kind is float:
        return int(v) if math.isfinite(v) else None
    if kind is int and -_EXACT < v < _EXACT:
        return v
    n = as_number(v)
    return None if n is None else int(n)


_EXACT = 2**53  # ints a float holds exactly


def as_number(v: object) -> float | int | None:
    """A finite number (int when whole) from a number or numeric text; None otherwise (bools included)."""
    if is_missing(v) or isinstance(v, bool) or v == "":
        return None
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not math.isfinite(f):
        return None
    return int(f) if f.is_integer() else f


def truthy(v: object) -> bool:
    """A yes/no cell: "x", "true", "1", "yes" (any case) or a true value; missing is no."""
    if is_missing(v):
        return False
    if isinstance(v, str):
        return v.strip().lower() in {"true", "1", "x", "yes"}
    return bool(v)


def school_enrolment(school) -> int:  # noqa: ANN001 - config model
    """A school's grade 1-9 enrolment from the config."""
    return sum(school.enrolment.values())


def ordered(df: pd.DataFrame, *by: str) -> pd.DataFrame:
    """Rows sorted (stable) by the given columns, then person id."""
    return df.sort_values([*by, "person_id"], kind="stable") if len(df) else df


def sorted_issues(iss: pd.DataFrame) -> pd.DataFrame:
    """Issues by file, sheet and row (sheet-level first), errors before warnings, then column and rule."""
    if not len(iss):
        return iss
    iss = iss.copy()
    iss["_row"] = iss["source_row"].fillna(-1)
    iss["_sev"] = (iss["severity"] != "error").astype(int)
    return iss.sort_values(["source_file", "source_sheet", "_row", "_sev", "column", "rule"], kind="stable")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", strip_tones(text).lower()).strip("-") or "x"


def _safe_code(code: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", code).strip("-") or "x"


# ----------------------------------------------------------------------------------------------------------
# Preparing the night's frames once
# ----------------------------------------------------------------------------------------------------------

def _frame(df: Any, required: Sequence[str], name: str) -> pd.DataFrame:
    """The frame with its contract columns; an empty or missing frame gets them, a filled one must have them."""
    if df is None:
        df = pd.DataFrame()
    missing = [c for c in required if c not in df.columns]
    if missing and len(df):
        raise ValueError(f"publish: {name} frame lacks contract column(s) {', '.join(missing)}")
    if missing:
        df = df.reindex(columns=[*df.columns, *missing])
    return df


def _texts(df: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    for c in columns:
        if c not in df.columns:
            df[c] = ""
        else:
            df[c] = [as_text(v) for v in df[c].tolist()]
    return df


def _ints(df: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    for c in columns:
        values = df[c].tolist() if c in df.columns else [None] * len(df)
        df[c] = pd.array([as_int(v) for v in values], dtype="Int64")
    return df


@dataclass
class Prepared:
    """The night's frames, display-ready, for every workbook and the manifest; names and files of its units."""

    result: RunResult
    cfg: AppConfig
    # Display-ready frames (text columns "" when missing, integers Int64) with sort helpers _commune_order,
    # _school_order, _name_rank (Vietnamese collation); students also _file_school (school that sent the file).
    students: pd.DataFrame
    persons: pd.DataFrame  # one row per person_id, placed in one commune and school; sources = rows cited
    allocations: pd.DataFrame
    issues: pd.DataFrame  # plus _commune_key / _school_key: whose workbook shows it; _row_commune, _row_school
    review_pairs: pd.DataFrame
    donations: pd.DataFrame
    commune_codes: list[str]
    school_codes: list[str]  # schools that get a feedback workbook
    # a unit's view only (``UnitIndex.view``): frame name -> positions of its rows in the night's frame
    rows: dict[str, list[int]] | None = None
    # the digest of what these frames were prepared from (``flows.reuse.workbooks.prepared``); "" when unknown
    key: str = ""

    @property
    def district(self) -> District:
        return self.cfg.district

    @property
    def district_file(self) -> str:
        return f"{_slug(self.district.district.short_name)}-tong-hop-{self.result.as_of.isoformat()}.xlsx"

    def commune_name(self, code: str, fallback: str = "") -> str:
        c = self.district.commune_by_code.get(code)
        return c.name if c else fallback

    def school_name(self, code: str, fallback: str = "") -> str:
        s = self.district.school_by_code.get(code)
        return s.name if s else fallback

    def commune_file(self, code: str) -> str:
        return f"{_safe_code(code)}-{_slug(self.commune_name(code, code))}.xlsx"

    def school_file(self, code: str) -> str:
        return f"{_safe_code(code)}-{_slug(self.school_name(code, code).removeprefix('Trường '))}.xlsx"

    def unit_files(self) -> list[tuple[str, str, str]]:
        """(kind, code, path in the run folder) of every commune and school workbook, in writing order."""
        return ([("commune", c, f"communes/{self.commune_file(c)}") for c in self.commune_codes]
                + [("school", s, f"schools/{self.school_file(s)}") for s in self.school_codes])

    def unit(self, kind: str, code: str, stamp: "Stamp | None" = None) -> "Prepared":
        """What the workbook of one commune (``kind`` "commune") or school reads, and nothing else (``UnitIndex``;
        indexing the night once serves every unit: ``UnitIndex(data).view``)."""
        return UnitIndex(self).view(kind, code, stamp)

    def stamped(self, stamp: "Stamp") -> "Prepared":
        """The same data, stating another date, run and time of making (``Stamp``)."""
        return replace(self, result=replace(self.result, as_of=stamp.as_of, run_id=stamp.run_id,
                                            started_at=stamp.started_at))


@dataclass(frozen=True)
class Stamp:
    """What a workbook states about its making: the as-of date it prints ("số liệu đến ngày", the document's
    date line), the run it names ("lần tổng hợp") and the time in its document properties. A commune or school
    workbook states the night its content was first published, as long as that content stays the same
    (``flows.reuse.workbooks``)."""

    as_of: dt.date
    run_id: str
    started_at: dt.datetime


class UnitIndex:
    """The night's frames indexed once by commune, school, person and file, to cut each unit's view out of them.

    ``view(kind, code)`` is what the workbook of one commune (``kind`` "commune") or school reads, and nothing
    else: its rows of every list (a commune: its rows and every row of the children placed in it; a school: the
    rows it sent and the rows of its students), its issues, its children's handovers and device checks, its
    villages' connectivity, the rows as sent of its files and their headers. Sort helpers that were global are
    made local (``_name_rank`` ranks this unit's names only: the same order, whatever other units' names are);
    global figures the workbook prints (a child's ``priority_rank``) stay as they are. ``stamp``: the date, run
    and time the workbook states it was made (default tonight's). The workbook written from a view is the one
    written from the whole night (``tests/publishing/test_unit_views.py``), so a key over the view
    (``flows.reuse.workbooks.UnitKeys``) covers everything the workbook shows."""

    def __init__(self, data: "Prepared"):
        self.data = data
        st, al, persons, iss = data.students, data.allocations, data.persons, data.issues
        self.st = {c: _positions(st[c]) for c in ("commune_code", "person_id", "school_code", "_file_school")}
        self.al = {c: _positions(al[c]) for c in ("commune_code", "school_code")}
        self.persons = _positions(persons["commune_code"])
        self.iss = {c: _positions(iss[c]) for c in ("_commune_key", "_school_key")}
        sent = data.result.rows_as_sent
        self.sent = _positions(sent["source_file"]) if isinstance(sent, pd.DataFrame) and "source_file" in sent \
            else None
        self._ranks = [f["_name_rank"].tolist() for f in (st, al, persons)]
        self._ids = (persons["person_id"].tolist(), al["person_id"].tolist())
        self._files = (st["source_file"].tolist(), iss["source_file"].tolist())

    def rows(self, kind: str, code: str) -> "UnitRows":
        """Which rows of the night's frames the unit's view holds, and its small frames."""
        r = self.data.result
        if kind == "commune":
            persons = self.persons.get(code, [])
            ids = {self._ids[0][i] for i in persons} - {""}
            st = sorted(set(self.st["commune_code"].get(code, [])).union(
                *(self.st["person_id"].get(i, []) for i in ids)))
            al = self.al["commune_code"].get(code, [])
            iss = self.iss["_commune_key"].get(code, [])
        elif kind == "school":
            persons = []
            st = sorted(set(self.st["school_code"].get(code, [])) | set(self.st["_file_school"].get(code, [])))
            al = self.al["school_code"].get(code, [])
            iss = self.iss["_school_key"].get(code, [])
        else:
            raise ValueError(f"unit workbook kind {kind!r}")
        ranks = [[ranks[i] for i in rows] for ranks, rows in zip(self._ranks, (st, al, persons))]
        local = {v: n for n, v in enumerate(sorted({int(v) for part in ranks for v in part}))}
        ids = {self._ids[1][i] for i in al}
        files = {self._files[0][i] for i in st} | {self._files[1][i] for i in iss}
        sent = sorted(p for f in files for p in self.sent.get(f, [])) if self.sent is not None else []
        return UnitRows(
            kind=kind, code=code,
            rows={"students": st, "allocations": al, "persons": persons, "issues": iss, "rows_as_sent": sent},
            name_ranks=[[local[int(v)] for v in part] for part in ranks],
            connectivity=_rows_where(r.connectivity, "commune_code", {code}) if kind == "commune" else None,
            follow_ups=_rows_where(r.follow_ups, "person_id", ids) if kind == "commune" else None,
            handovers=_rows_where(r.handovers, "person_id", ids),
            headers={k: v for k, v in (r.headers or {}).items() if k[0] in files})

    def view(self, kind: str, code: str, stamp: "Stamp | None" = None) -> "Prepared":
        data, r = self.data, self.data.result
        u = self.rows(kind, code)
        rows = u.rows
        st, al, persons = (frame.iloc[rows[name]].assign(_name_rank=ranks) for frame, name, ranks in zip(
            (data.students, data.allocations, data.persons), ("students", "allocations", "persons"), u.name_ranks))
        stamp = stamp or Stamp(r.as_of, r.run_id, r.started_at)
        sent = r.rows_as_sent.iloc[rows["rows_as_sent"]] if self.sent is not None else r.rows_as_sent
        result = RunResult(
            run_id=stamp.run_id, as_of=stamp.as_of, started_at=stamp.started_at, finished_at=None, sources=[],
            students=None, issues=None, allocations=None, donations=None, donation_summary=None,
            connectivity=u.connectivity, review_pairs=None, changes=None, follow_ups=u.follow_ups,
            handovers=u.handovers, rows_as_sent=sent, headers=u.headers)
        return Prepared(result=result, cfg=data.cfg, students=st, persons=persons, allocations=al,
                        issues=data.issues.iloc[rows["issues"]], review_pairs=data.review_pairs.iloc[0:0],
                        donations=data.donations.iloc[0:0], commune_codes=[code] if kind == "commune" else [],
                        school_codes=[code] if kind == "school" else [], rows=rows)


@dataclass
class UnitRows:
    """What one unit's view holds (``UnitIndex.rows``): the positions of its rows in the night's frames, its local
    name ranks (students, allocations, persons), and its small frames and headers."""

    kind: str
    code: str
    rows: dict[str, list[int]]
    name_ranks: list[list[int]]
    connectivity: Any
    follow_ups: Any
    handovers: Any
    headers: dict


def _positions(column: pd.Series) -> dict[Any, list[int]]:
    """value -> positions of the rows holding it, in order."""
    out: dict[Any, list[int]] = {}
    for i, v in enumerate(column.tolist()):
        out.setdefault(v, []).append(i)
    return out


def _rows_where(frame: Any, column: str, values: set) -> Any:
    """The rows of ``frame`` whose ``column`` (as text) is one of ``values``, in order; None stays None."""
    if frame is None or not isinstance(frame, pd.DataFrame):
        return frame
    if column not in frame.columns or not len(frame):
        return frame.iloc[0:0]
    keep = [as_text(v) in values for v in frame[column].tolist()]
    return frame[keep]



def prepare(result: RunResult, cfg: AppConfig) -> Prepared:
    """The night's frames made display-ready once, issues placed, one row per person (see the module doc)."""
    d = cfg.district
    commune_order = {c.code: i for i, c in enumerate(d.communes)}
    school_order = {s.code: i for i, s in enumerate(d.schools)}
    commune_by_name = {c.name: c.code for c in d.communes}
    school_by_name = {s.name: s.code for s in d.schools}

    st = _frame(result.students, STUDENT_EXPORT_COLUMNS, "students").copy()
    st = _texts(st, ["source_file", "source_sheet", "school", "commune", "village", "full_name", "date_of_birth",
                     "sex", "category", "person_id", "status", "reason", "list_type", "school_code",
                     "commune_code", "unit_code"])
    st = _ints(st, ["source_row", "grade", "birth_year", "priority_rank"])
    st["lacks_device"] = [truthy(v) for v in st["lacks_device"].tolist()]
    st["lacks_internet"] = [truthy(v) for v in st["lacks_internet"].tolist()]
    _fill_codes(st, commune_by_name, school_by_name)

    al = _frame(result.allocations, ALLOCATION_EXPORT_COLUMNS, "allocations").copy()
    al = _texts(al, ["person_id", "need", "full_name", "commune", "school", "category", "item", "donation_id",
                     "status", "reason", "commune_code", "school_code", "village", "date_of_birth"])
    al = _ints(al, ["grade", "priority_rank"])
    _fill_codes(al, commune_by_name, school_by_name)

    iss = _frame(result.issues, ISSUE_COLUMNS, "issues").copy()
    iss = _texts(iss, ["source_file", "source_sheet", "column", "severity", "rule", "message"])
    iss = _ints(iss, ["source_row"])

    rp = result.review_pairs if result.review_pairs is not None else pd.DataFrame()
    rp = _texts(rp.copy(), ["person_id_l", "person_id_r", "reasons"] + [
        f"{f}_{side}" for f in ("full_name", "date_of_birth", "school", "commune", "village", "guardian_name",
                                "source_file") for side in ("l", "r")])
    rp = _ints(rp, ["source_row_l", "source_row_r"])
    rp["match_probability"] = [as_number(v) for v in rp["match_probability"].tolist()] \
        if "match_probability" in rp else [None] * len(rp)

    dn = result.donations if result.donations is not None else pd.DataFrame()
    dn = _texts(dn.copy(), ["donation_id", "donor", "kind", "status", "earmark_commune_code", "earmark_school_code",
                            "earmark_text", "note", "date"])
    dn = _ints(dn, ["quantity", "amount_vnd", "units"])

    # Who reported each file: a school, or a commune committee.
    file_unit: dict[str, tuple[str, str]] = {}
    for source_file, g in st.groupby("source_file", sort=False):
        list_type = _mode(g["list_type"])
        code = _mode(g["unit_code"])
        if not code:
            code = _mode(g["school_code"] if list_type == "school" else g["commune_code"]) if list_type else ""
        file_unit[str(source_file)] = (list_type, code)

    # Issues belong to the row's commune (the child's) and to the school whose file they are in. A row-level
    # issue whose row has no commune goes only to a commune that wrote the row itself; sheet-level issues (no
    # child in them) go to the reporting unit's commune.
    keys = st[["source_file", "source_sheet", "source_row", "commune_code", "school_code"]].dropna(
        subset=["source_row"]).drop_duplicates(["source_file", "source_sheet", "source_row"])
    keys = keys.rename(columns={"commune_code": "_row_commune", "school_code": "_row_school"})
    iss = iss.merge(keys, how="left", on=["source_file", "source_sheet", "source_row"])
    iss = _texts(iss, ["_row_commune", "_row_school"])
    units = [file_unit.get(f, ("", "")) for f in iss["source_file"].tolist()]
    school_commune = {s.code: s.commune for s in d.schools}
    iss["_commune_key"] = [
        row_commune or (code if lt == "commune" else school_commune.get(code, "") if is_missing(row) and lt else "")
        for row_commune, row, (lt, code) in zip(iss["_row_commune"], iss["source_row"].tolist(), units)]
    iss["_school_key"] = [code if lt == "school" else "" for lt, code in units]
    st_units = [file_unit.get(f, ("", "")) for f in st["source_file"].tolist()]
    st["_file_school"] = [code if lt == "school" else "" for lt, code in st_units]
    st["_file_commune"] = [code if lt == "commune" else "" for lt, code in st_units]

    # One row per person: the commune list first (it is authoritative), then school lists, sheet order.
    persons = _persons(st, al)

    names = set(st["full_name"]) | set(al["full_name"]) | set(persons["full_name"])
    name_rank = {n: i for i, n in enumerate(sorted(names, key=lambda n: (name_sort_key(n), n)))}
    for frame in (st, al, persons):
        frame["_commune_order"] = [commune_order.get(c, len(commune_order)) for c in frame["commune_code"]]
        frame["_school_order"] = [school_order.get(c, len(school_order)) for c in frame["school_code"]]
        frame["_name_rank"] = [name_rank.get(n, -1) for n in frame["full_name"]]

    schools_with_rows = set(st["school_code"]) | set(st["_file_school"]) | set(iss["_school_key"])
    school_codes = [s.code for s in d.schools if s.code in schools_with_rows]
    return Prepared(result=result, cfg=cfg, students=st, persons=persons, allocations=al, issues=iss,
                    review_pairs=rp, donations=dn, commune_codes=[c.code for c in d.communes],
                    school_codes=school_codes)


def _mode(values: pd.Series) -> str:
    counts = values[values != ""].value_counts()
    return str(counts.index[0]) if len(counts) else ""


def _fill_codes(df: pd.DataFrame, commune_by_name: dict[str, str], school_by_name: dict[str, str]) -> None:
    """Codes from official names where a stage did not carry them (extras are optional in the contract)."""
    df["commune_code"] = [c or commune_by_name.get(n, "") for c, n in zip(df["commune_code"], df["commune"])]
    df["school_code"] = [c or school_by_name.get(n, "") for c, n in zip(df["school_code"], df["school"])]


def _persons(st: pd.DataFrame, al: pd.DataFrame) -> pd.DataFrame:
    cols = ["person_id", "status", "reason", "full_name", "date_of_birth", "birth_year", "grade", "school",
            "school_code", "commune", "commune_code", "village", "category"]
    rows = st[st["person_id"] != ""].copy()
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in [*cols, "sources"]})
    rows["_pref"] = [2 * (s == "duplicate") + (lt != "commune") for s, lt in zip(rows["status"], rows["list_type"])]
    rows = rows.sort_values(["_pref", "source_file", "source_sheet", "source_row"], kind="stable")
    cites: dict[str, list[str]] = {}
    for pid, f, r in zip(rows["person_id"], rows["source_file"], rows["source_row"].tolist()):
        cites.setdefault(pid, []).append(f if is_missing(r) else f"{f}, dòng {r}")
    first = rows.drop_duplicates("person_id")[cols].set_index("person_id")
    # Fill a missing place, school or date from the person's other rows.
    for c in ("school", "school_code", "commune", "commune_code", "village", "date_of_birth"):
        other = rows[rows[c] != ""].drop_duplicates("person_id")
        found = dict(zip(other["person_id"], other[c]))
        first[c] = [v or found.get(pid, "") for pid, v in zip(first.index, first[c])]
    # Eligible persons are placed where the allocation stage placed them.
    if not al.empty:
        placed = al.drop_duplicates("person_id")
        for c in ("commune", "commune_code", "school", "school_code"):
            found = dict(zip(placed["person_id"], placed[c]))
            first[c] = [found.get(pid, "") or v for pid, v in zip(first.index, first[c])]
    first = first.reset_index()
    first["sources"] = ["; ".join(cites.get(pid, [])) for pid in first["person_id"]]
    return first

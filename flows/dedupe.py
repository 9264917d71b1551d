"""Stage 5 — dedupe: link student rows that describe the same child, and give each child a stable person_id.

First version: deterministic linkage on Vietnamese-aware identity keys (tone-folded name tokens without the
"Thị"/"Văn" particles, in any order; birth date tolerant of day/month swaps; year-only dates linked only
within the same commune and school). Probabilistic linkage (Splink) replaces ``link_records`` behind the same
interface. Person ids come from the ledger's fingerprint links so that the same child keeps the same id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pandas as pd

from flows.config import AppConfig
from flows.frames import Issue
from flows.text import fold

PARTICLES = {"thi", "van"}


@dataclass
class DedupeResult:
    students: pd.DataFrame  # input rows + fingerprint, person_id ("" for rejected rows)
    persons: pd.DataFrame  # one row per person (see _persons)
    review_pairs: pd.DataFrame
    issues: list[Issue] = field(default_factory=list)
    new_links: dict[str, str] = field(default_factory=dict)  # fingerprint -> person_id, to store in the ledger
    aliases: dict[str, str] = field(default_factory=dict)  # merged person_id -> surviving person_id
    ledger_changes: list[pd.DataFrame] = field(default_factory=list)  # change rows from merges and handovers


def name_key(full_name: object) -> str:
    tokens = [t for t in fold(full_name).replace("/", " ").split() if t not in PARTICLES]
    return " ".join(sorted(tokens))


def _dob_keys(dob: str) -> tuple[str, str]:
    """(iso date, the same date with day and month swapped or "")."""
    if not dob or len(dob) != 10:
        return "", ""
    y, m, d = dob[:4], dob[5:7], dob[8:10]
    swapped = f"{y}-{d}-{m}" if int(d) <= 12 and d != m else ""
    return dob, swapped


def fingerprint(row: pd.Series | dict) -> str:
    """Stable key of a record's normalized identity (name tokens, birth date or year, commune)."""
    dob = str(row.get("date_of_birth") or "")
    year = row.get("birth_year")
    year_s = "" if year is None or pd.isna(year) else str(int(year))
    ident = "|".join([name_key(row.get("full_name")), dob or year_s, str(row.get("commune_code") or "")])
    return hashlib.sha1(ident.encode("utf-8")).hexdigest()[:16]


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def link_records(records: pd.DataFrame) -> list[int]:
    """Cluster label (index of the cluster's first record) per record.

    ``records`` columns: full_name, date_of_birth (ISO or ""), birth_year (int or NA), commune_code, school_code,
    grade. Missing columns are treated as empty.
    """
    n = len(records)
    uf = _UnionFind(n)

    def col(name: str) -> list:
        return list(records[name]) if name in records else [None] * n

    names = [name_key(v) for v in col("full_name")]
    dobs = [str(v) if isinstance(v, str) else "" for v in col("date_of_birth")]
    years = [None if v is None or pd.isna(v) else int(v) for v in col("birth_year")]
    communes = [str(v or "") for v in col("commune_code")]
    schools = [str(v or "") for v in col("school_code")]
    by_name: dict[str, list[int]] = {}
    for i, key in enumerate(names):
        if key:
            by_name.setdefault(key, []).append(i)
    for members in by_name.values():
        if len(members) < 2:
            continue
        exact: dict[str, int] = {}
        for i in members:
            if dobs[i]:
                exact.setdefault(dobs[i], i)
                uf.union(exact[dobs[i]], i)
        for i in members:
            _, swapped = _dob_keys(dobs[i])
            if swapped and swapped in exact:
                uf.union(exact[swapped], i)
        partial = [i for i in members if not dobs[i]]
        for i in partial:
            for j in members:
                if i == j or communes[i] != communes[j] or not communes[i]:
                    continue
                year_j = int(dobs[j][:4]) if dobs[j] else years[j]
                if years[i] is not None and year_j is not None and years[i] != year_j:
                    continue
                if schools[i] and schools[j] and schools[i] != schools[j]:
                    continue
                uf.union(i, j)
    return [uf.find(i) for i in range(n)]


def assign_persons(
    students: pd.DataFrame,
    cfg: AppConfig,
    known_links: dict[str, str] | None = None,
    allocate_ids=None,
) -> DedupeResult:
    """Link usable rows into persons and give every person a stable id.

    ``known_links``: fingerprint -> person_id from earlier nights (the ledger). ``allocate_ids(n)`` returns n new,
    never-used person ids (the ledger's sequence); without it ids are derived from the fingerprint.
    """
    known_links = known_links or {}
    df = students.reset_index(drop=True).copy()
    df["fingerprint"] = [fingerprint(r) for r in df.to_dict("records")]
    df["person_id"] = ""
    usable = df.index[df["row_status"] == "ok"]
    linked = df.loc[usable].reset_index()
    labels = link_records(linked) if len(linked) else []
    clusters: dict[int, list[int]] = {}
    for pos, label in enumerate(labels):
        clusters.setdefault(label, []).append(int(linked.at[pos, "index"]))

    new_links: dict[str, str] = {}
    aliases: dict[str, str] = {}
    pending: list[list[int]] = []
    for label in sorted(clusters):
        rows = clusters[label]
        ids = sorted({known_links[f] for f in df.loc[rows, "fingerprint"] if f in known_links}, key=_id_order)
        if ids:
            survivor = ids[0]
            for other in ids[1:]:
                aliases[other] = survivor
            df.loc[rows, "person_id"] = survivor
        else:
            pending.append(rows)
    fresh = allocate_ids(len(pending)) if allocate_ids else [
        "P" + fingerprint(df.loc[rows[0]]).upper()[:10] for rows in pending]
    for rows, pid in zip(pending, fresh):
        df.loc[rows, "person_id"] = pid
    for i in usable:
        fp = df.at[i, "fingerprint"]
        if known_links.get(fp) != df.at[i, "person_id"]:
            new_links[fp] = df.at[i, "person_id"]

    # repeated rows inside one sheet carry the person_id of the row they repeat
    first = {(r.source_id, r.source_sheet, int(r.source_row)): r.person_id
             for r in df.loc[usable, ["source_id", "source_sheet", "source_row", "person_id"]].itertuples()}
    for i in df.index[df["row_status"] == "duplicate"]:
        ref = (df.at[i, "source_id"], df.at[i, "source_sheet"], int(df.at[i, "duplicate_of"]))
        df.at[i, "person_id"] = first.get(ref, "")

    persons, issues = _persons(df, cfg)
    review = pd.DataFrame(columns=["person_id_l", "person_id_r", "match_probability", "reasons"])
    return DedupeResult(students=df, persons=persons, review_pairs=review, issues=issues,
                        new_links=new_links, aliases=aliases)


def _id_order(pid: str) -> tuple[int, str]:
    digits = "".join(ch for ch in pid if ch.isdigit())
    return (int(digits) if digits and pid[:1] != "P" else 10**12, pid)


def _persons(df: pd.DataFrame, cfg: AppConfig) -> tuple[pd.DataFrame, list[Issue]]:
    """One row per person from its usable rows; the commune's list decides the category."""
    district = cfg.district
    issues: list[Issue] = []
    rows = []
    usable = df[df["row_status"] == "ok"]
    for pid, group in usable.groupby("person_id", sort=True):
        commune_rows = group[group["list_type"] == "commune"]
        school_rows = group[group["list_type"] == "school"]
        rep = (school_rows if len(school_rows) else group).iloc[0]
        categories = sorted(set(group["category"]), key=district.tier_rank)
        if len(commune_rows):
            category = sorted(set(commune_rows["category"]), key=district.tier_rank)[0]
        else:
            category = categories[0]
        if len(categories) > 1:
            for _, r in group[group["category"] != category].iterrows():
                issues.append(Issue(
                    source_file=r["source_file"], source_sheet=r["source_sheet"], source_row=int(r["source_row"]),
                    column="", severity=cfg.rules.severity("category_conflict") if "category_conflict" in cfg.rules.rules
                    else "warning", rule="category_conflict",
                    message=cfg.rules.message("category_conflict", other=district.tier_label(category)),
                ))
        grade = next((g for g in list(school_rows["grade"]) + list(group["grade"]) if not pd.isna(g)), pd.NA)
        dob = next((d for d in group["date_of_birth"] if d), "")
        lacks_device = bool(group["lacks_device"].any())
        lacks_internet = bool(group["lacks_internet"].any())
        if pd.isna(grade) or not cfg.rules.grade_min <= int(grade) <= cfg.rules.grade_max:
            exclusion = "grade_out_of_range"
        elif not rep["commune_code"]:
            exclusion = "outside_district"
        elif not (lacks_device or lacks_internet):
            exclusion = "needs_nothing"
        else:
            exclusion = ""
        village = next((v for v in group["village"] if v), "")
        rows.append({
            "person_id": pid, "full_name": rep["full_name"], "family_name": rep["family_name"],
            "middle_name": rep["middle_name"], "given_name": rep["given_name"], "date_of_birth": dob,
            "birth_year": next((y for y in group["birth_year"] if not pd.isna(y)), pd.NA),
            "sex": next((s for s in group["sex"] if s), ""), "grade": grade,
            "school_code": rep["school_code"], "school": rep["school"],
            "commune_code": rep["commune_code"], "commune": rep["commune"], "village": village,
            "guardian_name": next((g for g in group["guardian_name"] if g), ""),
            "category": category, "lacks_device": lacks_device, "lacks_internet": lacks_internet,
            "exclusion": exclusion, "records": len(group),
        })
    persons = pd.DataFrame(rows)
    if persons.empty:
        persons = pd.DataFrame(columns=["person_id", "full_name", "family_name", "middle_name", "given_name",
                                        "date_of_birth", "birth_year", "sex", "grade", "school_code", "school",
                                        "commune_code", "commune", "village", "guardian_name", "category",
                                        "lacks_device", "lacks_internet", "exclusion", "records"])
    persons["grade"] = pd.array(persons["grade"], dtype="Int64")
    persons["birth_year"] = pd.array(persons["birth_year"], dtype="Int64")
    return persons, issues


def dedupe_csv(in_path, out_path) -> dict[str, int]:
    """Stateless contract of ``songmaytinh dedupe IN.csv --output OUT.csv`` (see DESIGN.md)."""
    from flows.normalize_identity import identity_frame

    raw = pd.read_csv(in_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if "record_id" not in raw or "full_name" not in raw:
        raise ValueError(f"{in_path}: needs the columns record_id and full_name")
    if raw["record_id"].duplicated().any():
        dup = raw.loc[raw["record_id"].duplicated(), "record_id"].iloc[0]
        raise ValueError(f"{in_path}: record_id {dup!r} appears more than once")
    ident = identity_frame(raw)
    labels = link_records(ident)
    out = pd.DataFrame({"record_id": raw["record_id"]})
    out["cluster_id"] = [raw["record_id"].iat[label] for label in labels]
    out.to_csv(out_path, index=False)
    return {"records": len(out), "clusters": out["cluster_id"].nunique()}

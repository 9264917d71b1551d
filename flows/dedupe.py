"""Stage 5 — dedupe: link student rows that describe the same child, and give each child a stable person_id.

First version: deterministic linkage on Vietnamese-aware identity keys (tone-folded name tokens without the
"Thị"/"Văn" particles, in any order; birth date tolerant of day/month swaps; year-only dates linked only
within the same commune and school). Probabilistic linkage (Splink) replaces ``link_records`` behind the same
interface. Person ids come from the ledger's fingerprint links so that the same child keeps the same id.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field

import pandas as pd

from flows.config import AppConfig
from flows.frames import Issue
from flows.text import as_text, fold, is_missing

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


def _words(full_name: object) -> tuple[list[tuple[str, str]], frozenset[str]]:
    """(folded word, written word) pairs of the name without particles, and the particles.

    "Thị" and "Văn" are particles; an unaccented "thi"/"van" is one unless it is the last word (the given name:
    "Nguyễn Vân" written without accents must keep its "Van")."""
    words = str(full_name or "").replace("/", " ").split()
    kept, particles = [], set()
    for pos, word in enumerate(words):
        key = fold(word)
        if not key:
            continue
        lower = unicodedata.normalize("NFC", word).lower()
        if lower in ("thị", "văn") or (lower in PARTICLES and pos < len(words) - 1):
            particles.add(key)
        else:
            kept.append((key, word))
    return kept, frozenset(particles)


def name_key(full_name: object) -> str:
    return " ".join(sorted(key for key, _ in _words(full_name)[0]))


def _dob_keys(dob: str) -> tuple[str, str]:
    """(iso date, the same date with day and month swapped or "")."""
    if not dob or len(dob) != 10:
        return "", ""
    y, m, d = dob[:4], dob[5:7], dob[8:10]
    swapped = f"{y}-{d}-{m}" if int(d) <= 12 and d != m else ""
    return dob, swapped


def fingerprint(row: pd.Series | dict) -> str:
    """Stable key of a record's normalized identity: the name as written (NFC, case-folded, tones and particles
    kept), birth date or year (the grade when neither is known), sex, commune and school. Two records share it
    only if nothing tells them apart, so person ids and officer decisions keyed on it survive rows being inserted
    or moved in a sheet."""
    year = as_text(row.get("birth_year"))
    birth = as_text(row.get("date_of_birth")) or (str(int(float(year))) if year else "")
    if not birth:
        birth = "grade " + as_text(row.get("grade"))
    name = " ".join(unicodedata.normalize("NFC", as_text(row.get("full_name"))).lower().split())
    ident = "|".join([name, birth, as_text(row.get("sex")), as_text(row.get("commune_code")),
                      as_text(row.get("school_code"))])
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


_TONES = {"\u0300": "huyen", "\u0301": "sac", "\u0303": "nga", "\u0309": "hoi", "\u0323": "nang"}


def _tone(word: str) -> str:
    """The tone of a syllable, wherever the mark sits ("Hoà" and "Hòa" both give huyền); "" if unmarked."""
    for ch in unicodedata.normalize("NFD", word):
        if ch in _TONES:
            return _TONES[ch]
    return ""


def _name_tokens(full_name: object) -> dict[str, str]:
    """Folded word -> the tone written on it (particles Thị/Văn left out)."""
    return {key: _tone(word) for key, word in _words(full_name)[0]}


def _particles(full_name: object) -> frozenset[str]:
    return _words(full_name)[1]


@dataclass
class _Rec:
    tokens: dict[str, str]
    particles: frozenset[str]
    dob: str
    year: int | None
    sex: str
    commune: str
    school: str
    grade: str
    guardian: str


def _compatible(a: _Rec, b: _Rec) -> bool:
    """Could two records with the same name key be the same child? Twins, namesakes and siblings say no."""
    for key, tone in a.tokens.items():
        other = b.tokens.get(key, "")
        if tone and other and tone != other:  # Thùy vs Thụy: written tones that disagree
            return False
    if a.particles and b.particles and a.particles != b.particles:  # Nguyễn Thị Hải vs Nguyễn Văn Hải
        return False
    if a.sex and b.sex and a.sex != b.sex:
        return False
    if a.commune and b.commune and a.commune != b.commune and a.school and b.school and a.school != b.school:
        return False  # different commune and different school: another child with the same name and birthday
    if a.dob and b.dob:
        return a.dob == b.dob or _dob_keys(a.dob)[1] == b.dob
    year_a = int(a.dob[:4]) if a.dob else a.year
    year_b = int(b.dob[:4]) if b.dob else b.year
    if year_a is not None and year_b is not None and year_a != year_b:
        return False
    # one birth date is missing or only a year: the place must agree, and the class too
    if not a.commune or a.commune != b.commune:
        return False
    if a.grade and b.grade and a.grade != b.grade:
        return False
    if a.school and b.school and a.school != b.school:
        return False
    if year_a is None and year_b is None:  # nothing about the birth at all: ask for the same class
        if not (a.grade and a.grade == b.grade and a.school and a.school == b.school):
            return False
    return True


def _records(records: pd.DataFrame) -> list[_Rec]:
    n = len(records)

    def col(name: str) -> list:
        return list(records[name]) if name in records else [None] * n

    out = []
    for name, dob, year, sex, commune, school, grade, guardian in zip(
            col("full_name"), col("date_of_birth"), col("birth_year"), col("sex"), col("commune_code"),
            col("school_code"), col("grade"), col("guardian_name")):
        dob_s, year_s = as_text(dob), as_text(year)
        out.append(_Rec(tokens=_name_tokens(name), particles=_particles(name), dob=dob_s if len(dob_s) == 10 else "",
                        year=int(float(year_s)) if year_s else None, sex=as_text(sex), commune=as_text(commune),
                        school=as_text(school), grade=as_text(grade), guardian=name_key(guardian)))
    return out


def link_records(records: pd.DataFrame, ambiguous: list[tuple[int, int]] | None = None) -> list[int]:
    """Cluster label (index of the cluster's first record) per record.

    ``records`` columns: full_name, date_of_birth (ISO or ""), birth_year (int or NA), sex, commune_code,
    school_code, grade, guardian_name. Missing columns are treated as empty. Records are blocked on the
    name key (tone-folded tokens without particles, any order) and linked when ``_compatible``. A record without
    a full birth date that fits several children is linked to none; (record, other) pairs go to ``ambiguous``.
    """
    n = len(records)
    uf = _UnionFind(n)
    recs = _records(records)
    names = [name_key(v) for v in (records["full_name"] if "full_name" in records else [None] * n)]
    by_name: dict[str, list[int]] = {}
    for i, key in enumerate(names):
        if key:
            by_name.setdefault(key, []).append(i)
    for members in by_name.values():
        if len(members) < 2:
            continue
        dated = [i for i in members if recs[i].dob]
        partial = [i for i in members if not recs[i].dob]
        # 1. records with a full birth date: same date (or day/month swapped) and nothing that tells them apart
        for x, i in enumerate(dated):
            for j in dated[x + 1:]:
                if uf.find(i) != uf.find(j) and _compatible(recs[i], recs[j]):
                    uf.union(i, j)
        # 2. a record without a full date joins the one child it fits; fitting two children is for an officer
        lonely = []
        for i in partial:
            roots = {uf.find(j) for j in dated if _compatible(recs[i], recs[j])}
            if len(roots) == 1:
                uf.union(i, roots.pop())
            elif len(roots) > 1:
                if ambiguous is not None:
                    ambiguous.extend((i, root) for root in sorted(roots))
            else:
                lonely.append(i)
        # 3. records without a full date that fit no dated child: link among themselves
        for x, i in enumerate(lonely):
            for j in lonely[x + 1:]:
                if uf.find(i) != uf.find(j) and _compatible(recs[i], recs[j]):
                    uf.union(i, j)
    return [uf.find(i) for i in range(n)]


def assign_persons(
    students: pd.DataFrame,
    cfg: AppConfig,
    known_links: dict[str, str] | None = None,
    allocate_ids=None,
    past_recipients: pd.DataFrame | None = None,
) -> DedupeResult:
    """Link usable rows into persons and give every person a stable id.

    ``known_links``: fingerprint -> person_id from earlier nights (the ledger). ``allocate_ids(n)`` returns n new,
    never-used person ids (the ledger's sequence); without it ids are derived from the fingerprint.
    ``past_recipients``: person_id + identity fields of everyone already supported (the ledger); a cluster that
    links to one of them takes that id.
    """
    known_links = known_links or {}
    df = students.reset_index(drop=True).copy()
    records = df.to_dict("records")
    fingerprints = [fingerprint(r) for r in records]
    person_ids = [""] * len(df)
    usable = [i for i, r in enumerate(records) if r["row_status"] == "ok"]
    linked = df.loc[usable].reset_index(drop=True)
    ambiguous: list[tuple[int, int]] = []
    labels = link_records(linked, ambiguous) if len(linked) else []
    clusters: dict[int, list[int]] = {}
    for pos, label in enumerate(labels):
        clusters.setdefault(label, []).append(usable[pos])

    aliases: dict[str, str] = {}
    pending: list[list[int]] = []
    claimed: set[str] = set()
    for label in sorted(clusters):
        rows = clusters[label]
        ids = sorted({known_links[fingerprints[i]] for i in rows if fingerprints[i] in known_links} - claimed,
                     key=_id_order)
        if ids:  # an id known from earlier nights; it belongs to one cluster only
            survivor = ids[0]
            for other in ids[1:]:
                aliases[other] = survivor
            claimed.update(ids)
            for i in rows:
                person_ids[i] = survivor
        else:
            pending.append(rows)
    # A child already supported who is not on tonight's lists under a known record (moved school, new grade,
    # next phase) keeps the id under which the support was recorded: support is given once ("01 lần").
    pending = _match_past_recipients(df, person_ids, pending, past_recipients, claimed)
    fresh = allocate_ids(len(pending)) if allocate_ids else [
        "P" + fingerprints[rows[0]].upper()[:10] for rows in pending]
    for rows, pid in zip(pending, fresh):
        for i in rows:
            person_ids[i] = pid
    new_links = {fingerprints[i]: person_ids[i] for i in usable if known_links.get(fingerprints[i]) != person_ids[i]}

    # repeated rows inside one sheet carry the person_id of the row they repeat
    first = {(records[i]["source_id"], records[i]["source_sheet"], int(records[i]["source_row"])): person_ids[i]
             for i in usable}
    for i, r in enumerate(records):
        if r["row_status"] == "duplicate":
            person_ids[i] = first.get((r["source_id"], r["source_sheet"], int(r["duplicate_of"])), "")
    df["fingerprint"] = fingerprints
    df["person_id"] = person_ids

    persons, issues = _persons(df, cfg)
    review = _review_pairs(df, [(usable[i], usable[j]) for i, j in ambiguous])
    return DedupeResult(students=df, persons=persons, review_pairs=review, issues=issues,
                        new_links=new_links, aliases=aliases)


REVIEW_FIELDS = ["full_name", "date_of_birth", "grade", "school", "commune", "village", "guardian_name",
                 "source_file", "source_sheet", "source_row"]


def _review_pairs(df: pd.DataFrame, pairs: list[tuple[int, int]]) -> pd.DataFrame:
    """Records the linkage would not decide: an undated record that fits more than one child."""
    rows = []
    for i, j in pairs:
        left, right = df.loc[i], df.loc[j]
        if left["person_id"] == right["person_id"]:
            continue
        reasons = "Trùng họ tên; một bản ghi thiếu ngày sinh và khớp với nhiều học sinh"
        row = {"person_id_l": left["person_id"], "person_id_r": right["person_id"], "match_probability": pd.NA,
               "reasons": reasons}
        for f in REVIEW_FIELDS:
            row[f"{f}_l"], row[f"{f}_r"] = left.get(f, ""), right.get(f, "")
        rows.append(row)
    columns = ["person_id_l", "person_id_r", "match_probability", "reasons"] + [
        f"{f}_{side}" for f in REVIEW_FIELDS for side in ("l", "r")]
    return pd.DataFrame(rows, columns=columns).drop_duplicates(["person_id_l", "person_id_r"])


def _match_past_recipients(df: pd.DataFrame, person_ids: list[str], pending: list[list[int]],
                           past: pd.DataFrame | None, claimed: set[str]) -> list[list[int]]:
    """Give a new cluster the id of the one absent past recipient it is compatible with; the rest stay pending."""
    if past is None or past.empty or not pending:
        return pending
    absent = past[~past["person_id"].isin(claimed)].reset_index(drop=True)
    past_recs = _records(absent)
    by_name: dict[str, list[int]] = {}
    for i, name in enumerate(absent["full_name"]):
        by_name.setdefault(name_key(name), []).append(i)
    still: list[list[int]] = []
    recs, names = _records(df), [name_key(n) for n in df["full_name"]]
    for rows in pending:
        candidates = {absent.at[j, "person_id"]
                      for i in rows for j in by_name.get(names[i], []) if _compatible(recs[i], past_recs[j])}
        candidates -= claimed
        if len(candidates) == 1:
            pid = candidates.pop()
            claimed.add(pid)
            for i in rows:
                person_ids[i] = pid
        else:
            still.append(rows)
    return still


def _id_order(pid: str) -> tuple[int, str]:
    digits = "".join(ch for ch in pid if ch.isdigit())
    return (int(digits) if digits and pid[:1] != "P" else 10**12, pid)


PERSON_COLUMNS = ["person_id", "full_name", "family_name", "middle_name", "given_name", "date_of_birth",
                  "birth_year", "sex", "grade", "school_code", "school", "commune_code", "commune", "village",
                  "guardian_name", "category", "lacks_device", "lacks_internet", "exclusion", "records"]


def _first(values) -> object:
    return next((v for v in values if not is_missing(v) and v != ""), None)


def _persons(df: pd.DataFrame, cfg: AppConfig) -> tuple[pd.DataFrame, list[Issue]]:
    """One row per person from its usable rows; the commune's list decides the category."""
    district, rules = cfg.district, cfg.rules
    issues: list[Issue] = []
    groups: dict[str, list[dict]] = {}
    for r in df.to_dict("records"):
        if r["row_status"] == "ok":
            groups.setdefault(r["person_id"], []).append(r)
    rows = []
    for pid in sorted(groups):
        group = groups[pid]
        school_rows = [r for r in group if r["list_type"] == "school"]
        commune_rows = [r for r in group if r["list_type"] == "commune"]
        rep = (school_rows or group)[0]
        ranked = sorted({r["category"] for r in (commune_rows or group)}, key=district.tier_rank)
        category = ranked[0]
        for r in group:
            if r["category"] != category:
                issues.append(Issue(
                    source_file=r["source_file"], source_sheet=r["source_sheet"], source_row=int(r["source_row"]),
                    column="", severity=rules.severity("category_conflict") if "category_conflict" in rules.rules
                    else "warning", rule="category_conflict",
                    message=rules.message("category_conflict", other=district.tier_label(category)),
                ))
        grade = _first(r["grade"] for r in school_rows + group)
        lacks_device = any(bool(r["lacks_device"]) for r in group)
        lacks_internet = any(bool(r["lacks_internet"]) for r in group)
        if grade is None or not rules.grade_min <= int(grade) <= rules.grade_max:
            exclusion = "grade_out_of_range"
        elif not rep["commune_code"]:
            exclusion = "outside_district"
        elif not (lacks_device or lacks_internet):
            exclusion = "needs_nothing"
        else:
            exclusion = ""
        rows.append({
            "person_id": pid, "full_name": rep["full_name"], "family_name": rep["family_name"],
            "middle_name": rep["middle_name"], "given_name": rep["given_name"],
            "date_of_birth": _first(r["date_of_birth"] for r in group) or "",
            "birth_year": _first(r["birth_year"] for r in group),
            "sex": _first(r["sex"] for r in group) or "", "grade": grade,
            "school_code": rep["school_code"], "school": rep["school"],
            "commune_code": rep["commune_code"], "commune": rep["commune"],
            "village": _first(r["village"] for r in group) or "",
            "guardian_name": _first(r["guardian_name"] for r in group) or "",
            "category": category, "lacks_device": lacks_device, "lacks_internet": lacks_internet,
            "exclusion": exclusion, "records": len(group),
        })
    persons = pd.DataFrame(rows, columns=PERSON_COLUMNS)
    persons["grade"] = pd.array(persons["grade"], dtype="Int64")
    persons["birth_year"] = pd.array(persons["birth_year"], dtype="Int64")
    return persons, issues


def identity_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """The contract CSV's columns as the fields ``link_records`` compares (text places compared folded)."""
    from flows.normalize import parse_date, parse_grade
    from flows.text import title_name

    def col(name: str) -> list[str]:
        return [as_text(v) for v in raw[name]] if name in raw else [""] * len(raw)

    dates = [parse_date(v) if v else ("", None) for v in col("date_of_birth")]
    sexes = {"nam": "M", "m": "M", "male": "M", "trai": "M", "nu": "F", "f": "F", "female": "F", "gai": "F"}
    return pd.DataFrame({
        "full_name": [title_name(v) for v in col("full_name")],
        "date_of_birth": [d for d, _ in dates],
        "birth_year": pd.array([y for _, y in dates], dtype="Int64"),
        "sex": [sexes.get(fold(v), "") for v in col("sex")],
        "commune_code": [fold(v) for v in col("commune")],
        "school_code": [fold(v) for v in col("school")],
        "grade": [as_text(parse_grade(v)) if v else "" for v in col("grade")],
        "guardian_name": col("guardian_name"),
    })


def dedupe_csv(in_path, out_path) -> dict[str, int]:
    """Stateless contract of ``songmaytinh dedupe IN.csv --output OUT.csv`` (see DESIGN.md): every input id once,
    ``cluster_id`` = the record_id of the cluster's first record."""
    raw = pd.read_csv(in_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    for required in ("record_id", "full_name"):
        if required not in raw:
            raise ValueError(f"{in_path}: the column {required!r} is required")
    if raw["record_id"].duplicated().any():
        dup = raw.loc[raw["record_id"].duplicated(), "record_id"].iloc[0]
        raise ValueError(f"{in_path}: record_id {dup!r} appears more than once")
    labels = link_records(identity_frame(raw))
    out = pd.DataFrame({"record_id": raw["record_id"]})
    out["cluster_id"] = [raw["record_id"].iat[label] for label in labels]
    out.to_csv(out_path, index=False)
    return {"records": len(out), "clusters": int(out["cluster_id"].nunique())}

"""Stage 5 — dedupe: link student rows that describe the same child, and give each child a stable person_id.

Probabilistic linkage with Splink (``flows.linkage``: Vietnamese-aware comparisons, term-frequency adjusted
names, hard rules for twins and other children that must never merge); officer decisions (same / different
person, keyed on record fingerprints) override the model; tonight's records are linked on their own, then past
recipients in the ledger are matched to them so nobody is supported twice. Person ids come from the ledger's fingerprint links so that the
same child keeps the same id.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field

import pandas as pd

from flows.linkage.clustering import Linkage, link
from flows.config import AppConfig
from flows.frames import Issue, frame_records
from flows.rules.grades import grade_issues, person_grade
from flows.text import as_text, fold, is_missing


@dataclass
class DedupeResult:
    students: pd.DataFrame  # input rows + fingerprint, person_id ("" for rejected rows)
    persons: pd.DataFrame  # one row per person (see person_rows)
    review_pairs: pd.DataFrame
    issues: list[Issue] = field(default_factory=list)
    new_links: dict[str, str] = field(default_factory=dict)  # fingerprint -> person_id, to store in the ledger
    aliases: dict[str, str] = field(default_factory=dict)  # merged person_id -> surviving person_id
    ledger_changes: list[pd.DataFrame] = field(default_factory=list)  # change rows from merges and handovers
    clusters: int = 0  # how many persons tonight's linkage found among the usable rows (each has its own id)


def fingerprint(row: pd.Series | dict) -> str:
    """Stable key of a record's normalized identity: the name as written (NFC, case-folded, tones and particles
    kept), birth date or year (the grade when neither is known), sex, commune and school, and without a full birth
    date also village and parent. Two records share it
    only if nothing tells them apart, so person ids and officer decisions keyed on it survive rows being inserted
    or moved in a sheet."""
    year = as_text(row.get("birth_year"))
    dob = as_text(row.get("date_of_birth"))
    birth = dob or (str(int(float(year))) if year else "") or "grade " + as_text(row.get("grade"))
    fields = [as_text(row.get("sex")), as_text(row.get("commune_code")), as_text(row.get("school_code"))]
    if not dob:  # namesakes of one class without a full birth date: told apart by village and parent
        fields += [fold(as_text(row.get("village"))), fold(as_text(row.get("guardian_name")))]
    name = " ".join(unicodedata.normalize("NFC", as_text(row.get("full_name"))).lower().split())
    ident = "|".join([name, birth, *fields])
    return hashlib.sha1(ident.encode("utf-8")).hexdigest()[:16]


_ROW_FIELDS = frozenset({"row_status", "source_id", "source_sheet", "source_row", "duplicate_of", "birth_year",
                         "date_of_birth", "grade", "sex", "commune_code", "school_code", "village", "guardian_name",
                         "full_name"})  # what ``fingerprint`` and ``assign_persons`` read of a row


def pair_key(fingerprint_a: str, fingerprint_b: str) -> str:
    """The key an officer copies from "Cần xem xét" into the decisions sheet: both fingerprints, ordered."""
    a, b = sorted((fingerprint_a, fingerprint_b))
    return f"{a}-{b}"


def assign_persons(
    students: pd.DataFrame,
    cfg: AppConfig,
    known_links: dict[str, str] | None = None,
    allocate_ids=None,
    past_recipients: pd.DataFrame | None = None,
    decisions: pd.DataFrame | None = None,
    linker=link,
    summarize=None,
) -> DedupeResult:
    """Link usable rows into persons and give every person a stable id.

    ``known_links``: fingerprint -> person_id from earlier nights (the ledger). ``allocate_ids(n)`` returns n new,
    never-used person ids (the ledger's sequence); without it ids are derived from the fingerprint.
    ``past_recipients``: person_id + identity fields of everyone already supported (the ledger); matched to
    tonight's children after these are linked, a child matching one takes that id (support is given once).
    ``decisions``: officer decisions (fingerprint_a, fingerprint_b, decision same|different) that override the model.
    ``linker``: ``flows.linkage.clustering.link`` or a drop-in for it (``flows.reuse.linkage.linker`` reuses kept
    partitions). ``summarize(df, cfg)``: a drop-in for ``person_rows`` (``flows.reuse.linkage.summarizer`` reuses
    kept person rows).
    """
    known_links = known_links or {}
    df = students.reset_index(drop=True).copy()
    # the columns read row by row here (a fingerprint's and a row's place), not all of them: converting every cell
    # of a wide frame to a dict was most of this function's time once the partition is kept
    records = frame_records(df[[c for c in df.columns if c in _ROW_FIELDS]])
    fingerprints = [fingerprint(r) for r in records]
    person_ids = [""] * len(df)
    usable = [i for i, r in enumerate(records) if r["row_status"] == "ok"]
    past = past_recipients if past_recipients is not None else pd.DataFrame(columns=["person_id"])
    tonight = df.loc[usable].reset_index(drop=True)
    # the list each record was read from: one list never names one child twice (``flows.linkage.rules``)
    tonight["source_list"] = tonight["source_id"].astype(str) + "\x1f" + tonight["source_sheet"].astype(str)
    n_tonight = len(usable)
    must, cannot = _decision_pairs(decisions, [fingerprints[i] for i in usable])
    # Tonight's rows alone decide who is one child, so the same lists give the same children whatever the ledger
    # holds; the ledger only names them: ids known by fingerprint first, then past recipients found by linkage.
    result = linker(tonight, must_link=must, cannot=cannot) if n_tonight else Linkage(labels=[])
    labels = list(result.labels)
    clusters: dict[int, list[int]] = {}
    for pos, label in enumerate(labels):
        clusters.setdefault(label, []).append(usable[pos])
    rank = _survivor_rank(past)
    aliases: dict[str, str] = {}
    claimed: set[str] = set()
    named: dict[int, str] = {}
    for label in sorted(clusters):
        rows = clusters[label]
        # ids from earlier nights: several mean tonight's lists show that two persons are one child; the one
        # whose support was handed over survives, then the one supported first (the oldest id)
        ids = sorted({known_links[fingerprints[i]] for i in rows if fingerprints[i] in known_links} - claimed,
                     key=rank)
        if ids:
            named[label] = ids[0]
            aliases.update({other: ids[0] for other in ids[1:]})
            claimed.update(ids)
    unnamed = [label for label in sorted(clusters) if label not in named]
    unclaimed = past[~past["person_id"].astype(str).isin(claimed)] if len(past) else past
    if unnamed and len(unclaimed):
        # a child supported before under another record (moved school, new grade, next phase) keeps the id
        # under which the support was recorded; one past recipient names one child at most
        found: dict[int, set[str]] = {}
        for pos, pids in _past_matches(tonight, unclaimed, must, cannot, linker, result.model).items():
            found.setdefault(labels[pos], set()).update(pids)
        for label in unnamed:
            ids = sorted(found.get(label, set()) - claimed, key=rank)
            if ids:
                named[label] = ids[0]
                claimed.add(ids[0])
    pending: list[list[int]] = []
    for label in sorted(clusters):
        if label in named:
            for i in clusters[label]:
                person_ids[i] = named[label]
        else:
            pending.append(clusters[label])
    fresh = allocate_ids(len(pending)) if allocate_ids else [
        "P" + fingerprints[rows[0]].upper()[:10] for rows in pending]
    for rows, pid in zip(pending, fresh):
        for i in rows:
            person_ids[i] = pid
    new_links = {fingerprints[i]: person_ids[i] for i in usable if known_links.get(fingerprints[i]) != person_ids[i]}

    # repeated rows inside one sheet carry the person_id of the row they repeat (of the same identity first: a
    # household's row may name several children)
    first = {(records[i]["source_id"], records[i]["source_sheet"], int(records[i]["source_row"])): person_ids[i]
             for i in usable}
    same = {(records[i]["source_id"], records[i]["source_sheet"], int(records[i]["source_row"]), fingerprints[i]):
            person_ids[i] for i in usable}
    for i, r in enumerate(records):
        if r["row_status"] == "duplicate":
            key = (r["source_id"], r["source_sheet"], int(r["duplicate_of"]))
            person_ids[i] = same.get((*key, fingerprints[i])) or first.get(key, "")
    df["fingerprint"] = fingerprints
    df["person_id"] = person_ids

    persons, issues = (summarize or person_rows)(df, cfg)
    review = _review_pairs(df, [(usable[r["i"]], usable[r["j"]], r["match_probability"], r["reasons"])
                                for r in result.review if r["i"] < n_tonight and r["j"] < n_tonight])
    return DedupeResult(students=df, persons=persons, review_pairs=review, issues=issues,
                        new_links=new_links, aliases=aliases, clusters=len(clusters))


def _survivor_rank(past: pd.DataFrame):
    """Order of precedence among person ids that turn out to be one child: a handed-over support first, then
    any support, then the oldest id (ids are issued in order)."""
    handed = set(past.loc[past["handed_over"].astype(bool), "person_id"].astype(str)) if "handed_over" in past else set()
    supported = set(past["person_id"].astype(str)) if "person_id" in past else set()
    return lambda pid: (0 if pid in handed else 1 if pid in supported else 2, _id_order(pid))


def _past_matches(tonight: pd.DataFrame, past: pd.DataFrame, must, cannot, linker=link,
                  model: dict | None = None) -> dict[int, set[str]]:
    """Tonight's record position -> ids of past recipients linked with it (past rows appended to tonight's and
    linked together). ``model``: the parameters tonight's own linkage scored with (trained on tonight's rows), so
    they are not trained again; without it, the model is trained on tonight's rows only. Every one of tonight's
    records takes part: a past recipient who is a child already named tonight joins that child, not a sibling."""
    n = len(tonight)
    both = pd.concat([tonight, past.drop(columns=["needs", "handed_over"], errors="ignore")], ignore_index=True)
    if model is not None:
        joint = linker(both, model, must_link=must, cannot=cannot).labels
    else:
        joint = linker(both, must_link=must, cannot=cannot, train_rows=n).labels
    by_label: dict[int, set[str]] = {}
    for pos in range(n, len(both)):
        by_label.setdefault(joint[pos], set()).add(as_text(past["person_id"].iat[pos - n]))
    return {pos: by_label[joint[pos]] for pos in range(n) if joint[pos] in by_label}


def _decision_pairs(decisions: pd.DataFrame | None, fps: list[str]) -> tuple[list, list]:
    """Officer decisions as (record, record) must-link and cannot-link pairs among tonight's usable rows."""
    if decisions is None or decisions.empty:
        return [], []
    where: dict[str, list[int]] = {}
    for pos, fp in enumerate(fps):
        where.setdefault(fp, []).append(pos)
    must, cannot = [], []
    for a, b, decision in zip(decisions["fingerprint_a"], decisions["fingerprint_b"], decisions["decision"]):
        if a not in where or b not in where:
            continue
        pairs = [(x, y) for x in where[a] for y in where[b] if x != y]
        (must if decision == "same" else cannot).extend(pairs)
    return must, cannot


REVIEW_FIELDS = ["full_name", "date_of_birth", "sex", "guardian_name", "village", "commune", "school", "grade",
                 "source_file", "source_sheet", "source_row", "fingerprint"]
REVIEW_COLUMNS = ["person_id_l", "person_id_r", "match_probability", "reasons", "pair_key"] + [
    f"{f}_{side}" for f in REVIEW_FIELDS for side in ("l", "r")]  # then also_pairs (``_one_row_per_key``)


def _review_pairs(df: pd.DataFrame, pairs: list[tuple[int, int, float, str]]) -> pd.DataFrame:
    """Pairs the linkage would not decide, both records side by side, with the probability and the reasons."""
    rows = []
    for i, j, p, reasons in pairs:
        left, right = df.loc[i], df.loc[j]
        if left["person_id"] == right["person_id"]:
            continue
        row = {"person_id_l": left["person_id"], "person_id_r": right["person_id"], "match_probability": p,
               "reasons": reasons, "pair_key": pair_key(left["fingerprint"], right["fingerprint"])}
        for f in REVIEW_FIELDS:
            row[f"{f}_l"], row[f"{f}_r"] = left.get(f, ""), right.get(f, "")
        rows.append(row)
    out = pd.DataFrame(rows, columns=REVIEW_COLUMNS)
    out = out[~pd.Series([frozenset(p) for p in zip(out["person_id_l"], out["person_id_r"])], index=out.index,
                         dtype=object).duplicated()]
    return _one_row_per_key(out).reset_index(drop=True)


def _one_row_per_key(pairs: pd.DataFrame) -> pd.DataFrame:
    """One row per pair key: records that share a fingerprint (namesakes of one list born the same day) give one
    key for several pairs of persons, and an officer's decision on the key covers them all. The most probable pair
    is shown; the others are named in its reasons and kept in ``also_pairs`` ("HS1~HS2;..."), so that no two of
    their persons are supported twice while the key waits for a decision."""
    pairs = pairs.copy()
    pairs["also_pairs"] = ""
    if pairs.empty or not pairs["pair_key"].duplicated().any():
        return pairs
    order = pairs.assign(_p=-pairs["match_probability"].astype(float)).sort_values(["_p"], kind="stable")
    keep = []
    for _, group in order.groupby("pair_key", sort=False):
        first = group.index[0]
        others = [f"{a}~{b}" for a, b in zip(group["person_id_l"].iloc[1:], group["person_id_r"].iloc[1:])]
        if others:
            pairs.at[first, "also_pairs"] = ";".join(others)
            named = ", ".join(o.replace("~", " – ") for o in others)
            pairs.at[first, "reasons"] = (f"{pairs.at[first, 'reasons']}; mã cặp này còn khớp {named} (hồ sơ trùng họ "
                                          "tên, ngày sinh, trường): kết luận áp dụng cho tất cả")
        keep.append(first)
    return pairs.loc[sorted(keep)]


def _id_order(pid: str) -> tuple[int, str]:
    digits = "".join(ch for ch in pid if ch.isdigit())
    return (int(digits) if digits and pid[:1] != "P" else 10**12, pid)


PERSON_COLUMNS = ["person_id", "full_name", "family_name", "middle_name", "given_name", "date_of_birth",
                  "birth_year", "sex", "grade", "grade_source", "school_code", "school", "commune_code", "commune", "village",
                  "guardian_name", "category", "lacks_device", "lacks_internet", "exclusion", "records"]


# what ``person_rows`` reads of a row (``flows.rules.grades.person_grade`` and ``grade_issues`` included)
_PERSON_READS = frozenset({
    "person_id", "row_status", "list_type", "category", "source_file", "source_sheet", "source_row", "grade",
    "grade_by_birth_year", "birth_year", "lacks_device", "lacks_internet", "full_name", "family_name", "middle_name",
    "given_name", "date_of_birth", "sex", "school_code", "school", "commune_code", "commune", "village",
    "guardian_name"})


def _first(values) -> object:
    return next((v for v in values if not is_missing(v) and v != ""), None)


def person_rows(df: pd.DataFrame, cfg: AppConfig) -> tuple[pd.DataFrame, list[Issue]]:
    """One row per person from its usable rows (``df``: the rows with ``person_id``), the commune's list deciding
    the category, and the category and grade issues: a function of ``df`` and the config alone."""
    district, rules = cfg.district, cfg.rules
    issues: list[Issue] = []
    groups: dict[str, list[dict]] = {}
    # the usable rows and the columns read here and by ``person_grade`` / ``grade_issues``, not every cell
    usable = df.loc[df["row_status"] == "ok", [c for c in df.columns if c in _PERSON_READS]]
    for r in frame_records(usable):
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
        # the class a list wrote (the school's first), else the birth year's (flows.rules.grades)
        grade, grade_source = person_grade(school_rows, group)
        issues += grade_issues(group, grade, grade_source, cfg)
        lacks_device = any(bool(r["lacks_device"]) for r in group)
        lacks_internet = any(bool(r["lacks_internet"]) for r in group)
        if grade is None:
            exclusion = "grade_unknown"
        elif not rules.grade_min <= int(grade) <= rules.grade_max:
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
            "sex": _first(r["sex"] for r in group) or "", "grade": grade, "grade_source": grade_source,
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

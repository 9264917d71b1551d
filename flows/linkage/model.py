"""Probabilistic record linkage of children's records with Splink (DuckDB backend).

The model reads declaratively: ``features`` turns records into Vietnamese-aware comparison columns (NFC,
tone-folded with Đ->D, family / middle / given name, the "Thị"/"Văn" particles apart, birth date and its
day/month swap, year alone), ``SETTINGS`` lists the blocking rules and the comparisons with their levels,
``cannot_link`` holds the few hard rules no probability may override (twins, a different sex, birth dates that
are not a swap of each other), ``doubt`` the pairs only an officer may join (given names that differ only in
their tone, "Thủy"/"Thúy", with the same family name and birthday), and ``cluster`` joins records pair by pair,
strongest first, never across a cannot-link between any two of their records (except from a record whose given
name or date was written wrong, known by the national id it shares with its child). Pairs in the uncertain band,
doubtful pairs, and records that fit two different children equally well, go to the review queue with the reasons.

Parameters: on inputs of ``SELF_TRAIN_MIN_RECORDS`` records or more, u (random sampling) and m (EM) are
estimated on the data being linked by the documented, seeded procedure of ``flows.linkage.train``; smaller inputs,
and those where that training does not converge (a district's night), use the m probabilities saved by that same
procedure in ``config/linkage_model.json`` with u probabilities sampled from the data itself from
``TF_MIN_RECORDS`` records on (how often two different children share a village depends on how many villages a
list covers). The prior
(probability that two random records match) is always estimated on the data being linked; term-frequency
adjustments on the given and family names are computed on the data itself from ``TF_MIN_RECORDS`` on ("Nguyễn" alone is close to 40 % of people). Nothing is
tuned per data set in code. At national scale the same settings run on Splink's Spark backend
(``splink.SparkAPI``) instead of ``DuckDBAPI``.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from flows.text import as_text, tone_placement
from flows.text import fold as _fold_uncached

MODEL_PATH = Path(__file__).resolve().parents[2] / "config" / "linkage_model.json"
SEED = 2021
# No m or u probability is ever estimated below this (a level never seen would otherwise be a certainty).
PROBABILITY_FLOOR = 1e-3
SELF_TRAIN_MIN_RECORDS = 5000  # from this many records on, u and m are estimated on the data being linked
TF_MIN_RECORDS = 1000  # name frequencies are taken from the data itself from this many records on
MATCH_THRESHOLD = 0.95  # link at or above
REVIEW_THRESHOLD = 0.30  # an officer looks at pairs between the two
PARTICLES = ("thi", "van")
FEATURE_COLUMNS = ["unique_id", "family", "middle", "given", "given_marked", "name_key", "name_compact", "particle",
                   "dob",
                   "dob_swap", "birth_year", "sex", "guardian", "village", "commune", "school", "grade", "phone",
                   "national_id", "address"]

log = logging.getLogger(__name__)


# --- Features -------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1 << 18)
def _fold_text(text: str) -> str:
    return _fold_uncached(text)


def fold(value: object) -> str:
    """``flows.text.fold`` remembered: names, villages and schools repeat a great deal across 100,000 rows."""
    return _fold_text(value if isinstance(value, str) else as_text(value))


def _accented(text: str) -> bool:
    return any(ord(ch) > 127 for ch in unicodedata.normalize("NFC", text))


def name_parts(full_name: object) -> dict[str, str | None]:
    return dict(_name_parts(as_text(full_name)))


@functools.lru_cache(maxsize=1 << 18)
def _name_parts(full_name: str) -> dict[str, str | None]:
    """family / middle / given (tone-folded, Đ->D), the particle (thi|van|None), the words in any order
    (``name_key``), and the given name with its marks (NFC, lower) when the name was written with marks."""
    words = unicodedata.normalize("NFC", as_text(full_name)).replace("/", " ").split()
    kept: list[tuple[str, str]] = []
    particle = None
    for pos, word in enumerate(words):
        key = fold(word).replace(" ", "")
        if not key:
            continue
        lower = word.lower()
        # "Thị"/"Văn" are particles; an unaccented "thi"/"van" is one unless it is the given name ("Nguyễn Vân")
        if lower in ("thị", "văn") or (key in PARTICLES and lower == key and pos < len(words) - 1):
            particle = particle or key
        else:
            kept.append((key, lower))
    if not kept:
        return {"family": None, "middle": None, "given": None, "given_marked": None, "name_key": None,
                "name_compact": None, "particle": particle}
    marked = _accented(" ".join(words))
    return {
        "family": kept[0][0] if len(kept) > 1 else None,
        "middle": " ".join(k for k, _ in kept[1:-1]) or None,
        "given": kept[-1][0],
        "given_marked": tone_placement(kept[-1][1]) if marked else None,
        "name_key": " ".join(sorted(k for k, _ in kept)),
        "name_compact": "".join(k for k, _ in kept),
        "particle": particle,
    }


@functools.lru_cache(maxsize=1 << 16)
def _given_first(full_name: str) -> str | None:
    """A guardian's name with the given name first, so that parents sharing a family name ("Nguyễn Văn Tuyên",
    "Nguyễn Văn Sáng") do not look alike to a string similarity."""
    words = fold(full_name).split()
    kept = [w for pos, w in enumerate(words) if not (w in PARTICLES and pos < len(words) - 1)]
    return " ".join([kept[-1], *kept[:-1]]) if kept else None


VILLAGE_WORDS = {"thon", "ban", "khu", "xom", "lang", "to", "ap", "khoi", "doi", "khom", "pho"}


@functools.lru_cache(maxsize=1 << 16)
def _village_key(village: str) -> str | None:
    """Tone-folded village name without its generic word (Thôn / Bản / Khu / Xóm ...): "Thôn Nà Lầy" = "Bản Nà
    Lầy" = "na lay"."""
    words = fold(village).split()
    while len(words) > 1 and words[0] in VILLAGE_WORDS:
        words = words[1:]
    return " ".join(words) or None


def _swap(dob: str) -> str | None:
    if len(dob) != 10:
        return None
    y, m, d = dob[:4], dob[5:7], dob[8:10]
    return f"{y}-{d}-{m}" if d.isdigit() and int(d) <= 12 and d != m else None


def _digits(value: object) -> str | None:
    text = "".join(ch for ch in as_text(value) if ch.isdigit())
    return text or None


def features(records: pd.DataFrame) -> pd.DataFrame:
    """Comparison columns of ``records`` (full_name, date_of_birth ISO or "", birth_year, sex, guardian_name,
    village, commune_code, school_code, grade, phone, national_id, address; missing columns are empty)."""
    n = len(records)

    def col(name: str) -> list[str]:
        return [as_text(v) for v in records[name]] if name in records else [""] * n

    def folded(name: str) -> list[str | None]:
        return [fold(v) or None for v in col(name)]

    names = [_name_parts(v) for v in col("full_name")]
    dobs = [d if len(d) == 10 else "" for d in col("date_of_birth")]
    years = []
    for dob, year in zip(dobs, col("birth_year")):
        if dob:
            years.append(int(dob[:4]))
        else:
            try:
                years.append(int(float(year)) if year else None)
            except ValueError:
                years.append(None)
    out = pd.DataFrame({
        "unique_id": range(n),
        **{k: [p[k] for p in names] for k in ("family", "middle", "given", "given_marked", "name_key", "name_compact",
                                              "particle")},
        "dob": [d or None for d in dobs],
        "dob_swap": [_swap(d) if d else None for d in dobs],
        "birth_year": pd.array(years, dtype="Int64"),
        "sex": [s or None for s in col("sex")],
        "guardian": [_given_first(v) for v in col("guardian_name")],
        "village": [_village_key(v) for v in col("village")],
        "commune": folded("commune_code"),
        "school": folded("school_code"),
        "grade": pd.array([int(float(g)) if g.replace(".", "", 1).isdigit() else None for g in col("grade")],
                          dtype="Int64"),
        "phone": [_digits(v) for v in col("phone")],
        "national_id": [_digits(v) for v in col("national_id")],
        "address": folded("address"),
    })
    for c in FEATURE_COLUMNS:  # typed columns, so an all-empty column is still text (DuckDB would guess NULL)
        if c not in ("unique_id", "birth_year", "grade"):
            out[c] = out[c].astype("string")
    return out[FEATURE_COLUMNS]


# --- The model, declaratively ---------------------------------------------------------------------------------
def _lvl(label: str, sql: str, **extra) -> dict:
    return {"sql_condition": sql, "label_for_charts": label, **extra}


def _null(*cols: str) -> dict:
    return _lvl("missing", " OR ".join(f'"{c}_l" IS NULL OR "{c}_r" IS NULL' for c in cols), is_null_level=True)


ELSE = _lvl("else", "ELSE")
# family and given name in each other's place, each up to one typing error ("Stephenson Elizabeth" / "Elizbeth
# Stephenson"), as the hard rule ``_swapped`` allows
SWAPPED_SQL = ('damerau_levenshtein("given_l", "family_r") <= 1 AND damerau_levenshtein("family_l", "given_r") <= 1')

COMPARISONS = [
    {"output_column_name": "given", "comparison_description": "given name (the most telling part)",
     "comparison_levels": [
         _null("given"),
         _lvl("same, marks agree", '"given_l" = "given_r" AND ("given_marked_l" IS NULL OR "given_marked_r" IS NULL '
              'OR "given_marked_l" = "given_marked_r")', tf_adjustment_column="given", tf_adjustment_weight=1.0),
         _lvl("same letters, different tone", '"given_l" = "given_r"'),
         _lvl("written in the other order", SWAPPED_SQL),
         _lvl("one typo", 'damerau_levenshtein("given_l", "given_r") <= 1'),
         _lvl("similar", 'jaro_winkler_similarity("given_l", "given_r") >= 0.88'),
         ELSE]},
    {"output_column_name": "family", "comparison_description": "family name",
     "comparison_levels": [
         _null("family"),
         _lvl("same", '"family_l" = "family_r"', tf_adjustment_column="family", tf_adjustment_weight=1.0),
         _lvl("written in the other order", SWAPPED_SQL),
         _lvl("one typo", 'damerau_levenshtein("family_l", "family_r") <= 1'),
         ELSE]},
    {"output_column_name": "middle", "comparison_description": "middle name (without Thị/Văn)",
     "comparison_levels": [
         _lvl("both missing", '"middle_l" IS NULL AND "middle_r" IS NULL', is_null_level=True),
         _lvl("same", '"middle_l" = "middle_r"'),
         _lvl("one missing or contained", '"middle_l" IS NULL OR "middle_r" IS NULL '
              'OR contains("middle_l", "middle_r") OR contains("middle_r", "middle_l")'),
         _lvl("one typo", 'damerau_levenshtein("middle_l", "middle_r") <= 1'),
         ELSE]},
    {"output_column_name": "birth", "comparison_description": "date of birth (day/month swap, year alone)",
     "comparison_levels": [
         _lvl("missing", '"birth_year_l" IS NULL OR "birth_year_r" IS NULL', is_null_level=True),
         _lvl("same date", '"dob_l" = "dob_r"'),
         _lvl("day and month swapped", '"dob_l" = "dob_swap_r"'),
         _lvl("one typo in the date", 'damerau_levenshtein("dob_l", "dob_r") <= 1'),
         _lvl("only the year known, same year", '("dob_l" IS NULL OR "dob_r" IS NULL) '
              'AND "birth_year_l" = "birth_year_r"'),
         ELSE]},
    {"output_column_name": "sex", "comparison_description": "sex",
     "comparison_levels": [_null("sex"), _lvl("same", '"sex_l" = "sex_r"'), ELSE]},
    {"output_column_name": "guardian", "comparison_description": "guardian name",
     "comparison_levels": [
         _null("guardian"),
         _lvl("same", '"guardian_l" = "guardian_r"'),
         _lvl("one typo", 'damerau_levenshtein("guardian_l", "guardian_r") <= 1'),
         ELSE]},
    {"output_column_name": "place", "comparison_description": "village, else commune",
     "comparison_levels": [
         _lvl("missing", '("village_l" IS NULL OR "village_r" IS NULL) AND ("commune_l" IS NULL OR "commune_r" IS NULL)',
              is_null_level=True),
         _lvl("same village", '"village_l" = "village_r"'),
         _lvl("village one typo away", 'damerau_levenshtein("village_l", "village_r") <= 1'),
         _lvl("same commune, a village unknown", '("village_l" IS NULL OR "village_r" IS NULL) '
              'AND "commune_l" = "commune_r"'),
         _lvl("same commune, another village", '"commune_l" = "commune_r"'),
         ELSE]},
    {"output_column_name": "school", "comparison_description": "school",
     "comparison_levels": [_null("school"), _lvl("same", '"school_l" = "school_r"'), ELSE]},
    {"output_column_name": "grade", "comparison_description": "grade (one up: the next school year)",
     "comparison_levels": [
         _null("grade"),
         _lvl("same", '"grade_l" = "grade_r"'),
         _lvl("within one", 'abs("grade_l" - "grade_r") <= 1'),
         ELSE]},
    {"output_column_name": "phone", "comparison_description": "phone",
     "comparison_levels": [_null("phone"), _lvl("same", '"phone_l" = "phone_r"'), ELSE]},
    {"output_column_name": "national_id", "comparison_description": "national id",
     "comparison_levels": [
         _null("national_id"),
         _lvl("same", '"national_id_l" = "national_id_r"'),
         _lvl("one typo", 'damerau_levenshtein("national_id_l", "national_id_r") <= 1'),
         _lvl("two typos", 'damerau_levenshtein("national_id_l", "national_id_r") <= 2'),
         ELSE]},
    {"output_column_name": "address", "comparison_description": "street address",
     "comparison_levels": [
         _null("address"),
         _lvl("same", '"address_l" = "address_r"'),
         _lvl("similar", 'jaro_winkler_similarity("address_l", "address_r") >= 0.88'),
         ELSE]},
]

# Each rule keeps the candidate pairs of one kind of error in reach while a block stays small: "Nguyễn" + a
# common given name across a district is millions of pairs, so the name rules are narrowed by birth year or commune.
BLOCKING_RULES = [
    'l.given = r.given AND l.family = r.family AND l.birth_year = r.birth_year',
    'l.given = r.given AND l.family = r.family AND l.commune = r.commune',
    'l.name_key = r.name_key AND l.birth_year = r.birth_year',
    'l.name_key = r.name_key AND l.commune = r.commune',  # either order, the birth date missing or unreadable
    'l.dob = r.dob AND substr(l.family, 1, 1) = substr(r.family, 1, 1)',
    # the family name mistyped or changed, or written after the given name ("Ánh Nguyễn"): the same date
    # and an initial of the given name, or of the other name in the other's place
    'l.dob = r.dob AND substr(l.given, 1, 1) = substr(r.given, 1, 1)',
    'l.dob = r.dob AND substr(l.family, 1, 1) = substr(r.given, 1, 1)',
    'l.dob = r.dob AND substr(l.given, 1, 1) = substr(r.family, 1, 1)',
    'l.dob = r.dob AND l.commune = r.commune',
    'l.dob = r.dob_swap AND l.family = r.family',
    'l.given = r.given AND l.birth_year = r.birth_year AND l.commune = r.commune',
    'l.family = r.family AND l.birth_year = r.birth_year AND l.commune = r.commune',
    'l.family = r.family AND l.school = r.school AND l.grade = r.grade',
    'l.given = r.given AND l.commune = r.commune',
    'l.family = r.family AND l.village = r.village AND l.commune = r.commune',
    'l.national_id = r.national_id',
    # one digit of the id mistyped leaves one of its halves whole (a half that is a province and birth year,
    # as the first half of a Vietnamese personal id is, is too common a value and is left out by budget)
    'left(l.national_id, length(l.national_id) // 2) = left(r.national_id, length(r.national_id) // 2) '
    'AND length(l.national_id) = length(r.national_id) AND length(l.national_id) >= 6',
    'right(l.national_id, (length(l.national_id) + 1) // 2) = right(r.national_id, (length(r.national_id) + 1) // 2) '
    'AND length(l.national_id) >= 6',
    'l.phone = r.phone',
    'l.address = r.address AND l.commune = r.commune',
]
# Exact agreement that counts towards the prior (the probability two random records are the same child)
DETERMINISTIC_RULES = ['l.given = r.given AND l.family = r.family AND l.dob = r.dob',
                       'l.national_id = r.national_id AND l.dob = r.dob']
DETERMINISTIC_RECALL = 0.8


def settings() -> dict:
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": 1e-4,
        "blocking_rules_to_generate_predictions": [{"blocking_rule": r} for r in BLOCKING_RULES],
        "comparisons": COMPARISONS,
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
        "additional_columns_to_retain": [],
    }


# --- Hard rules -----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1 << 16)
def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance (small strings only)."""
    prev2, prev = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if prev2 is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                v = min(v, prev2[j - 2] + 1)
            cur.append(v)
        prev2, prev = prev, cur
    return prev[-1]


def _typos(a: str, b: str) -> bool:
    """Within typing errors of each other: one edit, or one per three letters in longer names ("clarke" /
    "clqarle", "nicolle" / "ncille"); short names (most Vietnamese ones) keep one edit."""
    return _edits(a, b) <= max(1, min(len(a), len(b)) // 3)


# words of an address that name a place rather than a house: "Thôn 3", "Tổ 5", "xã Hữu Liên"
PLACE_WORDS = VILLAGE_WORDS | {"xa", "phuong", "thi", "tran", "huyen", "quan", "tinh", "tp", "thanh", "pho"}


def _house(rec: dict) -> tuple[set[str], list[str]]:
    """House numbers and street words of a record's address, without the words that name its village, commune
    or any place (and the number that follows such a word: "tổ 3" is a place, "12 Lê Lợi" a house)."""
    place = set((rec["village"] or "").split()) | set((rec["commune"] or "").split())
    numbers, words, after_place = set(), [], False
    for w in (rec["address"] or "").split():
        if w.isdigit():
            if not after_place:
                numbers.add(w)
        elif len(w) > 1 and w not in PLACE_WORDS and w not in place:
            words.append(w)
        after_place = w in PLACE_WORDS
    return numbers, words


def _same_household(a: dict, b: dict) -> bool:
    """The same house: a house number on at least one side (both agree up to a typo when both have one) and the
    same street (most of the words of the shorter one found in the other, up to a typo or a space lost), no
    guardian or place against it. An address that only names a village is not a household."""
    (numbers_a, wa), (numbers_b, wb) = _house(a), _house(b)
    if not (wa and wb and (numbers_a or numbers_b)):
        return False
    if numbers_a and numbers_b and not any(_edits(x, y) <= 1 for x in numbers_a for y in numbers_b):
        return False
    short, long_ = (wa, wb) if len(wa) <= len(wb) else (wb, wa)
    joined = "".join(long_)
    found = [w for w in short if any(w == x or (len(w) > 3 and _edits(w, x) <= 1) for x in long_)
             or (len(w) > 3 and w in joined)]
    if sum(map(len, found)) < 8 or len(found) * 2 < len(short):
        return False
    if a["guardian"] and b["guardian"] and not _typos(a["guardian"], b["guardian"]):
        return False
    return not (a["village"] and b["village"] and a["commune"] and b["commune"] and not _typos(a["village"], b["village"])
                and a["commune"] != b["commune"])


def _same_given(a: dict, b: dict) -> bool:
    return bool(a["given"] and b["given"]) and not _other_given(a, b) and (
        a["given"] == b["given"] or _typos(a["given"], b["given"]))


def _corroborated_name(a: dict, b: dict) -> bool:
    """Another family name yields to the same full birth date and the same household when the given name agrees, or
    when one name word sits in the other's place (written given-name-first, the other word changed): a surname
    changed or misheard. Only ever asked of two different family names, so never of twins."""
    if not (a["dob"] and a["dob"] == b["dob"] and _same_household(a, b)):
        return False
    crossed = bool(a["given"] and b["given"] and a["family"] and b["family"]) and (
        _typos(a["family"], b["given"]) or _typos(a["given"], b["family"]))
    return crossed or _same_given(a, b)


def _ids_near(a: dict, b: dict, edits: int) -> bool:
    x, y = a["national_id"], b["national_id"]
    return bool(x and y) and min(len(x), len(y)) >= 6 and _edits(x, y) <= edits


def _corroborated_date(a: dict, b: dict) -> bool:
    """Another birth date yields to the same name (up to typing errors, or written in the other order) and either
    the same household with the date two typing errors away, or a national id two typing errors away. Namesakes of
    one commune have other parents, another address and another id."""
    if not ((_edits(a["dob"], b["dob"]) <= 2 and _same_household(a, b)) or _ids_near(a, b, 2)):
        return False
    if a["name_key"] == b["name_key"] or _swapped(a, b) or _split_word(a, b):
        return True
    return _same_given(a, b) and bool(a["family"] and b["family"]) and _typos(a["family"], b["family"])


def cannot_link(a: dict, b: dict) -> str:
    """Why two records can never be the same child ("" if nothing forbids it). Readable rules, not weights.

    The same national id (when both records carry one; one digit mistyped at most) outweighs them all: twins never share one, and a
    differing birth date or name is then a typing error."""
    return "" if _ids_near(a, b, 1) else _field_conflict(a, b)


def _field_conflict(a: dict, b: dict) -> str:
    """``cannot_link`` on everything but the national id."""
    if a["sex"] and b["sex"] and a["sex"] != b["sex"]:
        return "khác giới tính"
    if a["grade"] is not None and b["grade"] is not None and abs(a["grade"] - b["grade"]) > 1:
        return "cách nhau hơn một lớp"
    if a["particle"] and b["particle"] and a["particle"] != b["particle"]:
        return "khác tên đệm Thị/Văn"
    dates_close = bool(a["dob"] and b["dob"]) and (a["dob"] == b["dob"] or a["dob"] == b["dob_swap"] or _edits(
        a["dob"], b["dob"]) <= 1 or _corroborated_date(a, b))
    if a["dob"] and b["dob"] and not dates_close:
        return "khác ngày sinh"
    if a["birth_year"] is not None and b["birth_year"] is not None and a["birth_year"] != b["birth_year"] and not (
            dates_close):
        return "khác năm sinh"
    if _tone_only(a, b) and a["national_id"] and b["national_id"] and not _ids_near(a, b, 2):
        return "anh chị em sinh đôi: khác dấu tên và số định danh"
    if a["name_key"] and b["name_key"] and a["name_key"] != b["name_key"] and not _swapped(a, b) and not _split_word(a, b):
        if a["family"] and b["family"] and not _typos(a["family"], b["family"]):
            return "" if _corroborated_name(a, b) else "khác họ"
        if (a["given"] != b["given"] and a["middle"] and b["middle"] and not _typos(a["middle"], b["middle"])
                and a["middle"] not in b["middle"] and b["middle"] not in a["middle"]):
            return "khác cả tên và tên đệm"
        if _other_given(a, b):  # the given name is the most telling part: another one is another child
            return "anh chị em sinh đôi: khác tên" if _same_birth(a, b) else "khác tên"
    return ""


TONE_TWINS = "tên chỉ khác dấu, cùng họ và ngày sinh: có thể là anh chị em sinh đôi"
TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"  # huyền, sắc, ngã, hỏi, nặng (NFD)


@functools.lru_cache(maxsize=1 << 14)
def _tone(word: str) -> tuple[str, str]:
    """(the tone mark, the word without it and with Đ as D): "hoài" -> ("\u0300", "hoai"), "hưng" -> ("", "hưng")."""
    letters = unicodedata.normalize("NFD", word.replace("đ", "d"))
    return ("".join(ch for ch in letters if ch in TONE_MARKS),
            unicodedata.normalize("NFC", "".join(ch for ch in letters if ch not in TONE_MARKS)))


def _tone_only(a: dict, b: dict) -> bool:
    """Given names with the same letters and other marks (both written with marks), the same family name and
    birth date: twins ("Anh" / "Ánh") or one child with a tone left out or mistyped."""
    return bool(a["given_marked"] and b["given_marked"] and a["given_marked"] != b["given_marked"]
                and a["given"] == b["given"] and a["family"] and a["family"] == b["family"]
                and a["dob"] and a["dob"] == b["dob"])


def _tone_twins(a: dict, b: dict) -> bool:
    """``_tone_only`` with two different tone marks ("Thủy" / "Thúy") or other vowels ("Hưng" / "Hùng"): as
    likely twins as one child. A tone left out ("Hoài" / "Hoai", the commoner slip) is read as the same name."""
    if not _tone_only(a, b):
        return False
    (ta, la), (tb, lb) = _tone(a["given_marked"]), _tone(b["given_marked"])
    return la != lb or bool(ta and tb and ta != tb)


def doubt(a: dict, b: dict) -> str:
    """Why two records that no hard rule keeps apart must still not be joined without an officer ("" if
    nothing): they go to the review queue whatever their probability."""
    return TONE_TWINS if _tone_twins(a, b) and not _ids_near(a, b, 1) else ""


def _split_word(a: dict, b: dict) -> bool:
    """A space put in or left out ("Soph ie" / "Sophie"): the same letters up to one typo, or two neighbouring
    words of the longer name that, written as one, make each word of the shorter one up to typing errors
    ("Nicolle Soph ie" / "Ncille Sophi"; never "Nguyễn Anh Duy" / "Nguyễn Huy")."""
    wa, wb = _ordered_words(a), _ordered_words(b)
    if len(wa) == len(wb):
        return False
    if _edits(a["name_compact"], b["name_compact"]) <= 1:
        return True
    short, long_ = (wa, wb) if len(wa) < len(wb) else (wb, wa)
    if len(long_) != len(short) + 1:
        return False
    return any(all(_typos(x, y) for x, y in zip(long_[:k] + [long_[k] + long_[k + 1]] + long_[k + 2:], short))
               for k in range(len(short)))


def _ordered_words(rec: dict) -> list[str]:
    return [w for part in (rec["family"], rec["middle"], rec["given"]) if part for w in part.split()]


def _swapped(a: dict, b: dict) -> bool:
    """Family and given name written in each other's place (up to typing errors)."""
    if not (a["given"] and a["family"] and b["given"] and b["family"]):
        return False
    return _typos(a["given"], b["family"]) and _typos(a["family"], b["given"])


def _same_birth(a: dict, b: dict) -> bool:
    if a["dob"] and b["dob"]:
        return a["dob"] == b["dob"]
    return a["birth_year"] is not None and a["birth_year"] == b["birth_year"]


def _other_given(a: dict, b: dict) -> bool:
    """Given names that are not typing errors of each other (compared with their marks when both records have
    them), or that start with another letter (Duy / Huy)."""
    if not (a["given"] and b["given"] and a["family"] and b["family"]):
        return False  # a name of one word may be the family name alone
    x, y = (a["given_marked"], b["given_marked"]) if a["given_marked"] and b["given_marked"] else (a["given"], b["given"])
    return x != y and (x[0] != y[0] or not _typos(x, y))


# --- Running the model ----------------------------------------------------------------------------------------
@dataclass
class Linkage:
    labels: list[int]  # cluster label per record (the index of the cluster's first record)
    review: list[dict] = field(default_factory=list)  # {"i", "j", "match_probability", "reasons"}
    pairs_scored: int = 0


def load_model(path: Path | None = None) -> dict:
    path = path or MODEL_PATH
    if not path.exists():
        raise FileNotFoundError(f"{path}: the linkage model is missing; create it with python -m flows.linkage.train")
    return json.loads(path.read_text(encoding="utf-8"))


def _reasons(row: dict, a: dict | None = None, b: dict | None = None) -> str:
    """Which comparisons agreed and which disagreed, by their match weights in bits (strongest first); with the
    two records, how a birth date or a place agreed ("cùng năm sinh", "ngày/tháng đảo", "cùng xã")."""
    parts = []
    for comp in COMPARISONS:
        name = comp["output_column_name"]
        weight = sum(float(row.get(c) or 0) for c in (f"mw_{name}", f"mw_tf_adj_{name}")
                     if row.get(c) is not None and not (isinstance(row.get(c), float) and math.isnan(row[c])))
        if abs(weight) >= 1:
            said = _agreement(name, a, b) if weight > 0 and a and b else ""
            said = said or f"{_LABELS.get(name, name)} {'khớp' if weight > 0 else 'khác'}"
            parts.append((weight, f"{said} ({weight:+.1f})"))
    parts.sort(key=lambda p: -abs(p[0]))
    return "; ".join(p for _, p in parts)


def _agreement(name: str, a: dict, b: dict) -> str:
    """The words for a birth date or a place that agreed only in part ("" when they agreed in full)."""
    if name == "birth":
        if not (a["dob"] and b["dob"]):
            return "cùng năm sinh (một bản ghi thiếu ngày sinh)"
        if a["dob"] != b["dob"]:
            return "ngày sinh khớp khi đảo ngày/tháng" if a["dob"] == b["dob_swap"] else "ngày sinh lệch một chữ số"
    if name == "place" and a["village"] != b["village"]:
        return "cùng xã (thôn khác cách viết hoặc thiếu)" if a["commune"] and a["commune"] == b["commune"] else ""
    return ""


_LABELS = {"given": "tên", "family": "họ", "middle": "tên đệm", "birth": "ngày sinh", "sex": "giới tính",
           "guardian": "phụ huynh", "place": "thôn/xã", "school": "trường", "grade": "lớp", "phone": "SĐT",
           "national_id": "số định danh", "address": "địa chỉ"}


def score(feats: pd.DataFrame, model: dict | None = None, *, min_probability: float = REVIEW_THRESHOLD,
          train: Callable[..., dict] | None = None, train_rows: int | None = None) -> pd.DataFrame:
    """Scored candidate pairs (unique_id_l < unique_id_r, match_probability, bf_* columns) at or above
    ``min_probability``. Empty frame when fewer than two records."""
    from splink import DuckDBAPI, Linker

    logging.getLogger("splink").setLevel(logging.ERROR)  # its training chatter is not the night's business
    cols = ["unique_id_l", "unique_id_r", "match_probability", "match_weight"]
    if len(feats) < 2:
        return pd.DataFrame(columns=cols)
    own = feats if train_rows is None else feats.iloc[:train_rows]  # tonight's records, not the ledger's copies
    if model is None and len(own) >= SELF_TRAIN_MIN_RECORDS:
        # enough records to learn this data's own parameters, by the same seeded procedure as the saved model
        from flows.linkage.train import train_on

        try:
            model = (train or train_on)(own.reset_index(drop=True), max_pairs=1e6)
        except Exception as exc:  # EM can degenerate on some data (Splink refuses an m that underflows): the
            # saved model is the documented fallback, not a fault (the sample district's own night takes it)
            log.info("training on %d records did not converge (%s); the saved model is used", len(own),
                        type(exc).__name__)
            model = None
    own_u = model is None and len(own) >= TF_MIN_RECORDS  # the saved model, on an input large enough to sample
    model = json.loads(json.dumps({k: v for k, v in (model or load_model()).items() if k != "training"}))
    if own_u:
        _estimate_own_u(own.reset_index(drop=True), model)
    model["retain_intermediate_calculation_columns"] = True
    if len(feats) < TF_MIN_RECORDS:  # too few records for name frequencies: the trained u values stand
        for comp in model["comparisons"]:
            for level in comp["comparison_levels"]:
                level.pop("tf_adjustment_column", None)
                level.pop("tf_adjustment_weight", None)
    db = DuckDBAPI()
    table = db.register(feats)
    model["blocking_rules_to_generate_predictions"] = [{"blocking_rule": r} for r in affordable_rules(table, len(feats))]
    linker = Linker(table, model, log_level=logging.ERROR)
    _estimate_prior(linker, len(feats), model)
    pairs = linker.inference.predict(threshold_match_probability=min_probability,
                                     warning_mode="never").as_pandas_dataframe()
    return pairs


PAIRS_PER_RECORD = 100  # a blocking rule that would compare more pairs than this per record (and 1e6) is left out


def affordable_rules(table, n: int) -> list[str]:
    """``BLOCKING_RULES`` without those that would explode on this data (a "commune" column holding a province, a
    column where everyone has the same value): each rule's pairs are counted first, the rule on its own (Splink's
    blocking analysis, on a sample of large inputs), and a rule over ``PAIRS_PER_RECORD`` pairs per record is left
    out and logged, so that one data set cannot make the night run for hours. The other rules keep its pairs in
    reach."""
    import warnings

    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    budget = max(1e6, PAIRS_PER_RECORD * n)
    kept = []
    for rule in BLOCKING_RULES:  # each rule on its own: left out, a rule's pairs are no longer another's
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Splink's notice that the counts are sampled estimates
            (count,) = count_comparisons_from_blocking_rules(table, blocking_rules=[rule], link_type="dedupe_only",
                                                             record_sample_proportion=min(1.0, 20_000 / max(n, 1)))
        if count["marginal_comparison_count"] > budget:
            log.warning("blocking rule left out: it would compare about %d pairs of %d records (%s)",
                        count["marginal_comparison_count"], n, rule)
        else:
            kept.append(rule)
    return kept


def _estimate_own_u(feats: pd.DataFrame, model: dict) -> None:
    """The saved model's u probabilities (how often two different people agree by chance) replaced, level by
    level, by those of the data being linked, by the same seeded random sampling as ``flows.linkage.train``: how
    often two birth dates agree by chance depends on how many years a data set spans, not on the training set."""
    from splink import DuckDBAPI, Linker


    linker = Linker(DuckDBAPI().register(feats), json.loads(json.dumps(model)), log_level=logging.ERROR)
    _estimate_prior(linker, len(feats), model)
    prior = linker._settings_obj._probability_two_random_records_match
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=SEED)
    for comp, sampled in zip(model["comparisons"], linker._settings_obj.comparisons):
        for level, estimated in zip(comp["comparison_levels"], sampled.comparison_levels):
            if level.get("is_null_level"):
                continue
            seen = [r["probability"] for r in estimated._trained_u_probabilities
                    if isinstance(r["probability"], (int, float))]
            # random pairs include the true pairs (a share ``prior`` of them, agreeing with probability m): on a
            # small input they alone would make a telling agreement look common; take them out. A level no
            # sampled pair fell in is as rare as the floor allows.
            u = (seen[-1] - prior * level["m_probability"]) / (1 - prior) if seen else 0.0
            level["u_probability"] = min(max(u, PROBABILITY_FLOOR), 1.0)


def _estimate_prior(linker, n: int, model: dict) -> None:
    try:
        linker.training.estimate_probability_two_random_records_match(DETERMINISTIC_RULES,
                                                                       recall=DETERMINISTIC_RECALL)
    except Exception as exc:  # noqa: BLE001 - Splink refuses when no exact match exists; keep the saved prior
        log.info("prior kept from the model (%s)", type(exc).__name__)
        return
    p = linker._settings_obj._probability_two_random_records_match
    if not (0 < p < 1) or p < 1e-9:  # nothing matched deterministically: one expected duplicate per record
        linker._settings_obj._probability_two_random_records_match = min(0.5, 1 / max(n, 2))


def link(records: pd.DataFrame, model: dict | None = None, *, must_link: list[tuple[int, int]] = (),
         cannot: list[tuple[int, int]] = (), match_threshold: float = MATCH_THRESHOLD,
         review_threshold: float = REVIEW_THRESHOLD, progress=None, train_rows: int | None = None) -> Linkage:
    """Cluster ``records`` (see ``features``) into children.

    ``must_link`` / ``cannot``: record index pairs an officer decided (same / different person); they override
    the model. ``train_rows``: only the first so many records are trained on (tonight's rows: the past recipients
    appended after them repeat earlier nights and would make the model depend on the ledger's history).
    ``progress(step, total)`` is called as the stages complete."""
    tick = progress or (lambda step, total: None)
    feats = features(records)
    tick(1, 4)
    pairs = score(feats, model, min_probability=review_threshold, train_rows=train_rows)
    tick(2, 4)
    recs = feats.astype(object).where(feats.notna(), None).to_dict("records")
    labels, review = cluster(recs, pairs, must_link=must_link, cannot=cannot, match_threshold=match_threshold)
    tick(3, 4)
    tick(4, 4)
    return Linkage(labels=labels, review=review, pairs_scored=len(pairs))


class _Clusters:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.members = {i: [i] for i in range(n)}

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        keep, gone = min(ra, rb), max(ra, rb)
        self.parent[gone] = keep
        self.members[keep] += self.members.pop(gone)


def cluster(recs: list[dict], pairs: pd.DataFrame, *, must_link=(), cannot=(),
            match_threshold: float = MATCH_THRESHOLD) -> tuple[list[int], list[dict]]:
    """Join records pair by pair, strongest first; never across a cannot-link (hard rule or officer decision).

    A record whose links above the threshold lead to two children who cannot be one (an undated "Nguyễn Văn An"
    in a commune with two of them) joins neither: the pairs go to review. Uncertain pairs, and pairs an officer
    must see whatever their probability (``doubt``), go to review."""
    n = len(recs)
    uf = _Clusters(n)
    forbidden = {(min(a, b), max(a, b)) for a, b in cannot}
    for a, b in must_link:
        uf.union(a, b)

    def blocked(i: int, j: int, ra: int, rb: int) -> tuple[str, bool]:
        """Why the children of ``i`` and ``j`` cannot be joined tonight, and whether an officer should look: an
        officer's decision between any two of their records, or a hard rule between ``i`` and ``j`` or between
        any other two of their records unless one of those two is a record whose fields were written wrong
        (``_miswritten``); or a ``doubt`` between two of their records (then the pair goes to review)."""
        why = cannot_link(recs[i], recs[j])
        if why:
            return why, False
        both = uf.members[ra] + uf.members[rb]
        doubtful = ""
        for x in uf.members[ra]:
            for y in uf.members[rb]:
                if (min(x, y), max(x, y)) in forbidden:
                    return "cán bộ đã xác định khác người", False
                why = cannot_link(recs[x], recs[y])
                if why and not (_miswritten(x, y, both) or _miswritten(y, x, both)):
                    return why, False
                doubtful = doubtful or doubt(recs[x], recs[y])
        return doubtful, bool(doubtful)

    def _miswritten(x: int, y: int, both: list[int]) -> bool:
        """``x`` is known to be a child by the national id it shares with a record ``z`` of that child although
        its other fields say otherwise (a given name or birth date written wrong), and ``y`` agrees with ``z``:
        ``x``'s wrong fields are no evidence against ``y``."""
        return any(z != x and z != y and _ids_near(recs[x], recs[z], 1) and _field_conflict(recs[x], recs[z])
                   and not cannot_link(recs[y], recs[z]) for z in both)

    rows = pairs.to_dict("records") if len(pairs) else []
    rows.sort(key=lambda r: (-r["match_probability"], r["unique_id_l"], r["unique_id_r"]))
    strong = [r for r in rows if r["match_probability"] >= match_threshold]
    # records that fit two children who cannot be one: hold them back
    partners: dict[int, list[int]] = {}
    for r in strong:
        i, j = int(r["unique_id_l"]), int(r["unique_id_r"])
        partners.setdefault(i, []).append(j)
        partners.setdefault(j, []).append(i)
    torn = set()
    for i, js in partners.items():
        js = [j for j in js if not cannot_link(recs[i], recs[j])]
        if len(js) > 1 and not recs[i]["dob"]:
            if any(cannot_link(recs[x], recs[y]) or doubt(recs[x], recs[y]) for k, x in enumerate(js)
                   for y in js[k + 1:]):
                torn.add(i)
    review: list[dict] = []
    for r in rows:
        i, j, p = int(r["unique_id_l"]), int(r["unique_id_r"]), float(r["match_probability"])
        ri, rj = uf.find(i), uf.find(j)
        if ri == rj:
            continue
        if p >= match_threshold and i not in torn and j not in torn:
            why, ask = blocked(i, j, ri, rj)
            if not why:
                uf.union(ri, rj)
            if not ask:
                continue
            reasons = f"{why[:1].upper()}{why[1:]}; {_reasons(r, recs[i], recs[j])}"  # only review rows need them
        elif (min(i, j), max(i, j)) in forbidden or cannot_link(recs[i], recs[j]):
            continue
        else:
            reasons = _reasons(r, recs[i], recs[j])
        if i in torn or j in torn:
            reasons = "Bản ghi thiếu ngày sinh khớp với nhiều học sinh; " + reasons
            if j in torn and i not in torn:
                i, j = j, i  # the record that fits several children first
        review.append({"i": i, "j": j, "match_probability": round(p, 4), "reasons": reasons})
    labels = [uf.find(i) for i in range(n)]
    review = [r for r in review if labels[r["i"]] != labels[r["j"]]]
    return labels, review

"""Record linkage, step 1: records -> Vietnamese-aware comparison columns.

``features`` turns the contract's records into the columns the model compares: NFC, tone-folded with Đ->D,
family / middle / given name with the "Thị"/"Văn" particles apart, the given name as marked, the name in any
word order, birth date and its day/month swap, year alone, the guardian's given name, a village key without its
"Thôn"/"Bản" word, digits of phones and ids.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata

import pandas as pd

from flows.text import as_text, has_marks, nfc, place_number, tone_placement
from flows.text import fold as _fold_uncached

PARTICLES = ("thi", "van")
FEATURE_COLUMNS = ["unique_id", "family", "middle", "given", "given_marked", "name_key", "name_compact", "particle",
                   "dob",
                   "dob_swap", "birth_year", "sex", "guardian", "village", "commune", "school", "grade", "phone",
                   "national_id", "address", "house", "source_list"]

log = logging.getLogger(__name__)



@functools.lru_cache(maxsize=1 << 18)
def _fold_text(text: str) -> str:
    return _fold_uncached(text)


def fold(value: object) -> str:
    """``flows.text.fold`` remembered in a memo four times the size of its own (``TEXT_CACHE``, sized for one
    district's cells): names, villages and schools repeat a great deal across 100,000 rows, and more than 65,536
    of them are distinct."""
    return _fold_text(value if isinstance(value, str) else as_text(value))


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
    marked = has_marks(" ".join(words))
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
    Lầy" = "na lay"; a village numbered in words as in digits: "Thôn Ba" = "Thôn 3" = "3"."""
    words = fold(village).split()
    marked = re.sub(r"[^\w/]+", " ", nfc(str(village)).lower()).split()  # the same words, marks kept
    while len(words) > 1 and words[0] in VILLAGE_WORDS:
        words, marked = words[1:], marked[1:]
    if len(marked) == 1 and len(words) == 1:  # "Thôn Ba" = "Thôn 3" = "thôn 03"
        words = [place_number(marked[0]) or words[0]]
    return " ".join(words) or None


def _swap(dob: str) -> str | None:
    if len(dob) != 10:
        return None
    y, m, d = dob[:4], dob[5:7], dob[8:10]
    return f"{y}-{d}-{m}" if d.isdigit() and int(d) <= 12 and d != m else None


def _digits(value: object) -> str | None:
    text = "".join(ch for ch in as_text(value) if ch.isdigit())
    return text or None


def _grade(text: str) -> int | None:
    return int(float(text)) if text.replace(".", "", 1).isdigit() else None


_PARTICLE_SEX = {"thi": "F", "van": "M"}


def _house(address: str | None) -> str | None:
    """The address's first word with a digit in it (a house or lot number): what makes an address one house
    rather than a place (a village's name is shared by every family in it)."""
    return next((w for w in (address or "").split() if any(ch.isdigit() for ch in w)), None)


def features(records: pd.DataFrame) -> pd.DataFrame:
    """Comparison columns of ``records`` (full_name, date_of_birth ISO or "", birth_year, sex, guardian_name,
    village, commune_code, school_code, grade (else grade_by_birth_year), phone, national_id, address, source_list;
    missing columns are empty). ``source_list`` names the list a record was read from (a file and sheet): records
    of one list are never joined by the model (see ``flows.linkage.rules``)."""
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
        # "Thị" is written for girls and "Văn" for boys: the particle tells the sex a list left out
        "sex": [s or _PARTICLE_SEX.get(p["particle"]) for s, p in zip(col("sex"), names)],
        "guardian": [_given_first(v) for v in col("guardian_name")],
        "village": [_village_key(v) for v in col("village")],
        "commune": folded("commune_code"),
        "school": folded("school_code"),
        # a list that does not know the class (a commune's, from the household register) compares by the class its
        # birth year gives (``grade_by_birth_year``, flows.rules.grades), as a school would have written it: a
        # missing class is otherwise read like a sibling's class in the same school
        "grade": pd.array([_grade(g) if _grade(g) is not None else _grade(b)
                           for g, b in zip(col("grade"), col("grade_by_birth_year"))], dtype="Int64"),
        "phone": [_digits(v) for v in col("phone")],
        "national_id": [_digits(v) for v in col("national_id")],
        "address": folded("address"),
        "house": [_house(a) for a in folded("address")],
        "source_list": [v or None for v in col("source_list")],  # which list the record comes from, where known
    })
    for c in FEATURE_COLUMNS:  # typed columns, so an all-empty column is still text (DuckDB would guess NULL)
        if c not in ("unique_id", "birth_year", "grade"):
            out[c] = out[c].astype("string")
    return out[FEATURE_COLUMNS]



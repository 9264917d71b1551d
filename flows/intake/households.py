"""Commune lists kept by household, read into one row per child with the head of household as guardian.

Commune committees draw their lists from the household register, and often keep them by household:

- a row per household naming its head ("Họ tên chủ hộ") and its children, each child in a group of columns
  ("Con thứ nhất" | "Con thứ hai", found by ``flows.intake.headers``) or several children in one cell, one per
  line or separated by ";" or "," ("Nguyễn Văn An (2012)\nNguyễn Thị Bình (2014)"), their birth dates and
  classes in the cells beside them the same way;
- a household's row followed by its children's rows: the head's name in the "Chủ hộ" column of the household's row
  only (or on its first child's row only), or a "Quan hệ với chủ hộ" column ("Chủ hộ", "Con", "Cháu"), or the
  household's row written as a title ("Hộ ông Hoàng Văn Tuấn"), or nothing but ages: the head's row a generation
  older than the children's rows below it (``_households_by_age``).

The household's row is not a child; what it says of the household (village, category, phone, needs) goes to its
children's rows where they leave it blank, and its head becomes their guardian. The words live in
``config/headers.yaml`` (``household_head`` and ``relation`` headers; ``relation_head``, ``relation_adult``,
``household_prefix``, ``honorific`` values). Children read from one row keep that row's ``source_row``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable

from flows.config import AppConfig
from flows.intake.cells import display_text, is_empty
from flows.intake.legacy_fonts import to_unicode
from flows.text import fold

# what a child's own row says; everything else on a household's row is the household's
CHILD_ONLY = ("full_name", "date_of_birth", "sex", "sex_male", "sex_female", "grade", "school", "national_id",
              "note", "relation")
SPLIT_FIELDS = ("date_of_birth", "sex", "grade", "school", "national_id")
SLOTS = "_slots"  # layout's key for the further children's cells of a row (``Header.slots``)
STT_KEY = "_stt"  # layout's key for the row's STT cell (numbered households, children's rows not numbered)

_BREAK = re.compile(r"\s*(?:\r?\n|;)\s*")
_NUMBERING = re.compile(r"^(?:\(?\d{1,2}[.)]\)?(?:\s+|(?=[^\W\d_]))|[-–•+*]\s*)")  # "1. ", "2)", "- "
_TAIL = re.compile(r"\s*(?:[(\[,:–-]|\b(?:năm sinh|sinh năm|sinh ngày|sinh|sn|ns|lớp|lop|khối|khoi)\b\.?\s*:?\s*"
                   r"(?=\d)|\d)", re.IGNORECASE)
_NAME = re.compile(r"[^\W\d_]+(?: [^\W\d_]+){1,6}")
_DATE = re.compile(r"\b\d{1,2}\s*[/.-]\s*\d{1,2}\s*[/.-]\s*\d{2,4}\b")
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_CLASS = re.compile(r"\b(?:lớp|lop|khối|khoi)\s*:?\s*(\d{1,2}[a-zA-Z]?\d?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Words:
    head: frozenset[str]
    adult: frozenset[str]
    prefixes: tuple[str, ...]
    honorifics: tuple[str, ...]

    @classmethod
    def of(cls, cfg: AppConfig) -> _Words:
        v = cfg.headers.vocabulary
        return cls(frozenset(fold(w) for w in v("relation_head")), frozenset(fold(w) for w in v("relation_adult")),
                   tuple(sorted((_lower(w) for w in v("household_prefix")), key=len, reverse=True)),
                   tuple(_lower(w) for w in v("honorific")))


def _lower(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def _text(value: Any) -> str:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", to_unicode(value)).replace("\u00a0", " ").strip()
    return display_text(value)


def read_households(rows: Iterable[tuple[int, dict[str, Any]]], cfg: AppConfig, by_age: bool = True,
                    ) -> list[tuple[int, dict[str, Any]]]:
    """One record per child from the records layout lifted out of a sheet (``(source_row, field -> cell)``, in
    sheet order): household rows dropped and their details carried to their children, rows naming several children
    split. Records of a list that is not kept by household come back as they were. ``by_age``: whether households
    may be told apart by ages alone (``_households_by_age``); a school's list names its pupils, never households,
    so there a grown-up's birth year is a typing error the validation reports, not a head whose row is dropped."""
    words = _Words.of(cfg)
    rows = list(rows)
    heads, grown = _households_by_age(rows) if by_age else (set(), set())
    out: list[tuple[int, dict[str, Any]]] = []
    household: dict[str, Any] | None = None
    for i, (source_row, record) in enumerate(rows):
        relation = fold(_text(record.get("relation")))
        if (relation and relation in words.adult) or i in grown:
            continue  # the head's spouse or parents: not a child of the programme
        head = _head_row(record, relation, words) or (
            _bare(" ".join(_text(record.get("full_name")).split()), words) if i in heads else "")
        if head:
            household = {**_household_part(record), "household_head": head}
            continue
        if not is_empty(record.get("household_head")):
            record = {**record, "household_head": _bare(_text(record["household_head"]), words)}
            # the household's own row, or its first child's: the rows below that leave the head blank are its
            # other children (a head written on every row leaves nothing to carry)
            household = _household_part(record)
            if not _names_a_child(record):
                continue
        elif household is not None:
            record = {**record, **{k: v for k, v in household.items() if is_empty(record.get(k))}}
        out.extend((source_row, child) for child in _children(record))
    return out


_ADULT_GAP = 16  # years between the youngest person of a list and a person who is no child of the programme
_PARENT_AGE = 18  # a household's head is born at least this long before the child on the row below...
_PARENT = 60  # ...and at most this long before the list's youngest child;
_LIFE = 100  # a grown-up member at most this long (a year further back is typed wrong: a child still)


def _households_by_age(rows: list[tuple[int, dict[str, Any]]]) -> tuple[set[int], set[int]]:
    """A list kept by household with nothing but ages to tell its rows apart: each household's head on a row of
    its own (born a generation before the list's children, no class) followed by its children's rows, which
    leave blank what the head's row says of the household (village, category, needs...), or are not numbered
    while the head's row is, or begin with the head's family name. Returns the heads' rows and the other grown-ups' rows (the head's spouse or
    parents), as indexes into ``rows``; none when the list is not so kept (a child's birth year typed wrong in
    a school's list is not a head: the rows below it say their own village and category)."""
    if any(not is_empty(r.get("household_head")) or not is_empty(r.get("relation")) for _, r in rows):
        return set(), set()  # kept by household in a way the words say
    years = [_birth_year(r.get("date_of_birth")) for _, r in rows]
    known = [y for y in years if y]
    if len(known) < 3:
        return set(), set()
    youngest = max(known)
    # grown-ups: a generation before the youngest child, and not a century before (a year typed wrong)
    grown = {i for i, y in enumerate(years) if y and youngest - _LIFE <= y <= youngest - _ADULT_GAP
             and is_empty(rows[i][1].get("grade"))}
    heads: set[int] = set()
    for i in sorted(grown):
        j = i + 1
        while j in grown:
            j += 1
        if j >= len(rows) or not years[j] or years[i] < youngest - _PARENT or years[j] - years[i] < _PARENT_AGE:
            continue
        head, child = rows[i][1], rows[j][1]
        shared = [k for k, v in head.items() if k not in CHILD_ONLY and k not in (SLOTS, STT_KEY) and not is_empty(v)]
        blank = shared and all(is_empty(child.get(k)) for k in shared)
        numbered = not is_empty(head.get(STT_KEY)) and is_empty(child.get(STT_KEY))
        kin = _family(head) and _family(head) == _family(child) and j == i + 1
        if blank or numbered or kin:
            heads.add(i)
    if not heads:
        return set(), set()
    first = min(heads)
    return heads, {i for i in grown if i not in heads and i > first}


def _family(record: dict[str, Any]) -> str:
    words = _text(record.get("full_name")).split()
    return fold(words[0]) if len(words) >= 2 else ""


def _birth_year(value: Any) -> int | None:
    from flows.intake.values import parse_date

    return parse_date(value)[1] if not is_empty(value) else None


def _names_a_child(record: dict[str, Any]) -> bool:
    return any(not is_empty(r.get("full_name")) for r in [record, *(record.get(SLOTS) or [])])


def _head_row(record: dict[str, Any], relation: str, words: _Words) -> str:
    """The head's name when the row is the household's own row (not a child): "Chủ hộ" in the relation column, or
    a name cell written as a household title ("Hộ ông Hoàng Văn Tuấn")."""
    name = " ".join(_text(record.get("full_name")).split())
    if relation and relation in words.head:
        return _bare(name, words)
    lowered = _lower(name)
    for prefix in words.prefixes:
        if lowered.startswith(prefix) and lowered[len(prefix):len(prefix) + 1] in (" ", ":"):
            rest = name[len(prefix):].lstrip(" :").strip()
            return _bare(rest, words) if _NAME.fullmatch(rest) else ""
    return ""


def _bare(name: str, words: _Words) -> str:
    """A head's name without "Ông" / "Bà" before it."""
    lowered = _lower(name)
    for h in words.honorifics:
        if lowered.startswith(h + " ") and len(name.split()) > 2:
            return name.split(" ", 1)[1].strip()
    return name


def _household_part(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in CHILD_ONLY and k not in (SLOTS, STT_KEY) and not is_empty(v)}


def _children(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The children one row names: its own child, the further children in column groups, several in one cell."""
    slots = record.get(SLOTS) or []
    base = {k: v for k, v in record.items() if k not in (SLOTS, STT_KEY)}
    blank = {k: ("" if k in CHILD_ONLY else v) for k, v in base.items()}
    kids = [base] + [{**blank, **slot} for slot in slots]
    named = [k for k in kids if not is_empty(k.get("full_name"))]
    out: list[dict[str, Any]] = []
    commas = not is_empty(record.get("household_head"))  # "An, Bình" names two children only in a household's row
    for kid in named or kids[:1]:  # a row naming no child stays one row (validation reports the missing name)
        out.extend(_split_cells(kid, commas))
    return out


def _split_cells(kid: dict[str, Any], commas: bool) -> list[dict[str, Any]]:
    """Several children written in one name cell, their dates (and classes...) in the cells beside it the same way;
    a birth year or class written after a single name ("Nguyễn Văn An (2012)") goes to its own field."""
    parts = _name_parts(_text(kid.get("full_name")), commas)
    if parts is None:
        return [kid]
    many = len(parts) > 1
    values = {f: _values(kid.get(f), len(parts)) if many else None for f in SPLIT_FIELDS}
    out = []
    for i, (name, born, grade) in enumerate(parts):
        child = {**kid, "full_name": name}
        for f, vals in values.items():
            if many:
                child[f] = vals[i] if vals else ""
        if born and is_empty(child.get("date_of_birth")):
            child["date_of_birth"] = born
        if grade and is_empty(child.get("grade")):
            child["grade"] = grade
        out.append(child)
    return out


def _name_parts(text: str, commas: bool = False) -> list[tuple[str, str, str]] | None:
    """(name, birth date or year, class) of each child a name cell names, or None when it names one child and
    nothing else (the cell is then left as written)."""
    if not text:
        return None
    pieces = [p for p in _BREAK.split(text) if p]
    if len(pieces) == 1 and commas and "," in text:
        commas = [p.strip() for p in text.split(",") if p.strip()]
        if len(commas) > 1 and all(_one(p) for p in commas):
            pieces = commas
    if len(pieces) > 1:
        parts = [_one(_NUMBERING.sub("", p)) for p in pieces]
        return parts if all(parts) else None  # type: ignore[return-value]
    one = _one(text)
    return [one] if one and (one[1] or one[2]) else None


def _one(piece: str) -> tuple[str, str, str] | None:
    m = _TAIL.search(piece)
    name, rest = (piece[:m.start()], piece[m.start():]) if m else (piece, "")
    name = " ".join(name.split())
    if not _NAME.fullmatch(name):
        return None
    date = _DATE.search(rest)
    year = _YEAR.search(rest)
    grade = _CLASS.search(rest)
    born = date.group(0) if date else (year.group(0) if year else "")
    return name, born.replace(" ", ""), (grade.group(1) if grade else "")


def _values(cell: Any, n: int) -> list[str] | None:
    """The cell's n values when it holds one per child (one per line, or separated by ";" or ","); else None."""
    if not isinstance(cell, str):
        return None
    text = _text(cell)
    pieces = [p for p in _BREAK.split(text) if p]
    if len(pieces) != n:
        pieces = [p.strip() for p in text.split(",") if p.strip()]
    return [_NUMBERING.sub("", p) for p in pieces] if len(pieces) == n else None

"""Record linkage: the few hard rules no probability overrides.

``cannot_link`` says why two records can never be one child ("" if nothing forbids it): twins and namesakes as
their lists show them. Officer decisions (same / different child) are the other hard rule; they are applied by
``flows.linkage.clustering.cluster``. Everything else is evidence, weighed by the model.
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

from flows.intake.legacy_fonts import is_syllable
from flows.text import fold


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


def _ids_near(a: dict, b: dict, edits: int) -> bool:
    x, y = a["national_id"], b["national_id"]
    return bool(x and y) and min(len(x), len(y)) >= 6 and _edits(x, y) <= edits


# Records this many rows apart or fewer in a file with no list column are "written together" (a school lists twins
# on adjacent rows); only used when the records do not say which list they come from.
NEIGHBOUR_ROWS = 2
# ... unless the file is not in its lists' order: where the model links more neighbouring pairs of rows than this
# share of the rows, the file was sorted (by name, by person) and a row's neighbour is as likely its own copy as a
# twin. Twins are one or two children in a hundred; a tenth is several times that. A handful of such pairs are
# a small list's twins and triplets, whatever its length.
SORTED_NEIGHBOUR_SHARE = 0.1
SORTED_NEIGHBOUR_MIN = 5
SAME_LIST = "cùng một danh sách ghi là hai học sinh (anh chị em sinh đôi hoặc trùng tên)"
TWINS = "anh chị em sinh đôi: cùng họ, ngày sinh và gia đình, hai tên khác nhau"


def cannot_link(a: dict, b: dict) -> str:
    """Why two records can never be one child ("" if nothing forbids it): only what the data proves.

    Everything else (another birth date, family name, sex, class, a tone, a letter) is weighted evidence in the
    model, so a typing error with strong agreement elsewhere joins on its own. The hard rules are twins and
    namesakes as lists show them:

    - one list names two children (a school lists twins together; exact repeats of a row are marked
      ``duplicate`` before linkage); where records do not say their list, two rows written next to each other
      with the same family name and birth and a name written otherwise: another given name, be it only a tone
      ("Thủy" / "Thúy"), or, both written with marks, its words in another order or its marks and a letter
      changed ("Đinh Hững" / "Hùng Đinh", "Phương" / "Phượnng"), as a list with a known name would have it;
    - the same family name, birth and household (guardian, phone or village) with two different given names:
      each a real Vietnamese syllable and more than a typing error apart, not one name with its marks changed or
      lost ("Hưng" / "Hùng", "Anh" / "Ánh" are one name written two ways; "Lihn" is a slip for "Linh", and from
      two lists so may be "Giang" / "Gang"; "Linh" / "Ly" are twins)."""
    if _ids_near(a, b, 1):
        return ""  # one national id (one digit mistyped at most): twins and namesakes never share one
    if a["source_list"] and b["source_list"] and a["source_list"] == b["source_list"]:
        return SAME_LIST
    written_together = _written_together(a, b)
    if written_together and _same_words(a, b) and (
            (a["dob"] and b["dob"] and not _close_birth(a, b)) or (a["sex"] and b["sex"] and a["sex"] != b["sex"])):
        return SAME_LIST  # namesakes of one list: another birthday or another sex
    if written_together and _close_birth(a, b) and a["given_marked"] and b["given_marked"] and _written_apart(a, b) \
            and (_same_family(a, b) or _same_words(a, b)):
        # one list giving one family's child of that birth twice, both written with marks, the second time spelled
        # otherwise: two children. A row without marks beside one with them may be either (a copy typed without
        # them, or a twin), and in a list without any (FEBRL's) two spellings side by side are as often one
        # record's typing slips: those are the model's to weigh
        return TWINS if _same_family(a, b) and (_other_marks(a, b) or _two_given_names(a, b, slips_too=True)) \
            else SAME_LIST
    if not (_same_family(a, b) and _close_birth(a, b)):
        return ""
    if written_together and (_other_marks(a, b) or _two_given_names(a, b, slips_too=True)):
        return TWINS
    if _same_words(a, b) or _one_name_mistyped(a, b):
        return ""
    return TWINS if _two_given_names(a, b) and _same_household(a, b) else ""


def _written_apart(a: dict, b: dict) -> bool:
    """The two names not written alike: other words, another order, or other marks (a repeat of the same
    row is left to the model; validation marks a whole repeat ``duplicate`` before)."""
    return any(a[k] != b[k] for k in ("family", "middle", "given", "given_marked"))


def _same_words(a: dict, b: dict) -> bool:
    """The same words of a name, in any order ("Đinh Hùng" / "Hùng Đinh")."""
    return bool(a["name_key"]) and a["name_key"] == b["name_key"]


def _one_name_mistyped(a: dict, b: dict) -> bool:
    """From two lists, one child's name may be written twice with a slip in the given name that happens to spell
    another syllable ("Giang" / "Gang", "Hùng" / "Hùn"), when nothing else in the name says otherwise: the same
    sex and middle name (or one list leaving it out). That is the model's to weigh, not a rule's. Two names in
    common use ("Oanh" / "Anh", "Quân" / "Quang"), "Đức Bình" / "Văn Minh" or "Thị Linh" / "Văn Bình" are two
    children."""
    if not (a["given"] and b["given"] and _typos(a["given"], b["given"])):
        return False
    names = given_names()
    if all(w in names for w in a["given"].split() + b["given"].split()):
        return False
    if a["sex"] and b["sex"] and a["sex"] != b["sex"]:
        return False
    x, y = a["middle"] or "", b["middle"] or ""
    return not x or not y or x == y or _typos(x, y)


GIVEN_NAMES_PATH = Path(__file__).resolve().parents[2] / "config" / "given_names.txt"


@functools.lru_cache(maxsize=1)
def given_names() -> frozenset[str]:
    """Given names in common use, tone-folded as the features fold them (``config/given_names.txt``)."""
    text = GIVEN_NAMES_PATH.read_text(encoding="utf-8")
    words = " ".join(line for line in text.splitlines() if not line.lstrip().startswith("#")).split()
    return frozenset(fold(w) for w in words)


def _written_together(a: dict, b: dict) -> bool:
    """Where records do not say their list: rows next to each other in the file, of one school and commune as
    far as both tell (a field one row leaves out does not part them; at least one of the two is given on both and
    the same), as one list writes them. A copy from another school's list is not written together, even in a
    file sorted by name."""
    if a["source_list"] or b["source_list"] or abs(a["unique_id"] - b["unique_id"]) > NEIGHBOUR_ROWS:
        return False
    if not (a.get("list_order", True) and b.get("list_order", True)):
        return False
    shared = [(a[k], b[k]) for k in ("school", "commune") if a[k] and b[k]]
    return bool(shared) and all(x == y for x, y in shared)


def mark_list_order(recs: list[dict], strong: list[tuple[int, int]]) -> bool:
    """Whether the rows without a list name are in their lists' order, judged by ``strong`` (record index pairs the
    model links): not when they link more pairs of neighbouring rows than ``SORTED_NEIGHBOUR_SHARE`` of those
    rows and more than ``SORTED_NEIGHBOUR_MIN``. Sets ``list_order`` on each such record, which
    ``_written_together`` reads."""
    unlisted = [r for r in recs if not r["source_list"]]
    near = sum(1 for i, j in strong if abs(recs[i]["unique_id"] - recs[j]["unique_id"]) <= NEIGHBOUR_ROWS
               and not recs[i]["source_list"] and not recs[j]["source_list"])
    in_order = near <= max(SORTED_NEIGHBOUR_SHARE * len(unlisted), SORTED_NEIGHBOUR_MIN)
    for r in unlisted:
        r["list_order"] = in_order
    return in_order


def _other_marks(a: dict, b: dict) -> bool:
    """Given names with the same letters and other marks, both written with marks ("Thủy" / "Thúy")."""
    return bool(a["given_marked"] and b["given_marked"] and a["given"] == b["given"]
                and a["given_marked"] != b["given_marked"])


def _two_given_names(a: dict, b: dict, slips_too: bool = False) -> bool:
    """Two names, not one name written two ways: other letters once tones and marks are folded away, and each a
    well-formed Vietnamese syllable (so a slip such as "Lihn", or a name of another language, is not). Between
    rows written together, ``slips_too``: names too far apart to be one name's slip count too ("Thủy" /
    "Nguytệ")."""
    x, y = a["given"], b["given"]
    if not (x and y) or x == y:
        return False
    return (slips_too and not _typos(x, y)) or all(_folded_syllable(w) for w in x.split() + y.split())


@functools.lru_cache(maxsize=1 << 14)
def _folded_syllable(word: str) -> bool:
    """A tone-folded word ("viet", "thuy") that some marks would make a Vietnamese syllable."""
    return any(is_syllable(_mark(word, marks)) for marks in _MARKINGS)


# the marks a folded syllable may have lost: none, or the circumflex / breve / horn on its vowels (tones do not
# change whether a syllable is well formed, but for the stop finals, so sắc is tried too)
_MARKINGS = ("", "\u0301", "^", "^\u0301", "~", "~\u0301", "+", "+\u0301")


def _mark(word: str, marks: str) -> str:
    shape = {"^": {"a": "â", "e": "ê", "o": "ô"}, "~": {"a": "ă"}, "+": {"o": "ơ", "u": "ư"}}
    out = word
    for key, table in shape.items():
        if key in marks:
            out = "".join(table.get(ch, ch) for ch in out)
    if "\u0301" in marks:
        vowels = [i for i, ch in enumerate(out) if ch in "aăâeêioôơuưy"]
        if vowels:
            i = vowels[-1] if len(vowels) == 1 or out[-1] not in "aăâeêioôơuưy" else vowels[0]
            out = out[: i + 1] + "\u0301" + out[i + 1:]
    return unicodedata.normalize("NFC", out)


def _same_household(a: dict, b: dict) -> bool:
    """One family: the same guardian (up to a typing error), phone or village."""
    if a["guardian"] and b["guardian"] and _typos(a["guardian"], b["guardian"]):
        return True
    return bool((a["phone"] and a["phone"] == b["phone"]) or (a["village"] and a["village"] == b["village"]))


def _same_family(a: dict, b: dict) -> bool:
    return bool(a["family"] and b["family"]) and _typos(a["family"], b["family"])


def _close_birth(a: dict, b: dict) -> bool:
    """Born on one day as far as two lists can tell: the same date up to a typing error or a day/month swap, or,
    where a list gives only the year, a year at most one apart."""
    if a["dob"] and b["dob"]:
        return a["dob"] == b["dob"] or a["dob"] == b["dob_swap"] or _edits(a["dob"], b["dob"]) <= 1
    return a["birth_year"] is not None and b["birth_year"] is not None and abs(a["birth_year"] - b["birth_year"]) <= 1

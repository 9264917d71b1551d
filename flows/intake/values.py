"""Cell values: what one cell as a school wrote it means. Dates from Excel dates, serial numbers or text in the
ways schools write them; grades from "3A", "Lớp 7", "Khối 8"; phones to ``0xxxxxxxxx``; national ids; amounts of
money and counts; people's names cleaned and title-cased; and, from the value vocabularies in
``config/headers.yaml``, yes/no marks, sex, categories and the other named values (donation kinds, device states…).

Every text is read as the school reads it (``cell_text``): NFC Unicode with TCVN3 / VNI-Windows text repaired
(``flows.intake.legacy_fonts``). A value that cannot be read becomes empty or None; the normalize stage keeps the
text as written beside it. The ``parse_*`` functions need no configuration and are reused by later stages.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from functools import lru_cache
from typing import Any, Iterable

from flows.config import AppConfig, built_for
from flows.intake.legacy_fonts import to_unicode
from flows.text import TEXT_CACHE, clean_spaces, fold, is_missing, memo_text, strip_tones, title_name


# --- Cells ----------------------------------------------------------------------------------------------------
def cell_text(value: Any) -> str:
    """The cell as the school reads it: legacy fonts repaired, NFC, surrounding space removed."""
    if type(value) is str:
        return _cell_text(value)
    if is_missing(value):
        return ""
    if isinstance(value, str):
        return _cell_text(str(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y") if value.time() == dt.time() else value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


@lru_cache(maxsize=TEXT_CACHE)
def _cell_text(text: str) -> str:
    return to_unicode(text).replace("\u00a0", " ").strip()


# --- Dates ----------------------------------------------------------------------------------------------------
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_DMY = re.compile(r"(\d{1,2})\s*[/\-.\s]\s*(\d{1,2})\s*[/\-.\s]\s*(\d{4}|\d{2})")
_YMD = re.compile(r"(\d{4})\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{1,2})")
_WORDY = re.compile(r"(?:ngay\s*)?(\d{1,2})\s*thang\s*(\d{1,2})\s*nam\s*(\d{4})")  # "(Ngày) 05 tháng 3 năm 2012"
# a day and month left as placeholders ("00/00/2012", "?/3/2012", "xx/xx/2012"): the list knows the year only
_YEAR_ONLY = re.compile(r"(?:0{1,2}|\?{1,2}|x{1,2}|_+)\s*[/\-.]\s*(?:0{1,2}|\?{1,2}|x{1,2}|_+|\d{1,2})\s*[/\-.]\s*(\d{4})",
                        re.IGNORECASE)
# a month by its English name, day first or month first ("26-Aug-1956", "Aug 26, 1956", "26 August 1956")
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                       "dec"), 1)}
_DAY_MONTH_NAME = re.compile(r"(\d{1,2})[\s\-/.]*([a-z]{3,9})\.?[\s\-/.,]*(\d{4})")
_MONTH_NAME_DAY = re.compile(r"([a-z]{3,9})\.?[\s\-/.]*(\d{1,2})(?:st|nd|rd|th)?,?[\s\-/.]*(\d{4})")
_WORDS_AROUND = re.compile(r"(?:(?:ngày|ngay|sinh|năm|nam|ns|sn|tháng|thang|t)\.?\s*:?\s*)*"
                           r"([\d][\d\s/.\-]*\d)\s*(?:\([^)]*\)|[.;,])?", re.IGNORECASE)
_TIME_TAIL = re.compile(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(am|pm|sa|ch)?$", re.IGNORECASE)


def _make_date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def _serial_date(serial: float) -> dt.date | None:
    n = int(math.floor(serial))
    if not 1 <= n <= 80000 or n == 60:
        return None
    if n < 60:  # Excel's 1900 system counts a 29 February 1900 that never was
        n += 1
    return _EXCEL_EPOCH + dt.timedelta(days=n)


@memo_text
def parse_date(value: Any) -> tuple[str, int | None]:
    """(ISO date or "", year or None). A year alone gives ("", year); unreadable gives ("", None)."""
    if is_missing(value) or value == "":
        return "", None
    if isinstance(value, bool):
        return "", None
    if isinstance(value, dt.datetime):
        return value.date().isoformat(), value.year
    if isinstance(value, dt.date):
        return value.isoformat(), value.year
    if isinstance(value, (int, float)):
        if float(value).is_integer() and 1900 <= value <= 2100:
            return "", int(value)
        d = _serial_date(float(value))
        return (d.isoformat(), d.year) if d else ("", None)
    text = _TIME_TAIL.sub("", clean_spaces(cell_text(value)))
    if not text:
        return "", None
    # a word before or a note after the date: "Ngày 05/03/2012", "sinh năm 2012", "5/3/2012 (âm lịch)"
    bare = _WORDS_AROUND.fullmatch(text)
    if bare and bare.group(1) != text and any(ch.isdigit() for ch in bare.group(1)):
        return parse_date(bare.group(1))
    if re.fullmatch(r"\d{4}", text):
        year = int(text)
        return ("", year) if 1900 <= year <= 2100 else ("", None)
    if re.fullmatch(r"\d{8}", text):  # 05092012, else 20120905
        readings = [(int(text[4:]), int(text[2:4]), int(text[:2])), (int(text[:4]), int(text[4:6]), int(text[6:]))]
        d = next((date for y, m, day in readings if 1900 <= y <= 2100 and (date := _make_date(y, m, day))), None)
        return (d.isoformat(), d.year) if d else ("", None)
    if re.fullmatch(r"\d{5}(\.\d+)?", text):  # a serial number that arrived as text (CSV)
        d = _serial_date(float(text))
        return (d.isoformat(), d.year) if d else ("", None)
    m = _YEAR_ONLY.fullmatch(text)
    if m:
        year = int(m.group(1))
        return ("", year) if 1900 <= year <= 2100 else ("", None)
    m = re.fullmatch(r"(\d{1,2})\s*[/\-.]\s*(\d{4})", text)  # month/year: the year is still worth keeping
    if m:
        year = int(m.group(2))
        return ("", year) if 1 <= int(m.group(1)) <= 12 and 1900 <= year <= 2100 else ("", None)
    m = _YMD.fullmatch(text)
    if m:
        d = _make_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return (d.isoformat(), d.year) if d else ("", None)
    m = _DMY.fullmatch(text) or _WORDY.search(fold(text))
    if m:
        day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if len(m.group(3)) == 2:
            year += 2000 if year <= 40 else 1900
        d = _make_date(year, month, day)
        if d is None and day <= 12 < month:  # written month first (a sheet in US format)
            d = _make_date(year, day, month)
        return (d.isoformat(), d.year) if d else ("", None)
    return _month_named(text.lower())


_MONTH_WORDS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
                "november", "december", "sept")


def _month_named(text: str) -> tuple[str, int | None]:
    """A date with the month by its English name (its first three letters or more), day first or month first."""
    m = _DAY_MONTH_NAME.fullmatch(text)
    day, name, year = (m.group(1), m.group(2), m.group(3)) if m else (None, None, None)
    if not m and (m := _MONTH_NAME_DAY.fullmatch(text)):
        name, day, year = m.group(1), m.group(2), m.group(3)
    known = name and any(word.startswith(name) for word in _MONTH_WORDS)
    d = _make_date(int(year), _MONTHS[name[:3]], int(day)) if known else None
    return (d.isoformat(), d.year) if d else ("", None)


_PARENS = re.compile(r"\([^)]*\)")


# --- Grades ---------------------------------------------------------------------------------------------------
_GRADE_WORDS = {"mot": 1, "hai": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5, "sau": 6, "bay": 7, "tam": 8, "chin": 9,
                "i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10,
                "xi": 11, "xii": 12}  # in words, or in Roman numerals ("Lớp VI")
# one or two words ("Lớp", "Khối lớp", a mistyped "Líp") before the number, a class letter or number after it
_GRADE = re.compile(r"(?:[a-z]+\s+){0,2}(\d{1,2})(?:\s*[/\-.]?\s*[a-z]?\s*\d{0,2})?")


@memo_text
def parse_grade(value: Any) -> int | None:
    """The grade number of "3A", "Lớp 7", "lớp 6B", "6/1", "7", 7.0, "Khối 8"; None if unreadable."""
    if is_missing(value) or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = cell_text(value)
    key = fold(_PARENS.sub(" ", text) if _PARENS.sub("", text).strip() else text)  # "Lớp 1 (2021-2022)"
    key = key.replace("/", " / ")
    key = " ".join(key.split())
    if not key:
        return None
    m = _GRADE.fullmatch(re.sub(r"^(lop|khoi)(?=\d)", r"\1 ", key.replace(" / ", "/")))
    if m:
        return int(m.group(1))
    words = key.split()
    prefixed = bool(words) and words[0] in ("lop", "khoi")
    if prefixed:
        words = words[1:]
    # a lone "x" or "v" is a mark, not Roman ten or five: single letters count only after "Lớp"/"Khối"; a lone
    # "Nam" (male, in the wrong column) is not "năm" (five), which needs its breve or "Lớp" before it
    if len(words) == 1 and words[0] in _GRADE_WORDS and (prefixed or len(words[0]) > 1):
        if words[0] == "nam" and not prefixed and "ă" not in cell_text(value).lower():
            return None
        return _GRADE_WORDS[words[0]]
    return None


# --- Phones and national ids ----------------------------------------------------------------------------------
_OLD_MOBILE = {
    "0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078", "0123": "083", "0124": "084",
    "0125": "085", "0127": "081", "0129": "082", "0162": "032", "0163": "033", "0164": "034", "0165": "035",
    "0166": "036", "0167": "037", "0168": "038", "0169": "039", "0186": "056", "0188": "058", "0199": "059",
}


def _phone_digits(text: str) -> str:
    text = text.strip()
    plus = text.startswith("+")
    digits = re.sub(r"\D", "", text)
    if plus and digits.startswith("84"):
        digits = "0" + digits[2:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    elif len(digits) == 9 and not digits.startswith("0"):
        digits = "0" + digits
    elif len(digits) == 10 and digits.startswith("1"):
        digits = "0" + digits  # an old 11-digit mobile number that lost its 0
    if len(digits) == 11 and digits[:4] in _OLD_MOBILE:
        digits = _OLD_MOBILE[digits[:4]] + digits[4:]
    return digits


@memo_text
def parse_phone(value: Any) -> str:
    """"0xxxxxxxxx" when the cell holds a Vietnamese number (spaces, dots, dashes, +84, a lost leading 0);
    otherwise the digits as written (validation warns)."""
    if is_missing(value) or isinstance(value, bool):
        return ""
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not value.is_integer():
            return ""
        return _phone_digits(str(int(value)))
    text = cell_text(value)
    if not text:
        return ""
    parts = [p for p in re.split(r"[/,;|]|\s-\s|\s+hoặc\s+|\s{2,}", text, flags=re.IGNORECASE) if p.strip()]
    for part in parts:
        digits = _phone_digits(part)
        if len(digits) == 10 and digits.startswith("0"):
            return digits
    return _phone_digits(text)


@memo_text
def parse_national_id(value: Any) -> str:
    if is_missing(value) or isinstance(value, bool):
        return ""
    if isinstance(value, (int, float)):
        digits = str(int(value)) if float(value).is_integer() else cell_text(value)
        return "0" + digits if len(digits) == 11 else digits
    text = cell_text(value)
    digits = re.sub(r"[\s.\-]", "", text)
    if digits.isdigit():
        return "0" + digits if len(digits) == 11 else digits
    return text


# --- Names ----------------------------------------------------------------------------------------------------
_NAME_EDGE = re.compile(r"^[\s\"'`.,;:*\-_]+|[\s\"'`.,;:*\-_]+$")


@memo_text
def clean_name(value: Any) -> str:
    """A person's name: legacy fonts repaired, NFC, single spaces, title case ("NGUYỄN  thị ánh" ->
    "Nguyễn Thị Ánh"), without a note in brackets ("Nguyễn Văn An (Tí)": a nickname is not a name part; the raw
    text keeps it)."""
    text = _NAME_ORDINAL.sub("", clean_spaces(cell_text(value)))  # "1. Nguyễn Văn An": the row's number typed in
    # "Nguyễn Văn An - con ông Ba": a note after a whole name (of three words or more: "Nguyễn Thị - Hoa" is a name)
    if " - " in text and len(text.split(" - ", 1)[0].split()) >= 3:
        text = text.split(" - ", 1)[0]
    if "(" in text or "[" in text:
        bare = clean_spaces(_NAME_NOTE.sub(" ", text))
        text = bare if any(ch.isalpha() for ch in bare) else clean_spaces(text.strip("()[] "))
    text = _NAME_EDGE.sub("", text)
    return title_name(text) if text else ""


_NAME_ORDINAL = re.compile(r"^\d{1,3}\s*[.)/]\s*(?=[^\W\d_])")
_NAME_NOTE = re.compile(r"\([^)]*\)?|\[[^\]]*\]?")


# --- Amounts and counts ---------------------------------------------------------------------------------------
_AMOUNT_UNITS = (("ty", 1_000_000_000), ("trieu", 1_000_000), ("tr", 1_000_000), ("nghin", 1_000), ("ngan", 1_000),
                 ("k", 1_000))


def parse_amount(value: Any) -> int | None:
    """VND from 50000000, "50.000.000", "50,000,000 đ", "50 triệu", "1,5 tỷ"; None if not a number."""
    if is_missing(value) or isinstance(value, bool) or value == "":
        return None
    if isinstance(value, (int, float)):
        return int(round(value))
    key = " ".join(strip_tones(cell_text(value)).lower().split())
    m = re.search(r"\d[\d.,\s]*", key)
    if not m:
        return None
    number = m.group(0).strip()
    tail = re.findall(r"[a-z]+", key[m.end():])
    unit = next((mult for word, mult in _AMOUNT_UNITS if tail and tail[0] == word), 1)
    if unit > 1:
        try:
            return int(round(float(number.replace(" ", "").replace(",", ".")) * unit))
        except ValueError:
            return None
    number = number.replace(" ", "")
    number = re.sub(r"[.,]\d{1,2}$", "", number) if re.search(r"\d[.,]\d{3}[.,]\d{1,2}$", number) else number
    digits = number.replace(".", "").replace(",", "")
    return int(digits) if digits.isdigit() else None


def parse_quantity(value: Any) -> int | None:
    if is_missing(value) or isinstance(value, bool) or value == "":
        return None
    if isinstance(value, (int, float)):
        return int(value) if float(value).is_integer() else None
    m = re.search(r"\d[\d.,]*", cell_text(value))
    if not m:
        return None
    number = m.group(0)
    if re.fullmatch(r"\d{1,3}([.,]\d{3})+", number):
        number = number.replace(".", "").replace(",", "")
    try:
        return int(float(number.replace(",", ".")))
    except ValueError:
        return None


# --- Vocabularies ---------------------------------------------------------------------------------------------
class _Vocab:
    """Folded words of a value vocabulary: exact entries and "~" entries matched as whole words."""

    def __init__(self, words: Iterable[str]):
        self.exact = set()
        self.contains = []
        for w in words:
            if w.startswith("~"):
                self.contains.append(fold(w[1:]))
            else:
                self.exact.add(fold(w) or w.strip())  # "✓", "+", "-" fold to nothing: keep them as they are

    def exact_match(self, key: str) -> bool:
        return key in self.exact

    def contains_match(self, key: str) -> int:
        """Length of the longest "~" entry found in ``key`` as whole words (0 if none)."""
        padded = f" {key} "
        return max((len(w) for w in self.contains if w and f" {w} " in padded), default=0)

    def match(self, key: str) -> bool:
        return self.exact_match(key) or self.contains_match(key) > 0


def _mapping_match(key: str, mapping: dict[str, _Vocab]) -> str:
    for name, vocab in mapping.items():
        if vocab.exact_match(key):
            return name
    best = max(((vocab.contains_match(key), name) for name, vocab in mapping.items()), default=(0, ""))
    return best[1] if best[0] else ""


_CATEGORIES = ("poor", "near_poor", "covid_orphan", "none")
# the need fields of a student row and the item each column is about (None: a "Nhu cầu" column naming items)
NEED_FIELDS: dict[str, str | None] = {"lacks_device": "device", "lacks_internet": "internet", "need": None}
# columns asking whether the child has the item ("Có máy tính?"): "Có" / "x" there says the child has it
HAS_FIELDS: dict[str, str] = {"has_device": "device", "has_internet": "internet"}
NEED_IN_NOTE = "need_in_note"  # the note of a list with no need column, read for a need it states
# clauses of a need written as text: "Máy tính, Internet", "Có điện thoại; chưa có mạng", "máy tính + mạng"
_CLAUSES = re.compile(r"\s*(?:[,;+&\n/]|\s-\s|\bvà\b|\bhoặc\b|\bva\b)\s*", re.IGNORECASE)


class Vocabularies:
    """The value vocabularies of ``config/headers.yaml`` turned into lookups, built once per configuration."""

    def __init__(self, cfg: AppConfig):
        self.cfg = cfg
        values = cfg.headers
        self.truthy = _Vocab(values.vocabulary("truthy"))
        self.falsy = _Vocab(values.vocabulary("falsy"))
        self.truthy_prefixes = sorted((fold(w) for w in values.vocabulary("truthy") if " " in fold(w)), key=len)[::-1]
        self.falsy_prefixes = sorted((fold(w) for w in values.vocabulary("falsy") if " " in fold(w)), key=len)[::-1]
        self.sex_male = _Vocab(values.vocabulary("sex_male"))
        self.sex_female = _Vocab(values.vocabulary("sex_female"))
        self.category_words = {c: _Vocab(values.vocabulary(f"category_{c}")) for c in _CATEGORIES}
        self.category_negation = tuple(sorted({fold(w) for w in values.vocabulary("category_negation")} - {""},
                                              key=len, reverse=True))
        items = values.mapping("need_items") if isinstance(values.values.get("need_items"), dict) else {}
        self.need_items = sorted(((fold(w), item) for item, words in items.items() for w in words if fold(w)),
                                 key=lambda wi: -len(wi[0]))
        self.need_lacks = sorted({fold(w) for w in values.vocabulary("need_lacks")} - {""}, key=len, reverse=True)
        self.need_has = sorted({fold(w) for w in values.vocabulary("need_has")} - {""}, key=len, reverse=True)
        self.need_filler = frozenset(w for f in values.vocabulary("need_filler") for w in fold(f).split())
        self.need_verbs = sorted([(w, True) for w in self.need_lacks] + [(w, False) for w in self.need_has],
                                 key=lambda wl: -len(wl[0]))
        self._mappings: dict[str, dict[str, _Vocab]] = {}
        self._needs_of_text = lru_cache(maxsize=TEXT_CACHE)(self._needs)  # the same need texts on many rows

    # --- yes / no ---
    def flag(self, value: Any) -> bool | None:
        """True (marked / yes), False (no), None (empty). Any other text in a mark column counts as a mark."""
        text = cell_text(value)
        if not text:
            return None
        key = fold(text) or text
        if self.truthy.exact_match(key):
            return True
        if self.falsy.exact_match(key):
            return False
        for p in self.falsy_prefixes:
            if key.startswith(p + " "):
                return False
        for p in self.truthy_prefixes:
            if key.startswith(p + " "):
                return True
        return True

    def has(self, value: Any) -> bool:
        """For "has 3G / fibre" columns: "chưa", "chưa có", "không" mean no."""
        key = fold(cell_text(value))
        if not key or key.startswith(("chua", "khong")) or self.falsy.exact_match(key):
            return False
        return True

    # --- sex and category ---
    def sex(self, row: dict[str, Any]) -> str:
        """M | F | "" from the sex column, else from the "Nam" / "Nữ" mark columns."""
        key = fold(cell_text(row.get("sex")))
        if key:
            if self.sex_male.exact_match(key):
                return "M"
            if self.sex_female.exact_match(key):
                return "F"
        female, male = row.get("sex_female"), row.get("sex_male")
        f_mark = self.flag(female) is True
        m_mark = self.flag(male) is True
        if f_mark and not m_mark:
            return "F"
        if m_mark and not f_mark:
            return "M"
        if not key and not is_missing(female) and is_missing(male) and not f_mark:
            return "M"  # the usual form has only a "Nữ" column: an unmarked child is a boy
        return ""

    def category(self, row: dict[str, Any]) -> str:
        """poor | near_poor | covid_orphan | none, from the category text and the x-mark columns; the highest tier
        named wins. Unknown text counts as none (its raw text stays in raw_category)."""
        named: list[str] = []
        text = cell_text(row.get("category"))
        if text:  # the whole text, and its parts: "Hộ nghèo, mồ côi do COVID-19"
            parts = [text, *re.split(r"[,;+/]|\svà\s", text)]
            named.extend(c for part in dict.fromkeys(fold(p) for p in parts) if (c := self._category_of(part)))
        for fld, cat in (("category_poor", "poor"), ("category_near_poor", "near_poor"),
                         ("category_covid_orphan", "covid_orphan"), ("category_other", "none")):
            if self.flag(row.get(fld)):
                named.append(cat)
        if not named:
            return "none"
        return min(named, key=self.cfg.district.tier_rank)

    def _category_of(self, key: str) -> str:
        """The category a folded text names: an exact entry, else the longest "~" entry found in it whose words are
        not denied by a negation written just before them ("không thuộc hộ nghèo", "đã thoát nghèo")."""
        if not key:
            return ""
        for cat in _CATEGORIES:
            if self.category_words[cat].exact_match(key):
                return cat
        padded = f" {key} "
        best, found = 0, ""
        for cat in _CATEGORIES:
            for word in self.category_words[cat].contains:
                at = padded.find(f" {word} ") if word else -1
                while at >= 0:
                    if len(word) > best and not self._denied(padded[:at + 1]):
                        best, found = len(word), cat
                    at = padded.find(f" {word} ", at + 1)
        return found

    def _denied(self, before: str) -> bool:
        """The text before a category's words ends with a negation, with at most one word between ("không phải
        là hộ nghèo")."""
        words = before.split()
        for skip in (0, 1):
            tail = " ".join(words[:len(words) - skip]) if skip else " ".join(words)
            if any(tail == n or tail.endswith(" " + n) for n in self.category_negation):
                return True
        return False

    # --- needs written as text ---
    def needs(self, value: Any, own: str | None = None, has: bool = False
              ) -> tuple[bool | None, bool | None] | None:
        """What a need cell says of the device and the Internet: True (the child lacks it), False (has it), None
        (not said); None instead of a pair when the cell holds text that cannot be read as a need.

        ``own`` is the item of the cell's column ("device", "internet"; None for a "Nhu cầu" column). A mark
        ("x", "1", "có", "✓"; "0", "không", "đã có") speaks of ``own``. Text is read clause by clause ("Có điện
        thoại, chưa có mạng"; several sub-columns arrive joined by "; "): the items a clause names (``need_items``)
        and whether it says they are lacking (``need_lacks``, or nothing: a need column lists what is lacking) or
        had (``need_has``); a clause that names no item speaks of ``own``, and one with no verb takes the verb of
        the clause before it ("Chưa có máy tính, Internet").

        ``has``: the column asks whether the child *has* ``own`` ("Có máy tính?", ``HAS_FIELDS``). A verb alone
        keeps its meaning ("Chưa có", "Không", "Hỏng": lacking; "Có", "Đã có": had), a bare mark is read the other
        way round ("x", "1", "✓": had; "0", "-": lacking), a clause naming items without a verb says they are had,
        and of several columns joined ("Không; Có") any that says the child has the item wins."""
        if type(value) is str:
            return self._needs_of_text(value, own, has)
        return self._needs(value, own, has)

    def _needs(self, value: Any, own: str | None, has: bool = False) -> tuple[bool | None, bool | None] | None:
        text = cell_text(value)
        if not text:
            return (None, None)
        said: dict[str, bool] = {}
        verb: bool | None = None
        for clause in _CLAUSES.split(text):
            key = fold(clause) or clause.strip()
            if not key:
                continue
            mark = self._mark(key)
            if has and own:
                lacks, rest = self._need_verb(key)
                if lacks is not None and not rest:  # "Chưa có", "Không", "Đã có": the verb says it
                    said[own] = said.get(own, True) and lacks
                    verb = lacks
                    continue
                if mark is not None:
                    said[own] = said.get(own, True) and not mark
                    continue
            if mark is not None:
                if own:
                    said[own] = said.get(own, False) or mark
                elif mark is False:
                    said.setdefault("device", False)
                    said.setdefault("internet", False)
                else:
                    return None  # "x" in a "Nhu cầu" column: which need?
                continue
            lacks, rest = self._need_verb(key)
            items, left = self._items(rest)
            if lacks is None:
                if any(w not in self.need_filler for w in left.split()):
                    return None  # "Dùng chung máy với anh": more than a need says
                lacks = verb if verb is not None else ((not has) if items else None)
            if not items:
                if lacks is None or (not own and lacks):
                    return None  # "Chưa có" in a "Nhu cầu" column: lacking what?
                items = {own} if own else {"device", "internet"}  # "Không có nhu cầu": nothing lacking
            verb = lacks
            for item in items:
                said[item] = (said.get(item, True) and lacks) if has else (said.get(item, False) or lacks)
        if not said:
            return None
        return said.get("device"), said.get("internet")

    def lacking(self, row: dict[str, Any]) -> tuple[bool, bool]:
        """(lacks a device, lacks the Internet) from a row's need cells: the "Chưa có thiết bị" / "Chưa có
        Internet" columns (marks or text), a "Nhu cầu" column (text), the "Có máy tính?" / "Có Internet?" columns
        (``HAS_FIELDS``: "Không" there is the need) and the note of a list with none of them (``NEED_IN_NOTE``). Text in a mark column that cannot be read still counts as its column's mark (layout
        reports it: ``need_unreadable``); in a "Nhu cầu" column or a note it says nothing."""
        device = internet = False
        for fld, own in [*NEED_FIELDS.items(), (NEED_IN_NOTE, None)]:
            said = self.needs(row.get(fld), own)
            if said is None:
                device = device or own == "device"
                internet = internet or own == "internet"
            else:
                device = device or said[0] is True
                internet = internet or said[1] is True
        for fld, own in HAS_FIELDS.items():  # unreadable text there says nothing (layout reports it)
            said = self.needs(row.get(fld), own, has=True)
            if said is not None:
                device = device or said[0] is True
                internet = internet or said[1] is True
        return device, internet

    def _mark(self, key: str) -> bool | None:
        if self.truthy.exact_match(key):
            return True
        if self.falsy.exact_match(key):
            return False
        return None

    def _need_verb(self, key: str) -> tuple[bool | None, str]:
        """(lacking / had / not said, the rest of the clause) from the words a clause begins with."""
        for words, lacks in self.need_verbs:
            if key == words or key.startswith(words + " "):
                return lacks, key[len(words):].strip()
        for words in self.need_lacks:  # "gia đình chưa có máy tính"
            at = f" {key} ".find(f" {words} ")
            if at > 0 and len(words.split()) > 1:
                return True, key[at + len(words):].strip()
        return None, key

    def _items(self, key: str) -> tuple[set[str], str]:
        """The items a clause names, and the words left when they are taken out."""
        padded = f" {key} "
        found: set[str] = set()
        for words, item in self.need_items:
            if f" {words} " in padded:
                padded = padded.replace(f" {words} ", " # ")
                found.update(("device", "internet") if item == "both" else (item,))
        return found, " ".join(w for w in padded.split() if w != "#")

    # --- named values ---
    def named(self, mapping: str, value: Any, among: Iterable[str] | None = None) -> str:
        """The key of the ``mapping`` vocabulary (donation_kind, donation_status, device_state, override_action,
        need) whose words name the cell, only among the keys ``among`` when given; "" when none does."""
        vocabs = self._mappings.get(mapping)
        if vocabs is None:
            vocabs = self._mappings[mapping] = {k: _Vocab(v) for k, v in self.cfg.headers.mapping(mapping).items()}
        if among is not None:
            vocabs = {k: v for k, v in vocabs.items() if k in among}
        return _mapping_match(fold(cell_text(value)), vocabs)


_VOCABULARIES: dict[int, tuple[AppConfig, Vocabularies]] = {}


def vocabularies(cfg: AppConfig) -> Vocabularies:
    """The lookups of ``cfg``, built on first use."""
    return built_for(_VOCABULARIES, cfg, Vocabularies)

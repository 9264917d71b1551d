"""Stage 3 — normalize: turn the raw cells layout lifted out into typed, official values.

Every text cell is NFC Unicode with TCVN3 / VNI-Windows text repaired (``flows.intake.legacy_fonts``). Names are
cleaned and title-cased; dates come from Excel dates, serial numbers or text in the ways schools write them;
grades from "3A", "Lớp 7", "Khối 8"; phones to ``0xxxxxxxxx``; categories and yes/no marks from the value
vocabularies in ``config/headers.yaml``; schools, communes and villages to the official names and codes of
``config/district.yaml``. Nothing is dropped: the text the school wrote stays in ``raw_<field>`` so validation
can quote it, and a value that cannot be read becomes empty (validation reports it).
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import math
import re
from typing import Any, Iterable

import pandas as pd

from flows.config import AppConfig
from flows.frames import CONNECTIVITY_COLUMNS, DONATION_COLUMNS, HANDOVER_COLUMNS, PROVENANCE, STUDENT_COLUMNS
from flows.intake.legacy_fonts import to_unicode
from flows.text import clean_spaces, fold, split_name, strip_tones, title_name, is_missing

# Fields whose raw text is kept as ``raw_<field>`` in the students frame.
STUDENT_RAW_FIELDS = (
    "full_name", "date_of_birth", "sex", "grade", "school", "commune", "village", "guardian_name", "phone",
    "national_id", "category", "lacks_device", "lacks_internet",
)
_FORMULA_START = ("=", "+", "-", "@")


# --- Cells ----------------------------------------------------------------------------------------------------
def _text(value: Any) -> str:
    """The cell as the school reads it: legacy fonts repaired, NFC, surrounding space removed."""
    if is_missing(value):
        return ""
    if isinstance(value, str):
        return to_unicode(value).replace("\u00a0", " ").strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y") if value.time() == dt.time() else value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


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
_VILLAGE_PREFIXES = ("thon", "khu pho", "khu", "xom", "ban", "to dan pho", "tdp")  # not "làng": "Thôn Làng Mới"
_COMMUNE_PREFIXES = ("ubnd", "thi tran", "xa", "tt", "phuong")


def _close(key: str, keys: Iterable[str], cutoff: float) -> str | None:
    """The nearest key for a small typo ("bai haoo" -> "bai hao"), never a different word: the words must be as
    many and begin with the same letters ("dong tuan" is not "dong quan")."""
    words = key.split()
    for candidate in difflib.get_close_matches(key, list(keys), n=3, cutoff=cutoff):
        other = candidate.split()
        if len(other) == len(words) and all(a[0] == b[0] for a, b in zip(words, other)):
            return candidate
    return None


def _strip_prefix(key: str, prefixes: Iterable[str]) -> str:
    for p in prefixes:
        if key.startswith(p + " "):
            return key[len(p) + 1:]
    return key


class _Context:
    """Config turned into lookups, built once per configuration."""

    def __init__(self, cfg: AppConfig):
        self.cfg = cfg
        values = cfg.headers
        self.truthy = _Vocab(values.vocabulary("truthy"))
        self.falsy = _Vocab(values.vocabulary("falsy"))
        self.truthy_prefixes = sorted((fold(w) for w in values.vocabulary("truthy") if " " in fold(w)), key=len)[::-1]
        self.falsy_prefixes = sorted((fold(w) for w in values.vocabulary("falsy") if " " in fold(w)), key=len)[::-1]
        self.sex_male = _Vocab(values.vocabulary("sex_male"))
        self.sex_female = _Vocab(values.vocabulary("sex_female"))
        self.category = {c: _Vocab(values.vocabulary(f"category_{c}")) for c in _CATEGORIES}
        self.donation_kind = {k: _Vocab(v) for k, v in values.mapping("donation_kind").items()}
        self.donation_status = {k: _Vocab(v) for k, v in values.mapping("donation_status").items()}
        district = cfg.district
        self.school_index = cfg.school_index
        self.commune_index = cfg.commune_index
        self.commune_bare = {}
        for key, code in self.commune_index.items():
            self.commune_bare.setdefault(_strip_prefix(key, _COMMUNE_PREFIXES), code)
        self.villages: dict[str, dict[str, str]] = {}
        for c in district.communes:
            self.villages[c.code] = {}
            for v in c.villages:
                self.villages[c.code].setdefault(_village_key(v), v)
        self.schools_in_commune: dict[str, list] = {}
        for s in district.schools:
            self.schools_in_commune.setdefault(s.commune, []).append(s)

    # --- yes / no ---
    def flag(self, value: Any) -> bool | None:
        """True (marked / yes), False (no), None (empty). Any other text in a mark column counts as a mark."""
        text = _text(value)
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
        key = fold(_text(value))
        if not key or key.startswith(("chua", "khong")) or self.falsy.exact_match(key):
            return False
        return True

    # --- places ---
    def school(self, text: str, grade: int | None = None) -> str:
        key = fold(text)
        if not key:
            return ""
        candidates = [key, _strip_prefix(key, ("truong",))]
        expanded = re.sub(r"\btrung hoc co so\b", "thcs", re.sub(r"\btieu hoc\b", "th", candidates[-1]))
        expanded = re.sub(r"\bth va thcs\b", "th thcs", expanded)
        candidates.append(expanded)
        for k in candidates:
            if k in self.school_index:
                return self.school_index[k]
        hits = [(len(k), code) for k, code in self.school_index.items() if f" {k} " in f" {expanded} "]
        if hits:
            return max(hits)[1]
        commune = self.commune(expanded)
        if commune:
            schools = self.schools_in_commune.get(commune, [])
            level = "TH" if grade is not None and grade <= 5 else "THCS" if grade is not None else None
            fitting = [s for s in schools if level is None or s.level in (level, "TH&THCS")]
            if "thcs" in expanded.split():
                fitting = [s for s in schools if s.level in ("THCS", "TH&THCS")]
            elif "th" in expanded.split():
                fitting = [s for s in schools if s.level in ("TH", "TH&THCS")]
            if len(fitting) == 1:
                return fitting[0].code
            return ""
        close = _close(expanded, self.school_index, 0.85)
        return self.school_index[close] if close else ""

    def commune(self, text: str) -> str:
        key = fold(text)
        if not key:
            return ""
        if key in self.commune_index:
            return self.commune_index[key]
        bare = _strip_prefix(key, _COMMUNE_PREFIXES)
        if bare in self.commune_bare:
            return self.commune_bare[bare]
        hits = [(len(k), code) for k, code in self.commune_bare.items() if len(k) > 4 and f" {k} " in f" {key} "]
        if hits:
            return max(hits)[1]
        close = _close(bare, self.commune_bare, 0.85)
        return self.commune_bare[close] if close else ""

    def village(self, text: str, commune_code: str) -> str:
        """The official village name in the commune, tolerating case, tones, "Thôn"/"Khu"/"Xóm" and typos; the
        cleaned text when it cannot be matched."""
        cleaned = clean_spaces(text)
        if not cleaned:
            return ""
        villages = self.villages.get(commune_code, {})
        if villages:
            parts = [p for p in re.split(r"[,;]", cleaned) if p.strip()]
            for part in parts:
                key = _village_key(part)
                if key in villages:
                    return villages[key]
            for part in parts:
                close = _close(_village_key(part), villages, 0.85)
                if close:
                    return villages[close]
        if cleaned.isupper() or cleaned.islower():
            return title_name(cleaned)
        first = cleaned.split(" ", 1)
        if fold(first[0]) in _VILLAGE_PREFIXES and len(first) == 2:  # "thôn Hố Cát" -> "Thôn Hố Cát"
            return first[0].capitalize() + " " + first[1]
        return cleaned


def _village_key(text: str) -> str:
    return _strip_prefix(fold(text), _VILLAGE_PREFIXES)


_CONTEXTS: dict[int, tuple[AppConfig, _Context]] = {}


def _context(cfg: AppConfig) -> _Context:
    entry = _CONTEXTS.get(id(cfg))
    if entry is None or entry[0] is not cfg:
        entry = (cfg, _Context(cfg))
        _CONTEXTS[id(cfg)] = entry
    return entry[1]


# --- Value parsers --------------------------------------------------------------------------------------------
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_DMY = re.compile(r"(\d{1,2})\s*[/\-.\s]\s*(\d{1,2})\s*[/\-.\s]\s*(\d{4}|\d{2})")
_YMD = re.compile(r"(\d{4})\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{1,2})")
_WORDY = re.compile(r"ngay\s*(\d{1,2})\s*thang\s*(\d{1,2})\s*nam\s*(\d{4})")
# a month by its English name, day first or month first ("26-Aug-1956", "Aug 26, 1956", "26 August 1956")
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                       "dec"), 1)}
_DAY_MONTH_NAME = re.compile(r"(\d{1,2})[\s\-/.]*([a-z]{3,9})\.?[\s\-/.,]*(\d{4})")
_MONTH_NAME_DAY = re.compile(r"([a-z]{3,9})\.?[\s\-/.]*(\d{1,2})(?:st|nd|rd|th)?,?[\s\-/.]*(\d{4})")
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
    text = _TIME_TAIL.sub("", clean_spaces(_text(value)))
    if not text:
        return "", None
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


_GRADE_WORDS = {"mot": 1, "hai": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5, "sau": 6, "bay": 7, "tam": 8, "chin": 9,
                "i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10,
                "xi": 11, "xii": 12}  # in words, or in Roman numerals ("Lớp VI")
# one or two words ("Lớp", "Khối lớp", a mistyped "Líp") before the number, a class letter or number after it
_GRADE = re.compile(r"(?:[a-z]+\s+){0,2}(\d{1,2})(?:\s*[/\-.]?\s*[a-z]?\s*\d{0,2})?")


def parse_grade(value: Any) -> int | None:
    """The grade number of "3A", "Lớp 7", "lớp 6B", "6/1", "7", 7.0, "Khối 8"; None if unreadable."""
    if is_missing(value) or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    key = fold(_text(value)).replace("/", " / ")
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
        if words[0] == "nam" and not prefixed and "ă" not in _text(value).lower():
            return None
        return _GRADE_WORDS[words[0]]
    return None


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


def parse_phone(value: Any) -> str:
    """"0xxxxxxxxx" when the cell holds a Vietnamese number (spaces, dots, dashes, +84, a lost leading 0);
    otherwise the digits as written (validation warns)."""
    if is_missing(value) or isinstance(value, bool):
        return ""
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not value.is_integer():
            return ""
        return _phone_digits(str(int(value)))
    text = _text(value)
    if not text:
        return ""
    parts = [p for p in re.split(r"[/,;|]|\s-\s|\s+hoặc\s+|\s{2,}", text, flags=re.IGNORECASE) if p.strip()]
    for part in parts:
        digits = _phone_digits(part)
        if len(digits) == 10 and digits.startswith("0"):
            return digits
    return _phone_digits(text)


def _national_id(value: Any) -> str:
    if is_missing(value) or isinstance(value, bool):
        return ""
    if isinstance(value, (int, float)):
        digits = str(int(value)) if float(value).is_integer() else _text(value)
        return "0" + digits if len(digits) == 11 else digits
    text = _text(value)
    digits = re.sub(r"[\s.\-]", "", text)
    if digits.isdigit():
        return "0" + digits if len(digits) == 11 else digits
    return text


_NAME_EDGE = re.compile(r"^[\s\"'`.,;:*\-_]+|[\s\"'`.,;:*\-_]+$")


def _clean_name(value: Any) -> str:
    """A person's name: legacy fonts repaired, NFC, single spaces, title case ("NGUYỄN  thị ánh" ->
    "Nguyễn Thị Ánh")."""
    text = _NAME_EDGE.sub("", clean_spaces(_text(value)))
    return title_name(text) if text else ""


_AMOUNT_UNITS = (("ty", 1_000_000_000), ("trieu", 1_000_000), ("tr", 1_000_000), ("nghin", 1_000), ("ngan", 1_000),
                 ("k", 1_000))


def _parse_amount(value: Any) -> int | None:
    """VND from 50000000, "50.000.000", "50,000,000 đ", "50 triệu", "1,5 tỷ"; None if not a number."""
    if is_missing(value) or isinstance(value, bool) or value == "":
        return None
    if isinstance(value, (int, float)):
        return int(round(value))
    key = " ".join(strip_tones(_text(value)).lower().split())
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


def _parse_quantity(value: Any) -> int | None:
    if is_missing(value) or isinstance(value, bool) or value == "":
        return None
    if isinstance(value, (int, float)):
        return int(value) if float(value).is_integer() else None
    m = re.search(r"\d[\d.,]*", _text(value))
    if not m:
        return None
    number = m.group(0)
    if re.fullmatch(r"\d{1,3}([.,]\d{3})+", number):
        number = number.replace(".", "").replace(",", "")
    try:
        return int(float(number.replace(",", ".")))
    except ValueError:
        return None


# --- Rows -----------------------------------------------------------------------------------------------------
def _raw(row: dict[str, Any], fld: str) -> str:
    return _text(row.get(fld))


def _formula_like(row: dict[str, Any], fields: Iterable[str]) -> list[str]:
    found = []
    for fld in fields:
        value = row.get(fld)
        if not isinstance(value, str):
            continue
        text = value.strip()
        if len(text) < 2 or not text.startswith(_FORMULA_START):
            continue
        if fld == "phone" and re.fullmatch(r"\+?[\d\s.\-()]+", text):
            continue
        if re.fullmatch(r"[+\-]?\d+([.,]\d+)?", text):
            continue
        found.append(fld)
    return found


def _category(row: dict[str, Any], ctx: _Context) -> str:
    """poor | near_poor | covid_orphan | none, from the category text and the x-mark columns; the highest tier
    named wins. Unknown text counts as none (its raw text stays in raw_category)."""
    named: list[str] = []
    text = _raw(row, "category")
    if text:  # the whole text, and its parts: "Hộ nghèo, mồ côi do COVID-19"
        parts = [text, *re.split(r"[,;+/]|\svà\s", text)]
        named.extend(c for part in dict.fromkeys(fold(p) for p in parts) if (c := _category_of(part, ctx)))
    for fld, cat in (("category_poor", "poor"), ("category_near_poor", "near_poor"),
                     ("category_covid_orphan", "covid_orphan"), ("category_other", "none")):
        if ctx.flag(row.get(fld)):
            named.append(cat)
    if not named:
        return "none"
    return min(named, key=ctx.cfg.district.tier_rank)


def _category_of(key: str, ctx: _Context) -> str:
    if not key:
        return ""
    for cat in _CATEGORIES:
        if ctx.category[cat].exact_match(key):
            return cat
    best = max(((ctx.category[c].contains_match(key), c) for c in _CATEGORIES), default=(0, ""))
    return best[1] if best[0] else ""


def _sex(row: dict[str, Any], ctx: _Context) -> str:
    key = fold(_raw(row, "sex"))
    if key:
        if ctx.sex_male.exact_match(key):
            return "M"
        if ctx.sex_female.exact_match(key):
            return "F"
    female, male = row.get("sex_female"), row.get("sex_male")
    f_mark = ctx.flag(female) is True
    m_mark = ctx.flag(male) is True
    if f_mark and not m_mark:
        return "F"
    if m_mark and not f_mark:
        return "M"
    if not key and not is_missing(female) and is_missing(male) and not f_mark:
        return "M"  # the usual form has only a "Nữ" column: an unmarked child is a boy
    return ""


def _rows(raw: pd.DataFrame) -> list[dict[str, Any]]:
    if raw is None or raw.empty:
        return []
    return raw.to_dict(orient="records")


def _frame(records: list[dict[str, Any]], columns: list[str], ints: Iterable[str] = (),
           bools: Iterable[str] = ()) -> pd.DataFrame:
    extra = [c for c in (records[0] if records else {}) if c not in columns]
    frame = pd.DataFrame.from_records(records, columns=[*columns, *extra]) if records else \
        pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    for c in ints:
        frame[c] = pd.array([None if is_missing(v) else int(v) for v in frame[c]], dtype="Int64")
    for c in bools:
        frame[c] = frame[c].astype(bool)
    if "source_row" in frame and len(frame):
        frame["source_row"] = frame["source_row"].astype(int)
    return frame


def _provenance(row: dict[str, Any]) -> dict[str, Any]:
    return {c: ("" if is_missing(row.get(c)) else row.get(c)) for c in PROVENANCE}


def normalize_students(raw: pd.DataFrame, cfg: AppConfig) -> pd.DataFrame:
    """Typed student rows: ``STUDENT_COLUMNS`` + ``raw_<field>`` (text as written) + ``note`` +
    ``formula_like`` (fields whose text began with = + - @; kept literally)."""
    ctx = _context(cfg)
    district = cfg.district
    out = []
    for row in _rows(raw):
        list_type = _text(row.get("list_type"))
        unit_code = _text(row.get("unit_code"))
        grade = parse_grade(row.get("grade"))
        dob, year = parse_date(row.get("date_of_birth"))
        full_name = _clean_name(row.get("full_name"))
        family, middle, given = split_name(full_name)
        school_text = _raw(row, "school")
        school_code = ctx.school(school_text, grade) if school_text else ""
        if not school_code and list_type == "school" and unit_code in district.school_by_code:
            school_code = unit_code
        commune_text = _raw(row, "commune")
        village_text = _raw(row, "village")
        if commune_text:
            commune_code = ctx.commune(commune_text)
        else:
            commune_code = ""
            if "," in village_text:  # an address: "Thôn Bãi Hào, xã Hữu Liên"
                for part in village_text.split(",")[1:]:
                    commune_code = commune_code or ctx.commune(part)
            # A commune's list is about the children living in that commune, wherever they go to school;
            # a school's list without an address column says nothing better than the school's own commune.
            if not commune_code and list_type == "commune" and unit_code in district.commune_by_code:
                commune_code = unit_code
            if not commune_code and school_code:
                commune_code = district.school_by_code[school_code].commune
        record = {
            **_provenance(row),
            "list_type": list_type,
            "unit_code": unit_code,
            "school_code": school_code,
            "school": district.school_by_code[school_code].name if school_code else "",
            "commune_code": commune_code,
            "commune": district.commune_by_code[commune_code].name if commune_code else "",
            "village": ctx.village(village_text, commune_code),
            "full_name": full_name,
            "family_name": family,
            "middle_name": middle,
            "given_name": given,
            "date_of_birth": dob,
            "birth_year": year,
            "sex": _sex(row, ctx),
            "grade": grade,
            "guardian_name": _clean_name(row.get("guardian_name")),
            "phone": parse_phone(row.get("phone")),
            "national_id": _national_id(row.get("national_id")),
            "category": _category(row, ctx),
            "lacks_device": ctx.flag(row.get("lacks_device")) is True,
            "lacks_internet": ctx.flag(row.get("lacks_internet")) is True,
        }
        for fld in STUDENT_RAW_FIELDS:
            record[f"raw_{fld}"] = _raw(row, fld)
        record["note"] = _raw(row, "note")
        record["formula_like"] = _formula_like(row, [*STUDENT_RAW_FIELDS, "note"])
        out.append(record)
    columns = [*STUDENT_COLUMNS, *(f"raw_{f}" for f in STUDENT_RAW_FIELDS), "note", "formula_like"]
    return _frame(out, columns, ints=("birth_year", "grade"), bools=("lacks_device", "lacks_internet"))


def _donation_id(parts: Iterable[Any], seen: dict[str, int]) -> str:
    digest = hashlib.sha1("|".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:8].upper()
    n = seen.get(digest, 0)
    seen[digest] = n + 1
    return f"TT-{digest}" + (f"-{n + 1}" if n else "")


def normalize_donations(raw: pd.DataFrame, cfg: AppConfig) -> pd.DataFrame:
    """Donations: ``DONATION_COLUMNS`` (+ ``raw_<field>``). A row without its own id gets a stable one made from
    its content, so inserting a row above it does not change it."""
    ctx = _context(cfg)
    out = []
    seen: dict[str, int] = {}
    for row in _rows(raw):
        kind = _mapping_match(fold(_raw(row, "kind")), ctx.donation_kind)
        amount = _parse_amount(row.get("amount_vnd"))
        quantity = _parse_quantity(row.get("quantity"))
        if not kind and amount is not None and quantity is None:
            kind = "cash"
        if kind in ("cash", "budget"):
            quantity = None
        status = _mapping_match(fold(_raw(row, "status")), ctx.donation_status) or "received"
        date, _ = parse_date(row.get("date"))
        donor = clean_spaces(_raw(row, "donor"))
        earmark_text = clean_spaces(_raw(row, "earmark"))
        school_code = _earmark_school(earmark_text, ctx)
        commune_code = "" if school_code else ctx.commune(earmark_text) if earmark_text else ""
        donation_id = clean_spaces(_raw(row, "donation_id")) or _donation_id(
            (_text(row.get("source_id")), _text(row.get("source_sheet")), donor, date, kind, quantity, amount), seen)
        out.append({
            **_provenance(row),
            "donation_id": donation_id, "donor": donor, "date": date, "kind": kind, "quantity": quantity,
            "amount_vnd": amount, "status": status, "earmark_commune_code": commune_code,
            "earmark_school_code": school_code, "earmark_text": earmark_text, "note": _raw(row, "note"),
            **{f"raw_{f}": _raw(row, f) for f in ("date", "kind", "quantity", "amount_vnd", "status", "earmark")},
        })
    return _frame(out, DONATION_COLUMNS, ints=("quantity", "amount_vnd"))


def _earmark_school(text: str, ctx: _Context) -> str:
    key = fold(text)
    if not key:
        return ""
    hits = [(len(k), code) for k, code in ctx.school_index.items() if f" {k} " in f" {key} "]
    return max(hits)[1] if hits else ""


def normalize_connectivity(raw: pd.DataFrame, cfg: AppConfig) -> pd.DataFrame:
    """Village coverage: commune from its column, else the sheet's unit; village to its official name."""
    ctx = _context(cfg)
    district = cfg.district
    out = []
    for row in _rows(raw):
        commune_text = _raw(row, "commune")
        unit_code = _text(row.get("unit_code"))
        commune_code = ctx.commune(commune_text) if commune_text else ""
        if not commune_code and not commune_text:
            if unit_code in district.commune_by_code:
                commune_code = unit_code
            elif unit_code in district.school_by_code:
                commune_code = district.school_by_code[unit_code].commune
            else:
                commune_code = ctx.commune(_text(row.get("source_sheet")))
        out.append({
            **_provenance(row),
            "commune_code": commune_code,
            "commune": district.commune_by_code[commune_code].name if commune_code else "",
            "village": ctx.village(_raw(row, "village"), commune_code),
            "has_3g": ctx.has(row.get("has_3g")),
            "has_4g": ctx.has(row.get("has_4g")),
            "has_fibre": ctx.has(row.get("has_fibre")),
            "note": _raw(row, "note"),
            "households": _parse_quantity(row.get("households")),
            "raw_commune": commune_text,
            "raw_village": _raw(row, "village"),
        })
    return _frame(out, CONNECTIVITY_COLUMNS, ints=("households",), bools=("has_3g", "has_4g", "has_fibre"))


_ITEMS = ("desktop", "laptop", "tablet", "smartphone", "internet_package")


def normalize_handover(raw: pd.DataFrame, cfg: AppConfig) -> pd.DataFrame:
    """Handover records: names cleaned, dates ISO, the item as desktop/laptop/tablet/smartphone/internet_package."""
    ctx = _context(cfg)
    district = cfg.district
    items = {k: v for k, v in ctx.donation_kind.items() if k in _ITEMS}
    out = []
    for row in _rows(raw):
        school_text = _raw(row, "school")
        school_code = ctx.school(school_text) if school_text else ""
        dob, _ = parse_date(row.get("date_of_birth"))
        handed, _ = parse_date(row.get("handover_date"))
        serial = row.get("serial")
        out.append({
            **_provenance(row),
            "person_id": clean_spaces(_raw(row, "person_id")),
            "full_name": _clean_name(row.get("full_name")),
            "date_of_birth": dob,
            "school": district.school_by_code[school_code].name if school_code else clean_spaces(school_text),
            "item": _mapping_match(fold(_raw(row, "item")), items),
            "serial": clean_spaces(_text(serial)),
            "handover_date": handed,
            "received_by": _clean_name(row.get("received_by")),
            "donation_id": clean_spaces(_raw(row, "donation_id")),
            "school_code": school_code,
            "note": _raw(row, "note"),
            **{f"raw_{f}": _raw(row, f) for f in ("full_name", "date_of_birth", "school", "item", "handover_date")},
        })
    return _frame(out, HANDOVER_COLUMNS)


# --- officer sheets: device-use follow-up and allocation overrides --------------------------------------------
FOLLOW_UP_COLUMNS = [*PROVENANCE, "person_id", "full_name", "date_of_birth", "school", "school_code", "item",
                     "serial", "state", "checked_on", "checked_by", "note"]
OVERRIDE_SOURCE_COLUMNS = [*PROVENANCE, "person_id", "full_name", "date_of_birth", "school", "school_code", "action",
                           "need", "item", "donation_id", "officer", "reason", "decided_on", "note"]


def _officer_identity(row: dict[str, Any], ctx: _Context, cfg: AppConfig) -> dict[str, Any]:
    """Who an officer's row is about: programme id if written, else name, birth date and school."""
    school_text = _raw(row, "school")
    school_code = ctx.school(school_text) if school_text else ""
    dob, _ = parse_date(row.get("date_of_birth"))
    return {
        "person_id": clean_spaces(_raw(row, "person_id")).upper(),
        "full_name": _clean_name(row.get("full_name")),
        "date_of_birth": dob,
        "school": cfg.district.school_by_code[school_code].name if school_code else clean_spaces(school_text),
        "school_code": school_code,
    }


def normalize_follow_up(raw: pd.DataFrame, cfg: AppConfig) -> pd.DataFrame:
    """Device-use checks: the child, the device (item, serial), its state in_use | broken | lost ("" when the
    sheet's wording is not known), the check date ISO, who checked."""
    ctx = _context(cfg)
    items = {k: v for k, v in ctx.donation_kind.items() if k in _ITEMS}
    states = {k: _Vocab(v) for k, v in cfg.headers.mapping("device_state").items()}
    out = []
    for row in _rows(raw):
        checked, _ = parse_date(row.get("checked_on"))
        out.append({
            **_provenance(row), **_officer_identity(row, ctx, cfg),
            "item": _mapping_match(fold(_raw(row, "item")), items),
            "serial": clean_spaces(_text(row.get("serial"))),
            "state": _mapping_match(fold(_raw(row, "device_state")), states),
            "checked_on": checked,
            "checked_by": _clean_name(row.get("checked_by")),
            "note": _raw(row, "note"),
            **{f"raw_{f}": _raw(row, f) for f in ("full_name", "device_state", "checked_on")},
        })
    return _frame(out, FOLLOW_UP_COLUMNS)


def normalize_overrides(raw: pd.DataFrame, cfg: AppConfig) -> pd.DataFrame:
    """Officer overrides: action exclude | release | assign ("" when unknown), need device | internet | "" (both),
    item for an assignment, the officer, the reason and the decision date ISO."""
    ctx = _context(cfg)
    items = {k: v for k, v in ctx.donation_kind.items() if k in _ITEMS}
    actions = {k: _Vocab(v) for k, v in cfg.headers.mapping("override_action").items()}
    needs = {k: _Vocab(v) for k, v in cfg.headers.mapping("need").items()}
    out = []
    for row in _rows(raw):
        decided, _ = parse_date(row.get("decided_on"))
        item = _mapping_match(fold(_raw(row, "item")), items)
        out.append({
            **_provenance(row), **_officer_identity(row, ctx, cfg),
            "action": _mapping_match(fold(_raw(row, "action")), actions),
            "need": _mapping_match(fold(_raw(row, "need")), needs),
            "item": item,
            "donation_id": clean_spaces(_raw(row, "donation_id")),
            "officer": clean_spaces(_raw(row, "officer")),
            "reason": clean_spaces(_raw(row, "reason")),
            "decided_on": decided,
            "note": _raw(row, "note"),
            **{f"raw_{f}": _raw(row, f) for f in ("full_name", "action", "item", "decided_on")},
        })
    return _frame(out, OVERRIDE_SOURCE_COLUMNS)

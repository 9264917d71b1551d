"""Vietnamese text helpers shared by every stage: folding for matching, name parts, collation."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from functools import lru_cache, wraps

import pandas as pd

# Pure functions of one text are memoized: a night reads the same village, class, mark and header texts thousands
# of times. Bounded, so that a process running district after district does not grow; results are unchanged.
TEXT_CACHE = 1 << 16


def memo_text(fn):  # noqa: ANN001, ANN201
    """``fn`` (a pure function of one cell) remembered for text cells; any other value is computed each time.
    ``fn`` must return an immutable value (a str, a number, a tuple)."""
    cached = lru_cache(maxsize=TEXT_CACHE)(fn)

    @wraps(fn)
    def call(value):  # noqa: ANN001, ANN202
        return cached(value) if type(value) is str else fn(value)

    call.cache_info, call.cache_clear = cached.cache_info, cached.cache_clear
    return call

_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w/]+", re.UNICODE)


def nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def has_marks(text: str) -> bool:
    """Whether a text is written with any letter beyond ASCII (Vietnamese tones and marks, Đ)."""
    return any(ord(ch) > 127 for ch in unicodedata.normalize("NFC", text))


def strip_tones(value: str) -> str:
    """Remove Vietnamese diacritics: "Đặng Thị Ánh" -> "Dang Thi Anh"."""
    if value.isascii():
        return value
    # Each character that decomposes to one ASCII letter and non-spacing marks only (every Vietnamese letter) is
    # stripped on its own, from a table: decomposing never moves a mark past a letter, and ASCII composes to
    # itself, so the text is the characters' results joined. Any other character: the whole text the long way.
    table = _STRIPPED
    out = []
    for ch in value:
        stripped = table.get(ch)
        if stripped is None:
            stripped = table[ch] = _stripped_char(ch)
        if not stripped:
            return _strip_tones(value)
        out.append(stripped)
    return "".join(out)


_STRIPPED: dict[str, str] = {}  # character -> its ASCII letter without marks, "" when it is not that simple


def _stripped_char(ch: str) -> str:
    decomposed = unicodedata.normalize("NFD", ch.replace("Đ", "D").replace("đ", "d"))
    base, marks = decomposed[0], decomposed[1:]
    return base if base.isascii() and all(unicodedata.category(m) == "Mn" for m in marks) else ""


def _strip_tones(value: str) -> str:
    decomposed = unicodedata.normalize("NFD", value.replace("Đ", "D").replace("đ", "d"))
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn"))


def fold(value: object) -> str:
    """Matching key: lower case, no tones, Đ->d, punctuation other than "/" turned into spaces, single spaces."""
    if value is None:
        return ""
    return _fold(value if type(value) is str else str(value))


@lru_cache(maxsize=TEXT_CACHE)
def _fold(value: str) -> str:
    text = strip_tones(nfc(value)).lower()
    text = _PUNCT.sub(" ", text).replace("_", " ")
    return _SPACE.sub(" ", text).strip()


# A place numbered in words or in digits is one place: "Thôn Ba" is "Thôn 3", "Khu Năm" is "Khu 5". Marked
# spellings, and the unmarked ones that are nothing but numbers ("Mot", "Muoi"): "Nam" (south), "Sau", "Tu", "Tam"
# and "Bay" written without marks are names as often as numbers.
_NUMBER_WORDS = {"một": "1", "mot": "1", "hai": "2", "ba": "3", "bốn": "4", "tư": "4", "năm": "5", "sáu": "6",
                 "bảy": "7", "bẩy": "7", "tám": "8", "chín": "9", "mười": "10", "muoi": "10"}


def place_number(name: str) -> str | None:
    """The digits a place's name (its generic word such as "Thôn" already taken off) stands for when it is a number
    and nothing else: "Ba" -> "3", "3" -> "3", "03" -> "3", "Mười" -> "10"; None for a name ("Nà Ba", "Nam")."""
    word = nfc(str(name)).strip().lower()
    if word.isdigit():
        return str(int(word))
    return _NUMBER_WORDS.get(word)


# Invisible characters pasted in from web pages and chat apps: a zero-width space stands between two words;
# joiners, the byte-order mark and soft hyphens stand for nothing.
_INVISIBLE = str.maketrans({"\u200b": " ", "\u2060": " ", "\u200c": None, "\u200d": None, "\ufeff": None,
                            "\u00ad": None})


@lru_cache(maxsize=TEXT_CACHE)
def clean_spaces(value: str) -> str:
    """Single spaces, none at either end; no-break, zero-width and other invisible spacing undone."""
    return _SPACE.sub(" ", value.translate(_INVISIBLE)).strip()


@lru_cache(maxsize=TEXT_CACHE)
def title_name(value: str) -> str:
    """NFC, single spaces, each word capitalised, one tone placement ("NGUYỄN  thị THUỲ" -> "Nguyễn Thị Thủy")."""
    words = clean_spaces(nfc(value)).split(" ")
    return " ".join(tone_placement(_capitalise(w)) for w in words if w)


def _capitalise(word: str) -> str:
    """First letter upper, the rest lower; a leading mark stays ("=hà" -> "=Hà", "(thị)" -> "(Thị)")."""
    lower = word.lower()
    for i, ch in enumerate(lower):
        if ch.isalpha():
            return lower[:i] + ch.upper() + lower[i + 1:]
    return lower


# Syllables ending in oa, oe or uy carry the tone on either vowel ("Hoà"/"Hòa", "Thuỷ"/"Thủy"); both spellings
# are in use. Names are written with the placement of the official unit names (Hòa Bình, Thủy) so that one
# child is spelled one way in every workbook.
_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"
_SECOND_VOWEL_TONE = re.compile(rf"([oO])([aAeE])([{_TONE_MARKS}])$|(?<![qQ])([uU])([yY])([{_TONE_MARKS}])$")


def tone_placement(word: str) -> str:
    """Move a final "oà/oè/uỳ"-style tone to the first vowel ("Hoà" -> "Hòa", "Thuỷ" -> "Thủy"; "Quý" stays)."""
    decomposed = unicodedata.normalize("NFD", word)
    moved = _SECOND_VOWEL_TONE.sub(lambda m: (m.group(1) + m.group(3) + m.group(2)) if m.group(1)
                                   else (m.group(4) + m.group(6) + m.group(5)), decomposed)
    return unicodedata.normalize("NFC", moved) if moved != decomposed else word


def split_name(full_name: str) -> tuple[str, str, str]:
    """(family, middle, given) of a Vietnamese full name written family-name first."""
    words = full_name.split()
    if not words:
        return "", "", ""
    if len(words) == 1:
        return "", "", words[0]
    return words[0], " ".join(words[1:-1]), words[-1]


# Vietnamese alphabet order: a ă â b c d đ e ê g h i k l m n o ô ơ p q r s t u ư v x y; tones after letters in
# the order unmarked, huyền, hỏi, ngã, sắc, nặng (the order used by Vietnamese dictionaries).
_BASE_ORDER = "aăâbcdđeêghiklmnoôơpqrstuưvxy"
_TONE_ORDER = {"": 0, "\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}
_LETTER_MARKS = {"\u0306": "ă", "\u0302": "^", "\u031b": "'"}


def _letter_key(ch: str) -> tuple[int, int]:
    decomposed = unicodedata.normalize("NFD", ch.lower())
    base, marks = decomposed[0], decomposed[1:]
    tone = 0
    for m in marks:
        if m in _TONE_ORDER:
            tone = _TONE_ORDER[m]
    letter = base
    if "\u0306" in marks:
        letter = "ă"
    elif "\u0302" in marks:
        letter = {"a": "â", "e": "ê", "o": "ô"}.get(base, base)
    elif "\u031b" in marks:
        letter = {"o": "ơ", "u": "ư"}.get(base, base)
    pos = _BASE_ORDER.find(letter)
    if pos < 0:
        return (100 + ord(letter) if letter.isalpha() else ord(letter) - 1000, tone)
    return (pos, tone)


_LETTER_KEYS: dict[str, tuple[int, int]] = {}  # character -> _letter_key(character): a pure function, tabled


def collation_key(text: str) -> tuple:
    """Sort key for Vietnamese text: letters first by base letter, then tones (as a second pass)."""
    table = _LETTER_KEYS
    keys = []
    for ch in nfc(text):
        k = table.get(ch)
        if k is None:
            if ch.isspace():
                continue
            k = table[ch] = _letter_key(ch)
        keys.append(k)
    return (tuple(k[0] for k in keys), tuple(k[1] for k in keys))


def name_sort_key(full_name: str) -> tuple:
    """Vietnamese list order: by given name, then family name, then middle name."""
    family, middle, given = split_name(full_name)
    return (collation_key(given), collation_key(family), collation_key(middle))


def is_missing(value: object) -> bool:
    """None, pandas NA/NaT or a float NaN: an empty cell whatever the frame's dtype."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and value != value


def as_text(value: object) -> str:
    """A cell as plain text: "" when missing, whole floats without ".0", dates as ISO, strings stripped."""
    if type(value) is str:
        return value.strip()
    if is_missing(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.date, pd.Timestamp)):
        return value.isoformat()[:10]
    return str(value).strip()


# A spreadsheet opening a CSV runs a cell that begins with one of these (OWASP, "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# What follows a leading + or - in a formula rather than in a listed name ("- Nguyễn Văn An"): a number, a
# bracket, another operator, a function call ("+SUM(") or a cell reference ("-A1").
_SIGNED_FORMULA = re.compile(r"[+\-]\s*(?:[\d(=+\-@]|[A-Za-z_][\w.]*\s*\(|[A-Za-z]{1,3}\$?\d)")


def csv_safe(text: str) -> str:
    """``text`` as a CSV cell no spreadsheet runs: a leading single quote when it begins with = + - @, a tab or
    a carriage return (OWASP); anything else unchanged."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def is_formula(text: str) -> bool:
    """Whether ``text`` (as the school wrote it) is a spreadsheet formula rather than words: it begins with
    ``=`` or ``@``, or with ``+``/``-`` followed by a number, bracket, operator, function or cell reference."""
    stripped = text.strip()
    if len(stripped) < 2:
        return False
    return stripped[0] in "=@" or bool(_SIGNED_FORMULA.match(stripped))

"""Repair text typed in the legacy Vietnamese font encodings TCVN3 (ABC, ``.VnTime``) and VNI-Windows.

Before Unicode, Vietnamese offices typed with fonts that drew Vietnamese letters in place of Latin-1 /
Windows-1252 characters. Excel keeps the code points, so a cell typed "Nguyễn Văn Đức" in ``.VnTime`` arrives
as ``"NguyÔn V¨n §øc"`` and in ``VNI-Times`` as ``"Nguyeãn Vaên Ñöùc"``.

``to_unicode`` converts one cell. It is conservative: it only converts when some word of the cell is not
Vietnamese as read in Unicode but becomes a valid Vietnamese syllable when read in a legacy encoding, and every
other word the conversion touches becomes a valid syllable too (one odd word, such as the Tày name "Slín", is
allowed when two others prove the encoding). Text with Unicode-only Vietnamese letters, plain ASCII, and French,
German or English text are returned unchanged. A cell whose every word is Vietnamese both ways ("Vâ Tó" is
TCVN3 for "Võ Tú") cannot be told apart on its own and is left as it is.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any, Iterable

# --- The tables ----------------------------------------------------------------------------------------------
# Vietnamese vowels with their shape, and the five tones in the order used by both legacy tables below:
# sắc (acute), huyền (grave), hỏi (hook), ngã (tilde), nặng (dot below).
_TONES = ("\u0301", "\u0300", "\u0309", "\u0303", "\u0323")
_VOWELS = ("a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y")


def _toned(letter: str, tone: str) -> str:
    return unicodedata.normalize("NFC", letter + tone)


def all_letters() -> list[str]:
    """The 134 Vietnamese letters that are not plain ASCII: 12 vowels x 6 tones minus a e i o u y, plus đ;
    lower and upper case."""
    lower = [v for v in _VOWELS if not v.isascii()]
    lower += [_toned(v, t) for v in _VOWELS for t in _TONES]
    lower.append("đ")
    return lower + [ch.upper() for ch in lower]


# TCVN3 (TCVN 5712:1993, VN3 / "ABC"): one byte per lowercase letter; tones per vowel in the order
# sắc, huyền, hỏi, ngã, nặng. Upper case exists only for the untoned Ă Â Ê Ô Ơ Ư Đ; toned capitals are typed
# with the lowercase code points and drawn in capitals by the ``.VnTimeH`` fonts.
_TCVN3_LOWER: dict[str, str] = {
    "ă": "\u00a8", "â": "\u00a9", "ê": "\u00aa", "ô": "\u00ab", "ơ": "\u00ac", "ư": "\u00ad", "đ": "\u00ae",
}
_TCVN3_TONED = {  # vowel: (sắc, huyền, hỏi, ngã, nặng)
    "a": "¸µ¶·¹", "ă": "¾»¼½Æ", "â": "ÊÇÈÉË", "e": "ÐÌÎÏÑ", "ê": "ÕÒÓÔÖ", "i": "Ý×ØÜÞ",
    "o": "ãßáâä", "ô": "èåæçé", "ơ": "íêëìî", "u": "óïñòô", "ư": "øõö÷ù", "y": "ýúûüþ",
}
for _v, _codes in _TCVN3_TONED.items():
    for _t, _c in zip(_TONES, _codes):
        _TCVN3_LOWER[_toned(_v, _t)] = _c
_TCVN3_UPPER = {"Ă": "¡", "Â": "¢", "Ê": "£", "Ô": "¤", "Ơ": "¥", "Ư": "¦", "Đ": "§"}

# Unicode letter -> TCVN3 text (toned capitals reuse the lowercase code point).
TCVN3_ENCODE: dict[str, str] = {**_TCVN3_LOWER, **_TCVN3_UPPER}
for _ch, _c in _TCVN3_LOWER.items():
    TCVN3_ENCODE.setdefault(_ch.upper(), _c)
_TCVN3_CAPITALS = frozenset(_TCVN3_UPPER.values())
_TCVN3_DECODE: dict[str, str] = {c: ch for ch, c in {**_TCVN3_LOWER, **_TCVN3_UPPER}.items()}

# VNI-Windows: a base letter followed by a mark byte; ơ ư đ and the toned i, ỵ are single bytes.
_VNI_TONE = {"\u0301": "ù", "\u0300": "ø", "\u0309": "û", "\u0303": "õ", "\u0323": "ï"}
_VNI_CIRCUMFLEX = {"": "â", "\u0301": "á", "\u0300": "à", "\u0309": "å", "\u0303": "ã", "\u0323": "ä"}
_VNI_BREVE = {"": "ê", "\u0301": "é", "\u0300": "è", "\u0309": "ú", "\u0303": "ü", "\u0323": "ë"}
_VNI_SINGLE = {"ơ": "ô", "ư": "ö", "đ": "ñ", "í": "í", "ì": "ì", "ỉ": "æ", "ĩ": "ó", "ị": "ò", "ỵ": "î"}


def _build_vni() -> dict[str, str]:
    lower: dict[str, str] = {}
    for base in "aeouy":
        for tone, mark in _VNI_TONE.items():
            lower[_toned(base, tone)] = base + mark
    for base, shaped in (("a", "â"), ("e", "ê"), ("o", "ô")):
        for tone, mark in _VNI_CIRCUMFLEX.items():
            lower[_toned(shaped, tone)] = base + mark
    for tone, mark in _VNI_BREVE.items():
        lower[_toned("ă", tone)] = "a" + mark
    lower.update(_VNI_SINGLE)
    for base, single in (("ơ", "ô"), ("ư", "ö")):
        for tone, mark in _VNI_TONE.items():
            lower[_toned(base, tone)] = single + mark
    table = dict(lower)
    for ch, code in lower.items():
        table[ch.upper()] = code.upper()
    return table


# Unicode letter -> VNI text.
VNI_ENCODE: dict[str, str] = _build_vni()
_VNI_DECODE: dict[str, str] = {code: ch for ch, code in VNI_ENCODE.items()}
# Tolerate a capital base with a lowercase mark byte ("Aù") and the reverse: case follows the base letter.
for _code, _ch in list(_VNI_DECODE.items()):
    if len(_code) == 2:
        for _variant, _target in ((_code[0].upper() + _code[1].lower(), _ch.upper()),
                                  (_code[0].lower() + _code[1].upper(), _ch.lower())):
            _VNI_DECODE.setdefault(_variant, _target)
_VNI_PAIRS = {k: v for k, v in _VNI_DECODE.items() if len(k) == 2}
_VNI_SINGLES = {k: v for k, v in _VNI_DECODE.items() if len(k) == 1}


def encode(text: str, encoding: str) -> str:
    """Unicode -> legacy text ("tcvn3" or "vni"); used by tests and sample generators."""
    table = TCVN3_ENCODE if encoding == "tcvn3" else VNI_ENCODE
    return "".join(table.get(ch, ch) for ch in unicodedata.normalize("NFC", text))


def _decode_tcvn3(text: str) -> str:
    out = "".join(_TCVN3_DECODE.get(ch, ch) for ch in text)
    # .VnTimeH text typed in capitals uses lowercase code points for toned letters: restore the capitals
    # when every other letter of the cell is a capital.
    has_lower = any(ch.isascii() and ch.islower() for ch in text)
    capitals = (sum(1 for ch in word if (ch.isascii() and ch.isupper()) or ch in _TCVN3_CAPITALS)
                for word in text.split())
    if not has_lower and max(capitals, default=0) >= 2:
        out = out.upper()
    return out


def _decode_vni(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        pair = text[i:i + 2]
        if len(pair) == 2 and pair in _VNI_PAIRS:
            out.append(_VNI_PAIRS[pair])
            i += 2
            continue
        out.append(_VNI_SINGLES.get(text[i], text[i]))
        i += 1
    return "".join(out)


_DECODERS = {"tcvn3": _decode_tcvn3, "vni": _decode_vni}


def decode(text: str, encoding: str) -> str:
    """Read ``text`` in ``encoding`` ("tcvn3" or "vni") unconditionally: for a cell whose sheet is known to be
    in that encoding but which is ambiguous on its own ("Líp" is a Unicode word, and "Lớp" in TCVN3)."""
    return unicodedata.normalize("NFC", _DECODERS[encoding](unicodedata.normalize("NFC", text)))


# --- Plausibility: is a word a Vietnamese syllable? ---------------------------------------------------------
_INITIALS = ("ngh", "ng", "gh", "gi", "kh", "nh", "ph", "th", "tr", "ch", "qu",
             "b", "c", "d", "đ", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "x", "")
_FINALS = ("ch", "ng", "nh", "c", "m", "n", "p", "t", "")
_NUCLEI = frozenset("""
a ă â e ê i o ô ơ u ư y
ai ao au ay âu ây eo êu ia iu iê oa oă oe oi oo ôô ôi ơi ua uâ uê ui uô uơ uy ưa ưi ươ ưu yê
iêu yêu oai oay oao oeo uây uôi ươi ươu uya uyê uyu uêu
""".split())
_TONE_MARKS = frozenset(_TONES)
_STOP_FINALS = frozenset({"c", "ch", "p", "t"})
_FRONT = ("e", "ê", "i", "y")  # k, gh, ngh only before these; c, ng never before e, ê, i
_NEED_FINAL = frozenset("ă â iê yê uô ươ uyê oă uâ oo ôô".split())
_NO_FINAL = frozenset("""ai ao au ay âu ây eo êu iu oi ôi ơi ui ưi ưu ia ua ưa uya oai oay oao oeo uây uôi ươi ươu
uyu iêu yêu uêu y""".split())
_SHAPE_MARKS = {"\u0302": "aeo", "\u0306": "a", "\u031b": "ou"}  # circumflex, breve, horn: allowed bases


@lru_cache(maxsize=65536)
def is_syllable(word: str) -> bool:
    """True when ``word`` (any case) is a well-formed Vietnamese syllable: initial + vowel nucleus + final,
    one tone at most and on a vowel, spelling rules (k/gh/ngh before e ê i y; c/ng not before e ê i; no "quu"),
    a final only after nuclei that take one, and only sắc or nặng before a stop final (c, ch, p, t)."""
    tones: list[str] = []
    base = ""
    kept: list[str] = []
    for ch in unicodedata.normalize("NFD", word.lower()):
        if ch in _TONE_MARKS:
            if base not in "aeiouy" or not base:
                return False
            tones.append(ch)
        elif unicodedata.combining(ch):
            if ch not in _SHAPE_MARKS or not base or base not in _SHAPE_MARKS[ch]:
                return False
            kept.append(ch)
        elif ch == "đ" or "a" <= ch <= "z":
            base = ch
            kept.append(ch)
        else:
            return False
    if len(tones) > 1:
        return False
    bare = unicodedata.normalize("NFC", "".join(kept))
    tone = tones[0] if tones else ""
    for ini in _INITIALS:
        if not bare.startswith(ini):
            continue
        rest = bare[len(ini):]
        if (ini in ("k", "gh", "ngh") and not rest.startswith(_FRONT)) or (
                ini in ("c", "ng") and rest.startswith(_FRONT[:3])) or (ini == "qu" and rest.startswith(("u", "ư"))):
            continue
        for fin in _FINALS:
            if fin and not rest.endswith(fin):
                continue
            nucleus = rest[: len(rest) - len(fin)]
            if nucleus not in _NUCLEI or (ini == "qu" and nucleus[0] == "o" and len(nucleus) > 1):
                continue
            if (fin and nucleus in _NO_FINAL and not (ini == "qu" and nucleus == "y")) or (
                    not fin and nucleus in _NEED_FINAL):
                continue
            if fin in _STOP_FINALS and tone not in ("\u0301", "\u0323"):
                continue
            return True
    return False


# Words are split on white space and ASCII punctuation only: TCVN3 letters such as "¨" or "µ" are symbols in
# Unicode and must stay inside their word.
_WORD_SPLIT = re.compile(r"[\s,;:.!?()\[\]{}\"'/\\|<>*&%$#@=+_~`^0-9-]+")
_VIET_UNICODE = re.compile("[\u0102\u0103\u0110\u0111\u0128\u0129\u0168\u0169\u01a0\u01a1\u01af\u01b0"
                           "\u1ea0-\u1ef9\u0300-\u036f]")


def _legacy_reading(text: str, encoding: str) -> str | None:
    """The text read in ``encoding`` if that reading is plausible Vietnamese and the Unicode reading is not;
    None otherwise."""
    decoded = _DECODERS[encoding](text)
    if decoded == text:
        return None
    raw_words = [w for w in _WORD_SPLIT.split(text) if w]
    new_words = [w for w in _WORD_SPLIT.split(decoded) if w]
    if len(raw_words) != len(new_words):
        return None
    changed = [(r, n) for r, n in zip(raw_words, new_words) if r.lower() != n.lower()]
    if not changed:
        return None
    invalid = sum(1 for _, n in changed if not is_syllable(n))
    # Evidence: a word that is not Vietnamese as written, is Vietnamese when read in the legacy encoding, and is
    # shaped like a word (starts with a letter) rather than a symbol such as "©" or "µm".
    evidence = sum(1 for r, n in changed if is_syllable(n) and _word_shaped(r) and not _reads_as_vietnamese(r))
    # One odd word (a Tày or Nùng name such as "Slín") is tolerated when two others prove the encoding.
    if evidence == 0 or invalid > (1 if evidence >= 2 else 0):
        return None
    return decoded


# Frequent syllables of names, places and form labels: only used to choose between two plausible readings.
_COMMON = frozenset("""
nguyễn trần lê phạm hoàng huỳnh phan vũ võ đặng bùi đỗ hồ ngô dương lý lường nông hà lục triệu mạc chu đàm
vi lăng hứa lương đinh tô quách hoàng văn thị đức ngọc minh quốc thu thanh hữu xuân bảo gia khánh tuấn mỹ
phương hải kim diệu tường nhật thuỳ thùy hoài an anh ánh bình chi cường dũng duyên đạt giang hạnh hiếu hoa
hùng hương huyền khoa khuê lan linh loan long mai my nam nga ngân nghĩa nhung oanh phúc quân quỳnh sơn tâm
thảo thắng thủy thuỷ trang trinh tú tuyết uyên vân việt vy yến hiển diễm nguyệt trung tiến thành công
hiền hoà hòa huệ hằng hồng hưng huy kiên lâm lực mạnh nhi như phong quang quý sang tài thái thanh thơ
thư toàn trâm trí trọng tùng tươi vinh vương yên đông đồng đào đăng điệp hậu hiệp hợp tân tín tình
họ và tên ngày tháng năm sinh lớp trường thôn xã khu xóm bản hộ nghèo cận mồ côi do khó khăn khác đối
tượng chưa có thiết bị mạng kết nối ghi chú số điện thoại giới tính nữ phụ huynh bố mẹ cha tiểu học trung
cơ sở huyện tỉnh lạng hữu lũng ưng ơn ấn ổn liên yên thịnh vượng thiện tiến cai kinh lạc nham tiến làng mới cầu ngầm
""".split())
_LEGACY_CAPITALS = frozenset("¡¢£¤¥¦§ÑÖÔÍÌÆÓÒÎ")


def _word_shaped(word: str) -> bool:
    first = word[0]
    if first.isascii() and first.isalpha():
        return True
    return first in _LEGACY_CAPITALS and len(word) >= 2


_INNER_CAPITAL = re.compile(r"[a-z][^\W\d_]*[^\W\d_a-z]", re.UNICODE)


def _reads_as_vietnamese(word: str) -> bool:
    """A Unicode word that could stand in Vietnamese text: a syllable, and no capital after a small letter
    ("NguyÔn", "TuÊn" are TCVN3 even though "nguyôn"/"tuên" might pass as shapes)."""
    if not is_syllable(word):
        return False
    m = _INNER_CAPITAL.search(word)
    return not (m and m.group(0)[-1].isupper())


@lru_cache(maxsize=65536)
def _analyse(text: str) -> tuple[str, str]:
    if text.isascii():
        return "ascii", text
    if _VIET_UNICODE.search(text):
        return "unicode", text
    readings = {enc: r for enc in ("tcvn3", "vni") if (r := _legacy_reading(text, enc)) is not None}
    if len(readings) == 1:
        (enc, result), = readings.items()
        return enc, result
    if len(readings) == 2:
        # Both readings are Vietnamese: prefer the one that leaves fewer non-Vietnamese words, then the one that
        # keeps the capital letters that begin words.
        def rank(item: tuple[str, str]) -> tuple[int, int, int, int]:
            words = [w for w in _WORD_SPLIT.split(item[1]) if w]
            invalid = sum(1 for w in words if not w.isascii() and not is_syllable(w))
            lowered = sum(1 for raw, new in zip(_WORD_SPLIT.split(text), _WORD_SPLIT.split(item[1]))
                          if raw[:1].isupper() and new[:1].islower())
            common = sum(1 for w in words if w.lower() in _COMMON)
            changed = sum(1 for raw, new in zip(_WORD_SPLIT.split(text), _WORD_SPLIT.split(item[1])) if raw != new)
            return invalid, lowered, -common, -changed
        return min(readings.items(), key=rank)
    return "unicode", text


def detect(text: str) -> str:
    """"ascii" (nothing to repair), "unicode" (already Unicode, or not Vietnamese: left alone), "tcvn3" or "vni"."""
    if not isinstance(text, str) or not text:
        return "ascii"
    return _analyse(unicodedata.normalize("NFC", text))[0]


def to_unicode(text: str) -> str:
    """One cell to NFC Unicode, repairing TCVN3 / VNI text; anything else comes back NFC-normalised only."""
    if not isinstance(text, str) or not text:
        return text
    return _to_unicode(text if type(text) is str else str(text))


@lru_cache(maxsize=65536)
def _to_unicode(text: str) -> str:
    nfc_text = unicodedata.normalize("NFC", text)
    return unicodedata.normalize("NFC", _analyse(nfc_text)[1])


# --- A sheet's evidence ---------------------------------------------------------------------------------------
# A cell is often ambiguous on its own: "Líp" is a Unicode word and "Lớp" in TCVN3, "Beá" reads as TCVN3 "Beỏ"
# as well as VNI "Bế", "SÑT" is TCVN3 "SẸT" and VNI "SĐT". The cells of one sheet were typed in one font (or
# pasted from a few), so the cells that are not ambiguous tell how to read the ones that are. ``SheetFonts``
# counts, per column and for the whole sheet, the cells each reading decides (Unicode-only Vietnamese letters
# vote for Unicode); ``read`` then reads every cell, header or data alike, with that same evidence.
_LOCAL_VOTES = 2  # a cell's row and column with fewer cells that tell: the sheet's evidence decides
_ABBREVIATION = re.compile(r"[BCDĐGHKLMNPQRSTVX]{1,5}")  # "SĐT", "ĐT", "TĐC": capitals without a vowel


@lru_cache(maxsize=65536)
def _vote(text: str) -> str | None:
    """What one cell says about its sheet's font: "unicode", "tcvn3", "vni", or None (ASCII, or only Latin-1
    letters that read as Unicode: no evidence either way)."""
    if not isinstance(text, str) or text.isascii():
        return None
    text = unicodedata.normalize("NFC", text)
    if _VIET_UNICODE.search(text):
        return "unicode"
    readings = [enc for enc in ("tcvn3", "vni") if _legacy_reading(text, enc) is not None]
    return readings[0] if len(readings) == 1 else None  # both fonts read it: no evidence


def _common_words(text: str) -> int:
    return sum(1 for w in _WORD_SPLIT.split(text) if w and w.lower() in _COMMON)


def _acceptable(raw: str, reading: str) -> bool:
    """``reading`` of ``raw`` in a legacy font is Vietnamese: every word it changes is a syllable or a capital
    abbreviation ("SĐT"); one odd word is allowed when two others are syllables."""
    raw_words = [w for w in _WORD_SPLIT.split(raw) if w]
    new_words = [w for w in _WORD_SPLIT.split(reading) if w]
    if len(raw_words) != len(new_words):
        return False
    changed = [n for r, n in zip(raw_words, new_words) if r != n]
    if not changed:
        return False
    good = sum(1 for n in changed if is_syllable(n) or _ABBREVIATION.fullmatch(n))
    odd = len(changed) - good
    return odd == 0 or (odd == 1 and good >= 2)


class SheetFonts:
    """The font evidence of one sheet (its rows as cell lists) and the reading of each cell with it."""

    def __init__(self, rows: Iterable[Iterable[Any]]):
        self.rows: dict[int, dict[str, int]] = {}
        self.columns: dict[int, dict[str, int]] = {}
        self.sheet: dict[str, int] = {}
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                vote = _vote(str(value)) if isinstance(value, str) else None
                if vote:
                    for count in (self.rows.setdefault(r, {}), self.columns.setdefault(c, {}), self.sheet):
                        count[vote] = count.get(vote, 0) + 1

    @property
    def legacy(self) -> bool:
        """Some cell of the sheet is in a legacy font."""
        return bool(self.sheet.get("tcvn3") or self.sheet.get("vni"))

    @staticmethod
    def _winner(count: dict[str, int]) -> str | None:
        legacy = max(("tcvn3", "vni"), key=lambda e: count.get(e, 0))
        return legacy if count.get(legacy, 0) > count.get("unicode", 0) else None

    def encoding(self, row: int | None = None, column: int | None = None) -> tuple[str | None, bool]:
        """(the legacy font the cell's row and column — else the sheet — are mostly typed in, or None; whether
        Unicode cells are mixed in). A header row pasted from an old template, or a column typed in .VnTime in a
        Unicode sheet, is read in its own font."""
        count: dict[str, int] = {}
        for part in (self.rows.get(row, {}) if row is not None else {},
                     self.columns.get(column, {}) if column is not None else {}):
            for enc, n in part.items():
                count[enc] = count.get(enc, 0) + n
        if sum(count.values()) < _LOCAL_VOTES:
            count = self.sheet
        return self._winner(count), bool(count.get("unicode"))

    def read(self, text: str, row: int | None = None, column: int | None = None) -> str:
        """One cell in NFC Unicode, read with the evidence of its row and column (else of its sheet).

        A cell with Unicode-only Vietnamese letters, or ASCII, is Unicode. Otherwise, when the evidence says one
        legacy font, the cell is read in that font if that reading is Vietnamese and the cell on its own said the
        other legacy font ("Beá": VNI "Bế", not TCVN3 "Beỏ"; "SÑT": VNI "SĐT", not TCVN3 "SẸT"), or it said
        Unicode and the font's reading has more of the usual words ("Líp" -> "Lớp") or, where no Unicode cell is
        mixed in, as many. Anything else is read as ``to_unicode`` reads it alone."""
        if not isinstance(text, str) or not text:
            return text
        nfc_text = unicodedata.normalize("NFC", text)
        own_enc, own = _analyse(nfc_text)
        own = unicodedata.normalize("NFC", own)
        if own_enc == "ascii" or _VIET_UNICODE.search(nfc_text):
            return own
        enc, mixed = self.encoding(row, column)
        if enc is None or own_enc == enc:
            return own
        reading = decode(nfc_text, enc)
        if reading == nfc_text or not _acceptable(nfc_text, reading):
            return own
        if own_enc != "unicode":
            return reading  # the other legacy font: the sheet decides
        gain = _common_words(reading) - _common_words(own)
        return reading if gain > 0 or (gain == 0 and not mixed) else own

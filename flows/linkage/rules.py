"""Record linkage: the hard rules no probability overrides, and the pairs only an officer may join.

``cannot_link`` says why two records can never be one child ("" if nothing forbids it); ``doubt`` why a pair
must go to the review queue whatever its probability. Readable rules, not weights.
"""

from __future__ import annotations

import functools
import unicodedata


from flows.linkage.features import VILLAGE_WORDS

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



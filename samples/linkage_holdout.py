"""Held-out benchmark for the record linker: Vietnamese children listed by schools and communes.

Simulates a mountain district: 20 communes of 6-11 villages (Kinh names, numbered "Thôn 3", Tày/Nùng-style
"Thôn Nà Pàn", "Bản Khuổi Cụm") and 40 schools (a TH in every commune and a second one in six, a THCS in
fourteen). Households of a father and a mother with names of their own have 1-3 school-age children, some of them
twins or triplets; brothers' households share a village (cousins born close together); common names recur in a
commune (namesakes). Each child is on its school's list (class by class, twins adjacent with one guardian), often
on its commune's list (from the household register: the head as guardian, sometimes a birth year only or no
school, sometimes next year's grade), sometimes on the supplementary list of a school it moved to or of the
district. Clerks make the name errors of ``NAME_ERRORS`` and the date, village, guardian, phone and grade errors
below; some lists are typed in capitals, without marks or decomposed (NFD).

Written without reading the training generator, the linkage model or its configuration and not tuned to the
linker: the set is held out from training and from setting thresholds. ``true_person`` (the child),
``twin_group`` (twins or triplets, else empty) and ``list_id`` are truth for scoring, not linker input.

    python -m samples.linkage_holdout --children 3000 --seed 7 --out holdout.csv
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

import pandas as pd

SCHOOL_YEAR = 2021
COLUMNS = ["record_id", "full_name", "date_of_birth", "sex", "guardian_name", "commune", "village", "school",
           "grade", "phone", "national_id", "address", "list_id", "true_person", "twin_group"]


def _table(text: str):
    """``"Nguyễn:22 Vi:7"`` -> a draw of one name by weight (1 when omitted)."""
    pairs = [item.partition(":") for item in text.split()]
    return lambda rng: rng.choices([name for name, _, _ in pairs], [float(w or 1) for _, _, w in pairs])[0]


FAMILY = _table("Nguyễn:20 Hoàng:12 Lương:8 Vi:7 Nông:7 Hà:6 Lành:5 Triệu:5 Lăng:4 Mông:3 Trần:4 Lê:3 Đinh:3 Lý:3 "
                "Chu:3 Dương:3 Đặng:2 Hứa:2 Lục:2 Bế:2 Phạm:2 Vũ:2 Mã Hầu Sầm Lộc Tô Đàm Ninh Giáp Làu Phùng Sằm "
                "Mạc Ngôn Vy Đổng")
GIVEN = {"F": _table("Linh:6 Anh:5 Trang:5 Huyền:4 Thảo:4 Hương:4 Ngọc:3 Hà:3 Lan:3 Mai:3 Nhung:3 Thủy:3 Thúy:2 "
                     "Hạnh:3 Hằng:3 Hiền:3 Yến:3 Vân:2 Ly:2 Ánh:2 Phương:3 Quỳnh:2 Dung:2 Giang:2 Nga:2 Ngân:2 "
                     "Như:2 Thương:2 Uyên:2 Vy:2 Duyên:2 Nhi:2 Chi:2 Hồng:2 Hoa:2 Tâm Loan Mỹ Diệp Huệ Liên Lụa "
                     "Thoa Xuân Phượng Trà Kiều Nguyệt Thắm Ngần Đào"),
         "M": _table("Minh:4 Anh:4 Hùng:3 Hưng:3 Cường:3 Dũng:3 Đức:3 Hải:3 Hiếu:3 Huy:3 Long:3 Nam:3 Quân:3 Sơn:3 "
                     "Tuấn:3 Đạt:3 Hoàng:2 Khánh:2 Kiên:2 Lâm:2 Mạnh:2 Quang:2 Tài:2 Thắng:2 Thành:2 Tiến:2 "
                     "Toàn:2 Trung:2 Việt:2 Vinh:2 Bảo:2 Duy:2 Khôi:2 Phúc:2 Tùng:2 Tú Lực Nghĩa Vũ Thái Công "
                     "Hậu Khang Kỳ Chiến Sỹ Nguyên Thịnh Đông Bắc Pháo Sáng Tuyển")}
MIDDLE = {"F": ("Thị", "Thu Ngọc Minh Thùy Hồng Phương Khánh Bảo Kim Mai Diệu Hải Thanh Lan Ánh Quỳnh".split()),
          "M": ("Văn", "Đức Minh Quang Hữu Tiến Gia Bảo Trung Thanh Mạnh Xuân Hoàng Công Ngọc Duy Tuấn".split())}
# Given names twins get that differ by one tone or one letter (name, sex, name, sex).
TWIN_PAIRS = [p.split("/") for p in ("Thủy/F/Thúy/F Hưng/M/Hùng/M Anh/F/Ánh/F Linh/F/Ly/F Phương/F/Phượng/F "
                                     "Quân/M/Quang/M Tuấn/M/Tú/M Hải/M/Hà/F Khánh/M/Khang/M Ngọc/F/Ngân/F "
                                     "Thảo/F/Thoa/F Hiếu/M/Hiền/F Long/M/Lâm/M Trang/F/Trà/F Anh/M/Ánh/F").split()]
COMMUNES = ("Nà Sầm,Tân Lập,Hòa Thắng,Yên Bình,Minh Khai,Quyết Tiến,Khuôn Văn,Vân Mộng,Đồng Tiến,Bình Sơn,Thanh Lòa,"
            "Pắc Khuông,Hồng Phong,Tú Mịch,Bắc Thủy,Na Dương,Kim Đồng,Thạch Đạn,Hội Hoan,Chiến Thắng").split(",")
TAY_HEAD = "Nà Khuổi Pác Khòn Cốc Lũng Phai Pò Kéo Nặm Khau Còn Slằng Co Khuôn Háng Bó Nà".split()
TAY_TAIL = "Pàn Cụm Lầy Mạ Sla Tèo Luông Mò Vằng Pục Thẳm Rọ Chặng Hin Rạo Tấu Ngần Lùng Phiêng Cáy Nưa Đon".split()
KINH = ("Đồng Tâm,Tân Lập,Hòa Bình,Trung Tâm,Đồng Tiến,Phố Mới,Liên Hợp,Thống Nhất,Quyết Thắng,Tân Tiến,Đoàn Kết,"
        "Bình Minh,Đồng Mỏ,Bãi Hát").split(",")
NUMBER_WORDS = "Một Hai Ba Bốn Năm Sáu Bảy Tám Chín Mười".split()
TONES, SHAPES = "\u0300\u0301\u0309\u0303\u0323", "\u0302\u0306\u031b"
HOOK, TILDE = "\u0309", "\u0303"
# Errors a clerk makes in a child's name, with their relative weights.
NAME_ERRORS = {"hoi_nga": 8, "tone": 10, "shape": 8, "strip": 4, "transpose": 6, "drop_letter": 5,
               "double_letter": 4, "upper": 4, "lower": 2, "nfd": 3, "double_space": 5, "drop_middle": 7,
               "add_middle": 4, "d_bar": 3, "given_first": 3}
DATE_FORMATS = {"iso": "{y:04d}-{m:02d}-{d:02d}", "dmy": "{d:02d}/{m:02d}/{y}", "dash": "{d}-{m}-{y}",
                "slash": "{d}/{m}/{y}"}


# kind: Thôn, Bản or Khu; core: "Nà Pàn", "Đồng Tâm" or "3"; number: of a numbered village; index: register order
Village = NamedTuple("Village", [("kind", str), ("core", str), ("number", "int | None"), ("index", int)])
# level: TH (grades 1-5) or THCS (6-9); commune: its index in COMMUNES
School = NamedTuple("School", [("code", str), ("name", str), ("level", str), ("commune", int)])


@dataclass(eq=False)
class Household:
    commune: int
    village: Village
    family: str
    father: list[str]  # family, middle words, given name
    mother: list[str]
    phones: dict[str, str]  # parent -> phone
    head: str  # the parent the household register names first
    kids: list = field(default_factory=list)


@dataclass(eq=False)
class Child:
    pid: str
    home: Household
    middles: list[str]
    given: str
    sex: str  # F or M
    dob: dt.date
    national_id: str
    twin_group: str = ""
    grade: int = 0  # 2021-2022: grade 1 for a child who turns 6 in 2021
    school: School | None = None
    klass: str = "A"
    school_parent: str = "mother"  # the guardian its school list names


# --- the district and its children ------------------------------------------------------------------------------

def _district(rng: random.Random) -> tuple[list[list[Village]], list[School], list[float]]:
    villages, schools = [], []
    for c, name in enumerate(COMMUNES):
        found: list[Village] = []
        while len(found) < 6 or (len(found) < 11 and rng.random() < 0.8):
            style = rng.choices(["tay", "kinh", "number"], [55, 25, 20])[0]
            number = sum(v.number is not None for v in found) + 1
            core = {"tay": f"{rng.choice(TAY_HEAD)} {rng.choice(TAY_TAIL)}", "kinh": rng.choice(KINH)}.get(style)
            if core is None:
                found.append(Village("Thôn", str(number), number, len(found)))
            elif all(v.core != core for v in found):
                kind = rng.choice(["Thôn", "Thôn", "Bản" if style == "tay" else "Khu"])
                found.append(Village(kind, core, None, len(found)))
        villages.append(found)
        schools.append(School(f"TH{c + 1:02d}", f"TH {name}", "TH", c))
    schools += [School(f"TH{c + 1:02d}B", f"TH số 2 {COMMUNES[c]}", "TH", c) for c in rng.sample(range(20), 6)]
    schools += [School(f"THCS{c + 1:02d}", f"THCS {COMMUNES[c]}", "THCS", c) for c in sorted(rng.sample(range(20), 14))]
    return villages, schools, [rng.uniform(0.5, 2.0) for _ in COMMUNES]


def _school_for(schools: list[School], kid: Child, grade: int) -> School | None:
    """The school for ``grade``: in the child's commune (of two, the village decides), else the nearest one."""
    if grade > 9:
        return None
    level, c = ("TH" if grade <= 5 else "THCS"), kid.home.commune
    options = sorted((s for s in schools if s.level == level), key=lambda s: (abs(s.commune - c), s.commune, s.code))
    here = [s for s in options if s.commune == options[0].commune]
    return here[kid.home.village.index % len(here)]


def _middles(rng: random.Random, sex: str) -> list[str]:
    common, others = MIDDLE[sex]
    return rng.choices([[common], [rng.choice(others)], [common, rng.choice(others)], []], [52, 28, 12, 8])[0]


def _population(rng: random.Random, villages, schools, weights, n: int) -> list[Child]:
    """Households until there are ``n`` children; twins share a class, the rest are spread over a grade's classes."""
    kids: list[Child] = []
    households: dict[int, list[Household]] = {}
    names: dict[tuple, list[tuple[list[str], str]]] = {}  # (commune, family, sex) -> names given there
    twins = 0
    lo, hi = dt.date(SCHOOL_YEAR - 14, 1, 1), dt.date(SCHOOL_YEAR - 6, 12, 31)
    while len(kids) < n:
        c = rng.choices(range(len(COMMUNES)), weights)[0]
        near = households.setdefault(c, [])
        brother = rng.choice(near) if near and rng.random() < 0.25 else None  # cousins live next door
        family = brother.family if brother else FAMILY(rng)
        village = brother.village if brother else rng.choice(villages[c])
        father = [family, *_middles(rng, "M"), GIVEN["M"](rng)]
        mother = [FAMILY(rng), *_middles(rng, "F"), GIVEN["F"](rng)]
        phones = {who: rng.choice(["09", "09", "03", "08", "07", "05"]) + f"{rng.randrange(10 ** 8):08d}"
                  for who, p in (("father", 0.7), ("mother", 0.6)) if rng.random() < p}
        hh = Household(c, village, family, father, mother, phones, "father" if rng.random() < 0.85 else "mother")
        near.append(hh)
        if brother and brother.kids and rng.random() < 0.5:  # a cousin born within half a year
            born = min(max(rng.choice(brother.kids).dob + dt.timedelta(rng.randint(-180, 180)), lo), hi)
        else:
            born = lo + dt.timedelta(rng.randrange((hi - lo).days + 1))
        taken = {father[-1], mother[-1]}
        for _ in range(rng.choices([1, 2, 3], [50, 38, 12])[0]):
            if born > hi or len(kids) >= n:
                break
            size = min(rng.choices([1, 2, 3], [975, 23, 2])[0], n - len(kids))
            twins += size > 1
            group = f"T{twins:04d}" if size > 1 else ""
            sexes = [rng.choice("FM")] * size if rng.random() < 0.6 else [rng.choice("FM") for _ in range(size)]
            given: list[str | None] = [None] * size
            fitting = [p for p in TWIN_PAIRS if sorted([p[1], p[3]]) == sorted(sexes)]
            if size == 2 and fitting and rng.random() < 0.5:  # names one tone or letter apart
                a, sa, b, sb = rng.choice(fitting)
                given, sexes = [a, b], [sa, sb]
            shared = _middles(rng, sexes[0]) if rng.random() < 0.7 else None
            for name, sex in zip(given, sexes):
                middles = list(shared) if shared is not None and sex == sexes[0] else _middles(rng, sex)
                pool = names.setdefault((c, family, sex), [])
                if name is None and pool and rng.random() < 0.05:  # a namesake in the commune
                    middles, name = rng.choice(pool)  # shared, never mutated
                while name is None or name in taken:
                    name = GIVEN[sex](rng)
                taken.add(name)
                pool.append((middles, name))
                nid = f"020{2 if sex == 'M' else 3}{born.year % 100:02d}{rng.randrange(10 ** 6):06d}"
                kid = Child(f"C{len(kids) + 1:05d}", hh, middles, name, sex, born, nid, group,
                            SCHOOL_YEAR - born.year - 5)
                kid.school = _school_for(schools, kid, kid.grade)
                hh.kids.append(kid)
                kids.append(kid)
            born = born + dt.timedelta(rng.randint(450, 1600))
    units: dict[tuple, list[Child]] = {}
    for kid in kids:
        units.setdefault((kid.school.code, kid.grade, kid.twin_group or kid.pid), []).append(kid)
    size = Counter((k.school.code, k.grade) for k in kids)
    for (school, grade, _), unit in units.items():
        letter = "ABCD"[rng.randrange(math.ceil(size[school, grade] / 32))]
        for kid in unit:
            kid.klass = letter
    return kids


# --- errors -----------------------------------------------------------------------------------------------------

def _clusters(syllable: str) -> list[list[str]]:
    """Letters with their combining marks (NFD)."""
    return [list(c) for c in re.findall("[^\u0300-\u036f][\u0300-\u036f]*", unicodedata.normalize("NFD", syllable))]


def _join(clusters: list[list[str]]) -> str:
    return unicodedata.normalize("NFC", "".join("".join(c) for c in clusters))


def tone_of(syllable: str) -> str:
    return next((ch for ch in unicodedata.normalize("NFD", syllable) if ch in TONES), "")


def with_tone(syllable: str, tone: str) -> str:
    """The syllable with another tone mark (``""``: none), on the vowel that bore one, else on the main vowel:
    the shaped one (â, ơ...), else the last before a final consonant, else the first of a final pair (Mai, Hoa);
    the u of qu and the i of gi are consonants."""
    clusters = _clusters(syllable)
    seat = next((i for i, c in enumerate(clusters) if any(m in TONES for m in c)), None)
    clusters = [[m for m in c if m not in TONES] for c in clusters]
    bases = [c[0].lower() for c in clusters]
    vowels = [i for i, b in enumerate(bases) if b in "aeiouy"]
    if len(vowels) > 1 and vowels[0] == 1 and bases[0] + bases[1] in ("qu", "gi"):
        vowels = vowels[1:]
    if seat is None and vowels:
        shaped = [i for i in vowels if len(clusters[i]) > 1]
        seat = shaped[-1] if shaped else vowels[-1] if len(vowels) == 1 or vowels[-1] < len(bases) - 1 else vowels[-2]
    if tone and seat is not None:
        clusters[seat].append(tone)
    return _join(clusters)


def strip_marks(text: str) -> str:
    plain = "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", plain.replace("đ", "d").replace("Đ", "D"))


SYLLABLE_ERRORS = ("hoi_nga", "tone", "shape", "transpose", "drop_letter", "double_letter")


def _fits(kind: str, s: str) -> bool:
    return {"hoi_nga": tone_of(s) in (HOOK, TILDE), "shape": any(m in unicodedata.normalize("NFD", s) for m in SHAPES),
            "transpose": len(s) >= 3 and len(set(s[1:])) > 1, "drop_letter": len(s) >= 3}.get(kind, True)


def _misspell(rng: random.Random, parts: list[str], kind: str) -> None:
    """One syllable error in a word of ``parts`` (the given name most often), if one fits."""
    where = [i for i, p in enumerate(parts) if _fits(kind, p)]
    if not where:
        return
    i = rng.choices(where, [3 if i == len(parts) - 1 else 1.5 if i == 0 else 1 for i in where])[0]
    s, now = parts[i], tone_of(parts[i])
    if kind in ("hoi_nga", "tone"):
        other = [t for t in ["", *TONES] if t != now and {t, now} != {HOOK, TILDE}]
        s = with_tone(s, (TILDE if now == HOOK else HOOK) if kind == "hoi_nga" else rng.choice(other))
    elif kind == "shape":
        s = _join([[m for m in c if m not in SHAPES] for c in _clusters(s)])
    elif kind == "transpose":
        j = rng.choice([j for j in range(1, len(s) - 1) if s[j] != s[j + 1]])
        s = s[:j] + s[j + 1] + s[j] + s[j + 2:]
    else:
        j = rng.randrange(1, len(s))
        s = s[:j] + s[j + 1:] if kind == "drop_letter" else s[:j] + s[j] + s[j:]
    parts[i] = s


def _name_text(rng: random.Random, person: list[str], sex: str, traits: dict, errors: int) -> str:
    """A name as a list writes it: ``errors`` clerk errors, then the list's habits (capitals, no marks, NFD)."""
    family, middles, given = person[0], list(person[1:-1]), person[-1]
    kinds, chosen = list(NAME_ERRORS), []
    while len(chosen) < errors and kinds:
        kind = rng.choices(kinds, [NAME_ERRORS[k] for k in kinds])[0]
        kinds.remove(kind)
        if not ((kind == "drop_middle" and not middles) or (kind == "d_bar" and "đ" not in "".join(person).lower())
                or (kind in ("hoi_nga", "shape") and not any(_fits(kind, p) for p in person))):
            chosen.append(kind)
    if "drop_middle" in chosen:
        del middles[rng.randrange(len(middles))]
    if "add_middle" in chosen:
        common, others = MIDDLE[sex]
        middles = [common, *middles] if common not in middles else [*middles, rng.choice(others)]
    parts = [family, *middles, given]
    for kind in (k for k in chosen if k in SYLLABLE_ERRORS):
        _misspell(rng, parts, kind)
    text = " ".join([parts[-1], *parts[:-1]] if "given_first" in chosen else parts)
    if "d_bar" in chosen:
        text = text.replace("Đ", "D").replace("đ", "d")
    if "strip" in chosen or traits["strip"]:
        text = strip_marks(text)
    if "upper" in chosen or traits["case"] == "upper":
        text = text.upper()
    elif "lower" in chosen or traits["case"] == "lower":
        text = text.lower()
    if "double_space" in chosen and " " in text:
        cut = rng.choice([i for i, ch in enumerate(text) if ch == " "])
        text = text[:cut] + " " + text[cut:]
    return unicodedata.normalize("NFD" if "nfd" in chosen or traits["nfd"] else "NFC", text)


def _date_text(rng: random.Random, born: dt.date, traits: dict) -> str:
    """The birth date as written: the list's format, sometimes the year only; errors: year off by one (same day
    and month), day and month swapped, one digit mistyped."""
    y, m, d = born.year, born.month, born.day
    error = rng.choices(["", "year_only", "year_shift", "swap", "digit"], [88, 2, 4, 3, 3])[0]
    if error == "year_only" or rng.random() < traits["year_only"]:
        return str(y)
    if error == "swap" and d <= 12 and d != m:
        m, d = d, m
    elif error == "year_shift":
        y, d = y + rng.choice([-1, 1]), min(d, 28) if m == 2 else d
    elif error:
        iso = f"{y:04d}{m:02d}{d:02d}"
        typos = [iso[:i] + c + iso[i + 1:] for i in range(3, 8) for c in "0123456789" if c != iso[i]]
        typo = rng.choice([t for t in typos if 0 < int(t[4:6]) <= 12 and 0 < int(t[6:]) <= 28])
        y, m, d = int(typo[:4]), int(typo[4:6]), int(typo[6:])
    fmt = traits["date_fmt"] if rng.random() > 0.08 else rng.choice(list(DATE_FORMATS))
    return DATE_FORMATS[fmt].format(y=y, m=m, d=d)


def _village_text(rng: random.Random, v: Village, traits: dict) -> str:
    """The list's way ("Thôn Nà Pàn" or "Nà Pàn", "Thôn 3" or "Thôn Ba"), sometimes another or none."""
    if rng.random() < traits["no_village"]:
        return ""
    full = f"{v.kind} {v.core}"
    forms = {"full": full, "core": v.core, "lower": f"{v.kind.lower()} {v.core}", "strip": strip_marks(full),
             "strip_core": strip_marks(v.core), "kind": f"{'Thôn' if v.kind == 'Bản' else 'Bản'} {v.core}",
             "word": f"Thôn {NUMBER_WORDS[(v.number or 1) - 1] if (v.number or 99) <= 10 else v.core}",
             "so": f"Thôn số {v.core}"}
    usual = traits["village"] if v.number is None else "word" if traits["numbers_in_words"] else "full"
    if rng.random() < 0.12:  # written another way
        usual = rng.choice(["full", "lower", "word", "so", "strip"] if v.number else
                           ["full", "core", "lower", "strip", "strip_core", "kind"])
    return forms[usual]


def _phone_text(rng: random.Random, number: str | None, rate: float) -> str:
    """Often empty; sometimes one digit wrong or missing; 0912 345 678, 0912.345.678 or +84 as well."""
    if not number or rng.random() >= rate:
        return ""
    if rng.random() < 0.07:
        i = rng.randrange(2, len(number))
        wrong = rng.choice("0123456789".replace(number[i], "")) if rng.random() < 0.5 else ""
        number = number[:i] + wrong + number[i + 1:]
    style = rng.choices(["", " ", ".", "+84 ", "+84"], [70, 12, 8, 5, 5])[0]
    if style in (" ", "."):
        return style.join([number[:4], number[4:7], number[7:]])
    return style + number[1:] if style else number


def _traits(rng: random.Random, kind: str) -> dict:
    """The habits of one list: how it writes names, dates, villages and grades, and which columns it fills."""
    commune = kind == "commune"
    return {
        "case": rng.choices(["", "upper", "lower"], [88, 9, 3])[0], "strip": rng.random() < 0.05,
        "nfd": rng.random() < 0.08, "date_fmt": rng.choices(list(DATE_FORMATS), [65, 22, 8, 5])[0],
        "year_only": (0.5 if rng.random() < 0.3 else 0.03) if commune else 0.01,
        "village": rng.choice(["full", "full", "core"]), "numbers_in_words": rng.random() < 0.3,
        "no_village": 0.02 if commune else 0.1, "grade": rng.choices(["num", "class", "lop"], [60, 25, 15])[0],
        "has_school": not commune or rng.random() < 0.6, "next_year": commune and rng.random() < 0.2,
        "phone": 0.3 if commune else 0.45, "national_id": 0.28 if commune else 0.15,
        "address": 0.12 if commune else 0.04, "no_sex": 0.1 if commune else 0.04,
    }


# --- the lists --------------------------------------------------------------------------------------------------

def _list_rows(rng: random.Random, list_id: str, entries, traits: dict, schools) -> list[dict]:
    """Rows of one list; ``entries`` are (child, guardian parent, grade shift, school or None) in list order."""
    rows, households = [], {}
    strip = strip_marks if traits["strip"] else str
    for kid, parent, shift, school in entries:
        hh = kid.home
        if id(hh) not in households:  # one guardian, village and phone per household and list
            guardian = list(getattr(hh, parent))
            if rng.random() < 0.06:  # a typo in the guardian's name
                _misspell(rng, guardian, rng.choice(SYLLABLE_ERRORS[1:]))
            households[id(hh)] = (parent, _name_text(rng, guardian, "M", traits, 0),
                                  _village_text(rng, hh.village, traits),
                                  _phone_text(rng, hh.phones.get(parent), traits["phone"]))
        parent, guardian, village, phone = households[id(hh)]
        if not kid.twin_group and rng.random() < 0.04:  # the other parent on this row
            guardian = _name_text(rng, hh.mother if parent == "father" else hh.father, "M", traits, 0)
        grade = kid.grade + shift
        school = school or (_school_for(schools, kid, grade) if shift else kid.school)
        grade_text = school_text = ""
        if traits["has_school"] and school is not None:
            style = traits["grade"] if rng.random() > 0.05 else "num"
            grade_text = {"num": str(grade), "class": f"{grade}{kid.klass}", "lop": f"Lớp {grade}"}[style]
            school_text = school.name
        nid = kid.national_id if rng.random() < traits["national_id"] else ""
        if nid and rng.random() < 0.02:
            i = rng.randrange(4, 12)
            nid = nid[:i] + rng.choice("0123456789".replace(nid[i], "")) + nid[i + 1:]
        row = {"full_name": _name_text(rng, [hh.family, *kid.middles, kid.given], kid.sex, traits,
                                       rng.choices([0, 1, 2, 3], [60, 28, 9, 3])[0]),
               "date_of_birth": _date_text(rng, kid.dob, traits),
               "sex": "" if rng.random() < traits["no_sex"] else "Nam" if kid.sex == "M" else "Nữ",
               "guardian_name": guardian, "village": village, "school": school_text, "grade": grade_text,
               "commune": COMMUNES[hh.commune] if list_id.startswith("XA") or rng.random() > 0.05 else "",
               "address": f"{village or hh.village.kind + ' ' + hh.village.core}, xã {COMMUNES[hh.commune]}, "
                          "Lạng Sơn" if rng.random() < traits["address"] else "",
               "phone": phone, "national_id": nid, "list_id": list_id, "true_person": kid.pid,
               "twin_group": kid.twin_group}
        for column in ("commune", "village", "school", "address"):
            row[column] = unicodedata.normalize("NFD" if traits["nfd"] else "NFC", strip(row[column]))
        rows.append(row)
    return rows


def _lists(rng: random.Random, kids: list[Child], schools: list[School]) -> list[list[dict]]:
    """School lists, commune lists and supplementary lists, each in its own order."""
    lists = []
    for school in schools:  # class by class, by given name within a class, twins together
        units: dict[tuple, list[Child]] = {}
        for kid in kids:
            if kid.school is school:
                units.setdefault((kid.grade, kid.klass, kid.twin_group or kid.pid), []).append(kid)
        order = sorted(units.values(), key=lambda u: (u[0].grade, u[0].klass, strip_marks(u[0].given).lower(),
                                                      strip_marks(u[0].home.family).lower(), u[0].pid))
        parent = {id(u[0].home): "mother" if rng.random() < 0.6 else "father" for u in order}
        for kid in (k for u in order for k in u):
            kid.school_parent = parent[id(kid.home)]
        entries = [(k, k.school_parent, 0, None) for u in order for k in u]
        lists.append(_list_rows(rng, f"TR-{school.code}", entries, _traits(rng, "school"), schools))
    for c in range(len(COMMUNES)):  # household register order: village by village, children by birth
        traits, entries = _traits(rng, "commune"), []
        homes = {id(k.home): k.home for k in kids if k.home.commune == c}
        for hh in sorted(homes.values(), key=lambda h: h.village.index):
            if rng.random() < 0.65:
                parent = hh.head if rng.random() < 0.8 else ("mother" if hh.head == "father" else "father")
                entries += [(k, parent, int(traits["next_year"]), None) for k in hh.kids
                            if k.twin_group or rng.random() < 0.92]
        lists.append(_list_rows(rng, f"XA{c + 1:02d}", entries, traits, schools))
    moved: dict[str, list] = {}
    third: dict[str, tuple | None] = {}
    for kid in kids:  # a third record: the school it moved to (same village, guardian), or the district's list
        unit = kid.twin_group or kid.pid  # twins move together
        if unit not in third:
            third[unit], draw = None, rng.random()
            if draw < 0.06 and kid.grade < 9:
                shift = rng.choice([0, 1])
                level = "TH" if kid.grade + shift <= 5 else "THCS"
                others = [s for s in schools if s.level == level and s != kid.school]
                to = rng.choice(sorted(others, key=lambda s: (abs(s.commune - kid.home.commune), s.code))[:4])
                third[unit] = (f"BS-{to.code}", kid.school_parent, shift, to)
            elif draw < 0.10:
                third[unit] = ("BS-HUYEN", rng.choice(["father", "mother"]), 0, None)
        if third[unit]:
            list_id, parent, shift, to = third[unit]
            moved.setdefault(list_id, []).append((kid, parent, shift, to))
    return lists + [_list_rows(rng, lid, moved[lid], _traits(rng, "supplement"), schools) for lid in sorted(moved)]


def generate(children: int = 3000, seed: int = 7) -> pd.DataFrame:
    """The held-out set for ``children`` children: one row per record, in list order, lists shuffled."""
    rng = random.Random(seed)
    villages, schools, weights = _district(rng)
    lists = _lists(rng, _population(rng, villages, schools, weights, children), schools)
    rng.shuffle(lists)
    rows = [row for rows in lists for row in rows]  # ids in file order
    return pd.DataFrame(rows, columns=COLUMNS).assign(record_id=[f"R{i + 1:06d}" for i in range(len(rows))])


def summary(frame: pd.DataFrame) -> dict[str, int]:
    sizes = frame.groupby("true_person").size()
    return {"records": len(frame), "persons": int(sizes.size), "lists": int(frame["list_id"].nunique()),
            "twin_groups": int(frame.loc[frame["twin_group"] != "", "twin_group"].nunique()),
            "same_child_pairs": int((sizes * (sizes - 1) // 2).sum())}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    frame = generate(args.children, args.seed)
    frame.to_csv(args.out, index=False, encoding="utf-8")
    print(" ".join(f"{k}={v}" for k, v in summary(frame).items()))


if __name__ == "__main__":
    main()

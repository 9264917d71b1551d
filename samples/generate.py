"""Seeded generator of the bundled sample district (Hữu Lũng, Lạng Sơn).

Writes, under ``--out`` (default ``samples/huu-lung``), the files a district officer would receive:

- ``truong/``  one student list per school of ``config/district.yaml`` (mostly .xlsx, a few .csv);
- ``xa/``      one list per commune committee (UBND xã), overlapping the schools' lists;
- ``tai-tro/`` the donations ledger ``So theo doi tai tro.xlsx``;
- ``ha-tang/`` village connectivity (3G / 4G / fibre), one sheet per commune.

Only those four folders are deleted and rewritten. Everything is drawn from ``random.Random`` seeded with
``--seed`` (one independent stream per part), so the same seed gives byte-identical files.
``--truth FILE`` writes one CSV line per generated student row (where it is, which child it is, the clean
values, and the defect injected into it, if any) for the tests of later stages.

    python -m samples.generate --out samples/huu-lung [--seed 2021] [--scale 1.0] [--truth truth.csv]
"""

from __future__ import annotations

import argparse
import copy
import csv
import datetime as dt
import io
import random
import shutil
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import xlsxwriter

from flows.config import AppConfig, Commune, School, load_config
from flows.text import name_sort_key, strip_tones

OWNED_DIRS = ("truong", "xa", "tai-tro", "ha-tang")
# Officer folders: the generator writes only its own file in each and leaves the officers' files alone.
OFFICER_FILES = {
    "handover": "ban-giao/So ban giao thiet bi (mau).xlsx",
    "follow_up": "theo-doi/Theo doi su dung thiet bi (mau).xlsx",
    "overrides": "dieu-chinh/Dieu chinh phan bo (mau).xlsx",
}
CREATED = dt.datetime(2021, 11, 15, 8, 0, 0)  # workbook "created" property: fixed for byte-identical output
SCHOOL_YEAR = 2021  # school year 2021-2022: grade g was born in 2016 - g
EXCEL_EPOCH = dt.date(1899, 12, 30)

TRUTH_COLUMNS = [
    "source_file", "source_sheet", "source_row", "true_person", "household", "list_type", "unit_code",
    "full_name", "name_as_written", "date_of_birth", "row_date_of_birth", "dob_as_written", "sex",
    "school_code", "commune_code", "village", "grade", "category", "person_category", "lacks_device",
    "lacks_internet", "guardian_name", "phone", "on_school_list", "variants", "bad",
]

# --------------------------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------------------------

# Family names: Kinh names weighted like the national distribution, plus the Tày, Nùng and Dao names that are
# common in Lạng Sơn (Hoàng, Nông, Lương, Lăng, Vi, Chu, Mã, Hà, La, Triệu, Lục, Hứa, Bế...).
FAMILY_NAMES: list[tuple[str, float]] = [
    ("Nguyễn", 36), ("Hoàng", 7), ("Trần", 4.5), ("Lê", 4), ("Phạm", 2.5), ("Vũ", 2), ("Đặng", 2), ("Bùi", 1.5),
    ("Đỗ", 1.5), ("Hồ", 0.8), ("Ngô", 1.5), ("Dương", 2), ("Lý", 1.5), ("Huỳnh", 0.3), ("Nông", 4), ("Lương", 2.5),
    ("Lăng", 1.5), ("Vi", 2.5), ("Chu", 1.8), ("Mã", 1), ("Hà", 2), ("La", 1.2), ("Triệu", 1.5), ("Lục", 1),
    ("Hứa", 1), ("Đinh", 1), ("Phùng", 0.8), ("Mai", 0.6), ("Lưu", 1), ("Tô", 0.8), ("Đàm", 0.8), ("Bế", 0.8),
    ("Lâm", 0.8), ("Đoàn", 0.8), ("Trịnh", 0.8), ("Vương", 0.5), ("Ninh", 0.5), ("Đào", 0.7), ("Cao", 0.6),
    ("Tạ", 0.4), ("Quan", 0.4), ("Lộc", 0.4),
]

MIDDLE_MALE: list[tuple[str, float]] = [
    ("Văn", 45), ("Đức", 8), ("Minh", 8), ("Quang", 5), ("Hữu", 4), ("Công", 4), ("Thành", 3), ("Xuân", 3),
    ("Hải", 3), ("Tiến", 2), ("Mạnh", 2), ("Duy", 3), ("Gia", 3), ("Anh", 2), ("Bảo", 3), ("Trung", 2),
    ("Ngọc", 1), ("Hoàng", 2), ("Tuấn", 1), ("Việt", 2), ("Đình", 2), ("Thế", 2), ("Trọng", 2), ("Nhật", 2),
    ("Khánh", 1), ("Văn Minh", 1), ("Văn Đức", 0.5), ("Đăng", 1), ("Phúc", 0.8),
]
MIDDLE_FEMALE: list[tuple[str, float]] = [
    ("Thị", 46), ("Ngọc", 7), ("Thu", 5), ("Thanh", 4), ("Minh", 4), ("Phương", 3), ("Hồng", 3), ("Bảo", 3),
    ("Khánh", 3), ("Mai", 2), ("Kim", 2), ("Diệu", 1), ("Hải", 2), ("Thùy", 2), ("Hà", 2), ("Quỳnh", 2),
    ("Tuyết", 1), ("Lan", 1), ("Vân", 1), ("Gia", 1), ("Thảo", 1), ("Yến", 1), ("Thị Thu", 2), ("Thị Thanh", 1.5),
    ("Thị Ngọc", 1.5), ("Thị Hồng", 1), ("Thị Kim", 1), ("Thị Minh", 0.8), ("Như", 1), ("Hoài", 1),
]
GIVEN_MALE = """An Anh Bảo Bình Cường Chiến Công Dũng Duy Dương Đạt Đăng Đông Đức Giang Hải Hào Hậu Hiếu Hiệp
Hòa Hoàng Huy Hùng Hưng Khang Khánh Khải Khoa Khôi Kiên Lâm Lộc Long Luân Lực Mạnh Minh Nam Nghĩa Nhân
Nhật Ninh Phát Phong Phúc Quân Quang Quý Sơn Tài Tâm Tân Thái Thắng Thành Thịnh Thông Toàn Trí Trọng Trung
Trường Tú Tuấn Tùng Việt Vinh Vũ Vương Hưởng Kiệt Lợi Nguyên Sang Thiện Thuận Tiến Tín Đại Định Hoan Luật
Lượng Quyết Quyền Sỹ Tình Thanh Thạch Cảnh Chính Doanh Huân Khiêm Kỳ Lĩnh Nhất Phú Tấn Tuệ Vĩnh Vỹ Thủy
Khương Dinh Đoàn Hợp Kha Lân Lập Ngọc Phi Quốc Sáng Tạo Thăng Thụy Triều Tuyên Uy Văn Vui Hiển Hội Dự""".split()
GIVEN_FEMALE = """Anh Ánh Bích Chi Châm Diệp Dung Duyên Giang Hà Hạnh Hằng Hiền Hoa Hòa Hồng Huế Huyền Hương
Hường Khánh Lan Liên Linh Loan Ly Mai My Mỹ Nga Ngân Ngọc Nguyệt Nhi Nhung Oanh Phương Quyên Quỳnh Thảo
Thanh Thắm Thu Thúy Thủy Thùy Trang Trâm Tuyết Uyên Vân Vy Xuân Yến Hân Diệu Hậu Lam Lụa Mơ Nhàn Nhiên Như
Quế Sen Tâm Thơ Thư Tiên Trinh Tú Tươi Hảo Hoài Huệ Kiều Lệ Mận Miên Ngà Phượng Sương Thoa Thương Thuận
Trà Vi Hiên Khuê Lành Lụa Mến Nhài Thêu Thúy Hòe Chinh Đào Hải Len Mây Na Nhạn Quyết Tâm Xoan Yên Ánh""".split()
GIVEN_MALE = list(dict.fromkeys(GIVEN_MALE))
GIVEN_FEMALE = list(dict.fromkeys(GIVEN_FEMALE))

PHONE_PREFIXES = ["032", "033", "034", "035", "036", "037", "038", "039", "086", "096", "097", "098",
                  "081", "082", "083", "084", "085", "088", "091", "094", "070", "076", "077", "078", "079",
                  "089", "090", "093", "056", "058"]

TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
# New-style ("hòa", "thúy") -> old-style ("hoà", "thuý") tone placement, applied only at the end of a word.
OLD_STYLE_TONES = {"òa": "oà", "óa": "oá", "ỏa": "oả", "õa": "oã", "ọa": "oạ", "òe": "oè", "óe": "oé",
                   "ỏe": "oẻ", "õe": "oẽ", "ọe": "oẹ", "ùy": "uỳ", "úy": "uý", "ủy": "uỷ", "ũy": "uỹ", "ụy": "uỵ"}

CATEGORIES = ("poor", "near_poor", "covid_orphan", "none")


class _Weighted:
    """A weighted list that draws with ``rng.choices`` using precomputed cumulative weights."""

    def __init__(self, items: list[tuple[str, float]]):
        self.values = [v for v, _ in items]
        total = 0.0
        self.cum: list[float] = []
        for _, w in items:
            total += w
            self.cum.append(total)

    def draw(self, rng: random.Random) -> str:
        return rng.choices(self.values, cum_weights=self.cum)[0]


FAMILY = _Weighted(FAMILY_NAMES)
MIDDLE = {"M": _Weighted(MIDDLE_MALE), "F": _Weighted(MIDDLE_FEMALE)}
GIVEN = {"M": GIVEN_MALE, "F": GIVEN_FEMALE}


def _nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def _drop_tone(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    return _nfc("".join(ch for ch in decomposed if ch not in TONE_MARKS))


def _has_tone(word: str) -> bool:
    return any(ch in TONE_MARKS for ch in unicodedata.normalize("NFD", word))


def _old_style(word: str) -> str:
    low = word.lower()
    for new, old in OLD_STYLE_TONES.items():
        if low.endswith(new) and not (new[0] in "ùúủũụ" and low.endswith("q" + new)):
            return word[: -2] + (old if word[-2:].islower() else old.upper())
    return word


def _ascii(s: str) -> str:
    return strip_tones(s)


# --------------------------------------------------------------------------------------------------------------
# The underlying population
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Household:
    hid: str
    commune: str  # residence commune code
    village: str  # official village name
    family: str
    father: str
    mother: str
    guardian_is_father: bool
    deceased: str  # "" | "father" | "mother" (COVID-19 orphans)
    phone: str
    category: str  # the commune's register: poor | near_poor | covid_orphan | none
    lacks_internet: bool
    children: list["Child"] = field(default_factory=list)

    @property
    def guardian(self) -> str:
        return self.father if self.guardian_is_father else self.mother

    @property
    def other_parent(self) -> str:
        if self.deceased:
            return self.guardian
        return self.mother if self.guardian_is_father else self.father


@dataclass
class Child:
    pid: str
    household: Household
    middle: str
    given: str
    sex: str  # M | F
    dob: dt.date
    grade: int
    school: str  # school code ("" for a child outside the district's schools)
    klass: str  # class suffix: "A", "B", "A1"...
    lacks_device: bool
    lacks_internet: bool
    on_school_list: bool = True
    variants: str = ""  # hard-negative notes: twin, same_name

    @property
    def family(self) -> str:
        return self.household.family

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.family, self.middle, self.given) if p)


def _grades(school: School) -> list[int]:
    if school.enrolment:
        return sorted(school.enrolment)
    return {"TH": [1, 2, 3, 4, 5], "THCS": [6, 7, 8, 9]}.get(school.level, list(range(1, 10)))


def _grade_weight(school: School, grade: int) -> float:
    return float(school.enrolment.get(grade, 1)) if school.enrolment else 1.0


class Population:
    """Households and children of the sample district, drawn from one random stream."""

    def __init__(self, cfg: AppConfig, rng: random.Random, coverage: dict[tuple[str, str], tuple[bool, bool, bool]]):
        self.cfg = cfg
        self.rng = rng
        self.coverage = coverage
        self.households: list[Household] = []
        self.children: list[Child] = []
        self._hh_seq: dict[str, int] = {}
        self._child_seq: dict[str, int] = {}
        self.class_style = {s.code: ("letter_num" if s.level != "TH" and rng.random() < 0.35 else "letter")
                            for s in cfg.district.schools}

    # -- people ------------------------------------------------------------------------------------------------
    def _person(self, sex: str, family: str | None = None) -> str:
        rng = self.rng
        family = family or FAMILY.draw(rng)
        return f"{family} {MIDDLE[sex].draw(rng)} {rng.choice(GIVEN[sex])}"

    def _phone(self) -> str:
        rng = self.rng
        return rng.choice(PHONE_PREFIXES) + "".join(str(rng.randrange(10)) for _ in range(7))

    def new_household(self, commune_code: str, category_weights: tuple[float, ...] = (20, 17, 2, 61)) -> Household:
        rng = self.rng
        commune = self.cfg.district.commune_by_code[commune_code]
        seq = self._hh_seq.get(commune_code, 0) + 1
        self._hh_seq[commune_code] = seq
        family = FAMILY.draw(rng)
        mother_family = FAMILY.draw(rng)
        father = self._person("M", family)
        mother = f"{mother_family} {'Thị' if rng.random() < 0.8 else MIDDLE['F'].draw(rng)} {rng.choice(GIVEN['F'])}"
        category = rng.choices(CATEGORIES, weights=category_weights)[0]
        deceased = ""
        guardian_is_father = rng.random() < 0.6
        if category == "covid_orphan":
            deceased = rng.choice(("father", "mother"))
            guardian_is_father = deceased == "mother"
        village = rng.choice(commune.villages) if commune.villages else ""
        covered = any(self.coverage.get((commune_code, village), (True, True, True)))
        return self._add_household(Household(
            hid=f"HH{commune_code}-{seq:04d}", commune=commune_code, village=village, family=family,
            father=father, mother=mother, guardian_is_father=guardian_is_father, deceased=deceased,
            phone=self._phone() if rng.random() < 0.9 else "", category=category,
            lacks_internet=(not covered) or rng.random() < 0.55,
        ))

    def _add_household(self, hh: Household) -> Household:
        self.households.append(hh)
        return hh

    def new_child(self, hh: Household, school: School | None, grade: int, twin_of: Child | None = None) -> Child:
        rng = self.rng
        seq = self._child_seq.get(hh.commune, 0) + 1
        self._child_seq[hh.commune] = seq
        sex = "M" if rng.random() < 0.51 else "F"
        taken = {c.given for c in hh.children}
        given = rng.choice(GIVEN[sex])
        for _ in range(20):
            if given not in taken:
                break
            given = rng.choice(GIVEN[sex])
        middle = MIDDLE[sex].draw(rng)
        if twin_of is not None:
            dob, grade, klass = twin_of.dob, twin_of.grade, twin_of.klass
            if rng.random() < 0.6 and twin_of.sex == sex:
                middle = twin_of.middle  # twins often share the middle name
        else:
            year = SCHOOL_YEAR - 5 - grade + (-1 if rng.random() < 0.04 else 0)
            dob = dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365))
            klass = self._klass(school, grade)
        lacks_device = rng.random() < 0.85
        lacks_internet = hh.lacks_internet
        if not lacks_device and not lacks_internet:
            lacks_device = True
        child = Child(
            pid=f"HS{hh.commune}-{seq:05d}", household=hh, middle=middle, given=given, sex=sex, dob=dob, grade=grade,
            school=school.code if school else "", klass=klass, lacks_device=lacks_device,
            lacks_internet=lacks_internet, variants="twin" if twin_of is not None else "",
        )
        if twin_of is not None and "twin" not in twin_of.variants:
            twin_of.variants = (twin_of.variants + ";twin").strip(";")
        hh.children.append(child)
        self.children.append(child)
        return child

    def _klass(self, school: School | None, grade: int) -> str:
        if school is None:
            return ""
        n = max(1, round(school.enrolment.get(grade, 30) / 32)) if school.enrolment else 1
        i = self.rng.randrange(n)
        if self.class_style.get(school.code) == "letter_num":
            return f"A{i + 1}"
        return "ABCDEFGH"[min(i, 7)]


def _build_coverage(cfg: AppConfig, seed: int) -> dict[tuple[str, str], tuple[bool, bool, bool]]:
    rng = random.Random(f"{seed}:coverage")
    cov: dict[tuple[str, str], tuple[bool, bool, bool]] = {}
    for c in cfg.district.communes:
        for v in c.villages:
            if c.type != "township" and rng.random() < 0.12:
                cov[(c.code, v)] = (False, False, False)
                continue
            g3 = rng.random() < 0.92
            g4 = rng.random() < (0.95 if c.type == "township" else 0.75)
            fibre = rng.random() < (0.9 if c.type == "township" else 0.5)
            if not (g3 or g4 or fibre):
                g3 = True
            cov[(c.code, v)] = (g3, g4, fibre)
    return cov


@dataclass
class District:
    """The population plus who is listed where."""

    pop: Population
    school_lists: dict[str, list[Child]]  # school code -> children the school lists
    commune_lists: dict[str, list[Child]]  # commune code -> children the commune lists
    overlap: set[str]  # pids on a commune list that are also on a school list


def _build_district(cfg: AppConfig, seed: int, scale: float,
                    coverage: dict[tuple[str, str], tuple[bool, bool, bool]]) -> District:
    rng = random.Random(f"{seed}:population")
    pop = Population(cfg, rng, coverage)
    communes = cfg.district.communes
    schools_by_commune: dict[str, list[School]] = {c.code: [] for c in communes}
    for s in cfg.district.schools:
        schools_by_commune[s.commune].append(s)

    # 1. Children the schools list: households drawn until each school's quota is met.
    for ci, c in enumerate(communes):
        schools = [s for s in schools_by_commune[c.code] if _grades(s)]
        quota = {s.code: max(2, round(sum(s.enrolment.values() or [40]) * rng.uniform(0.38, 0.52) * scale))
                 for s in schools}
        while any(v > 0 for v in quota.values()):
            residence = c
            if len(communes) > 1 and rng.random() < 0.03:  # lives in the next commune, attends school here
                residence = communes[(ci + rng.choice((-1, 1))) % len(communes)]
            hh = pop.new_household(residence.code)
            for j in range(rng.choices((1, 2, 3), weights=(55, 33, 12))[0]):
                open_schools = [s for s in schools if quota[s.code] > 0]
                if not open_schools:
                    break
                if j >= 1 and rng.random() < 0.03 and quota.get(hh.children[0].school, 0) > 0:
                    first = hh.children[0]
                    pop.new_child(hh, cfg.district.school_by_code[first.school], first.grade, twin_of=first)
                    quota[first.school] -= 1
                    continue
                s = rng.choices(open_schools, weights=[quota[x.code] for x in open_schools])[0]
                used = {ch.grade for ch in hh.children}
                grades = [g for g in _grades(s) if g not in used]
                if not grades:
                    continue
                g = rng.choices(grades, weights=[_grade_weight(s, x) for x in grades])[0]
                pop.new_child(hh, s, g)
                quota[s.code] -= 1

    # 2. Same-name children in one commune (different households, birthdays and parents): hard negatives.
    by_commune: dict[str, list[Child]] = {}
    for ch in pop.children:
        by_commune.setdefault(ch.household.commune, []).append(ch)
    for c in communes:
        kids = by_commune.get(c.code, [])
        for ch in kids:
            if rng.random() >= 0.012:
                continue
            donors = [o for o in kids if o.household is not ch.household and o.family == ch.family
                      and o.sex == ch.sex and o.given != ch.given and o.dob != ch.dob]
            if not donors:
                continue
            other = rng.choice(donors)
            if other.given in {s.given for s in ch.household.children}:
                continue
            ch.middle, ch.given = other.middle, other.given
            for x in (ch, other):
                if "same_name" not in x.variants:
                    x.variants = (x.variants + ";same_name").strip(";")

    school_lists: dict[str, list[Child]] = {s.code: [] for s in cfg.district.schools}
    for ch in pop.children:
        school_lists[ch.school].append(ch)

    # 3. Commune lists: ~60-70 % children also on a school list, the rest only known to the commune.
    commune_lists: dict[str, list[Child]] = {}
    overlap: set[str] = set()
    cat_weight = {"poor": 4.0, "near_poor": 3.0, "covid_orphan": 4.0, "none": 1.0}
    residents: dict[str, list[Child]] = {c.code: [] for c in communes}
    for ch in pop.children:
        residents[ch.household.commune].append(ch)
    for ci, c in enumerate(communes):
        res = residents[c.code]
        size = max(2, round(len(res) * 0.39 * rng.uniform(0.85, 1.15)))
        n_overlap = min(len(res), round(size * rng.uniform(0.60, 0.70)))
        n_new = max(1, size - n_overlap)
        keyed = sorted(res, key=lambda ch: -rng.random() ** (1.0 / cat_weight[ch.household.category]))
        chosen = keyed[:n_overlap]
        overlap.update(ch.pid for ch in chosen)
        new: list[Child] = []
        own_schools = [s for s in schools_by_commune[c.code] if _grades(s)]
        for _ in range(n_new):
            if res and rng.random() < 0.3:  # a sibling the school did not list
                hh = rng.choice(res).household
            else:
                hh = pop.new_household(c.code, category_weights=(40, 30, 3, 27))
            used = {ch.grade for ch in hh.children}
            pool = own_schools
            if rng.random() < 0.05 or not pool:
                neighbour = communes[(ci + rng.choice((-1, 1))) % len(communes)]
                pool = [s for s in schools_by_commune[neighbour.code] if _grades(s)] or pool
            options = [(s, g) for s in pool for g in _grades(s) if g not in used]
            if not options:
                continue
            s, g = rng.choices(options, weights=[_grade_weight(s, g) for s, g in options])[0]
            kid = pop.new_child(hh, s, g)
            kid.on_school_list = False
            new.append(kid)
        commune_lists[c.code] = chosen + new
    return District(pop=pop, school_lists=school_lists, commune_lists=commune_lists, overlap=overlap)


# --------------------------------------------------------------------------------------------------------------
# Sheet grids (one in-memory model written either as .xlsx or as .csv)
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Grid:
    name: str
    cells: dict[tuple[int, int], tuple[Any, str | None]] = field(default_factory=dict)
    merges: list[tuple[int, int, int, int, Any, str | None]] = field(default_factory=list)
    widths: dict[int, float] = field(default_factory=dict)
    formulas: dict[tuple[int, int], tuple[str, Any, str | None]] = field(default_factory=dict)
    freeze: tuple[int, int] | None = None
    nrows: int = 0

    def put(self, r: int, c: int, value: Any, style: str | None = None) -> None:
        self.cells[(r, c)] = (value, style)
        self.nrows = max(self.nrows, r + 1)

    def merge(self, r1: int, c1: int, r2: int, c2: int, value: Any, style: str | None = None) -> None:
        if (r1, c1) == (r2, c2):
            self.put(r1, c1, value, style)
            return
        self.merges.append((r1, c1, r2, c2, value, style))
        self.nrows = max(self.nrows, r2 + 1)

    def text_rows(self) -> list[list[str]]:
        """The grid as a CSV export sees it: merged values in their first cell, dates as dd/mm/yyyy."""
        values: dict[tuple[int, int], Any] = {k: v for k, (v, _) in self.cells.items()}
        for r1, c1, _r2, _c2, v, _ in self.merges:
            values[(r1, c1)] = v
        for k, (_f, v, _s) in self.formulas.items():
            values[k] = v
        ncols = max((c for _, c in values), default=-1) + 1
        rows: list[list[str]] = [["" for _ in range(ncols)] for _ in range(self.nrows)]
        for (r, c), v in values.items():
            rows[r][c] = _as_text(v)
        return rows


def _as_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.strftime("%d/%m/%Y")
    if isinstance(v, dt.date):
        return v.strftime("%d/%m/%Y")
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


_FORMATS: dict[str, dict[str, Any]] = {
    "unit": {"bold": True, "align": "center", "valign": "vcenter", "font_size": 12},
    "unit_u": {"bold": True, "underline": True, "align": "center", "valign": "vcenter", "font_size": 12},
    "qh": {"bold": True, "align": "center", "valign": "vcenter", "font_size": 12},
    "qh2": {"bold": True, "underline": True, "align": "center", "valign": "vcenter", "font_size": 13},
    "title": {"bold": True, "align": "center", "valign": "vcenter", "font_size": 14, "text_wrap": True},
    "subtitle": {"italic": True, "align": "center", "valign": "vcenter"},
    "italic_r": {"italic": True, "align": "center"},
    "head": {"bold": True, "align": "center", "valign": "vcenter", "text_wrap": True, "border": 1,
             "bg_color": "#DDEBF7"},
    "head_i": {"italic": True, "align": "center", "border": 1, "font_size": 9},
    "cell": {"border": 1, "valign": "vcenter"},
    "cell_c": {"border": 1, "align": "center", "valign": "vcenter"},
    "date": {"border": 1, "align": "center", "num_format": "dd/mm/yyyy"},
    "money": {"border": 1, "num_format": "#,##0"},
    "money_b": {"border": 1, "bold": True, "num_format": "#,##0"},
    "section": {"bold": True, "border": 1, "bg_color": "#F2F2F2"},
    "total": {"bold": True, "border": 1},
    "sign": {"bold": True, "align": "center"},
    "sign_i": {"italic": True, "align": "center"},
    "name_b": {"bold": True, "align": "center"},
    "plain": {},
    "wrap": {"text_wrap": True, "valign": "top"},
}


def _write_xlsx(path: Path, grids: list[Grid], title: str, author: str) -> None:
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                         "strings_to_urls": False, "in_memory": True})
    wb.set_properties({"title": title, "author": author, "company": "", "created": CREATED})
    fmts: dict[str, Any] = {}

    def fmt(key: str | None) -> Any:
        if key is None:
            return None
        if key not in fmts:
            fmts[key] = wb.add_format({"font_name": "Times New Roman", "font_size": 12, **_FORMATS[key]})
        return fmts[key]

    for g in grids:
        ws = wb.add_worksheet(g.name)
        for c, w in sorted(g.widths.items()):
            ws.set_column(c, c, w)
        covered: set[tuple[int, int]] = set()
        for r1, c1, r2, c2, v, style in g.merges:
            ws.merge_range(r1, c1, r2, c2, "", fmt(style))
            _write_cell(ws, r1, c1, v, fmt(style))
            for r in range(r1, r2 + 1):
                for c in range(c1, c2 + 1):
                    covered.add((r, c))
        for (r, c) in sorted(g.cells):
            if (r, c) in covered:
                continue
            v, style = g.cells[(r, c)]
            _write_cell(ws, r, c, v, fmt(style))
        for (r, c), (formula, value, style) in sorted(g.formulas.items()):
            ws.write_formula(r, c, formula, fmt(style), value)
        if g.freeze:
            ws.freeze_panes(*g.freeze)
    wb.close()


def _write_cell(ws: Any, r: int, c: int, v: Any, f: Any) -> None:
    if v is None or v == "":
        if f is not None:
            ws.write_blank(r, c, None, f)
    elif isinstance(v, str):
        ws.write_string(r, c, v, f)
    elif isinstance(v, bool):
        ws.write_boolean(r, c, v, f)
    elif isinstance(v, (int, float)):
        ws.write_number(r, c, v, f)
    elif isinstance(v, dt.datetime):
        ws.write_datetime(r, c, v, f)
    elif isinstance(v, dt.date):
        ws.write_datetime(r, c, dt.datetime(v.year, v.month, v.day), f)
    else:
        ws.write_string(r, c, str(v), f)


def _write_csv(path: Path, grid: Grid, kind: str) -> None:
    delimiter = {"csv_semicolon": ";", "csv_utf16": "\t"}.get(kind, ",")
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    for row in grid.text_rows():
        writer.writerow(row)
    text = buf.getvalue()
    if kind == "csv_bom":
        data = b"\xef\xbb\xbf" + text.encode("utf-8")
    elif kind == "csv_utf16":
        data = b"\xff\xfe" + text.encode("utf-16-le")
    elif kind == "csv_semicolon":
        data = b"\xef\xbb\xbf" + text.encode("utf-8")
    else:
        data = text.encode("utf-8")
    path.write_bytes(data)


# --------------------------------------------------------------------------------------------------------------
# Student list layouts
# --------------------------------------------------------------------------------------------------------------

NAME_LABELS = ["Họ và tên", "Họ và tên", "Họ và tên", "Họ tên học sinh", "HỌ VÀ TÊN", "Họ và tên học sinh", "Họ tên",
               "Tên học sinh"]
DOB_LABELS = ["Ngày sinh", "Ngày sinh", "Ngày sinh", "Ngày, tháng, năm sinh", "Ngày tháng năm sinh",
              "Ngày/tháng/năm sinh", "NS"]
SEX_LABELS = ["Giới tính", "Giới tính", "Giới tính", "Nam/Nữ"]
GRADE_LABELS = ["Lớp", "Lớp", "Lớp", "Khối lớp", "Lớp học"]
VILLAGE_LABELS = ["Thôn", "Thôn", "Thôn/Xóm", "Thôn/bản", "Địa chỉ", "Thôn (xóm)", "Nơi ở", "Xóm"]
TOWNSHIP_VILLAGE_LABELS = ["Khu", "Thôn/Khu", "Địa chỉ", "Nơi ở"]
GUARDIAN_LABELS = ["Họ tên bố/mẹ", "Họ tên bố/mẹ", "Họ tên cha/mẹ", "Phụ huynh", "Họ tên phụ huynh", "Con ông/bà",
                   "Họ tên bố (mẹ)", "Người giám hộ"]
PHONE_LABELS = ["SĐT", "SĐT", "Số điện thoại", "Điện thoại", "SĐT phụ huynh", "Số ĐT", "ĐT"]
CAT_TEXT_LABELS = ["Đối tượng", "Đối tượng", "Diện", "Thuộc diện", "Đối tượng ưu tiên", "Diện hộ", "Hoàn cảnh"]
CAT_GROUP_LABELS = ["Đối tượng", "Đối tượng", "Thuộc diện", "Đối tượng ưu tiên", "Diện"]
CAT_X_LABELS = [
    ("Hộ nghèo", "Hộ cận nghèo", "Con mồ côi do COVID-19"),
    ("Hộ nghèo", "Hộ cận nghèo", "Con mồ côi do COVID-19"),
    ("Hộ nghèo", "Cận nghèo", "Mồ côi do COVID-19"),
    ("HN", "HCN", "Bố/mẹ tử vong do COVID-19"),
    ("Hộ nghèo", "Hộ cận nghèo", "Có bố hoặc mẹ tử vong do COVID-19"),
]
CAT_OTHER_LABELS = ["Khó khăn khác", "Hoàn cảnh khó khăn"]
NEED_LABELS = [
    ("Chưa có thiết bị", "Chưa có Internet"),
    ("Chưa có thiết bị", "Chưa có Internet"),
    ("Chưa có máy tính", "Chưa có kết nối Internet"),
    ("Chưa có thiết bị học trực tuyến", "Chưa có mạng"),
    ("Không có thiết bị", "Không có Internet"),
    ("Chưa có thiết bị", "Chưa có đường truyền"),
]
NEED_GROUP_LABELS = ["Nhu cầu", "Nhu cầu", "Nhu cầu hỗ trợ", "Hiện trạng", "Nhu cầu hỗ trợ học trực tuyến"]
NEED_STATUS_LABELS = ("Thiết bị", "Internet")
SCHOOL_LABELS = ["Trường", "Trường", "Đang học tại trường", "Trường học", "Tên trường", "Học tại trường"]
STT_LABELS = ["STT", "STT", "STT", "STT", "TT", "Số TT"]

# Category text vocabularies (one per file): poor, near_poor, covid_orphan, none.
CAT_VOCABS = [
    {"poor": "Hộ nghèo", "near_poor": "Hộ cận nghèo", "covid_orphan": "Mồ côi do COVID-19", "none": ""},
    {"poor": "Hộ nghèo", "near_poor": "Cận nghèo", "covid_orphan": "Con mồ côi do COVID-19", "none": "Khó khăn"},
    {"poor": "HN", "near_poor": "HCN", "covid_orphan": "Mồ côi covid", "none": ""},
    {"poor": "Nghèo", "near_poor": "Cận nghèo", "covid_orphan": "Bố/mẹ tử vong do COVID-19",
     "none": "Hoàn cảnh khó khăn"},
    {"poor": "Hộ nghèo", "near_poor": "Hộ cận nghèo", "covid_orphan": "Con mồ côi do COVID-19",
     "none": "Khó khăn khác"},
]
BAD_CATEGORIES = ["Gia đình chính sách", "Con thương binh", "Dân tộc thiểu số", "Con liệt sĩ"]
NOTES = ["Ở với ông bà", "Bố mẹ đi làm ăn xa", "Dùng chung điện thoại với anh/chị", "Nhà xa trường",
         "Gia đình có 3 con đi học", "Mượn máy của hàng xóm", "Học nhờ nhà bạn", "Mẹ đơn thân", "Học sinh khuyết tật"]
# "00/00/{y}" is the year-only placeholder: read as the year alone, not as a date to fix
BAD_DATES = ["32/13/{y}", "31/02/{y}", "00/00/{y}", "35/{m}/{y}", "{d}/14/{y}", "{y}/{m}/45", "ngày {d} tháng {m}"]
FIELD_WIDTH = {"stt": 5, "name": 24, "dob": 12, "dob_m": 11, "dob_f": 11, "sex": 8, "sex_m": 6, "sex_f": 6,
               "grade": 7, "school": 20, "commune": 12, "village": 16, "guardian": 22, "phone": 13, "cat": 14,
               "cat_poor": 9, "cat_near": 9, "cat_covid": 12, "cat_other": 10, "need_dev": 11, "need_net": 11,
               "note": 18}
MARK_FIELDS = {"sex_m", "sex_f", "cat_poor", "cat_near", "cat_covid", "cat_other", "need_dev", "need_net"}


@dataclass
class Col:
    field: str
    label: str
    group: str | None = None


@dataclass
class Layout:
    list_type: str  # school | commune
    cols: list[Col]
    two_row: bool
    col0: int = 0
    numbers_row: bool = False
    dob_form: str = "excel"
    grade_form: str = "class"
    lop_class: bool = False  # "Lớp 6A" rather than "Lớp 6"
    village_form: str = "official"
    phone_mode: str = "text"
    name_case: str = "normal"
    cat_vocab: dict[str, str] = field(default_factory=dict)
    mark: str = "x"
    need_mode: str = "x"  # x | status ("Chưa có"/"Đã có")
    sex_values: tuple[str, str] = ("Nam", "Nữ")
    title: str = "full"  # full | short | title_only | none
    subtotal: str = ""  # "" | merged | name | stt
    footer: bool = True
    blank_rows: int = 0
    trailing_numbered: int = 0
    sort: str = "class"
    sections: bool = False
    section_restart: bool = False
    freeze: bool = False
    sheet_name: str = "Sheet1"
    csv_kind: str = ""  # "" for xlsx, else csv_bom | csv_plain | csv_semicolon | csv_utf16

    def has(self, f: str) -> bool:
        return any(c.field == f for c in self.cols)


def _pick(rng: random.Random, options: list[tuple[Any, float]]) -> Any:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def _choose_layout(rng: random.Random, list_type: str, township: bool, special: set[str], csv_kind: str = "") -> Layout:
    school = list_type == "school"
    two_row = rng.random() < (0.45 if school else 0.35)
    if "dob_by_sex" in special or "two_row" in special:
        two_row = True
    if csv_kind and "two_row" not in special:
        two_row = False
    dob_form = _pick(rng, [("excel", 40), ("text_padded", 30), ("text_loose", 12), ("text_short", 3)]) if school else \
        _pick(rng, [("excel", 35), ("text_padded", 35), ("text_loose", 15), ("text_short", 5)])
    if "serial_dates" in special:
        dob_form = "serial"
    if "year_only" in special:
        dob_form = "year"
    if csv_kind and dob_form == "excel":
        dob_form = "text_padded"

    sex_mode = _pick(rng, [("text", 50), ("female_x", 20), ("group_x", 15 if two_row else 0), ("none", 15)])
    cat_mode = _pick(rng, [("x3", 35), ("x4", 15), ("text", 50)]) if school else \
        _pick(rng, [("x3", 40), ("text", 60)])
    if "cat_text" in special:
        cat_mode = "text"
    need_mode = _pick(rng, [("x", 85), ("status", 15)])

    stt = [Col("stt", rng.choice(STT_LABELS))]
    name = [Col("name", rng.choice(NAME_LABELS))]
    if dob_form == "year":
        dob = [Col("dob", "Năm sinh")]
    elif "dob_by_sex" in special:
        g = rng.choice(["Ngày sinh", "Ngày, tháng, năm sinh"])
        dob = [Col("dob_m", "Nam", g), Col("dob_f", "Nữ", g)]
        sex_mode = "none"
    else:
        dob = [Col("dob", rng.choice(DOB_LABELS))]
    sex = {"text": [Col("sex", rng.choice(SEX_LABELS))], "female_x": [Col("sex_f", "Nữ")],
           "group_x": [Col("sex_m", "Nam", "Giới tính"), Col("sex_f", "Nữ", "Giới tính")], "none": []}[sex_mode]
    grade = [Col("grade", rng.choice(GRADE_LABELS))]
    village_label = rng.choice(TOWNSHIP_VILLAGE_LABELS if township else VILLAGE_LABELS)
    village = [Col("village", village_label)] if (not school or rng.random() < 0.92) else []
    guardian = [Col("guardian", rng.choice(GUARDIAN_LABELS))] if rng.random() < 0.88 else []
    phone = [Col("phone", rng.choice(PHONE_LABELS))] if rng.random() < 0.8 else []
    school_col = [] if school else [Col("school", rng.choice(SCHOOL_LABELS))]
    commune_col = [Col("commune", rng.choice(["Xã", "Xã/TT"]))] if "commune_col" in special else []
    if cat_mode == "text":
        cat = [Col("cat", rng.choice(CAT_TEXT_LABELS))]
    else:
        labels = rng.choice(CAT_X_LABELS)
        g = rng.choice(CAT_GROUP_LABELS) if two_row else None
        cat = [Col("cat_poor", labels[0], g), Col("cat_near", labels[1], g), Col("cat_covid", labels[2], g)]
        if cat_mode == "x4":
            cat.append(Col("cat_other", rng.choice(CAT_OTHER_LABELS), g))
    if need_mode == "x":
        a, b = rng.choice(NEED_LABELS)
    else:
        a, b = NEED_STATUS_LABELS
    ng = (rng.choice(NEED_GROUP_LABELS) if need_mode == "x" else "Hiện trạng") if two_row else None
    need = [Col("need_dev", a, ng), Col("need_net", b, ng)]
    note = [Col("note", "Ghi chú")] if rng.random() < 0.4 else []

    order = rng.choice("ABC" if school else "AD")
    if order == "A":
        cols = (stt + name + dob + sex + grade + school_col + commune_col + village + guardian + phone + cat + need
                + note)
    elif order == "B":
        cols = stt + name + grade + dob + sex + guardian + village + school_col + cat + need + phone + note
    elif order == "C":
        cols = stt + name + sex + dob + grade + school_col + village + guardian + need + cat + phone + note
    else:
        cols = (stt + name + dob + sex + commune_col + village + guardian + school_col + grade + cat + need + phone
                + note)

    if school:
        grade_form = _pick(rng, [("class", 45), ("lop", 20), ("int", 20), ("text", 15)])
    else:
        grade_form = _pick(rng, [("lop", 35), ("int", 30), ("text", 25), ("class", 10)])
    title = _pick(rng, [("full", 60), ("short", 20), ("title_only", 15), ("none", 5)])
    if "generic_name" in special and title == "none":
        title = "full"
    if csv_kind == "csv_plain":
        title = "none"
    elif csv_kind:
        title = rng.choice(["short", "title_only"])
    name_case = _pick(rng, [("normal", 88), ("upper", 8), ("nfd", 4)]) if school else \
        _pick(rng, [("normal", 85), ("upper", 10), ("nfd", 5)])
    for nc in ("upper", "nfd"):
        if nc in special:
            name_case = nc
    return Layout(
        list_type=list_type, cols=cols, two_row=two_row,
        col0=1 if "col_b" in special else 0,
        numbers_row="numbers_row" in special,
        dob_form=dob_form, grade_form=grade_form, lop_class=school and rng.random() < 0.5,
        village_form=_pick(rng, [("official", 55), ("bare", 25), ("lower", 10), ("address", 10)]),
        phone_mode=_pick(rng, [("text", 78), ("numeric", 22)]),
        name_case=name_case,
        cat_vocab=rng.choice(CAT_VOCABS),
        mark=_pick(rng, [("x", 80), ("X", 20)]),
        need_mode=need_mode,
        sex_values=_pick(rng, [(("Nam", "Nữ"), 85), (("nam", "nữ"), 10), (("NAM", "NỮ"), 5)]),
        title=title,
        subtotal=_pick(rng, [("", 70), ("merged", 12), ("name", 10), ("stt", 8)]),
        footer=rng.random() < (0.8 if school else 0.9) and not csv_kind == "csv_plain",
        blank_rows=rng.choice((1, 1, 2, 3)) if rng.random() < 0.25 else 0,
        trailing_numbered=rng.randint(3, 8) if rng.random() < 0.1 and not csv_kind else 0,
        sort=_pick(rng, [("class", 70), ("entry", 30)]) if school else _pick(rng, [("village", 70), ("school", 30)]),
        sections=(not school) and ("sections" in special or rng.random() < 0.3) and not csv_kind,
        section_restart=rng.random() < 0.5,
        freeze=rng.random() < 0.3 and not csv_kind,
        sheet_name=rng.choice(["Sheet1", "Sheet1", "Trang tính1", "Danh sách", "DS HS", "Tổng hợp", "DS"]),
        csv_kind=csv_kind,
    )


# --------------------------------------------------------------------------------------------------------------
# Rows as written
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Entry:
    child: Child
    list_type: str
    unit_code: str
    name: str
    dob_cell: Any
    dob_text: str
    row_dob: str
    grade: int
    grade_cell: Any
    village_cell: str
    guardian: str  # clean guardian name this row gives
    guardian_cell: str
    phone_cell: Any
    category: str
    cat_cell: str
    other_mark: bool
    lacks_device: bool
    lacks_internet: bool
    school_code: str
    school_cell: str
    commune_cell: str
    note: str
    variants: list[str] = field(default_factory=list)
    bad: str = ""


def _render_date(d: dt.date, form: str, rng: random.Random) -> tuple[Any, str, str]:
    """(cell value, text as the school typed or sees it, ISO date the row states or "")."""
    iso = d.isoformat()
    if form == "excel":
        return d, d.strftime("%d/%m/%Y"), iso
    if form == "serial":
        n = (d - EXCEL_EPOCH).days
        return n, str(n), iso
    if form == "text_padded":
        t = d.strftime("%d/%m/%Y")
    elif form == "text_loose":
        t = f"{d.day}/{d.month}/{d.year}"
    elif form == "text_short":
        t = f"{d.day}-{d.month}-{d.year % 100:02d}"
    elif form == "text_dots":
        t = d.strftime("%d.%m.%Y")
    elif form == "text_yy":
        t = f"{d.day}/{d.month}/{d.year % 100:02d}"
    elif form == "year":
        return (d.year if rng.random() < 0.5 else str(d.year)), str(d.year), ""
    else:
        raise ValueError(form)
    return t, t, iso


def _commune_label(c: Commune, style: int = 0) -> str:
    if c.type == "township":
        return ("thị trấn " + c.name.split(" ", 2)[-1]) if style == 0 else ("TT " + c.name.split(" ", 2)[-1])
    return "xã " + c.name.removeprefix("Xã ")


def _bare_village(v: str) -> str:
    return v.split(" ", 1)[1] if " " in v else v


def _school_place(s: School) -> str:
    return s.name.split(" ", 2)[-1]


def _school_variants(s: School, cfg: AppConfig) -> list[str]:
    place = _school_place(s)
    word = {"TH": "Tiểu học", "THCS": "THCS", "TH&THCS": "TH và THCS"}[s.level]
    commune = cfg.district.commune_by_code[s.commune]
    return [s.name, f"{s.level} {place}", f"{s.level} {place}", f"{word} {place}",
            f"{s.level} {place}".upper(), f"{s.level} {commune.name}"]


def _deviate(category: str, rng: random.Random) -> str:
    return {"none": rng.choice(("poor", "near_poor", "near_poor")), "poor": rng.choice(("near_poor", "none")),
            "near_poor": rng.choice(("poor", "none")), "covid_orphan": "none"}[category]


def _format_phone(phone: str, mode: str, rng: random.Random) -> Any:
    if not phone:
        return None
    if mode == "numeric":
        return int(phone)
    form = _pick(rng, [("plain", 62), ("spaces", 12), ("dots", 9), ("plus", 6), ("plus_sp", 3), ("dash", 8)])
    if form == "plain":
        return phone
    if form == "spaces":
        return f"{phone[:4]} {phone[4:7]} {phone[7:]}"
    if form == "dots":
        return f"{phone[:4]}.{phone[4:7]}.{phone[7:]}"
    if form == "plus":
        return "+84" + phone[1:]
    if form == "plus_sp":
        return f"+84 {phone[1:4]} {phone[4:7]} {phone[7:]}"
    return f"{phone[:4]}-{phone[4:]}"


def _spell(full: str, layout: Layout, rng: random.Random, identity_noise: bool, variants: list[str]) -> str:
    words = full.split()
    if identity_noise:
        if len(words) >= 3 and words[1] in ("Thị", "Văn") and rng.random() < 0.06:
            del words[1]
            variants.append("middle_dropped")
        if rng.random() < 0.07:
            toned = [i for i, w in enumerate(words) if _has_tone(w)]
            if toned:
                i = rng.choice(toned)
                words[i] = _drop_tone(words[i])
                variants.append("tone_dropped")
    if rng.random() < (0.10 if identity_noise else 0.04):
        changed = [_old_style(w) for w in words]
        if changed != words:
            words = changed
            variants.append("old_tone_style")
    name = " ".join(words)
    r = rng.random()
    if r < 0.02:
        name = name.replace(" ", "  ", 1)
        variants.append("double_space")
    elif r < 0.035:
        name = name + " "
        variants.append("trailing_space")
    elif r < 0.045:
        name = " " + name
        variants.append("leading_space")
    if layout.name_case == "normal":
        r = rng.random()
        if r < 0.02:
            name = name.upper()
            variants.append("upper")
        elif r < 0.028:
            name = name.lower()
            variants.append("lower")
        elif r < 0.034:
            name = unicodedata.normalize("NFD", name)
            variants.append("nfd")
    elif layout.name_case == "upper":
        name = name.upper()
        variants.append("upper")
    elif layout.name_case == "nfd":
        name = unicodedata.normalize("NFD", name)
        variants.append("nfd")
    return name


def _make_entry(cfg: AppConfig, layout: Layout, ch: Child, rng: random.Random, unit_code: str,
                overlap: bool) -> Entry:
    hh = ch.household
    commune = cfg.district.commune_by_code[hh.commune]
    commune_list = layout.list_type == "commune"
    variants: list[str] = []
    identity_noise = commune_list and overlap
    name = _spell(ch.full_name, layout, rng, identity_noise, variants)

    d = ch.dob
    if identity_noise and d.day <= 12 and d.day != d.month and rng.random() < 0.04:
        d = dt.date(d.year, d.day, d.month)
        variants.append("dob_day_month_swapped")
    form = layout.dob_form
    if form not in ("year",) and rng.random() < 0.05:
        form = _pick(rng, [("text_short", 25), ("text_dots", 20), ("text_yy", 15), ("text_loose", 20), ("year", 20)])
        if form == layout.dob_form:
            form = "text_dots"
        variants.append("dob_form_" + form)
    dob_cell, dob_text, row_dob = _render_date(d, form, rng)

    g = ch.grade
    gf = layout.grade_form
    if gf == "class":
        grade_cell: Any = f"{g}{ch.klass}" if not commune_list or ch.klass else str(g)
    elif gf == "lop":
        grade_cell = f"Lớp {g}{ch.klass}" if layout.lop_class else f"Lớp {g}"
    elif gf == "int":
        grade_cell = g
    else:
        grade_cell = str(g)

    v = hh.village
    vf = layout.village_form
    if vf == "official":
        village_cell = v
    elif vf == "bare":
        village_cell = _bare_village(v)
    elif vf == "lower":
        village_cell = v[:1].lower() + v[1:]
    else:
        village_cell = f"{v}, {_commune_label(commune)}"
    if not commune_list and ch.school:
        school_commune = cfg.district.school_by_code[ch.school].commune
        if hh.commune != school_commune and vf != "address":
            village_cell = f"{village_cell}, {_commune_label(commune, rng.randrange(2))}"
            variants.append("other_commune")

    guardian = hh.guardian
    if commune_list and not hh.deceased and rng.random() < 0.25:
        guardian = hh.other_parent
        variants.append("other_parent")
    guardian_cell = guardian
    if layout.name_case == "upper":
        guardian_cell = guardian.upper()
    elif layout.name_case == "nfd":
        guardian_cell = unicodedata.normalize("NFD", guardian)

    phone = hh.phone
    if commune_list and phone and rng.random() < 0.1:
        phone = ""
    phone_cell = _format_phone(phone, layout.phone_mode, rng)

    category = hh.category
    if not commune_list and rng.random() < 0.06:
        category = _deviate(category, rng)
        variants.append("category_differs")
    cat_cell = layout.cat_vocab.get(category, "")
    if cat_cell and rng.random() < 0.08:
        cat_cell = cat_cell.lower() if rng.random() < 0.6 else cat_cell.upper()

    school_cell = ""
    if commune_list and ch.school:
        s = cfg.district.school_by_code[ch.school]
        school_cell = "" if rng.random() < 0.04 else rng.choice(_school_variants(s, cfg))
    commune_cell = commune.name.removeprefix("Xã ") if commune_list else ""
    return Entry(
        child=ch, list_type=layout.list_type, unit_code=unit_code, name=name, dob_cell=dob_cell, dob_text=dob_text,
        row_dob=row_dob, grade=g, grade_cell=grade_cell, village_cell=village_cell, guardian=guardian,
        guardian_cell=guardian_cell, phone_cell=phone_cell, category=category, cat_cell=cat_cell,
        other_mark=rng.random() < 0.8, lacks_device=ch.lacks_device, lacks_internet=ch.lacks_internet,
        school_code=ch.school, school_cell=school_cell, commune_cell=commune_cell,
        note=rng.choice(NOTES) if rng.random() < 0.08 else "", variants=variants,
    )


def _inject_bad(cfg: AppConfig, pop: Population, layout: Layout, entries: list[Entry], rng: random.Random,
                rate: float, unit_code: str, allow_high_grade: bool) -> list[Entry]:
    """Turn ~rate of the rows into genuinely bad ones (or add a bad row next to them)."""
    out: list[Entry] = []
    pending: list[list[Any]] = []  # [rows to wait, entry]
    for e in entries:
        out.append(e)
        for p in pending:
            p[0] -= 1
        while pending and pending[0][0] <= 0:
            out.append(pending.pop(0)[1])
        if rng.random() >= rate:
            continue
        kinds = ["missing_name", "bad_date", "no_need", "duplicate_row", "formula_text"]
        if layout.has("cat"):
            kinds.append("bad_category")
        if allow_high_grade:
            kinds.append("grade_out_of_range")
        kind = rng.choice(kinds)
        if kind == "missing_name":
            e.name = ""
        elif kind == "bad_date":
            d = e.child.dob
            e.dob_cell = rng.choice(BAD_DATES).format(d=d.day, m=d.month, y=d.year)
            e.dob_text, e.row_dob = e.dob_cell, ""
        elif kind == "no_need":
            e.lacks_device = e.lacks_internet = False
        elif kind == "bad_category":
            e.cat_cell = rng.choice(BAD_CATEGORIES)
            e.category = "none"
        elif kind == "formula_text":
            if layout.has("note"):
                e.note = "=" + rng.choice(["Mồ côi cha", "Bố mẹ đi làm xa", "Ở với bà ngoại", "HS khuyết tật"])
            elif layout.has("guardian"):
                e.guardian_cell = "=" + e.guardian_cell
            else:
                e.name = "=" + e.name
        if kind == "duplicate_row":
            dup = copy.copy(e)
            dup.variants = list(e.variants)
            dup.bad = kind
            wait = 0 if rng.random() < 0.6 else rng.randint(1, 3)
            if wait == 0:
                out.append(dup)
            else:
                pending.append([wait, dup])
        elif kind == "grade_out_of_range":
            hh = e.child.household
            grade = rng.choice((10, 10, 11, 12))
            kid = pop.new_child(hh, None, grade)
            kid.on_school_list = False
            extra = _make_entry(cfg, layout, kid, rng, unit_code, overlap=False)
            extra.grade_cell = grade if layout.grade_form == "int" else (
                f"Lớp {grade}" if layout.grade_form == "lop" else (f"{grade}A{rng.randint(1, 6)}"
                                                                    if layout.grade_form == "class" else str(grade)))
            if layout.list_type == "school":
                extra.school_code = unit_code
            else:
                extra.school_cell = "THPT Hữu Lũng" if rng.random() < 0.5 else "THPT Vân Nham"
            extra.bad = kind
            out.append(extra)
        else:
            e.bad = kind
    out.extend(p[1] for p in pending)
    return out


# --------------------------------------------------------------------------------------------------------------
# Student sheets
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Heading:
    parent: str  # "PHÒNG GD&ĐT HỮU LŨNG"
    unit: str  # "TRƯỜNG TH HỮU LIÊN"
    title: str
    title_with_unit: str
    subtitle: str
    place: str  # for the place-and-date line
    left_signer: str
    right_signer: list[str]  # e.g. ["HIỆU TRƯỞNG"] or ["KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"]
    right_note: str
    names: tuple[str, str]


# Plain cells: field -> (Entry attribute, cell style).
_PLAIN_CELLS = {
    "name": ("name", "cell"), "grade": ("grade_cell", "cell_c"), "school": ("school_cell", "cell"),
    "commune": ("commune_cell", "cell"), "village": ("village_cell", "cell"), "guardian": ("guardian_cell", "cell"),
    "phone": ("phone_cell", "cell_c"), "cat": ("cat_cell", "cell"), "note": ("note", "cell"),
}
# "x"-mark cells: field -> whether the entry is marked there.
_MARK_CELLS: dict[str, Callable[[Entry], bool]] = {
    "sex_m": lambda e: e.child.sex == "M",
    "sex_f": lambda e: e.child.sex == "F",
    "cat_poor": lambda e: e.category == "poor",
    "cat_near": lambda e: e.category == "near_poor",
    "cat_covid": lambda e: e.category == "covid_orphan",
    "cat_other": lambda e: e.category == "none" and e.other_mark,
}


def _cell_value(f: str, e: Entry, layout: Layout, stt: int) -> tuple[Any, str]:
    if f in _PLAIN_CELLS:
        attr, style = _PLAIN_CELLS[f]
        return getattr(e, attr), style
    if f in _MARK_CELLS:
        return (layout.mark if _MARK_CELLS[f](e) else None), "cell_c"
    date_style = "date" if isinstance(e.dob_cell, dt.date) else "cell_c"
    if f == "stt":
        return stt, "cell_c"
    if f == "dob":
        return e.dob_cell, date_style
    if f in ("dob_m", "dob_f"):  # the date is written under the child's sex
        mine = (f == "dob_m") == (e.child.sex == "M")
        return (e.dob_cell if mine else None), date_style
    if f == "sex":
        return layout.sex_values[0 if e.child.sex == "M" else 1], "cell_c"
    if f in ("need_dev", "need_net"):
        lacking = e.lacks_device if f == "need_dev" else e.lacks_internet
        if layout.need_mode == "status":
            return ("Chưa có" if lacking else "Đã có"), "cell_c"
        return (layout.mark if lacking else None), "cell_c"
    raise KeyError(f)


def _student_sheet(grid: Grid, layout: Layout, entries: list[Entry], head: Heading, rng: random.Random,
                   title_suffix: str = "") -> list[tuple[Entry, int]]:
    cols = layout.cols
    c0 = layout.col0
    n = len(cols)
    last = c0 + n - 1
    n_left = max(2, (n * 2) // 5)
    left = (c0, c0 + n_left - 1)
    right = (c0 + n_left, last)
    if c0:
        grid.widths[0] = 3
    for i, col in enumerate(cols):
        grid.widths[c0 + i] = FIELD_WIDTH[col.field]
    title = head.title + title_suffix
    r = 0
    if layout.title == "full":
        grid.merge(0, left[0], 0, left[1], head.parent, "unit")
        grid.merge(0, right[0], 0, right[1], "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "qh")
        grid.merge(1, left[0], 1, left[1], head.unit, "unit_u")
        grid.merge(1, right[0], 1, right[1], "Độc lập - Tự do - Hạnh phúc", "qh2")
        if rng.random() < 0.5:
            grid.merge(2, right[0], 2, right[1], f"{head.place}, ngày {rng.randint(12, 28)} tháng 11 năm 2021",
                       "italic_r")
        grid.merge(4, c0, 4, last, title, "title")
        r = 5
        if head.subtitle:
            grid.merge(5, c0, 5, last, head.subtitle, "subtitle")
            r = 6
        r += 1
    elif layout.title == "short":
        grid.merge(0, left[0], 0, left[1], head.unit, "unit_u")
        grid.merge(1, c0, 1, last, title, "title")
        r = 2
        if head.subtitle and rng.random() < 0.6:
            grid.merge(2, c0, 2, last, head.subtitle, "subtitle")
            r = 3
        r += 1
    elif layout.title == "title_only":
        grid.merge(0, c0, 0, last, head.title_with_unit + title_suffix, "title")
        r = 1 if rng.random() < 0.5 else 2

    # Header.
    if layout.two_row:
        i = 0
        while i < n:
            col = cols[i]
            if col.group is None:
                grid.merge(r, c0 + i, r + 1, c0 + i, col.label, "head")
                i += 1
                continue
            j = i
            while j + 1 < n and cols[j + 1].group == col.group:
                j += 1
            grid.merge(r, c0 + i, r, c0 + j, col.group, "head")
            for k in range(i, j + 1):
                grid.put(r + 1, c0 + k, cols[k].label, "head")
            i = j + 1
        r += 2
    else:
        for i, col in enumerate(cols):
            grid.put(r, c0 + i, col.label, "head")
        r += 1
    if layout.numbers_row:
        for i in range(n):
            grid.put(r, c0 + i, f"({i + 1})", "head_i")
        r += 1
    if layout.freeze:
        grid.freeze = (r, 0)

    # Data rows.
    placed: list[tuple[Entry, int]] = []
    blank_after = set(rng.sample(range(len(entries)), min(layout.blank_rows, max(0, len(entries) - 1))))
    stt = 0
    section = None
    roman = 0
    for idx, e in enumerate(entries):
        if layout.sections and e.child.household.village != section:
            section = e.child.household.village
            roman += 1
            label = section if rng.random() < 0.5 else f"{_roman(roman)}. {section.upper()}"
            grid.merge(r, c0, r, last, label, "section")
            r += 1
            if layout.section_restart:
                stt = 0
        stt += 1
        for i, col in enumerate(cols):
            v, style = _cell_value(col.field, e, layout, stt)
            grid.put(r, c0 + i, v, style)
        placed.append((e, r))
        r += 1
        if idx in blank_after:
            r += 1
    for k in range(layout.trailing_numbered):
        stt += 1
        grid.put(r, c0, stt, "cell_c")
        for i in range(1, n):
            grid.put(r, c0 + i, None, "cell")
        r += 1
    n_rows = len(entries)
    name_i = next(i for i, c in enumerate(cols) if c.field == "name")
    if layout.subtotal == "merged":
        grid.merge(r, c0, r, c0 + name_i, f"Cộng: {n_rows} học sinh", "total")
        r += 1
    elif layout.subtotal == "name":
        grid.put(r, c0 + name_i, f"Tổng cộng: {n_rows} HS", "total")
        r += 1
    elif layout.subtotal == "stt":
        grid.put(r, c0, "Cộng", "total")
        grid.put(r, c0 + name_i, f"{n_rows} học sinh", "total")
        r += 1
    if layout.footer:
        r += 1
        grid.merge(r, right[0], r, right[1], f"{head.place}, ngày {rng.randint(12, 28)} tháng 11 năm 2021",
                   "italic_r")
        r += 1
        grid.merge(r, left[0], r, left[1], head.left_signer, "sign")
        grid.merge(r, right[0], r, right[1], head.right_signer[0], "sign")
        r += 1
        if len(head.right_signer) > 1:
            grid.merge(r, right[0], r, right[1], head.right_signer[1], "sign")
            r += 1
        grid.merge(r, left[0], r, left[1], "(Ký, ghi rõ họ tên)", "sign_i")
        grid.merge(r, right[0], r, right[1], head.right_note, "sign_i")
        r += 4
        grid.merge(r, left[0], r, left[1], head.names[0], "name_b")
        grid.merge(r, right[0], r, right[1], head.names[1], "name_b")
        r += 1
    grid.nrows = max(grid.nrows, r)
    return placed


def _roman(k: int) -> str:
    vals = [(10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
    out = ""
    for v, s in vals:
        while k >= v:
            out += s
            k -= v
    return out


def _guide_sheet(name: str = "Hướng dẫn") -> Grid:
    g = Grid(name)
    lines = [
        "HƯỚNG DẪN ĐIỀN BIỂU",
        "1. Mỗi học sinh ghi một dòng; ghi đầy đủ họ và tên, ngày sinh theo dạng ngày/tháng/năm.",
        "2. Cột Đối tượng: đánh dấu x vào một ô (Hộ nghèo, Hộ cận nghèo, Con mồ côi do COVID-19).",
        "3. Cột Nhu cầu: đánh dấu x nếu học sinh chưa có thiết bị hoặc chưa có kết nối Internet.",
        "4. Không chèn thêm cột, không gộp ô trong bảng. Gửi về Phòng GD&ĐT trước ngày 25/11/2021.",
    ]
    for i, line in enumerate(lines):
        g.put(i, 0, line, "sign" if i == 0 else "plain")
    g.widths[0] = 100
    return g


# --------------------------------------------------------------------------------------------------------------
# Files per unit
# --------------------------------------------------------------------------------------------------------------

SCHOOL_FILE_TEMPLATES = [
    "DS HS thieu thiet bi - {lv} {place}",
    "Danh sach {lv} {ascii} (1)",
    "{lv}_{ascii_us}_DS_hoc_sinh",
    "Danh sách HS chưa có thiết bị - Trường {word} {place}",
    "DSHS chua co may tinh - {word_ascii} {ascii}",
    "Copy of Danh sách học sinh {lv} {place}",
    "Mau 01 - {lv} {ascii} - gui PGD",
    "{lv} {place} - DS HS khó khăn thiết bị học tập (bản sửa)",
    "Bieu tong hop {lv} {ascii} 2021",
    "{lv} {upper} - SONG VA MAY TINH CHO EM",
]
COMMUNE_FILE_TEMPLATES = [
    "DS tre em thieu thiet bi - {name_ascii}",
    "UBND {label} - danh sách",
    "{name_ascii} - DS hoc sinh can ho tro",
    "{name} - tổng hợp các thôn",
    "Danh sach {name_ascii} (gui PGD)",
    "BC {name_ascii} - Song va may tinh cho em",
]


def _school_file_stem(s: School, rng: random.Random) -> str:
    place = _school_place(s)
    word = {"TH": "Tiểu học", "THCS": "THCS", "TH&THCS": "TH và THCS"}[s.level]
    return rng.choice(SCHOOL_FILE_TEMPLATES).format(
        lv=s.level.replace("&", "-"), place=place, ascii=_ascii(place), ascii_us=_ascii(place).replace(" ", "_"),
        word=word, word_ascii=_ascii(word), upper=place.upper())


def _school_heading(cfg: AppConfig, s: School, rng: random.Random) -> Heading:
    place = _school_place(s)
    word = {"TH": "TIỂU HỌC", "THCS": "TRUNG HỌC CƠ SỞ", "TH&THCS": "TH VÀ THCS"}[s.level]
    mixed_case = {"TH": "Tiểu học", "THCS": "THCS", "TH&THCS": "TH và THCS"}[s.level]
    unit = _pick(rng, [(f"TRƯỜNG {s.level} {place.upper()}", 55), (f"TRƯỜNG {word} {place.upper()}", 30),
                       (f"Trường {mixed_case} {place}", 15)])
    title = rng.choice([
        "DANH SÁCH HỌC SINH CHƯA CÓ THIẾT BỊ HỌC TRỰC TUYẾN",
        "DANH SÁCH HỌC SINH CHƯA CÓ THIẾT BỊ HỌC TRỰC TUYẾN, CHƯA CÓ KẾT NỐI INTERNET",
        "DANH SÁCH HỌC SINH CÓ HOÀN CẢNH KHÓ KHĂN CHƯA CÓ MÁY TÍNH, ĐIỆN THOẠI THÔNG MINH VÀ INTERNET ĐỂ HỌC "
        "TRỰC TUYẾN",
        "TỔNG HỢP HỌC SINH THIẾU THIẾT BỊ HỌC TẬP TRỰC TUYẾN",
    ])
    unit_in_title = f"TRƯỜNG {word} {place.upper()}" if rng.random() < 0.5 else f"TRƯỜNG {s.level} {place.upper()}"
    with_unit = title.replace("HỌC SINH", f"HỌC SINH {unit_in_title}", 1) if "HỌC SINH" in title else \
        f"{title} - {unit_in_title}"
    commune = cfg.district.commune_by_code[s.commune]
    return Heading(
        parent=rng.choice(["PHÒNG GD&ĐT HỮU LŨNG", "PHÒNG GIÁO DỤC VÀ ĐÀO TẠO HỮU LŨNG", "PHÒNG GD&ĐT HUYỆN HỮU LŨNG"]),
        unit=unit, title=title, title_with_unit=with_unit,
        subtitle=rng.choice(["Năm học 2021 - 2022",
                             "(Kèm theo Công văn số 1234/PGDĐT-VP ngày 10/11/2021 của Phòng GD&ĐT huyện Hữu Lũng)",
                             "Chương trình \"Sóng và máy tính cho em\"", ""]),
        place=commune.name.split(" ", 2)[-1] if commune.type == "township" else commune.name.removeprefix("Xã "),
        left_signer=rng.choice(["Người lập biểu", "NGƯỜI LẬP BIỂU", "Người lập"]),
        right_signer=["HIỆU TRƯỞNG"] if rng.random() < 0.75 else ["KT. HIỆU TRƯỞNG", "PHÓ HIỆU TRƯỞNG"],
        right_note="(Ký, ghi rõ họ tên, đóng dấu)",
        names=(_adult_name(rng), _adult_name(rng)),
    )


def _commune_heading(c: Commune, rng: random.Random) -> Heading:
    if c.type == "township":
        unit = rng.choice([f"UBND {c.name.upper()}", f"ỦY BAN NHÂN DÂN {c.name.upper()}"])
        place = c.name.split(" ", 2)[-1]
    else:
        unit = rng.choice([f"UBND {c.name.upper()}", f"ỦY BAN NHÂN DÂN {c.name.upper()}"])
        place = c.name.removeprefix("Xã ")
    title = rng.choice([
        "DANH SÁCH TRẺ EM, HỌC SINH CHƯA CÓ THIẾT BỊ HỌC TRỰC TUYẾN, CHƯA CÓ KẾT NỐI INTERNET",
        "DANH SÁCH HỌC SINH TRÊN ĐỊA BÀN CHƯA CÓ THIẾT BỊ, ĐƯỜNG TRUYỀN INTERNET ĐỂ HỌC TRỰC TUYẾN",
        "DANH SÁCH HỌC SINH THUỘC HỘ NGHÈO, CẬN NGHÈO VÀ HOÀN CẢNH KHÓ KHĂN CẦN HỖ TRỢ THIẾT BỊ HỌC TẬP",
    ])
    return Heading(
        parent="UBND HUYỆN HỮU LŨNG", unit=unit, title=title,
        title_with_unit=f"{title} - {c.name.upper()}",
        subtitle=rng.choice([f"(Trên địa bàn {_commune_label(c)})", "Chương trình \"Sóng và máy tính cho em\"", ""]),
        place=place,
        left_signer=rng.choice(["Người lập biểu", "NGƯỜI LẬP BIỂU", "Cán bộ LĐTB&XH"]),
        right_signer=rng.choice([["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"], ["KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"],
                                 ["CHỦ TỊCH"]]),
        right_note="(Ký tên, đóng dấu)",
        names=(_adult_name(rng), _adult_name(rng)),
    )


def _adult_name(rng: random.Random) -> str:
    sex = "M" if rng.random() < 0.5 else "F"
    return f"{FAMILY.draw(rng)} {MIDDLE[sex].draw(rng)} {rng.choice(GIVEN[sex])}"


@dataclass
class Placed:
    entry: Entry
    rel_path: str
    sheet: str
    row: int  # 1-based


def _sort_school(entries: list[Child], layout: Layout) -> list[Child]:
    if layout.sort == "class":
        return sorted(entries, key=lambda ch: (ch.grade, ch.klass, name_sort_key(ch.full_name), ch.pid))
    return sorted(entries, key=lambda ch: (ch.grade, ch.pid))  # by class, in the order the teachers entered them


def _write_school(cfg: AppConfig, district: District, s: School, out: Path, seed: int, special: set[str],
                  generic_index: int) -> list[Placed]:
    rng = random.Random(f"{seed}:school:{s.code}")
    csv_kind = next((k for k in ("csv_bom", "csv_plain", "csv_semicolon", "csv_utf16") if k in special), "")
    commune = cfg.district.commune_by_code[s.commune]
    layout = _choose_layout(rng, "school", commune.type == "township", special, csv_kind)
    head = _school_heading(cfg, s, rng)
    if "generic_name" in special:
        stem = f"Danh sach hoc sinh ({generic_index})"
    else:
        stem = _school_file_stem(s, rng)
    kids = _sort_school(district.school_lists.get(s.code, []), layout)
    entries = [_make_entry(cfg, layout, ch, rng, s.code, overlap=False) for ch in kids]
    entries = _inject_bad(cfg, district.pop, layout, entries, rng, 0.011, s.code, allow_high_grade=s.level != "TH")

    placed: list[Placed] = []
    if csv_kind:
        rel = f"truong/{stem}.csv"
        grid = Grid("")
        for e, r in _student_sheet(grid, layout, entries, head, rng):
            placed.append(Placed(e, rel, "", r + 1))
        _write_csv(out / rel, grid, csv_kind)
        return placed

    rel = f"truong/{stem}.xlsx"
    grids: list[Grid] = []
    if "guide_first" in special:
        grids.append(_guide_sheet())
    if "per_grade" in special:
        by_grade: dict[int, list[Entry]] = {}
        key = 0
        for e in entries:
            key = e.grade if e.grade <= 9 else key  # a grade-10 row stays on the sheet it was typed into
            by_grade.setdefault(key, []).append(e)
        word = rng.choice(["Khối", "Lớp", "K"])
        groups = [(f"{word} {g}" if word != "K" else f"K{g}", by_grade[g], f" - KHỐI {g}") for g in sorted(by_grade)]
    else:
        groups = [(layout.sheet_name, entries, "")]
    sheets, on_sheets = _place_sheets(groups, layout, head, rng, rel)
    grids.extend(sheets)
    placed.extend(on_sheets)
    extra = rng.random()
    if "guide_first" not in special and extra < 0.15:
        grids.append(_guide_sheet())
    elif extra < 0.30:
        grids.append(Grid("Sheet2" if grids[0].name != "Sheet2" else "Sheet3"))
    _write_xlsx(out / rel, grids, head.title, head.unit)
    return placed


def _place_sheets(groups: list[tuple[str, list[Entry], str]], layout: Layout, head: Heading, rng: random.Random,
                  rel: str) -> tuple[list[Grid], list[Placed]]:
    """One student sheet per (sheet name, entries, title suffix); where each entry landed."""
    grids: list[Grid] = []
    placed: list[Placed] = []
    for name, group, suffix in groups:
        grid = Grid(name)
        for e, r in _student_sheet(grid, layout, group, head, rng, suffix):
            placed.append(Placed(e, rel, grid.name, r + 1))
        grids.append(grid)
    return grids, placed


def _write_commune(cfg: AppConfig, district: District, c: Commune, out: Path, seed: int,
                   special: set[str]) -> list[Placed]:
    rng = random.Random(f"{seed}:commune:{c.code}")
    layout = _choose_layout(rng, "commune", c.type == "township", special)
    head = _commune_heading(c, rng)
    stem = rng.choice(COMMUNE_FILE_TEMPLATES).format(
        name=c.name, name_ascii=_ascii(c.name), label=_commune_label(c))
    kids = district.commune_lists.get(c.code, [])
    village_order = {v: i for i, v in enumerate(c.villages)}
    if layout.sort == "village" or layout.sections or "sheet_per_village" in special:
        kids = sorted(kids, key=lambda ch: (village_order.get(ch.household.village, 99), ch.household.hid, -ch.grade))
    else:
        kids = sorted(kids, key=lambda ch: (ch.school, ch.grade, name_sort_key(ch.full_name), ch.pid))
    entries = [_make_entry(cfg, layout, ch, rng, c.code, overlap=ch.pid in district.overlap) for ch in kids]
    entries = _inject_bad(cfg, district.pop, layout, entries, rng, 0.009, c.code, allow_high_grade=True)
    rel = f"xa/{stem}.xlsx"
    if "sheet_per_village" in special:
        by_village: dict[str, list[Entry]] = {}
        for e in entries:
            by_village.setdefault(e.child.household.village, []).append(e)
        layout.sections = False
        groups = [(_bare_village(v)[:31], by_village[v], f" - {v.upper()}")
                  for v in sorted(by_village, key=lambda x: village_order.get(x, 99))]
    else:
        groups = [(layout.sheet_name, entries, "")]
    grids, placed = _place_sheets(groups, layout, head, rng, rel)
    if rng.random() < 0.15:
        grids.append(Grid("Sheet2"))
    _write_xlsx(out / rel, grids, head.title, head.unit)
    return placed


# --------------------------------------------------------------------------------------------------------------
# Connectivity
# --------------------------------------------------------------------------------------------------------------


def _write_connectivity(cfg: AppConfig, coverage: dict[tuple[str, str], tuple[bool, bool, bool]], out: Path,
                        seed: int) -> dict[str, int]:
    rng = random.Random(f"{seed}:connectivity")
    grids: list[Grid] = []
    villages = no_coverage = 0
    yes_no_sheets = set(rng.sample(range(len(cfg.district.communes)), min(2, len(cfg.district.communes))))
    for ci, c in enumerate(cfg.district.communes):
        short = c.name.split(" ", 2)[-1] if c.type == "township" else c.name.removeprefix("Xã ")
        grid = Grid(("TT " + short) if c.type == "township" else short)
        two_row = rng.random() < 0.4
        village_label = rng.choice(["Thôn/Khu", "Khu"] if c.type == "township" else ["Thôn", "Tên thôn", "Thôn/bản"])
        labels = ["STT", village_label, "Số hộ", "3G", "4G", "Cáp quang", "Ghi chú"]
        if rng.random() < 0.3:
            labels[3:6] = ["Sóng 3G", "Sóng 4G", "Internet cáp quang"]
        widths = [5, 20, 8, 8, 8, 12, 28]
        for i, w in enumerate(widths):
            grid.widths[i] = w
        yes, no = ("Có", "Không") if ci in yes_no_sheets else ("x", None)
        grid.merge(0, 0, 0, 2, f"UBND {c.name.upper()}", "unit_u")
        grid.merge(0, 3, 0, 6, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "qh")
        grid.merge(1, 3, 1, 6, "Độc lập - Tự do - Hạnh phúc", "qh2")
        grid.merge(3, 0, 3, 6, "HIỆN TRẠNG HẠ TẦNG VIỄN THÔNG (SÓNG 3G, 4G, CÁP QUANG) TẠI CÁC THÔN", "title")
        label = _commune_label(c)
        grid.merge(4, 0, 4, 6, f"({label[:1].upper()}{label[1:]}, huyện Hữu Lũng)", "subtitle")
        r = 6
        if two_row:
            for i in (0, 1, 2, 6):
                grid.merge(r, i, r + 1, i, labels[i], "head")
            grid.merge(r, 3, r, 5, "Hiện trạng phủ sóng, kết nối", "head")
            for i in (3, 4, 5):
                grid.put(r + 1, i, labels[i], "head")
            r += 2
        else:
            for i, lab in enumerate(labels):
                grid.put(r, i, lab, "head")
            r += 1
        for k, v in enumerate(c.villages):
            g3, g4, fibre = coverage[(c.code, v)]
            villages += 1
            none = not (g3 or g4 or fibre)
            no_coverage += none
            name = v if rng.random() < 0.7 else _bare_village(v)
            note = rng.choice(["Vùng lõm sóng, chưa có cáp quang", "Chưa có sóng điện thoại",
                               "Chưa có hạ tầng viễn thông"]) if none else (
                "Sóng yếu" if (g3 and not g4 and rng.random() < 0.5) else "")
            row = [k + 1, name, rng.randint(60, 380), yes if g3 else no, yes if g4 else no, yes if fibre else no, note]
            for i, val in enumerate(row):
                grid.put(r, i, val, "cell_c" if i in (0, 2, 3, 4, 5) else "cell")
            r += 1
        grid.put(r, 1, "Tổng số thôn", "total")
        grid.put(r, 2, len(c.villages), "total")
        r += 2
        grid.merge(r, 0, r, 2, "Người lập biểu", "sign")
        grid.merge(r, 3, r, 6, "TM. ỦY BAN NHÂN DÂN", "sign")
        grid.nrows = r + 1
        grids.append(grid)
    _write_xlsx(out / "ha-tang" / "Hien trang ha tang vien thong cac thon.xlsx", grids,
                "Hiện trạng hạ tầng viễn thông", "Phòng VH&TT Hữu Lũng")
    return {"villages": villages, "villages_without_coverage": no_coverage}


# --------------------------------------------------------------------------------------------------------------
# Donations
# --------------------------------------------------------------------------------------------------------------

CASH_DONORS = [
    "Ngân hàng TMCP Đầu tư và Phát triển Việt Nam (BIDV) - CN Lạng Sơn", "Agribank Chi nhánh huyện Hữu Lũng",
    "Vietcombank Chi nhánh Lạng Sơn", "Công ty CP Xi măng Đồng Bành", "Công ty TNHH MTV Xổ số kiến thiết Lạng Sơn",
    "Hội Doanh nhân trẻ tỉnh Lạng Sơn", "Công ty Điện lực Lạng Sơn", "Hội Đồng hương Hữu Lũng tại Hà Nội",
    "Ủy ban MTTQ Việt Nam huyện Hữu Lũng", "Công đoàn ngành Giáo dục huyện Hữu Lũng", "Đoàn Thanh niên huyện Hữu Lũng",
    "Ông Nguyễn Văn Thắng (Hà Nội)", "Bà Hoàng Thị Mai (TP Lạng Sơn)", "Cán bộ, giáo viên Trường THCS Yên Bình",
    "Nhóm thiện nguyện Ấm áp vùng cao", "Công ty TNHH Sản xuất và Thương mại Minh Phát", "Hội Cựu chiến binh huyện",
    "Công ty CP Đầu tư Xây dựng Hữu Lũng", "Bưu điện huyện Hữu Lũng", "Hội Khuyến học huyện Hữu Lũng",
]
BUDGET_DONORS = ["Ngân sách huyện Hữu Lũng", "Quỹ Vì người nghèo huyện Hữu Lũng", "Quỹ Bảo trợ trẻ em tỉnh Lạng Sơn",
                 "Ngân sách tỉnh Lạng Sơn (Quỹ Khuyến học)"]
DEVICE_DONORS = ["Tập đoàn Công nghiệp - Viễn thông Quân đội (Viettel)", "Công ty TNHH Samsung Electronics Việt Nam",
                 "Tập đoàn FPT", "Ngân hàng TMCP Quân đội (MB) - CN Lạng Sơn", "Công ty CP Thế Giới Di Động",
                 "Tổng công ty Điện lực miền Bắc", "Hội Doanh nhân trẻ tỉnh Lạng Sơn", "Quỹ Vì tầm vóc Việt",
                 "Báo Tuổi Trẻ - Chương trình Máy tính cũ, tri thức mới", "Sở Giáo dục và Đào tạo Lạng Sơn"]
TELECOM_DONORS = ["Viettel Lạng Sơn", "VNPT Lạng Sơn", "MobiFone tỉnh Lạng Sơn", "Viettel Lạng Sơn", "VNPT Lạng Sơn"]
DEVICE_KINDS = {
    "desktop": (["Máy tính để bàn", "Máy tính để bàn (PC)"], ["Dell OptiPlex 3080", "Máy đã qua sử dụng, còn tốt",
                                                              "HP ProDesk 400"]),
    "laptop": (["Máy tính xách tay", "Laptop"], ["Dell Vostro 3400", "Lenovo IdeaPad 3", "Asus VivoBook 15"]),
    "tablet": (["Máy tính bảng"], ["Samsung Galaxy Tab A7 Lite", "Lenovo Tab M8", "iPad Gen 9 (đã qua sử dụng)"]),
    "smartphone": (["Điện thoại thông minh"], ["Samsung Galaxy A12", "Oppo A16", "Vsmart Joy 4"]),
    "internet_package": (["Gói cước Internet", "SIM 4G", "Gói cước"], ["Gói data 4G 12 tháng", "Miễn phí cước 12 tháng",
                                                                       "SIM kèm gói 4GB/ngày, 12 tháng"]),
}


def _split(total: int, n: int, rng: random.Random, minimum: int = 1) -> list[int]:
    weights = [rng.lognormvariate(0, 0.8) for _ in range(n)]
    s = sum(weights)
    parts = [max(minimum, int(total * w / s)) for w in weights]
    parts[0] += max(0, total - sum(parts))
    return parts


def _round_money(x: float) -> int:
    step = 5_000_000 if x >= 20_000_000 else 1_000_000
    return max(step, int(round(x / step)) * step)


def _write_donations(cfg: AppConfig, district: District, out: Path, seed: int
                     ) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Write the donations ledger; return its counts and the rows written."""
    rng = random.Random(f"{seed}:donations")
    d = cfg.district
    listed = [ch for ch in district.pop.children if ch.grade <= 9]
    device_need = sum(ch.lacks_device for ch in listed)
    net_need = sum(ch.lacks_internet for ch in listed)
    target_dev = max(10, round(device_need * rng.uniform(0.48, 0.58)))
    target_net = max(5, round(net_need * rng.uniform(0.48, 0.58)))
    cash_item = d.cash_buys[0] if d.cash_buys else "tablet"
    unit_price = d.unit_prices.get(cash_item, 4_500_000)
    share = d.cash_internet_share
    cash_units = round(target_dev * 0.55)
    cash_total = cash_units * unit_price / max(0.05, 1 - share)
    cash_net_units = int(cash_total * share / d.unit_prices.get("internet_package", 1_200_000))
    inkind_dev = max(20, target_dev - cash_units)
    inkind_net = max(8, target_net - cash_net_units)

    rows: list[dict[str, Any]] = []
    n_cash, n_budget = 16, 3
    cash_parts = _split(int(cash_total * 0.6), n_cash, rng)
    budget_parts = _split(int(cash_total * 0.4), n_budget, rng)
    for i, amount in enumerate(cash_parts):
        rows.append({"donor": CASH_DONORS[i % len(CASH_DONORS)], "kind": rng.choice(["Tiền mặt", "Chuyển khoản"]),
                     "qty": None, "amount": _round_money(amount), "status": "received", "note": ""})
    for i, amount in enumerate(budget_parts):
        rows.append({"donor": BUDGET_DONORS[i % len(BUDGET_DONORS)],
                     "kind": "Quỹ" if "Quỹ" in BUDGET_DONORS[i % len(BUDGET_DONORS)] else "Ngân sách nhà nước",
                     "qty": None, "amount": _round_money(amount), "status": "received",
                     "note": "Theo Quyết định số 2345/QĐ-UBND" if i == 0 else ""})
    kind_share = {"desktop": (0.10, 5), "laptop": (0.15, 6), "tablet": (0.45, 8), "smartphone": (0.30, 5)}
    for item, (frac, n) in kind_share.items():
        for qty in _split(max(n, round(inkind_dev * frac)), n, rng):
            labels, notes = DEVICE_KINDS[item]
            rows.append({"donor": rng.choice(DEVICE_DONORS), "kind": rng.choice(labels), "qty": qty, "amount": None,
                         "status": "received", "note": rng.choice(notes)})
    for qty in _split(inkind_net, 8, rng):
        labels, notes = DEVICE_KINDS["internet_package"]
        rows.append({"donor": rng.choice(TELECOM_DONORS), "kind": rng.choice(labels), "qty": qty, "amount": None,
                     "status": "received", "note": rng.choice(notes)})
    rng.shuffle(rows)
    # Earmarks: a few received rows for one commune or one school.
    for row in rng.sample(rows, 5):
        if rng.random() < 0.6:
            c = rng.choice(d.communes)
            row["earmark"] = c.name
        else:
            s = rng.choice(d.schools)
            row["earmark"] = s.name
        if row["qty"] is not None:
            row["qty"] = max(1, min(row["qty"], rng.randint(5, 30)))
        else:
            row["amount"] = min(row["amount"], _round_money(rng.uniform(20_000_000, 100_000_000)))
    # Pledges, not yet received.
    for _ in range(9):
        item = rng.choice(["cash", "cash", "tablet", "laptop", "smartphone", "internet_package"])
        if item == "cash":
            rows.append({"donor": rng.choice(CASH_DONORS), "kind": "Tiền mặt", "qty": None,
                         "amount": _round_money(cash_total * rng.uniform(0.01, 0.04)), "status": "pledged",
                         "note": "Đăng ký ủng hộ, chưa chuyển"})
        else:
            labels, notes = DEVICE_KINDS[item]
            rows.append({"donor": rng.choice(TELECOM_DONORS if item == "internet_package" else DEVICE_DONORS),
                         "kind": rng.choice(labels), "qty": max(2, round(target_dev * rng.uniform(0.005, 0.02))),
                         "amount": None, "status": "pledged", "note": "Cam kết trao trong quý II/2022"})
    start = dt.date(2021, 11, 20)
    for row in rows:
        offset = rng.randrange(200) if row["status"] == "received" else rng.randrange(120, 220)
        row["date"] = start + dt.timedelta(days=offset)
    rows.sort(key=lambda x: (x["date"], x["donor"]))
    seq: dict[int, int] = {}
    for row in rows:
        seq[row["date"].year] = seq.get(row["date"].year, 0) + 1
        row["id"] = f"TT-{row['date'].year}-{seq[row['date'].year]:03d}"

    grid = Grid("Sổ tài trợ")
    headers = ["STT", "Mã", "Nhà tài trợ", "Ngày", "Loại", "Số lượng", "Số tiền (VND)", "Tình trạng", "Dành cho",
               "Ghi chú"]
    for i, w in enumerate([5, 13, 42, 12, 22, 10, 16, 12, 24, 34]):
        grid.widths[i] = w
    grid.merge(0, 0, 0, 3, "PHÒNG GIÁO DỤC VÀ ĐÀO TẠO HỮU LŨNG", "unit_u")
    grid.merge(2, 0, 2, 9, "SỔ THEO DÕI TIẾP NHẬN TÀI TRỢ CHƯƠNG TRÌNH \"SÓNG VÀ MÁY TÍNH CHO EM\"", "title")
    grid.merge(3, 0, 3, 9, "(Cập nhật đến ngày 30/06/2022)", "subtitle")
    r = 5
    for i, h in enumerate(headers):
        grid.put(r, i, h, "head")
    r += 1
    first = r
    received_status = ["Đã nhận", "Đã nhận", "Đã nhận", "Đã tiếp nhận"]
    pledged_status = ["Cam kết", "Cam kết", "Chưa nhận"]
    for k, row in enumerate(rows):
        status = rng.choice(received_status if row["status"] == "received" else pledged_status)
        values = [k + 1, row["id"], row["donor"], row["date"], row["kind"], row["qty"], row["amount"], status,
                  row.get("earmark", ""), row["note"]]
        styles = ["cell_c", "cell_c", "cell", "date", "cell", "cell_c", "money", "cell_c", "cell", "cell"]
        for i, (v, st) in enumerate(zip(values, styles)):
            grid.put(r, i, v, st)
        r += 1
    total_amount = sum(row["amount"] or 0 for row in rows)
    grid.put(r, 2, "Tổng cộng", "total")
    grid.formulas[(r, 6)] = (f"=SUM(G{first + 1}:G{r})", total_amount, "money_b")
    grid.nrows = r + 1
    r += 2
    grid.merge(r, 1, r, 3, "Người lập biểu", "sign")
    grid.merge(r, 6, r, 9, "TRƯỞNG PHÒNG", "sign")
    grid.nrows = r + 1
    _write_xlsx(out / "tai-tro" / "So theo doi tai tro.xlsx", [grid], "Sổ theo dõi tài trợ", "Phòng GD&ĐT Hữu Lũng")
    received = [x for x in rows if x["status"] == "received"]
    return {
        "donations": len(rows),
        "donations_received": len(received),
        "donations_pledged": len(rows) - len(received),
        "cash_received_vnd": sum(x["amount"] or 0 for x in received),
        "devices_received": sum(x["qty"] or 0 for x in received if "Gói" not in x["kind"] and "SIM" not in x["kind"]),
        "internet_packages_received": sum(x["qty"] or 0 for x in received if "Gói" in x["kind"] or "SIM" in x["kind"]),
        "device_need": device_need,
        "internet_need": net_need,
    }, rows


# --------------------------------------------------------------------------------------------------------------
# Officer sheets: handovers, device-use follow-up, allocation overrides
# --------------------------------------------------------------------------------------------------------------

HANDOVER_DAY = dt.date(2022, 3, 1)  # handovers and checks happen before the demo night (2022-03-15)
FOLLOW_UP_STATES = [("Đang sử dụng", 0.8), ("Bị hỏng", 0.12), ("Mất", 0.08)]


def _officer_sheet(title: str, subtitle: str, headers: list[str], widths: list[float], rows: list[list[Any]],
                   styles: list[str], signer: str) -> Grid:
    grid = Grid("Danh sách")
    for i, w in enumerate(widths):
        grid.widths[i] = w
    last = len(headers) - 1
    grid.merge(0, 0, 0, 3, "PHÒNG GIÁO DỤC VÀ ĐÀO TẠO HỮU LŨNG", "unit_u")
    grid.merge(2, 0, 2, last, title, "title")
    grid.merge(3, 0, 3, last, subtitle, "subtitle")
    r = 5
    for i, h in enumerate(headers):
        grid.put(r, i, h, "head")
    for k, values in enumerate(rows, 1):
        for i, (v, st) in enumerate(zip([k, *values], styles)):
            grid.put(r + k, i, v, st)
    r += len(rows) + 2
    grid.merge(r, 1, r, 2, "Người lập biểu", "sign")
    grid.merge(r, last - 2, r, last, signer, "sign")
    grid.nrows = r + 1
    return grid


def _write_officer_sheets(cfg: AppConfig, placed: list[Placed], donations: list[dict[str, Any]], out: Path,
                          seed: int) -> dict[str, int]:
    """Handovers for some poor children who lack a device (they rank first, so they are the ones allocated),
    the schools' follow-up of those devices, and a few officer overrides — listed by name, birth date and
    school as officers do, so the night must link them to its persons."""
    rng = random.Random(f"{seed}:officer")
    d = cfg.district
    # Children whose every row is clean and named as written in the truth: the officer knows them well.
    rows_of: dict[str, list[Placed]] = {}
    for p in placed:
        rows_of.setdefault(p.entry.child.pid, []).append(p)
    clean = []
    for pid, ps in sorted(rows_of.items()):
        ch = ps[0].entry.child
        if any(p.entry.bad or p.entry.variants for p in ps) or ch.variants or not ch.school:
            continue
        if ch.grade > 9 or any(p.entry.name != ch.full_name for p in ps):
            continue
        clean.append(ch)
    poor = [ch for ch in clean if ch.household.category == "poor" and ch.lacks_device]
    stock: list[tuple[str, str]] = []  # (item, donation id), one per unit received by HANDOVER_DAY
    for row in donations:
        item = next((k for k, (labels, _) in DEVICE_KINDS.items() if row["kind"] in labels), "")
        if row["status"] == "received" and item and item != "internet_package" and row["date"] <= HANDOVER_DAY:
            stock += [(item, row["id"])] * (row["qty"] or 0)
    n = min(len(poor), len(stock), max(3, round(len(poor) * 0.25)))
    chosen = sorted(rng.sample(poor, n), key=lambda ch: (ch.school, name_sort_key(ch.full_name), ch.pid))
    handed: list[tuple[Child, str, str, str]] = []
    hand_rows = []
    for k, ch in enumerate(chosen):
        item, donation = stock[k]
        serial = f"SN{rng.randrange(10**7, 10**8)}"
        day = HANDOVER_DAY - dt.timedelta(days=rng.randrange(0, 20))
        hh = ch.household
        guardian = hh.father if hh.guardian_is_father else hh.mother
        handed.append((ch, item, donation, serial))
        hand_rows.append([ch.full_name, ch.dob, d.school_by_code[ch.school].name, DEVICE_KINDS[item][0][0], serial,
                          donation, day, guardian])
    grid = _officer_sheet("SỔ BÀN GIAO THIẾT BỊ HỌC TẬP CHO HỌC SINH", "Chương trình \"Sóng và máy tính cho em\"",
                          ["STT", "Họ và tên", "Ngày sinh", "Trường", "Thiết bị", "Số sê-ri", "Mã tài trợ",
                           "Ngày bàn giao", "Người nhận"], [5, 26, 12, 30, 20, 14, 13, 13, 24], hand_rows,
                          ["cell_c", "cell", "date", "cell", "cell", "cell_c", "cell_c", "date", "cell"], "TRƯỞNG PHÒNG")
    path = out / OFFICER_FILES["handover"]
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_xlsx(path, [grid], "Sổ bàn giao thiết bị", "Phòng GD&ĐT Hữu Lũng")

    follow_rows = []
    for ch, item, _, serial in handed:
        if rng.random() < 0.75:
            state = _pick(rng, FOLLOW_UP_STATES)
            follow_rows.append([ch.full_name, ch.dob, d.school_by_code[ch.school].name, DEVICE_KINDS[item][0][0],
                                serial, state, HANDOVER_DAY + dt.timedelta(days=rng.randrange(3, 12)),
                                _adult_name(rng), "" if state == "Đang sử dụng" else "Nhà trường đã báo cáo"])
    grid = _officer_sheet("THEO DÕI TÌNH TRẠNG SỬ DỤNG THIẾT BỊ", "Giáo viên chủ nhiệm cập nhật hằng tháng",
                          ["STT", "Họ và tên", "Ngày sinh", "Trường", "Thiết bị", "Số sê-ri", "Tình trạng",
                           "Ngày kiểm tra", "Người kiểm tra", "Ghi chú"], [5, 26, 12, 30, 20, 14, 16, 13, 22, 24],
                          follow_rows, ["cell_c", "cell", "date", "cell", "cell", "cell_c", "cell", "date", "cell",
                                        "cell"], "TRƯỞNG PHÒNG")
    path = out / OFFICER_FILES["follow_up"]
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_xlsx(path, [grid], "Theo dõi sử dụng thiết bị", "Phòng GD&ĐT Hữu Lũng")

    taken = {ch.pid for ch, *_ in handed}
    others = [ch for ch in clean if ch.pid not in taken and ch.lacks_device]
    near = [ch for ch in others if ch.household.category == "near_poor"]
    orphans = [ch for ch in others if ch.household.category == "covid_orphan"] or others
    plan = [
        (near, "Thu hồi", "Thiết bị", "", "Gia đình đã tự trang bị máy tính, đề nghị chuyển suất cho em khác"),
        (others, "Loại khỏi danh sách", "", "", "Đã chuyển trường ra ngoài huyện"),
        (orphans, "Giao thiết bị", "", "Máy tính xách tay", "Học sinh khuyết tật vận động, cần máy có bàn phím"),
        (others, "Tạm hoãn", "", "", "Chờ xác minh"),  # not an action the programme knows: an issue row
    ]
    over_rows = []
    used: set[str] = set()
    for pool, action, need, item, reason in plan:
        pool = [ch for ch in pool if ch.pid not in used]
        if not pool:
            continue
        ch = rng.choice(pool)
        used.add(ch.pid)
        over_rows.append([ch.full_name, ch.dob, d.school_by_code[ch.school].name, action, need, item, "",
                          "Hoàng Văn Tuấn", reason, HANDOVER_DAY + dt.timedelta(days=rng.randrange(1, 10))])
    grid = _officer_sheet("ĐIỀU CHỈNH PHÂN BỔ THIẾT BỊ", "Do cán bộ phụ trách ghi, có lý do",
                          ["STT", "Họ và tên", "Ngày sinh", "Trường", "Điều chỉnh", "Nhu cầu", "Thiết bị",
                           "Mã tài trợ", "Cán bộ", "Lý do", "Ngày quyết định"],
                          [5, 26, 12, 30, 18, 10, 18, 12, 20, 40, 13], over_rows,
                          ["cell_c", "cell", "date", "cell", "cell", "cell", "cell", "cell_c", "cell", "cell", "date"],
                          "TRƯỞNG PHÒNG")
    path = out / OFFICER_FILES["overrides"]
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_xlsx(path, [grid], "Điều chỉnh phân bổ", "Phòng GD&ĐT Hữu Lũng")
    return {"handovers": len(hand_rows), "follow_ups": len(follow_rows), "overrides": len(over_rows)}


# --------------------------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------------------------


def _assign_specials(cfg: AppConfig, seed: int) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    rng = random.Random(f"{seed}:specials")
    school_codes = [s.code for s in cfg.district.schools]
    order = rng.sample(school_codes, len(school_codes))
    school_special: dict[str, set[str]] = {code: set() for code in school_codes}
    plan = [("csv_bom", 1), ("csv_plain", 1), ("csv_semicolon", 1), ("csv_utf16", 1), ("per_grade", 2),
            ("dob_by_sex", 1), ("generic_name", 2), ("numbers_row", 3), ("guide_first", 1), ("col_b", 3),
            ("serial_dates", 1), ("upper", 2), ("nfd", 1), ("two_row", 4)]
    i = 0
    for feature, count in plan:
        for _ in range(count):
            if not order:
                break
            school_special[order[i % len(order)]].add(feature)
            i += 1
    # The first CSV also exports a merged two-row header (label only in the group's first cell).
    for code, feats in school_special.items():
        if "csv_bom" in feats:
            feats.add("two_row")
    commune_codes = [c.code for c in cfg.district.communes]
    corder = rng.sample(commune_codes, len(commune_codes))
    commune_special: dict[str, set[str]] = {code: set() for code in commune_codes}
    cplan = [("sheet_per_village", 1), ("year_only", 2), ("upper", 3), ("nfd", 1), ("commune_col", 2),
             ("sections", 3), ("cat_text", 2), ("col_b", 1), ("two_row", 3)]
    i = 0
    for feature, count in cplan:
        for _ in range(count):
            commune_special[corder[i % len(corder)]].add(feature)
            i += 1
    return school_special, commune_special


def _truth_row(p: Placed, cfg: AppConfig) -> dict[str, Any]:
    e, ch = p.entry, p.entry.child
    hh = ch.household
    return {
        "source_file": p.rel_path, "source_sheet": p.sheet, "source_row": p.row, "true_person": ch.pid,
        "household": hh.hid, "list_type": e.list_type, "unit_code": e.unit_code,
        "full_name": ch.full_name, "name_as_written": e.name, "date_of_birth": ch.dob.isoformat(),
        "row_date_of_birth": e.row_dob, "dob_as_written": e.dob_text, "sex": ch.sex,
        "school_code": e.school_code, "commune_code": hh.commune, "village": hh.village, "grade": e.grade,
        "category": e.category, "person_category": hh.category,
        "lacks_device": str(e.lacks_device).lower(), "lacks_internet": str(e.lacks_internet).lower(),
        "guardian_name": e.guardian, "phone": hh.phone, "on_school_list": str(ch.on_school_list).lower(),
        "variants": ";".join([*(x for x in ch.variants.split(";") if x), *e.variants]), "bad": e.bad,
    }


def generate(out_dir: Path, seed: int = 2021, scale: float = 1.0, truth: Path | None = None,
             config_dir: Path | None = None) -> dict:
    """Write the sample district under ``out_dir`` and return counts (see module docstring)."""
    if scale <= 0:
        raise ValueError("scale must be > 0")
    cfg = load_config(config_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for sub in OWNED_DIRS:
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)

    coverage = _build_coverage(cfg, seed)
    district = _build_district(cfg, seed, scale, coverage)
    school_special, commune_special = _assign_specials(cfg, seed)

    placed: list[Placed] = []
    generic = 0
    for s in cfg.district.schools:
        feats = school_special[s.code]
        if "generic_name" in feats:
            generic += 1
        placed += _write_school(cfg, district, s, out, seed, feats, generic + 1)
    for c in cfg.district.communes:
        placed += _write_commune(cfg, district, c, out, seed, commune_special[c.code])
    conn = _write_connectivity(cfg, coverage, out, seed)
    don, donation_rows = _write_donations(cfg, district, out, seed)
    officer = _write_officer_sheets(cfg, placed, donation_rows, out, seed)

    truth_rows = [_truth_row(p, cfg) for p in placed]
    if truth is not None:
        truth = Path(truth)
        truth.parent.mkdir(parents=True, exist_ok=True)
        with truth.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=TRUTH_COLUMNS, lineterminator="\n")
            w.writeheader()
            w.writerows(truth_rows)

    school_rows = sum(1 for t in truth_rows if t["list_type"] == "school")
    commune_rows = len(truth_rows) - school_rows
    files = {sub: sum(1 for f in (out / sub).rglob("*") if f.is_file()) for sub in OWNED_DIRS}
    commune_pids = {t["true_person"] for t in truth_rows if t["list_type"] == "commune"}
    overlap = len(commune_pids & district.overlap)
    return {
        "seed": seed,
        "scale": scale,
        "files": files,
        "schools": len(cfg.district.schools),
        "communes": len(cfg.district.communes),
        "student_rows": len(truth_rows),
        "school_rows": school_rows,
        "commune_rows": commune_rows,
        "children": len({t["true_person"] for t in truth_rows}),
        "commune_children_on_school_lists": overlap,
        "commune_children": len(commune_pids),
        "bad_rows": sum(1 for t in truth_rows if t["bad"]),
        **conn,
        **don,
        **officer,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m samples.generate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("samples/huu-lung"), help="sample sources folder")
    ap.add_argument("--seed", type=int, default=2021)
    ap.add_argument("--scale", type=float, default=1.0, help="share of the full-size district (e.g. 0.05)")
    ap.add_argument("--truth", type=Path, default=None, help="write the ground-truth CSV here")
    ap.add_argument("--config", type=Path, default=None, help="config folder (default: the project's config/)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    counts = generate(args.out, seed=args.seed, scale=args.scale, truth=args.truth, config_dir=args.config)
    took = time.perf_counter() - t0
    files = counts["files"]
    print(f"Sample district written to {args.out} (seed {counts['seed']}, scale {counts['scale']}, {took:.1f}s)")
    print(f"  truong/  {files['truong']:3d} files  {counts['school_rows']:6d} student rows")
    print(f"  xa/      {files['xa']:3d} files  {counts['commune_rows']:6d} student rows "
          f"({counts['commune_children_on_school_lists']} of {counts['commune_children']} children also on a "
          f"school list)")
    print(f"  tai-tro/ {files['tai-tro']:3d} files  {counts['donations']:6d} donations "
          f"({counts['donations_pledged']} pledged; {counts['cash_received_vnd']:,} VND cash received)")
    print(f"  ha-tang/ {files['ha-tang']:3d} files  {counts['villages']:6d} villages "
          f"({counts['villages_without_coverage']} without 3G/4G/fibre)")
    print(f"  ban-giao/, theo-doi/, dieu-chinh/: {counts['handovers']} handovers, {counts['follow_ups']} device "
          f"checks, {counts['overrides']} officer overrides")
    print(f"  {counts['children']} children, {counts['bad_rows']} rows with an injected defect")
    if args.truth:
        print(f"  truth: {args.truth}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Places: the schools, communes and villages schools and communes write, matched to the official names and codes
of ``config/district.yaml``. Case, tones, "Trường" / "Xã" / "Thôn" prefixes, "Tiểu học" for "TH" and small typos are
tolerated; a different name never matches. A school named only by its commune is found from the grade.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import Iterable

from flows.config import AppConfig, built_for
from flows.text import TEXT_CACHE, clean_spaces, fold, nfc, place_number, title_name

_VILLAGE_PREFIXES = ("thon", "khu pho", "khu", "xom", "ban", "to dan pho", "tdp", "kp")  # not "làng": "Thôn Làng Mới"
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


class Places:
    """The district's places turned into lookups, built once per configuration."""

    def __init__(self, cfg: AppConfig):
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
        # each a pure function of its arguments and these lookups: remembered (the same texts on thousands of rows)
        self.school = lru_cache(maxsize=TEXT_CACHE)(self.school)
        self.commune = lru_cache(maxsize=TEXT_CACHE)(self.commune)
        self.village = lru_cache(maxsize=TEXT_CACHE)(self.village)

    def school(self, text: str, grade: int | None = None) -> str:
        """The code of the school ``text`` names ("Trường Tiểu học Yên Bình", "TH Yên Bìh"); when it names only a
        commune, that commune's one school of the level written or of the child's ``grade``; "" when none fits."""
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
        """The code of the commune ``text`` names ("Xã Hòa Bình", "TT Hữu Lũng", "hoà bình", a typo), also inside
        a longer text; "" when none."""
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

    def school_in(self, text: str) -> str:
        """The school named anywhere in a longer text (a donation's earmark: "Học sinh trường TH Hữu Liên"), the
        longest name first; "" when none is."""
        key = fold(text)
        if not key:
            return ""
        hits = [(len(k), code) for k, code in self.school_index.items() if f" {k} " in f" {key} "]
        return max(hits)[1] if hits else ""


def _village_key(text: str) -> str:
    """The folded name without "Thôn" / "Khu" / "Xóm"...; a village numbered in words as in digits ("Thôn Ba" and
    "Thôn 03" are "3", as the official "Thôn 3")."""
    key = _strip_prefix(fold(text), _VILLAGE_PREFIXES)
    last = re.sub(r"[^\w/]+", " ", nfc(text).lower()).split()[-1:]
    if last and " " not in key and fold(last[0]) == key:
        return place_number(last[0]) or key
    return key


_PLACES: dict[int, tuple[AppConfig, Places]] = {}


def places(cfg: AppConfig) -> Places:
    """The place lookups of ``cfg``, built on first use."""
    return built_for(_PLACES, cfg, Places)

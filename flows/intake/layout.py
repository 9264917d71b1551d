"""Stage 2 — layout: find the table in each messy sheet and lift its rows out as raw records.

Schools and communes send sheets with quốc hiệu and title rows, one- to three-row headers with merged cells, an
STT column and a "(1) (2) (3)" column-number row, "x" marks, blank rows, subtotal rows and signature footers.
Nothing here is configured per file: the header row is found by scoring header cells against the aliases in
``config/headers.yaml`` and the kind of table (students, donations, connectivity, handover) is inferred from the
best score when the source registry does not say it. Every row keeps ``source_row``, the row number the school
sees in Excel (hidden rows counted).

Cell values are passed on as the school typed them (str, or the original number / date object); the
normalize stage parses them.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePath
from typing import Any, Iterable

import pandas as pd

from flows.config import AppConfig, Headers
from flows.frames import PROVENANCE, Issue, SheetGrid, SourceData
from flows.intake.legacy_fonts import decode, detect, to_unicode
from flows.text import clean_spaces, fold, strip_tones

KINDS = ("students", "donations", "connectivity", "handover")
OFFICER_KINDS = ("follow_up", "overrides")  # read only from sources registered as that kind (never inferred)
_SCAN_ROWS = 30  # the header row is looked for in the first rows only
_MAX_DEPTH = 3  # header rows (parent / child / grandchild)
_NOT_OUTPUT = ("stt",)  # fields used to read the layout but not passed on
# Fields a header may spread over several columns under one merged parent, and how their parts are joined:
# "Họ và tên" over "Họ đệm" | "Tên", "Ngày sinh" over "Ngày" | "Tháng" | "Năm".
_JOINED = {"full_name": " ", "date_of_birth": "/"}
_SEX_MARKS = ("sex_male", "sex_female")


@dataclass
class Extracted:
    """What layout found in one source: a raw table per kind, header labels per sheet, sheet-level issues."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    headers: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    sheets_read: int = 0


# --- Matching header text against the aliases -----------------------------------------------------------------
_PARENS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
# "(1)", "2", "A", "(5)=(3)+(4)": the row of column numbers under a header
_COLUMN_NUMBER = re.compile(r"[(\[]?\d{1,2}[)\]]?|[(\[]?[A-Za-z][)\]]?|\(\d{1,2}\)\s*[=+\-*/x].*")


def _header_key(text: str) -> str:
    """Matching key of a header cell: folded, "/" as a space ("Ngày/tháng/năm sinh" = "Ngày, tháng, năm sinh")."""
    return " ".join(fold(text).replace("/", " ").split())


_Tokens = tuple[tuple[str, str], ...]  # (folded word, word with its tones) pairs


def _tokens(text: str) -> _Tokens:
    words = re.sub(r"[^\w]+", " ", unicodedata.normalize("NFC", text).lower().replace("_", " ")).split()
    return tuple((fold(w), w) for w in words)


def _same_words(header: _Tokens, alias: _Tokens) -> bool:
    """Folded words equal, and a header word written with tones has the alias's tones: "Ho ten" and "Họ tên"
    are "Họ tên", but "Năm" is not "Nam"."""
    return len(header) == len(alias) and all(
        hf == af and (ht == af or ht == at) for (hf, ht), (af, at) in zip(header, alias))


class _Aliases:
    """The header aliases of one kind: exact aliases, and "~" aliases matched as whole words inside a header."""

    def __init__(self, aliases: dict[str, list[str]]):
        self.exact: dict[tuple[str, ...], list[tuple[_Tokens, str]]] = {}
        self.contains: list[tuple[_Tokens, str]] = []
        for fld, names in aliases.items():
            for name in names:
                if name.startswith("~"):
                    self.contains.append((_tokens(name[1:]), fld))
                else:
                    toks = _tokens(name)
                    self.exact.setdefault(tuple(f for f, _ in toks), []).append((toks, fld))
        self.contains.sort(key=lambda kv: -sum(len(f) for f, _ in kv[0]))

    @lru_cache(maxsize=4096)
    def match(self, text: str) -> str | None:
        if not text:
            return None
        variants = [_tokens(text)]
        bare = _tokens(_PARENS.sub(" ", text))  # "Ngày sinh (dd/mm/yyyy)"
        if bare and bare != variants[0]:
            variants.append(bare)
        for toks in variants:
            for alias, fld in self.exact.get(tuple(f for f, _ in toks), []):
                if _same_words(toks, alias):
                    return fld
        found: dict[str, int] = {}
        for toks in variants:
            for alias, fld in self.contains:
                n = len(alias)
                if any(_same_words(toks[i:i + n], alias) for i in range(len(toks) - n + 1)):
                    found[fld] = max(found.get(fld, 0), sum(len(f) for f, _ in alias))
        if not found:
            return None
        if len(found) > 1:
            # "Họ và tên" is the head of many other headers ("Họ và tên cha/mẹ", "Họ tên phụ huynh"): the
            # qualifier decides.
            found.pop("full_name", None)
        return max(found.items(), key=lambda kv: kv[1])[0]


class _Vocabulary:
    """Folded header aliases for every kind, plus footer and subtotal markers."""

    def __init__(self, headers: Headers):
        self.kinds = {kind: _Aliases(headers.for_kind(kind)) for kind in (*KINDS, *OFFICER_KINDS)}
        self.first_alias = {kind: {f: a[0].lstrip("~") for f, a in headers.for_kind(kind).items()}
                            for kind in (*KINDS, *OFFICER_KINDS)}
        self.footer = [_light_fold(m) for m in headers.footer_markers]
        self.subtotal = [_light_fold(m) for m in headers.subtotal_markers]


_VOCAB_CACHE: dict[int, tuple[Headers, _Vocabulary]] = {}


def _vocabulary(cfg: AppConfig) -> _Vocabulary:
    entry = _VOCAB_CACHE.get(id(cfg.headers))
    if entry is None or entry[0] is not cfg.headers:
        entry = (cfg.headers, _Vocabulary(cfg.headers))
        _VOCAB_CACHE[id(cfg.headers)] = entry
    return entry[1]


def _light_fold(text: str) -> str:
    """Lower case, no tones, single spaces, punctuation kept: for markers such as "(Ký" or "KT. Chủ tịch"."""
    return " ".join(strip_tones(unicodedata.normalize("NFC", text)).lower().split())


def _starts_with_marker(text: str, markers: Iterable[str]) -> bool:
    """``text`` (light-folded) begins with a marker: a one-word marker must be followed by the end,
    punctuation or a number ("Cộng:", "Tổng 25", "Ký,"); a longer one by anything but a letter."""
    for marker in markers:
        if not marker or not text.startswith(marker):
            continue
        rest = text[len(marker):]
        if not rest:
            return True
        if rest[0].isalpha():
            continue
        if " " in marker or not marker[-1].isalnum():
            return True
        if rest[0] != " " or rest.lstrip()[:1].isdigit() or not rest.strip():
            return True
    return False


_PLACE_DATE = re.compile(r"^[^\d]{0,40}\bngay\b.{0,20}\bthang\b")


# --- Cells ----------------------------------------------------------------------------------------------------
def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float) and value != value:
        return True
    return False


def _cell_text(value: Any) -> str:
    """Display text of a cell, legacy fonts repaired, single spaces (for matching, never for data)."""
    if _is_empty(value):
        return ""
    if isinstance(value, str):
        return clean_spaces(to_unicode(value))
    if isinstance(value, bool):
        return "x" if value else ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_column_number(text: str) -> bool:
    return bool(text) and bool(_COLUMN_NUMBER.fullmatch(text))


_NAME_LIKE = re.compile(r"[^\W\d_]+(?:[ '\-][^\W\d_]+){0,6}")
# Section titles inside a table ("Lớp 3A", "Thôn Bãi Hào"). Not "truong"/"ban"/"xa": Trương, Bàn and Xa are
# family names.
_SECTION_WORDS = ("lop", "khoi", "thon", "xom", "danh sach")


def _name_like(value: Any) -> bool:
    text = _cell_text(value)
    return bool(text) and bool(_NAME_LIKE.fullmatch(text))


_DATE_TEXT = re.compile(r"\d{1,2}\s*[/.\-]\s*\d{1,2}\s*[/.\-]\s*\d{2,4}|\d{4}-\d{1,2}-\d{1,2}")


def _data_like(value: Any) -> bool:
    """A value that belongs to a data row, never to a header: a date, or a date written as text."""
    if isinstance(value, (dt.date, dt.datetime)):
        return True
    return isinstance(value, str) and bool(_DATE_TEXT.fullmatch(value.strip()))


# --- Header discovery -----------------------------------------------------------------------------------------
@dataclass
class _Column:
    index: int
    levels: list[str]  # distinct header texts, top to bottom
    spans: list[tuple[int, int]]  # first/last column each level spans

    @property
    def label(self) -> str:
        return " / ".join(self.levels)


@dataclass
class _Header:
    kind: str
    first_row: int
    last_row: int  # inclusive
    score: float
    columns: list[_Column]
    fields: dict[str, list[int]]  # field -> column indexes (several only for a split full name)
    unknown: list[_Column]


class _SheetView:
    """Text of the top of a sheet with merged cells spread over their range."""

    def __init__(self, grid: SheetGrid, rows: int):
        self.grid = grid
        self.height = min(len(grid.rows), rows)
        self.width = max((len(r) for r in grid.rows[: self.height]), default=0)
        self.text = [[_cell_text(v) for v in self._row(r)] for r in range(self.height)]
        self._repair_by_sheet_encoding()
        self.span = [[(c, c) for c in range(self.width)] for _ in range(self.height)]
        self.merge_top: dict[tuple[int, int], int] = {}  # cell -> first row of its (multi-row) merge
        self.merge_bottom: dict[tuple[int, int], int] = {}
        for r0, c0, r1, c1 in grid.merged:
            if r0 >= self.height:
                continue
            top = self.text[r0][c0] if c0 < self.width else ""
            for r in range(r0, min(r1, self.height - 1) + 1):
                for c in range(c0, min(c1, self.width - 1) + 1):
                    self.text[r][c] = top
                    self.span[r][c] = (c0, c1)
                    if r1 > r0:
                        self.merge_top[(r, c)] = r0
                        self.merge_bottom[(r, c)] = r1

    def _repair_by_sheet_encoding(self) -> None:
        """Short header cells can be ambiguous alone ("Líp" is "Lớp" in TCVN3, but also a Unicode word): when a
        row (or else the top of the sheet) is clearly in one legacy encoding, read its other Latin-1 cells in it
        too. Cells with Unicode-only Vietnamese letters vote for Unicode and are never re-read."""
        def votes(rows: Iterable[int]) -> dict[str, int]:
            count: dict[str, int] = {}
            for r in rows:
                for v in self.grid.rows[r]:
                    if isinstance(v, str) and not v.isascii():
                        enc = detect(v)
                        if enc == "unicode" and all(ord(ch) <= 0xFF for ch in v):
                            continue  # ambiguous: no vote
                        count[enc] = count.get(enc, 0) + 1
            return count

        def winner(count: dict[str, int]) -> str | None:
            legacy = max(("tcvn3", "vni"), key=lambda e: count.get(e, 0))
            return legacy if count.get(legacy, 0) > count.get("unicode", 0) else None

        sheet = winner(votes(range(self.height)))
        for r in range(self.height):
            enc = winner(votes([r])) or sheet
            if not enc:
                continue
            for c, v in enumerate(self.grid.rows[r]):
                if isinstance(v, str) and detect(v) == "unicode" and all(ord(ch) <= 0xFF for ch in v):
                    self.text[r][c] = clean_spaces(decode(v, enc))

    def _row(self, r: int) -> list[Any]:
        row = list(self.grid.rows[r])
        return row + [None] * (self.width - len(row))

    def blank(self, r: int) -> bool:
        return not any(self.text[r])

    def block_ok(self, first: int, last: int) -> bool:
        """A header block must not cut a vertical merge nor contain data-like cells below its first row."""
        for c in range(self.width):
            if (first, c) in self.merge_top and self.merge_top[(first, c)] < first:
                return False
            if (last, c) in self.merge_bottom and self.merge_bottom[(last, c)] > last:
                return False
        for r in range(first + 1, last + 1):
            if any(_data_like(v) for v in self.grid.rows[r]):
                return False
        return True

    def columns(self, first: int, last: int) -> list[_Column]:
        text = [list(self.text[r]) for r in range(first, last + 1)]
        span = [list(self.span[r]) for r in range(first, last + 1)]
        # Merges lost on the way (CSV): a parent label with empty cells to its right, over child labels.
        for i in range(len(text) - 1):
            c = 0
            while c < self.width:
                if text[i][c] and text[i + 1][c] and span[i][c] == (c, c):
                    end = c
                    while end + 1 < self.width and not text[i][end + 1] and text[i + 1][end + 1]:
                        end += 1
                    for k in range(c, end + 1):
                        text[i][k] = text[i][c]
                        span[i][k] = (c, end)
                    c = end + 1
                else:
                    c += 1
        hidden = self.grid.hidden_cols
        cols = []
        for c in range(self.width):
            if c in hidden:
                continue
            levels: list[str] = []
            spans: list[tuple[int, int]] = []
            for i in range(len(text)):
                t = text[i][c]
                if t and (not levels or levels[-1] != t):
                    levels.append(t)
                    spans.append(span[i][c])
            cols.append(_Column(c, levels, spans))
        return cols


def _map_columns(aliases: _Aliases, columns: list[_Column]) -> tuple[dict[str, list[int]], list[_Column], float]:
    """Fields of the header columns; unknown columns; a penalty for children that look like data."""
    assigned: list[tuple[_Column, str | None, tuple[int, int] | None]] = []
    sex_split: dict[int, str] = {}
    penalty = 0.0
    for col in columns:
        if not col.levels:
            assigned.append((col, None, None))
            continue
        child = col.levels[-1]
        f_child = aliases.match(child)
        f_parent, parent_span = None, None
        for level, sp in zip(reversed(col.levels[:-1]), reversed(col.spans[:-1])):
            f_parent = aliases.match(level)
            if f_parent:
                parent_span = sp
                break
        fld: str | None = f_child
        group = col.spans[-1] if f_child else None
        if len(col.levels) > 1:
            if f_parent == "date_of_birth" and f_child in _SEX_MARKS and parent_span[0] < parent_span[1]:
                # "Ngày, tháng, năm sinh" over "Nam | Nữ": the date is written in the child's sex column
                fld, group = f_parent, parent_span
                sex_split[col.index] = f_child
            elif f_child == "full_name" and f_parent == "guardian_name":
                fld = "guardian_name"
            elif not f_child and f_parent and (parent_span[0] == parent_span[1] or f_parent in _JOINED):
                fld, group = f_parent, parent_span
                if parent_span[0] == parent_span[1] and not _is_column_number(child):
                    penalty += 0.5  # a one-column parent over an unknown child: maybe a data row
        assigned.append((col, fld, group))
    fields: dict[str, list[int]] = {}
    groups: dict[str, tuple[int, int] | None] = {}
    unknown: list[_Column] = []
    for col, fld, group in assigned:
        if fld is None:
            if col.levels and not all(_is_column_number(t) for t in col.levels):
                unknown.append(col)
            continue
        if fld not in fields:
            fields[fld] = [col.index]
            groups[fld] = group
        elif fld in _JOINED and group is not None and group == groups[fld] and group[0] < group[1]:
            fields[fld].append(col.index)  # "Họ và tên" merged over "Họ đệm" | "Tên"
        else:
            unknown.append(col)  # a second column for the same field is not used
    for index, sex_field in sex_split.items():
        if index in fields.get("date_of_birth", []):
            fields.setdefault(sex_field, [index])
    return fields, unknown, penalty


def _score(kind: str, fields: dict[str, list[int]], penalty: float) -> float:
    named = [f for f in fields if f not in _NOT_OUTPUT]
    if len(named) < 2:
        return 0.0
    if kind in ("students", "handover") and "full_name" not in fields and len(named) < 3:
        return 0.0
    return len(named) + (2 if "full_name" in fields else 0) - penalty


def _find_header(view: _SheetView, vocab: _Vocabulary, kinds: Iterable[str]) -> _Header | None:
    best: _Header | None = None
    best_key: tuple | None = None
    for first in range(min(view.height, _SCAN_ROWS)):
        if view.blank(first):
            continue
        for depth in range(1, _MAX_DEPTH + 1):
            last = first + depth - 1
            if last >= view.height:
                break
            if view.blank(last) or not view.block_ok(first, last):
                continue
            columns = view.columns(first, last)
            for order, kind in enumerate(kinds):
                fields, unknown, penalty = _map_columns(vocab.kinds[kind], columns)
                score = _score(kind, fields, penalty)
                if score <= 0:
                    continue
                key = (score, -depth, -first, -order)
                if best_key is None or key > best_key:
                    best_key = key
                    best = _Header(kind, first, last, score, columns, fields, unknown)
    return best


# --- Units ----------------------------------------------------------------------------------------------------
def _index_hits(text: str, index: dict[str, str]) -> list[tuple[str, str]]:
    padded = f" {text} "
    return [(key, code) for key, code in index.items() if key and f" {key} " in padded]


def _resolve_unit(texts: list[str], cfg: AppConfig, unit_type: str | None) -> tuple[str, str]:
    """(list_type, unit code) named in a file name, sheet name or the rows above the header; ("", "") if none.

    An explicit "Trường …" beats an "UBND xã …" line, which beats a bare school, which beats a bare commune;
    the longest name wins within each. The district's own name ("huyện Hữu Lũng") is not a unit.
    """
    district = fold(cfg.district.district.short_name)
    not_unit = re.compile(rf"\b(huyen|gd dt|gddt|giao duc va dao tao|giao duc dao tao|phong gd)\s+{district}\b"
                          rf"|\b{district}\s+ngay\b")
    tiers: dict[int, list[tuple[int, str, str]]] = {}
    for raw in texts:
        text = not_unit.sub(" ", fold(to_unicode(raw)))
        for key, code in _index_hits(text, cfg.school_index):
            tier = 0 if key.startswith("truong ") else 2
            tiers.setdefault(tier, []).append((len(key), "school", code))
        for key, code in _index_hits(text, cfg.commune_index):
            tier = 1 if key.startswith("ubnd ") else 3
            tiers.setdefault(tier, []).append((len(key), "commune", code))
    for tier in sorted(tiers):
        for _, kind, code in sorted(tiers[tier], key=lambda t: -t[0]):
            if unit_type in (None, kind):
                return kind, code
            if unit_type == "commune" and kind == "school":
                return "commune", cfg.district.school_by_code[code].commune
    return "", ""


def _unit_for(source: SourceData, grid: SheetGrid, header_first: int, kind: str, cfg: AppConfig) -> tuple[str, str]:
    unit_type = source.unit_type if kind == "students" else ("commune" if kind == "connectivity" else None)
    if source.unit:
        if source.unit in cfg.district.school_by_code:
            return ("school" if kind == "students" else ""), source.unit
        if source.unit in cfg.district.commune_by_code:
            return ("commune" if kind == "students" else ""), source.unit
        return ((source.unit_type or "") if kind == "students" else ""), source.unit
    texts = [PurePath(source.source_file).stem, PurePath(source.source_file).parent.name, grid.name]
    for r in range(min(header_first, len(grid.rows))):
        texts.extend(v for v in grid.rows[r] if isinstance(v, str) and v.strip())
    found_type, code = _resolve_unit([t for t in texts if t], cfg, unit_type)
    if kind != "students":
        found_type = ""
    elif not found_type and source.unit_type:
        found_type = source.unit_type
    return found_type, code


# --- Rows -----------------------------------------------------------------------------------------------------
def _first_texts(row: list[Any], n: int) -> list[str]:
    out = []
    for v in row:
        if isinstance(v, str) and v.strip() and not re.fullmatch(r"[\d\s.,()]+", v.strip()):
            out.append(_light_fold(to_unicode(v)))
            if len(out) == n:
                break
    return out


def _is_footer(row: list[Any], stt_col: int | None, vocab: _Vocabulary) -> bool:
    if stt_col is not None and stt_col < len(row) and isinstance(row[stt_col], (int, float)) \
            and not isinstance(row[stt_col], bool):
        return False
    texts = _first_texts(row, 1)
    if not texts:
        return False
    text = texts[0]
    return _starts_with_marker(text, vocab.footer) or bool(_PLACE_DATE.match(text))


def _is_subtotal(row: list[Any], stt_col: int | None, vocab: _Vocabulary) -> bool:
    if _numbered(row, stt_col):  # "Tổng công ty Điện lực" with an STT number is a donor, not a total
        return False
    return any(_starts_with_marker(t, vocab.subtotal) for t in _first_texts(row, 2))


def _numbered(row: list[Any], stt_col: int | None) -> bool:
    if stt_col is None or stt_col >= len(row):
        return False
    v = row[stt_col]
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    return isinstance(v, str) and v.strip().isdigit()


_MARK_OR_CLASS = re.compile(r"[xX]|\d{1,2}[A-Za-z]\d?")


def _student_like(grid: SheetGrid) -> bool:
    """Rows that look like a list of children (a name plus a date, class or mark) but under no known header."""
    hits = 0
    for row in grid.rows[:300]:
        names = [v for v in row if isinstance(v, str) and _name_like(v) and 2 <= len(v.split()) <= 5
                 and all(w[:1].isupper() for w in to_unicode(v).split())]
        others = [v for v in row if _data_like(v) or (isinstance(v, str) and _MARK_OR_CLASS.fullmatch(v.strip()))]
        if names and others:
            hits += 1
            if hits >= 3:
                return True
    return False


def _raw_value(value: Any) -> Any:
    if _is_empty(value):
        return ""
    if isinstance(value, (dt.time, dt.timedelta)):
        return str(value)
    return value


def _fill_vertical_merges(grid: SheetGrid, start: int) -> list[list[Any]]:
    """Rows from ``start`` with values of merged data cells repeated down their rows (a village merged over the
    children who live there)."""
    rows = [list(r) for r in grid.rows]
    for r0, c0, r1, c1 in grid.merged:
        if r1 <= r0 or r0 < start or c0 != c1:
            continue
        if r0 >= len(rows) or c0 >= len(rows[r0]):
            continue
        top = rows[r0][c0]
        for r in range(r0 + 1, min(r1, len(rows) - 1) + 1):
            while len(rows[r]) <= c0:
                rows[r].append(None)
            if _is_empty(rows[r][c0]):
                rows[r][c0] = top
    return rows


def _only_counts(record: dict[str, Any]) -> bool:
    """Every filled cell of the row is a count (a number), as in a totals row."""
    values = [v for v in record.values() if not _is_empty(v)]
    return bool(values) and all(
        (isinstance(v, (int, float)) and not isinstance(v, bool)) or (isinstance(v, str) and v.strip().isdigit())
        for v in values)


def _is_group_title(value: Any, cfg: AppConfig) -> bool:
    """A row that names a school, commune or village group inside the table ("Trường TH Hữu Liên", "Xã Yên
    Bình", "Thôn Bãi Hào", "Lớp 3A") rather than a child."""
    key = fold(_cell_text(value))
    if not key:
        return False
    if any(key == w or key.startswith(w + " ") for w in _SECTION_WORDS):
        return True
    bare = key.removeprefix("truong ")
    return key in cfg.school_index or bare in cfg.school_index or key in cfg.commune_index


def _extract_rows(grid: SheetGrid, header: _Header, vocab: _Vocabulary,
                  cfg: AppConfig) -> list[tuple[int, dict[str, Any]]]:
    fields = {f: cols for f, cols in header.fields.items()}
    stt_col = fields.get("stt", [None])[0]
    dob_cols = fields.get("date_of_birth", [])
    dob_by_sex = len(dob_cols) > 1 and any(fields.get(m, [None])[0] in dob_cols for m in _SEX_MARKS)
    mapped = [c for f, cols in fields.items() for c in cols]
    leaf_labels = {c.index: _header_key(c.levels[-1]) for c in header.columns if c.levels}
    rows = _fill_vertical_merges(grid, header.last_row + 1)
    out: list[tuple[int, dict[str, Any]]] = []
    seen_data = False
    after_header = True
    for r in range(header.last_row + 1, len(rows)):
        row = rows[r]
        if r in grid.hidden_rows:
            continue
        cells = {c: (row[c] if c < len(row) else None) for c in mapped}
        if all(_is_empty(v) for v in row):
            continue
        if after_header:
            after_header = False
            texts = [_cell_text(v) for v in row if not _is_empty(v)]
            if len(texts) >= 2 and all(_is_column_number(t) for t in texts):
                continue
        if _is_footer(row, stt_col, vocab):
            if seen_data:
                break
            continue
        if _is_subtotal(row, stt_col, vocab):
            continue
        repeats = sum(1 for c, v in cells.items() if isinstance(v, str) and leaf_labels.get(c)
                      and _header_key(to_unicode(v)) == leaf_labels[c])
        if repeats >= 2:
            continue  # the header printed again (a new page or class)
        record: dict[str, Any] = {}
        for f, cols in fields.items():
            if f in _NOT_OUTPUT:
                continue
            if len(cols) > 1:
                filled = [c for c in cols if not _is_empty(cells[c])]
                if len(filled) == 1 and f == "date_of_birth" and dob_by_sex:  # the date under "Nam" or "Nữ"
                    record[f] = _raw_value(cells[filled[0]])
                else:
                    record[f] = _JOINED[f].join(_cell_text(cells[c]) for c in filled)
            else:
                record[f] = _raw_value(cells[cols[0]])
        if dob_by_sex:  # a date written under "Nam" or "Nữ" marks the child's sex
            for f in _SEX_MARKS:
                if fields.get(f) and fields[f][0] in dob_cols:
                    record[f] = "x" if not _is_empty(cells[fields[f][0]]) else ""
        name_cols = fields.get("full_name")
        if name_cols and _is_group_title(record.get("full_name"), cfg):
            continue
        has_name = bool(name_cols) and _name_like(record.get("full_name"))
        others = any(not _is_empty(v) for f, v in record.items() if f != "full_name")
        if not has_name and not others:
            continue  # only STT, a section title ("Lớp 3A") or a note
        if not has_name and not _numbered(row, stt_col) and _only_counts(record):
            continue  # column totals without a "Cộng" label
        seen_data = True
        out.append((r + 1, record))
    return out


_SHEET_CLASS = re.compile(r"(?:lop|khoi)?\s*([1-9]|1[0-2])\s*(?:[a-z]\d{0,2})?")


def _class_of_sheet(name: str) -> str:
    """The class a per-class sheet is named after ("6A", "Lớp 3B", "Khối 7"), or "" when the name is not one."""
    key = fold(name).strip()
    return name.strip() if key and _SHEET_CLASS.fullmatch(key) else ""


# --- The stage ------------------------------------------------------------------------------------------------
def _issue(cfg: AppConfig, source: SourceData, sheet: str, rule: str, column: str = "", **params: Any) -> Issue:
    return Issue(
        source_file=source.source_file, source_sheet=sheet, source_row=None, column=column,
        severity=cfg.rules.severity(rule), rule=rule,  # type: ignore[arg-type]
        message=cfg.rules.message(rule, column=column, **params),
    )


def extract(source: SourceData, cfg: AppConfig) -> Extracted:
    """Find the table of every visible sheet of ``source`` and return its rows as raw tables per kind."""
    vocab = _vocabulary(cfg)
    result = Extracted()
    if source.kind and source.kind not in (*KINDS, *OFFICER_KINDS):
        return result  # decisions: read by their own stage, not here
    kinds = (source.kind,) if source.kind else KINDS
    records: dict[str, list[dict[str, Any]]] = {}
    field_order: dict[str, list[str]] = {}
    nonempty_sheets: list[str] = []
    for grid in source.sheets:
        if grid.hidden:
            continue
        result.sheets_read += 1
        if any(not _is_empty(v) for row in grid.rows for v in row):
            nonempty_sheets.append(grid.name)
        view = _SheetView(grid, _SCAN_ROWS + _MAX_DEPTH)
        header = _find_header(view, vocab, kinds)
        if header is None and len(kinds) == 1:
            # A workbook registered as one kind may carry a sheet of another (a commune's list of children
            # and its village coverage): take it when its header is unmistakable.
            other = _find_header(view, vocab, [k for k in KINDS if k != kinds[0]])
            header = other if other is not None and other.score >= 4 else None
        if header is None:
            if source.kind in (None, "students") and _student_like(grid):
                result.issues.append(_issue(cfg, source, grid.name, "no_table"))
            continue
        kind = header.kind
        for col in header.unknown:
            result.issues.append(_issue(cfg, source, grid.name, "unknown_column", column=col.label))
        labels = {}
        for f, cols in sorted(header.fields.items(), key=lambda kv: kv[1][0]):  # in the sheet's column order
            if f in _NOT_OUTPUT:
                continue
            col = next(c for c in header.columns if c.index == cols[0])
            labels[f] = col.levels[0] if len(cols) > 1 else col.label
        result.headers[(source.source_file, grid.name)] = labels
        if kind == "students" and "full_name" not in header.fields:
            result.issues.append(_issue(cfg, source, grid.name, "missing_column",
                                        field=vocab.first_alias[kind]["full_name"]))
            continue
        list_type, unit_code = _unit_for(source, grid, header.first_row, kind, cfg)
        if kind == "students" and not unit_code:
            result.issues.append(_issue(cfg, source, grid.name, "unknown_unit"))
        if kind == "connectivity" and not unit_code and "commune" not in header.fields:
            result.issues.append(_issue(cfg, source, grid.name, "unknown_unit"))
        order = field_order.setdefault(kind, [])
        sheet_grade = _class_of_sheet(grid.name) if kind == "students" and "grade" not in header.fields else ""
        for f in cfg.headers.for_kind(kind):
            if (f in header.fields or (f == "grade" and sheet_grade)) and f not in _NOT_OUTPUT and f not in order:
                order.append(f)
        if sheet_grade:
            labels["grade"] = grid.name
        for source_row, record in _extract_rows(grid, header, vocab, cfg):
            if sheet_grade:
                record["grade"] = sheet_grade
            records.setdefault(kind, []).append({
                "source_id": source.source_id, "source_file": source.source_file, "source_sheet": grid.name,
                "source_row": source_row, "list_type": list_type, "unit_code": unit_code, **record,
            })
    if source.kind in (*KINDS, *OFFICER_KINDS) and not result.headers and nonempty_sheets and not any(
            i.rule in ("no_table", "missing_column") for i in result.issues):
        result.issues.append(_issue(cfg, source, nonempty_sheets[0], "no_table"))
    for kind, rows in records.items():
        columns = [*PROVENANCE, "list_type", "unit_code", *field_order[kind]]
        frame = pd.DataFrame([[row.get(c) for c in columns] for row in rows], columns=columns, dtype=object)
        frame["source_row"] = frame["source_row"].astype(int)
        result.tables[kind] = frame
    return result

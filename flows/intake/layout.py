"""Stage 2 — layout: find the table in each messy sheet and lift its rows out as raw records.

Schools and communes send sheets with quốc hiệu and title rows, one- to three-row headers with merged cells, an
STT column and a "(1) (2) (3)" column-number row, "x" marks, blank rows, subtotal rows and signature footers.
Nothing here is configured per file: the header row is found by scoring header cells against the aliases in
``config/headers.yaml`` and the kind of table (students, donations, connectivity, handover) is inferred from the
best score when the source registry does not say it (``flows.intake.headers``). Cells typed in TCVN3 or VNI are
read first, each with its sheet's evidence (``_in_unicode``), so header and data are read alike. What the header's
words leave open is settled by the cells below it (``_read_by_the_data``). Below the header, this module keeps the
rows of data and leaves out column numbers, section titles, subtotals and the signature footer (its markers, its
date line, and its shape: ``_signature_start``). Every row keeps ``source_row``, the row number the school sees in
Excel (hidden rows counted).

A row a filter hides is read like any other (the adapters do not list it as hidden); a child's row hidden by hand,
or written below the signature block, is not counted and gets a warning naming it (``hidden_row``,
``below_footer``); a need written as text that cannot be read gets one naming its cell (``need_unreadable``).

Cell values are passed on as the school typed them (str, or the original number / date object); the
normalize stage parses them.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import PurePath
from typing import Any, Iterable

import pandas as pd

from flows.config import AppConfig
from flows.frames import PROVENANCE, Issue, SheetGrid, SourceData
from flows.intake.cells import data_like, display_text, is_column_number, is_empty
from flows.intake.headers import (
    ANY_OF, JOINED, KINDS, NOT_OUTPUT, OFFICER_KINDS, SEX_MARKS, Header, field_of, find_header,
)
from flows.intake.households import SLOTS, STT_KEY, read_households
from flows.intake.legacy_fonts import SheetFonts, to_unicode
from flows.intake.signatures import (_SIGNERS_PER_ROW, _has_data, _MarkWords, _name_like, _plain_text,
                                     _signature_start)
from flows.intake.values import HAS_FIELDS, NEED_FIELDS, NEED_IN_NOTE, vocabularies
from flows.text import TEXT_CACHE, fold, strip_tones


@dataclass
class Extracted:
    """What layout found in one source: a raw table per kind, header labels per sheet, sheet-level issues."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    headers: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    sheets_read: int = 0
    counts_sheets: list[str] = field(default_factory=list)  # sheets of numbers per class, not of children


# --- Footers and subtotals ------------------------------------------------------------------------------------
@dataclass
class _Markers:
    """The footer and subtotal markers of ``config/headers.yaml``, light-folded."""

    footer: list[str]
    subtotal: list[str]
    example: list[str]

    @classmethod
    def of(cls, cfg: AppConfig) -> _Markers:
        return cls([_light_fold(m) for m in cfg.headers.footer_markers],
                   [_light_fold(m) for m in cfg.headers.subtotal_markers],
                   [_light_fold(m) for m in cfg.headers.example_markers])


@lru_cache(maxsize=TEXT_CACHE)
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
@lru_cache(maxsize=TEXT_CACHE)
def _header_key(text: str) -> str:
    """Matching key of a header cell: folded, "/" as a space ("Ngày/tháng/năm sinh" = "Ngày, tháng, năm sinh")."""
    return " ".join(fold(text).replace("/", " ").split())


@lru_cache(maxsize=TEXT_CACHE)
def _cell_key(text: str) -> str:
    """``_header_key`` of a cell below the header, its legacy font read (a header printed again)."""
    return _header_key(to_unicode(text))


# Section titles inside a table ("Lớp 3A", "Thôn Bãi Hào"). Not "truong"/"ban"/"xa": Trương, Bàn and Xa are
# family names.
_SECTION_WORDS = ("lop", "khoi", "thon", "xom", "danh sach")


def _first_texts(row: list[Any], n: int) -> list[str]:
    out = []
    for v in row:
        if isinstance(v, str) and v.strip() and not re.fullmatch(r"[\d\s.,()]+", v.strip()):
            out.append(_light_fold(to_unicode(v)))
            if len(out) == n:
                break
    return out


def _is_footer(row: list[Any], stt_col: int | None, markers: _Markers) -> bool:
    if stt_col is not None and stt_col < len(row) and isinstance(row[stt_col], (int, float)) \
            and not isinstance(row[stt_col], bool):
        return False
    texts = _first_texts(row, 1)
    if not texts:
        return False
    text = texts[0]
    return _starts_with_marker(text, markers.footer) or bool(_PLACE_DATE.match(text))


def _is_subtotal(row: list[Any], stt_col: int | None, markers: _Markers) -> bool:
    if _numbered(row, stt_col):  # "Tổng công ty Điện lực" with an STT number is a donor, not a total
        return False
    return any(_starts_with_marker(t, markers.subtotal) for t in _first_texts(row, 2))


def _is_example(row: list[Any], stt_col: int | None, markers: _Markers) -> bool:
    """A template's example row: "VD" / "Ví dụ:" where the row's number goes, or before the example name."""
    if _numbered(row, stt_col):
        return False
    return any(_starts_with_marker(t, markers.example) for t in _first_texts(row, 1))


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
        others = [v for v in row if data_like(v) or (isinstance(v, str) and _MARK_OR_CLASS.fullmatch(v.strip()))]
        if names and others:
            hits += 1
            if hits >= 3:
                return True
    return False


def _raw_value(value: Any) -> Any:
    if is_empty(value):
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
            if is_empty(rows[r][c0]):
                rows[r][c0] = top
    return rows


def _only_counts(record: dict[str, Any]) -> bool:
    """Every filled cell of the row is a count (a number), as in a totals row."""
    values = [v for v in record.values() if not is_empty(v)]
    return bool(values) and all(
        (isinstance(v, (int, float)) and not isinstance(v, bool)) or (isinstance(v, str) and v.strip().isdigit())
        for v in values)


def _is_group_title(value: Any, cfg: AppConfig) -> bool:
    """A row that names a school, commune or village group inside the table ("Trường TH Hữu Liên", "Xã Yên
    Bình", "Thôn Bãi Hào", "Lớp 3A") rather than a child."""
    key = fold(display_text(value))
    if not key:
        return False
    if any(key == w or key.startswith(w + " ") for w in _SECTION_WORDS):
        return True
    bare = key.removeprefix("truong ")
    return key in cfg.school_index or bare in cfg.school_index or key in cfg.commune_index


@dataclass
class _Row:
    """A row layout took for a student's: its row number, its record, and what the footer and hidden-row rules
    need to know of it."""

    number: int  # as the school sees it
    record: dict[str, Any]
    hidden: bool  # hidden by hand (a filter's hidden rows are a view: they are not in ``grid.hidden_rows``)
    loose: bool  # no STT number, a few cells of plain text only: a signature line has this shape
    texts: list[tuple[int, str]]  # (column, text) of its filled cells
    below_footer: bool = False  # a numbered child's row written under the signature block: reported, not read
    text_only: bool = False  # a line of text that is no child's row (kept to see the signature block's shape)


def _extract_rows(grid: SheetGrid, header: Header, markers: _Markers, cfg: AppConfig) -> list[_Row]:
    """The rows of the table below ``header`` that are students' (and those hidden by hand, flagged), without the
    column numbers, section titles, subtotals, repeated headers, notes and the signature footer."""
    fields = {f: cols for f, cols in header.fields.items()}
    stt_col = fields.get("stt", [None])[0]
    dob_cols = fields.get("date_of_birth", [])
    dob_by_sex = len(dob_cols) > 1 and any(fields.get(m, [None])[0] in dob_cols for m in SEX_MARKS)
    rows = _fill_vertical_merges(grid, header.last_row + 1)
    mapped = [c for f, cols in fields.items() for c in cols] + [c for slot in header.slots for cols in slot.values()
                                                                for c in cols]
    leaf_labels = {c.index: _header_key(c.levels[-1]) for c in header.columns if c.levels}
    marks = _MarkWords.of(cfg)
    out: list[_Row] = []
    seen_data = False
    after_header = True
    below_footer = False  # the table ends at its footer; a child's row written below it is reported, not read
    for r in range(header.last_row + 1, len(rows)):
        row = rows[r]
        cells = {c: (row[c] if c < len(row) else None) for c in mapped}
        if all(is_empty(v) for v in row):
            continue
        if after_header:
            after_header = False
            texts = [display_text(v) for v in row if not is_empty(v)]
            if len(texts) >= 2 and all(is_column_number(t) for t in texts):
                continue
        if _is_footer(row, stt_col, markers):
            below_footer = below_footer or seen_data
            continue
        if _is_subtotal(row, stt_col, markers) or _is_example(row, stt_col, markers):
            continue
        repeats = sum(1 for c, v in cells.items() if isinstance(v, str) and leaf_labels.get(c)
                      and _cell_key(v) == leaf_labels[c])
        if repeats >= 2:
            after_header = True  # its row of column numbers may follow it again
            below_footer = False  # after a signature block: another table pasted below (a commune's schools)
            continue  # the header printed again (a new page or class)
        record: dict[str, Any] = {}
        for f, cols in fields.items():
            if f in NOT_OUTPUT:
                continue
            if len(cols) > 1:
                filled = [c for c in cols if not is_empty(cells[c])]
                if len(filled) == 1 and f == "date_of_birth" and dob_by_sex:  # the date under "Nam" or "Nữ"
                    record[f] = _raw_value(cells[filled[0]])
                else:
                    record[f] = _JOIN[f].join(display_text(cells[c]) for c in filled)
            else:
                record[f] = _raw_value(cells[cols[0]])
        if dob_by_sex:  # a date written under "Nam" or "Nữ" marks the child's sex
            for f in SEX_MARKS:
                if fields.get(f) and fields[f][0] in dob_cols:
                    record[f] = "x" if not is_empty(cells[fields[f][0]]) else ""
        name_cols = fields.get("full_name")
        if name_cols and _is_group_title(record.get("full_name"), cfg):
            continue
        has_name = bool(name_cols) and _name_like(record.get("full_name"))
        # a household's row naming further children in their own columns (flows.intake.households)
        slots = [{f: _raw_value(cells[cols[0]]) for f, cols in slot.items()} for slot in header.slots]
        others = any(not is_empty(v) for f, v in record.items() if f != "full_name") or any(
            not is_empty(v) for slot in slots for v in slot.values())
        # a numbered row whose name cell is written but not shaped like a name ("Hà Văn Kiên (2)", "=1+1") is a
        # child's row all the same: it comes out, and normalize and validation say what is wrong with the name
        written = bool(name_cols) and not is_empty(record.get("full_name")) and _numbered(row, stt_col)
        if not has_name and not others and not written:
            if seen_data and not below_footer:  # a line of text: it may be a title over a signer's name
                texts = [(c, display_text(v)) for c, v in enumerate(row) if not is_empty(v)]
                if _loose(row, texts, False, marks):
                    out.append(_Row(r + 1, {}, False, True, texts, text_only=True))
            continue  # only STT, a section title ("Lớp 3A") or a note
        numbered = _numbered(row, stt_col)
        if not has_name and not numbered and _only_counts(record):
            continue  # column totals without a "Cộng" label
        if below_footer:
            if numbered and has_name and _has_data(record, marks):
                out.append(_Row(r + 1, record, r in grid.hidden_rows, False, [], below_footer=True))
            continue
        seen_data = True
        if slots:
            record[SLOTS] = slots
        if stt_col is not None and stt_col < len(row) and not is_empty(row[stt_col]):
            record[STT_KEY] = row[stt_col]
        texts = [(c, display_text(v)) for c, v in enumerate(row) if not is_empty(v)]
        out.append(_Row(r + 1, record, r in grid.hidden_rows, _loose(row, texts, numbered, marks), texts))
    table = [row for row in out if not row.below_footer]
    table = table[:_signature_start(table)]
    return [row for row in table if not row.text_only] + [row for row in out if row.below_footer]


def _loose(row: list[Any], texts: list[tuple[int, str]], numbered: bool, marks: _MarkWords) -> bool:
    """Shaped like a signature line: no STT number, at most three cells of plain text, none beside another."""
    return not numbered and len(texts) <= _SIGNERS_PER_ROW and all(
        isinstance(row[c], str) and _plain_text(t, marks) for c, t in texts) and all(
        b - a > 1 for (a, _), (b, _) in zip(texts, texts[1:]))


def _read_by_the_data(grid: SheetGrid, header: Header, cfg: AppConfig) -> None:
    """What the header's words leave open, settled by the cells below it (``header.fields`` is changed):

    - "Họ và tên" | "Tên": a "Tên" that repeats the name's last word on most rows is kept for sorting, not part of
      the name;
    - a "Điện thoại" column holding marks (x, 1, ✓) rather than numbers lists a phone the child needs;
    - a list with no need column may state the need in its notes."""
    fields = header.fields
    if len(fields.get("full_name", [])) > 1 and _repeats_last_name_word(grid.rows, header, fields["full_name"]):
        fields["full_name"] = fields["full_name"][:-1]
    if len(fields.get("phone", [])) == 1:
        _phones_of_marks(grid, header, cfg)
    if "note" in fields and not any(f in fields for f in (*NEED_FIELDS, *HAS_FIELDS)):
        # no need column: a need the note states ("Cần máy tính bảng") is read from it (nothing else of the note)
        fields[NEED_IN_NOTE] = list(fields["note"])


_COUNTED = ("category_poor", "category_near_poor", "category_covid_orphan", "category_other", "sex_male", "sex_female",
            "lacks_device", "lacks_internet", "has_device", "has_internet")


def _counts_table(grid: SheetGrid, header: Header) -> bool:
    """A table of how many children per class or place ("Lớp | Sĩ số | Hộ nghèo | Chưa có thiết bị" holding 3, 5,
    2...): its mark columns hold numbers, some above 1 (a mark is "x" or 1), in at least two rows."""
    cols = [c for f in _COUNTED for c in header.fields.get(f, [])]
    values = [row[c] for row in grid.rows[header.last_row + 1:] for c in cols if c < len(row) and not is_empty(row[c])]
    numbers = []
    for v in values:
        text = display_text(v).strip()
        if isinstance(v, bool) or not re.fullmatch(r"\d+(\.0+)?", text):
            continue
        numbers.append(float(text))
    return len(values) >= 2 and len(numbers) >= 0.8 * len(values) and max(numbers, default=0) > 1


def _phones_of_marks(grid: SheetGrid, header: Header, cfg: AppConfig) -> None:
    """Phone columns holding marks (x, 1, ✓) rather than numbers ("Máy tính" | "Điện thoại" | "Internet") list a
    phone the child needs: they join ``lacks_device``; the family's number is the phone column that holds numbers.
    A lone such column needs three marks, or to stand beside a need column, to be read so."""
    fields = header.fields
    marks = _MarkWords.of(cfg)
    others = [c for c in header.unknown if c.levels and field_of(cfg, "students", c.levels[-1]) == "phone"]
    candidates = sorted([fields["phone"][0], *(c.index for c in others)])
    needs = {c for f in ANY_OF for c in fields.get(f, [])}
    numbers: list[int] = []
    for col in candidates:
        values = [display_text(row[col]) for row in grid.rows[header.last_row + 1:]
                  if col < len(row) and not is_empty(row[col])]
        marked = sum((fold(v) or v) in marks.words for v in values)
        if values and marked >= 0.8 * len(values) and (len(values) >= 3 or len(candidates) > 1
                                                       or col - 1 in needs or col + 1 in needs):
            fields.setdefault("lacks_device", []).append(col)
        else:
            numbers.append(col)
    if len(numbers) == len(candidates):
        return
    fields["lacks_device"].sort()
    fields.pop("phone")
    if numbers:
        fields["phone"] = [numbers[0]]
    header.unknown[:] = [c for c in header.unknown if c not in others or c.index in numbers[1:]]


# "Họ và tên" | "Tên" joined: "Tên" repeats the name's last word (kept to sort by) when most rows say so
def _repeats_last_name_word(rows: list[list[Any]], header: Header, cols: list[int]) -> bool:
    last = cols[-1]
    pairs = 0
    same = 0
    for row in rows[header.last_row + 1:]:
        words = " ".join(display_text(row[c]) for c in cols[:-1] if c < len(row)).split()
        given = display_text(row[last]) if last < len(row) else ""
        n = len(given.split())
        if len(words) <= n or not given:
            continue
        pairs += 1
        same += fold(" ".join(words[-n:])) == fold(given)
    return pairs > 0 and same >= 0.6 * pairs


_JOIN = {**JOINED, **{f: "; " for f in ANY_OF}}  # marks of one need in several columns: "x; 1"
_SHEET_CLASS = re.compile(r"(?:lop|khoi)?\s*([1-9]|1[0-2])\s*(?:[a-z]\d{0,2})?")


def _class_of_sheet(name: str) -> str:
    """The class a per-class sheet is named after ("6A", "Lớp 3B", "Khối 7"), or "" when the name is not one."""
    key = fold(name).strip()
    return name.strip() if key and _SHEET_CLASS.fullmatch(key) else ""


# --- The stage ------------------------------------------------------------------------------------------------
def _in_unicode(grid: SheetGrid) -> SheetGrid:
    """The sheet with its TCVN3 / VNI cells read in Unicode, each with the evidence of its column and sheet
    (``flows.intake.legacy_fonts.SheetFonts``): header and data cells alike. A sheet with no legacy cell is
    returned as it is."""
    fonts = SheetFonts(grid.rows)
    if not fonts.legacy:
        return grid
    return replace(grid, rows=[[fonts.read(v, r, c) if isinstance(v, str) else v for c, v in enumerate(row)]
                               for r, row in enumerate(grid.rows)])


def _row_issue(cfg: AppConfig, source: SourceData, sheet: str, row: int, rule: str, column: str = "",
               **params: Any) -> Issue:
    return Issue(
        source_file=source.source_file, source_sheet=sheet, source_row=row, column=column,
        severity=cfg.rules.severity(rule), rule=rule,  # type: ignore[arg-type]
        message=cfg.rules.message(rule, column=column, row=row, **params),
    )


def _hidden_issues(cfg: AppConfig, source: SourceData, sheet: str, rows: list[_Row],
                   labels: dict[str, str]) -> list[Issue]:
    """A warning for each student row that is not counted: hidden by hand (not by a filter; the school is asked to
    unhide it or delete it), or written below the table's signature block (to be moved into the table)."""
    out = []
    for row in rows:
        if row.hidden or row.below_footer:
            name = display_text(row.record.get("full_name")) or "(không có tên)"
            rule = "below_footer" if row.below_footer else "hidden_row"
            out.append(_row_issue(cfg, source, sheet, row.number, rule, labels.get("full_name", ""), value=name))
    return out


def _need_issues(cfg: AppConfig, source: SourceData, sheet: str, rows: list[tuple[int, dict[str, Any]]],
                 labels: dict[str, str]) -> list[Issue]:
    """A warning for each need cell whose text cannot be read as a need ("dùng chung với anh"), naming the cell."""
    vocab = vocabularies(cfg)
    out = []
    for number, record in rows:
        for fld, own, has in [*((f, o, False) for f, o in NEED_FIELDS.items()),
                              *((f, o, True) for f, o in HAS_FIELDS.items())]:
            value = record.get(fld)
            if isinstance(value, str) and value.strip() and vocab.needs(value, own, has) is None:
                out.append(_row_issue(cfg, source, sheet, number, "need_unreadable", labels.get(fld, ""),
                                      value=display_text(value)))
    return out


def _issue(cfg: AppConfig, source: SourceData, sheet: str, rule: str, column: str = "", **params: Any) -> Issue:
    return Issue(
        source_file=source.source_file, source_sheet=sheet, source_row=None, column=column,
        severity=cfg.rules.severity(rule), rule=rule,  # type: ignore[arg-type]
        message=cfg.rules.message(rule, column=column, **params),
    )


def extract(source: SourceData, cfg: AppConfig) -> Extracted:
    """Find the table of every visible sheet of ``source`` and return its rows as raw tables per kind."""
    markers = _Markers.of(cfg)
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
        grid = _in_unicode(grid)
        result.sheets_read += 1
        if any(not is_empty(v) for row in grid.rows for v in row):
            nonempty_sheets.append(grid.name)
        header = find_header(grid, cfg, kinds)
        if header is None:
            if source.kind in (None, "students") and _student_like(grid):
                result.issues.append(_issue(cfg, source, grid.name, "no_table"))
            continue
        kind = header.kind
        if kind == "students" and "full_name" not in header.fields and _counts_table(grid, header):
            result.counts_sheets.append(grid.name)  # "Lớp | Hộ nghèo | Chưa có thiết bị" with 3, 5, 2...:
            continue  # a summary beside the list, not a list whose name column is missing
        if kind == "students":
            _read_by_the_data(grid, header, cfg)
        for col in header.unknown:
            result.issues.append(_issue(cfg, source, grid.name, "unknown_column", column=col.label))
        labels = header.labels()
        labels.pop(NEED_IN_NOTE, None)  # the note's own column
        result.headers[(source.source_file, grid.name)] = labels
        if kind == "students" and "full_name" not in header.fields:
            result.issues.append(_issue(cfg, source, grid.name, "missing_column",
                                        field=cfg.headers.for_kind(kind)["full_name"][0].lstrip("~")))
            continue
        list_type, unit_code = _unit_for(source, grid, header.first_row, kind, cfg)
        if kind == "students" and not unit_code:
            result.issues.append(_issue(cfg, source, grid.name, "unknown_unit"))
        if kind == "connectivity" and not unit_code and "commune" not in header.fields:
            result.issues.append(_issue(cfg, source, grid.name, "unknown_unit"))
        order = field_order.setdefault(kind, [])
        sheet_grade = _class_of_sheet(grid.name) if kind == "students" and "grade" not in header.fields else ""
        for f in cfg.headers.for_kind(kind):
            if (f in header.fields or (f == "grade" and sheet_grade)) and f not in NOT_OUTPUT and f not in order:
                order.append(f)
        if NEED_IN_NOTE in header.fields and NEED_IN_NOTE not in order:
            order.append(NEED_IN_NOTE)
        if sheet_grade:
            labels["grade"] = grid.name
        found = _extract_rows(grid, header, markers, cfg)
        rows = [(row.number, row.record) for row in found if not row.hidden and not row.below_footer]
        if kind == "students":
            result.issues.extend(_hidden_issues(cfg, source, grid.name, found, labels))
            result.issues.extend(_need_issues(cfg, source, grid.name, rows, labels))
            # lists kept by household: one row per child, the head as guardian (by ages alone: not a school's list)
            rows = read_households(rows, cfg, by_age=list_type != "school")
            if any("household_head" in record for _, record in rows) and "household_head" not in order:
                order.append("household_head")
        for source_row, record in rows:
            if sheet_grade:
                record["grade"] = sheet_grade
            records.setdefault(kind, []).append({
                "source_id": source.source_id, "source_file": source.source_file, "source_sheet": grid.name,
                "source_row": source_row, "list_type": list_type, "unit_code": unit_code, **record,
            })
    if result.counts_sheets and "students" not in records:  # the school sent its numbers, not its children
        result.issues.append(_issue(cfg, source, result.counts_sheets[0], "counts_only"))
    if source.kind in (*KINDS, *OFFICER_KINDS) and not result.headers and nonempty_sheets and not any(
            i.rule in ("no_table", "missing_column", "counts_only") for i in result.issues):
        result.issues.append(_issue(cfg, source, nonempty_sheets[0], "no_table"))
    for kind, rows in records.items():
        columns = [*PROVENANCE, "list_type", "unit_code", *field_order[kind]]
        frame = pd.DataFrame([[row.get(c) for c in columns] for row in rows], columns=columns, dtype=object)
        frame["source_row"] = frame["source_row"].astype(int)
        result.tables[kind] = frame
    return result

"""Header discovery for layout: find the header of the table in a messy sheet and what each column holds.

The header is looked for in the first rows of the sheet by scoring header cells against the aliases in
``config/headers.yaml``; one- to three-row headers with merged cells are read as parent / child / grandchild
labels ("Đối tượng" over "Hộ nghèo" | "Hộ cận nghèo"), merges lost on the way (CSV) are restored. Cells typed in
TCVN3 or VNI arrive already read with their sheet's evidence (``flows.intake.layout`` repairs the grid first, the
same way for header and data). The kind of table (students, donations, connectivity, handover) is the one whose
aliases score best when the source registry does not say it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import lru_cache
from typing import Any, Iterable, Sequence

from flows.config import AppConfig, Headers
from flows.frames import SheetGrid
from flows.intake.cells import data_like, display_text, is_column_number
from flows.text import fold

KINDS = ("students", "donations", "connectivity", "handover")
OFFICER_KINDS = ("follow_up", "overrides")  # read only from sources registered as that kind (never inferred)
_SCAN_ROWS = 30  # the header row is looked for in the first rows only
_MAX_DEPTH = 3  # header rows (parent / child / grandchild)
NOT_OUTPUT = ("stt",)  # fields used to read the layout but not passed on
# Fields a header may spread over several columns under one merged parent, and how their parts are joined:
# "Họ và tên" over "Họ đệm" | "Tên", "Ngày sinh" over "Ngày" | "Tháng" | "Năm".
JOINED = {"full_name": " ", "date_of_birth": "/"}
# A column that asks what the child has ("Có máy tính?", "Đã có thiết bị học tập", "Gia đình có Internet không?")
# rather than what the child lacks: its "Có" / "x" says the child has the item, its "Không" / "Chưa có" that the
# child lacks it (``flows.intake.values.Vocabularies.needs``).
HAS_OF = {"lacks_device": "has_device", "lacks_internet": "has_internet"}
# Mark fields a header may spread over several columns under one merged parent ("Nhu cầu hỗ trợ" over "Máy tính" |
# "Điện thoại" | "Internet": two device columns): the child lacks the item when any of its columns is marked (has
# it, for a "has" column, when any of them says so).
ANY_OF = ("lacks_device", "lacks_internet", *HAS_OF.values())
# A name written in parts ("Họ và tên đệm" | "Tên", "Họ" | "Tên đệm" | "Tên"): the parts are joined in this order
# (then in column order) into ``full_name``.
NAME_PARTS = {"name_family": 0, "name_family_middle": 1, "name_middle": 2, "name_given": 3}
SEX_MARKS = ("sex_male", "sex_female")
# A household's row may name several children, each in a group of columns ("Con thứ nhất" | "Con thứ hai" over
# "Họ và tên" | "Năm sinh" | "Lớp", or "Họ tên con 1" | "Năm sinh con 1" | "Họ tên con 2" ...): these fields,
# when repeated, belong to the child whose name column comes before them. A field written once (the village,
# the category, the needs) is the household's, shared by its children.
CHILD_FIELDS = ("full_name", "date_of_birth", "sex", "grade", "school", "national_id", "lacks_device",
                "lacks_internet")
_HOUSEHOLD_DETAIL = "_household_detail"  # "Chủ hộ" over "Năm sinh": the head's own details, not used


# --- Matching header text against the aliases -----------------------------------------------------------------
_HEADER_WORDS = 10  # a longer text is matched only exactly, never by the words it contains
_HAS = re.compile(r"(?:da co|co san|hien co|co)\b")  # a sub-column saying what the child has, not lacks
# a header asking whether the child has something: "Có ...", "Đã có ...", "Gia đình có ... không?" (folded words)
_HAS_HEADER = re.compile(r"^(?:(?:gia dinh|hoc sinh|em|nha|ho|con|hien nay|hien tai|da|hien|dang|van) )*co (?:san )?(.+?)"
                         r"(?: (?:hay khong|hay chua|khong|chua))?$")
_PARENS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
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
    """The header aliases of one kind: exact aliases, and "~" aliases matched as whole words inside a header;
    ``sub``: the aliases of the columns under a parent header, per field of the parent (``sub_columns``)."""

    def __init__(self, aliases: dict[str, list[str]], sub: dict[str, dict[str, list[str]]] | None = None):
        self.sub = {parent: _Aliases(children) for parent, children in (sub or {}).items()}
        self.fields = frozenset(aliases)
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

    @lru_cache(maxsize=16384)
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
        has = self._has_field(variants)
        if has:
            return has
        found: dict[str, int] = {}
        for toks in variants:
            if len(toks) > _HEADER_WORDS:
                continue  # a sentence ("DANH SÁCH HỌC SINH CHƯA CÓ THIẾT BỊ ..."): a title, not a column's header
            words = {f for f, _ in toks}
            for alias, fld in self.contains:
                if alias and alias[0][0] not in words:
                    continue  # its first word is nowhere in the header: it cannot match
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

    def _has_field(self, variants: list[_Tokens]) -> str | None:
        """``has_device`` / ``has_internet`` for a header that asks whether the child has what a need column names
        ("Có máy tính, điện thoại thông minh?", "Đã có thiết bị học tập", "Có Internet (Có/Không)"); only among the
        students' aliases (those with need sub-columns)."""
        if "need" not in self.sub:
            return None
        for toks in variants:
            words = [f for f, _ in toks]
            m = _HAS_HEADER.match(" ".join(words))
            if not m:
                continue
            skip = len(m.string[:m.start(1)].split())  # the words before what is had
            had = toks[skip:skip + len(m.group(1).split())]
            if ("de", "để") in had:  # "... máy tính hoặc điện thoại để học trực tuyến": what for is no item
                had = had[:had.index(("de", "để"))]
            rest = " ".join(t for _, t in had)
            fld = self.match(rest)
            if fld in (None, "phone"):  # "Có điện thoại": a phone had, not the family's number; but "Có nhu cầu
                fld = self.sub["need"].match(rest)  # hỗ trợ máy tính" is a need (lacking), not a device had
            if fld in HAS_OF:
                return HAS_OF[fld]
        return None


_ALIASES: dict[int, tuple[Headers, dict[str, _Aliases]]] = {}


def _aliases(cfg: AppConfig) -> dict[str, _Aliases]:
    """The header aliases of every kind, built once per configuration."""
    entry = _ALIASES.get(id(cfg.headers))
    if entry is None or entry[0] is not cfg.headers:
        entry = (cfg.headers, {kind: _Aliases(cfg.headers.for_kind(kind), cfg.headers.sub_columns.get(kind))
                               for kind in (*KINDS, *OFFICER_KINDS)})
        _ALIASES[id(cfg.headers)] = entry
    return entry[1]


def field_of(cfg: AppConfig, kind: str, text: str) -> str | None:
    """The field a header text names among the aliases of ``kind`` (None when none does)."""
    return _aliases(cfg)[kind].match(text)


# --- Header discovery -----------------------------------------------------------------------------------------
@dataclass
class Column:
    """One column of a header: its header texts from the top row of the header down."""

    index: int
    levels: list[str]  # distinct header texts, top to bottom
    spans: list[tuple[int, int]]  # first/last column each level spans

    @property
    def label(self) -> str:
        return " / ".join(self.levels)


@dataclass
class Header:
    """The header found in a sheet: the kind of table, its rows, its score and what each column holds."""

    kind: str
    first_row: int
    last_row: int  # inclusive
    score: float
    columns: list[Column]
    fields: dict[str, list[int]]  # field -> column indexes (several only for a split full name)
    unknown: list[Column]
    slots: list[dict[str, list[int]]] = dataclass_field(default_factory=list)  # the 2nd, 3rd... child of a row

    def labels(self) -> dict[str, str]:
        """Header text of each field passed on, as the school wrote it, in the sheet's column order ("Đối tượng /
        Hộ nghèo" for a child under a parent; the parent alone for a field spread over several columns)."""
        labels = {}
        for f, cols in sorted(self.fields.items(), key=lambda kv: kv[1][0]):
            if f in NOT_OUTPUT:
                continue
            col = next(c for c in self.columns if c.index == cols[0])
            labels[f] = col.levels[0] if len(cols) > 1 else col.label
        return labels


class _SheetView:
    """Text of the top of a sheet with merged cells spread over their range."""

    def __init__(self, grid: SheetGrid, rows: int):
        self.grid = grid
        self.height = min(len(grid.rows), rows)
        self.width = max((len(r) for r in grid.rows[: self.height]), default=0)
        self.text = [[display_text(v) for v in self._row(r)] for r in range(self.height)]
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
            if any(data_like(v) for v in self.grid.rows[r]):
                return False
        return True

    def columns(self, first: int, last: int) -> list[Column]:
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
            cols.append(Column(c, levels, spans))
        return cols


_DAY, _MONTH, _YEAR = ({"ngay", "ngay sinh"}, {"thang", "thang sinh"}, {"nam", "nam sinh"})


def _date_in_parts(columns: list[Column]) -> dict[int, tuple[int, int]]:
    """"Ngày" | "Tháng" | "Năm (sinh)" side by side with nothing merged above them: one birth date in three columns
    (under a merged "Ngày sinh" the parent says so already). Column index -> the span of the three."""
    texts = {c.index: " ".join(f for f, _ in _tokens(c.levels[-1])) for c in columns if c.levels}
    out: dict[int, tuple[int, int]] = {}
    for c in columns:
        i = c.index
        if texts.get(i) in _DAY and texts.get(i + 1) in _MONTH and texts.get(i + 2) in _YEAR:
            out.update({j: (i, i + 2) for j in (i, i + 1, i + 2)})
    return out


def _map_columns(aliases: _Aliases, columns: list[Column]
                 ) -> tuple[dict[str, list[int]], list[Column], float, list[dict[str, list[int]]]]:
    """Fields of the header columns; unknown columns; a penalty for children that look like data; the column
    groups of the further children a household's row names (``CHILD_FIELDS``)."""
    assigned: list[tuple[Column, str | None, tuple[int, int] | None]] = []
    sex_split: dict[int, str] = {}
    penalty = 0.0
    labelled = sum(1 for c in columns if c.levels)
    date_parts = _date_in_parts(columns) if "date_of_birth" in aliases.fields else {}
    for col in columns:
        if not col.levels:
            assigned.append((col, None, None))
            continue
        if col.index in date_parts:
            assigned.append((col, "date_of_birth", date_parts[col.index]))
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
        # a group's header over some of the columns, not a title over the whole table ("DANH SÁCH HỌC SINH THIẾU
        # THIẾT BỊ HỌC TẬP" above every column)
        group_parent = len(col.levels) > 1 and parent_span is not None and (
            parent_span[1] - parent_span[0] + 1 <= max(3, labelled // 2))
        f_sub = aliases.sub[f_parent].match(child) if f_parent in aliases.sub and group_parent else None
        if f_sub and _HAS.match(fold(child)):
            # "Đã có máy tính" under "Nhu cầu": the other way round, read as what the child has
            f_sub, fld, group = None, (f_child if f_child in HAS_OF.values() else None), None
        elif f_sub:  # "Điện thoại" under "Nhu cầu hỗ trợ": a phone the child needs, not the family's number
            fld, group = f_sub, parent_span
            if parent_span[0] < parent_span[1]:
                penalty -= 0.5  # the row under a merged parent names its parts: a header row, not data
        elif len(col.levels) > 1:
            if f_parent == "full_name" and f_child in NAME_PARTS and group_parent and parent_span[0] < parent_span[1]:
                penalty -= 0.5  # "Họ và tên" over "Họ đệm" | "Tên"
            if f_parent == "date_of_birth" and f_child in SEX_MARKS and parent_span[0] < parent_span[1]:
                # "Ngày, tháng, năm sinh" over "Nam | Nữ": the date is written in the child's sex column
                fld, group = f_parent, parent_span
                sex_split[col.index] = f_child
            elif f_child == "full_name" and f_parent in ("guardian_name", "household_head"):
                fld = f_parent
            elif f_parent == "household_head" and f_child:
                fld = _HOUSEHOLD_DETAIL
            elif not f_child and f_parent and (parent_span[0] == parent_span[1] or f_parent in JOINED):
                fld, group = f_parent, parent_span
                if parent_span[0] == parent_span[1] and not is_column_number(child):
                    penalty += 0.5  # a one-column parent over an unknown child: maybe a data row
        assigned.append((col, fld, group))
    fields: dict[str, list[int]] = {}
    groups: dict[str, tuple[int, int] | None] = {}
    unknown: list[Column] = []
    repeats: list[tuple[str, Column]] = []
    parts: dict[str, Column] = {}
    top_level: set[str] = set()
    for col, fld, group in assigned:
        if fld == _HOUSEHOLD_DETAIL:
            continue
        if fld is None:
            if col.levels and not all(is_column_number(t) for t in col.levels):
                unknown.append(col)
            continue
        if fld in NAME_PARTS:
            if fld in parts:
                unknown.append(col)
            else:
                parts[fld] = col
            continue
        if fld not in fields:
            fields[fld] = [col.index]
            groups[fld] = group
            if len(col.levels) == 1:
                top_level.add(fld)
        elif fld in (*JOINED, *ANY_OF) and group is not None and group == groups[fld] and group[0] < group[1]:
            fields[fld].append(col.index)  # "Họ và tên" merged over "Họ đệm" | "Tên"; "Máy tính" | "Điện thoại"
        elif fld in ANY_OF and len(col.levels) == 1 and fld in top_level:
            fields[fld].append(col.index)  # "Máy tính" | "Máy tính bảng" side by side, nothing above them
        else:
            repeats.append((fld, col))
    unknown.extend(_name_from_parts(fields, parts))
    slots, unused = _child_slots(fields, repeats)
    unknown = sorted([*unknown, *unused], key=lambda c: c.index)  # a second column for the same field is not used
    for index, sex_field in sex_split.items():
        if index in fields.get("date_of_birth", []):
            fields.setdefault(sex_field, [index])
    return fields, unknown, penalty, slots


def _name_from_parts(fields: dict[str, list[int]], parts: dict[str, Column]) -> list[Column]:
    """The child's name from its parts' columns, joined family, middle, given ("Họ và tên đệm" | "Tên"); a name
    column followed by a given name or middle name ("Họ và tên" | "Tên") holds the rest of the name (layout leaves
    out a given-name column that only repeats the name's last word, kept for sorting). Returns the part columns
    not used."""
    if not parts:
        return []
    ordered = [col.index for fld, col in sorted(parts.items(), key=lambda kv: (NAME_PARTS[kv[0]], kv[1].index))]
    name = fields.get("full_name")
    if name is None:
        if len(parts) == 1 and "name_family_middle" not in parts:
            return list(parts.values())  # "Tên" alone: a given name is not the child's name
        fields["full_name"] = ordered
        return []
    if len(name) == 1 and not {"name_family", "name_family_middle"} & set(parts) and name[0] < min(ordered):
        fields["full_name"] = name + ordered
        return []
    return list(parts.values())


def _child_slots(fields: dict[str, list[int]], repeats: list[tuple[str, Column]]
                 ) -> tuple[list[dict[str, list[int]]], list[Column]]:
    """When the child's name is repeated, a household's row names several children: the repeated ``CHILD_FIELDS``
    columns are dealt to the child whose name column precedes them (``fields`` keeps the first child's); returns
    the further children's columns and the repeated columns left unused."""
    names = [c.index for f, c in repeats if f == "full_name"]
    if not names or "full_name" not in fields or len(fields["full_name"]) != 1:
        return [], [c for _, c in repeats]
    per_child = {f for f, _ in repeats if f in CHILD_FIELDS} | {"full_name"}
    starts = sorted([fields["full_name"][0], *names])
    slots: list[dict[str, list[int]]] = [{} for _ in starts]
    unused = []
    columns = [(f, cols) for f, cols in fields.items() if f in per_child]
    columns += [(f, [c.index]) for f, c in repeats if f in per_child]
    for f, cols in sorted(columns, key=lambda fc: fc[1][0]):
        k = max((i for i, s in enumerate(starts) if s <= cols[0]), default=0)
        if f in slots[k]:
            unused.append(cols[0])
        else:
            slots[k][f] = cols
    for f in per_child:
        fields.pop(f, None)
    fields.update(slots[0])
    unknown = [c for f, c in repeats if f not in per_child or c.index in unused]
    return slots[1:], unknown


def _score(kind: str, fields: dict[str, list[int]], penalty: float) -> float:
    named = [f for f in fields if f not in NOT_OUTPUT]
    if len(named) < 2:
        return 0.0
    if kind in ("students", "handover") and "full_name" not in fields and len(named) < 3:
        return 0.0
    return len(named) + (2 if "full_name" in fields else 0) - penalty


def _best_header(view: _SheetView, aliases: dict[str, _Aliases], kinds: Iterable[str]) -> Header | None:
    best: Header | None = None
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
                fields, unknown, penalty, slots = _map_columns(aliases[kind], columns)
                score = _score(kind, fields, penalty)
                if score <= 0:
                    continue
                key = (score, -depth, -first, -order)
                if best_key is None or key > best_key:
                    best_key = key
                    best = Header(kind, first, last, score, columns, fields, unknown, slots)
    return best


def find_header(grid: SheetGrid, cfg: AppConfig, kinds: Sequence[str]) -> Header | None:
    """The best-scoring header in the first rows of ``grid`` for one of ``kinds`` (on equal scores the one of fewer
    rows, then the higher one, then the earlier kind); None when there is none. When one kind is asked, a header of
    another table kind is taken when it is unmistakable: a workbook registered as one kind may carry a sheet of
    another (a commune's list of children and its village coverage)."""
    aliases = _aliases(cfg)
    view = _SheetView(grid, _SCAN_ROWS + _MAX_DEPTH)
    header = _best_header(view, aliases, kinds)
    if header is None and len(kinds) == 1:
        other = _best_header(view, aliases, [k for k in KINDS if k != kinds[0]])
        header = other if other is not None and other.score >= 4 else None
    return header

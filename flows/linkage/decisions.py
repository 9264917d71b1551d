"""Officer decisions on record pairs, read from the sheets an officer fills.

Every pair in "Cần xem xét" carries a pair key (the two record fingerprints, ``flows.linkage.dedupe.pair_key``) and an
empty "Kết luận" column. The officer either fills that column in a returned copy of the workbook, or copies the
key into a decisions sheet of their own; any sheet of any source whose header row has a pair-key column and a
decision column is read (header aliases and the words for same / different live in ``config/headers.yaml``,
block ``decisions``). Decisions are stored in the ledger and applied every night: same -> must-link,
different -> cannot-link, overriding the model. A row that cannot be read becomes a warning issue; so does a
well-formed key that matches no pair of tonight's records (``unmatched_decisions``): the decision is kept all the
same, and applies again if the two records come back.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

import pandas as pd

from flows.config import AppConfig
from flows.frames import Issue, SourceData
from flows.text import as_text, fold

DECISION_COLUMNS = ["fingerprint_a", "fingerprint_b", "decision", "decided_by", "decided_at", "source"]
_KEY = re.compile(r"^\s*([0-9a-f]{16})\s*[-~/ ]\s*([0-9a-f]{16})\s*$")
_SCAN_ROWS = 15


_CLAUSE = re.compile(r"[(\[;,:]|\s[-–]\s")  # "Cùng (đã xác minh)", "Khác - đã kiểm tra": the decision comes first
_NUMBERS = {"1": "mot", "2": "hai"}  # "cùng 1 em", "2 em khác nhau"
_NEGATIONS = ("khong phai", "khong", "ko", "chua phai")  # "Không cùng", "Không phải cùng một em"


def decision_of(said: str, same: list[str], different: list[str]) -> str:
    """"same", "different" or "" for what an officer wrote: the words of ``value_same`` / ``value_different``, as
    written or followed by more words ("Cùng một em, đã xác minh", "Trùng nhau"), digits as words ("cùng 1 em"),
    and a same-word after a negation read as different ("Không cùng", "Không phải cùng một em")."""
    first = _CLAUSE.split(said, maxsplit=1)[0]
    key = " ".join(_NUMBERS.get(w, w) for w in fold(first).split())
    if not key:
        return ""
    if _names(key, different):
        return "different"
    if any(key.startswith(neg + " ") and _names(key[len(neg) + 1:], same) for neg in _NEGATIONS):
        return "different"
    return "same" if _names(key, same) else ""


def _names(key: str, aliases: list[str]) -> bool:
    """A folded text is one of the words, or one of them (of two letters or more: "c" and "k" only alone) followed
    by words that add nothing ("Trùng nhau", "Cùng một em rồi"; not "Khác trường", which may only describe)."""
    exact, within = _folded(tuple(aliases))
    if _hit(key, exact, within):
        return True
    return any(key.startswith(a + " ") and set(key[len(a) + 1:].split()) <= _FILLER for a in exact if len(a) > 1)


_FILLER = frozenset("nhau em nguoi hoc sinh mot hai roi a day han hoan toan la chac chan".split())


def _hit(key: str, exact: frozenset[str], within: tuple[str, ...]) -> bool:
    """A folded text is one of the names ``exact`` or contains one of the words ``within`` (``_folded``)."""
    return bool(key) and (key in exact or any(a in key for a in within))


@functools.lru_cache(maxsize=64)
def _folded(aliases: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    """An alias list folded once: the names a header must be, and ("~" first) the words it must contain."""
    return (frozenset(fold(a) for a in aliases if not a.startswith("~")),
            tuple(fold(a[1:]) for a in aliases if a.startswith("~")))


_FIELDS = ("pair_key", "decision", "decided_by", "decided_at")


def _header(rows: list[list], aliases: dict[str, list[str]]) -> tuple[int, dict[str, int]] | None:
    """(row index, field -> column) of the first row naming both a pair key and a decision column."""
    folded = [(name, *_folded(tuple(aliases.get(name, [])))) for name in _FIELDS]  # once per sheet, not per cell
    for r, row in enumerate(rows[:_SCAN_ROWS]):
        cols: dict[str, int] = {}
        for c, cell in enumerate(row):
            key = fold(as_text(cell))  # folded once per cell, then looked up in each field's aliases
            if not key:
                continue
            for name, exact, within in folded:
                if name not in cols and _hit(key, exact, within):
                    cols[name] = c
                    break
        if "pair_key" in cols and "decision" in cols:
            return r, cols
    return None


def read_decisions(sources: list[SourceData], cfg: AppConfig,
                   per_source=None) -> tuple[pd.DataFrame, list[Issue]]:
    """Decisions found in the sources' sheets (``DECISION_COLUMNS``) and issues for rows that cannot be read.
    ``per_source(source, read)``: how each source's (rows, issues) are had (``read(source)`` or a kept copy:
    a source's decisions depend on that source alone)."""
    rows: list[dict] = []
    issues: list[Issue] = []
    for source in sources:
        if source.status == "failed":
            continue
        found, wrong = (per_source or (lambda s, read: read(s)))(source, lambda s: source_decisions(s, cfg))
        rows.extend(found)
        issues.extend(wrong)
    return pd.DataFrame(rows, columns=[*DECISION_COLUMNS, *_CITED]), issues


_CITED = ["source_file", "source_sheet", "source_row", "key_column"]  # where a decision was read (for its issues)


def unmatched_decisions(decided: pd.DataFrame, fingerprints: Iterable[str]) -> list[Issue]:
    """A warning for each decision read tonight whose pair key names a record that is not among tonight's
    (``fingerprints`` of the usable rows), citing the file, sheet, row and key column it was read from."""
    if decided is None or decided.empty:
        return []
    present = set(fingerprints)
    issues = []
    for d in decided.to_dict("records"):
        missing = [fp for fp in (d["fingerprint_a"], d["fingerprint_b"]) if fp not in present]
        if not missing:
            continue
        issues.append(Issue(
            source_file=as_text(d.get("source_file")), source_sheet=as_text(d.get("source_sheet")),
            source_row=int(d["source_row"]) if as_text(d.get("source_row")) else None,
            column=as_text(d.get("key_column")), severity="warning", rule="unmatched_decision",
            message=(f"Mã cặp {d['fingerprint_a']}-{d['fingerprint_b']} không khớp cặp hồ sơ nào trong danh sách "
                     f"đêm nay ({'cả hai hồ sơ' if len(missing) == 2 else 'một hồ sơ'} không còn trong danh sách, "
                     "hoặc mã chép sai): kết luận được giữ lại và sẽ áp dụng khi hai hồ sơ có lại; hãy kiểm tra "
                     "mã cặp trong bảng \"Cần xem xét\" mới nhất")))
    return issues


def source_decisions(source: SourceData, cfg: AppConfig) -> tuple[list[dict], list[Issue]]:
    """One source's decision rows (``DECISION_COLUMNS`` as dicts) and unreadable-row issues."""
    aliases = cfg.headers.decisions
    same, different = aliases.get("value_same", []), aliases.get("value_different", [])
    rows: list[dict] = []
    issues: list[Issue] = []
    for grid in source.sheets:
        found = _header(grid.rows, aliases) if not grid.hidden else None
        if found is None:
            continue
        first, cols = found
        header_row = grid.rows[first]
        for r in range(first + 1, len(grid.rows)):
            row = grid.rows[r]

            def cell(name: str) -> str:
                c = cols.get(name)
                return as_text(row[c]) if c is not None and c < len(row) else ""

            key, said = cell("pair_key"), cell("decision")
            if not said:
                continue  # not decided yet
            decision = decision_of(said, same, different)
            m = _KEY.match(key.lower())
            if not m or m.group(1) == m.group(2) or not decision:
                column = header_row[cols["decision" if m else "pair_key"]]
                issues.append(Issue(
                    source_file=source.source_file, source_sheet=grid.name, source_row=r + 1,
                    column=as_text(column), severity="warning", rule="unreadable_decision",
                    message=("Không đọc được kết luận: ghi \"Cùng một em\" hoặc \"Khác nhau\""
                             if m else "Mã cặp không đúng: chép nguyên mã cặp từ bảng \"Cần xem xét\"")))
                continue
            a, b = sorted((m.group(1), m.group(2)))
            rows.append({"fingerprint_a": a, "fingerprint_b": b, "decision": decision,
                         "decided_by": cell("decided_by"), "decided_at": _date(row, cols),
                         "source": f"{source.source_file}:{grid.name}:{r + 1}",
                         "source_file": source.source_file, "source_sheet": grid.name, "source_row": r + 1,
                         "key_column": as_text(header_row[cols["pair_key"]])})
    return rows, issues


def _date(row: list, cols: dict[str, int]):
    from flows.intake.values import parse_date

    c = cols.get("decided_at")
    if c is None or c >= len(row):
        return None
    iso, _ = parse_date(row[c])
    return pd.Timestamp(iso).to_pydatetime() if iso else None

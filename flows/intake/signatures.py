"""Layout, the end of a table: where a signature block begins, read from its shape, whatever its wording.

A list ends with the place and date ("Hữu Lũng, ngày … tháng … năm …"), then titles or roles over names ("Người
tổng hợp" over "Lý Văn Tám", "Cán bộ văn hóa - xã hội", "T/M Ban giám hiệu"): rows with no STT number, a few cells
of plain text apart from each other. None of them is a child, and no list of titles is needed to know it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flows.config import AppConfig
from flows.intake.cells import data_like, display_text, is_empty
from flows.text import fold

_NAME_LIKE = re.compile(r"[^\W\d_]+(?:[ '\-][^\W\d_]+){0,6}")

def _name_like(value: Any) -> bool:
    text = display_text(value)
    return bool(text) and bool(_NAME_LIKE.fullmatch(text))


_SIGNERS_PER_ROW = 3  # a signature line: up to three signers, apart from each other


@dataclass(frozen=True)
class _MarkWords:
    """The mark vocabularies (x, 1, có...; 0, không...), folded, to tell a marked row from a line of text."""

    words: frozenset[str]

    @classmethod
    def of(cls, cfg: AppConfig) -> _MarkWords:
        v = cfg.headers.vocabulary
        return cls(frozenset((fold(w) or w.strip()) for w in [*v("truthy"), *v("falsy")]))


def _plain_text(text: str, marks: _MarkWords) -> bool:
    """Text as a signature line writes it: words without a digit, not a mark."""
    key = fold(text) or text.strip()
    return bool(key) and not any(ch.isdigit() for ch in text) and key not in marks.words and len(key) > 2


def _has_data(record: dict[str, Any], marks: _MarkWords) -> bool:
    """Besides the name, the record holds a date, a class, a number or a mark: a child's row, not a line of text."""
    for f, v in record.items():
        if f == "full_name" or is_empty(v):
            continue
        if not isinstance(v, str) or data_like(v) or any(ch.isdigit() for ch in v) or (fold(v) or v) in marks.words:
            return True
    return False


def _role_like(text: str) -> bool:
    """Text not written the way a person's name is (every word capitalised, or all in capitals, two to five
    words): a title or role ("Người tổng hợp", "Cán bộ văn hóa - xã hội", "T/M Ban giám hiệu")."""
    if re.search(r"[-–:.,;()/&]", text):
        return True
    words = text.split()
    if not 2 <= len(words) <= 5:
        return len(words) > 5
    return not all(w[:1].isupper() for w in words)


def _name_shaped(text: str) -> bool:
    words = text.split()
    return 2 <= len(words) <= 5 and _name_like(text) and all(w[:1].isupper() for w in words)


def _signature_start(rows: list) -> int:
    """Where the signature block at the end of the table begins (``len(rows)`` when there is none). ``rows``:
    the layout's rows (``loose``, ``text_only`` and ``texts``, the (column, text) of their cells).

    The block is read from its shape, whatever its wording: the trailing rows that are ``loose`` (no STT number,
    at most three cells of plain text, none beside another), holding a title or role followed below by a name in
    the same column ("Người tổng hợp" over "Lý Văn Tám"); or, when the table's own rows are not loose, any two or
    more such rows, or one that is a role."""
    start = len(rows)
    while start > 0 and rows[start - 1].loose:
        start -= 1
    if start == len(rows) or start == 0:
        return len(rows)
    tail = rows[start:]
    texts = [(i, c, t) for i, row in enumerate(tail) for c, t in row.texts]
    titled = any(_role_like(t) and any(j > i and abs(d - c) <= 1 and _name_shaped(u) for j, d, u in texts)
                 for i, c, t in texts)
    body = [row for row in rows[:start] if not row.text_only]
    if not body:
        return len(rows)
    tidy = sum(1 for row in body if row.loose) <= 0.2 * len(body)
    if titled or (tidy and (len(tail) >= 2 or any(_role_like(t) for _, _, t in texts))):
        return start
    return len(rows)



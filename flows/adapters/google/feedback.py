"""Feedback write-back: each student-list spreadsheet gets a "Phản hồi" sheet listing its issues.

One ``batchUpdate`` per spreadsheet (add the sheet if missing, clear it, write the rows), and only when the
spreadsheet's issue list changed since the last write (a sha256 kept in the ledger) or the sheet is gone. The
status column compares with what the sheet said at the last write (read with tonight's snapshot, at no extra
cost): "Mới" (new), "Chưa sửa" (listed before, still there), "Đã sửa" (listed before, gone now). Our write
changes the spreadsheet's ``modifiedTime``: when nobody else changed it since tonight's read, the snapshot is stored
again as written under the new time (two Drive metadata reads), so tomorrow's change detection does not read it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zlib
from typing import Any

import pandas as pd

from flows.config import AppConfig
from flows.frames import SourceData
from flows.adapters.google.sheets import FEEDBACK_SHEET, WRITE_SCOPES, GoogleUnavailable, connect, grids_from_json, http_of

log = logging.getLogger(__name__)

HEADER = ["Trang tính", "Dòng", "Cột", "Mức độ", "Cần sửa", "Trạng thái"]
SEVERITY = {"error": "Lỗi", "warning": "Cảnh báo"}
NEW, OPEN, FIXED = "Mới", "Chưa sửa", "Đã sửa"


def feedback_sheet_id(source_id: str) -> int:
    """A stable sheet id for the feedback sheet, so one batchUpdate can add it and write it."""
    return 100_000_000 + zlib.crc32(source_id.encode()) % 800_000_000


def feedback_rows(issues: pd.DataFrame, previous: list[list[Any]]) -> list[list[Any]]:
    """The sheet's rows (header first): tonight's issues with their status, then the ones fixed since last time."""
    rows: list[list[Any]] = []
    for r in issues.itertuples(index=False):
        row = "" if pd.isna(r.source_row) else int(r.source_row)
        rows.append([r.source_sheet, row, r.column, SEVERITY.get(r.severity, r.severity), r.message])
    key = lambda row: tuple(str(v) for v in row[:5])  # noqa: E731
    before = {key(p): p for p in previous if len(p) >= 5 and p[5:6] != [FIXED]}
    now = {key(r) for r in rows}
    out = [HEADER] + [[*r, OPEN if key(r) in before else NEW] for r in rows]
    out += [[*p[:5], FIXED] for k, p in before.items() if k not in now]
    return out


def write_feedback(sources: list[SourceData], issues: pd.DataFrame, cfg: AppConfig, ledger, run_id: str,
                   client=None) -> dict[str, int]:
    """Write the feedback sheets; never raises for one spreadsheet. Returns counts (written, unchanged, failed)."""
    # Google spreadsheets read tonight (local files have no snapshot); stale ones are left alone
    targets = [(s, snap) for s in sources if s.kind == "students" and s.status == "ok"
               for snap in [ledger.latest_snapshot(s.source_id)] if snap is not None]
    counts = {"written": 0, "unchanged": 0, "failed": 0}
    if not targets:
        return counts
    if client is None:
        try:
            client = connect(cfg.sources.google, WRITE_SCOPES)
        except Exception as exc:  # no key, an unreadable key, a Secret block that cannot be loaded
            log.warning("feedback: no usable service-account key (%s); nothing written", type(exc).__name__)
            counts["failed"] = len(targets)
            return counts
    http = http_of(client)
    for source, snapshot in targets:
        mine = issues[issues["source_file"] == source.source_file]
        existing = next((g for g in grids_from_json(snapshot.sheets) if g.name == FEEDBACK_SHEET), None)
        existing_id = next((s.get("sheet_id") for s in snapshot.sheets if s["name"] == FEEDBACK_SHEET), None)
        previous = [list(r) for r in existing.rows[1:]] if existing else []
        rows = feedback_rows(mine, previous)
        # the issue list decides whether to write (statuses follow it), so an unchanged list is never rewritten
        current = [r[:5] for r in rows[1:] if r[5] != FIXED]
        digest = hashlib.sha256(json.dumps(current, ensure_ascii=False, default=str).encode()).hexdigest()
        if existing is not None and ledger.feedback_hash(source.source_id) == digest:
            counts["unchanged"] += 1
            continue
        target = existing_id if existing is not None and existing_id is not None else \
            feedback_sheet_id(source.source_id)
        requests: list[dict] = []
        if existing is None:
            requests.append({"addSheet": {"properties": {"sheetId": target, "title": FEEDBACK_SHEET,
                                                         "gridProperties": {"frozenRowCount": 1}}}})
        else:
            requests.append({"updateCells": {"range": {"sheetId": target}, "fields": "userEnteredValue"}})
        requests.append({"updateCells": {"start": {"sheetId": target, "rowIndex": 0, "columnIndex": 0},
                                         "rows": [{"values": [_cell(v) for v in row]} for row in rows],
                                         "fields": "userEnteredValue"}})
        try:
            untouched = _modified(http, source.source_id) == snapshot.modified_time  # nobody edited since the read
            http.batch_update(source.source_id, {"requests": requests})
        except GoogleUnavailable as exc:
            log.warning("feedback: spreadsheet %s failed (HTTP %s)", source.source_id, exc.status)
            counts["failed"] += 1
            continue
        ledger.set_feedback_hash(source.source_id, digest, run_id)
        counts["written"] += 1
        if untouched:
            _adopt(ledger, snapshot, http, rows, target, run_id)
    return counts


def _modified(http, key: str) -> str | None:
    """The spreadsheet's Drive ``modifiedTime`` (a Drive read, not a Sheets one); None if it cannot be had."""
    try:
        return http.get_file_drive_metadata(key).get("modifiedTime")
    except GoogleUnavailable:
        return None


def _adopt(ledger, snapshot, http, rows: list[list[Any]], sheet_id: int, run_id: str) -> None:
    """Our own write changed the spreadsheet's ``modifiedTime``; nobody else did (it was still the one read
    tonight just before the write). Store the snapshot as it now is, the feedback sheet as written, under the new
    ``modifiedTime``, so that tomorrow night does not read the whole spreadsheet again because of our write."""
    from flows.frames import SheetGrid
    from flows.adapters.google.sheets import grids_to_json
    from flows.adapters.ledger import Snapshot

    modified = _modified(http, snapshot.source_id)
    if not modified or modified == snapshot.modified_time:
        return
    written = dict(grids_to_json([SheetGrid(FEEDBACK_SHEET, [list(r) for r in rows])])[0], sheet_id=sheet_id)
    sheets = [s for s in snapshot.sheets if s["name"] != FEEDBACK_SHEET] + [written]
    ledger.save_snapshot(Snapshot(source_id=snapshot.source_id, title=snapshot.title, modified_time=modified,
                                  sheets=sheets), run_id)


def _cell(value: Any) -> dict:
    if isinstance(value, bool):
        return {"userEnteredValue": {"boolValue": value}}
    if isinstance(value, (int, float)):
        return {"userEnteredValue": {"numberValue": value}}
    return {"userEnteredValue": {"stringValue": "" if value is None else str(value)}}

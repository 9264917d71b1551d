"""A night that links the whole district workbook (a rerun of the same result) keeps the sheets it was made from
in the store past its sweep: the next night, whose lists changed, still takes the sheets whose content did not
change, and publishes the bytes a night without any store writes."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from flows.publishing import workbook
from flows.publishing.publish import publish
from flows.reuse import Reuse
from flows.reuse.workbooks import SHEETS_AREA
from tests.publishing.night import make_result

LISTS = ("Danh sách phân bổ", "Danh sách chờ", "Không đủ điều kiện", "Lỗi dữ liệu")


@pytest.fixture
def streamed(monkeypatch):
    """The small night's district workbook written as a large one is (constant memory: its sheets are kept)."""
    monkeypatch.setattr(workbook, "_STREAM_ROWS", 0)


def _night(n: int, day: dt.date, base=None):  # noqa: ANN001, ANN202
    result = copy.deepcopy(base or make_result())
    result.run_id = f"2022011{n}-020000"
    result.started_at = dt.datetime.combine(day, dt.time(2, n))
    result.as_of = day
    return result


def _sheets(run) -> dict:  # noqa: ANN001
    return json.loads((run / "manifest.json").read_text(encoding="utf-8"))["reuse"]["areas"].get(SHEETS_AREA, {})


def test_a_linked_district_workbook_keeps_its_sheets_for_the_next_night(cfg, tmp_path, streamed):
    inc, full = tmp_path / "inc", tmp_path / "full"
    day = dt.date(2022, 1, 15)
    changed = make_result()
    al = changed.allocations
    al.loc[al.index[al["status"] == "waitlisted"][0], "full_name"] = "Nguyễn Văn Mới"
    nights = [("first", _night(1, day)), ("rerun", _night(2, day)), ("rerun again", _night(3, day)),
              ("changed", _night(4, day, changed)), ("rerun of changed", _night(5, day, changed)),
              ("next day", _night(6, day + dt.timedelta(days=1), changed))]
    last = None
    for label, result in nights:
        reuse = Reuse.beside(inc, result.run_id)
        kept = publish(result, cfg, inc, reuse=reuse)
        reuse.sweep()  # as the night does once published: what it neither took, kept nor retained goes
        name = next((kept / "district").glob("*.xlsx")).name
        sheets = _sheets(kept)
        if label.startswith("rerun"):  # the whole workbook linked (the run it names is the one it is from)
            assert (kept / "district" / name).read_bytes() == (last / "district" / name).read_bytes(), label
            assert not sheets.get("reused") and not sheets.get("rebuilt"), (label, sheets)
            continue
        last = kept
        alone = publish(copy.deepcopy(result), cfg, full / label)
        assert (kept / "district" / name).read_bytes() == (alone / "district" / name).read_bytes(), label
        if label == "changed":  # the waiting list shows the name: written; the other lists taken
            assert "Danh sách chờ" not in sheets["reused"], sheets
            assert {"Danh sách phân bổ", "Không đủ điều kiện", "Lỗi dữ liệu"} <= set(sheets["reused"]), sheets
        elif label == "next day":  # a new date: every list taken from the store with it put in
            assert set(LISTS) <= set(sheets["reused"]), sheets

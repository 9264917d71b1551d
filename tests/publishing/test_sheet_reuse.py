"""The district workbook's worksheets taken from an earlier night (``workbook.Book``, ``SheetParts``): a workbook
assembled from kept sheets is byte for byte the one a full write gives, night after night (a new day, a changed
list, tonight's date inside a value), and a sheet is taken only when everything it writes is the same."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from flows.publishing import workbook
from flows.publishing.district import write_district
from flows.publishing.prepared import prepare
from flows.publishing.publish import publish
from flows.reuse import Reuse
from flows.reuse.workbooks import SHEETS_AREA, SheetParts
from tests.publishing.night import make_result

LISTS = ("Danh sách phân bổ", "Danh sách chờ", "Không đủ điều kiện", "Lỗi dữ liệu")


@pytest.fixture
def streamed(monkeypatch):
    """The small night's district workbook written as a large one is (constant memory, inline strings)."""
    monkeypatch.setattr(workbook, "_STREAM_ROWS", 0)


def _night(n: int, day: dt.date, base=None, minute: int = 0):  # noqa: ANN001, ANN202
    result = copy.deepcopy(base or make_result())
    result.run_id = f"2022011{n}-020000"
    result.started_at = dt.datetime.combine(day, dt.time(2, minute))
    result.as_of = day
    return result


def _both(result, cfg, tmp_path, store, name: str) -> tuple[bytes, bytes, SheetParts]:  # noqa: ANN001
    """The district workbook written with the store (taking and keeping sheets) and without (a full write)."""
    parts = SheetParts(Reuse(store, result.run_id), cfg)
    write_district(prepare(result, cfg), tmp_path / f"{name}-kept.xlsx", parts)
    write_district(prepare(result, cfg), tmp_path / f"{name}-full.xlsx")
    return (tmp_path / f"{name}-kept.xlsx").read_bytes(), (tmp_path / f"{name}-full.xlsx").read_bytes(), parts


def _taken(parts: SheetParts) -> set[str]:
    return set(parts.reuse.taken.get(SHEETS_AREA, {}))


def test_kept_sheets_give_the_bytes_of_a_full_write_night_after_night(cfg, tmp_path, streamed):
    store, day = tmp_path / "store", dt.date(2022, 1, 15)
    kept, full, parts = _both(_night(1, day), cfg, tmp_path, store, "first")
    assert kept == full and not _taken(parts) and set(LISTS) <= set(parts.reuse.rebuilt[SHEETS_AREA])

    # the same lists the next day (and the day after a month's end: the date line changes length): taken, with
    # tonight's date in every heading
    for n, later in ((2, day + dt.timedelta(days=1)), (3, dt.date(2022, 3, 1))):
        kept, full, parts = _both(_night(n, later), cfg, tmp_path, store, f"day{n}")
        assert kept == full, later
        assert set(LISTS) <= _taken(parts), later

    # one child's name changed: the lists that show it are written, the others taken; the bytes of a full write
    changed = make_result()
    al = changed.allocations
    al.loc[al.index[al["status"] == "allocated"][0], "full_name"] = "Nguyễn Văn Mới"
    kept, full, parts = _both(_night(4, dt.date(2022, 3, 1), changed), cfg, tmp_path, store, "changed")
    assert kept == full
    assert "Danh sách phân bổ" not in _taken(parts) and "Lỗi dữ liệu" in _taken(parts)


def test_a_sheet_with_tonights_date_in_a_value_is_never_kept(cfg, tmp_path, streamed):
    """A note reading tonight's date could not be told from the heading's date: that sheet is written every night
    (the next day it must still say the note's date, not the next day's)."""
    store, day = tmp_path / "store", dt.date(2022, 1, 15)
    noted = make_result()
    noted.donations.loc[noted.donations.index[0], "note"] = f"Nhận ngày {day:%d/%m/%Y}"
    kept, full, parts = _both(_night(1, day, noted), cfg, tmp_path, store, "first")
    assert kept == full and "Nguồn tài trợ" not in parts.reuse.rebuilt[SHEETS_AREA]
    kept, full, parts = _both(_night(2, day + dt.timedelta(days=1), noted), cfg, tmp_path, store, "next")
    assert kept == full
    assert "Nguồn tài trợ" not in _taken(parts) and set(LISTS) <= _taken(parts)


def test_a_full_night_takes_no_sheet_and_a_small_workbook_keeps_none(cfg, tmp_path, monkeypatch):
    store, day = tmp_path / "store", dt.date(2022, 1, 15)
    parts = SheetParts(Reuse(store, "r"), cfg)
    write_district(prepare(_night(1, day), cfg), tmp_path / "small.xlsx", parts)  # shared strings: not kept
    assert not parts.reuse.rebuilt.get(SHEETS_AREA) and not store.exists()
    monkeypatch.setattr(workbook, "_STREAM_ROWS", 0)
    _both(_night(1, day), cfg, tmp_path, store, "first")
    parts = SheetParts(Reuse(store, "r", full=True), cfg)
    write_district(prepare(_night(2, day), cfg), tmp_path / "full.xlsx", parts)
    assert not _taken(parts) and set(LISTS) <= set(parts.reuse.rebuilt[SHEETS_AREA])


def test_a_sheet_whose_worksheet_a_writer_reaches_is_written_every_night(cfg, tmp_path, streamed):
    """The summary's chart is inserted through the worksheet itself: that sheet is never kept."""
    store, day = tmp_path / "store", dt.date(2022, 1, 15)
    _, _, parts = _both(_night(1, day), cfg, tmp_path, store, "first")
    _, _, again = _both(_night(2, day), cfg, tmp_path, store, "again")
    summary = workbook.SHEETS["summary"]
    assert summary not in parts.reuse.rebuilt[SHEETS_AREA] and summary not in _taken(again)


def test_publish_takes_kept_sheets_into_the_bytes_a_night_without_a_store_publishes(cfg, tmp_path, streamed):
    """Through ``publish``: the next day with the same lists takes the district's list sheets from the store and
    publishes the district workbook a night without any store writes in full; the manifest says what was taken."""
    import json

    from flows.publishing.publish import publish

    inc, full = tmp_path / "inc", tmp_path / "full"
    for n, day in enumerate((dt.date(2022, 1, 15), dt.date(2022, 1, 16), dt.date(2022, 1, 17)), 1):
        result = _night(n, day)
        kept = publish(result, cfg, inc, reuse=Reuse.beside(inc, result.run_id))
        alone = publish(result, cfg, full)
        name = next((alone / "district").glob("*.xlsx")).name
        assert (kept / "district" / name).read_bytes() == (alone / "district" / name).read_bytes(), day
        taken = json.loads((kept / "manifest.json").read_text(encoding="utf-8"))["reuse"]["areas"][SHEETS_AREA]
        assert (set(LISTS) <= set(taken["reused"])) == (n > 1), day


def test_a_quiet_night_takes_the_lists_without_making_their_rows(cfg, tmp_path, streamed, monkeypatch):
    """A list sheet made from the night's prepared frames (and the fields of the result it reads) is found by those
    inputs: a night whose lists did not change takes it without making a row of it, and publishes the bytes of a
    full write; a change in what it reads (a name, a handover) makes its rows again."""
    import pandas as pd

    from flows.publishing import lists, progress
    from flows.reuse import workbooks as kept_pieces

    made: dict[str, int] = {}

    def counting(name: str, module=lists):  # noqa: ANN001, ANN202
        inner = getattr(module, name)

        def count(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            made[name] = made.get(name, 0) + 1
            return inner(*args, **kwargs)
        return count

    for name in ("_allocation_rows", "_waitlist_rows", "_excluded_rows", "_issue_rows"):
        monkeypatch.setattr(lists, name, counting(name))
    for name in ("_infrastructure", "_progress"):
        monkeypatch.setattr(progress, name, counting(name, progress))
    store = tmp_path / "store"

    def night(result, name: str) -> tuple[dict[str, int], SheetParts]:  # noqa: ANN001
        """The district workbook as ``publish`` writes it with the store, then in full: the same bytes; the rows
        the kept write made."""
        made.clear()
        reuse = Reuse(store, result.run_id)
        fields = kept_pieces.field_fingerprints(result)
        parts = SheetParts(reuse, cfg, fields)
        write_district(kept_pieces.prepared(result, cfg, reuse, fields), tmp_path / f"{name}-kept.xlsx", parts)
        counted = dict(made)
        write_district(prepare(result, cfg), tmp_path / f"{name}-full.xlsx")
        assert (tmp_path / f"{name}-kept.xlsx").read_bytes() == (tmp_path / f"{name}-full.xlsx").read_bytes(), name
        return counted, parts

    day = dt.date(2022, 1, 15)
    counted, _ = night(_night(1, day), "first")
    assert set(counted) == {"_allocation_rows", "_waitlist_rows", "_excluded_rows", "_issue_rows", "_infrastructure",
                            "_progress"}
    counted, parts = night(_night(2, day + dt.timedelta(days=1)), "quiet")
    assert counted == {} and set(LISTS) <= _taken(parts)

    changed = make_result()
    al = changed.allocations
    al.loc[al.index[al["status"] == "waitlisted"][0], "full_name"] = "Nguyễn Văn Mới"
    counted, parts = night(_night(3, day + dt.timedelta(days=2), changed), "renamed")
    assert counted.get("_waitlist_rows") == 1 and "Danh sách chờ" not in _taken(parts)
    assert counted.get("_progress") == 1  # it counts the allocations: made again, and taken by its content

    connected = _night(4, day + dt.timedelta(days=2), changed)
    connected.connectivity = connected.connectivity.iloc[:-1] if len(connected.connectivity) else None
    counted, _ = night(connected, "connectivity")
    assert counted == {"_infrastructure": 1, "_progress": 1}, counted

    handed = _night(5, day + dt.timedelta(days=3), changed)
    handed.handovers = pd.DataFrame([{"person_id": "P007", "need": "device", "item": "smartphone", "serial": "SN9",
                                      "date": dt.date(2022, 1, 8), "received_by": "", "donation_id": "D-003",
                                      "source": "ban-giao.xlsx", "run_id": "r"}])
    counted, parts = night(handed, "handed")
    assert counted == {"_allocation_rows": 1}, counted  # the only list that shows handovers

    phase = next(p for p in cfg.district.phases if p.start > handed.as_of)  # a phase starts: Tiến độ says so
    counted, _ = night(_night(6, phase.start, changed), "phase")
    assert counted.get("_progress") == 1, counted


def test_a_worksheet_written_again_the_same_day_is_not_compressed_again(cfg, tmp_path, streamed, monkeypatch):
    """A book that keeps its sheets stores each worksheet deflated once per content: a second night the same day
    compresses only the worksheets whose XML changed (those naming the run: the sources), and its file is byte for byte
    a full write's; the next day (a new date in every heading) compresses them all again. (The summary, whose
    chart a writer adds through the worksheet itself, is kept nowhere and zipped as xlsxwriter zips it.)"""
    import zipfile

    deflated: list[int] = []
    plain = workbook.deflate

    def counting(xml: bytes):  # noqa: ANN202
        deflated.append(len(xml))
        return plain(xml)

    monkeypatch.setattr(workbook, "deflate", counting)
    store, day = tmp_path / "store", dt.date(2022, 1, 15)
    kept, full, _ = _both(_night(1, day), cfg, tmp_path, store, "first")
    sheets = sum(n.startswith("xl/worksheets/sheet") for n in zipfile.ZipFile(tmp_path / "first-kept.xlsx").namelist())
    assert kept == full and len(deflated) == sheets - 1
    deflated.clear()
    kept, full, _ = _both(_night(2, day), cfg, tmp_path, store, "again")
    first, again = (zipfile.ZipFile(tmp_path / f"{name}-kept.xlsx") for name in ("first", "again"))
    changed = [n for n in first.namelist() if n.startswith("xl/worksheets/sheet") and n != "xl/worksheets/sheet1.xml"
               and first.read(n) != again.read(n)]  # sheet1: the summary
    assert kept == full and 0 < len(deflated) == len(changed) < sheets - 1, (deflated, changed)
    deflated.clear()
    kept, full, _ = _both(_night(3, day + dt.timedelta(days=1)), cfg, tmp_path, store, "next")
    assert kept == full and len(deflated) == sheets - 1


# A night that links the whole district workbook (a rerun of the same result) keeps the sheets it was made from
# in the store past its sweep: the next night, whose lists changed, still takes the sheets whose content did not
# change, and publishes the bytes a night without any store writes.
def _sheets(run) -> dict:  # noqa: ANN001
    return json.loads((run / "manifest.json").read_text(encoding="utf-8"))["reuse"]["areas"].get(SHEETS_AREA, {})


def test_a_linked_district_workbook_keeps_its_sheets_for_the_next_night(cfg, tmp_path, streamed):
    inc, full = tmp_path / "inc", tmp_path / "full"
    day = dt.date(2022, 1, 15)
    changed = make_result()
    al = changed.allocations
    al.loc[al.index[al["status"] == "waitlisted"][0], "full_name"] = "Nguyễn Văn Mới"
    nights = [("first", _night(1, day, minute=1)), ("rerun", _night(2, day, minute=2)), ("rerun again", _night(3, day, minute=3)),
              ("changed", _night(4, day, changed, minute=4)), ("rerun of changed", _night(5, day, changed, minute=5)),
              ("next day", _night(6, day + dt.timedelta(days=1), changed, minute=6))]
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

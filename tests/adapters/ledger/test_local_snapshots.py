"""Local files kept as content-addressed snapshots, and the scratch copy a replay runs on (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from flows.adapters.ledger import Ledger
from flows.adapters.ledger.replay import UnknownRun, replayed_day, scratch_copy
from flows.frames import SheetGrid, SourceData


def _file(name: str, rows: list[list], **extra) -> SourceData:
    return SourceData(source_id=name, source_file=name, kind=extra.pop("kind", "students"),
                      sheets=[SheetGrid("DS", rows, merged=[(0, 0, 0, 2)], hidden_rows=frozenset({2}))], **extra)


def test_local_files_are_kept_once_per_content_with_their_cells_typed(ledger) -> None:
    school = _file("truong/a.xlsx", [["DANH SÁCH", None, None], ["Họ tên", "Ngày sinh", "Giờ"],
                                     ["An", dt.date(2014, 9, 5), dt.datetime(2022, 1, 2, 7, 30)],
                                     ["Bình", 42345.0, dt.time(8, 15)]], unit_type="school")
    broken = SourceData(source_id="truong/hong.xlsx", source_file="truong/hong.xlsx", status="failed",
                        message="tệp bị hỏng")
    first = ledger.keep_local_sources([school, broken], {}, "r1")
    again = ledger.keep_local_sources([school, broken], {}, "r2")
    assert [e[1] for e in first] == [e[1] for e in again]  # same content: the same snapshot, stored once
    with ledger.engine.connect() as conn:  # found again: marked as read by the later run
        assert set(conn.execute(sa.text("select run_id from source_snapshots"))) == {("r2",)}
    changed = _file("truong/a.xlsx", [["DANH SÁCH", None, None], ["Họ tên"], ["Chi"]])
    third = ledger.keep_local_sources([changed], {"truong/a.xlsx": "school"}, "r3")
    assert third[0][1] != first[0][1]
    for run, entries in (("r1", first), ("r3", third)):
        ledger.record_run_sources(run, entries)
    with ledger.engine.connect() as conn:
        stored = conn.execute(sa.text("select count(*) from source_snapshots")).scalar()
    assert stored == 3
    sources, markers = ledger.replay_local_sources("r1")
    assert [s.source_id for s in sources] == ["truong/a.xlsx", "truong/hong.xlsx"]
    assert sources[0].sheets == school.sheets and sources[0].unit_type == "school" and sources[0].kind == "students"
    assert (sources[1].status, sources[1].message, sources[1].sheets) == ("failed", "tệp bị hỏng", [])
    assert markers == {"truong/a.xlsx": "", "truong/hong.xlsx": ""}
    later, marked = ledger.replay_local_sources("r3")
    assert later[0].sheets == changed.sheets and marked == {"truong/a.xlsx": "school"}


def test_a_replay_runs_on_a_copy_and_an_unknown_run_is_refused(ledger, backend_url) -> None:
    ledger.begin_run("r1", dt.date(2022, 3, 15))
    ledger.record_run_sources("r1", ledger.keep_local_sources([_file("xa/b.csv", [["Họ tên"], ["An"]])], {}, "r1"))
    ledger.finish_run("r1", {"persons": 1})
    assert replayed_day(backend_url, "r1") == dt.date(2022, 3, 15)
    with pytest.raises(UnknownRun, match="NO-SUCH-RUN"):
        replayed_day(backend_url, "NO-SUCH-RUN")
    ledger.begin_run("r0", dt.date(2022, 3, 14))  # a night that kept no snapshot cannot be replayed
    ledger.finish_run("r0", {})
    with pytest.raises(UnknownRun, match="không lưu bản chụp"):
        replayed_day(backend_url, "r0")
    scratch = scratch_copy(backend_url, "r1")
    try:
        assert scratch.as_of == dt.date(2022, 3, 15)
        with Ledger(scratch.url) as copy:
            assert sorted(copy.runs()["run_id"]) == ["r0", "r1"]
            assert [s.source_id for s in copy.replay_local_sources("r1")[0]] == ["xa/b.csv"]
            copy.begin_run("replay-r1", dt.date(2022, 3, 15))  # the replay writes its copy ...
        assert sorted(ledger.runs()["run_id"]) == ["r0", "r1"]  # ... never the ledger
    finally:
        scratch.remove()
    assert not scratch.folder.exists()

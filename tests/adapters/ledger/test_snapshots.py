"""Spreadsheet snapshots, the sources each run read, feedback hashes."""

from __future__ import annotations


def test_snapshots_keep_every_version_and_what_each_run_read(ledger) -> None:
    from flows.frames import SheetGrid
    from flows.adapters.google.sheets import grids_from_json, grids_to_json
    from flows.adapters.ledger import Snapshot

    grid = SheetGrid("Lớp 1", [["STT", "Họ tên"], [1, "An"]], merged=[(0, 0, 0, 1)], hidden_rows=frozenset({1}))
    first = ledger.save_snapshot(Snapshot("k1", "Trường A", "2022-01-01T00:00:01.000Z", grids_to_json([grid])), "r1")
    again = ledger.save_snapshot(Snapshot("k1", "Trường A", "2022-01-01T00:00:01.000Z", grids_to_json([grid])), "r1")
    second = ledger.save_snapshot(Snapshot("k1", "Trường A", "2022-01-02T00:00:00.000Z", []), "r2")
    assert first == again != second
    ledger.record_run_sources("r1", [("k1", first, "ok", "")])
    assert ledger.latest_snapshot("k1").snapshot_id == second
    replay = ledger.run_snapshots("r1")["k1"]
    assert grids_from_json(replay.sheets) == [grid]
    assert ledger.feedback_hash("k1") is None
    ledger.set_feedback_hash("k1", "a" * 64, "r1")
    ledger.set_feedback_hash("k1", "b" * 64, "r2")
    assert ledger.feedback_hash("k1") == "b" * 64

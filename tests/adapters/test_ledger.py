"""The ledger on SQLite and on a real PostgreSQL server (every test runs on both)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from flows.adapters import ledger as ledger_module
from flows.allocation.allocate import allocate
from flows.adapters.ledger import Ledger
from tests.pg import ENV_VAR, fresh_schema, postgres_url, server_url  # noqa: F401  (postgres_url: fixture)

T0 = dt.datetime(2022, 3, 1, 8, 0, tzinfo=dt.timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, minutes: int = 60) -> None:
        self.now += dt.timedelta(minutes=minutes)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    return fresh_schema(request.getfixturevalue("postgres_url"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(backend_url: str, clock: Clock):
    with Ledger(backend_url, clock=clock) as led:
        led.migrate()
        yield led


def alloc_rows(*rows: tuple) -> pd.DataFrame:
    """(person_id, need, item, donation_id, status[, full_name]) -> an allocations frame as allocate returns."""
    out = []
    for r in rows:
        pid, need, item, donation, status, *rest = r
        out.append({"person_id": pid, "need": need, "item": item, "donation_id": donation, "status": status,
                    "full_name": rest[0] if rest else "", "date_of_birth": "2012-05-01", "commune_code": "06388",
                    "school_code": "TH-06388", "guardian_name": "Nguyễn Văn Bố"})
    return pd.DataFrame(out)


def active(led: Ledger) -> set[tuple]:
    df = led.active_allocations()
    return set(df[["person_id", "need", "item", "donation_id", "status"]].itertuples(index=False, name=None))


def test_migrate_builds_the_schema_the_code_expects_and_is_repeatable(ledger: Ledger) -> None:
    ledger.migrate()  # second time: nothing to do
    assert ledger.schema_revision() == ledger.head_revision() == "0003_allocation"
    with ledger.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), ledger_module.metadata)
        tables = set(sa.inspect(conn).get_table_names())
    assert diffs == []
    assert {"persons", "person_aliases", "record_links", "allocations", "handovers", "decisions", "runs",
            "change_log", "overrides", "follow_ups"} <= tables


def test_the_allocation_migration_goes_down_and_up_again(ledger: Ledger) -> None:
    ledger.record_allocations("r1", alloc_rows(("HS000001", "device", "tablet", "D1", "allocated")))
    command.downgrade(ledger._alembic_config(), "0002_source_snapshots")
    with ledger.engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        columns = {c["name"] for c in sa.inspect(conn).get_columns("allocations")}
    assert not {"overrides", "follow_ups"} & tables and "left_when_turn" not in columns
    ledger.migrate()
    assert ledger.schema_revision() == "0003_allocation"
    assert active(ledger) == {("HS000001", "device", "tablet", "D1", "provisional")}  # allocations survive


def test_a_fresh_database_has_no_tables_until_migrated(backend_url: str) -> None:
    led = Ledger(backend_url)
    try:
        with led.engine.connect() as conn:
            assert "allocations" not in sa.inspect(conn).get_table_names()
        assert led.schema_revision() is None
    finally:
        led.close()


def test_at_most_one_active_allocation_per_person_and_need_is_enforced_by_the_database(ledger: Ledger) -> None:
    row = {"person_id": "HS000001", "need": "device", "item": "tablet", "donation_id": "D1",
           "status": "provisional", "allocated_at": T0.replace(tzinfo=None)}
    with ledger.engine.begin() as conn:
        conn.execute(sa.insert(ledger_module.allocations), [row])
    with pytest.raises(sa.exc.IntegrityError):
        with ledger.engine.begin() as conn:
            conn.execute(sa.insert(ledger_module.allocations), [{**row, "status": "handed_over"}])
    with ledger.engine.begin() as conn:  # history rows are free; another need is another support
        conn.execute(sa.insert(ledger_module.allocations), [{**row, "status": "released"},
                                                            {**row, "need": "internet", "item": "internet_package"}])
    with pytest.raises(sa.exc.IntegrityError):  # an internet package cannot serve a device need
        with ledger.engine.begin() as conn:
            conn.execute(sa.insert(ledger_module.allocations), [{**row, "person_id": "HS2", "item": "internet_package"}])


def test_person_ids_are_monotonic_and_never_reused(ledger: Ledger, backend_url: str) -> None:
    first = ledger.next_person_ids(3)
    assert first == ["HS000001", "HS000002", "HS000003"]
    assert ledger.next_person_ids(0) == []
    with Ledger(backend_url) as other:  # another process, same database
        assert other.next_person_ids(2) == ["HS000004", "HS000005"]
    assert ledger.next_person_ids(1) == ["HS000006"]


def test_fingerprint_links_give_the_same_child_the_same_id_across_nights(ledger: Ledger) -> None:
    ledger.begin_run("r1", dt.date(2022, 1, 10))
    a, b = ledger.next_person_ids(2)
    assert ledger.link_fingerprints({"fp-an": a, "fp-an-2": a, "fp-binh": b}, run_id="r1") == 3
    assert ledger.link_fingerprints({"fp-an": a}, run_id="r1") == 0  # unchanged: nothing written
    assert ledger.person_for_fingerprints(["fp-an", "fp-binh", "fp-unknown"]) == {"fp-an": a, "fp-binh": b}
    assert ledger.person_for_fingerprints() == {"fp-an": a, "fp-an-2": a, "fp-binh": b}
    assert ledger.link_fingerprints({"fp-an-2": b}, run_id="r1") == 1  # an officer decision moved a record
    assert ledger.person_for_fingerprints(["fp-an-2"]) == {"fp-an-2": b}
    with ledger.engine.connect() as conn:
        persons = conn.execute(sa.select(ledger_module.persons).order_by("person_id")).mappings().all()
    assert [(p["person_id"], p["first_seen"], p["created_run"]) for p in persons] == [
        (a, dt.date(2022, 1, 10), "r1"), (b, dt.date(2022, 1, 10), "r1")]


def test_merging_persons_keeps_the_oldest_id_and_one_support_per_need(ledger: Ledger) -> None:
    old, new, third = ledger.next_person_ids(3)
    ledger.link_fingerprints({"fp-old": old, "fp-new": new, "fp-third": third})
    ledger.record_allocations("r1", alloc_rows((old, "device", "tablet", "D1", "allocated"),
                                               (new, "device", "laptop", "D2", "allocated"),
                                               (new, "internet", "internet_package", "D3", "allocated")))
    changes = ledger.merge_persons({new: old}, run_id="r2")
    assert ledger.person_for_fingerprints(["fp-new"]) == {"fp-new": old}
    assert ledger.aliases() == {new: old}
    assert active(ledger) == {(old, "device", "tablet", "D1", "provisional"),
                              (old, "internet", "internet_package", "D3", "provisional")}
    released = ledger.allocation_history(new)
    assert released.loc[released["need"] == "device", "release_rule"].tolist() == ["merged"]
    assert set(changes["rule"]) == {"merged"} and len(changes) == 2
    # merging into a merged id lands on the survivor; merging again changes nothing
    ledger.merge_persons({third: new})
    assert ledger.aliases() == {new: old, third: old}
    assert ledger.merge_persons({new: old}).empty
    # links written later against an alias are stored against the survivor
    ledger.link_fingerprints({"fp-late": new})
    assert ledger.person_for_fingerprints(["fp-late"]) == {"fp-late": old}


def test_record_allocations_is_idempotent_and_releases_with_a_rule(ledger: Ledger, clock: Clock) -> None:
    rows = alloc_rows(("HS1", "device", "tablet", "D1", "allocated", "Nguyễn Thị Ánh"),
                      ("HS2", "internet", "internet_package", "C1", "allocated"),
                      ("HS3", "device", "", "", "waitlisted"), ("HS4", "internet", "", "", "no_coverage"))
    assert ledger.record_allocations("r1", rows) == {"released": 0, "inserted": 2, "unchanged": 0,
                                                     "reallocated": 0}
    before = ledger.active_allocations()
    clock.tick()
    assert ledger.record_allocations("r2", rows)["unchanged"] == 2
    pd.testing.assert_frame_equal(ledger.active_allocations(), before)  # untouched: same run id and time
    assert before.loc[0, "allocated_at"] == T0.replace(tzinfo=None) and before.loc[0, "run_id"] == "r1"
    # tonight HS1's unit changed (its donation disappeared) and HS2 was found ineligible
    tonight = alloc_rows(("HS1", "device", "laptop", "D9", "allocated"))
    releases = pd.DataFrame([
        {"person_id": "HS1", "need": "device", "rule": "donation_unavailable", "item": "tablet", "donation_id": "D1"},
        {"person_id": "HS2", "need": "internet", "rule": "grade_out_of_range", "item": "", "donation_id": ""}])
    counts = ledger.record_allocations("r3", tonight, releases)
    assert counts == {"released": 2, "inserted": 1, "unchanged": 0, "reallocated": 0}
    assert active(ledger) == {("HS1", "device", "laptop", "D9", "provisional")}
    history = ledger.allocation_history()
    assert history.set_index(["person_id", "item"])["release_rule"].to_dict() == {
        ("HS1", "tablet"): "donation_unavailable", ("HS2", "internet_package"): "grade_out_of_range",
        ("HS1", "laptop"): None}
    assert ledger.release("r3", releases) == 0  # already released: the new laptop allocation is not touched
    # without an explicit release, a changed unit is a reallocation
    assert ledger.record_allocations("r4", alloc_rows(("HS1", "device", "tablet", "D1", "allocated")))[
        "reallocated"] == 1


def test_a_handover_with_overlong_text_is_stored_cut_not_refused(ledger: Ledger) -> None:
    # PostgreSQL enforces VARCHAR lengths: an officer's long note must not stop the night.
    sheet = pd.DataFrame([{"person_id": "HS1", "item": "laptop", "serial": "S" * 500, "handover_date": "2022-03-05",
                           "received_by": "Bà " * 200, "donation_id": "D" * 100, "source_file": "b/" * 400,
                           "full_name": "Tên " * 100}])
    assert len(ledger.record_handovers("r1", sheet)) == 1
    h = ledger.handovers().iloc[0]
    assert (len(h["serial"]), len(h["received_by"]), len(h["donation_id"])) == (100, 200, 64)
    assert h["serial"] == "S" * 100


def test_handovers_freeze_allocations(ledger: Ledger) -> None:
    ledger.record_allocations("r1", alloc_rows(("HS1", "device", "tablet", "D1", "allocated"),
                                               ("HS2", "device", "tablet", "D1", "allocated")))
    sheet = pd.DataFrame([
        {"person_id": "HS1", "item": "tablet", "serial": "SN-1", "handover_date": "2022-03-05",
         "received_by": "Nguyễn Văn Bố", "donation_id": "", "source_file": "ban-giao.xlsx"},
        {"person_id": "HS7", "item": "internet_package", "serial": "SIM-7", "handover_date": dt.date(2022, 3, 6),
         "received_by": "Lê Thị Mẹ", "donation_id": "V1", "source_file": "ban-giao.xlsx", "full_name": "Lê Văn Bảy"},
        {"person_id": "", "item": "tablet", "serial": "SN-x"},  # not linked to a person: skipped
    ])
    changes = ledger.record_handovers("r2", sheet)
    assert changes[["person_id", "before", "after"]].values.tolist() == [
        ["HS1", "provisional:tablet:D1", "handed_over:tablet:D1"],
        ["HS7", "", "handed_over:internet_package:V1"]]
    assert active(ledger) == {("HS1", "device", "tablet", "D1", "handed_over"),
                              ("HS2", "device", "tablet", "D1", "provisional"),
                              ("HS7", "internet", "internet_package", "V1", "handed_over")}
    assert ledger.record_handovers("r3", sheet).empty  # the same sheet read again: nothing changes
    h = ledger.handovers()
    assert h[["person_id", "need", "serial", "date"]].values.tolist() == [
        ["HS1", "device", "SN-1", dt.date(2022, 3, 5)], ["HS7", "internet", "SIM-7", dt.date(2022, 3, 6)]]
    corrected = sheet.iloc[:1].assign(serial="SN-1b")
    ledger.record_handovers("r4", corrected)
    assert ledger.handovers()["serial"].tolist() == ["SN-1b", "SIM-7"]
    with pytest.raises(ValueError, match="handed over"):
        ledger.release("r5", pd.DataFrame([{"person_id": "HS1", "need": "device", "rule": "officer_override"}]))
    with pytest.raises(ValueError, match="handed over"):
        ledger.record_allocations("r5", alloc_rows(("HS1", "device", "laptop", "D2", "allocated")))
    assert ledger.record_allocations("r5", alloc_rows(("HS1", "device", "tablet", "D1", "handed_over")))[
        "inserted"] == 0


def test_past_recipients_carry_identity_stored_at_allocation_time(ledger: Ledger) -> None:
    ledger.record_allocations("r1", alloc_rows(("HS1", "device", "tablet", "D1", "allocated", "Hoàng Văn Nam"),
                                               ("HS1", "internet", "internet_package", "C1", "allocated", ""),
                                               ("HS2", "device", "tablet", "D1", "allocated", "Lý Thị Hoa")))
    ledger.release("r2", pd.DataFrame([{"person_id": "HS2", "need": "device", "rule": "person_absent"}]))
    ledger.record_handovers("r2", pd.DataFrame([{"person_id": "HS1", "item": "tablet", "serial": "S"}]))
    past = ledger.past_recipients()
    assert past.to_dict("records") == [{
        "person_id": "HS1", "full_name": "Hoàng Văn Nam", "date_of_birth": "2012-05-01", "commune_code": "06388",
        "school_code": "TH-06388", "guardian_name": "Nguyễn Văn Bố", "needs": "device,internet",
        "handed_over": True}]


def test_officer_decisions_persist_keyed_on_the_unordered_pair(ledger: Ledger) -> None:
    sheet = pd.DataFrame([
        {"fingerprint_a": "fp-z", "fingerprint_b": "fp-a", "decision": "Same", "decided_by": "cán bộ A",
         "decided_at": "2022-02-01 09:00", "source": "quyet-dinh.xlsx"},
        {"fingerprint_a": "fp-b", "fingerprint_b": "fp-c", "decision": "different", "decided_by": "cán bộ B",
         "decided_at": None, "source": "quyet-dinh.xlsx"},
    ])
    assert ledger.add_decisions(sheet) == 2
    assert ledger.add_decisions(sheet) == 0  # re-read every night: unchanged
    got = ledger.decisions()
    assert got[["fingerprint_a", "fingerprint_b", "decision"]].values.tolist() == [
        ["fp-a", "fp-z", "same"], ["fp-b", "fp-c", "different"]]
    assert got.loc[0, "decided_at"] == dt.datetime(2022, 2, 1, 9, 0)
    older = sheet.iloc[:1].assign(decision="different", decided_at="2022-01-01")
    assert ledger.add_decisions(older) == 0  # an older decision does not overwrite a newer one
    newer = sheet.iloc[:1].assign(fingerprint_a="fp-a", fingerprint_b="fp-z", decision="different",
                                  decided_at="2022-03-01")
    assert ledger.add_decisions(newer) == 1
    assert ledger.decisions().loc[0, "decision"] == "different"
    with pytest.raises(ValueError, match="same"):
        ledger.add_decisions(sheet.iloc[:1].assign(decision="maybe"))


def test_officer_overrides_are_kept_once_and_follow_merges(ledger: Ledger) -> None:
    rows = pd.DataFrame([
        {"person_id": "HS000002", "need": "device", "action": "release", "item": "", "donation_id": "",
         "officer": "Nguyễn Văn Cán", "reason": "Gia đình đã tự mua máy", "decided_on": "2022-03-02",
         "source": "dieu-chinh/dieu chinh.xlsx"},
        {"person_id": "HS000003", "need": "", "action": "assign", "item": "laptop", "donation_id": "TT-1",
         "officer": "Lê Thị Bộ", "reason": "Học sinh khuyết tật. " * 40, "decided_on": dt.date(2022, 3, 5),
         "source": "x"},
    ])
    assert ledger.record_overrides("r1", rows) == 2
    assert ledger.record_overrides("r2", rows) == 0  # the same sheet read again
    assert ledger.record_overrides("r3", rows.iloc[:0]) == 0  # a row removed from the sheet stays decided
    ledger.merge_persons({"HS000002": "HS000001"}, run_id="r3")
    stored = ledger.overrides()
    assert len(stored) == 2 and stored["override_id"].is_unique
    assert stored.set_index("action")["person_id"].to_dict() == {"release": "HS000001", "assign": "HS000003"}
    assert stored.set_index("action")["decided_on"].to_dict() == {"release": "2022-03-02", "assign": "2022-03-05"}
    ids = set(stored["override_id"])
    assert len(stored.set_index("action").loc["assign", "reason"]) == 500
    changed = rows.assign(reason=["Gia đình đã tự mua máy", "Lý do khác"])
    assert ledger.record_overrides("r4", changed) == 1  # a different decision is a new override
    assert ids < set(ledger.overrides()["override_id"])


def test_follow_ups_keep_one_check_per_day_and_the_latest_wins(ledger: Ledger) -> None:
    def check(pid: str, state: str, day: str, note: str = "") -> dict:
        return {"person_id": pid, "item": "tablet", "serial": "SN1", "state": state, "checked_on": day,
                "checked_by": "GVCN", "note": note, "source": "theo-doi/a.xlsx"}
    rows = pd.DataFrame([check("HS000001", "in_use", "2022-02-01"), check("HS000001", "broken", "2022-03-01"),
                         check("HS000002", "unknown", "2022-03-01"), check("", "lost", "2022-03-01")])
    assert ledger.record_follow_ups("r1", rows) == 2
    assert ledger.record_follow_ups("r2", rows) == 0
    long_note = "mất khi đi học " * 60  # longer than the column: kept cut, on PostgreSQL too
    assert ledger.record_follow_ups("r3", pd.DataFrame([check("HS000001", "lost", "2022-03-01", long_note)])) == 1
    all_checks = ledger.follow_ups()
    assert all_checks[["person_id", "need", "state", "checked_on"]].values.tolist() == [
        ["HS000001", "device", "in_use", "2022-02-01"], ["HS000001", "device", "lost", "2022-03-01"]]
    assert ledger.follow_ups(latest_only=True)["state"].tolist() == ["lost"]
    assert ledger.follow_ups(latest_only=True)["note"].tolist() == [long_note[:500]]


def test_runs_and_change_log(ledger: Ledger, clock: Clock) -> None:
    ledger.begin_run("2022-03-01T01", dt.date(2022, 3, 1))
    clock.tick(5)
    ledger.finish_run("2022-03-01T01", {"persons": 12, "allocated": 3})
    runs = ledger.runs()
    assert runs[["run_id", "as_of", "status"]].values.tolist() == [["2022-03-01T01", dt.date(2022, 3, 1), "ok"]]
    assert runs.loc[0, "counts"] == {"persons": 12, "allocated": 3}
    assert runs.loc[0, "finished_at"] - runs.loc[0, "started_at"] == dt.timedelta(minutes=5)
    with pytest.raises(KeyError):
        ledger.finish_run("never-begun", {})
    log = pd.DataFrame([{"person_id": "HS1", "need": "device", "before": "", "after": "provisional:tablet:D1",
                         "rule": "new_allocation"}])
    assert ledger.write_change_log("2022-03-01T01", log) == 1
    assert ledger.write_change_log("2022-03-01T01", log) == 1  # a rerun rewrites, never duplicates
    assert ledger.change_log()[["run_id", "person_id", "rule"]].values.tolist() == [
        ["2022-03-01T01", "HS1", "new_allocation"]]


def test_nights_through_the_ledger_are_stable(ledger: Ledger, cfg) -> None:
    """allocate -> ledger -> allocate: the second night changes nothing; an excluded child's unit is released."""
    persons = pd.DataFrame([
        {"person_id": pid, "full_name": name, "given_name": name.split()[-1], "family_name": name.split()[0],
         "middle_name": "", "commune_code": "06388", "commune": "Xã Hữu Liên", "school_code": "TH-06388",
         "school": "", "village": "Thôn Bãi Hào", "grade": pd.NA if grade is None else grade,
         "date_of_birth": "2012-01-01", "category": cat, "lacks_device": True, "lacks_internet": False,
         "exclusion": ""}
        for pid, name, grade, cat in [("HS1", "Hà Văn An", 5, "poor"), ("HS2", "Lò Thị Bé", 4, "near_poor"),
                                      ("HS3", "Mã Văn Cường", 3, "none")]])
    persons["grade"] = persons["grade"].astype("Int64")
    donations = pd.DataFrame([{"donation_id": "D1", "kind": "tablet", "quantity": 2, "status": "received",
                               "date": "2022-01-05", "amount_vnd": pd.NA}])
    empty = pd.DataFrame()

    def night(run_id: str, people: pd.DataFrame):
        result = allocate(people, donations, empty, ledger.active_allocations(), cfg.district, dt.date(2022, 3, 1))
        ledger.record_allocations(run_id, result.allocations, result.releases)
        ledger.write_change_log(run_id, result.changes)
        return result

    first = night("n1", persons)
    assert active(ledger) == {("HS1", "device", "tablet", "D1", "provisional"),
                              ("HS2", "device", "tablet", "D1", "provisional")}
    second = night("n2", persons)
    pd.testing.assert_frame_equal(second.allocations, first.allocations)
    assert second.changes.empty and ledger.change_log("n2").empty
    third = night("n3", persons.assign(exclusion=["outside_district", "", ""]))
    assert active(ledger) == {("HS2", "device", "tablet", "D1", "provisional"),
                              ("HS3", "device", "tablet", "D1", "provisional")}
    assert ledger.change_log("n3")[["person_id", "after", "rule"]].values.tolist() == [
        ["HS1", "released", "outside_district"], ["HS3", "provisional:tablet:D1", "new_allocation"]]
    assert third.allocations.set_index("person_id").loc["HS2", "priority_rank"] == 1


def test_postgres_tests_fail_rather_than_skip_without_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(pytest.fail.Exception, match=ENV_VAR):
        server_url()


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

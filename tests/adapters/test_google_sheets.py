"""Google Sheets intake against a real HTTP server speaking Google's token, Drive v3 and Sheets v4 APIs.

The real gspread and google-auth clients run unpatched; only the base URL differs (``google.endpoint``). Time
for quotas and backoff goes through a fake clock, so waits cost nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import random

import pytest

from flows.config import ConfigError, GoogleSettings, Sources, load_config
from flows.adapters.google.sheets import (
    READ_SCOPES, GoogleUnavailable, WindowLimiter, connect, fetch_spreadsheet, http_of, pull_google,
)
from flows.adapters.ledger import Ledger
from flows.adapters.files import read_grids
from tests.fake_google import Fault, FakeClock, FakeGoogle, FakeSheet, sheets_from_grids


@pytest.fixture
def clock(fake):
    c = FakeClock()
    fake.stamp = c
    return c


@pytest.fixture
def ledger(tmp_path):
    with Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as led:
        led.migrate()
        yield led


def student_sheet(title: str = "Lớp 3", names=("Nguyễn Văn An", "Lò Thị Bình")) -> FakeSheet:
    rows = [["DANH SÁCH HỌC SINH"], [],
            ["STT", "Họ và tên", "Ngày sinh", "Lớp", "Đối tượng", "Chưa có thiết bị", "Chưa có Internet"]]
    rows += [[i, n, 41520 + i, 3, "Hộ nghèo", "x", ""] for i, n in enumerate(names, 1)]
    return FakeSheet(0, title, rows=rows, merges=[{"startRowIndex": 0, "endRowIndex": 1, "startColumnIndex": 0,
                                                  "endColumnIndex": 7}])


def google_cfg(base, fake: FakeGoogle, keys: list[str], **settings):
    entries = [{"key": k, "kind": "students", "unit_type": "school"} for k in keys]
    google = GoogleSettings.model_validate({"endpoint": fake.url, "spreadsheets": entries, **settings})
    return base.model_copy(update={"sources": Sources(local=base.sources.local, google=google)})


def client_for(cfg, key, clock, scopes=READ_SCOPES, seed=1):
    return connect(cfg.sources.google, scopes, info=key, clock=clock, sleep=clock.sleep, rng=random.Random(seed))


# ---------------------------------------------------------------------------------------------------------------
# Change detection and request counts


def test_a_night_costs_one_listing_plus_two_reads_per_changed_spreadsheet_and_nothing_for_unchanged(
        cfg, fake, key, clock, ledger) -> None:
    books = [fake.add_spreadsheet(f"Trường {i}", [student_sheet()]) for i in range(3)]
    gcfg = google_cfg(cfg, fake, [b.id for b in books])

    first = pull_google(gcfg, ledger, "n1", client=client_for(gcfg, key, clock))
    assert [s.status for s in first.sources] == ["ok"] * 3
    assert fake.count() == 1 + 2 * 3
    assert fake.count("drive.list") == 1 and fake.count("values.batchGet") == 3 and fake.count("sheets.get") == 3
    batch = next(e for e in fake.log if e.kind == "values.batchGet")
    assert batch.query["valueRenderOption"] == ["UNFORMATTED_VALUE"]
    assert batch.query["dateTimeRenderOption"] == ["SERIAL_NUMBER"]
    assert batch.query["ranges"] == ["'Lớp 3'"]  # every sheet in the one call

    fake.reset_log()
    second = pull_google(gcfg, ledger, "n2", client=client_for(gcfg, key, clock))
    assert fake.count() == 1 and fake.count("drive.list") == 1  # unchanged: zero reads
    assert [s.sheets for s in second.sources] == [s.sheets for s in first.sources]
    assert (second.changed, second.unchanged) == (0, 3)

    fake.spreadsheets[books[1].id].sheets[0].set(4, 1, "Hoàng Văn Cường")
    fake.touch(books[1].id)
    fake.reset_log()
    third = pull_google(gcfg, ledger, "n3", client=client_for(gcfg, key, clock))
    assert fake.count() == 3 and fake.count(spreadsheet=books[1].id) == 2
    assert third.sources[1].sheets[0].rows[4][1] == "Hoàng Văn Cường"
    assert third.sources[0].sheets == first.sources[0].sheets


def test_the_listing_pages_through_drive_one_call_per_page(cfg, fake, key, clock, ledger) -> None:
    fake.page_size_cap = 2
    books = [fake.add_spreadsheet(f"Trường {i}", [student_sheet()]) for i in range(5)]
    gcfg = google_cfg(cfg, fake, [b.id for b in books])
    pull_google(gcfg, ledger, "n1", client=client_for(gcfg, key, clock))
    fake.reset_log()
    pull = pull_google(gcfg, ledger, "n2", client=client_for(gcfg, key, clock))
    assert fake.count("drive.list") == 3 and fake.count() == 3
    assert pull.unchanged == 5


def test_grids_from_sheets_match_the_local_reader_merges_hidden_rows_and_serial_dates(
        cfg, fake, key, clock, ledger, tmp_path) -> None:
    from samples.generate import generate

    generate(tmp_path / "src", seed=3, scale=0.05)
    def dated(grids):
        return [v for g in grids for r in g.rows for v in r if isinstance(v, (dt.date, dt.datetime))]

    path = next(p for p in sorted((tmp_path / "src").rglob("*.xlsx"))
                if any(g.merged for g in read_grids(p)) and dated(read_grids(p)))
    local = read_grids(path)
    book = fake.add_spreadsheet(path.stem, sheets_from_grids(local))
    book.sheets[0].hidden_rows.add(len(local[0].rows) - 1)
    gcfg = google_cfg(cfg, fake, [book.id])
    title, grids, _ = fetch_spreadsheet(client_for(gcfg, key, clock), book.id)
    assert title == path.stem
    assert [g.name for g in grids] == [g.name for g in local]
    for got, want in zip(grids, local):
        assert got.merged == want.merged
        assert len(got.rows) == len(want.rows)
        assert got.rows[0] == [v for v in want.rows[0]]
    assert len(local[0].rows) - 1 in grids[0].hidden_rows
    from flows.intake.values import parse_date

    dates = dated(local)
    serials = [v for g in grids for r in g.rows for v in r
               if isinstance(v, (int, float)) and not isinstance(v, bool) and 36000 < v < 50000]
    assert len(serials) >= len(dates) > 0  # dates arrive as serial numbers, which normalize reads
    assert sorted(parse_date(v)[0] for v in serials)[:len(dates)] == sorted(
        (d.date() if isinstance(d, dt.datetime) else d).isoformat() for d in dates)[:len(dates)]


def test_the_pull_uses_read_only_scopes_and_cannot_write(cfg, fake, key, clock, ledger) -> None:
    book = fake.add_spreadsheet("Trường A", [student_sheet()])
    gcfg = google_cfg(cfg, fake, [book.id])
    client = client_for(gcfg, key, clock)
    pull_google(gcfg, ledger, "n1", client=client)
    assert list(fake.tokens.values()) == [set(READ_SCOPES)]
    with pytest.raises(GoogleUnavailable) as err:
        http_of(client).batch_update(book.id, {"requests": []})
    assert err.value.status == 403


# ---------------------------------------------------------------------------------------------------------------
# Faults


@pytest.mark.parametrize("fault, expected_sleep", [
    (Fault(status=429, retry_after="7", times=2), 7.0),
    (Fault(status=503, times=2), 0.0),
    (Fault(status=500, times=1), 0.0),
])
def test_transient_faults_are_retried_with_backoff_and_the_night_gets_the_data(
        cfg, fake, key, clock, ledger, fault, expected_sleep) -> None:
    book = fake.add_spreadsheet("Trường A", [student_sheet()])
    other = fake.add_spreadsheet("Trường B", [student_sheet()])
    fault.match = f"{book.id}/values:batchGet"
    failures = fault.times
    fake.faults.append(fault)
    gcfg = google_cfg(cfg, fake, [book.id, other.id])
    client = client_for(gcfg, key, clock)
    pull = pull_google(gcfg, ledger, "n1", client=client)
    assert [s.status for s in pull.sources] == ["ok", "ok"]
    assert fake.count("values.batchGet", book.id) == failures + 1
    assert fake.count("values.batchGet", book.id, ok_only=True) == 1
    assert http_of(client).stats.retries == len(clock.sleeps) >= 1
    assert all(s >= expected_sleep for s in clock.sleeps)  # Retry-After is honoured


def test_backoff_grows_exponentially_with_jitter_under_its_cap(cfg, fake, key, clock) -> None:
    gcfg = google_cfg(cfg, fake, [], quota={"backoff_base_seconds": 1, "backoff_max_seconds": 8})
    http = http_of(client_for(gcfg, key, clock, seed=5))
    delays = [[http.backoff(a, None) for _ in range(200)] for a in range(6)]
    for attempt, values in enumerate(delays):
        cap = min(8, 2 ** attempt)
        assert all(0 <= v <= cap for v in values)
        assert max(values) > cap * 0.8 and min(values) < cap * 0.2  # jittered over the whole range
    assert http.backoff(0, 30.0) == 30.0


def test_a_slow_response_times_out_and_is_retried(cfg, fake, key, clock, ledger) -> None:
    book = fake.add_spreadsheet("Trường A", [student_sheet()])
    fake.faults.append(Fault(delay=0.6, match=f"{book.id}/values:batchGet", times=1))
    gcfg = google_cfg(cfg, fake, [book.id], quota={"timeout_seconds": 0.15})
    client = client_for(gcfg, key, clock)
    pull = pull_google(gcfg, ledger, "n1", client=client)
    assert pull.sources[0].status == "ok"
    assert http_of(client).stats.retries == 1
    assert pull.sources[0].sheets[0].rows[3][1] == "Nguyễn Văn An"


@pytest.mark.parametrize("status, times, words", [
    (403, 1, "chưa được chia sẻ"), (404, 1, "không tìm thấy"), (503, 99, "lỗi liên tục"), (429, 99, "hạn mức"),
])
def test_a_failing_spreadsheet_is_failed_without_a_snapshot_and_stale_with_one_and_the_rest_goes_on(
        cfg, fake, key, clock, ledger, status, times, words) -> None:
    bad = fake.add_spreadsheet("Trường hỏng", [student_sheet()])
    good = fake.add_spreadsheet("Trường tốt", [student_sheet()])
    gcfg = google_cfg(cfg, fake, [bad.id, good.id], quota={"max_retries": 3})

    fake.faults.append(Fault(status=status, match=bad.id, times=times))
    first = pull_google(gcfg, ledger, "n1", client=client_for(gcfg, key, clock))
    assert [s.status for s in first.sources] == ["failed", "ok"]
    assert words in first.sources[0].message and first.sources[0].sheets == []
    assert first.sources[0].source_file == "Trường hỏng"  # named as the listing knows it
    fake.faults.clear()

    pull_google(gcfg, ledger, "n2", client=client_for(gcfg, key, clock))  # a good night stores a snapshot
    fake.touch(bad.id)
    fake.faults.append(Fault(status=status, match=bad.id, times=times))
    third = pull_google(gcfg, ledger, "n3", client=client_for(gcfg, key, clock))
    assert [s.status for s in third.sources] == ["stale", "ok"]
    assert words in third.sources[0].message and "bản lưu" in third.sources[0].message
    assert third.sources[0].sheets[0].rows[3][1] == "Nguyễn Văn An"  # last good snapshot


def test_the_drive_listing_failing_makes_every_spreadsheet_stale_from_its_snapshot(
        cfg, fake, key, clock, ledger) -> None:
    books = [fake.add_spreadsheet(f"Trường {i}", [student_sheet()]) for i in range(2)]
    gcfg = google_cfg(cfg, fake, [b.id for b in books], quota={"max_retries": 2})
    pull_google(gcfg, ledger, "n1", client=client_for(gcfg, key, clock))
    fake.faults.append(Fault(status=500, match="GET /drive/v3/files", times=99))
    fake.reset_log()
    pull = pull_google(gcfg, ledger, "n2", client=client_for(gcfg, key, clock))
    assert [s.status for s in pull.sources] == ["stale", "stale"]
    assert fake.count() == 3 and fake.count("sheets.get") == 0


def test_a_pull_that_will_be_tried_again_raises_on_a_passing_listing_failure_but_never_on_a_refusal(
        cfg, fake, key, clock, ledger) -> None:
    """``fallback=False`` (not the flow's last attempt): a listing that fails with 5xx raises before anything is
    read or stored, so the whole pull can run again; 403 (not shared, not passing) falls back at once."""
    book = fake.add_spreadsheet("Trường A", [student_sheet()])
    gcfg = google_cfg(cfg, fake, [book.id], quota={"max_retries": 1})
    pull_google(gcfg, ledger, "n1", client=client_for(gcfg, key, clock))
    fake.touch(book.id)
    fake.faults.append(Fault(status=503, match="GET /drive/v3/files", times=2))
    fake.reset_log()
    with pytest.raises(GoogleUnavailable) as err:
        pull_google(gcfg, ledger, "n2", client=client_for(gcfg, key, clock), fallback=False)
    assert err.value.status == 503 and err.value.transient
    assert fake.count() == 2 and fake.count("sheets.get") == 0  # the listing and its one retry, no read
    again = pull_google(gcfg, ledger, "n2", client=client_for(gcfg, key, clock), fallback=False)
    assert [s.status for s in again.sources] == ["ok"] and again.changed == 1
    fake.faults.append(Fault(status=403, match="GET /drive/v3/files", times=1))
    refused = pull_google(gcfg, ledger, "n3", client=client_for(gcfg, key, clock), fallback=False)
    assert [s.status for s in refused.sources] == ["stale"]


def test_without_a_key_the_night_uses_snapshots_and_says_why(cfg, fake, key, clock, ledger, monkeypatch) -> None:
    books = [fake.add_spreadsheet(f"Trường {i}", [student_sheet()]) for i in range(2)]
    gcfg = google_cfg(cfg, fake, [b.id for b in books])
    pull_google(gcfg, ledger, "n1", client=client_for(gcfg, key, clock))
    monkeypatch.delenv("SONGMAYTINH_GOOGLE_KEY", raising=False)
    fresh = google_cfg(cfg, fake, [b.id for b in books] + ["neverfetched123"])
    pull = pull_google(fresh, ledger, "n2")
    assert [s.status for s in pull.sources] == ["stale", "stale", "failed"]
    assert "SONGMAYTINH" not in pull.sources[2].message and "khoá" in pull.sources[2].message

    for broken in ("not json", '{"type": "service_account", "private_key": "garbage"}'):
        path = ledger.url.database + ".key.json"
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(broken)
        os.chmod(path, 0o600)  # private, but broken
        monkeypatch.setenv("SONGMAYTINH_GOOGLE_KEY", path)
        assert [s.status for s in pull_google(fresh, ledger, "n3").sources] == ["stale", "stale", "failed"]


# ---------------------------------------------------------------------------------------------------------------
# Quotas


def test_reads_never_exceed_the_per_minute_quota_and_wait_on_the_injected_clock(cfg, fake, key, clock, ledger) -> None:
    books = [fake.add_spreadsheet(f"Trường {i}", [student_sheet()]) for i in range(40)]
    gcfg = google_cfg(cfg, fake, [b.id for b in books], quota={"reads_per_minute": 30})
    pull = pull_google(gcfg, ledger, "n1", client=client_for(gcfg, key, clock))
    assert all(s.status == "ok" for s in pull.sources)
    assert fake.count() == 81 and fake.count("drive.list") == 1  # the listing is a Drive read: its own quota
    times = [e.at for e in fake.log if e.kind not in ("token", "drive.list")]
    assert len(times) == 80
    assert all(sum(1 for t in times if start <= t < start + 60) <= 30 for start in times)
    assert clock.now - 1000.0 >= 120  # 80 Sheets reads at 30 per minute: at least two full minutes waited
    assert not clock.sleeps or max(clock.sleeps) <= 60


def test_the_window_limiter_allows_a_burst_then_spaces_requests() -> None:
    clock = FakeClock()
    limiter = WindowLimiter(3, 60, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(7):
        limiter.acquire()
        stamps.append(clock.now - 1000)
    assert stamps == [0, 0, 0, 60, 60, 60, 120]


# ---------------------------------------------------------------------------------------------------------------
# Registry and config


def test_the_registry_sheet_lists_the_spreadsheets_and_is_itself_change_detected(cfg, fake, key, clock, ledger) -> None:
    a = fake.add_spreadsheet("Trường A", [student_sheet()])
    b = fake.add_spreadsheet("Xã B", [student_sheet()])
    registry = fake.add_spreadsheet("Sổ đăng ký", [FakeSheet(0, "Nguồn", rows=[
        ["SỔ ĐĂNG KÝ NGUỒN DỮ LIỆU"],
        ["Đơn vị", "Loại", "Cấp", "Khoá / URL", "Liên hệ"],
        ["TH-HL", "Học sinh", "Trường", f"https://docs.google.com/spreadsheets/d/{a.id}/edit#gid=0", "a@x.vn"],
        ["06388", "Học sinh", "Xã", b.id, ""],
        ["", "Không rõ", "", "zzzzzzzzzzzz", ""],
    ])])
    base = google_cfg(cfg, fake, [], registry=registry.id)
    pull = pull_google(base, ledger, "n1", client=client_for(base, key, clock))
    assert [(s.source_id, s.unit, s.unit_type) for s in pull.sources] == [(a.id, "TH-HL", "school"),
                                                                         (b.id, "06388", "commune")]
    assert pull.registry_problems == ["row 5: unknown kind"]
    fake.reset_log()
    pull_google(base, ledger, "n2", client=client_for(base, key, clock))
    assert fake.count() == 1


def test_sources_yaml_google_block_is_typed_and_accepts_the_old_list_form(tmp_path) -> None:
    import shutil

    import yaml

    conf = tmp_path / "config"
    shutil.copytree(load_config().config_dir, conf)
    data = yaml.safe_load((conf / "sources.yaml").read_text(encoding="utf-8"))
    data["google"] = [{"key": "https://docs.google.com/spreadsheets/d/1AbCdEfGhIjK_lm/edit", "kind": "students"}]
    (conf / "sources.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert load_config(conf).sources.google.spreadsheets[0].key == "1AbCdEfGhIjK_lm"
    data["google"] = {"spreadsheets": [{"key": "not a key!", "kind": "students"}], "quota": {"reads_per_minute": 0}}
    (conf / "sources.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(conf)
    assert "google.spreadsheets.0.key" in str(err.value) and "google.quota.reads_per_minute" in str(err.value)


def test_a_write_that_timed_out_is_not_sent_again(cfg, fake, key, clock) -> None:
    from flows.adapters.google.sheets import WRITE_SCOPES

    book = fake.add_spreadsheet("Trường A", [student_sheet()])
    fake.faults.append(Fault(delay=0.6, match=f"{book.id}:batchUpdate", times=1))
    gcfg = google_cfg(cfg, fake, [book.id], quota={"timeout_seconds": 0.15})
    http = http_of(client_for(gcfg, key, clock, scopes=WRITE_SCOPES))
    with pytest.raises(GoogleUnavailable) as err:
        http.batch_update(book.id, {"requests": [{"addSheet": {"properties": {"title": "Mới"}}}]})
    assert err.value.status == 0
    fake.faults.append(Fault(status=503, match=f"{book.id}:batchUpdate", times=1))  # refused: safe to resend
    http.batch_update(book.id, {"requests": [{"addSheet": {"properties": {"title": "Mới 2"}}}]})
    assert fake.arrived.count("batchUpdate") == 3  # timed out once (not resent), refused once, then done


def test_the_sources_stage_records_what_it_read_so_a_registry_night_replays_offline(
        cfg, fake, key, ledger, tmp_path, monkeypatch) -> None:
    import json

    from flows.stages import fetch_sources

    a = fake.add_spreadsheet("Trường A", [student_sheet()])
    registry = fake.add_spreadsheet("Sổ đăng ký", [FakeSheet(0, "Nguồn", rows=[
        ["Đơn vị", "Loại", "Cấp", "Khoá / URL"], ["TH-HL", "Học sinh", "Trường", a.id]])])
    gcfg = google_cfg(cfg, fake, [], registry=registry.id)
    (tmp_path / "key.json").write_text(json.dumps(key))
    (tmp_path / "key.json").chmod(0o600)  # a key others can read is refused
    monkeypatch.setenv("SONGMAYTINH_GOOGLE_KEY", str(tmp_path / "key.json"))
    night = fetch_sources(None, gcfg, ledger, "n1")
    assert [(s.source_id, s.status) for s in night] == [(a.id, "ok")]

    fake.spreadsheets[a.id].sheets[0].set(3, 1, "Tên đã sửa")
    fake.touch(a.id)
    monkeypatch.delenv("SONGMAYTINH_GOOGLE_KEY")
    fake.reset_log()
    replayed = fetch_sources(None, gcfg, ledger, "n2", False, "n1")
    assert fake.log == [] and [(s.source_id, s.status) for s in replayed] == [(a.id, "ok")]
    assert replayed[0].sheets == night[0].sheets and replayed[0].unit == "TH-HL"


def test_the_source_object_lists_and_fetches_through_the_same_client(cfg, fake, key, clock, ledger) -> None:
    from flows.adapters.google.sheets import GoogleSheetSource

    book = fake.add_spreadsheet("Trường A", [student_sheet("Lớp 5")])
    gcfg = google_cfg(cfg, fake, [book.id])
    source = GoogleSheetSource(gcfg, ledger, client_for(gcfg, key, clock))
    assert source.modified() == {book.id: ("Trường A", book.modified_time)}
    title, grids = source.fetch(book.id)
    assert (title, [g.name for g in grids]) == ("Trường A", ["Lớp 5"])
    assert [s.status for s in source.pull("n1").sources] == ["ok"]
    assert fake.count() == (1 + 2) + (1 + 2)  # fetch() stores no snapshot: the pull lists and reads again
    fake.reset_log()
    assert [s.status for s in source.pull("n2").sources] == ["ok"] and fake.count() == 1


def test_spreadsheets_with_the_same_title_stay_apart(cfg, fake, key, clock, ledger) -> None:
    from flows.stages import extract_tables

    a = fake.add_spreadsheet("DS học sinh thiếu thiết bị", [student_sheet(names=("Nguyễn Văn An",))])
    b = fake.add_spreadsheet("DS học sinh thiếu thiết bị", [student_sheet(names=("Lò Thị Bình", "Hà Văn Cư"))])
    c = fake.add_spreadsheet("Trường C", [student_sheet()])
    gcfg = google_cfg(cfg, fake, [a.id, b.id, c.id])
    pull = pull_google(gcfg, ledger, "n1", client=client_for(gcfg, key, clock))
    names = [s.source_file for s in pull.sources]
    assert len(set(names)) == 3 and names[2] == "Trường C"
    assert all(n.startswith("DS học sinh thiếu thiết bị [") for n in names[:2])
    extraction = extract_tables(pull.sources, gcfg)
    rows = extraction.tables["students"].groupby("source_file").size().to_dict()
    assert rows == {names[0]: 1, names[1]: 2, names[2]: 2}

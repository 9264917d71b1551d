"""Donations and review pairs through real nights on the sample district, the ledger chaining them: a donation
never gives out more than it holds, an open review pair is never supported twice, an earmark naming an unknown
place holds its units — and unchanged input changes nothing from one night to the next."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pandas as pd
import pytest

from flows.adapters.files import read_local
from flows.adapters.ledger import Ledger
from flows.allocation.allocate import allocate
from flows.config import DEVICE_ITEMS
from flows.pipeline import run_night
from flows.stages import extract_tables, normalize_tables
from samples.generate import generate
from tests.allocation.helpers import (AS_OF, COVERED, child, donation, donations_frame, persons_frame, review_pairs,
                                      rows_of)
from tests.pg import fresh_schema, postgres_url  # noqa: F401  (postgres_url: module-scoped fixture)

FIRST_NIGHT = dt.date(2022, 3, 15)
EXTRA = "tai-tro/bo sung.csv"
PAIR_FILES = ("truong/Mau 01 - TH Yen Vuong - bo sung.csv", "truong/Mau 01 - TH Yen Vuong - bo sung 2.csv")
PAIR = ("Hoàng Thị Thủy", "Hoàng Thị Thúy")  # same family name and birthday, given names apart by a tone only
GIVEN = ("allocated", "handed_over")


def _extra_donations(src, cfg) -> tuple[str, dict[str, int]]:
    """A second donations sheet repeating three received device donations of the ledger (one of them twice),
    a donation earmarked for a school the district does not have, and 10 tablets for the pair's school that
    arrive on the fourth night. Returns the CSV text and the repeated ids' quantities."""
    ledger = normalize_tables(extract_tables(read_local(src, cfg), cfg), cfg).donations
    devices = ledger[ledger["kind"].isin(DEVICE_ITEMS) & (ledger["status"] == "received")
                     & (ledger["earmark_text"] == "")]
    devices = devices[pd.to_datetime(devices["date"]) <= pd.Timestamp(FIRST_NIGHT)].sort_values("date")
    copies = devices.head(3).to_dict("records")
    lines = ["STT,Mã tài trợ,Nhà tài trợ,Ngày,Loại,Số lượng,Số tiền (VND),Tình trạng,Dành cho,Ghi chú"]
    rows = [*copies, copies[0]]
    for n, r in enumerate(rows, 1):
        day = dt.date.fromisoformat(str(r["date"])[:10])
        lines.append(f"{n},{r['donation_id']},{r['donor']},{day:%d/%m/%Y},{r['raw_kind']},{int(r['quantity'])},,"
                     "Đã nhận,,Chép lại từ sổ chính")
    lines.append(f"{len(rows) + 1},TT-BS-001,Công ty Ẩn Danh,20/02/2022,Máy tính bảng,4,,Đã nhận,"
                 "Trường TH Không Có Thật,")
    lines.append(f"{len(rows) + 2},TT-BS-002,Quỹ Khuyến học,18/03/2022,Máy tính bảng,10,,Đã nhận,"
                 "Trường TH Yên Vượng,Về ngày 18/03")
    return "\n".join(lines) + "\n", {r["donation_id"]: int(r["quantity"]) for r in copies}


def _pair_sheet(name: str, second: bool) -> str:
    """The same girl as a school's two supplementary sheets write her: the second with the birth year only, the
    other parent and another village, so that linkage leaves the pair to an officer."""
    head = ("\"DANH SÁCH HỌC SINH TRƯỜNG TH YÊN VƯỢNG CHƯA CÓ THIẾT BỊ HỌC TRỰC TUYẾN, CHƯA CÓ KẾT NỐI INTERNET\""
            ",,,,,,,,,,,\n"
            "STT,Họ và tên học sinh,Ngày tháng năm sinh,Giới tính,,Lớp,Thôn/bản,Họ tên bố/mẹ,SĐT phụ huynh,Diện,"
            "Nhu cầu hỗ trợ học trực tuyến,\n"
            ",,,Nam,Nữ,,,,,,Chưa có máy tính,Chưa có kết nối Internet\n")
    if second:
        return head + f"1,{name},2011,,x,5A,Thôn Đồng Tâm,Lương Thị Hoa,,Nghèo,x,x\n"
    return head + f"1,{name},15/01/2011,,x,5A,Thôn Trung Tâm,Hoàng Văn Sơn,0912345678,Nghèo,x,x\n"


# the tests share module fixtures (whole nights): one xdist worker runs them all, and the nights once
pytestmark = pytest.mark.xdist_group("allocation-nights")


@pytest.fixture(scope="module")
def nights(tmp_path_factory, cfg):
    base = tmp_path_factory.mktemp("allocation-nights")
    src = base / "src"
    generate(src, seed=7, scale=0.05)
    text, repeated = _extra_donations(src, cfg)
    (src / EXTRA).write_text(text, encoding="utf-8")
    for k, (path, name) in enumerate(zip(PAIR_FILES, PAIR)):  # sent twice (two sheets of one school): a review pair
        (src / path).write_text(_pair_sheet(name, second=k == 1), encoding="utf-8-sig")
    url = f"sqlite:///{base / 'ledger.sqlite'}"
    results = []
    for _ in range(3):  # the same sheets, replayed as of the same day, three nights in a row
        results.append(run_night(src, cfg, base / "out", FIRST_NIGHT, ledger_url=url))
    # the officer decides the pair are two children; the school's earmarked tablets arrive
    pair = _pair_rows(results[-1][0])
    (src / "quyet-dinh").mkdir()
    (src / "quyet-dinh" / "ket-luan.csv").write_text(
        f"Mã cặp,Quyết định (cùng/khác),Cán bộ xem xét\n{pair['pair_key']},Khác,Lan\n", encoding="utf-8")
    results.append(run_night(src, cfg, base / "out", FIRST_NIGHT + dt.timedelta(days=3), ledger_url=url))
    return {"results": results, "repeated": repeated}


def _pair_rows(result) -> dict:
    """The injected pair's review row (the pair is in review tonight)."""
    rp = result.review_pairs
    mine = rp[rp["full_name_l"].isin(PAIR) & rp["full_name_r"].isin(PAIR)]
    assert len(mine) == 1, "the pair went to review"
    return mine.iloc[0].to_dict()


def _exports(run_dir, name: str) -> pd.DataFrame:
    return pd.read_csv(run_dir / "exports" / name, dtype=str, keep_default_na=False)


def test_a_repeated_donation_id_is_an_error_naming_both_places_and_counts_once(nights):
    repeated = nights["repeated"]
    for result, run_dir in nights["results"]:
        issues = _exports(run_dir, "issues.csv")
        dup = issues[issues["rule"] == "duplicate_donation"]
        assert len(dup) == 4 and set(dup["severity"]) == {"error"}
        assert set(dup["column"]) == {"Mã tài trợ"}  # the header as the sheet wrote it
        for r in dup.itertuples():  # this row and the row whose units count: file, sheet, row of each
            assert f"dòng {r.source_row}" in r.message and r.message.count("tệp tai-tro/") == 2
        units = result.donations.groupby("donation_id")["units"].sum()
        assert {did: int(units[did]) for did in repeated} == repeated


def test_no_donation_gives_out_more_than_it_holds_night_after_night(nights):
    repeated = nights["repeated"]
    for result, run_dir in nights["results"]:
        holds = result.donations.groupby("donation_id")["units"].sum().astype(int).to_dict()
        holds.update(repeated)  # what the ledger's own rows say, whatever the code counted
        al = _exports(run_dir, "allocations.csv")
        given = Counter(al.loc[al["status"].isin(GIVEN), "donation_id"])
        over = {did: (n, holds.get(did, 0)) for did, n in given.items() if n > holds.get(did, 0)}
        assert not over
        assert sum(given[did] for did in repeated) == sum(repeated.values())  # all used: the test can fail


def test_an_earmark_naming_an_unknown_school_is_an_error_and_its_units_are_held(nights):
    for result, run_dir in nights["results"]:
        issues = _exports(run_dir, "issues.csv")
        unknown = issues[issues["rule"] == "earmark_unknown"]
        assert unknown[["source_file", "source_row", "column", "severity"]].values.tolist() == [
            [EXTRA, "6", "Dành cho", "error"]]
        assert "Trường TH Không Có Thật" in unknown["message"].iloc[0]
        assert "TT-BS-001" not in set(result.allocations["donation_id"])
        assert result.donation_summary.set_index("item").loc["tablet", "reserved"] >= 4


def test_an_open_review_pair_is_never_supported_twice(nights):
    results = nights["results"]
    assert all(len(r.review_pairs) for r, _ in results[:3])
    for result, run_dir in results:
        al = _exports(run_dir, "allocations.csv")
        given = set(zip(al.loc[al["status"].isin(GIVEN), "person_id"], al.loc[al["status"].isin(GIVEN), "need"]))
        for p in result.review_pairs.itertuples():
            for need in ("device", "internet"):
                assert not ((p.person_id_l, need) in given and (p.person_id_r, need) in given), (p.pair_key, need)
    # the injected pair: the higher-ranked child is served, the other waits for the officer
    for result, run_dir in results[:3]:
        pair = _pair_rows(result)
        al = _exports(run_dir, "allocations.csv").set_index(["person_id", "need"])
        ids = [pair["person_id_l"], pair["person_id_r"]]
        ranks = {pid: int(al.loc[(pid, "device"), "priority_rank"]) for pid in ids}
        first, second = sorted(ids, key=ranks.get)
        for need in ("device", "internet"):
            assert al.loc[(first, need), "status"] == "allocated"
            assert al.loc[(second, need), ["status", "reason"]].tolist() == ["waitlisted", "pending_review"]
        students = _exports(run_dir, "students.csv").set_index("person_id")
        assert students.loc[second, ["status", "reason"]].tolist() == ["waitlisted", "pending_review"]
        assert students.loc[first, "status"] == "allocated"


def test_after_the_officer_decides_the_pair_is_allocated_as_any_two_children(nights):
    (before, _), (after, run_dir) = nights["results"][2], nights["results"][3]
    pair = _pair_rows(before)
    assert not (after.review_pairs["pair_key"] == pair["pair_key"]).any()
    al = _exports(run_dir, "allocations.csv")
    mine = al[al["person_id"].isin([pair["person_id_l"], pair["person_id_r"]])]
    assert "pending_review" not in set(mine["reason"])
    assert (mine[mine["need"] == "device"]["status"] == "allocated").all()  # the school's tablets came tonight
    changes = after.changes
    assert set(changes["rule"]) <= {"new_allocation", "earmark"}  # nothing taken from anyone


def test_unchanged_input_changes_no_allocation(nights):
    key = ["person_id", "need"]
    first = nights["results"][0][0].allocations.sort_values(key).reset_index(drop=True)
    for result, _ in nights["results"][1:3]:
        assert result.counts["changes"] == 0
        pd.testing.assert_frame_equal(result.allocations.sort_values(key).reset_index(drop=True), first)


# --- the allocator alone, its nights chained by the ledger (SQLite and PostgreSQL) -------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    return fresh_schema(request.getfixturevalue("postgres_url"))


def test_the_new_rules_hold_and_change_nothing_across_nights_through_the_ledger(ledger_url, cfg):
    here = dict(commune="06388", school="TH-06388")
    persons = persons_frame(
        child("HS1", "Nguyễn Thị Thủy", category="poor", internet=True, **here),
        child("HS2", "Nguyễn Thị Thúy", category="near_poor", internet=True, **here),  # in review with HS1
        *[child(f"HS{i}", category="near_poor", commune="06391", school="TH-06391", village="Thôn Cầu Ngầm")
          for i in (3, 4)],
        *[child(f"HS{i}", category="none", **here) for i in (5, 6, 7)])
    laptops = donation("L1", "laptop", quantity=2, date="2022-01-01")
    rows = [{**laptops, "source_file": "tai-tro/a.xlsx", "source_row": 5},
            {**laptops, "source_file": "tai-tro/b.xlsx", "source_row": 9},  # the same donation written twice
            {**donation("N1", "internet_package", quantity=3), "source_file": "tai-tro/a.xlsx", "source_row": 6},
            {**donation("E1", "tablet", quantity=2, **here), "source_file": "tai-tro/a.xlsx", "source_row": 7},
            {**donation("X1", "tablet", quantity=3), "earmark_text": "Trường TH Không Có", "source_file":
             "tai-tro/a.xlsx", "source_row": 8}]
    donations = donations_frame(*rows).assign(source_file=[r["source_file"] for r in rows],
                                              source_row=[r["source_row"] for r in rows])
    pending = review_pairs(("HS1", "HS2"))
    results = []
    with Ledger(ledger_url) as ledger:
        ledger.migrate()
        for n in range(3):
            run_id = f"night-{n + 1}"
            ledger.begin_run(run_id, AS_OF)
            result = allocate(persons, donations, COVERED, ledger.active_allocations(), cfg.district, AS_OF,
                              review_pairs=pending)
            ledger.record_allocations(run_id, result.allocations, result.releases)
            ledger.write_change_log(run_id, result.changes)
            ledger.finish_run(run_id, {})
            results.append(result)
        active = ledger.active_allocations()
    first = results[0]
    assert rows_of(first, "status", "donation_id", "reason") == {
        ("HS1", "device"): ("allocated", "L1", ""), ("HS1", "internet"): ("allocated", "N1", ""),
        ("HS2", "device"): ("waitlisted", "", "pending_review"), ("HS2", "internet"): ("waitlisted", "", "pending_review"),
        ("HS3", "device"): ("allocated", "L1", ""),  # the 2 laptops, counted once, by district priority
        ("HS4", "device"): ("waitlisted", "", "no_units"),
        ("HS5", "device"): ("allocated", "E1", "earmark"),  # the school's 2 tablets on top of that
        ("HS6", "device"): ("allocated", "E1", "earmark"),
        ("HS7", "device"): ("waitlisted", "", "no_units"),  # X1's tablets are held: the earmark names no school
    }
    assert sorted(first.donation_problems["rule"]) == ["duplicate_donation", "earmark_unknown"]
    for later in results[1:]:
        assert later.changes.empty and later.releases.empty
        pd.testing.assert_frame_equal(later.allocations, first.allocations)
        pd.testing.assert_frame_equal(later.person_status, first.person_status)
    assert Counter(active["donation_id"]) == {"L1": 2, "N1": 1, "E1": 2}

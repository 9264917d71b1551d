"""The night's report compared with the night before: new pairs to review, units with new errors; the run
history of ``songmaytinh status``. Run folders written by hand (manifest and exports), as publish writes them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from flows.publishing.night_report import (count_rows, history, morning_message, previous_run_dir,
                                           report_for_failure, report_for_run, sources_markdown)

ISSUE_HEADER = "source_file,source_sheet,source_row,column,severity,rule,message\n"


def run_folder(root: Path, run_id: str, started: str, issues: list[str], pairs: list[str], sources=(),
               counts=None) -> Path:
    folder = root / run_id
    (folder / "exports").mkdir(parents=True)
    (folder / "district").mkdir()
    (folder / "district" / "huu-lung-tong-hop.xlsx").write_bytes(b"")
    manifest = {"run_id": run_id, "as_of": "2022-03-16", "started_at": started, "finished_at": started,
                "sources": list(sources), "counts": counts or {"sources": 3, "persons": 7}, "files": {}}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (folder / "exports" / "issues.csv").write_text(ISSUE_HEADER + "".join(f"{i}\n" for i in issues), encoding="utf-8")
    pd.DataFrame({"person_id_l": "HS1", "person_id_r": "HS2", "match_probability": 0.5, "reasons": "",
                  "pair_key": pairs}).to_csv(folder / "exports" / "review_pairs.csv", index=False)
    pd.DataFrame({"source_file": ["truong/a.xlsx", "truong/a.xlsx", "xa/b.xlsx"],
                  "school": ["Trường TH Hữu Liên", "Trường TH Hữu Liên", ""],
                  "commune": ["Xã Hữu Liên", "Xã Hữu Liên", "Xã Yên Bình"],
                  "full_name": ["Lò Văn Pạ", "Lò Thị Mây", "Hoàng Văn Tú"]}).to_csv(
        folder / "exports" / "students.csv", index=False)
    return folder


def test_only_what_is_new_since_the_night_before_needs_attention(tmp_path):
    old_error = "truong/a.xlsx,DS,9,Ngày sinh,error,date_valid,Ngày sinh sai"
    run_folder(tmp_path, "2022-03-15_010000", "2022-03-14T18:00:00+00:00",
               [old_error, "xa/b.xlsx,DS,4,Thôn,error,village_known,x", "truong/a.xlsx,DS,5,Lớp,warning,w,x"],
               ["k1"])
    partial = run_folder(tmp_path, "2022-03-16_005900.partial", "2022-03-15T17:59:00+00:00", [], [])
    (partial / "manifest.json").unlink()  # an unfinished folder is never "the night before"
    (tmp_path / "latest").symlink_to(tmp_path / "2022-03-15_010000")
    second = run_folder(
        tmp_path, "2022-03-16_010000", "2022-03-15T18:00:00+00:00",
        [old_error, "truong/a.xlsx,DS,12,Họ tên,error,name_present,x", "truong/a.xlsx,DS,13,Lớp,error,grade_valid,x",
         "truong/hong.xlsx,,,,error,unreadable_file,x", "xa/b.xlsx,DS,6,Thôn,warning,village_known,x"],
        ["k1", "k2", "k3"],
        sources=[{"source": "truong/hong.xlsx", "id": "truong/hong.xlsx", "kind": "", "status": "failed",
                  "message": "tệp là trang web (HTML)", "rows": 0},
                 {"source": "Danh sách TH Hữu Liên", "id": "abc", "kind": "students", "status": "stale",
                  "message": "dùng bản lưu: HTTP 403", "rows": 5},
                 {"source": "truong/a.xlsx", "id": "truong/a.xlsx", "kind": "students", "status": "ok",
                  "message": "", "rows": 2}])

    assert previous_run_dir(second) == tmp_path / "2022-03-15_010000"
    report = report_for_run(second, {"ledger": 2})
    assert report.previous_run == "2022-03-15_010000"
    assert report.review_pairs_new == 2
    # the school named as in config (its rows say which), a file nobody could read by its name; warnings and
    # errors already there last night are not news
    assert report.units_new_errors == [("Trường TH Hữu Liên", 2), ("truong/hong.xlsx", 1)]
    assert [s["status"] for s in report.attention_sources] == ["failed", "stale"]
    assert report.needs_attention

    subject, body = morning_message(report, "[SMTCE]", "Huyện Hữu Lũng")
    assert subject == "[SMTCE] Tổng hợp Huyện Hữu Lũng ngày 16/03/2022: hoàn thành, cần chú ý"
    assert "- Nguồn lỗi: truong/hong.xlsx — tệp là trang web (HTML)" in body
    assert "- Nguồn dùng bản lưu: Danh sách TH Hữu Liên — dùng bản lưu: HTTP 403" in body
    assert "- Cặp hồ sơ mới cần xem xét: 2" in body
    assert "- Có lỗi mới: Trường TH Hữu Liên (2 lỗi)" in body
    assert "Đã thử lại sau lỗi tạm thời: bước ledger thêm 2 lần." in body
    assert "Lò Văn Pạ" not in body and "Hoàng Văn Tú" not in body
    markdown = sources_markdown(report)
    assert "| truong/hong.xlsx | lỗi | tệp là trang web (HTML) |" in markdown
    assert "| Danh sách TH Hữu Liên | dùng bản lưu | dùng bản lưu: HTTP 403 |" in markdown
    assert [r["Mã"] for r in count_rows(report)][:3] == ["sources", "sources_stale", "sources_failed"]


def test_the_first_night_and_a_quiet_night(tmp_path):
    first = run_folder(tmp_path, "n1", "2022-03-14T18:00:00+00:00", ["truong/a.xlsx,DS,9,X,error,r,x"], ["k1"])
    report = report_for_run(first)
    assert report.previous_run is None and report.review_pairs_new is None
    assert report.units_new_errors == [("Trường TH Hữu Liên", 1)]  # the first night: every error is new
    second = run_folder(tmp_path, "n2", "2022-03-15T18:00:00+00:00", ["truong/a.xlsx,DS,9,X,error,r,x"], ["k1"])
    quiet = report_for_run(second)
    assert not quiet.needs_attention
    subject, body = morning_message(quiet)
    assert subject.endswith("hoàn thành, không có gì cần chú ý")
    assert "CẦN CHÚ Ý\n- Không có.\n" in body


def test_a_failed_night_says_what_failed_and_where_the_last_workbooks_are(tmp_path):
    done = run_folder(tmp_path, "n1", "2022-03-14T18:00:00+00:00", [], [])
    (tmp_path / "latest").symlink_to(done)
    report = report_for_failure(tmp_path, "Bước dedupe (ghép trùng học sinh): lỗi chương trình (KeyError)",
                                "n2", dt.date(2022, 3, 16))
    subject, body = morning_message(report, "[SMTCE]", "Huyện Hữu Lũng")
    assert subject == "[SMTCE] LỖI: tổng hợp Huyện Hữu Lũng ngày 16/03/2022 không hoàn thành"
    assert "- Lỗi: Bước dedupe (ghép trùng học sinh): lỗi chương trình (KeyError)" in body
    assert f"- Bảng tổng hợp của huyện: {tmp_path / 'latest' / 'district' / 'huu-lung-tong-hop.xlsx'}" in body
    assert "Lần chạy không hoàn thành" in sources_markdown(report)


def test_history_lists_the_newest_nights_first_with_durations_and_source_counts():
    t = pd.Timestamp("2022-03-15 18:00:00")
    runs = pd.DataFrame([
        {"run_id": "r1", "as_of": dt.date(2022, 3, 15), "started_at": t, "finished_at": t + pd.Timedelta(seconds=75),
         "counts": {"sources": 10, "sources_stale": 2, "sources_failed": 1, "changes": 1234}, "status": "ok"},
        {"run_id": "r2", "as_of": dt.date(2022, 3, 16), "started_at": t + pd.Timedelta(days=1),
         "finished_at": t + pd.Timedelta(days=1, hours=1, seconds=5), "counts": {}, "status": "failed"},
        {"run_id": "r3", "as_of": dt.date(2022, 3, 17), "started_at": t + pd.Timedelta(days=2), "finished_at": None,
         "counts": None, "status": "running"},
    ])
    rows = history(runs, last=2)
    assert [r["run_id"] for r in rows] == ["r3", "r2"]
    assert rows[0] == {"run_id": "r3", "as_of": "17/03/2022", "duration": "—", "sources_ok": "—",
                       "sources_stale": "—", "sources_failed": "—", "changes": "—", "status": "running"}
    assert rows[1]["duration"] == "1:00:05" and rows[1]["status"] == "failed"
    (first,) = history(runs, last=10)[-1:]
    assert first == {"run_id": "r1", "as_of": "15/03/2022", "duration": "1:15", "sources_ok": "7",
                     "sources_stale": "2", "sources_failed": "1", "changes": "1.234", "status": "ok"}

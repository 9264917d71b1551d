"""End to end: the real CLI (and so the Prefect flow) on a generated sample district, read back as a user would."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from flows.frames import ALLOCATION_EXPORT_COLUMNS, ISSUE_COLUMNS, STUDENT_EXPORT_COLUMNS

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("songmaytinh")
    env = {**os.environ, "PYTHONUTF8": "1", "COLUMNS": "160"}
    return subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


# the tests share module fixtures (whole nights): one xdist worker runs them all, and the nights once
pytestmark = pytest.mark.xdist_group("e2e-night")


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    from samples.generate import generate

    base = tmp_path_factory.mktemp("e2e")
    src = base / "sources"
    generate(src, seed=2021, scale=0.12)
    # a school that sent a web page instead of a workbook must not stop the night
    (src / "truong" / "DS lop 5 - tai tu Google.xlsx").write_text("<!DOCTYPE html><html>Sign in</html>")
    out = base / "out"
    first = _cli("run", "--sources", str(src), "--out", str(out), "--as-of", "2022-03-01", cwd=base)
    assert first.returncode == 0, first.stdout + first.stderr
    run1 = (out / "latest").resolve()
    # the second night as `make demo` runs it: folders relative to the working directory
    second = _cli("run", "--sources", "sources", "--out", "out", "--as-of", "2022-03-01", cwd=base)
    assert second.returncode == 0, second.stdout + second.stderr
    run2 = (out / "latest").resolve()
    return {"src": src, "out": out, "run1": run1, "run2": run2, "stdout": first.stdout, "stderr": first.stderr,
            "stderr2": second.stderr}


def _csv_header(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh))


def test_cli_prints_summary_and_workbook_path_without_noise(district):
    out = district["stdout"]
    assert "Kết quả tổng hợp" in out and "Được phân bổ" in out
    assert "district" in out and ".xlsx" in out
    assert "Traceback" not in out + district["stderr"]
    assert "INFO" not in district["stderr"]  # Prefect/GX chatter stays out of the terminal


def test_relative_folders_publish_everything_including_the_data_docs(district):
    assert "WARNING" not in district["stderr2"], district["stderr2"]
    for run in (district["run1"], district["run2"]):
        assert (run / "data-docs" / "index.html").is_file()


def test_exports_follow_the_contract(district):
    run = district["run1"]
    exports = run / "exports"
    assert _csv_header(exports / "students.csv")[: len(STUDENT_EXPORT_COLUMNS)] == STUDENT_EXPORT_COLUMNS
    assert _csv_header(exports / "issues.csv")[: len(ISSUE_COLUMNS)] == ISSUE_COLUMNS
    assert _csv_header(exports / "allocations.csv")[: len(ALLOCATION_EXPORT_COLUMNS)] == ALLOCATION_EXPORT_COLUMNS
    students = pd.read_csv(exports / "students.csv", dtype=str, keep_default_na=False)
    assert set(students["status"]) <= {"allocated", "waitlisted", "excluded", "rejected", "duplicate"}
    assert {"allocated", "waitlisted", "rejected"} <= set(students["status"])
    assert set(students["category"]) <= {"poor", "near_poor", "covid_orphan", "none"}
    assert set(students["lacks_device"]) <= {"true", "false"}
    assert students["source_row"].str.fullmatch(r"\d+").all()
    assert students["grade"].isin([""] + [str(g) for g in range(1, 10)]).all()
    assert students["phone"].str.fullmatch(r"(0\d{9})?").all()
    assert students["date_of_birth"].str.fullmatch(r"(\d{4}-\d{2}-\d{2})?").all()
    assert set(students["sex"]) <= {"M", "F", ""}
    out_of_range = students[students["reason"] == "grade_out_of_range"]
    assert len(out_of_range) and (out_of_range["grade"] == "").all()
    assert out_of_range["grade_as_listed"].astype(int).ge(10).all()
    assert (students.loc[students["status"] == "rejected", "person_id"] == "").all()
    usable = students[students["status"] != "rejected"]
    assert (usable["person_id"] != "").all()
    # all rows of one person share its status
    assert (usable[usable["status"] != "duplicate"].groupby("person_id")["status"].nunique() == 1).all()
    issues = pd.read_csv(exports / "issues.csv", dtype=str, keep_default_na=False)
    assert set(issues["severity"]) <= {"error", "warning"}
    unreadable = issues[issues["rule"] == "unreadable_file"]
    assert list(unreadable["source_file"]) == ["truong/DS lop 5 - tai tu Google.xlsx"]
    assert (unreadable["source_sheet"] == "").all() and (unreadable["source_row"] == "").all()
    allocations = pd.read_csv(exports / "allocations.csv", dtype=str, keep_default_na=False)
    assert set(allocations["need"]) <= {"device", "internet"}
    assert set(allocations["status"]) <= {"allocated", "handed_over", "waitlisted", "no_coverage"}
    assert not allocations.duplicated(["person_id", "need"]).any()


def test_manifest_lists_sources_and_hashes(district):
    run = district["run1"]
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    for key in ("run_id", "as_of", "started_at", "finished_at", "sources", "counts", "files"):
        assert key in manifest
    assert manifest["as_of"] == "2022-03-01"
    failed = [s for s in manifest["sources"] if s["status"] == "failed"]
    assert [s["source"] for s in failed] == ["truong/DS lop 5 - tai tu Google.xlsx"]
    assert all({"source", "id", "kind", "status", "message", "rows"} <= set(s) for s in manifest["sources"])
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((run / rel).read_bytes()).hexdigest() == digest


def test_district_workbook_opens_and_reconciles(district):
    run = district["run1"]
    books = sorted((run / "district").glob("*.xlsx"))
    assert len(books) == 1
    wb = openpyxl.load_workbook(books[0], read_only=False)
    for sheet in ("Tổng hợp", "Danh sách phân bổ", "Danh sách chờ", "Lỗi dữ liệu", "Nguồn tài trợ"):
        assert sheet in wb.sheetnames
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} became a formula"
    cal = CalamineWorkbook.from_path(str(books[0]))
    text = " ".join(str(v) for row in cal.get_sheet_by_name("Tổng hợp").to_python() for v in row)
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text


def test_commune_workbooks_hold_only_their_children(district):
    run = district["run1"]
    students = pd.read_csv(run / "exports" / "students.csv", dtype=str, keep_default_na=False)
    named = students[students["full_name"] != ""]
    names_by_commune = named.groupby("commune")["full_name"].apply(set).to_dict()
    books = sorted((run / "communes").glob("*.xlsx"))
    assert len(books) >= 20
    for book in books[:5]:
        cal = CalamineWorkbook.from_path(str(book))
        cells = {str(v) for name in cal.sheet_names for row in cal.get_sheet_by_name(name).to_python() for v in row}
        own = next(c for c in names_by_commune if c and c in " ".join(cells))
        # a guardian of this commune's child may share a name with a child elsewhere: that is not a leak
        guardians = set(named.loc[named["commune"] == own, "guardian_name"])
        others = set().union(*(v for c, v in names_by_commune.items() if c != own)) - names_by_commune[own] - guardians
        assert not (cells & others), f"{book.name} holds children of other communes: {sorted(cells & others)[:3]}"


def test_second_run_changes_no_allocation(district):
    a = pd.read_csv(district["run1"] / "exports" / "allocations.csv", dtype=str, keep_default_na=False)
    b = pd.read_csv(district["run2"] / "exports" / "allocations.csv", dtype=str, keep_default_na=False)
    key = ["person_id", "need"]
    cols = ["person_id", "need", "item", "donation_id", "status", "priority_rank"]
    pd.testing.assert_frame_equal(a[cols].sort_values(key).reset_index(drop=True),
                                  b[cols].sort_values(key).reset_index(drop=True))
    sa = pd.read_csv(district["run1"] / "exports" / "students.csv", dtype=str, keep_default_na=False)
    sb = pd.read_csv(district["run2"] / "exports" / "students.csv", dtype=str, keep_default_na=False)
    assert list(sa["person_id"]) == list(sb["person_id"])
    assert district["run1"] != district["run2"]
    manifest = json.loads((district["run2"] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["changes"] == 0
    assert pd.read_csv(district["run2"] / "exports" / "changes.csv").empty


def test_validate_command_reports_a_clerk_can_act_on(district, tmp_path):
    bad = tmp_path / "bad.xlsx"
    shutil.copy(next((district["src"] / "truong").glob("*.xlsx")), bad)
    res = _cli("validate", str(bad), cwd=tmp_path)
    assert res.returncode in (0, 1), res.stderr
    assert "dòng học sinh" in res.stdout
    web = tmp_path / "web.xlsx"
    web.write_text("<html></html>")
    res = _cli("validate", str(web), cwd=tmp_path)
    assert res.returncode == 1 and "HTML" in res.stdout


def test_bad_config_stops_with_the_key_named(tmp_path):
    cfg_dir = tmp_path / "config"
    shutil.copytree(ROOT / "config", cfg_dir)
    text = (cfg_dir / "district.yaml").read_text(encoding="utf-8").replace("laptop: 12000000", "laptop: nhiều")
    (cfg_dir / "district.yaml").write_text(text, encoding="utf-8")
    res = _cli("run", "--config", str(cfg_dir), "--sources", str(tmp_path), "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert res.returncode == 2
    assert "unit_prices.laptop" in res.stdout


def test_explain_tells_why(district, tmp_path):
    students = pd.read_csv(district["run2"] / "exports" / "students.csv", dtype=str, keep_default_na=False)
    waiting = students[students["status"] == "waitlisted"].iloc[0]
    res = _cli("explain", waiting["person_id"], "--out", str(district["out"]), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert waiting["full_name"] in res.stdout and "chờ phân bổ" in res.stdout
    assert "hạng ưu tiên" in res.stdout and f"dòng {waiting['source_row']}" in res.stdout
    rejected = students[students["status"] == "rejected"].iloc[0]
    res = _cli("explain", f"{rejected['source_file']}:{rejected['source_row']}", "--out", str(district["out"]),
               cwd=tmp_path)
    assert "dòng bị loại" in res.stdout


def test_dedupe_command_writes_every_id_once(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("record_id,full_name,date_of_birth,unknown_column\n"
                   "1,Lê Văn Tám,2012-05-01,a\n2,LE TAM,01/05/2012,b\n3,Lê Văn Tám,2013-09-17,c\n", encoding="utf-8")
    res = _cli("dedupe", str(src), "--output", str(tmp_path / "out.csv"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = pd.read_csv(tmp_path / "out.csv", dtype=str)
    assert list(out["record_id"]) == ["1", "2", "3"]
    assert out["cluster_id"].tolist() == ["1", "1", "3"]

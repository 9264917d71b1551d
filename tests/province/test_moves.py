"""Children who moved: a child of one district listed again by a school of another is found across the districts'
published runs, after each district's own linkage, and listed in the province workbook."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
from python_calamine import CalamineWorkbook

from flows.pipeline import run_night
from flows.province.config import load_province
from flows.province.flow import publish_province
from flows.province.moves import moved_children
from flows.province.workbook import MOVES_SHEET
from samples.province import build_province
from tests.nights import AS_OF, tiny_district


def _list_moved_child(sources: Path, child: pd.Series, cfg) -> str:
    """A school of the other district lists ``child`` (as the first district exported it) in a CSV of its own."""
    school = cfg.district.schools[0] if int(child["grade"]) <= 5 else cfg.district.schools[1]
    village = cfg.district.commune_by_code[school.commune].villages[0]
    born = dt.date.fromisoformat(child["date_of_birth"])
    path = sources / "truong" / f"{school.name.removeprefix('Trường ')} - hoc sinh chuyen den.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([f"DANH SÁCH HỌC SINH CHUYỂN ĐẾN - {school.name.upper()}"])
        w.writerow(["STT", "Họ và tên", "Lớp", "Ngày sinh", "Giới tính", "Họ tên bố/mẹ", "Thôn", "Hộ nghèo",
                    "Chưa có thiết bị", "Chưa có Internet"])
        w.writerow([1, child["full_name"], f"{child['grade']}A", f"{born:%d/%m/%Y}",
                    "Nam" if child["sex"] == "M" else "Nữ", child["guardian_name"], village, "x", "x", ""])
    return school.name


def test_a_child_listed_in_two_districts_is_a_candidate_pair_in_the_province_workbook(tmp_path):
    home = tiny_district(tmp_path / "huu-lung")
    province = load_province(build_province(tmp_path / "lang-son", {"186": 0, "187": 2}, scale=0.03,
                                            home_sources=home))
    huu_lung, chi_lang = province.taking_part
    day = dt.date.fromisoformat(AS_OF)
    result_a, run_a = run_night(home, province.district_config(huu_lung), tmp_path / "out" / "186", day)
    students = pd.read_csv(run_a / "exports" / "students.csv", dtype=str, keep_default_na=False)
    child = students.loc[(students["status"] == "allocated") & (students["guardian_name"] != "")
                         & (students["date_of_birth"] != "")].iloc[0]
    cfg_b = province.district_config(chi_lang)
    sources_b = tmp_path / "chi-lang"
    shutil.copytree(province.sources_dir(chi_lang, cfg_b), sources_b)
    new_school = _list_moved_child(sources_b, child, cfg_b)
    result_b, run_b = run_night(sources_b, cfg_b, tmp_path / "out" / "187", day)
    listed_b = pd.read_csv(run_b / "exports" / "students.csv", dtype=str, keep_default_na=False)
    moved_b = listed_b.loc[listed_b["full_name"] == child["full_name"], "person_id"].unique()
    assert len(moved_b) == 1 and moved_b[0]

    pairs = moved_children([("186", run_a), ("187", run_b)])

    assert (pairs["district_a"] != pairs["district_b"]).all()  # a district's own persons are never joined here
    found = pairs.loc[(pairs["person_id_a"] == child["person_id"]) & (pairs["person_id_b"] == moved_b[0])]
    assert list(found["decision"]) == ["match"]
    assert found.iloc[0]["school_b"] == new_school

    outcomes = [{"code": c, "name": n, "folder": c, "status": "ok", "counts": r.counts, "enrolment": 0,
                 "devices_given": 0, "internet_given": 0, "unmet_internet": 0, "phase": None,
                 "device_sets_target": None, "internet_share_target": None, "run_dir": str(d)}
                for (c, n), r, d in ((("186", huu_lung.name), result_a, run_a), (("187", chi_lang.name), result_b, run_b))]
    published = publish_province(province, outcomes, tmp_path / "out", AS_OF, dt.datetime.now(dt.timezone.utc),
                                 pairs)
    rows = CalamineWorkbook.from_path(published["workbook"]).get_sheet_by_name(MOVES_SHEET).to_python()
    header = next(i for i, r in enumerate(rows) if r[:2] == ["STT", "Huyện (1)"])
    listed = [r for r in rows[header + 1:] if r[0] != "" and isinstance(r[0], float)]
    assert len(listed) == len(pairs)
    row = next(r for r in listed if r[2] == child["person_id"] and r[8] == moved_b[0])
    assert row[1] == "Huyện Hữu Lũng" and row[7] == "Huyện Chi Lăng" and row[3] == row[9] == child["full_name"]
    assert row[13] == "Có thể là một học sinh"
    summary = json.loads((Path(published["run_dir"]) / "province.json").read_text(encoding="utf-8"))
    assert summary["moved_pairs"]["match"] >= 1
    assert child["full_name"] not in json.dumps(summary, ensure_ascii=False)  # names only in the workbook

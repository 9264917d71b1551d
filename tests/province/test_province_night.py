"""The province night on a real Dask LocalCluster (2 worker processes): each district publishes exactly what its
night alone publishes, in its own folder with its own ledger, and the province workbook sums them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from python_calamine import CalamineWorkbook

from flows.config import load_config
from flows.pipeline import run_night
from flows.province.config import load_province, official_communes
from samples.province import build_province
from tests.compare_runs import differences
from tests.nights import AS_OF, tiny_district


def _sheet(path: Path, name: str) -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(name).to_python()


def test_province_night_on_dask_gives_each_district_the_exports_it_has_alone(tmp_path, monkeypatch):
    # as a large night alone would: its workbooks written by writer processes (a Dask worker may start none)
    monkeypatch.setenv("SONGMAYTINH_PUBLISH_WORKERS", "2")
    home = tiny_district(tmp_path / "huu-lung")
    province_file = build_province(tmp_path / "lang-son", {"186": 0, "187": 2}, scale=0.03, home_sources=home)
    province = load_province(province_file)
    chi_lang = load_config(tmp_path / "lang-son" / "187-chi-lang" / "config")
    assert [(c.code, c.name) for c in chi_lang.district.communes] == [(c, n) for c, n, _ in official_communes("187")[:2]]

    from flows.province.flow import run_province

    outcome = run_province(province_file, tmp_path / "out", as_of=AS_OF)

    districts = {d["code"]: d for d in outcome["districts"]}
    assert sorted(districts) == ["186", "187"] and all(d["status"] == "ok" for d in districts.values())
    # each night ran in a Dask worker process, not in this one
    assert all(d["worker"] and d["worker"].startswith("tcp://") for d in districts.values())
    for code, d in districts.items():
        folder = tmp_path / "out" / d["folder"]
        assert Path(d["run_dir"]).parent == folder and (folder / "latest").resolve() == Path(d["run_dir"]).resolve()
        assert (folder / "ledger.sqlite").is_file()  # its own ledger

    # the same districts alone, one after the other, without Prefect or Dask
    for district in province.taking_part:
        cfg = province.district_config(district)
        alone_root = tmp_path / "alone" / district.code
        result, alone = run_night(province.sources_dir(district, cfg), cfg, alone_root,
                                  pd.Timestamp(AS_OF).date())
        together = Path(districts[district.code]["run_dir"])
        assert differences(alone, together) == [], district.code
        assert result.counts == districts[district.code]["counts"]
        assert result.counts["persons"] > 0 and result.counts["student_rows"] > 0

    # the province workbook, read back: one row per official district, the taking-part ones with their counts
    workbook = Path(outcome["workbook"])
    assert workbook.parent.parent == tmp_path / "out" / "tinh"
    rows = _sheet(workbook, "Tổng hợp tỉnh")
    header = next(i for i, r in enumerate(rows) if r[:2] == ["STT", "Huyện, thành phố"])
    body = {r[2]: r for r in rows[header + 1: header + 12]}
    assert len(body) == 11
    assert body["178"][3] == "Chưa tham gia (chưa có cấu hình)"
    for code, d in districts.items():
        assert body[code][3] == "Đã tổng hợp"
        assert body[code][5:8] == [d["counts"]["student_rows"], d["counts"]["rows_rejected"], d["counts"]["persons"]]
    total = rows[header + 12]
    assert total[1] == "Toàn tỉnh" and total[3] == "2/11 huyện"
    assert total[7] == sum(d["counts"]["persons"] for d in districts.values())
    progress = _sheet(workbook, "Tiến độ")
    head = next(i for i, r in enumerate(progress) if r[:2] == ["STT", "Huyện, thành phố"])
    hl = next(r for r in progress[head + 1:] if r[1] == "Huyện Hữu Lũng")
    assert hl[2] == "Giai đoạn 1" and hl[3] == 1500 and hl[4] == districts["186"]["devices_given"]
    moves = CalamineWorkbook.from_path(str(workbook)).sheet_names
    assert moves == ["Tổng hợp tỉnh", "Tiến độ", "Trẻ chuyển huyện"]
    summary = json.loads((workbook.parent / "province.json").read_text(encoding="utf-8"))
    assert summary["as_of"] == AS_OF and [d["code"] for d in summary["districts"]] == ["186", "187"]
    assert summary["moved_pairs"] == outcome["moved_pairs"]

"""One district whose night fails (its ledger refuses) is reported in the province workbook, saying what failed and
where, never a child's data; the other districts are not held back by it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from python_calamine import CalamineWorkbook

from flows.config import DEFAULT_CONFIG_DIR
from flows.province.config import load_province
from flows.province.flow import moved_between_districts, publish_province
from flows.province.night import district_night
from tests.nights import AS_OF, free_port

ROOT = Path(__file__).resolve().parents[2]


def test_a_district_whose_ledger_refuses_is_reported_failed_in_the_province_workbook(tmp_path):
    province = yaml.safe_load((ROOT / "config/province/province.yaml").read_text(encoding="utf-8"))
    for d in province["districts"]:
        if d["code"] == "186":
            d["config"] = str(DEFAULT_CONFIG_DIR)
            d["sources"] = str(tmp_path / "sources")
    # nothing listens on this port: the district's own ledger database refuses
    province["ledger"] = {"url": f"postgresql+psycopg://songmaytinh@127.0.0.1:{free_port()}/ledger_{{code}}"}
    path = tmp_path / "province.yaml"
    path.write_text(yaml.safe_dump(province, allow_unicode=True), encoding="utf-8")
    (tmp_path / "sources").mkdir()

    outcome = district_night(str(path), "186", str(tmp_path / "out"), AS_OF)

    assert outcome["status"] == "failed" and outcome["code"] == "186" and outcome["failure"]
    moves = moved_between_districts([outcome])  # no district published: nothing to link
    assert moves.empty
    published = publish_province(load_province(path), [outcome], tmp_path / "out", AS_OF,
                                 dt.datetime.now(dt.timezone.utc), moves)
    assert published["moved_pairs"] == {"match": 0, "review": 0}
    rows = CalamineWorkbook.from_path(published["workbook"]).get_sheet_by_name("Tổng hợp tỉnh").to_python()
    (row,) = [r for r in rows if len(r) > 2 and r[2] == "186"]
    assert row[3] == f"Lỗi, chưa tổng hợp được: {outcome['failure']}" and row[4] == ""
    (other,) = [r for r in rows if len(r) > 2 and r[2] == "187"]
    assert other[3] == "Chưa tham gia (chưa có cấu hình)"
    (total,) = [r for r in rows if len(r) > 1 and r[1] == "Toàn tỉnh"]
    assert total[3] == "0/11 huyện"

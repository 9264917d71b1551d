"""`explain` on a published run: tier, rank, what was left at the child's turn, decisions applied, source rows."""

from __future__ import annotations

import pandas as pd
import pytest

from flows.publishing.explain import explain_student
from flows.publishing.publish import publish
from tests.publishing.night import make_result


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from flows.config import load_config

    result = make_result(run_id="explain")
    al = result.allocations
    al["tier"] = [1, 1, 4, 2, 3, 1, 1, 2]
    al["left_when_turn"] = ["laptop:4;tablet:9", "", "laptop:4;tablet:8", "0", "", "", "", "0"]
    result.override_log = pd.DataFrame([
        {"override_id": "a1", "person_id": "P002", "need": "device", "action": "assign", "item": "laptop",
         "donation_id": "D-002", "officer": "Hoàng Văn Tuấn", "reason": "Khuyết tật vận động",
         "decided_on": "2022-01-10", "result": "applied"},
        {"override_id": "b2", "person_id": "P008", "need": "", "action": "exclude", "item": "", "donation_id": "",
         "officer": "Hoàng Văn Tuấn", "reason": "Chuyển trường", "decided_on": "2022-02-01", "result": "pending"},
    ])
    result.changes = pd.DataFrame([
        {"person_id": "P001", "need": "internet", "before": "provisional:internet_package:D-VNPT",
         "after": "handed_over:internet_package:D-VNPT", "rule": "handover"},
        {"person_id": "P002", "need": "device", "before": "", "after": "provisional:laptop:D-002",
         "rule": "officer_override"},
    ])
    return publish(result, load_config(), tmp_path_factory.mktemp("explain"))


def test_explain_by_person_id_tells_tier_rank_what_was_left_and_decisions(run_dir):
    text = explain_student("P001", run_dir)
    assert "Nguyễn Văn An — mã P001" in text
    assert "Hộ nghèo (nhóm ưu tiên 1); hạng ưu tiên 1" in text
    assert "Khi đến lượt em, nguồn em được nhận còn: Máy tính xách tay 4, Máy tính bảng 9" in text
    assert "Đã bàn giao (theo sổ bàn giao)" in text
    assert "internet: đã phân bổ (chưa bàn giao) gói cước internet (khoản D-VNPT) → đã bàn giao" in text
    assert "Có trong 2 dòng" in text and "được gộp thành một học sinh" in text

    officer = explain_student("p002", run_dir)  # ids are matched in any case
    assert "Điều chỉnh của cán bộ (Hoàng Văn Tuấn, ngày 2022-01-10): Giao thiết bị máy tính xách tay" in officer
    assert "lý do: Khuyết tật vận động — Đã áp dụng" in officer
    assert "căn cứ: Điều chỉnh của cán bộ phụ trách" in officer

    waiting = explain_student("P008", run_dir)
    assert "chờ phân bổ" in waiting and "không còn đơn vị nào" in waiting
    assert "Chưa đến ngày áp dụng" in waiting


def test_explain_by_source_row_or_name(run_dir):
    by_row = explain_student("THCS-HuuLien.xlsx:Danh sách:7", run_dir)
    assert "Hoàng Thị Bình — mã P003" in by_row
    assert explain_student("THCS-HuuLien.xlsx:7", run_dir) == by_row
    assert explain_student("hoang thi binh", run_dir) == by_row  # tones and case as written do not matter
    rejected = explain_student("TH-HuuLien.xlsx:DS:10", run_dir)
    assert "mã (chưa cấp)" in rejected and "dòng bị loại" in rejected and "31/02" in rejected
    assert "Không tìm thấy" in explain_student("Không Có Em Này", run_dir)
    with pytest.raises(FileNotFoundError):
        explain_student("P001", run_dir.parent / "nowhere")

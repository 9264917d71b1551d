"""A commune's workbook holds only its own children (privacy)."""

from __future__ import annotations

from python_calamine import CalamineWorkbook

from tests.publishing.night import (FORMULA_MESSAGE, HL_CHILDREN, NO_COMMUNE_CHILD, YB_CHILDREN, cells, strings,
                                    table)


def test_commune_workbook_holds_only_its_own_children(published):
    hl = published / "communes" / "06388-xa-huu-lien.xlsx"
    yb = published / "communes" / "06391-xa-yen-binh.xlsx"
    hl_text, yb_text = " ".join(strings(hl)), " ".join(strings(yb))
    for name in HL_CHILDREN:
        # The rejected row's child is in no list (its issue names the row, not the child).
        assert (name in hl_text or name == "Hà Văn Xuân") and name not in yb_text, name
    for name in YB_CHILDREN:
        assert name in yb_text and name not in hl_text, name
    assert FORMULA_MESSAGE not in hl_text and FORMULA_MESSAGE in yb_text
    for pid in ("P006", "P007", "P008"):
        assert pid not in hl_text
    assert CalamineWorkbook.from_path(str(hl)).sheet_names == [
        "Tổng hợp", "Danh sách phân bổ", "Danh sách chờ", "Không đủ điều kiện", "Lỗi dữ liệu", "Hạ tầng", "Tiến độ"]
    total = next(r for r in cells(hl, "Tổng hợp") if r[1] == "Tổng cộng")
    assert [int(v) for v in total[2:11]] == [8, 1, 5, 3, 2, 1, 1, 2, 5]
    _, issues = table(hl, "Lỗi dữ liệu")
    assert len(issues) == 5
    empty = published / "communes" / "06385-thi-tran-huu-lung.xlsx"
    assert not set(HL_CHILDREN + YB_CHILDREN) & strings(empty)
    for path in (published / "communes").glob("*.xlsx"):
        assert NO_COMMUNE_CHILD not in " ".join(strings(path)), path.name
    assert NO_COMMUNE_CHILD in " ".join(strings(published / "schools" / "TH-06391-th-yen-binh.xlsx"))

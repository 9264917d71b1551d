"""A commune's list counts even when the commune does not know the child's class.

A small district written as xlsx files the way communes keep their lists (no class column; no school column either),
beside a school's list, run through two whole nights: every row that names a child with a birth year or a school
record comes through with its class and where the class came from; only the child with neither is left out, with
its reason; the workbooks and ``explain`` say where a class came from; the second night gives the same answer.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from flows.pipeline import run_night

AS_OF = dt.date(2022, 3, 15)  # school year 2021-2022
SCHOOL_HEADER = ["STT", "Họ và tên", "Ngày sinh", "Lớp", "Thôn", "Họ tên phụ huynh", "Số điện thoại", "Đối tượng",
                 "Chưa có thiết bị", "Chưa có Internet"]
SCHOOL_ROWS = [  # Trường TH Hữu Liên
    [1, "Hoàng Văn Minh", "14/03/2012", "4A", "Bãi Hào", "Hoàng Văn Tuấn", "0912345678", "Hộ nghèo", "x", "x"],
    [2, "Lương Thị Hoa", "02/07/2013", "3B", "Bình Minh", "Lương Văn Sơn", "0987654321", "Hộ cận nghèo", "x", None],
    [3, "Vi Văn Tú", None, "2A", "Còn Cuông", "Vi Văn Hợi", "0912000111", None, "x", "x"],
]
# Xã Hữu Liên draws its list from the household register: child, birth date, parent, village — no class.
COMMUNE_HEADER = ["STT", "Họ và tên", "Ngày sinh", "Giới tính", "Trường", "Thôn", "Họ tên bố/mẹ", "Số điện thoại",
                  "Diện hộ", "Chưa có thiết bị", "Chưa có Internet"]
COMMUNE_ROWS = [
    # on the school's list too: the school's class (4), not the birth year's (4 as well) nor a guess
    [1, "Hoàng Văn Minh", "14/03/2012", "Nam", "TH Hữu Liên", "Bãi Hào", "Hoàng Văn Tuấn", "0912345678", "Hộ nghèo",
     "x", "x"],
    # on the school's list, born early in 2013 but in class 3 there: the school's class wins over the birth year
    [2, "Lương Thị Hoa", "02/07/2013", "Nữ", None, "Bình Minh", "Lương Văn Sơn", "0987654321", "Hộ cận nghèo",
     "x", None],
    # no birth date here, on the school's list with the same parent, phone and village: the school's class
    [3, "Vi Văn Tú", None, "Nam", None, "Còn Cuông", "Vi Văn Hợi", "0912000111", None, "x", "x"],
    # only the commune knows these children
    [4, "Nông Thị Lan", "05/01/2010", "Nữ", None, "Đồng Giang", "Nông Văn Bảy", None, "Hộ nghèo", "x", "x"],  # 6
    [5, "Triệu Văn Sáng", "07/11/2006", "Nam", None, "Làng Mới", "Triệu Văn Sinh", None, "Hộ nghèo", "x", "x"],  # 10
    [6, "Đinh Thị Mơ", None, "Nữ", None, "Hố Cát", "Đinh Văn Tâm", None, "Hộ nghèo", "x", None],  # nothing to go by
    [7, "Lý Văn Hùng", "2015", "Nam", None, "Làng Trang", "Lý Văn Cường", None, None, None, "x"],  # year only: 1
]
# Xã Yên Bình: neither class nor school.
PLAIN_HEADER = ["TT", "Họ tên", "Năm sinh", "Thôn", "Phụ huynh", "Hộ nghèo", "Hộ cận nghèo", "Chưa có máy tính",
                "Chưa có mạng"]
PLAIN_ROWS = [
    [1, "Hà Văn Lộc", 2009, "Khuôn Nang", "Hà Văn Tiến", "x", None, "x", "x"],  # grade 7
    [2, "Mông Thị Hiền", 2014, "Cầu Ngầm", "Mông Văn Lợi", None, "x", "x", None],  # grade 2
]


# Xã Quyết Thắng keeps its list by household: the household's row (head, village, category, needs), then its
# children; one household writes its two children in one cell.
HOUSEHOLD_HEADER = ["STT", "Họ tên chủ hộ", "Họ tên con", "Ngày sinh", "Thôn", "Diện hộ", "Chưa có thiết bị",
                    "Chưa có Internet"]
HOUSEHOLD_ROWS = [
    [1, "Hà Văn Dũng", None, None, "Nà Lừa", "Hộ nghèo", "x", "x"],
    [None, None, "Hà Văn Long", "15/06/2012", None, None, None, None],  # on the school's list: class 4A
    [None, None, "Hà Thị Lan", "20/10/2016", None, None, None, None],  # not yet at school
    [2, "Mông Văn Lợi", "Mông Thị Huyền\nMông Văn Hải", "01/02/2008\n03/03/2013", "Bến Lường", "Hộ cận nghèo", "x",
     None],
]
QUYET_THANG_SCHOOL = [[1, "Hà Văn Long", "15/06/2012", "4A", "Nà Lừa", "Hà Văn Dũng", None, "Hộ nghèo", "x", "x"]]


def write_list(path: Path, title: list[str], header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Danh sách"
    for line in title:
        ws.append([line])
    ws.append([])
    ws.append(header)
    for row in rows:
        ws.append(row)
    ws.append([])
    ws.append([None, None, None, None, "TM. UBND XÃ"])
    wb.save(path)
    return path


def build_district(src: Path) -> Path:
    write_list(src / "truong" / "TH Huu Lien.xlsx", ["TRƯỜNG TH HỮU LIÊN", "DANH SÁCH HỌC SINH"], SCHOOL_HEADER,
               SCHOOL_ROWS)
    write_list(src / "xa" / "UBND xa Huu Lien.xlsx", ["UBND XÃ HỮU LIÊN", "DANH SÁCH TRẺ EM THIẾU THIẾT BỊ HỌC TẬP"],
               COMMUNE_HEADER, COMMUNE_ROWS)
    write_list(src / "xa" / "UBND xa Yen Binh.xlsx", ["UBND XÃ YÊN BÌNH", "DANH SÁCH HỌC SINH CẦN HỖ TRỢ"],
               PLAIN_HEADER, PLAIN_ROWS)
    write_list(src / "truong" / "TH Quyet Thang.xlsx", ["TRƯỜNG TH QUYẾT THẮNG", "DANH SÁCH HỌC SINH"], SCHOOL_HEADER,
               QUYET_THANG_SCHOOL)
    write_list(src / "xa" / "UBND xa Quyet Thang - theo ho.xlsx", ["UBND XÃ QUYẾT THẮNG", "DANH SÁCH THEO HỘ"],
               HOUSEHOLD_HEADER, HOUSEHOLD_ROWS)
    return src


def _read(run: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(run / "exports" / name, dtype=str, keep_default_na=False)


# the tests share module fixtures (whole nights): one xdist worker runs them all, and the nights once
pytestmark = pytest.mark.xdist_group("commune-class")


@pytest.fixture(scope="module")
def nights(tmp_path_factory, cfg):
    base = tmp_path_factory.mktemp("commune-class")
    src = build_district(base / "src")
    url = f"sqlite:///{base}/ledger.db"
    _, run1 = run_night(src, cfg, base / "out", AS_OF, ledger_url=url)
    _, run2 = run_night(src, cfg, base / "out", AS_OF, ledger_url=url)
    return {"run1": run1, "run2": run2, "src": src, "base": base}


def _rows(run: Path, file: str) -> dict[int, dict]:
    st = _read(run, "students.csv")
    return {int(r["source_row"]): r for r in st[st["source_file"] == file].to_dict("records")}


def test_no_commune_row_is_rejected_for_its_class(nights):
    st = _read(nights["run1"], "students.csv")
    assert (st["status"] == "rejected").sum() == 0
    issues = _read(nights["run1"], "issues.csv")
    assert issues[issues["severity"] == "error"].empty
    assert "grade_valid" not in set(issues["rule"])


def test_each_class_comes_from_the_school_record_else_the_birth_year(nights):
    rows = _rows(nights["run1"], "xa/UBND xa Huu Lien.xlsx")
    got = {rows[r]["full_name"]: (rows[r]["grade"], rows[r]["grade_source"], rows[r]["grade_resolved"],
                                  rows[r]["status"], rows[r]["reason"]) for r in rows}
    assert got["Hoàng Văn Minh"][:3] == ("4", "school_record", "4")
    assert got["Lương Thị Hoa"][:3] == ("3", "school_record", "3")
    assert got["Vi Văn Tú"][:3] == ("2", "school_record", "2")  # linked with no birth date, no class, no school
    assert got["Nông Thị Lan"][:4] == ("6", "birth_year", "6", "waitlisted")
    assert got["Lý Văn Hùng"][:4] == ("1", "birth_year", "1", "waitlisted")
    # born 2006: grade 10 by age, so excluded as any grade-10 child; the contract's grade column stays 1-9
    assert got["Triệu Văn Sáng"] == ("", "birth_year", "10", "excluded", "grade_out_of_range")
    # no class, no birth date, on no school's list: the only child left out for want of a class
    assert got["Đinh Thị Mơ"] == ("", "", "", "excluded", "grade_unknown")
    plain = _rows(nights["run1"], "xa/UBND xa Yen Binh.xlsx")
    assert {r["full_name"]: (r["grade"], r["grade_source"], r["status"]) for r in plain.values()} == {
        "Hà Văn Lộc": ("7", "birth_year", "waitlisted"), "Mông Thị Hiền": ("2", "birth_year", "waitlisted")}
    school = _rows(nights["run1"], "truong/TH Huu Lien.xlsx")
    assert {r["grade_source"] for r in school.values()} == {"list"}
    # one child per pair of rows: the commune record is linked to the school's on name, birth, parent, village
    st = _read(nights["run1"], "students.csv")
    for name in ("Hoàng Văn Minh", "Lương Thị Hoa", "Vi Văn Tú"):
        assert st.loc[st["full_name"] == name, "person_id"].nunique() == 1


def test_a_list_kept_by_household_gives_one_row_per_child(nights):
    st = _read(nights["run1"], "students.csv")
    mine = st[st["source_file"] == "xa/UBND xa Quyet Thang - theo ho.xlsx"]
    got = [(int(r["source_row"]), r["full_name"], r["guardian_name"], r["village"], r["category"], r["grade"],
            r["grade_source"], r["status"]) for r in mine.to_dict("records")]
    assert got == [
        (6, "Hà Văn Long", "Hà Văn Dũng", "Thôn Nà Lừa", "poor", "4", "school_record", "waitlisted"),
        (7, "Hà Thị Lan", "Hà Văn Dũng", "Thôn Nà Lừa", "poor", "", "birth_year", "excluded"),
        (8, "Mông Thị Huyền", "Mông Văn Lợi", "Thôn Bến Lường", "near_poor", "8", "birth_year", "waitlisted"),
        (8, "Mông Văn Hải", "Mông Văn Lợi", "Thôn Bến Lường", "near_poor", "3", "birth_year", "waitlisted"),
    ]
    # the head of household is nobody's child here, and the commune's child is the school's
    assert "Hà Văn Dũng" not in set(st["full_name"]) and "Mông Văn Lợi" not in set(st["full_name"])
    assert st.loc[st["full_name"] == "Hà Văn Long", "person_id"].nunique() == 1


def test_the_commune_is_asked_to_confirm_a_class_only_where_it_matters(nights):
    issues = _read(nights["run1"], "issues.csv")
    mine = issues[issues["source_file"] == "xa/UBND xa Huu Lien.xlsx"]
    grade_rules = mine[mine["rule"].str.startswith("grade")]
    rows = _rows(nights["run1"], "xa/UBND xa Huu Lien.xlsx")
    by_name = {rows[int(r)]["full_name"]: (rule, sev) for r, rule, sev in
               zip(grade_rules["source_row"], grade_rules["rule"], grade_rules["severity"])}
    assert by_name == {"Triệu Văn Sáng": ("grade_inferred_out_of_range", "warning"),
                       "Đinh Thị Mơ": ("grade_unknown", "warning")}
    confirm = grade_rules[grade_rules["rule"] == "grade_inferred_out_of_range"].iloc[0]
    assert confirm["column"] == "Ngày sinh" and "2006" in confirm["message"] and "ghi lớp" in confirm["message"]


def test_workbooks_say_where_the_class_came_from(nights):
    run = nights["run1"]
    (commune_book,) = (run / "communes").glob("06388-*.xlsx")
    wb = openpyxl.load_workbook(commune_book, read_only=True)
    assert "Lớp chưa ghi" in wb.sheetnames
    cells = [tuple(row) for row in wb["Lớp chưa ghi"].iter_rows(values_only=True)]
    header = next(i for i, row in enumerate(cells) if row[0] == "STT")
    table = {row[2]: row for row in cells[header + 1:] if isinstance(row[0], (int, float))}
    assert table["Nông Thị Lan"][6:8] == (6, "Lớp suy ra từ năm sinh")
    assert table["Hoàng Văn Minh"][6:8] == (4, "Lớp theo danh sách của trường")
    assert table["Đinh Thị Mơ"][7] == "Chưa xác định được lớp"
    assert "Không xác định được lớp" in table["Đinh Thị Mơ"][9]
    assert table["Triệu Văn Sáng"][6:10] == (10, "Lớp suy ra từ năm sinh", "Không đủ điều kiện", "Không thuộc lớp 1-9")
    assert all(n not in table for n in ("Hà Văn Lộc", "Mông Thị Hiền"))  # another commune's children
    # the school's workbook has no such sheet: its list wrote every class
    (school_book,) = (run / "schools").glob("TH-06388*.xlsx")
    assert "Lớp chưa ghi" not in openpyxl.load_workbook(school_book, read_only=True).sheetnames


def test_explain_says_the_class_was_inferred(nights):
    from flows.publishing.explain import explain_student

    assert "lớp 6 (lớp suy ra từ năm sinh)" in explain_student("Nông Thị Lan", nights["run1"])
    assert "lớp 4 (lớp theo danh sách của trường)" in explain_student("Hoàng Văn Minh", nights["run1"])
    assert "lớp chưa xác định được" in explain_student("Đinh Thị Mơ", nights["run1"])


def test_the_second_night_gives_the_same_answer(nights):
    for name in ("students.csv", "issues.csv", "allocations.csv"):
        first, second = _read(nights["run1"], name), _read(nights["run2"], name)
        pd.testing.assert_frame_equal(first, second)


# --- A generated district whose commune lists lost their class column ------------------------------------------
_CLASS_HEADERS = {"lớp", "khối lớp", "lớp học", "khối", "học lớp"}


def blank_class_columns(folder: Path) -> int:
    """Blank the class column (header and cells) of every commune list in ``folder``: as a commune that does not
    know its children's classes would send them. Returns how many columns were blanked."""
    from openpyxl.cell.cell import MergedCell

    blanked = 0
    for path in sorted(folder.glob("*.xlsx")):
        wb = openpyxl.load_workbook(path)
        for ws in wb.worksheets:
            for row in ws.iter_rows(min_row=1, max_row=15):
                for cell in row:
                    if isinstance(cell, MergedCell) or not isinstance(cell.value, str) \
                            or " ".join(cell.value.lower().split()) not in _CLASS_HEADERS:
                        continue
                    for r in range(cell.row, ws.max_row + 1):
                        below = ws.cell(row=r, column=cell.column)
                        if not isinstance(below, MergedCell):
                            below.value = None
                    blanked += 1
        wb.save(path)
    return blanked


@pytest.fixture(scope="module")
def district(tmp_path_factory, cfg):
    """The sample district as generated, and the same district with no class in any commune list; one night each
    (the second twice)."""
    import shutil

    from samples.generate import generate

    base = tmp_path_factory.mktemp("no-class-district")
    generate(base / "with", seed=2021, scale=0.1)
    shutil.copytree(base / "with", base / "without")
    assert blank_class_columns(base / "without" / "xa") >= 20
    runs = {}
    for name in ("with", "without"):
        _, runs[name] = run_night(base / name, cfg, base / f"out-{name}", AS_OF, ledger_url=f"sqlite:///{base}/{name}.db")
    _, runs["again"] = run_night(base / "without", cfg, base / "out-without", AS_OF,
                                 ledger_url=f"sqlite:///{base}/without.db")
    return runs


def test_a_district_without_classes_in_its_commune_lists_loses_no_child(district):
    with_class, without = _read(district["with"], "students.csv"), _read(district["without"], "students.csv")
    key = ["source_file", "source_sheet", "source_row"]
    both = with_class.merge(without, on=key, suffixes=("_with", "_without"))
    assert len(both) == len(with_class) == len(without)
    # the same rows rejected: only for what is wrong with them, never for a class the commune did not write
    assert set(both.loc[both["status_without"] == "rejected", "reason_without"]) <= {
        "name_present", "date_valid", "need_marked", "commune_in_district", "commune_missing"}
    assert (both["status_with"] == "rejected").sum() == (both["status_without"] == "rejected").sum()
    # the same children: every commune record joins the school record it joined when the class was written
    pairs = both[both["person_id_with"] != ""]
    assert pairs.groupby("person_id_with")["person_id_without"].nunique().max() == 1
    assert pairs.groupby("person_id_without")["person_id_with"].nunique().max() == 1
    commune = both[both["source_file"].str.startswith("xa/") & (both["status_without"] != "rejected")]
    assert set(commune["grade_source_without"]) <= {"school_record", "birth_year"}
    assert (commune["grade_source_without"] == "school_record").mean() > 0.5
    # a commune-only child keeps its class when its birth year says it (the generator makes 4 % late)
    only = commune[commune["grade_source_without"] == "birth_year"]
    assert (only["grade_without"] == only["grade_with"]).mean() > 0.9
    # eligible with the class, not eligible without it: only a child whose birth year puts it outside 1-9
    lost = both[both["status_with"].isin(["allocated", "waitlisted"]) & (both["status_without"] == "excluded")]
    assert set(lost["reason_without"]) <= {"grade_out_of_range"}
    assert set(lost["grade_source_without"]) <= {"birth_year"}
    issues = _read(district["without"], "issues.csv")
    warned = set(zip(issues.loc[issues["rule"] == "grade_inferred_out_of_range", "source_file"],
                     issues.loc[issues["rule"] == "grade_inferred_out_of_range", "source_row"]))
    assert set(zip(lost["source_file"], lost["source_row"])) <= warned


def test_the_district_without_classes_gives_the_same_answer_the_next_night(district):
    for name in ("students.csv", "issues.csv", "allocations.csv"):
        pd.testing.assert_frame_equal(_read(district["without"], name), _read(district["again"], name))

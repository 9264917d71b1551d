import datetime as dt

from flows.rules.validate import validate_students
from tests.helpers import students

AS_OF = dt.date(2022, 3, 1)


def _by_rule(issues):
    out = {}
    for i in issues:
        out.setdefault(i.rule, []).append(i)
    return out


def test_clean_rows_pass(cfg):
    df, issues = validate_students(students({"full_name": "Nguyễn Văn An"}, {"full_name": "Lê Thị Bình"}), {}, cfg,
                                   AS_OF)
    assert issues == []
    assert list(df["row_status"]) == ["ok", "ok"]
    assert list(df["exclusion"]) == ["", ""]


def test_each_rule_reports_row_column_and_vietnamese_message(cfg):
    rows = students(
        {"full_name": ""},  # 8 name missing -> error
        {"full_name": "Trần Văn Cường", "date_of_birth": "", "birth_year": None, "raw_date_of_birth": "32/13/2012"},
        {"full_name": "Phạm Thị Dung", "grade": 11},  # 10 out of range -> warning + excluded
        {"full_name": "Hoàng Văn Em", "lacks_device": False, "lacks_internet": False},  # 11 no need -> error
        {"full_name": "Vũ Thị Gấm", "raw_category": "Gia đình chính sách", "category": "none"},  # 12 warning
        {"full_name": "Đỗ Văn Hải", "commune_code": "", "commune": "", "raw_commune": "Xã Tân Lập"},  # 13 error
        {"full_name": "Bùi Thị Lan", "phone": "12345"},  # 14 phone warning
        {"full_name": "Ngô Văn Minh", "village": "Thôn Không Có", "raw_village": "Thôn Không Có"},  # 15 warning
        {"full_name": "Lý Thị Nga", "date_of_birth": "2005-01-01", "birth_year": 2005},  # 16 age/grade warning
    )
    headers = {("truong/a.xlsx", "DS"): {"full_name": "HỌ VÀ TÊN", "date_of_birth": "Ngày, tháng, năm sinh"}}
    df, issues = validate_students(rows, headers, cfg, AS_OF)
    rules = _by_rule(issues)
    assert [(i.source_row, i.column, i.severity) for i in rules["name_present"]] == [(8, "HỌ VÀ TÊN", "error")]
    bad_date = rules["date_valid"][0]
    assert (bad_date.source_row, bad_date.column) == (9, "Ngày, tháng, năm sinh")
    assert "32/13/2012" in bad_date.message
    assert rules["grade_in_range"][0].source_row == 10 and rules["grade_in_range"][0].severity == "warning"
    assert rules["need_marked"][0].source_row == 11
    assert rules["category_in_domain"][0].source_row == 12
    assert rules["commune_in_district"][0].source_row == 13
    assert rules["phone_valid"][0].source_row == 14
    assert rules["village_in_commune"][0].source_row == 15
    assert [i.source_row for i in rules["age_grade_consistent"]] == [16]
    status = dict(zip(df["source_row"], df["row_status"]))
    assert [status[r] for r in (8, 9, 10, 11, 12, 13, 14, 15, 16)] == [
        "rejected", "rejected", "ok", "rejected", "ok", "rejected", "ok", "ok", "ok"]
    assert dict(zip(df["source_row"], df["exclusion"]))[10] == "grade_out_of_range"
    for issue in issues:
        assert issue.message and issue.source_file == "truong/a.xlsx" and issue.source_sheet == "DS"


def test_repeated_row_in_same_sheet_is_duplicate(cfg):
    rows = students({"full_name": "Nguyễn Văn An"}, {"full_name": "Lê Thị Bình"}, {"full_name": "NGUYỄN VĂN AN"})
    df, issues = validate_students(rows, {}, cfg, AS_OF)
    assert list(df["row_status"]) == ["ok", "ok", "duplicate"]
    assert df["duplicate_of"].iloc[2] == 8
    dup = [i for i in issues if i.rule == "duplicate_in_sheet"]
    assert len(dup) == 1 and dup[0].source_row == 10 and "8" in dup[0].message


def test_formula_like_text_is_flagged_not_executed(cfg):
    rows = students({"full_name": "Nguyễn Văn An", "guardian_name": "=HYPERLINK(1)",
                     "raw_guardian_name": "=HYPERLINK(1)", "formula_like": ["guardian_name"]})
    df, issues = validate_students(rows, {}, cfg, AS_OF)
    assert [i.rule for i in issues] == ["formula_like_text"]
    assert df["row_status"].iloc[0] == "ok"


def test_namesakes_in_one_class_with_other_parents_are_not_duplicates(cfg):
    rows = students({"full_name": "Nguyễn Văn Nam", "date_of_birth": "", "birth_year": None, "guardian_name": "Nguyễn Văn Hùng"},
                    {"full_name": "Nguyễn Văn Nam", "date_of_birth": "", "birth_year": None, "guardian_name": "Lê Thị Mai"})
    df, issues = validate_students(rows, {}, cfg, AS_OF)
    assert list(df["row_status"]) == ["ok", "ok"]
    assert not [i for i in issues if i.rule == "duplicate_in_sheet"]


def test_commune_unknown_versus_outside_the_district(cfg):
    rows = students({"full_name": "Đỗ Văn Hải", "commune_code": "", "commune": "", "raw_commune": "Xã Quang Lang"},
                    {"full_name": "Đỗ Văn Hà", "commune_code": "", "commune": "", "raw_commune": ""})
    df, issues = validate_students(rows, {}, cfg, AS_OF)
    got = {(i.source_row, i.rule) for i in issues}
    assert got == {(8, "commune_in_district"), (9, "commune_missing")}
    assert "Quang Lang" in next(i.message for i in issues if i.rule == "commune_in_district")
    assert list(df["row_status"]) == ["rejected", "rejected"]


def test_age_band_comes_from_rules_yaml(cfg):
    # Grade 3 in school year 2021-22: typical birth year 2013. Born 2010 is 3 years older: inside the shipped band
    # (above: 3), outside a stricter one.
    rows = students({"full_name": "Nguyễn Văn An", "date_of_birth": "2010-05-05", "birth_year": 2010, "grade": 3})
    _, issues = validate_students(rows, {}, cfg, AS_OF)
    assert cfg.rules.age_band.above == 3 and issues == []
    strict = cfg.model_copy(update={"rules": cfg.rules.model_copy(
        update={"age_band": cfg.rules.age_band.model_copy(update={"above": 2})})})
    _, issues = validate_students(rows, {}, strict, AS_OF)
    assert [(i.rule, i.severity) for i in issues] == [("age_grade_consistent", "warning")]


def test_a_name_that_is_a_formula_rejects_the_row(cfg):
    formulas = ["=1+1", '=HYPERLINK("http://x.example","An")', "@SUM(A1)", "+A1*2", "-2+3"]
    rows = students(*({"full_name": f.title(), "raw_full_name": f, "formula_like": ["full_name"]} for f in formulas),
                    {"full_name": "Nguyễn Văn An", "raw_full_name": "- Nguyễn Văn An"})  # a list dash, a child
    df, issues = validate_students(rows, {("truong/a.xlsx", "DS"): {"full_name": "Họ và tên"}}, cfg, AS_OF)
    formula = [i for i in issues if i.rule == "formula_in_name"]
    assert [i.source_row for i in formula] == [8, 9, 10, 11, 12]
    assert {(i.severity, i.column) for i in formula} == {("error", "Họ và tên")}
    assert "công thức" in formula[0].message and "=1+1" in formula[0].message
    assert list(df["row_status"]) == ["rejected"] * 5 + ["ok"]
    # one issue says what is wrong: no "looks like a formula" warning nor "name incomplete" on the same cell
    assert not [i for i in issues if i.rule in {"formula_like_text", "name_plausible"} and i.source_row < 13]


def test_twins_whose_names_differ_only_by_a_mark_are_two_rows_not_a_repeat(cfg):
    """Twins share every field but the name: "Thủy" and "Thúy" written with marks are two children; a row typed
    without marks repeats any marked spelling of its letters."""
    rows = students({"full_name": "Nông Thị Thủy"}, {"full_name": "Nông Thị Thúy"}, {"full_name": "NONG THI THUY"},
                    {"full_name": "Nông  Thị  Thúy"})
    df, issues = validate_students(rows, {}, cfg, AS_OF)
    assert list(df["row_status"]) == ["ok", "ok", "duplicate", "duplicate"]
    assert list(df["duplicate_of"].iloc[2:]) == [8, 9]
    assert [i.source_row for i in issues if i.rule == "duplicate_in_sheet"] == [10, 11]


def test_a_missing_need_points_at_the_column_the_sheet_asks_it_in(cfg):
    """A form that asks "Có máy tính?" (or only has a "Nhu cầu" column) gets the need_marked issue on that column,
    not on a "Chưa có thiết bị" column it does not have."""
    from flows.rules.validate import header_label

    has_form = {("a.xlsx", "S"): {"full_name": "Họ và tên", "has_device": "Có máy tính?", "has_internet": "Có Internet?"}}
    need_form = {("a.xlsx", "S"): {"full_name": "Họ và tên", "need": "Nhu cầu hỗ trợ"}}
    assert header_label(has_form, cfg, "a.xlsx", "S", "lacks_device") == "Có máy tính?"
    assert header_label(has_form, cfg, "a.xlsx", "S", "lacks_internet") == "Có Internet?"
    assert header_label(need_form, cfg, "a.xlsx", "S", "lacks_device") == "Nhu cầu hỗ trợ"
    assert header_label({}, cfg, "a.xlsx", "S", "lacks_device") == "Chưa có thiết bị"

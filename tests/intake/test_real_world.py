"""The real-world corpus (tests/fixtures/real_world): every genuine row found at the row number the school sees,
nothing else taken for a student, every field as expected, and exactly the expected issues."""

from __future__ import annotations

import yaml
import pytest

from flows.rules.checkfile import check_file
from tests.fixtures.real_world import build
from tests.fixtures.real_world.score import HERE, score_file

FIXTURES = build.corpus()


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("real_world")
    build.write_all(out)
    return out


def test_corpus_is_varied():
    suffixes = {fx.name.rsplit(".", 1)[1] for fx in FIXTURES}
    assert {"xlsx", "xls", "ods", "csv"} <= suffixes
    assert len(FIXTURES) >= 12
    assert {fx.encoding for fx in FIXTURES if fx.name.endswith(".csv")} >= {"utf-8-sig", "cp1258", "utf-16"}


@pytest.mark.parametrize("fx", FIXTURES, ids=[fx.name for fx in FIXTURES])
def test_expected_file_matches_the_spec(fx):
    on_disk = yaml.safe_load((HERE / "expected" / f"{fx.name}.yaml").read_text(encoding="utf-8"))
    assert on_disk == build.expected(fx), "run: python tests/fixtures/real_world/build.py --expected"


@pytest.mark.parametrize("fx", FIXTURES, ids=[fx.name for fx in FIXTURES])
def test_file_gives_the_expected_records_and_issues(fx, corpus_dir, cfg):
    spec = yaml.safe_load((HERE / "expected" / f"{fx.name}.yaml").read_text(encoding="utf-8"))
    score = score_file(corpus_dir / fx.name, spec, cfg, build.AS_OF)
    assert score.found_rows == score.expected_rows, score.mismatches
    assert score.spurious_rows == []
    assert score.mismatches == []
    assert score.missing_issues == []
    assert score.unexpected_issues == []


def test_issues_cite_the_school_column_and_speak_vietnamese(corpus_dir, cfg):
    report = check_file(corpus_dir / "thcs-cai-kinh-loi.xlsx", cfg, build.AS_OF)
    by_rule = {i.rule: i for i in report.issues}
    assert by_rule["formula_like_text"].column == "Họ tên phụ huynh"
    assert "giống công thức" in by_rule["formula_like_text"].message
    assert "(" in by_rule["text_too_long"].message and "ký tự" in by_rule["text_too_long"].message
    assert "dòng 3" in by_rule["duplicate_in_sheet"].message
    assert "31/02/2009" in by_rule["date_valid"].message
    # the formula-looking guardian name is kept literally, not evaluated nor dropped
    row = report.students[report.students["source_row"] == 10].iloc[0]
    assert row["guardian_name"] == "=Hà Văn Dũng"


@pytest.mark.parametrize("name, words", [
    ("mat-khau.xlsx", "mật khẩu"), ("trang-web.xlsx", "HTML"), ("hong.xlsx", "bị hỏng"),
])
def test_unreadable_files_get_one_clear_issue(name, words, corpus_dir, cfg):
    report = check_file(corpus_dir / name, cfg, build.AS_OF)
    assert [i.rule for i in report.issues] == ["unreadable_file"]
    assert words in report.issues[0].message
    assert report.issues[0].severity == "error"


def test_validate_command_prints_sheets_unit_and_issue_table(corpus_dir):
    from typer.testing import CliRunner

    from flows.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["validate", str(corpus_dir / "th-huu-lien-khoi-3.xlsx"), "--as-of", "2021-12-01"],
                        env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "Hướng dẫn: không có bảng danh sách, bỏ qua" in res.output and "Sheet2: trống" in res.output
    assert "DS lớp 3: 5 dòng học sinh" in res.output and "Trường TH Hữu Liên" in res.output
    assert "0 lỗi, 1 cảnh báo" in res.output and "bị ẩn" in res.output  # the row hidden by hand
    out = corpus_dir.parent / "phan-hoi.xlsx"
    res = runner.invoke(app, ["validate", str(corpus_dir / "thcs-cai-kinh-loi.xlsx"), "--as-of", "2021-12-01",
                              "--feedback", str(out)], env={"COLUMNS": "200"})
    assert res.exit_code == 1  # errors: the file needs fixing
    lines = [line for line in res.output.splitlines() if "31/02/2009" in line]
    assert lines and "│ 5 " in lines[0] and "Ngày sinh" in lines[0] and "Lỗi" in lines[0]
    # the clerk's copy of the feedback: issues, and the rows with the bad date cell red and noted
    import openpyxl

    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Phản hồi", "Dòng đã gửi"]
    assert [c.value for c in wb["Phản hồi"][4]][2:5] == [4, "Họ và tên", "Lỗi"]
    bad = [c for row in wb["Dòng đã gửi"].iter_rows() for c in row if c.value == "31/02/2009"]
    assert bad and bad[0].fill.fgColor.rgb.endswith("FFC7CE") and "ngày/tháng/năm" in bad[0].comment.text

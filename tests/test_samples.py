"""The bundled sample district: deterministic, complete, realistic enough, and its truth file is exact."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from flows.config import load_config
from flows.text import fold
from samples.generate import CAT_GROUP_LABELS, NEED_GROUP_LABELS, TRUTH_COLUMNS, generate, main

SMALL = 0.05
GROUP_LABELS = {fold(x) for x in [*CAT_GROUP_LABELS, *NEED_GROUP_LABELS, "Giới tính", "Hiện trạng", "Ngày sinh",
                                  "Ngày, tháng, năm sinh"]}
BAD_KINDS = {"missing_name", "bad_date", "grade_out_of_range", "no_need", "bad_category", "duplicate_row",
             "formula_text"}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    base = tmp_path_factory.mktemp("sample")
    truth = base / "truth.csv"
    counts = generate(base / "huu-lung", seed=7, scale=SMALL, truth=truth)
    return base / "huu-lung", truth, counts


def _digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _read_csv_text(path: Path) -> str:
    data = path.read_bytes()
    if data.startswith(b"\xff\xfe"):
        return data[2:].decode("utf-16-le")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    return data.decode("utf-8")


def _grids(path: Path) -> dict[str, list[list]]:
    """Sheet name -> rows (rows[0] is spreadsheet row 1), as the sources stage would read them."""
    if path.suffix == ".csv":
        text = _read_csv_text(path)
        delimiter = max(",;\t", key=lambda d: text.splitlines()[0].count(d) + text.count(d))
        return {"": [list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]}
    wb = CalamineWorkbook.from_path(str(path))
    return {n: wb.get_sheet_by_name(n).to_python(skip_empty_area=False) for n in wb.sheet_names}


def _truth(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_same_seed_gives_byte_identical_files(small: tuple[Path, Path, dict], tmp_path: Path) -> None:
    out, truth, counts = small
    again = generate(tmp_path / "again", seed=7, scale=SMALL, truth=tmp_path / "truth.csv")
    assert _digests(tmp_path / "again") == _digests(out)
    assert (tmp_path / "truth.csv").read_bytes() == truth.read_bytes()
    assert again == counts


def test_another_seed_gives_other_children(small: tuple[Path, Path, dict], tmp_path: Path) -> None:
    generate(tmp_path / "other", seed=8, scale=SMALL, truth=tmp_path / "truth.csv")
    names_7 = {r["full_name"] for r in _truth(small[1])}
    names_8 = {r["full_name"] for r in _truth(tmp_path / "truth.csv")}
    assert len(names_7 & names_8) < 0.5 * len(names_7)


def test_only_the_owned_folders_are_replaced(tmp_path: Path) -> None:
    out = tmp_path / "huu-lung"
    keep = out / "ban-giao" / "So ban giao.xlsx"
    keep.parent.mkdir(parents=True)
    keep.write_bytes(b"officer's file")
    stale = out / "truong" / "old list.xlsx"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"stale")
    generate(out, seed=1, scale=0.02)
    assert keep.read_bytes() == b"officer's file"
    assert not stale.exists()
    assert sorted(p.name for p in out.iterdir()) == ["ban-giao", "dieu-chinh", "ha-tang", "tai-tro", "theo-doi",
                                                     "truong", "xa"]
    # officer folders: the generator rewrites only its own sample file there
    assert sorted(p.name for p in (out / "ban-giao").iterdir()) == ["So ban giao thiet bi (mau).xlsx",
                                                                    "So ban giao.xlsx"]


def test_every_school_and_commune_sends_one_identifiable_file(small: tuple[Path, Path, dict]) -> None:
    out, truth, counts = small
    cfg = load_config()
    rows = _truth(truth)
    assert len(list((out / "truong").iterdir())) == len(cfg.district.schools) == counts["schools"] == 46
    assert len(list((out / "xa").iterdir())) == len(cfg.district.communes) == counts["communes"] == 23
    file_of: dict[str, set[str]] = {}
    for r in rows:
        file_of.setdefault(r["unit_code"], set()).add(r["source_file"])
    assert set(file_of) == {s.code for s in cfg.district.schools} | {c.code for c in cfg.district.communes}
    assert all(len(files) == 1 for files in file_of.values())

    def visible_text(rel: str) -> str:
        grids = _grids(out / rel)
        head = " ".join(str(v) for rows_ in grids.values() for row in rows_[:8] for v in row if v not in ("", None))
        return f" {fold(Path(rel).stem)} {fold(head)} "

    for s in cfg.district.schools:
        place = s.name.split(" ", 2)[-1]
        word = {"TH": "Tiểu học", "THCS": "Trung học cơ sở"}[s.level]
        text = visible_text(next(iter(file_of[s.code])))
        assert any(f" {fold(v)} " in text for v in (f"{s.level} {place}", f"{word} {place}")), (s.code, text[:200])
    for c in cfg.district.communes:
        text = visible_text(next(iter(file_of[c.code])))
        assert f" {fold(c.name)} " in text, (c.code, text[:200])


def test_workbooks_open_with_calamine_and_openpyxl(small: tuple[Path, Path, dict]) -> None:
    out = small[0]
    xlsx = sorted(out.rglob("*.xlsx"))
    assert len(xlsx) >= 46 + 23 + 2 - 4
    for path in xlsx:
        wb = CalamineWorkbook.from_path(str(path))
        names = wb.sheet_names
        assert names and all(isinstance(wb.get_sheet_by_name(n).to_python(), list) for n in names)
        book = openpyxl.load_workbook(path)
        assert book.sheetnames == names
    csvs = sorted(out.rglob("*.csv"))
    assert 3 <= len(csvs) <= 4
    starts = Counter()
    for path in csvs:
        data = path.read_bytes()
        starts["utf16"] += data.startswith(b"\xff\xfe")
        starts["bom"] += data.startswith(b"\xef\xbb\xbf")
        starts["plain"] += not data.startswith((b"\xff\xfe", b"\xef\xbb\xbf"))
        assert max(len(r) for r in _grids(path)[""]) >= 6
    assert starts["utf16"] >= 1 and starts["bom"] >= 1 and starts["plain"] >= 1


def test_headers_vary_between_one_row_and_merged_two_row(small: tuple[Path, Path, dict]) -> None:
    out = small[0]
    merged_files = single_files = 0
    for path in sorted((out / "truong").glob("*.xlsx")) + sorted((out / "xa").glob("*.xlsx")):
        book = openpyxl.load_workbook(path)
        ws = next(w for w in book.worksheets if w.max_row > 8)  # skip a "Hướng dẫn" sheet placed first
        two_row = False
        for rng in ws.merged_cells.ranges:
            top = ws.cell(rng.min_row, rng.min_col).value
            below = ws.cell(rng.min_row + 1, rng.min_col).value
            if rng.min_row == rng.max_row and rng.max_col > rng.min_col and fold(top) in GROUP_LABELS and below:
                two_row = True
        merged_files += two_row
        single_files += not two_row
    assert merged_files >= 5
    assert single_files >= 5


def test_truth_rows_point_at_the_rows_that_name_the_child(small: tuple[Path, Path, dict]) -> None:
    out, truth, counts = small
    rows = _truth(truth)
    with truth.open(encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == TRUTH_COLUMNS
    assert len(rows) == counts["student_rows"] == counts["school_rows"] + counts["commune_rows"]
    assert len({(r["source_file"], r["source_sheet"], r["source_row"]) for r in rows}) == len(rows)
    grids: dict[str, dict[str, list[list]]] = {}
    for r in rows:
        grid = grids.setdefault(r["source_file"], _grids(out / r["source_file"]))
        cells = [c for c in grid[r["source_sheet"]][int(r["source_row"]) - 1]]
        texts = [c for c in cells if isinstance(c, str)]
        if r["bad"] == "missing_name":
            assert r["name_as_written"] == ""
            assert not any(fold(t) == fold(r["full_name"]) for t in texts)
            continue
        assert r["name_as_written"] in texts, r
        written, true = fold(r["name_as_written"]).split(), fold(r["full_name"]).split()
        assert written[-1] == true[-1] and set(written) <= set(true), r
        if r["list_type"] == "school":
            assert r["school_code"] == r["unit_code"]
        else:
            assert r["commune_code"] == r["unit_code"]


def test_truth_values_are_clean(small: tuple[Path, Path, dict]) -> None:
    cfg = load_config()
    villages = {(c.code, v) for c in cfg.district.communes for v in c.villages}
    for r in _truth(small[1]):
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", r["date_of_birth"])
        assert r["row_date_of_birth"] == "" or re.fullmatch(r"\d{4}-\d{2}-\d{2}", r["row_date_of_birth"])
        assert r["category"] in {"poor", "near_poor", "covid_orphan", "none"}
        assert r["person_category"] in {"poor", "near_poor", "covid_orphan", "none"}
        assert r["lacks_device"] in {"true", "false"} and r["lacks_internet"] in {"true", "false"}
        assert r["bad"] in BAD_KINDS | {""}
        assert (r["commune_code"], r["village"]) in villages
        assert r["phone"] == "" or re.fullmatch(r"0[35789]\d{8}", r["phone"])
        grade = int(r["grade"])
        assert 1 <= grade <= 9 or r["bad"] == "grade_out_of_range"
        if r["bad"] != "no_need":
            assert "true" in (r["lacks_device"], r["lacks_internet"])


def test_donations_ledger_and_connectivity(small: tuple[Path, Path, dict]) -> None:
    out, _, counts = small
    cfg = load_config()
    ledger = _grids(out / "tai-tro" / "So theo doi tai tro.xlsx")
    (rows,) = ledger.values()
    header_at = next(i for i, row in enumerate(rows) if row and row[0] == "STT")
    assert rows[header_at] == ["STT", "Mã", "Nhà tài trợ", "Ngày", "Loại", "Số lượng", "Số tiền (VND)", "Tình trạng",
                               "Dành cho", "Ghi chú"]
    donations = [row for row in rows[header_at + 1:] if re.fullmatch(r"TT-20\d\d-\d{3}", str(row[1]))]
    assert len(donations) == counts["donations"] and 40 <= len(donations) <= 80
    assert {row[7] for row in donations} >= {"Đã nhận", "Cam kết"}
    assert sum(1 for row in donations if row[8]) >= 3

    coverage = _grids(out / "ha-tang" / "Hien trang ha tang vien thong cac thon.xlsx")
    assert len(coverage) == len(cfg.district.communes)
    names = {n for c in cfg.district.communes for v in c.villages for n in (v, v.split(" ", 1)[1])}
    listed = sum(1 for rows_ in coverage.values() for row in rows_ if isinstance(row[0], float) and row[1] in names)
    assert listed == counts["villages"] == sum(len(c.villages) for c in cfg.district.communes)


def test_officer_sheets_name_clean_children_and_real_donations(small: tuple[Path, Path, dict]) -> None:
    out, truth, counts = small
    rows = _truth(truth)
    clean = {(r["full_name"], r["date_of_birth"]) for r in rows if not r["bad"]}
    ledger = _grids(out / "tai-tro" / "So theo doi tai tro.xlsx")
    (donation_rows,) = ledger.values()
    received_devices = {str(r[1]) for r in donation_rows if len(r) > 7 and r[7] in ("Đã nhận", "Đã tiếp nhận")
                        and r[5] not in ("", None)}

    def table(rel: str) -> list[list]:
        (grid,) = _grids(out / rel).values()
        at = next(i for i, row in enumerate(grid) if row and row[0] == "STT")
        return [row for row in grid[at + 1:] if isinstance(row[0], float)]

    handovers = table("ban-giao/So ban giao thiet bi (mau).xlsx")
    assert len(handovers) == counts["handovers"] >= 3
    for row in handovers:  # the child is listed cleanly; the unit comes from a device donation received
        born = row[2].isoformat()[:10]
        assert (row[1], born) in clean and row[6] in received_devices and row[5].startswith("SN")
    checks = table("theo-doi/Theo doi su dung thiet bi (mau).xlsx")
    assert len(checks) == counts["follow_ups"] and {r[5] for r in checks} <= {h[5] for h in handovers}
    overrides = table("dieu-chinh/Dieu chinh phan bo (mau).xlsx")
    assert len(overrides) == counts["overrides"] and {r[4] for r in overrides} <= {
        "Thu hồi", "Loại khỏi danh sách", "Giao thiết bị", "Tạm hoãn"}


def test_cli_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--out", str(tmp_path / "s"), "--scale", "0.02", "--seed", "3", "--truth", str(tmp_path / "t.csv")]
    assert main(args) == 0
    printed = capsys.readouterr().out
    for folder in ("truong/", "xa/", "tai-tro/", "ha-tang/"):
        assert folder in printed
    assert (tmp_path / "t.csv").exists()


def test_full_scale_district(tmp_path: Path) -> None:
    counts = generate(tmp_path / "full", truth=tmp_path / "truth.csv")
    assert 10_000 <= counts["student_rows"] <= 25_000
    assert 8_000 <= counts["school_rows"] <= 10_500
    assert 2_800 <= counts["commune_rows"] <= 4_500
    assert 0.55 <= counts["commune_children_on_school_lists"] / counts["commune_children"] <= 0.75
    assert 0.005 <= counts["bad_rows"] / counts["student_rows"] <= 0.02
    assert 0.05 <= counts["villages_without_coverage"] / counts["villages"] <= 0.16
    assert 40 <= counts["donations"] <= 80 and counts["donations_pledged"] >= 3
    cfg = load_config().district
    cash_units = counts["cash_received_vnd"] * (1 - cfg.cash_internet_share) / cfg.unit_prices["tablet"]
    assert 0.35 <= (counts["devices_received"] + cash_units) / counts["device_need"] <= 0.65

    rows = _truth(tmp_path / "truth.csv")
    assert {r["bad"] for r in rows} == BAD_KINDS | {""}
    variants = Counter(v for r in rows for v in r["variants"].split(";") if v)
    for needed in ("twin", "same_name", "upper", "nfd", "tone_dropped", "middle_dropped", "dob_day_month_swapped",
                   "category_differs", "other_commune"):
        assert variants[needed] > 0, needed
    on_school = {r["true_person"] for r in rows if r["list_type"] == "school"}
    for code in sorted({r["unit_code"] for r in rows if r["list_type"] == "commune"}):
        people = {r["true_person"] for r in rows if r["unit_code"] == code}
        assert 0.45 <= len(people & on_school) / len(people) <= 0.85, code
    # A commune's category disagrees with the school's now and then, never wholesale.
    school_cat = {r["true_person"]: r["category"] for r in rows if r["list_type"] == "school" and not r["bad"]}
    pairs = [(school_cat[r["true_person"]], r["category"]) for r in rows
             if r["list_type"] == "commune" and r["true_person"] in school_cat and not r["bad"]]
    disagree = sum(a != b for a, b in pairs) / len(pairs)
    assert 0.01 <= disagree <= 0.15

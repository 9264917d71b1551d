"""Provisioning and feedback write-back against the fake Google server (real gspread over HTTP)."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from flows.config import GoogleSettings, Sources
from flows.frames import ISSUE_COLUMNS
from flows.adapters.google.sheets import FEEDBACK_SHEET, READ_SCOPES, WRITE_SCOPES, connect, pull_google
from flows.adapters.ledger import Ledger
from flows.adapters.google.provision import GUIDE_SHEET, LIST_SHEET, PROTECTED, provision, units
from flows.adapters.google.feedback import FIXED, NEW, OPEN, write_feedback
from tests.fake_google import FakeClock, FakeGoogle, FakeSheet

OFFICER = "can.bo@huulung.edu.vn"


@pytest.fixture
def ledger(tmp_path):
    with Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as led:
        led.migrate()
        yield led


def with_google(cfg, fake, **settings):
    google = GoogleSettings.model_validate({"endpoint": fake.url, **settings})
    return cfg.model_copy(update={"sources": Sources(local=cfg.sources.local, google=google)})


def client(cfg, key, scopes=WRITE_SCOPES):
    clock = FakeClock()
    return connect(cfg.sources.google, scopes, info=key, clock=clock, sleep=clock.sleep, rng=random.Random(0))


def small_district(cfg, schools: int = 2, communes: int = 1):
    district = cfg.district.model_copy(update={"schools": cfg.district.schools[:schools]})
    keep = {s.commune for s in district.schools}
    district = district.model_copy(update={
        "communes": [c for c in cfg.district.communes if c.code in keep][:communes] or cfg.district.communes[:1]})
    keep = {c.code for c in district.communes}
    district = district.model_copy(update={"schools": [s for s in district.schools if s.commune in keep]})
    return cfg.model_copy(update={"district": district})


def state(fake: FakeGoogle) -> dict:
    """Everything provisioning controls, to compare two runs."""
    out = {}
    for book in fake.spreadsheets.values():
        out[book.title] = {
            "sheets": [(s.title, s.frozen_rows, len(s.protected), [r for r in s.rows if any(v is not None for v in r)],
                        sorted((k, str(v)) for k, v in s.validations.items())) for s in book.sheets],
            "permissions": sorted((p["emailAddress"], p["role"]) for p in book.permissions),
        }
    return out


def test_provision_creates_one_template_per_unit_and_a_second_run_changes_nothing(cfg, fake, key) -> None:
    base = small_district(cfg)
    unit_list = units(base)
    school = unit_list[0]
    pcfg = with_google(base, fake, officers=[OFFICER], contacts={school.code: "truong@huulung.edu.vn"})
    first = provision(pcfg, client=client(pcfg, key))
    assert sorted(first.created) == sorted(u.code for u in unit_list) and first.failed == {}
    assert len(fake.spreadsheets) == len(unit_list) + 1  # + the registry
    assert first.registry_written and first.registry_key in fake.spreadsheets
    before = state(fake)

    book = next(b for b in fake.spreadsheets.values() if b.title == school.title)
    assert [s.title for s in book.sheets] == [LIST_SHEET, GUIDE_SHEET]
    sheet = book.sheets[0]
    assert sheet.frozen_rows == 2
    headers = sheet.rows[1]
    assert headers[:3] == ["STT", "Họ và tên", "Ngày sinh"]
    village_col = headers.index("Thôn")
    rule = sheet.validations[(2, village_col)]
    commune = base.district.commune_by_code[base.district.school_by_code[school.code].commune]
    assert [v["userEnteredValue"] for v in rule["condition"]["values"]] == commune.villages
    grade = sheet.validations[(2, headers.index("Lớp"))]
    assert [v["userEnteredValue"] for v in grade["condition"]["values"]] == [str(g) for g in range(1, 10)]
    assert {p["description"] for p in sheet.protected} == {PROTECTED}
    assert sheet.protected[0]["range"] == {"sheetId": sheet.sheet_id, "startRowIndex": 0, "endRowIndex": 2}
    assert sorted(p["emailAddress"] for p in book.permissions) == [OFFICER, "truong@huulung.edu.vn"]
    assert {p["emailAddress"]: p["role"] for p in book.permissions}["truong@huulung.edu.vn"] == "writer"

    writes_before = len(fake.log)
    second = provision(pcfg.model_copy(update={"sources": Sources(google=pcfg.sources.google.model_copy(
        update={"registry": first.registry_key}))}), client=client(pcfg, key))
    assert second.created == [] and sorted(second.updated) == sorted(u.code for u in unit_list)
    assert not second.registry_written and second.shared == 0
    assert state(fake) == before
    assert not any(e.kind in ("drive.create", "drive.permissions.create", "values.update")
                   for e in fake.log[writes_before:])


def test_a_provisioned_sheet_filled_by_a_school_is_read_by_the_night(cfg, fake, key, tmp_path) -> None:
    from flows.stages import extract_tables, normalize_tables

    base = small_district(cfg, schools=1)
    pcfg = with_google(base, fake)
    result = provision(pcfg, client=client(pcfg, key))
    registry = fake.spreadsheets[result.registry_key]
    school = units(base)[0]
    book = next(b for b in fake.spreadsheets.values() if b.title == school.title)
    headers = book.sheets[0].rows[1]
    village = base.district.commune_by_code[base.district.school_by_code[school.code].commune].villages[0]
    values = {"STT": 1, "Họ và tên": "Nguyễn Thị Hoa", "Ngày sinh": 41520, "Giới tính": "Nữ", "Lớp": 4,
              "Thôn": village, "Diện ưu tiên": base.district.priority_tiers[1].label, "Chưa có thiết bị": "Có",
              "Chưa có Internet": "Không"}
    for c, h in enumerate(headers):
        if h in values:
            book.sheets[0].set(2, c, values[h])
    fake.touch(book.id)

    rcfg = with_google(base, fake, registry=registry.id)
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}") as ledger:
        ledger.migrate()
        pull = pull_google(rcfg, ledger, "n1", client=client(rcfg, key, READ_SCOPES))
    assert [(s.unit, s.kind, s.status) for s in pull.sources if s.unit == school.code] == \
        [(school.code, "students", "ok")]
    extraction = extract_tables([s for s in pull.sources if s.unit == school.code], rcfg)
    assert [i.rule for i in extraction.issues] == []
    students = normalize_tables(extraction, rcfg).students
    row = students.iloc[0]
    assert (row["full_name"], row["date_of_birth"], row["sex"], int(row["grade"]), row["village"]) == \
        ("Nguyễn Thị Hoa", "2013-09-03", "F", 4, village)  # serial 41520
    assert (row["category"], bool(row["lacks_device"]), bool(row["lacks_internet"]), row["school_code"]) == \
        ("near_poor", True, False, school.code)
    assert int(row["source_row"]) == 3


def _issues(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame([dict(zip(ISSUE_COLUMNS, r)) for r in rows], columns=ISSUE_COLUMNS)


def test_feedback_is_one_batch_update_per_spreadsheet_and_only_when_it_changed(cfg, fake, key, ledger) -> None:
    rows = [["STT", "Họ và tên", "Lớp"], [1, "An", 3], [2, "", 3]]
    book = fake.add_spreadsheet("Trường TH A", [FakeSheet(0, "Lớp 3", rows=rows)])
    other = fake.add_spreadsheet("Trường TH B", [FakeSheet(0, "Lớp 4", rows=rows)])
    gcfg = with_google(cfg, fake, feedback=True, spreadsheets=[
        {"key": book.id, "kind": "students"}, {"key": other.id, "kind": "students"}])
    read, write = client(gcfg, key, READ_SCOPES), client(gcfg, key)

    night = pull_google(gcfg, ledger, "n1", client=read)
    issues = _issues([("Trường TH A", "Lớp 3", 3, "Họ và tên", "error", "name_present", "Thiếu họ tên"),
                      ("Trường TH A", "Lớp 3", 2, "Lớp", "warning", "grade_valid", "Kiểm tra lớp")])
    fake.reset_log()
    assert write_feedback(night.sources, issues, gcfg, ledger, "n1", client=write) == \
        {"written": 2, "unchanged": 0, "failed": 0}
    # per spreadsheet: its modifiedTime (nobody edited since the read?), the write, its modifiedTime after
    assert fake.count("batchUpdate") == 2 and fake.count("drive.get") == 4 and fake.count() == 6
    sheet = next(s for s in fake.spreadsheets[book.id].sheets if s.title == FEEDBACK_SHEET)
    assert sheet.rows[0] == ["Trang tính", "Dòng", "Cột", "Mức độ", "Cần sửa", "Trạng thái"]
    assert [r[1] for r in sheet.rows[1:]] == [3, 2] and {r[5] for r in sheet.rows[1:]} == {NEW}
    assert [r for r in next(s for s in fake.spreadsheets[other.id].sheets if s.title == FEEDBACK_SHEET).rows] == \
        [sheet.rows[0]]  # a spreadsheet without issues gets an empty list

    # next night: only our own write changed the sheets, so nothing is read (the snapshots were stored as
    # written); same issues -> nothing written
    fake.reset_log()
    night = pull_google(gcfg, ledger, "n2", client=read)
    assert fake.count() == 1 and fake.count("drive.list") == 1
    assert all(FEEDBACK_SHEET not in [g.name for g in s.sheets] for s in night.sources)  # never read as data
    fake.reset_log()
    assert write_feedback(night.sources, issues, gcfg, ledger, "n2", client=write)["written"] == 0
    assert fake.count() == 0

    # the school fixed row 3: it is listed once as fixed, the other stays open
    fixed = issues.iloc[[1]]
    assert write_feedback(night.sources, fixed, gcfg, ledger, "n3", client=write)["written"] == 1
    sheet = next(s for s in fake.spreadsheets[book.id].sheets if s.title == FEEDBACK_SHEET)
    assert [(r[1], r[5]) for r in sheet.rows[1:] if any(v is not None for v in r)] == [(2, OPEN), (3, FIXED)]

    # a clerk edits between the night's read and the write: the snapshot is not adopted, so the edit is read
    fake.touch(book.id)
    assert write_feedback(night.sources, issues, gcfg, ledger, "n4", client=write)["written"] == 1
    fake.reset_log()
    pull_google(gcfg, ledger, "n5", client=read)
    assert fake.count("values.batchGet") == 1 and fake.count("values.batchGet", book.id) == 1


def test_the_provision_command_works_from_config_alone(cfg, fake, key, tmp_path, monkeypatch) -> None:
    import json
    import shutil

    import yaml
    from typer.testing import CliRunner

    from flows.cli import app

    conf = tmp_path / "config"
    shutil.copytree(cfg.config_dir, conf)
    sources = yaml.safe_load((conf / "sources.yaml").read_text(encoding="utf-8"))
    sources["google"] = {"endpoint": fake.url, "officers": [OFFICER],
                         "quota": {"reads_per_minute": 100000, "project_reads_per_minute": 100000,
                                   "writes_per_minute": 100000}}
    (conf / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True), encoding="utf-8")
    monkeypatch.delenv("SONGMAYTINH_GOOGLE_KEY", raising=False)
    missing = CliRunner().invoke(app, ["provision", "--config", str(conf)])
    assert missing.exit_code == 2 and "SONGMAYTINH_GOOGLE_KEY" in missing.output

    (tmp_path / "key.json").write_text(json.dumps(key))
    (tmp_path / "key.json").chmod(0o600)  # a key others can read is refused
    monkeypatch.setenv("SONGMAYTINH_GOOGLE_KEY", str(tmp_path / "key.json"))
    done = CliRunner().invoke(app, ["provision", "--config", str(conf)])
    assert done.exit_code == 0, done.output
    n = len(cfg.district.schools) + len(cfg.district.communes)
    assert f"Tạo mới {n}, cập nhật 0, lỗi 0" in done.output
    registry = next(b for b in fake.spreadsheets.values() if b.title.startswith("Sổ đăng ký"))
    assert registry.id in done.output
    assert len([r for r in registry.sheets[0].rows if any(r)]) == n + 1
    again = CliRunner().invoke(app, ["provision", "--config", str(conf)])
    assert again.exit_code == 0 and f"Tạo mới 0, cập nhật {n}, lỗi 0" in again.output
    assert "không thay đổi" in again.output and len(fake.spreadsheets) == n + 1


def test_a_communes_guide_says_the_class_may_be_left_blank(cfg) -> None:
    from flows.adapters.google.provision import guide_lines

    by_type = {u.unit_type: u for u in units(cfg)}
    commune, school = guide_lines(by_type["commune"], cfg), guide_lines(by_type["school"], cfg)
    assert any("không biết em học lớp nào" in line and "năm sinh" in line for line in commune)
    assert not any("không biết em học lớp nào" in line for line in school)

"""`songmaytinh run` against the fake Google server publishes what the same data as local files publishes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from python_calamine import CalamineWorkbook
from typer.testing import CliRunner

from flows.cli import app
from flows.config import load_config
from samples.generate import generate
from tests.fake_google import FakeGoogle, service_account, upload_folder

AS_OF = "2022-03-15"
EXPORTS = ["students.csv", "issues.csv", "allocations.csv"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("google-e2e")
    generate(tmp / "src", seed=11, scale=0.05)
    fake = FakeGoogle()
    fake.serve()
    entries, paths = upload_folder(fake, tmp / "src", load_config())
    conf = tmp / "config"
    shutil.copytree(load_config().config_dir, conf)
    sources = yaml.safe_load((conf / "sources.yaml").read_text(encoding="utf-8"))
    sources["local"]["default_dir"] = None
    sources["google"] = {"endpoint": fake.url, "spreadsheets": entries,
                         "quota": {"reads_per_minute": 100000, "project_reads_per_minute": 100000}}
    (conf / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True), encoding="utf-8")
    key = tmp / "secret" / "service-account.json"
    key.parent.mkdir()
    key.write_text(json.dumps(service_account(fake)))
    key.chmod(0o600)  # a key others can read is refused
    yield {"tmp": tmp, "fake": fake, "conf": conf, "paths": paths, "key": key, "entries": entries}
    fake.stop()


def run(*args: str) -> str:
    result = CliRunner().invoke(app, ["run", "--as-of", AS_OF, *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def exports(out: Path, paths: dict[str, str] | None = None) -> dict[str, pd.DataFrame]:
    frames = {}
    for name in EXPORTS:
        df = pd.read_csv(out / "latest" / "exports" / name, dtype=str, keep_default_na=False)
        if paths is not None and "source_file" in df:  # spreadsheet title -> the file it was uploaded from
            df["source_file"] = df["source_file"].map(lambda t: paths.get(t, t))
            if "source_sheet" in df:  # a CSV has no sheet name; its spreadsheet has one
                df.loc[df["source_file"].str.endswith(".csv"), "source_sheet"] = ""
        frames[name] = df.sort_values(list(df.columns)).reset_index(drop=True)
    return frames


def manifest(out: Path) -> dict:
    return json.loads((out / "latest" / "manifest.json").read_text(encoding="utf-8"))


def test_a_night_from_google_sheets_publishes_the_same_as_local_files_then_reads_only_what_changed(
        world, monkeypatch) -> None:
    tmp, fake = world["tmp"], world["fake"]
    monkeypatch.setenv("SONGMAYTINH_GOOGLE_KEY", str(world["key"]))
    run("--sources", str(tmp / "src"), "--out", str(tmp / "local"))
    local = exports(tmp / "local")

    fake.reset_log()
    run("--config", str(world["conf"]), "--out", str(tmp / "google"))
    n = len(world["entries"])
    assert fake.count() == 1 + 2 * n and fake.count("drive.list") == 1
    google = exports(tmp / "google", world["paths"])
    assert len(google["students.csv"]) > 300
    for name in EXPORTS:
        pd.testing.assert_frame_equal(google[name], local[name], obj=name)
    first = manifest(tmp / "google")
    assert {s["status"] for s in first["sources"]} == {"ok"} and len(first["sources"]) == n
    title_of = {s["id"]: s["source"] for s in first["sources"]}
    assert set(title_of) == {e["key"] for e in world["entries"]}

    # next night: one spreadsheet deleted, the rest unchanged -> the listing, one failed read, nothing else
    gone = next(e["key"] for e in world["entries"] if e["kind"] == "students")
    book = fake.spreadsheets.pop(gone)
    fake.reset_log()
    run("--config", str(world["conf"]), "--out", str(tmp / "google"))
    assert fake.count() == 2 and fake.count("sheets.get", gone) == 1
    second = manifest(tmp / "google")
    stale = [s for s in second["sources"] if s["status"] != "ok"]
    assert [(s["id"], s["status"]) for s in stale] == [(gone, "stale")]
    assert "404" in stale[0]["message"] and stale[0]["rows"] > 0
    for name in EXPORTS:  # the stale spreadsheet's last good snapshot keeps its children in
        pd.testing.assert_frame_equal(exports(tmp / "google", world["paths"])[name], google[name], obj=name)
    workbook = next((tmp / "google" / "latest" / "district").glob("*.xlsx"))
    wb = CalamineWorkbook.from_path(str(workbook))
    sheet = next(n for n in wb.sheet_names if n.startswith("Nguồn dữ liệu"))
    rows = wb.get_sheet_by_name(sheet).to_python()
    marked = [r for r in rows if title_of[gone] in [str(v) for v in r]]
    assert len(marked) == 1 and "Dùng bản cũ" in marked[0] and any("404" in str(v) for v in marked[0])
    fake.spreadsheets[gone] = book

    # replay the first night offline from its snapshots: no request at all, the same exports
    fake.reset_log()
    monkeypatch.delenv("SONGMAYTINH_GOOGLE_KEY")
    run("--config", str(world["conf"]), "--out", str(tmp / "google"), "--replay-run", first["run_id"])
    assert fake.count() == 0 and len(fake.log) == 0
    replays = tmp / "google" / "replays"  # a replay publishes apart; the night's own latest stays the second night
    assert manifest(tmp / "google")["run_id"] == second["run_id"]
    for name in EXPORTS:
        pd.testing.assert_frame_equal(exports(replays, world["paths"])[name], google[name], obj=name)
    assert {s["status"] for s in manifest(replays)["sources"]} == {"ok"}

    # feedback switched on: one batch update per student spreadsheet, listing what issues.csv lists for it
    feedback_conf = tmp / "config-feedback"
    shutil.copytree(world["conf"], feedback_conf)
    sources = yaml.safe_load((feedback_conf / "sources.yaml").read_text(encoding="utf-8"))
    sources["google"]["feedback"] = True
    (feedback_conf / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("SONGMAYTINH_GOOGLE_KEY", str(world["key"]))
    fake.reset_log()
    run("--config", str(feedback_conf), "--out", str(tmp / "google"))
    students = [e["key"] for e in world["entries"] if e["kind"] == "students"]
    assert sorted(e.spreadsheet for e in fake.log if e.kind == "batchUpdate") == sorted(students)
    # the listing, and per write its modifiedTime before (nobody edited since the read?) and after; no Sheets read
    assert fake.count() == 1 + 3 * fake.count("batchUpdate") and fake.count("drive.get") == 2 * len(students)
    issues = pd.read_csv(tmp / "google" / "latest" / "exports" / "issues.csv", dtype=str, keep_default_na=False)
    listed = 0
    for key in students:
        book = fake.spreadsheets[key]
        sheet = next(s for s in book.sheets if s.title == "Phản hồi")
        written = [r for r in sheet.rows[1:] if any(v is not None for v in r)]
        assert len(written) == int((issues["source_file"] == book.title).sum())
        listed += len(written)
    assert listed > 0

    # the next night: our own writes changed every modifiedTime, yet nothing is read again (the snapshots were
    # stored as written), and the unchanged feedback is not written again: the listing is the whole night
    written = exports(tmp / "google")
    fake.reset_log()
    run("--config", str(feedback_conf), "--out", str(tmp / "google"))
    assert fake.count() == 1, sorted({e.kind for e in fake.log})
    for name, frame in exports(tmp / "google").items():
        pd.testing.assert_frame_equal(frame, written[name], obj=name)

    # a clerk's edit after our write is read the next night as any other change
    fake.touch(students[0])
    fake.reset_log()
    run("--config", str(feedback_conf), "--out", str(tmp / "google"))
    assert fake.count("values.batchGet") == 1 and fake.count("values.batchGet", students[0]) == 1

"""The run folder: written whole or not at all, ``latest`` switched (or latest.txt), old runs pruned."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from flows.publishing.publish import publish
from tests.publishing.night import make_result


def test_run_folder_layout_and_latest(published):
    out = published.parent
    assert published == out / "20220115-020000"
    assert not list(out.glob("*.partial"))
    assert (out / "latest").is_symlink() and (out / "latest").resolve() == published.resolve()
    assert not (out / "latest.txt").exists()
    names = {p.relative_to(published).as_posix() for p in published.rglob("*") if p.is_file()}
    assert {"manifest.json", "exports/students.csv", "exports/issues.csv", "exports/allocations.csv",
            "exports/changes.csv", "exports/review_pairs.csv", "district/huu-lung-tong-hop-2022-01-15.xlsx",
            "communes/06388-xa-huu-lien.xlsx", "communes/06391-xa-yen-binh.xlsx",
            "schools/TH-06388-th-huu-lien.xlsx", "schools/THCS-06388-thcs-huu-lien.xlsx",
            "schools/TH-06391-th-yen-binh.xlsx"} <= names
    # One workbook per commune of the district; school workbooks only for schools with rows or issues.
    assert len(list((published / "communes").glob("*.xlsx"))) == 23
    assert len(list((published / "schools").glob("*.xlsx"))) == 3


def _fake_run(root: Path, name: str, started: str) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"run_id": name, "started_at": started}), encoding="utf-8")
    return folder


def test_retention_prunes_oldest_runs_and_latest_follows(cfg, tmp_path):
    old = [_fake_run(tmp_path, f"run-{i}", f"2022-01-1{i}T02:00:00") for i in range(3)]
    (tmp_path / "notes").mkdir()  # not a run folder
    (tmp_path / "run-9.partial").mkdir()  # another run still writing
    run = publish(make_result(run_id="run-3", started=dt.datetime(2022, 1, 13, 2)), cfg, tmp_path, retention=2)
    left = sorted(p.name for p in tmp_path.iterdir() if p.is_dir() and not p.is_symlink())
    assert left == ["notes", "run-2", "run-3", "run-9.partial"]
    assert os.readlink(tmp_path / "latest") == "run-3" and (tmp_path / "latest").resolve() == run.resolve()
    assert not old[0].exists() and not old[1].exists()
    first = json.loads((run / "manifest.json").read_text(encoding="utf-8"))["files"]
    # Republishing a run id replaces its folder, byte for byte the same (workbooks are reproducible); the run
    # just written is kept even with retention 0.
    again = publish(make_result(run_id="run-3", started=dt.datetime(2022, 1, 13, 2)), cfg, tmp_path, retention=0)
    assert again == run and json.loads((run / "manifest.json").read_text(encoding="utf-8"))["files"] == first
    left = sorted(p.name for p in tmp_path.iterdir() if p.is_dir() and not p.is_symlink())
    assert left == ["notes", "run-3", "run-9.partial"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_latest_txt_when_symlinks_are_not_possible_and_clock_gives_finish_time(cfg, tmp_path, monkeypatch):
    def no_symlinks(*args, **kwargs):
        raise OSError("symlinks not supported on this file system")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    result = make_result()
    result.finished_at = None  # the manifest then takes the finish time from the clock
    run = publish(result, cfg, tmp_path, clock=lambda: dt.datetime(2022, 1, 15, 2, 5))
    assert (tmp_path / "latest.txt").read_text(encoding="utf-8").strip() == run.name
    assert not (tmp_path / "latest").exists()
    assert json.loads((run / "manifest.json").read_text(encoding="utf-8"))["finished_at"] == "2022-01-15T02:05:00"


def test_bad_run_id_is_refused(cfg, tmp_path):
    with pytest.raises(ValueError, match="run_id"):
        publish(make_result(run_id="../elsewhere"), cfg, tmp_path)


def test_retention_defaults_to_the_config(cfg, tmp_path):
    keep_one = cfg.model_copy(update={"district": cfg.district.model_copy(
        update={"publish": cfg.district.publish.model_copy(update={"retention": 1})})})
    publish(make_result(run_id="run-a", started=dt.datetime(2022, 1, 13, 2)), keep_one, tmp_path)
    publish(make_result(run_id="run-b", started=dt.datetime(2022, 1, 14, 2)), keep_one, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir() and not p.is_symlink()) == ["run-b"]


def test_leftovers_of_a_killed_night_are_removed_and_runs_kept(tmp_path):
    from flows.publishing.run_folder import remove_leftovers

    (tmp_path / "2022-03-01_010000").mkdir()
    (tmp_path / "2022-03-01_010000" / "manifest.json").write_text("{}")
    os.symlink("2022-03-01_010000", tmp_path / "latest", target_is_directory=True)
    (tmp_path / "2022-03-02_010000.partial" / "exports").mkdir(parents=True)
    (tmp_path / ".2022-03-01_010000.replaced-4242").mkdir()
    os.symlink("2022-03-01_010000", tmp_path / ".latest.tmp-4242", target_is_directory=True)
    (tmp_path / "ledger.sqlite").write_text("")
    assert remove_leftovers(tmp_path) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2022-03-01_010000", "latest", "ledger.sqlite"]
    assert (tmp_path / "latest" / "manifest.json").is_file()

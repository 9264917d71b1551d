"""A small district for the fault tests: a few real-looking files cut from the generated sample (seeded), so a
night takes seconds. ``night_a`` is one night's sources, ``night_b`` the next night's: two more schools' lists
(new children, new allocations and a longer waiting list), so what a night decides changes between the two.

Also the checks every fault test makes afterwards: ``latest`` is a complete run (every file the manifest lists,
with its sha256), no process of a night is left in its session.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

OFFICE = ["ban-giao", "dieu-chinh", "ha-tang", "tai-tro", "theo-doi"]
NIGHT_A = ["truong/Copy of Danh sách học sinh TH Minh Hòa.xlsx", "truong/DS HS thieu thiet bi - THCS Minh Sơn.csv",
           "truong/Danh sach TH Ho Son (1).xlsx", "xa/Xa Minh Son - DS hoc sinh can ho tro.xlsx",
           "xa/Danh sach Xa Hoa Lac (gui PGD).xlsx"]
NIGHT_B_MORE = ["truong/Danh sách HS chưa có thiết bị - Trường THCS Hòa Lạc.xlsx",
                "truong/DSHS chua co may tinh - THCS Minh Hoa.xlsx"]

# Ledger tables that name the run that wrote a row, and the column that does.
RUN_COLUMNS = {"allocations": ["run_id", "released_run"], "change_log": ["run_id"], "record_links": ["run_id"],
               "persons": ["created_run"], "person_aliases": ["run_id"], "handovers": ["run_id"],
               "overrides": ["run_id"], "follow_ups": ["run_id"], "source_snapshots": ["run_id"],
               "run_sources": ["run_id"], "sheet_feedback": ["run_id"]}
# What a killed night may leave once the next night has recovered (runs.py): the facts it read and stored, never
# an allocation decision or a change-log line.
KEPT_FACTS = {"record_links", "persons", "person_aliases", "handovers", "overrides", "follow_ups",
              "source_snapshots", "run_sources"}
# The data exports two nights that decided the same must publish alike.
EXPORTS = ["students.csv", "allocations.csv", "issues.csv", "changes.csv"]


def small_district(root: Path) -> tuple[Path, Path]:
    """(night A's sources folder, night B's) under ``root``, cut from the sample generated with seed 11."""
    from samples.generate import generate

    sample = root / "sample"
    generate(sample, seed=11, scale=0.02)
    folders = []
    for name, files in (("night_a", NIGHT_A), ("night_b", NIGHT_A + NIGHT_B_MORE)):
        folder = root / name
        for office in OFFICE:
            shutil.copytree(sample / office, folder / office)
        for rel in files:
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(sample / rel, folder / rel)
        folders.append(folder)
    return folders[0], folders[1]


def complete_run(latest: Path) -> str:
    """The run id ``latest`` points at, after checking the run is whole: a manifest, and every file it lists
    present with the sha256 it lists (a half-written run fails here)."""
    assert latest.is_symlink() or latest.is_dir(), "no latest run"
    run_dir = latest.resolve()
    assert not run_dir.name.endswith(".partial"), f"latest points at a partial run {run_dir.name}"
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["files"], "the manifest lists no files"
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((run_dir / rel).read_bytes()).hexdigest() == digest, f"{rel} differs from the manifest"
    return manifest["run_id"]


def session_processes(session: int) -> list[tuple[int, str]]:
    """Processes still alive in session ``session`` (a night started with ``setsid`` is its own session; what it
    started stays in it even once reparented), zombies left out."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(fields[3]) == session and fields[0] not in {"Z", "X"}:
            found.append((int(entry.name), cmdline.strip()))
    return found


def left_by(url: str, run_id: str) -> dict[str, int]:
    """Rows each ledger table holds that name ``run_id``."""
    found = {}
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            for table, columns in RUN_COLUMNS.items():
                where = " OR ".join(f"{c} = :run" for c in columns)
                n = conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {where}"), {"run": run_id}).scalar()
                if n:
                    found[table] = n
    finally:
        engine.dispose()
    return found


def exports(run_dir: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(run_dir / "exports" / name, dtype=str, keep_default_na=False) for name in EXPORTS}

"""The run folder's ``manifest.json``, written last: what the night read, what it counted, every file's sha256.

It holds the run id, the as-of date, start and finish times, every source read (ok / stale / failed), the
counts computed from the published frames together with the counts the stages reported, and the sha256 of
every other file in the folder, and (``reuse``) which pieces the night took from earlier nights and since which
run (``flows.reuse``), and (``unit-workbooks``) each commune and school workbook's key and the stamp it states: the
as-of date of its data (``data_as_of``), the run that first published this content and when it started; the
manifest's own ``as_of`` is the night that checked it. It is written through a temporary file and renamed, so it is there whole or not at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from flows.frames import RunResult
from flows.publishing.prepared import GIVEN, WAITING, Prepared, as_number
from flows.text import as_text


def write_manifest(result: RunResult, data: Prepared, folder: Path, finished_at: dt.datetime,
                   workbooks: int, reuse: dict | None = None, unit_workbooks: dict | None = None) -> None:
    """``folder/manifest.json``, after every other file of the run folder is written. ``reuse``: what the night
    took from earlier nights (``flows.reuse.Reuse.report``: per area, each piece reused and the run it is from);
    ``unit_workbooks``: path -> key and stamp of each commune and school workbook (``flows.reuse.workbooks``)."""
    files = {p.relative_to(folder).as_posix(): _sha256(p)
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "manifest.json"}
    st, al, persons, iss = data.students, data.allocations, data.persons, data.issues
    computed = {
        "student_rows": len(st),
        "rejected_rows": int((st["status"] == "rejected").sum()),
        "duplicate_rows": int((st["status"] == "duplicate").sum()),
        "persons": len(persons),
        "allocated_persons": int((persons["status"] == "allocated").sum()),
        "waitlisted_persons": int((persons["status"] == "waitlisted").sum()),
        "excluded_persons": int((persons["status"] == "excluded").sum()),
        "devices_given": int(((al["need"] == "device") & al["status"].isin(GIVEN)).sum()),
        "internet_given": int(((al["need"] == "internet") & al["status"].isin(GIVEN)).sum()),
        "handed_over": int((al["status"] == "handed_over").sum()),
        "needs_waiting": int(al["status"].isin(WAITING).sum()),
        "issues_error": int((iss["severity"] == "error").sum()),
        "issues_warning": int((iss["severity"] == "warning").sum()),
        "review_pairs": len(data.review_pairs),
        "workbooks": workbooks,
    }
    manifest = {
        "run_id": result.run_id,
        "as_of": result.as_of.isoformat(),
        "started_at": _iso(result.started_at),
        "finished_at": _iso(finished_at),
        "sources": [asdict(s) if not isinstance(s, dict) else dict(s) for s in result.sources],
        "counts": {**computed, **{str(k): _json_number(v) for k, v in (result.counts or {}).items()}},
        "files": files,
    }
    if reuse is not None:
        manifest["reuse"] = reuse
    if unit_workbooks:
        manifest["unit-workbooks"] = dict(sorted(unit_workbooks.items()))
    tmp = folder / ".manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, folder / "manifest.json")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _json_number(v: object) -> object:
    n = as_number(v)
    return n if n is not None else as_text(v)


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None

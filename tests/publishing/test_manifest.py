"""manifest.json: run id, dates, sources, counts and the sha256 of every other file of the run folder."""

from __future__ import annotations

import hashlib
import json


def test_manifest_lists_every_file_with_its_sha256(published):
    manifest = json.loads((published / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["run_id"] == "20220115-020000"
    assert manifest["as_of"] == "2022-01-15"
    assert manifest["started_at"] == "2022-01-15T02:00:00"
    assert manifest["finished_at"] == "2022-01-15T02:03:00"
    failed = [s for s in manifest["sources"] if s["status"] == "failed"]
    assert failed == [{"source": "Truong-cu.xls", "id": "Truong-cu.xls", "kind": "students", "status": "failed",
                       "message": "Tệp hỏng", "rows": 0}]
    on_disk = {p.relative_to(published).as_posix() for p in published.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((published / rel).read_bytes()).hexdigest() == digest, rel
    counts = manifest["counts"]
    assert counts["sources"] == 6 and counts["student_rows"] == 11 and counts["persons"] == 8
    assert counts["rejected_rows"] == 1 and counts["issues_error"] == 2

"""``songmaytinh explain STUDENT``: why a child got what he or she got, from a published run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from flows.publish import label
from flows.text import fold


def explain_student(query: str, run_dir: Path) -> str:
    """Text for an officer: status, tier, rank, each need's outcome, and every source row of the child."""
    exports = run_dir / "exports"
    if not (exports / "students.csv").exists():
        raise FileNotFoundError(f"{run_dir}: no published run found (run `songmaytinh run` first)")
    read = dict(dtype=str, keep_default_na=False)
    students = pd.read_csv(exports / "students.csv", **read)
    allocations = pd.read_csv(exports / "allocations.csv", **read)
    issues = pd.read_csv(exports / "issues.csv", **read)
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    match = students[students["person_id"] == query]
    if match.empty and ":" in query:
        file, _, row = query.rpartition(":")
        match = students[(students["source_file"] == file) & (students["source_row"] == row)]
    if match.empty:
        match = students[students["full_name"].map(fold) == fold(query)]
    if match.empty:
        return f"Không tìm thấy học sinh '{query}' trong lần tổng hợp {manifest['run_id']}."
    lines = [f"Lần tổng hợp {manifest['run_id']} (số liệu đến ngày {manifest['as_of']})"]
    for key, rows in match.groupby(["person_id", "source_file", "source_row"] if (match["person_id"] == "").any()
                                   else ["person_id"], sort=True):
        first = rows.iloc[0]
        pid = first["person_id"]
        if pid:
            rows = students[students["person_id"] == pid]
        lines.append("")
        lines.append(f"{first['full_name'] or '(không có tên)'} — mã {pid or '(chưa cấp)'} — "
                     f"{first['school'] or 'trường chưa rõ'}, {first['commune'] or 'xã chưa rõ'}")
        reason = label("reason", first["reason"]) if first["reason"] else ""
        lines.append(f"  Trạng thái: {label('status', first['status']).lower()}" + (f" ({reason})" if reason else ""))
        lines.append(f"  Đối tượng: {label('category', first['category'])}; lớp {first['grade'] or '?'}; "
                     f"chưa có thiết bị: {_yes(first['lacks_device'])}; chưa có Internet: {_yes(first['lacks_internet'])}")
        for a in (allocations[allocations["person_id"] == pid].itertuples() if pid else []):
            outcome = label("status", a.status).lower()
            item = f": {label('item', a.item)} từ khoản tài trợ {a.donation_id}" if a.item else ""
            why = f" — {label('reason', a.reason)}" if a.reason else ""
            lines.append(f"  Nhu cầu {label('need', a.need).lower()}: {outcome}{item}; hạng ưu tiên {a.priority_rank}"
                         f"{why}")
        lines.append(f"  Có trong {len(rows)} dòng của các danh sách:")
        for r in rows.itertuples():
            sheet = f" / {r.source_sheet}" if r.source_sheet else ""
            lines.append(f"    - {r.source_file}{sheet}, dòng {r.source_row}: {label('status', r.status).lower()}")
            cited = issues[(issues["source_file"] == r.source_file) & (issues["source_sheet"] == r.source_sheet)
                           & (issues["source_row"] == r.source_row)]
            for i in cited.itertuples():
                lines.append(f"        {label('severity', i.severity)}: {i.message}")
    return "\n".join(lines)


def _yes(value: str) -> str:
    return "có" if value == "true" else "không"

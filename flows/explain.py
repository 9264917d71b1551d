"""``songmaytinh explain STUDENT``: why a child got what he or she got, from a published run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from flows.text import fold

STATUS_VI = {"allocated": "được phân bổ", "waitlisted": "trong danh sách chờ", "excluded": "không đủ điều kiện",
             "rejected": "dòng bị loại do lỗi dữ liệu", "duplicate": "dòng lặp", "handed_over": "đã bàn giao",
             "no_coverage": "thôn chưa có sóng/cáp quang"}


def explain_student(query: str, run_dir: Path) -> str:
    exports = run_dir / "exports"
    if not (exports / "students.csv").exists():
        raise FileNotFoundError(f"{run_dir}: no published run found (run `songmaytinh run` first)")
    students = pd.read_csv(exports / "students.csv", dtype=str, keep_default_na=False)
    allocations = pd.read_csv(exports / "allocations.csv", dtype=str, keep_default_na=False)
    issues = pd.read_csv(exports / "issues.csv", dtype=str, keep_default_na=False)
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    match = students[students["person_id"] == query]
    if match.empty and ":" in query:
        file, _, row = query.rpartition(":")
        match = students[(students["source_file"] == file) & (students["source_row"] == row)]
    if match.empty:
        key = fold(query)
        match = students[students["full_name"].map(fold) == key]
    if match.empty:
        return f"Không tìm thấy học sinh '{query}' trong lần chạy {manifest['run_id']}."
    lines = [f"Lần chạy {manifest['run_id']} (ngày {manifest['as_of']})"]
    for pid, rows in match.groupby("person_id", sort=True):
        first = rows.iloc[0]
        if pid:
            rows = students[students["person_id"] == pid]
        lines.append("")
        lines.append(f"{first['full_name']} — mã {pid or '(chưa có)'} — {first['school']}, {first['commune']}")
        lines.append(f"  Trạng thái: {STATUS_VI.get(first['status'], first['status'])}"
                     + (f" (lý do: {first['reason']})" if first["reason"] else ""))
        lines.append(f"  Đối tượng: {first['category']}; lớp {first['grade']}; "
                     f"thiếu thiết bị: {first['lacks_device']}; thiếu Internet: {first['lacks_internet']}")
        for a in allocations[allocations["person_id"] == pid].itertuples() if pid else []:
            lines.append(f"  Nhu cầu {a.need}: {STATUS_VI.get(a.status, a.status)}; hạng ưu tiên {a.priority_rank}; "
                         f"hỗ trợ {a.item or '-'} từ {a.donation_id or '-'} {('(' + a.reason + ')') if a.reason else ''}")
        lines.append(f"  Có trong {len(rows)} dòng nguồn:")
        for r in rows.itertuples():
            lines.append(f"    - {r.source_file} / {r.source_sheet or '-'} / dòng {r.source_row}: {r.status}")
            for i in issues[(issues["source_file"] == r.source_file) & (issues["source_sheet"] == r.source_sheet)
                            & (issues["source_row"] == r.source_row)].itertuples():
                lines.append(f"        {i.severity}: {i.message}")
    return "\n".join(lines)

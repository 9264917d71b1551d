"""``songmaytinh explain STUDENT``: why a child got what he or she got, from a published run.

STUDENT is a person id (HS000123), a source row ("FILE:SHEET:ROW" or "FILE:ROW", as exports/students.csv cites
it) or a name (case, tones and spacing as written do not matter). The answer reads the run's exports: status and
reason, the category that ranked the child (with the rows that claimed another and the rule that chose), priority
tier and rank, each need's outcome with what was left in the pools the child could draw from when the turn came,
the decisions applied (officer overrides, handovers, releases, merges — from the run's change log and override
log), and every source row with its issues. Given the ``ledger`` too, an id merged away into another resolves to
the surviving id (the merge's run and time said), and the officer decisions on pairs behind a merge or a split
are shown with who made them, when, and where they were written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from flows.publishing.changes import state_words as _state
from flows.publishing.workbook import label
from flows.text import fold

_READ = dict(dtype=str, keep_default_na=False)


def _optional(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, **_READ) if path.exists() else pd.DataFrame()


def _find(query: str, students: pd.DataFrame) -> pd.DataFrame:
    q = query.strip()
    match = students[students["person_id"] == q.upper()]
    if match.empty and ":" in q:
        head, _, row = q.rpartition(":")
        if row.strip().isdigit():
            row = row.strip()
            same_row = students["source_row"] == row
            match = students[same_row & (students["source_file"] == head)]  # FILE:ROW
            if match.empty and ":" in head:  # FILE:SHEET:ROW
                file, _, sheet = head.rpartition(":")
                match = students[same_row & (students["source_file"] == file) & (students["source_sheet"] == sheet)]
    if match.empty:
        match = students[students["full_name"].map(fold) == fold(q)]
    return match


def _left(text: str) -> str:
    """"laptop:1;tablet:3" -> "Máy tính xách tay 1, Máy tính bảng 3"; "0" -> nothing left."""
    if not text:
        return ""
    if text == "0":
        return "không còn đơn vị nào"
    parts = []
    for piece in text.split(";"):
        item, _, n = piece.partition(":")
        parts.append(f"{label('item', item)} {n}")
    return ", ".join(parts)


def explain_student(query: str, run_dir: Path, ledger=None) -> str:
    """Text for an officer: status, tier, rank, each need's outcome and what was left at the child's turn, the
    decisions applied, and every source row of the child. ``ledger`` (``flows.adapters.ledger.Ledger``, only
    read): merged-away ids and the officer decisions on pairs."""
    exports = run_dir / "exports"
    if not (exports / "students.csv").exists():
        raise FileNotFoundError(f"{run_dir}: no published run found (run `songmaytinh run` first)")
    students = pd.read_csv(exports / "students.csv", **_READ)
    allocations = pd.read_csv(exports / "allocations.csv", **_READ)
    issues = pd.read_csv(exports / "issues.csv", **_READ)
    changes = _optional(exports / "changes.csv")
    overrides = _optional(exports / "overrides.csv")
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    match = _find(query, students)
    lines = [f"Lần tổng hợp {manifest['run_id']} (số liệu đến ngày {manifest['as_of']})"]
    if match.empty and ledger is not None:
        merged = _merged_into(query, ledger)
        if merged is not None:
            survivor, said = merged
            match = students[students["person_id"] == survivor]
            lines.append(said)
            if match.empty:
                return "\n".join(lines + [f"Mã {survivor} không có trong lần tổng hợp {manifest['run_id']}."])
    if match.empty:
        return f"Không tìm thấy học sinh '{query}' trong lần tổng hợp {manifest['run_id']}."
    for _, rows in match.groupby(["person_id", "source_file", "source_row"] if (match["person_id"] == "").any()
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
        mine = allocations[allocations["person_id"] == pid] if pid else allocations.iloc[:0]
        tier = next((t for t in mine.get("tier", pd.Series(dtype=str)) if t), "")
        rank = next((r for r in mine["priority_rank"] if r), "") if len(mine) else first.get("priority_rank", "")
        category = next((c for c in mine.get("category", pd.Series(dtype=str)) if c), "") or _chosen(rows)
        lines.append(f"  Đối tượng: {label('category', category or first['category'])}"
                     + (f" (nhóm ưu tiên {tier})" if tier else "")
                     + (f"; hạng ưu tiên {rank}" if rank else "")
                     + f"; {_grade(first, rows)}; chưa có thiết bị: {_yes(first['lacks_device'])}; "
                     f"chưa có Internet: {_yes(first['lacks_internet'])}")
        lines += _category_story(rows, category)
        for a in mine.to_dict("records"):
            outcome = label("status", a["status"]).lower()
            item = f": {label('item', a['item'])} từ khoản tài trợ {a['donation_id']}" if a["item"] else ""
            why = f" — {label('reason', a['reason'])}" if a["reason"] else ""
            lines.append(f"  Nhu cầu {label('need', a['need']).lower()}: {outcome}{item}; "
                         f"hạng ưu tiên {a['priority_rank']}{why}")
            left = _left(a.get("left_when_turn", ""))
            if left:
                lines.append(f"    Khi đến lượt em, nguồn em được nhận còn: {left}")
            elif a["status"] == "handed_over":
                lines.append("    Đã bàn giao (theo sổ bàn giao): không bao giờ thay đổi")
            elif a["status"] == "allocated" and a["reason"] != "override":
                lines.append("    Phân bổ từ lần tổng hợp trước, giữ nguyên")
        decisions = _decisions(pid, changes, overrides)
        if pid and ledger is not None:
            decisions += _pair_decisions(pid, rows, students, ledger)
        if decisions:
            lines.append("  Quyết định đã áp dụng:")
            lines += [f"    - {d}" for d in decisions]
        lines.append(f"  Có trong {len(rows)} dòng của các danh sách:")
        for r in rows.itertuples():
            sheet = f" / {r.source_sheet}" if r.source_sheet else ""
            lines.append(f"    - {r.source_file}{sheet}, dòng {r.source_row}: {label('status', r.status).lower()}")
            cited = issues[(issues["source_file"] == r.source_file) & (issues["source_sheet"] == r.source_sheet)
                           & (issues["source_row"] == r.source_row)]
            for i in cited.itertuples():
                lines.append(f"        {label('severity', i.severity)}: {i.message}")
        if pid and len(rows) > 1:
            lines.append(f"  Các dòng trên được gộp thành một học sinh (mã {pid}): hỗ trợ mỗi em một lần.")
    return "\n".join(lines)


def _decisions(pid: str, changes: pd.DataFrame, overrides: pd.DataFrame) -> list[str]:
    """This run's decisions about the person: officer overrides with who and why, then the change log."""
    out: list[str] = []
    if not pid:
        return out
    if len(overrides) and "person_id" in overrides:
        for o in overrides[overrides["person_id"] == pid].to_dict("records"):
            what = label("override_action", o["action"])
            if o.get("item"):
                what += f" {label('item', o['item']).lower()}"
            if o.get("need") and o["action"] == "release":
                what += f" ({label('need', o['need']).lower()})"
            by = f"{o['officer']}, " if o.get("officer") else ""
            out.append(f"Điều chỉnh của cán bộ ({by}ngày {o.get('decided_on') or '?'}): {what}"
                       + (f" — lý do: {o['reason']}" if o.get("reason") else "")
                       + f" — {label('override_result', o.get('result', ''))}")
    if len(changes) and "person_id" in changes:
        for c in changes[changes["person_id"] == pid].to_dict("records"):
            need = f"{label('need', c['need']).lower()}: " if c.get("need") else ""
            other = c.get("other_person_id")
            other = f", cùng một học sinh với mã {other}" if isinstance(other, str) and other else ""
            out.append(f"{need}{_state(c['before'])} → {_state(c['after'])} "
                       f"(căn cứ: {label('reason', c['rule'])}{other})")
    return out


def _grade(first: pd.Series, rows: pd.DataFrame) -> str:
    """The child's class; when a row did not write it, the class the night used and where it came from ("lớp 5
    (lớp suy ra từ năm sinh)", "lớp 4 (lớp theo danh sách của trường)")."""
    if "grade_source" in rows:
        unwritten = rows[(rows["grade_source"] != "list") & (rows["status"] != "rejected")]
        if len(unwritten):
            row = unwritten.iloc[0]
            if not row["grade_source"]:
                return "lớp chưa xác định được (danh sách không ghi lớp và năm sinh)"
            return f"lớp {row['grade_resolved']} ({label('grade_source', row['grade_source']).lower()})"
    return f"lớp {first['grade'] or '?'}"


def _yes(value: str) -> str:
    return "có" if value == "true" else "không"


# The category a child was ranked by, the rule that chose it (flows.linkage.dedupe: the commune's list wins, else
# the highest tier claimed) and the rows that claimed another.
_TIER_ORDER = ("poor", "near_poor", "covid_orphan", "none")


def _usable(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[~rows["status"].isin(["rejected", "duplicate"])] if "status" in rows else rows


def _chosen(rows: pd.DataFrame) -> str:
    """The category the night gives a child not ranked (no allocation row): as the dedupe stage chooses it."""
    usable = _usable(rows)
    commune = usable[usable["list_type"] == "commune"] if "list_type" in usable else usable.iloc[:0]
    claimed = [c for c in (commune if len(commune) else usable)["category"] if c]
    return min(claimed, key=lambda c: _TIER_ORDER.index(c) if c in _TIER_ORDER else len(_TIER_ORDER), default="")


def _category_story(rows: pd.DataFrame, category: str) -> list[str]:
    usable = _usable(rows)
    other = usable[usable["category"] != category]
    if not category or other.empty:
        return []
    commune = "list_type" in usable and (usable["list_type"] == "commune").any()
    rule = ("danh sách của xã được dùng (xã giữ sổ hộ nghèo, hộ cận nghèo)" if commune
            else "không có danh sách của xã: lấy đối tượng ưu tiên cao nhất được khai")
    lines = [f"    Các dòng khai đối tượng khác nhau; quy tắc chọn: {rule}. Dòng khai khác:"]
    for r in other.itertuples():
        sheet = f" / {r.source_sheet}" if r.source_sheet else ""
        lines.append(f"      - {r.source_file}{sheet}, dòng {r.source_row}: {label('category', r.category)}")
    return lines


# What the ledger remembers about identities: merged-away ids, officer decisions on pairs.


def _merged_into(query: str, ledger) -> tuple[str, str] | None:
    """(surviving id, a line saying so) when ``query`` is an id merged away into another."""
    merged = ledger.merged_ids()
    hit = merged[merged["alias_id"] == query.strip().upper()]
    if hit.empty:
        return None
    row = hit.iloc[0]
    when = pd.Timestamp(row["merged_at"]).strftime("%d/%m/%Y %H:%M") if pd.notna(row["merged_at"]) else "?"
    return row["person_id"], (f"Mã {row['alias_id']} đã được gộp vào mã {row['person_id']} (cùng một em; lần tổng hợp "
                              f"{row['run_id'] or '?'}, lúc {when} UTC): thông tin dưới đây là của mã {row['person_id']}")


def _pair_decisions(pid: str, rows: pd.DataFrame, students: pd.DataFrame, ledger) -> list[str]:
    """The officer decisions on pairs that touch this child's records: who decided, when, where it is written,
    and what it did (merged two records into this child, or kept one apart from another child)."""
    if "fingerprint" not in rows:
        return []
    mine = {fp for fp in rows["fingerprint"] if fp}
    decided = ledger.decisions()
    if decided.empty or not mine:
        return []
    touching = decided[decided["fingerprint_a"].isin(mine) | decided["fingerprint_b"].isin(mine)]
    if touching.empty:
        return []
    others = set(touching["fingerprint_a"]) | set(touching["fingerprint_b"])
    owner = ledger.person_for_fingerprints(others - mine)
    out = []
    for d in touching.to_dict("records"):
        a, b = d["fingerprint_a"], d["fingerprint_b"]
        who = d["decided_by"] or "không ghi tên"
        day = pd.Timestamp(d["decided_at"]).strftime("%d/%m/%Y") if pd.notna(d["decided_at"]) and d["decided_at"] \
            else "không ghi ngày"
        where = f" — ghi tại {d['source']}" if d["source"] else ""
        if d["decision"] == "same":
            what = (f"hai hồ sơ ({_where(a, students)}; {_where(b, students)}) là cùng một em: gộp thành mã {pid}"
                    if a in mine and b in mine else
                    f"hồ sơ {_where(a if a in mine else b, students)} là cùng một em với hồ sơ "
                    f"{_where(b if a in mine else a, students)} (hồ sơ này không có trong danh sách lần này)")
        else:
            other = b if a in mine else a
            whose = owner.get(other) or next((p for p in students.loc[students["fingerprint"] == other, "person_id"]
                                              if p), "")
            what = (f"hồ sơ {_where(a if a in mine else b, students)} và hồ sơ {_where(other, students)}"
                    + (f" (mã {whose})" if whose else "") + " là hai em khác nhau: tách, không gộp")
        out.append(f"Kết luận của cán bộ ({who}, ngày {day}): {what}{where}")
    return out


def _where(fp: str, students: pd.DataFrame) -> str:
    """Where a record is, by its fingerprint: "truong/a.xlsx / DS, dòng 12" (the first such row)."""
    found = students[students["fingerprint"] == fp]
    if found.empty:
        return f"mã hồ sơ {fp}"
    r = found.iloc[0]
    sheet = f" / {r['source_sheet']}" if r["source_sheet"] else ""
    return f"{r['source_file']}{sheet}, dòng {r['source_row']}"

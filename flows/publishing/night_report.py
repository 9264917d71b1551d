"""What a night did, in the few lines an officer reads in the morning: counts, what needs attention, where.

``report_for_run`` reads a published run folder (its manifest and CSV exports) and compares it with the night
before (the newest earlier run folder beside it): new pairs to review, units whose lists have new errors.
``report_for_failure`` says what failed. From a report come the Prefect artifacts' content (``count_rows``,
``sources_markdown``) and the morning e-mail (``morning_message``). ``history`` turns the ledger's run records
into the rows of ``songmaytinh status``.

Only counts, ids, file and unit names and our own messages go in: never a child's name or phone number.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

COUNT_LABELS = [
    ("sources", "Nguồn đã đọc"), ("sources_stale", "Nguồn dùng bản lưu (không đọc được tối nay)"),
    ("sources_failed", "Nguồn lỗi"), ("student_rows", "Dòng học sinh"),
    ("rows_rejected", "Dòng bị loại (lỗi)"), ("rows_duplicate", "Dòng lặp"), ("issues", "Vấn đề dữ liệu"),
    ("persons", "Học sinh (sau ghép trùng)"), ("allocated", "Được phân bổ"), ("waitlisted", "Danh sách chờ"),
    ("excluded", "Không đủ điều kiện"), ("devices_allocated", "Thiết bị đã phân bổ"),
    ("internet_allocated", "Gói Internet đã phân bổ"), ("review_pairs", "Cặp hồ sơ cần xem xét"),
    ("handovers", "Đã bàn giao"), ("overrides_applied", "Điều chỉnh của cán bộ đã áp dụng"),
    ("changes", "Thay đổi phân bổ so với lần trước"),
]
# the counts of the night's table artifact and of the morning message, in this order
SUMMARY_COUNTS = ["sources", "sources_stale", "sources_failed", "student_rows", "rows_rejected", "persons",
                  "allocated", "waitlisted", "review_pairs", "changes"]
STATUS_LABELS = {"stale": "dùng bản lưu", "failed": "lỗi"}


@dataclass
class NightReport:
    """One night for the morning: ``ok`` and its counts, or ``failure`` (what failed); ``retried``: step ->
    retries it needed. ``review_pairs_new`` / ``units_new_errors`` compare with the night before (None: no
    earlier night to compare with)."""

    ok: bool
    run_id: str | None = None
    as_of: dt.date | None = None
    counts: dict[str, int] = field(default_factory=dict)
    attention_sources: list[dict] = field(default_factory=list)  # {source, status, message}
    review_pairs_new: int | None = None
    units_new_errors: list[tuple[str, int]] = field(default_factory=list)  # (school / commune / file, errors)
    run_dir: Path | None = None
    district_workbooks: list[Path] = field(default_factory=list)
    latest: Path | None = None
    failure: str = ""
    retried: dict[str, int] = field(default_factory=dict)
    previous_run: str | None = None

    @property
    def needs_attention(self) -> bool:
        return bool(not self.ok or self.attention_sources or self.review_pairs_new or self.units_new_errors)


# ---------------------------------------------------------------------------------------------------------------
# Reading a run folder


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def previous_run_dir(run_dir: Path) -> Path | None:
    """The newest run folder beside ``run_dir`` that started before it (by the manifests' ``started_at``)."""
    mine = str(_manifest(run_dir).get("started_at") or "")
    best: tuple[str, Path] | None = None
    for p in run_dir.parent.iterdir():
        if p == run_dir or not p.is_dir() or p.is_symlink() or not (p / "manifest.json").is_file():
            continue
        try:
            started = str(_manifest(p).get("started_at") or "")
        except (OSError, ValueError):
            continue
        if started < mine and (best is None or started > best[0]):
            best = (started, p)
    return best[1] if best else None


def _csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame()
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _error_keys(exports: Path) -> pd.DataFrame:
    issues = _csv(exports / "issues.csv")
    if issues.empty:
        return pd.DataFrame(columns=["source_file", "key"])
    errors = issues[issues["severity"] == "error"]
    key = errors[["source_file", "source_sheet", "source_row", "column", "rule"]].agg("|".join, axis=1)
    return pd.DataFrame({"source_file": errors["source_file"], "key": key})


def _unit_names(exports: Path) -> dict[str, str]:
    """source_file -> the school (or, for a commune list, the commune) its rows name; official names only."""
    students = _csv(exports / "students.csv")
    if students.empty:
        return {}
    names: dict[str, str] = {}
    for source, rows in students.groupby("source_file"):
        for column in ("school", "commune"):
            values = rows[column][rows[column] != ""] if column in rows else []
            if len(values):
                names[str(source)] = str(values.mode().iloc[0])
                break
    return names


def report_for_run(run_dir: Path, retried: dict[str, int] | None = None) -> NightReport:
    """The report of a published run folder, compared with the night before it."""
    run_dir = Path(run_dir)
    manifest = _manifest(run_dir)
    exports = run_dir / "exports"
    before = previous_run_dir(run_dir)
    new_pairs: int | None = None
    errors = _error_keys(exports)
    if before is not None:
        pairs, old_pairs = _csv(exports / "review_pairs.csv"), _csv(before / "exports" / "review_pairs.csv")
        mine = set(pairs["pair_key"]) if "pair_key" in pairs else set()
        new_pairs = len(mine - (set(old_pairs["pair_key"]) if "pair_key" in old_pairs else set()))
        errors = errors[~errors["key"].isin(set(_error_keys(before / "exports")["key"]))]
    names = _unit_names(exports)
    per_file = errors.groupby("source_file").size().sort_values(ascending=False, kind="stable")
    units = [(names.get(str(f), str(f)), int(n)) for f, n in per_file.items()]
    counts = {k: int(v) for k, v in (manifest.get("counts") or {}).items() if isinstance(v, (int, float))}
    return NightReport(
        ok=True, run_id=manifest.get("run_id"), as_of=dt.date.fromisoformat(manifest["as_of"]), counts=counts,
        attention_sources=[{"source": s.get("source", ""), "status": s.get("status", ""),
                            "message": s.get("message", "")}
                           for s in manifest.get("sources", []) if s.get("status") in STATUS_LABELS],
        review_pairs_new=new_pairs, units_new_errors=units, run_dir=run_dir,
        district_workbooks=sorted((run_dir / "district").glob("*.xlsx")), latest=run_dir.parent / "latest",
        retried=dict(retried or {}), previous_run=before.name if before else None)


def report_for_failure(out_root: Path, failure: str, run_id: str | None = None, as_of: dt.date | None = None,
                       retried: dict[str, int] | None = None) -> NightReport:
    """A night that did not finish: what failed; the workbooks officers still have are the latest ones."""
    latest = Path(out_root) / "latest"
    workbooks = sorted((latest / "district").glob("*.xlsx")) if latest.exists() else []
    return NightReport(ok=False, run_id=run_id, as_of=as_of, failure=failure, retried=dict(retried or {}),
                       latest=latest if latest.exists() else None, district_workbooks=workbooks)


# ---------------------------------------------------------------------------------------------------------------
# What the report becomes


def _n(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def _day(day: dt.date | None) -> str:
    return f"{day:%d/%m/%Y}" if day else "(chưa rõ)"


def count_rows(report: NightReport) -> list[dict]:
    """The table artifact: one row per count (code, Vietnamese label, number)."""
    labels = dict(COUNT_LABELS)
    return [{"Mã": key, "Chỉ tiêu": labels[key], "Số lượng": int(report.counts.get(key, 0))}
            for key in SUMMARY_COUNTS]


def sources_markdown(report: NightReport) -> str:
    """The markdown artifact: sources that were stale or failed tonight, with the reason."""
    lines = [f"# Nguồn dữ liệu cần chú ý — {report.run_id or ''}", ""]
    if not report.ok:
        lines += [f"**Lần chạy không hoàn thành.** {report.failure}", ""]
    if not report.attention_sources:
        lines.append("Tất cả nguồn đều đọc được." if report.ok else "Chưa đọc được thông tin nguồn.")
        return "\n".join(lines) + "\n"
    lines += ["| Nguồn | Tình trạng | Lý do |", "| --- | --- | --- |"]
    for s in report.attention_sources:
        cells = [str(s["source"]), STATUS_LABELS.get(s["status"], s["status"]), str(s["message"]) or "—"]
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def morning_message(report: NightReport, prefix: str = "", district: str = "") -> tuple[str, str]:
    """(subject, body) of the officers' morning e-mail, in Vietnamese."""
    where = f" {district}" if district else ""
    if report.ok:
        attention = "cần chú ý" if report.needs_attention else "không có gì cần chú ý"
        subject = f"{prefix} Tổng hợp{where} ngày {_day(report.as_of)}: hoàn thành, {attention}".strip()
    else:
        subject = f"{prefix} LỖI: tổng hợp{where} ngày {_day(report.as_of)} không hoàn thành".strip()
    out = ["Kính gửi các đồng chí cán bộ phụ trách chương trình,", ""]
    if report.ok:
        out.append(f"Lần tổng hợp {report.run_id} (số liệu ngày {_day(report.as_of)}) đã hoàn thành.")
    else:
        out += [f"Lần tổng hợp {report.run_id or ''} (số liệu ngày {_day(report.as_of)}) KHÔNG hoàn thành.",
                "Các bảng tính chưa được cập nhật đêm nay; bảng tính dưới đây là của lần chạy thành công gần nhất."]
    if report.retried:
        out.append("Đã thử lại sau lỗi tạm thời: " + ", ".join(f"bước {k} thêm {v} lần"
                                                                 for k, v in report.retried.items()) + ".")
    if report.ok:
        labels = dict(COUNT_LABELS)
        out += ["", "SỐ LIỆU"] + [f"- {labels[k]}: {_n(int(report.counts.get(k, 0)))}" for k in SUMMARY_COUNTS]
    out += ["", "CẦN CHÚ Ý"]
    attention = [] if report.ok else [f"- Lỗi: {report.failure}",
                                      "- Sau khi khắc phục, chạy lại hoặc chờ lần tổng hợp đêm sau."]
    for s in report.attention_sources:
        attention.append(f"- Nguồn {STATUS_LABELS.get(s['status'], s['status'])}: {s['source']}"
                         + (f" — {s['message']}" if s["message"] else ""))
    if report.review_pairs_new:
        attention.append(f"- Cặp hồ sơ mới cần xem xét: {_n(report.review_pairs_new)} (trang \"Cần xem xét\" "
                         "của bảng tổng hợp huyện)")
    for unit, n in report.units_new_errors:
        attention.append(f"- Có lỗi mới: {unit} ({_n(n)} lỗi)")
    if report.ok and report.previous_run is None:
        attention.append("- (Đêm đầu tiên: chưa có lần chạy trước để so sánh.)")
    out += attention or ["- Không có."]
    out += ["", "BẢNG TÍNH"]
    if report.ok and report.run_dir is not None:
        out.append(f"- Thư mục kết quả: {report.run_dir}")
    for wb in report.district_workbooks:
        out.append(f"- Bảng tổng hợp của huyện: {wb}")
    if report.ok and report.run_dir is not None:
        out.append(f"- Bảng của xã: {report.run_dir / 'communes'}; của trường: {report.run_dir / 'schools'}")
    if report.latest is not None:
        out.append(f"- Bản mới nhất luôn ở: {report.latest}")
    out += ["", "Thư này được gửi tự động sau mỗi lần tổng hợp; không chứa thông tin cá nhân của học sinh."]
    return subject, "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# Run history (songmaytinh status)


def _duration(started: object, finished: object) -> str:
    if started is None or finished is None or pd.isna(started) or pd.isna(finished):
        return "—"
    seconds = max(0, int((pd.Timestamp(finished) - pd.Timestamp(started)).total_seconds()))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


def history(runs: pd.DataFrame, last: int = 10) -> list[dict[str, str]]:
    """The last ``last`` runs of ``Ledger.runs()``, newest first: run id, as-of, duration, sources ok / stale /
    failed, changes, status (a failed or unfinished run has no counts: dashes)."""
    rows = []
    for r in runs.tail(last).iloc[::-1].itertuples():
        counts = r.counts or {}

        def n(key: str) -> str:
            return _n(int(counts[key])) if key in counts else "—"

        ok = (_n(int(counts["sources"]) - int(counts.get("sources_stale", 0)) - int(counts.get("sources_failed", 0)))
              if "sources" in counts else "—")
        rows.append({"run_id": r.run_id, "as_of": _day(r.as_of) if r.as_of else "—",
                     "duration": _duration(r.started_at, r.finished_at), "sources_ok": ok,
                     "sources_stale": n("sources_stale"), "sources_failed": n("sources_failed"),
                     "changes": n("changes"), "status": str(r.status or "")})
    return rows

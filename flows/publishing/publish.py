"""Stage 7 — publish: the night's result as workbooks district officers can defend, CSV exports and a manifest.

``publish`` writes ``OUT/<run_id>.partial/``, renames it to ``OUT/<run_id>/`` when every file is written, points
``OUT/latest`` at it (a symlink replaced atomically; ``latest.txt`` where the file system has no symlinks) and
prunes old runs. Layout of a run folder::

    exports/students.csv, issues.csv, allocations.csv    the contract in DESIGN.md, column for column
    exports/changes.csv, review_pairs.csv                 change log against the previous night, review queue
    district/<district>-tong-hop-<as_of>.xlsx             the district workbook (all sheets)
    communes/<commune_code>-<slug>.xlsx                   one per commune: only that commune's children
    schools/<school_code>-<slug>.xlsx                     one per school with rows or issues: its feedback
    manifest.json                                         written last; sha256 of every other file

Workbooks write data as data (every text through ``write_string``, string conversions off), in Times New
Roman with the official document heading, and are reproducible: the same result gives the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import logging
import math
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter

from flows.allocation.coverage import village_key
from flows.config import AppConfig, District
from flows.frames import ALLOCATION_EXPORT_COLUMNS, ISSUE_COLUMNS, STUDENT_EXPORT_COLUMNS, RunResult
from flows.text import as_text, is_missing, name_sort_key, strip_tones

log = logging.getLogger(__name__)

# Every code the workbooks show, with its Vietnamese wording. Unknown codes are shown as they are.
VI: dict[str, dict[str, str]] = {
    "status": {
        "allocated": "Đã phân bổ",
        "handed_over": "Đã bàn giao",
        "waitlisted": "Chờ phân bổ",
        "no_coverage": "Thôn chưa có sóng/cáp quang",
        "excluded": "Không đủ điều kiện",
        "rejected": "Dòng bị loại (lỗi dữ liệu)",
        "duplicate": "Dòng lặp",
    },
    "reason": {
        "grade_out_of_range": "Không thuộc lớp 1-9",
        "grade_unknown": "Không xác định được lớp (danh sách không ghi lớp và năm sinh)",
        "needs_nothing": "Đã có thiết bị và Internet",
        "outside_district": "Không thuộc địa bàn huyện",
        "already_supported": "Đã được hỗ trợ trước đây",
        "no_coverage": "Thôn chưa có sóng/cáp quang",
        "waitlisted": "Chưa đủ nguồn hỗ trợ, chờ theo thứ tự ưu tiên",
        "no_units": "Chưa đủ nguồn hỗ trợ, chờ theo thứ tự ưu tiên",
        "rejected": "Dòng có lỗi, cần sửa và gửi lại",
        "duplicate": "Trùng với dòng khác trong cùng trang tính",
        "merged": "Đã gộp với hồ sơ khác của cùng học sinh",
        "released": "Đã thu hồi phân bổ",
        "override": "Điều chỉnh của cán bộ phụ trách",
        "earmarked": "Theo nguồn tài trợ dành riêng",
        "ineligible": "Không thuộc đối tượng hỗ trợ",
        "handed_over": "Đã bàn giao",
        "earmark": "Theo nguồn tài trợ dành riêng",
        "no_signal": "Thôn chưa có sóng 3G/4G, cáp quang",
        "coverage_unknown": "Chưa có thông tin phủ sóng của thôn",
        "not_listed": "Không còn trong danh sách lần này",
        "person_absent": "Không còn trong danh sách lần này",
        "need_withdrawn": "Danh sách không còn ghi nhu cầu này",
        "donation_unavailable": "Nguồn tài trợ không còn đủ",
        "new_allocation": "Phân bổ mới",
        "handover": "Sổ bàn giao thiết bị",
        "reallocated": "Phân bổ lại",
        "officer_override": "Điều chỉnh của cán bộ phụ trách",
        "officer_excluded": "Cán bộ phụ trách loại khỏi danh sách",
        "officer_released": "Cán bộ phụ trách thu hồi nhu cầu hỗ trợ",
        # rejected rows carry their first error rule; duplicate rows the duplicate rule
        "duplicate_in_sheet": "Trùng với dòng khác trong cùng trang tính",
        "name_present": "Thiếu họ và tên",
        "date_valid": "Ngày sinh không đọc được",
        "grade_valid": "Lớp không đọc được",
        "commune_in_district": "Xã không thuộc huyện",
        "need_marked": "Chưa đánh dấu nhu cầu",
        "missing_column": "Thiếu cột bắt buộc",
        "no_table": "Không tìm thấy bảng danh sách",
        "unreadable_file": "Không đọc được tệp",
    },
    "need": {"device": "Thiết bị", "internet": "Internet"},
    "item": {
        "desktop": "Máy tính để bàn",
        "laptop": "Máy tính xách tay",
        "tablet": "Máy tính bảng",
        "smartphone": "Điện thoại thông minh",
        "internet_package": "Gói cước Internet",
        "cash": "Tiền mặt",
        "budget": "Ngân sách nhà nước",
    },
    "category": {
        "poor": "Hộ nghèo",
        "near_poor": "Hộ cận nghèo",
        "covid_orphan": "Con có bố/mẹ tử vong do COVID-19",
        "none": "Hoàn cảnh khó khăn khác",
    },
    "severity": {"error": "Lỗi", "warning": "Cảnh báo"},
    "source_status": {"ok": "Đã đọc", "stale": "Dùng bản cũ", "failed": "Lỗi"},
    "source_kind": {
        "students": "Danh sách học sinh",
        "donations": "Nguồn tài trợ",
        "connectivity": "Phủ sóng thôn",
        "handover": "Bàn giao",
        "follow_up": "Theo dõi sử dụng",
        "decisions": "Kết luận trùng lặp",
        "overrides": "Điều chỉnh phân bổ",
    },
    "donation_status": {"received": "Đã nhận", "pledged": "Cam kết"},
    "device_state": {"in_use": "Đang sử dụng", "broken": "Hỏng", "lost": "Mất"},
    "override_action": {"exclude": "Loại khỏi danh sách", "release": "Thu hồi", "assign": "Giao thiết bị"},
    "override_result": {"applied": "Đã áp dụng", "unserved": "Chưa có thiết bị loại này để giao",
                        "not_listed": "Không có học sinh trong danh sách lần này",
                        "not_eligible": "Học sinh không đủ điều kiện", "handed_over": "Đã bàn giao, không thay đổi",
                        "superseded": "Đã được thay bằng điều chỉnh sau", "pending": "Chưa đến ngày áp dụng",
                        "invalid": "Không hợp lệ"},
    "sex": {"M": "Nam", "F": "Nữ"},
    # where a child's class comes from when the row did not write it (flows.rules.grades)
    "grade_source": {"list": "Lớp theo danh sách", "school_record": "Lớp theo danh sách của trường",
                     "birth_year": "Lớp suy ra từ năm sinh", "": "Chưa xác định được lớp"},
}

SHEETS = {
    "summary": "Tổng hợp",
    "allocated": "Danh sách phân bổ",
    "waitlist": "Danh sách chờ",
    "excluded": "Không đủ điều kiện",
    "review": "Cần xem xét",
    "issues": "Lỗi dữ liệu",
    "donations": "Nguồn tài trợ",
    "infrastructure": "Hạ tầng",
    "progress": "Tiến độ",
    "sources": "Nguồn dữ liệu",
    "feedback": "Phản hồi",
    "students": "Danh sách",
    "grades": "Lớp chưa ghi",
}

HEADER_ROW = 6  # 0-based row of every sheet's (first) table header: Excel row 7, under the document heading
NO_REVIEW_PAIRS = "Không có cặp nào cần xem xét"
_QUOC_HIEU = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
_TIEU_NGU = "Độc lập - Tự do - Hạnh phúc"
_GIVEN = ("allocated", "handed_over")
_WAITING = ("waitlisted", "no_coverage")
_OTHER_LABEL = "Khác / chưa xác định"
_STREAM_ROWS = 5000  # workbooks with more data rows than this are written in xlsxwriter's constant-memory mode


def label(group: str, code: object) -> str:
    """Vietnamese wording of a code (``label("item", "tablet")`` -> "Máy tính bảng"); unknown codes as is."""
    text = as_text(code)
    return VI.get(group, {}).get(text, text)


def publish(
    result: RunResult,
    cfg: AppConfig,
    out_root: Path,
    retention: int | None = None,
    *,
    clock: Callable[[], dt.datetime] | None = None,
) -> Path:
    """Write the run folder ``out_root/<run_id>/``, point ``out_root/latest`` at it, prune old runs; return it.

    ``retention`` is how many run folders to keep (the one just written always stays; default: the config's
    ``publish.retention``). ``clock`` gives the
    finish time recorded in the manifest when ``result.finished_at`` is not set.
    """
    started = time.perf_counter()
    run_id = _checked_run_id(result.run_id)
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    final = out_root / run_id
    partial = out_root / f"{run_id}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir()
    try:
        data = _prepare(result, cfg)
        _write_exports(result, partial / "exports")
        _write_district(data, partial / "district" / data.district_file)
        workbooks = 1
        for code in data.commune_codes:
            _write_commune(data, code, partial / "communes" / data.commune_file(code))
            workbooks += 1
        for code in data.school_codes:
            _write_school(data, code, partial / "schools" / data.school_file(code))
            workbooks += 1
        _write_data_docs(result, cfg, partial)
        finished_at = result.finished_at or (clock or _now_like(result.started_at))()
        _write_manifest(result, data, partial, finished_at, workbooks)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if final.exists() or final.is_symlink():
        aside = out_root / f".{run_id}.replaced-{os.getpid()}"
        os.rename(final, aside)
        os.rename(partial, final)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.rename(partial, final)
    _point_latest(out_root, run_id)
    pruned = _prune(out_root, keep=final,
                    retention=cfg.district.publish.retention if retention is None else retention)
    log.info("published run %s: %d workbooks, %d student rows, %d issues, %d pruned in %.1fs", run_id,
             workbooks, len(data.students), len(data.issues), pruned, time.perf_counter() - started)
    return final


def _write_data_docs(result: RunResult, cfg: AppConfig, folder: Path) -> None:
    """The GX Data Docs site of tonight's validation (flows.rules.datadocs), inside the run folder and its manifest."""
    from flows.rules import datadocs
    target = folder / datadocs.FOLDER
    try:
        datadocs.build(result.validation, cfg, result.run_id, result.started_at, target)
    except Exception as exc:  # the officers' detail view must not cost the schools their night's results
        log.warning("data docs not built (%s): %s", type(exc).__name__, str(exc)[:200])
        shutil.rmtree(target, ignore_errors=True)


# ----------------------------------------------------------------------------------------------------------
# Plain values
# ----------------------------------------------------------------------------------------------------------

def _int(v: object) -> int | None:
    n = _num(v)
    return None if n is None else int(n)


def _num(v: object) -> float | int | None:
    if is_missing(v) or isinstance(v, bool) or v == "":
        return None
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not math.isfinite(f):
        return None
    return int(f) if f.is_integer() else f


def _truthy(v: object) -> bool:
    if is_missing(v):
        return False
    if isinstance(v, str):
        return v.strip().lower() in {"true", "1", "x", "yes"}
    return bool(v)


def _csv_cell(v: object) -> str:
    """Contract formatting: true/false, integers without ".0", ISO dates, empty for missing."""
    if type(v) is str:
        return v
    if is_missing(v):
        return ""
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return "true" if v else "false"
    if isinstance(v, float) or type(v).__name__.startswith("float"):
        f = float(v)  # type: ignore[arg-type]
        return str(int(f)) if f.is_integer() else repr(f)
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time() and v.tzinfo is None else v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _date_value(iso: object, birth_year: object = None) -> dt.date | str | None:
    text = as_text(iso)
    if text:
        try:
            return dt.date.fromisoformat(text[:10])
        except ValueError:
            return text
    year = _int(birth_year)
    return str(year) if year else None


def _date_line(place: str, day: dt.date) -> str:
    """"Hữu Lũng, ngày 05 tháng 01 năm 2022": days below 10 and months 1-2 take a leading zero (ND 30/2020)."""
    d = f"{day.day:02d}" if day.day < 10 else str(day.day)
    m = f"{day.month:02d}" if day.month <= 2 else str(day.month)
    return f"{place}, ngày {d} tháng {m} năm {day.year}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", strip_tones(text).lower()).strip("-") or "x"


def _safe_code(code: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", code).strip("-") or "x"


def _checked_run_id(run_id: str) -> str:
    text = str(run_id)
    if (not text or text in {".", "..", "latest", "latest.txt"} or text.startswith(".")
            or text.endswith(".partial") or "/" in text or "\\" in text or "\x00" in text):
        raise ValueError(f"run_id {run_id!r} cannot name a run folder")
    return text


def _now_like(started: dt.datetime) -> Callable[[], dt.datetime]:
    return lambda: dt.datetime.now(started.tzinfo).replace(microsecond=0)


# ----------------------------------------------------------------------------------------------------------
# Preparing the night's frames once
# ----------------------------------------------------------------------------------------------------------

def _frame(df: Any, required: Sequence[str], name: str) -> pd.DataFrame:
    """The frame with its contract columns; an empty or missing frame gets them, a filled one must have them."""
    if df is None:
        df = pd.DataFrame()
    missing = [c for c in required if c not in df.columns]
    if missing and len(df):
        raise ValueError(f"publish: {name} frame lacks contract column(s) {', '.join(missing)}")
    if missing:
        df = df.reindex(columns=[*df.columns, *missing])
    return df


def _texts(df: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    for c in columns:
        if c not in df.columns:
            df[c] = ""
        else:
            df[c] = [as_text(v) for v in df[c].tolist()]
    return df


def _ints(df: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    for c in columns:
        values = df[c].tolist() if c in df.columns else [None] * len(df)
        df[c] = pd.array([_int(v) for v in values], dtype="Int64")
    return df


@dataclass
class _Data:
    result: RunResult
    cfg: AppConfig
    # Display-ready frames (text columns "" when missing, integers Int64) with sort helpers _commune_order,
    # _school_order, _name_rank (Vietnamese collation); students also _file_school (school that sent the file).
    students: pd.DataFrame
    persons: pd.DataFrame  # one row per person_id, placed in one commune and school; sources = rows cited
    allocations: pd.DataFrame
    issues: pd.DataFrame  # plus _commune_key / _school_key: whose workbook shows it; _row_commune, _row_school
    review_pairs: pd.DataFrame
    donations: pd.DataFrame
    commune_codes: list[str]
    school_codes: list[str]  # schools that get a feedback workbook

    @property
    def district(self) -> District:
        return self.cfg.district

    @property
    def district_file(self) -> str:
        return f"{_slug(self.district.district.short_name)}-tong-hop-{self.result.as_of.isoformat()}.xlsx"

    def commune_name(self, code: str, fallback: str = "") -> str:
        c = self.district.commune_by_code.get(code)
        return c.name if c else fallback

    def school_name(self, code: str, fallback: str = "") -> str:
        s = self.district.school_by_code.get(code)
        return s.name if s else fallback

    def commune_file(self, code: str) -> str:
        return f"{_safe_code(code)}-{_slug(self.commune_name(code, code))}.xlsx"

    def school_file(self, code: str) -> str:
        return f"{_safe_code(code)}-{_slug(self.school_name(code, code).removeprefix('Trường '))}.xlsx"

    def tier_label(self, category: str) -> str:
        if not category:
            return ""
        return self.district.tier_label(category) if category in VI["category"] else category


def _prepare(result: RunResult, cfg: AppConfig) -> _Data:
    d = cfg.district
    commune_order = {c.code: i for i, c in enumerate(d.communes)}
    school_order = {s.code: i for i, s in enumerate(d.schools)}
    commune_by_name = {c.name: c.code for c in d.communes}
    school_by_name = {s.name: s.code for s in d.schools}

    st = _frame(result.students, STUDENT_EXPORT_COLUMNS, "students").copy()
    st = _texts(st, ["source_file", "source_sheet", "school", "commune", "village", "full_name", "date_of_birth",
                     "sex", "category", "person_id", "status", "reason", "list_type", "school_code",
                     "commune_code", "unit_code"])
    st = _ints(st, ["source_row", "grade", "birth_year", "priority_rank"])
    st["lacks_device"] = [_truthy(v) for v in st["lacks_device"].tolist()]
    st["lacks_internet"] = [_truthy(v) for v in st["lacks_internet"].tolist()]
    _fill_codes(st, commune_by_name, school_by_name)

    al = _frame(result.allocations, ALLOCATION_EXPORT_COLUMNS, "allocations").copy()
    al = _texts(al, ["person_id", "need", "full_name", "commune", "school", "category", "item", "donation_id",
                     "status", "reason", "commune_code", "school_code", "village", "date_of_birth"])
    al = _ints(al, ["grade", "priority_rank"])
    _fill_codes(al, commune_by_name, school_by_name)

    iss = _frame(result.issues, ISSUE_COLUMNS, "issues").copy()
    iss = _texts(iss, ["source_file", "source_sheet", "column", "severity", "rule", "message"])
    iss = _ints(iss, ["source_row"])

    rp = result.review_pairs if result.review_pairs is not None else pd.DataFrame()
    rp = _texts(rp.copy(), ["person_id_l", "person_id_r", "reasons"] + [
        f"{f}_{side}" for f in ("full_name", "date_of_birth", "school", "commune", "village", "guardian_name",
                                "source_file") for side in ("l", "r")])
    rp = _ints(rp, ["source_row_l", "source_row_r"])
    rp["match_probability"] = [_num(v) for v in rp["match_probability"].tolist()] if "match_probability" in rp \
        else [None] * len(rp)

    dn = result.donations if result.donations is not None else pd.DataFrame()
    dn = _texts(dn.copy(), ["donation_id", "donor", "kind", "status", "earmark_commune_code", "earmark_school_code",
                            "earmark_text", "note", "date"])
    dn = _ints(dn, ["quantity", "amount_vnd", "units"])

    # Who reported each file: a school, or a commune committee.
    file_unit: dict[str, tuple[str, str]] = {}
    for source_file, g in st.groupby("source_file", sort=False):
        list_type = _mode(g["list_type"])
        code = _mode(g["unit_code"])
        if not code:
            code = _mode(g["school_code"] if list_type == "school" else g["commune_code"]) if list_type else ""
        file_unit[str(source_file)] = (list_type, code)

    # Issues belong to the row's commune (the child's) and to the school whose file they are in. A row-level
    # issue whose row has no commune goes only to a commune that wrote the row itself; sheet-level issues (no
    # child in them) go to the reporting unit's commune.
    keys = st[["source_file", "source_sheet", "source_row", "commune_code", "school_code"]].dropna(
        subset=["source_row"]).drop_duplicates(["source_file", "source_sheet", "source_row"])
    keys = keys.rename(columns={"commune_code": "_row_commune", "school_code": "_row_school"})
    iss = iss.merge(keys, how="left", on=["source_file", "source_sheet", "source_row"])
    iss = _texts(iss, ["_row_commune", "_row_school"])
    units = [file_unit.get(f, ("", "")) for f in iss["source_file"].tolist()]
    school_commune = {s.code: s.commune for s in d.schools}
    iss["_commune_key"] = [
        row_commune or (code if lt == "commune" else school_commune.get(code, "") if is_missing(row) and lt else "")
        for row_commune, row, (lt, code) in zip(iss["_row_commune"], iss["source_row"].tolist(), units)]
    iss["_school_key"] = [code if lt == "school" else "" for lt, code in units]
    st_units = [file_unit.get(f, ("", "")) for f in st["source_file"].tolist()]
    st["_file_school"] = [code if lt == "school" else "" for lt, code in st_units]
    st["_file_commune"] = [code if lt == "commune" else "" for lt, code in st_units]

    # One row per person: the commune list first (it is authoritative), then school lists, sheet order.
    persons = _persons(st, al)

    names = set(st["full_name"]) | set(al["full_name"]) | set(persons["full_name"])
    name_rank = {n: i for i, n in enumerate(sorted(names, key=lambda n: (name_sort_key(n), n)))}
    for frame in (st, al, persons):
        frame["_commune_order"] = [commune_order.get(c, len(commune_order)) for c in frame["commune_code"]]
        frame["_school_order"] = [school_order.get(c, len(school_order)) for c in frame["school_code"]]
        frame["_name_rank"] = [name_rank.get(n, -1) for n in frame["full_name"]]

    schools_with_rows = set(st["school_code"]) | set(st["_file_school"]) | set(iss["_school_key"])
    school_codes = [s.code for s in d.schools if s.code in schools_with_rows]
    return _Data(result=result, cfg=cfg, students=st, persons=persons, allocations=al, issues=iss,
                 review_pairs=rp, donations=dn, commune_codes=[c.code for c in d.communes],
                 school_codes=school_codes)


def _mode(values: pd.Series) -> str:
    counts = values[values != ""].value_counts()
    return str(counts.index[0]) if len(counts) else ""


def _fill_codes(df: pd.DataFrame, commune_by_name: dict[str, str], school_by_name: dict[str, str]) -> None:
    """Codes from official names where a stage did not carry them (extras are optional in the contract)."""
    df["commune_code"] = [c or commune_by_name.get(n, "") for c, n in zip(df["commune_code"], df["commune"])]
    df["school_code"] = [c or school_by_name.get(n, "") for c, n in zip(df["school_code"], df["school"])]


def _persons(st: pd.DataFrame, al: pd.DataFrame) -> pd.DataFrame:
    cols = ["person_id", "status", "reason", "full_name", "date_of_birth", "birth_year", "grade", "school",
            "school_code", "commune", "commune_code", "village", "category"]
    rows = st[st["person_id"] != ""].copy()
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in [*cols, "sources"]})
    rows["_pref"] = [2 * (s == "duplicate") + (lt != "commune") for s, lt in zip(rows["status"], rows["list_type"])]
    rows = rows.sort_values(["_pref", "source_file", "source_sheet", "source_row"], kind="stable")
    cites: dict[str, list[str]] = {}
    for pid, f, r in zip(rows["person_id"], rows["source_file"], rows["source_row"].tolist()):
        cites.setdefault(pid, []).append(f if is_missing(r) else f"{f}, dòng {r}")
    first = rows.drop_duplicates("person_id")[cols].set_index("person_id")
    # Fill a missing place, school or date from the person's other rows.
    for c in ("school", "school_code", "commune", "commune_code", "village", "date_of_birth"):
        other = rows[rows[c] != ""].drop_duplicates("person_id")
        found = dict(zip(other["person_id"], other[c]))
        first[c] = [v or found.get(pid, "") for pid, v in zip(first.index, first[c])]
    # Eligible persons are placed where the allocation stage placed them.
    if not al.empty:
        placed = al.drop_duplicates("person_id")
        for c in ("commune", "commune_code", "school", "school_code"):
            found = dict(zip(placed["person_id"], placed[c]))
            first[c] = [found.get(pid, "") or v for pid, v in zip(first.index, first[c])]
    first = first.reset_index()
    first["sources"] = ["; ".join(cites.get(pid, [])) for pid in first["person_id"]]
    return first


# ----------------------------------------------------------------------------------------------------------
# CSV exports and manifest
# ----------------------------------------------------------------------------------------------------------

def _write_csv(path: Path, df: Any, leading: Sequence[str], *, contract: bool = True) -> None:
    """``leading`` columns first, in order, then the frame's other columns; a contract column must exist."""
    df = df if df is not None else pd.DataFrame()
    missing = [c for c in leading if c not in df.columns]
    if missing and len(df) and contract:
        raise ValueError(f"publish: {path.name} lacks contract column(s) {', '.join(missing)}")
    columns = [*leading, *(c for c in df.columns if c not in leading and not str(c).startswith("_"))]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        if len(df):
            values = [[_csv_cell(v) for v in df[c].tolist()] if c in df.columns else [""] * len(df)
                      for c in columns]
            writer.writerows(zip(*values))


def _write_exports(result: RunResult, folder: Path) -> None:
    _write_csv(folder / "students.csv", result.students, STUDENT_EXPORT_COLUMNS)
    _write_csv(folder / "issues.csv", result.issues, ISSUE_COLUMNS)
    _write_csv(folder / "allocations.csv", result.allocations, ALLOCATION_EXPORT_COLUMNS)
    _write_csv(folder / "changes.csv", result.changes, ["person_id", "need", "before", "after", "rule"],
               contract=False)
    _write_csv(folder / "review_pairs.csv", result.review_pairs,
               ["person_id_l", "person_id_r", "match_probability", "reasons", "pair_key"], contract=False)
    _write_csv(folder / "overrides.csv", getattr(result, "override_log", None),
               ["override_id", "person_id", "need", "action", "item", "donation_id", "officer", "reason",
                "decided_on", "result"], contract=False)
    _write_csv(folder / "follow_ups.csv", getattr(result, "follow_ups", None),
               ["person_id", "need", "item", "serial", "state", "checked_on"], contract=False)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _json_number(v: object) -> object:
    n = _num(v)
    return n if n is not None else as_text(v)


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _write_manifest(result: RunResult, data: _Data, folder: Path, finished_at: dt.datetime, workbooks: int) -> None:
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
        "devices_given": int(((al["need"] == "device") & al["status"].isin(_GIVEN)).sum()),
        "internet_given": int(((al["need"] == "internet") & al["status"].isin(_GIVEN)).sum()),
        "handed_over": int((al["status"] == "handed_over").sum()),
        "needs_waiting": int(al["status"].isin(_WAITING).sum()),
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
    tmp = folder / ".manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, folder / "manifest.json")


# ----------------------------------------------------------------------------------------------------------
# latest pointer and retention
# ----------------------------------------------------------------------------------------------------------

def _point_latest(out_root: Path, run_id: str) -> None:
    link = out_root / "latest"
    tmp = out_root / f".latest.tmp-{os.getpid()}"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(run_id, tmp, target_is_directory=True)
        os.replace(tmp, link)
    except OSError as exc:
        if tmp.is_symlink():
            tmp.unlink()
        log.warning("latest: symlink not possible (%s); writing latest.txt", exc.__class__.__name__)
        if link.is_symlink():  # an older pointer must not contradict latest.txt
            try:
                link.unlink()
            except OSError:
                pass
        pointer = out_root / f".latest.txt.tmp-{os.getpid()}"
        pointer.write_text(run_id + "\n", encoding="utf-8")
        os.replace(pointer, out_root / "latest.txt")
        return
    stale = out_root / "latest.txt"
    if stale.exists():
        stale.unlink()


def _run_started(folder: Path) -> str:
    try:
        return str(json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("started_at") or "")
    except (OSError, ValueError):
        return ""


def _prune(out_root: Path, keep: Path, retention: int) -> int:
    """Delete the oldest run folders (by manifest started_at) beyond ``retention``; never ``keep``."""
    runs = [p for p in out_root.iterdir()
            if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
            and not p.name.endswith(".partial") and (p / "manifest.json").is_file()]
    runs.sort(key=lambda p: (_run_started(p), p.name), reverse=True)
    survivors = [keep] + [p for p in runs if p != keep][: max(retention, 1) - 1]
    pruned = 0
    for p in runs:
        if p not in survivors:
            shutil.rmtree(p, ignore_errors=True)
            pruned += 1
    return pruned


# ----------------------------------------------------------------------------------------------------------
# Workbook writing
# ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Col:
    header: str
    width: float
    kind: str = "text"  # text | center | wrap | stt | int | money | date | pct


class _Book:
    """One xlsxwriter workbook with its formats, created once."""

    def __init__(self, path: Path, data: _Data, title: str, rows: int):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.data = data
        self.wb = xlsxwriter.Workbook(str(path), {
            "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
            # Large workbooks stream rows to temporary files; small ones are faster kept in memory.
            "constant_memory": rows > _STREAM_ROWS,
            "default_format_properties": {"font_name": "Times New Roman", "font_size": 12},
        })
        info = data.district.district
        created = data.result.started_at
        if created.tzinfo is not None:
            created = created.astimezone(dt.timezone.utc).replace(tzinfo=None)
        self.wb.set_properties({"title": title, "subject": info.programme, "author": info.issuing_unit,
                                "company": info.parent_unit, "created": created})
        f = self.wb.add_format
        cell = {"border": 1, "valign": "vcenter"}
        self.fmt = {
            "unit": f({"align": "center_across", "font_size": 13}),
            "unit_bold": f({"align": "center_across", "font_size": 13, "bold": True}),
            "nation": f({"align": "center_across", "font_size": 13, "bold": True}),
            "motto": f({"align": "center_across", "font_size": 13, "bold": True, "underline": 1}),
            "place": f({"align": "center_across", "font_size": 13, "italic": True}),
            "title": f({"align": "center_across", "font_size": 14, "bold": True}),
            "subtitle": f({"align": "center_across", "italic": True}),
            "section": f({"bold": True, "font_size": 13}),
            "note": f({"italic": True}),
            "th": f({**cell, "bold": True, "align": "center", "text_wrap": True, "bg_color": "#D9D9D9"}),
            "text": f(cell),
            "center": f({**cell, "align": "center"}),
            "wrap": f({**cell, "text_wrap": True}),
            "stt": f({**cell, "align": "center", "num_format": "0"}),
            "int": f({**cell, "num_format": "#,##0"}),
            "money": f({**cell, "num_format": "#,##0"}),
            "date": f({**cell, "align": "center", "num_format": "dd/mm/yyyy"}),
            "pct": f({**cell, "num_format": "0.0%"}),
            "total_text": f({**cell, "bold": True, "align": "center"}),
            "total_int": f({**cell, "bold": True, "num_format": "#,##0"}),
            "total_pct": f({**cell, "bold": True, "num_format": "0.0%"}),
            "empty": f({**cell, "italic": True}),
            "sign": f({"align": "center_across", "bold": True, "font_size": 13}),
            "sign_note": f({"align": "center_across", "italic": True}),
            "recipients": f({"bold": True, "italic": True}),
            "small": f({"font_size": 11}),
        }

    def sheet(self, key: str, title: str, subtitle: str, cols: Sequence[_Col]) -> "_Sheet":
        return _Sheet(self, SHEETS[key], title, subtitle, cols)

    def close(self) -> None:
        self.wb.close()


class _Sheet:
    """A worksheet written strictly top to bottom (as constant-memory mode needs): heading, tables, signature."""

    def __init__(self, book: _Book, name: str, title: str, subtitle: str, cols: Sequence[_Col]):
        self.book = book
        self.ws = book.wb.add_worksheet(name)
        self.name = name
        self.cols = list(cols)
        self.row = 0
        self.filtered = False
        ws, fmt = self.ws, book.fmt
        for i, c in enumerate(self.cols):
            ws.set_column(i, i, c.width)
        ws.set_paper(9)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.set_margins(left=0.5, right=0.4, top=0.6, bottom=0.6)
        ws.center_horizontally()
        ws.set_footer('&C&"Times New Roman,Regular"&10Trang &P/&N')
        info = book.data.district.district
        n = len(self.cols)
        split = self._split()
        self._across(0, 0, split, info.parent_unit.upper(), fmt["unit"])
        self._across(0, split, n, _QUOC_HIEU, fmt["nation"])
        self._across(1, 0, split, info.issuing_unit.upper(), fmt["unit_bold"])
        self._across(1, split, n, _TIEU_NGU, fmt["motto"])
        self._across(2, split, n, _date_line(info.place_name, book.data.result.as_of), fmt["place"])
        ws.set_row(3, 22)
        self._across(3, 0, n, title, fmt["title"])
        self._across(4, 0, n, subtitle, fmt["subtitle"])
        self.row = HEADER_ROW

    def _split(self) -> int:
        widths = [c.width for c in self.cols]
        total, run = sum(widths), 0.0
        for i, w in enumerate(widths):
            run += w
            if run >= 0.4 * total:
                return max(1, min(i + 1, len(widths) - 1))
        return max(1, len(widths) - 1)

    def _across(self, row: int, first: int, last: int, text: str, fmt: Any) -> None:
        """Text centred across columns [first, last) without merging (works in constant-memory mode)."""
        if last <= first:
            return
        self.ws.write_string(row, first, text, fmt)
        for c in range(first + 1, last):
            self.ws.write_blank(row, c, None, fmt)

    def header(self, cols: Sequence[_Col] | None = None, *, freeze: bool = True, repeat: bool = True) -> int:
        cols = list(cols or self.cols)
        r = self.row
        self.ws.set_row(r, 36)
        for c, col in enumerate(cols):
            self.ws.write_string(r, c, col.header, self.book.fmt["th"])
        if freeze and r == HEADER_ROW:
            self.ws.freeze_panes(r + 1, 0)
            if repeat:
                self.ws.repeat_rows(r)
        self.row += 1
        return r

    def rows(self, rows: Iterable[Sequence[Any]], cols: Sequence[_Col] | None = None, *,
             filter_from: int | None = None, empty: str = "") -> int:
        """Write data rows; returns how many. ``filter_from``: header row to put the autofilter on."""
        cols = list(cols or self.cols)
        ws, fmt = self.ws, self.book.fmt
        writers = []
        for col in cols:
            if col.kind in ("stt", "int", "money", "pct"):
                writers.append((ws.write_number, fmt[col.kind], False))
            elif col.kind == "date":
                writers.append((ws.write_datetime, fmt["date"], True))
            else:
                writers.append((ws.write_string, fmt[col.kind], False))
        write_blank, write_string, text_fmt = ws.write_blank, ws.write_string, fmt["center"]
        r = start = self.row
        for values in rows:
            for c, v in enumerate(values):
                write, f, is_date = writers[c]
                if v is None or v == "":
                    write_blank(r, c, None, f)
                elif is_date and isinstance(v, str):
                    write_string(r, c, v, text_fmt)
                else:
                    write(r, c, v, f)
            r += 1
        count = r - start
        if count == 0 and empty:
            write_string(r, 0, empty, fmt["empty"])
            for c in range(1, len(cols)):
                write_blank(r, c, None, fmt["empty"])
            r += 1
        if filter_from is not None and not self.filtered:
            ws.autofilter(filter_from, 0, max(r - 1, filter_from), len(cols) - 1)
            self.filtered = True
        self.row = r
        return count

    def total(self, values: Sequence[Any], cols: Sequence[_Col] | None = None) -> None:
        cols = list(cols or self.cols)
        fmt = self.book.fmt
        for c, (col, v) in enumerate(zip(cols, values)):
            if v is None or v == "":
                self.ws.write_blank(self.row, c, None, fmt["total_text"])
            elif isinstance(v, str):
                self.ws.write_string(self.row, c, v, fmt["total_text"])
            else:
                self.ws.write_number(self.row, c, v, fmt["total_pct" if col.kind == "pct" else "total_int"])
        self.row += 1

    def line(self, text: str, style: str = "note") -> None:
        self.ws.write_string(self.row, 0, text, self.book.fmt[style])
        self.row += 1

    def skip(self, n: int = 1) -> None:
        self.row += n

    def signature(self, recipients: Sequence[str] = (), left_title: str = "") -> None:
        """Signature block: "Nơi nhận" or the preparer on the left, the signer's title on the right."""
        fmt, n = self.book.fmt, len(self.cols)
        split = self._split()
        signer = self.book.data.district.district.signer_title.upper()
        self.skip()
        lines = max(len(recipients) + 1 if recipients else 2, 2)
        for i in range(lines):
            r = self.row
            if recipients:
                if i == 0:
                    self.ws.write_string(r, 0, "Nơi nhận:", fmt["recipients"])
                elif i <= len(recipients):
                    self.ws.write_string(r, 0, recipients[i - 1], fmt["small"])
            elif left_title:
                text = left_title if i == 0 else "(Ký, ghi rõ họ tên)" if i == 1 else ""
                if text:
                    self._across(r, 0, split, text, fmt["sign"] if i == 0 else fmt["sign_note"])
            if i == 0:
                self._across(r, split, n, signer, fmt["sign"])
            elif i == 1:
                self._across(r, split, n, "(Ký, ghi rõ họ tên và đóng dấu)", fmt["sign_note"])
            self.row += 1


# ----------------------------------------------------------------------------------------------------------
# Sheet contents
# ----------------------------------------------------------------------------------------------------------

_SUMMARY_METRICS = [
    _Col("Số dòng trong danh sách", 11, "int"),
    _Col("Dòng bị loại (lỗi)", 10, "int"),
    _Col("Số học sinh", 10, "int"),
    _Col("Đủ điều kiện", 10, "int"),
    _Col("Thiết bị đã phân bổ", 11, "int"),
    _Col("Internet đã hỗ trợ", 11, "int"),
    _Col("Nhu cầu đang chờ", 10, "int"),
    _Col("Không đủ điều kiện", 11, "int"),
    _Col("Lỗi dữ liệu", 9, "int"),
    _Col("Sĩ số lớp 1-9", 10, "int"),
    _Col("Tỷ lệ có Internet (ước tính)", 12, "pct"),
]

_ALLOCATION_COLS = [
    _Col("STT", 6, "stt"), _Col("Mã HS", 14, "center"), _Col("Họ và tên", 26), _Col("Ngày sinh", 12, "date"),
    _Col("Lớp", 6, "int"), _Col("Trường", 28), _Col("Xã", 20), _Col("Thôn", 16), _Col("Đối tượng", 24),
    _Col("Hạng ưu tiên", 9, "int"), _Col("Nhu cầu", 10), _Col("Hỗ trợ", 20), _Col("Mã tài trợ", 14, "center"),
    _Col("Trạng thái", 14), _Col("Số sê-ri", 14, "center"), _Col("Ngày bàn giao", 12, "date"),
]
_WAITLIST_COLS = [
    _Col("STT", 6, "stt"), _Col("Hạng ưu tiên", 9, "int"), _Col("Mã HS", 14, "center"), _Col("Họ và tên", 26),
    _Col("Ngày sinh", 12, "date"), _Col("Lớp", 6, "int"), _Col("Trường", 28), _Col("Xã", 20), _Col("Thôn", 16),
    _Col("Đối tượng", 24), _Col("Nhu cầu", 10), _Col("Trạng thái", 18), _Col("Lý do", 34, "wrap"),
]
_EXCLUDED_COLS = [
    _Col("STT", 6, "stt"), _Col("Mã HS", 14, "center"), _Col("Họ và tên", 26), _Col("Ngày sinh", 12, "date"),
    _Col("Lớp", 6, "int"), _Col("Trường", 28), _Col("Xã", 20), _Col("Thôn", 16), _Col("Lý do", 30, "wrap"),
    _Col("Nguồn dữ liệu", 36, "wrap"),
]
_ISSUE_COLS = [
    _Col("STT", 6, "stt"), _Col("Tệp", 30, "wrap"), _Col("Trang tính", 14), _Col("Dòng", 7, "int"),
    _Col("Cột", 16), _Col("Mức độ", 10), _Col("Quy tắc", 18), _Col("Nội dung cần sửa", 60, "wrap"),
]
_FEEDBACK_COLS = [
    _Col("STT", 6, "stt"), _Col("Tệp", 28, "wrap"), _Col("Trang tính", 14), _Col("Dòng", 7, "int"),
    _Col("Cột", 16), _Col("Mức độ", 10), _Col("Nội dung cần sửa", 64, "wrap"),
]
_SCHOOL_LIST_COLS = [
    _Col("STT", 6, "stt"), _Col("Tệp", 24, "wrap"), _Col("Dòng", 7, "int"), _Col("Họ và tên", 26),
    _Col("Ngày sinh", 12, "date"), _Col("Lớp", 6, "int"), _Col("Xã", 20), _Col("Thôn", 16),
    _Col("Đối tượng", 24), _Col("Chưa có thiết bị", 9, "center"), _Col("Chưa có Internet", 9, "center"),
    _Col("Mã HS", 14, "center"), _Col("Trạng thái", 20), _Col("Lý do", 30, "wrap"),
]
_SOURCE_COLS = [
    _Col("STT", 6, "stt"), _Col("Nguồn", 36, "wrap"), _Col("Mã nguồn", 30, "wrap"), _Col("Loại", 20),
    _Col("Trạng thái", 14), _Col("Số dòng", 10, "int"), _Col("Ghi chú", 50, "wrap"),
]
_DONATION_COLS = [
    _Col("STT", 6, "stt"), _Col("Mã tài trợ", 14, "center"), _Col("Nhà tài trợ", 30, "wrap"),
    _Col("Ngày", 14, "date"), _Col("Hình thức", 22), _Col("Số lượng", 10, "int"), _Col("Số tiền (đồng)", 16, "money"),
    _Col("Tình trạng", 12), _Col("Quy đổi (đơn vị)", 11, "int"), _Col("Dành riêng cho", 28, "wrap"),
    _Col("Ghi chú", 30, "wrap"),
]
# Tables under the donation list reuse its column widths: labels sit in the wide third column.
_DONATION_SUMMARY_COLS = [
    _Col("STT", 6, "stt"), _Col("Mã", 14, "center"), _Col("Loại hỗ trợ", 30), _Col("Đã nhận", 14, "int"),
    _Col("Từ tiền mặt", 22, "int"), _Col("Cam kết", 10, "int"), _Col("Đã phân bổ", 16, "int"),
    _Col("Đã bàn giao", 12, "int"), _Col("Còn lại", 11, "int"),
]
_CASH_COLS = [_Col("STT", 6, "stt"), _Col("Mã", 14, "center"), _Col("Khoản mục", 30),
              _Col("Số tiền (đồng)", 14, "money")]
_PROGRESS_COLS = [
    _Col("STT", 6, "stt"), _Col("Chỉ tiêu", 34, "text"), _Col("Mục tiêu", 11, "text"), _Col("Thực hiện", 10, "text"),
    _Col("Tỷ lệ đạt", 10, "pct"),
]


def _sorted(df: pd.DataFrame, *by: str) -> pd.DataFrame:
    return df.sort_values([*by, "person_id"], kind="stable") if len(df) else df


def _allocation_rows(data: _Data, al: pd.DataFrame) -> list[list[Any]]:
    given = _sorted(al[al["status"].isin(_GIVEN)], "_commune_order", "commune", "_school_order", "school",
                    "_name_rank", "need")
    handed: dict[tuple[str, str], tuple[str, Any]] = {}
    ho = data.result.handovers
    if ho is not None and len(ho):
        for pid, need, serial, day in zip(ho["person_id"], ho["need"], ho["serial"], ho["date"]):
            handed[(as_text(pid), as_text(need))] = (as_text(serial), _date_value(as_text(day)[:10]))
    out = []
    for i, r in enumerate(given.itertuples(index=False), 1):
        serial, day = handed.get((r.person_id, r.need), ("", None)) if r.status == "handed_over" else ("", None)
        out.append([i, r.person_id, r.full_name, _date_value(r.date_of_birth), _int(r.grade), r.school, r.commune,
                    r.village, data.tier_label(r.category), _int(r.priority_rank), label("need", r.need),
                    label("item", r.item), r.donation_id, label("status", r.status), serial, day])
    return out


def _waitlist_rows(data: _Data, al: pd.DataFrame) -> list[list[Any]]:
    waiting = al[al["status"].isin(_WAITING)].copy()
    waiting["_rank"] = waiting["priority_rank"].fillna(10**9) if len(waiting) else []
    waiting = _sorted(waiting, "_rank", "_commune_order", "_school_order", "_name_rank", "need")
    out = []
    for i, r in enumerate(waiting.itertuples(index=False), 1):
        reason = r.reason or r.status
        out.append([i, _int(r.priority_rank), r.person_id, r.full_name, _date_value(r.date_of_birth), _int(r.grade),
                    r.school, r.commune, r.village, data.tier_label(r.category), label("need", r.need),
                    label("status", r.status), label("reason", reason)])
    return out


def _excluded_rows(persons: pd.DataFrame) -> list[list[Any]]:
    ex = _sorted(persons[persons["status"] == "excluded"], "_commune_order", "commune", "_school_order", "school",
                 "_name_rank")
    return [[i, r.person_id, r.full_name, _date_value(r.date_of_birth, r.birth_year), _int(r.grade), r.school,
             r.commune, r.village, label("reason", r.reason or "ineligible"), r.sources]
            for i, r in enumerate(ex.itertuples(index=False), 1)]


def _issue_frame_sorted(iss: pd.DataFrame) -> pd.DataFrame:
    if not len(iss):
        return iss
    iss = iss.copy()
    iss["_row"] = iss["source_row"].fillna(-1)
    iss["_sev"] = (iss["severity"] != "error").astype(int)
    return iss.sort_values(["source_file", "source_sheet", "_row", "_sev", "column", "rule"], kind="stable")


def _issue_rows(iss: pd.DataFrame) -> list[list[Any]]:
    return [[i, r.source_file, r.source_sheet, _int(r.source_row), r.column, label("severity", r.severity), r.rule,
             r.message] for i, r in enumerate(_issue_frame_sorted(iss).itertuples(index=False), 1)]


def _metrics(st: pd.DataFrame, persons: pd.DataFrame, al: pd.DataFrame, iss: pd.DataFrame, key: str,
             issue_key: str) -> dict[str, Counter[str]]:
    """Per-unit counts: each metric -> {unit code ("" = unknown) -> count}."""
    m: dict[str, Counter[str]] = {name: Counter() for name in [*_METRIC_ORDER, "unmet_internet"]}
    for unit, status in zip(st[key], st["status"]):
        m["listed"][unit] += 1
        if status == "rejected":
            m["rejected"][unit] += 1
    for unit, status in zip(persons[key], persons["status"]):
        m["persons"][unit] += 1
        if status in ("allocated", "waitlisted"):
            m["eligible"][unit] += 1
        elif status == "excluded":
            m["excluded"][unit] += 1
    for unit, need, status in zip(al[key], al["need"], al["status"]):
        if status in _GIVEN and need == "device":
            m["devices"][unit] += 1
        elif status in _GIVEN and need == "internet":
            m["internet"][unit] += 1
        elif status in _WAITING:
            m["waiting"][unit] += 1
            m["unmet_internet"][unit] += need == "internet"
    m["issues"].update(iss[issue_key])
    return m


_METRIC_ORDER = ["listed", "rejected", "persons", "eligible", "devices", "internet", "waiting", "excluded", "issues"]


def _summary_table(units: list[tuple[str, str, int]], m: dict[str, Counter[str]]) -> tuple[list, list]:
    """Rows (STT, name, metrics..., enrolment, internet share) per unit, an "other" row if needed, and totals."""
    rows: list[list[Any]] = []
    known = {code for code, _, _ in units}
    totals = [0] * (len(_METRIC_ORDER) + 2)

    def row_for(values: list[int], enrolment: int | None, unmet: int) -> list[Any]:
        share = max(enrolment - unmet, 0) / enrolment if enrolment else None
        return [*values, enrolment, share]

    for i, (code, name, enrolment) in enumerate(units, 1):
        values = [m[k].get(code, 0) for k in _METRIC_ORDER]
        rows.append([i, name, *row_for(values, enrolment or None, m["unmet_internet"].get(code, 0))])
        totals = [a + b for a, b in zip(totals, [*values, enrolment, m["unmet_internet"].get(code, 0)])]
    other = [sum(v for k, v in m[name].items() if k not in known) for name in _METRIC_ORDER]
    other_unmet = sum(v for k, v in m["unmet_internet"].items() if k not in known)
    if any(other):
        rows.append(["", _OTHER_LABEL, *row_for(other, None, other_unmet)])
        totals = [a + b for a, b in zip(totals, [*other, 0, other_unmet])]
    enrolment, unmet = totals[-2], totals[-1]
    total = ["", "Tổng cộng", *totals[:-2], enrolment, (max(enrolment - unmet, 0) / enrolment) if enrolment else None]
    return rows, total


def _enrolment(school) -> int:  # noqa: ANN001 - config model
    return sum(school.enrolment.values())


def _write_summary(book: _Book, data: _Data, st: pd.DataFrame, persons: pd.DataFrame, al: pd.DataFrame,
                   iss: pd.DataFrame, *, commune: str | None) -> None:
    d = data.district
    info = d.district
    phase = d.phase_for(data.result.as_of)
    as_of = data.result.as_of.strftime("%d/%m/%Y")
    phase_text = f"{phase.name} ({phase.start:%m/%Y} - {phase.end:%m/%Y})" if phase else "Ngoài thời gian các giai đoạn"
    where = data.commune_name(commune, commune) if commune else info.name
    title = f"BÁO CÁO TỔNG HỢP CHƯƠNG TRÌNH “{info.programme.upper()}”"
    subtitle = f"{where} - số liệu đến ngày {as_of} - {phase_text} - lần tổng hợp {data.result.run_id}"
    first = [_Col("STT", 6, "stt"), _Col("Xã, thị trấn" if commune is None else "Trường", 34)]
    cols = [*first, *_SUMMARY_METRICS]
    sh = book.sheet("summary", title, subtitle, cols)

    by_school = _metrics(st, persons, al, iss, "school_code", "_school_key")
    schools = [(s.code, s.name, _enrolment(s)) for s in d.schools]
    if commune is None:
        by_commune = _metrics(st, persons, al, iss, "commune_code", "_commune_key")
        communes = [(c.code, c.name, sum(_enrolment(s) for s in d.schools if s.commune == c.code))
                    for c in d.communes]
        header = sh.header(repeat=False)
        rows, total = _summary_table(communes, by_commune)
        sh.rows(rows, filter_from=header)
        sh.total(total)
        _add_commune_chart(book, sh, header, len(communes))
        sh.skip(22)
        sh.line("Theo trường", "section")
        school_cols = [_Col("STT", 6, "stt"), _Col("Trường", 34), *_SUMMARY_METRICS]
        sh.header(school_cols, freeze=False)
        rows, school_total = _summary_table(schools, by_school)
        sh.rows(rows, school_cols)
        sh.total(school_total, school_cols)
    else:
        # The commune's schools first, then other schools its children attend.
        local = [s for s in schools if d.school_by_code[s[0]].commune == commune]
        seen = {s[0] for s in local}
        attended = set(st["school_code"]) | set(persons["school_code"]) | set(al["school_code"])
        others = [(s.code, s.name, 0) for s in d.schools if s.code in attended and s.code not in seen]
        header = sh.header(repeat=False)
        # Issues of this commune's rows: count them by the row's school, not the reporting school.
        m = _metrics(st, persons, al, iss.assign(_school_key=iss["_row_school"]), "school_code", "_school_key")
        rows, total = _summary_table(local + others, m)
        sh.rows(rows, filter_from=header)
        sh.total(total)
    sh.line("Ghi chú: Nhu cầu đang chờ gồm chờ phân bổ và thôn chưa có sóng/cáp quang; tỷ lệ có Internet ước tính "
            "= (sĩ số - số em còn chờ hỗ trợ Internet) / sĩ số.")

    sh.skip()
    sh.line("Đối chiếu số liệu (mọi dòng, mọi học sinh đều được tính đúng một lần)", "section")
    sh.header(_RECONCILE_COLS, freeze=False)
    sh.rows(_reconciliation_rows(st, persons), _RECONCILE_COLS)

    if commune is None:
        sh.skip()
        sh.line("Tiến độ so với mục tiêu", "section")
        sh.header(_PROGRESS_COLS, freeze=False)
        sh.rows(_progress_rows(data, al, total), _PROGRESS_COLS)
    sh.signature(recipients=["- UBND huyện (b/c);", "- Phòng Văn hóa và Thông tin;", "- Lưu: VT."]
                 if commune is None else ["- UBND xã;", "- Lưu: VT."])


def _progress_rows(data: _Data, al: pd.DataFrame, total: list[Any]) -> list[list[Any]]:
    d = data.district
    phase = d.phase_for(data.result.as_of)
    devices = int(((al["need"] == "device") & al["status"].isin(_GIVEN)).sum())
    share = total[-1]
    rows: list[list[Any]] = []
    if phase and phase.device_sets_target:
        rows.append([len(rows) + 1, f"Bộ thiết bị đã phân bổ ({phase.name})", _vn_int(phase.device_sets_target),
                     _vn_int(devices), devices / phase.device_sets_target])
    if phase and phase.internet_share_target is not None and share is not None:
        rows.append([len(rows) + 1, f"Học sinh lớp 1-9 có kết nối Internet ({phase.name})",
                     _vn_pct(phase.internet_share_target, 0), _vn_pct(share, 1),
                     share / phase.internet_share_target if phase.internet_share_target else None])
    conn = data.result.connectivity
    villages = sum(len(c.villages) for c in d.communes)
    if conn is not None and len(conn) and villages:
        covered = conn.copy()
        flags = [c for c in ("has_3g", "has_4g", "has_fibre") if c in covered.columns]
        covered["_ok"] = [any(_truthy(v) for v in vals) for vals in covered[flags].itertuples(index=False)] \
            if flags else False
        n = int(covered.loc[covered["_ok"]].drop_duplicates(["commune_code", "village"]).shape[0])
        target = d.overall_targets.village_coverage_share
        rows.append([len(rows) + 1, "Thôn, khu có sóng 3G/4G hoặc cáp quang", _vn_pct(target, 0),
                     f"{n}/{villages}", (n / villages) / target if target else None])
    return rows


def _vn_int(n: int) -> str:
    """1500 -> "1.500" (Vietnamese thousands separator)."""
    return f"{n:,}".replace(",", ".")


def _vn_pct(share: float, digits: int) -> str:
    """0.843 -> "84,3%" (Vietnamese decimal comma)."""
    return f"{share * 100:.{digits}f}".replace(".", ",") + "%"


def _add_commune_chart(book: _Book, sh: _Sheet, header: int, n: int) -> None:
    chart = book.wb.add_chart({"type": "column"})
    first, last = header + 1, header + n
    for col, color in ((6, "#4472C4"), (7, "#70AD47"), (8, "#ED7D31")):
        chart.add_series({
            "name": [sh.name, header, col],
            "categories": [sh.name, first, 1, last, 1],
            "values": [sh.name, first, col, last, col],
            "fill": {"color": color},
        })
    font = {"name": "Times New Roman", "size": 10}
    chart.set_title({"name": "Phân bổ và nhu cầu đang chờ theo xã, thị trấn",
                     "name_font": {"name": "Times New Roman", "size": 13, "bold": True}})
    chart.set_x_axis({"num_font": {**font, "rotation": -45}})
    chart.set_y_axis({"num_font": font, "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
    chart.set_legend({"position": "bottom", "font": font})
    chart.set_size({"width": 1100, "height": 400})
    sh.ws.insert_chart(sh.row + 1, 1, chart)


def _write_list_sheets(book: _Book, data: _Data, al: pd.DataFrame, persons: pd.DataFrame, iss: pd.DataFrame,
                       where: str) -> None:
    as_of = data.result.as_of.strftime("%d/%m/%Y")
    sub = f"{where} - số liệu đến ngày {as_of}"
    sh = book.sheet("allocated", "DANH SÁCH HỌC SINH ĐƯỢC PHÂN BỔ HỖ TRỢ", sub, _ALLOCATION_COLS)
    h = sh.header()
    sh.rows(_allocation_rows(data, al), filter_from=h, empty="Chưa có học sinh được phân bổ")
    sh.signature(left_title="NGƯỜI LẬP BIỂU")

    sh = book.sheet("waitlist", "DANH SÁCH HỌC SINH CHỜ PHÂN BỔ (THEO THỨ TỰ ƯU TIÊN)", sub, _WAITLIST_COLS)
    h = sh.header()
    sh.rows(_waitlist_rows(data, al), filter_from=h, empty="Không có học sinh đang chờ")
    sh.signature(left_title="NGƯỜI LẬP BIỂU")

    sh = book.sheet("excluded", "DANH SÁCH HỌC SINH KHÔNG ĐỦ ĐIỀU KIỆN HỖ TRỢ", sub, _EXCLUDED_COLS)
    h = sh.header()
    sh.rows(_excluded_rows(persons), filter_from=h, empty="Không có học sinh nào")
    sh.signature(left_title="NGƯỜI LẬP BIỂU")
    _write_grade_sheet(book, data, persons, sub)


_GRADE_COLS = [
    _Col("STT", 6, "stt"), _Col("Mã HS", 14, "center"), _Col("Họ và tên", 26), _Col("Ngày sinh", 12, "date"),
    _Col("Xã", 20), _Col("Thôn", 16), _Col("Lớp", 6, "int"), _Col("Lớp lấy theo", 24, "wrap"),
    _Col("Trạng thái", 16), _Col("Lý do", 28, "wrap"), _Col("Nguồn dữ liệu", 36, "wrap"),
]


def _write_grade_sheet(book: _Book, data: _Data, persons: pd.DataFrame, sub: str) -> None:
    """Children whose lists did not write their class (commune lists drawn from the household register): the class
    the night used and where it came from, for the commune to confirm. Only written when there are such children."""
    st = data.students
    if "grade_source" not in st or not len(persons):
        return
    source = st["grade_source"].map(as_text)
    unwritten = st[(st["person_id"] != "") & (source != "list") & (st["status"] != "rejected")]
    kids = persons[persons["person_id"].isin(set(unwritten["person_id"]))]
    if kids.empty:
        return
    first = unwritten.drop_duplicates("person_id").set_index("person_id")
    kids = _sorted(kids, "_commune_order", "commune", "village", "_name_rank")
    rows = []
    for i, r in enumerate(kids.itertuples(index=False), 1):
        row = first.loc[r.person_id]
        grade = _int(row.get("grade_resolved"))
        rows.append([i, r.person_id, r.full_name, _date_value(r.date_of_birth, r.birth_year), r.commune, r.village,
                     grade if grade is not None and grade >= 1 else None, label("grade_source", as_text(row["grade_source"])),
                     label("status", r.status), label("reason", r.reason) if r.reason else "", r.sources])
    sh = book.sheet("grades", "HỌC SINH DANH SÁCH KHÔNG GHI LỚP: LỚP ĐÃ DÙNG ĐỂ XÉT HỖ TRỢ", sub, _GRADE_COLS)
    h = sh.header()
    sh.rows(rows, filter_from=h)
    sh.line("Lớp theo danh sách của trường khi em có trong danh sách của trường; nếu không, lớp suy ra từ năm sinh "
            "(vào lớp 1 năm em tròn 6 tuổi). Nếu lớp của em khác, hãy ghi lớp vào danh sách gửi lại.")


def _write_issue_sheet(book: _Book, data: _Data, iss: pd.DataFrame, where: str) -> None:
    errors = int((iss["severity"] == "error").sum())
    sub = f"{where} - {errors} lỗi, {len(iss) - errors} cảnh báo (dòng có lỗi không được tổng hợp; hãy sửa và gửi lại)"
    sh = book.sheet("issues", "DANH SÁCH LỖI DỮ LIỆU CẦN SỬA", sub, _ISSUE_COLS)
    h = sh.header()
    sh.rows(_issue_rows(iss), filter_from=h, empty="Không có lỗi dữ liệu")


def _write_review_sheet(book: _Book, data: _Data) -> None:
    """Pairs the linkage left to an officer: both records side by side, the probability, the reasons, the pair
    key and an empty decision column. The officer fills "Quyết định" here (and returns the workbook as a
    ``decisions`` source) or copies the pair key into a decisions sheet; either is applied every night."""
    side = [("person_id", "Mã HS", 12, "center"), ("full_name", "Họ và tên", 22, "text"),
            ("date_of_birth", "Ngày sinh", 12, "date"), ("sex", "Giới tính", 8, "center"),
            ("guardian_name", "Cha/mẹ/người giám hộ", 20, "text"), ("village", "Thôn", 14, "text"),
            ("commune", "Xã", 14, "text"), ("school", "Trường", 22, "text"), ("grade", "Lớp", 6, "int"),
            ("source", "Nguồn (tệp, trang, dòng)", 26, "wrap")]
    cols = [_Col("STT", 6, "stt"), _Col("Mã cặp", 20, "wrap"),
            *(_Col(f"{h} (1)", w, k) for _, h, w, k in side), *(_Col(f"{h} (2)", w, k) for _, h, w, k in side),
            _Col("Khả năng trùng", 10, "pct"), _Col("Căn cứ", 34, "wrap"), _Col("Quyết định (cùng/khác)", 16)]
    rp = data.review_pairs
    sh = book.sheet("review", "CÁC CẶP HỒ SƠ CẦN XEM XÉT (CÓ THỂ LÀ CÙNG MỘT HỌC SINH)",
                    "Ghi \"Cùng\" hoặc \"Khác\" vào cột Quyết định (hoặc chép Mã cặp sang bảng kết luận); "
                    "kết luận được áp dụng từ lần tổng hợp sau", cols)
    h = sh.header()
    if len(rp):
        rp = rp.copy()
        rp["_p"] = [-(p if p is not None and p == p else 0) for p in rp["match_probability"]]
        rp = rp.sort_values(["_p", "person_id_l", "person_id_r"], kind="stable")
    sexes = {"M": "Nam", "F": "Nữ"}
    rows = []
    for i, r in enumerate(rp.to_dict("records"), 1):
        row: list[Any] = [i, as_text(r.get("pair_key", ""))]
        for s in ("l", "r"):
            for f, _, _, kind in side:
                if f == "source":
                    where = [as_text(r.get(f"source_file_{s}", "")), as_text(r.get(f"source_sheet_{s}", ""))]
                    line_no = _int(r.get(f"source_row_{s}"))
                    row.append(", ".join([x for x in where if x] + ([f"dòng {line_no}"] if line_no else [])))
                elif kind == "date":
                    row.append(_date_value(r.get(f"{f}_{s}", "")))
                elif kind == "int":
                    row.append(_int(r.get(f"{f}_{s}")))
                elif f == "sex":
                    row.append(sexes.get(as_text(r.get(f"{f}_{s}", "")), ""))
                else:
                    row.append(as_text(r.get(f"{f}_{s}", "")))
        p = r.get("match_probability")
        row += [p if p is not None and p == p else None, as_text(r.get("reasons", "")), ""]
        rows.append(row)
    sh.rows(rows, filter_from=h, empty=NO_REVIEW_PAIRS)


def _write_donation_sheet(book: _Book, data: _Data) -> None:
    dn = data.donations
    cash = data.result.cash or {}
    sh = book.sheet("donations", "TỔNG HỢP NGUỒN TÀI TRỢ", f"Số liệu đến ngày {data.result.as_of:%d/%m/%Y}",
                    _DONATION_COLS)
    h = sh.header()
    rows = []
    records = dn.sort_values(["date", "donation_id"], kind="stable").to_dict("records") if len(dn) else []
    for i, r in enumerate(records, 1):
        earmark = "; ".join(x for x in (data.commune_name(r["earmark_commune_code"], r["earmark_commune_code"]),
                                        data.school_name(r["earmark_school_code"], r["earmark_school_code"]),
                                        r["earmark_text"]) if x)
        rows.append([i, r["donation_id"], r["donor"], _date_value(r["date"]), label("item", r["kind"]),
                     _int(r["quantity"]), _int(r["amount_vnd"]), label("donation_status", r["status"]),
                     _int(r["units"]), earmark, r["note"]])
    sh.rows(rows, filter_from=h, empty="Chưa có nguồn tài trợ")
    amounts = [_int(r["amount_vnd"]) or 0 for r in dn.to_dict("records")] if len(dn) else []
    sh.total(["", "", "Tổng cộng", "", "", int(dn["quantity"].fillna(0).sum()) if len(dn) else 0, sum(amounts), "",
              int(dn["units"].fillna(0).sum()) if len(dn) else 0, "", ""])

    sh.skip()
    sh.line("Cân đối theo loại hỗ trợ (đơn vị)", "section")
    sh.header(_DONATION_SUMMARY_COLS, freeze=False)
    ds = data.result.donation_summary
    rows = []
    if ds is not None and len(ds):
        for i, r in enumerate(ds.to_dict("records"), 1):
            rows.append([i, as_text(r.get("item")), label("item", r.get("item")), *(_int(r.get(k)) for k in (
                "received_units", "from_cash_units", "pledged_units", "allocated", "handed_over", "remaining"))])
    sh.rows(rows, _DONATION_SUMMARY_COLS, empty="Chưa có số liệu")

    sh.skip()
    sh.line("Cân đối tiền mặt (đồng)", "section")
    sh.header(_CASH_COLS, freeze=False)
    cash_rows = [("received_vnd", "Đã nhận"), ("pledged_vnd", "Cam kết, chưa nhận"),
                 ("converted_vnd", "Đã quy đổi thành thiết bị, gói cước"), ("carried_vnd", "Chuyển kỳ sau")]
    sh.rows([[i, k, text, _int(cash.get(k)) or 0] for i, (k, text) in enumerate(cash_rows, 1)], _CASH_COLS)
    sh.signature(left_title="NGƯỜI LẬP BIỂU")


def _write_sources_sheet(book: _Book, data: _Data) -> None:
    sources = data.result.sources
    failed = sum(1 for s in sources if s.status == "failed")
    stale = sum(1 for s in sources if s.status == "stale")
    sh = book.sheet("sources", "NGUỒN DỮ LIỆU ĐÃ TỔNG HỢP",
                    f"{len(sources)} nguồn, {failed} nguồn lỗi, {stale} nguồn dùng bản lưu cũ - "
                    f"lần tổng hợp {data.result.run_id}", _SOURCE_COLS)
    h = sh.header()
    order = {"failed": 0, "stale": 1, "ok": 2}
    ordered = sorted(sources, key=lambda s: (order.get(s.status, 3), s.kind, s.source))
    sh.rows([[i, s.source, s.id, label("source_kind", s.kind), label("source_status", s.status), s.rows, s.message]
             for i, s in enumerate(ordered, 1)], filter_from=h, empty="Không có nguồn dữ liệu")


# --- reconciliation, infrastructure (Hạ tầng), progress (Tiến độ) ---------------------------------------
_RECONCILE_COLS = [_Col("STT", 6, "stt"), _Col("Nội dung", 34), _Col("Số lượng", 11, "int"),
                   _Col("Đối chiếu", 10, "center")]


def _reconciliation_rows(st: pd.DataFrame, persons: pd.DataFrame) -> list[list[Any]]:
    """Every list row in exactly one status, every person in exactly one status; the sums are checked."""
    row_status = Counter(st["status"])
    person_status = Counter(persons["status"])
    parts = [("allocated", "dòng của học sinh được phân bổ"), ("waitlisted", "dòng của học sinh chờ phân bổ"),
             ("excluded", "dòng của học sinh không đủ điều kiện"), ("rejected", "dòng bị loại do lỗi dữ liệu"),
             ("duplicate", "dòng lặp trong cùng trang tính")]
    known_rows = sum(row_status[k] for k, _ in parts)
    known_persons = sum(person_status[k] for k in ("allocated", "waitlisted", "excluded"))

    def check(total: int, parts_sum: int) -> str:
        return "Khớp" if total == parts_sum else f"Lệch {total - parts_sum}"

    rows: list[list[Any]] = [[1, "Số dòng trong các danh sách", len(st), check(len(st), known_rows)]]
    rows += [["", f"- {text}", row_status[k], ""] for k, text in parts]
    rows.append([2, "Số học sinh (sau khi gộp hồ sơ trùng)", len(persons), check(len(persons), known_persons)])
    rows += [["", f"- {label('status', k).lower()}", person_status[k], ""]
             for k in ("allocated", "waitlisted", "excluded")]
    usable = sum(row_status[k] for k in ("allocated", "waitlisted", "excluded"))
    if usable >= len(persons):
        rows.append([3, "Dòng gộp vào hồ sơ của cùng một học sinh (có trong nhiều danh sách)", usable - len(persons),
                     ""])
    return rows


def _coverage_index(data: _Data) -> dict[tuple[str, str], dict[str, bool]]:
    """(commune code, village key) -> {"3g", "4g", "fibre"} from the connectivity lists (any row saying yes)."""
    out: dict[tuple[str, str], dict[str, bool]] = {}
    conn = data.result.connectivity
    if conn is None or not len(conn):
        return out
    for r in conn.to_dict("records"):
        key = village_key(as_text(r.get("commune_code")), as_text(r.get("village")))
        if not key[1]:
            continue
        have = out.setdefault(key, {"3g": False, "4g": False, "fibre": False})
        for flag, col in (("3g", "has_3g"), ("4g", "has_4g"), ("fibre", "has_fibre")):
            have[flag] = have[flag] or _truthy(r.get(col))
    return out


def _villages(data: _Data, coverage: dict, commune: str | None) -> list[tuple[str, str, str]]:
    """(commune code, village key, name): the official villages, then any other village the lists name."""
    out: dict[tuple[str, str], str] = {}
    for c in data.district.communes:
        if commune is None or c.code == commune:
            for v in c.villages:
                out.setdefault(village_key(c.code, v), v)
    conn = data.result.connectivity
    for r in (conn.to_dict("records") if conn is not None and len(conn) else []):
        key = village_key(as_text(r.get("commune_code")), as_text(r.get("village")))
        if key[1] and key[0] in data.district.commune_by_code and (commune is None or key[0] == commune):
            out.setdefault(key, as_text(r.get("village")))
    order = {c.code: i for i, c in enumerate(data.district.communes)}
    return sorted(((k[0], k[1], n) for k, n in out.items()), key=lambda t: (order.get(t[0], 10**6), name_sort_key(t[2])))


_INFRA_COLS = [
    _Col("STT", 6, "stt"), _Col("Xã, thị trấn", 24), _Col("Thôn, khu", 20), _Col("Số thôn", 9, "int"),
    _Col("Có 3G", 9, "int"), _Col("Có 4G", 9, "int"), _Col("Có cáp quang", 10, "int"),
    _Col("Có sóng hoặc cáp quang", 12, "int"), _Col("Chưa có thông tin", 10, "int"),
    _Col("Tỷ lệ thôn có sóng", 11, "pct"), _Col("Mục tiêu", 9, "pct"), _Col("Còn thiếu (thôn)", 10, "int"),
    _Col("Học sinh chờ Internet do thôn chưa có sóng", 14, "int"),
]
_INFRA_VILLAGE_COLS = [
    _Col("STT", 6, "stt"), _Col("Xã, thị trấn", 24), _Col("Thôn, khu", 20), _Col("3G", 9, "center"),
    _Col("4G", 9, "center"), _Col("Cáp quang", 10, "center"), _Col("Có sóng hoặc cáp quang", 12, "center"),
    _Col("Học sinh chờ Internet do thôn chưa có sóng", 14, "int"),
]
_INFRA_CHILD_COLS = [
    _Col("STT", 6, "stt"), _Col("Xã, thị trấn", 24), _Col("Thôn, khu", 20), _Col("Mã HS", 14, "center"),
    _Col("Họ và tên", 26), _Col("Lớp", 6, "int"), _Col("Trường", 28), _Col("Đối tượng", 24),
    _Col("Hạng ưu tiên", 9, "int"), _Col("Lý do", 30, "wrap"),
]


def _write_infrastructure_sheet(book: _Book, data: _Data, al: pd.DataFrame, commune: str | None) -> None:
    """Hạ tầng: 3G/4G/fibre per commune and village against the village coverage target, and the children who
    lack internet where their village has no signal (for the telecoms)."""
    where = data.commune_name(commune, commune) if commune else data.district.district.name
    target = data.district.overall_targets.village_coverage_share
    coverage = _coverage_index(data)
    villages = _villages(data, coverage, commune)
    waiting = al[(al["need"] == "internet") & (al["status"] == "no_coverage")]
    waiting_by_village = Counter(village_key(c, v) for c, v in zip(waiting["commune_code"], waiting["village"]))
    sh = book.sheet("infrastructure", "HIỆN TRẠNG HẠ TẦNG VIỄN THÔNG CÁC THÔN, KHU",
                    f"{where} - sóng 3G/4G và cáp quang so với mục tiêu {_vn_pct(target, 0)} thôn, khu - "
                    f"số liệu đến ngày {data.result.as_of:%d/%m/%Y}", _INFRA_COLS)
    h = sh.header()
    rows, total = [], [0] * 7
    communes = [c for c in data.district.communes if commune is None or c.code == commune]
    for i, c in enumerate(communes, 1):
        mine = [(k1, k2) for k1, k2, _ in villages if k1 == c.code]
        have = [coverage.get(k) for k in mine]
        n3, n4, nf = (sum(1 for x in have if x and x[f]) for f in ("3g", "4g", "fibre"))
        ok = sum(1 for x in have if x and any(x.values()))
        unknown = sum(1 for x in have if x is None)
        kids = int((waiting["commune_code"] == c.code).sum())  # a child's village may be missing from the lists
        share = ok / len(mine) if mine else None
        missing = max(math.ceil(target * len(mine)) - ok, 0) if mine else 0
        rows.append([i, c.name, "", len(mine), n3, n4, nf, ok, unknown, share, target, missing, kids])
        total = [a + b for a, b in zip(total, [len(mine), n3, n4, nf, ok, unknown, kids])]
    sh.rows(rows, filter_from=h)
    n = total[0]
    sh.total(["", "Tổng cộng", "", *total[:6], (total[4] / n) if n else None, target,
              max(math.ceil(target * n) - total[4], 0), total[6]])

    sh.skip()
    sh.line("Chi tiết từng thôn, khu (x: có; trống: chưa có)", "section")
    sh.header(_INFRA_VILLAGE_COLS, freeze=False)
    vrows = []
    for i, (code, key, name) in enumerate(villages, 1):
        have = coverage.get((code, key))
        flags = ["x" if have and have[f] else "" for f in ("3g", "4g", "fibre")]
        status = "Chưa có thông tin" if have is None else "Có" if any(have.values()) else "Chưa có"
        vrows.append([i, data.commune_name(code, code), name, *flags, status, waiting_by_village[(code, key)]])
    sh.rows(vrows, _INFRA_VILLAGE_COLS, empty="Chưa có danh sách thôn, khu")

    sh.skip()
    sh.line("Học sinh chưa có Internet ở thôn, khu chưa có sóng (đề nghị doanh nghiệp viễn thông phủ sóng)", "section")
    sh.header(_INFRA_CHILD_COLS, freeze=False)
    kids = _sorted(waiting.assign(_vk=[village_key(c, v)[1] for c, v in zip(waiting["commune_code"],
                                                                              waiting["village"])]),
                   "_commune_order", "_vk", "_name_rank")
    sh.rows([[i, r.commune, r.village, r.person_id, r.full_name, _int(r.grade), r.school, data.tier_label(r.category),
              _int(r.priority_rank), label("reason", r.reason)] for i, r in enumerate(kids.itertuples(index=False), 1)],
            _INFRA_CHILD_COLS, empty="Không có học sinh nào")
    sh.signature(left_title="NGƯỜI LẬP BIỂU")


_PROGRESS_SHEET_COLS = [
    _Col("STT", 6, "stt"), _Col("Chỉ tiêu", 44, "wrap"), _Col("Giai đoạn", 22), _Col("Mục tiêu", 12, "text"),
    _Col("Thực hiện", 12, "text"), _Col("Tỷ lệ đạt", 10, "pct"), _Col("Ghi chú", 36, "wrap"),
]
_FOLLOW_COLS = [
    _Col("STT", 6, "stt"), _Col("Xã, thị trấn", 44), _Col("Thiết bị đã phân bổ", 22, "int"),
    _Col("Đã bàn giao", 12, "int"), _Col("Đang sử dụng", 12, "int"), _Col("Hỏng", 10, "int"),
    _Col("Mất", 36, "int"), _Col("Chưa có kết quả theo dõi", 12, "int"),
]


def _follow_up_counts(data: _Data, al: pd.DataFrame) -> dict[str, Counter[str]]:
    """Per commune code: devices given, handed over, and the latest device-use check of handed-over devices."""
    fu = data.result.follow_ups
    state: dict[tuple[str, str], str] = {}
    if fu is not None and len(fu):
        state = {(as_text(p), as_text(n)): as_text(s) for p, n, s in zip(fu["person_id"], fu["need"], fu["state"])}
    m: dict[str, Counter[str]] = {k: Counter() for k in ("given", "handed_over", "in_use", "broken", "lost",
                                                          "unchecked")}
    devices = al[(al["need"] == "device") & al["status"].isin(_GIVEN)]
    for pid, commune, status in zip(devices["person_id"], devices["commune_code"], devices["status"]):
        m["given"][commune] += 1
        if status == "handed_over":
            m["handed_over"][commune] += 1
            m[state.get((pid, "device")) or "unchecked"][commune] += 1
    return m


def _write_progress_sheet(book: _Book, data: _Data, al: pd.DataFrame, commune: str | None) -> None:
    """Tiến độ: per phase, device sets against the target and the share of students with internet against the
    phase's and the final target; then handovers and the device-use follow-up."""
    d = data.district
    as_of = data.result.as_of
    where = data.commune_name(commune, commune) if commune else d.district.name
    schools = [s for s in d.schools if commune is None or s.commune == commune]
    enrolment = sum(_enrolment(s) for s in schools)
    unmet = int(((al["need"] == "internet") & al["status"].isin(_WAITING)).sum())
    share = max(enrolment - unmet, 0) / enrolment if enrolment else None
    devices = int(((al["need"] == "device") & al["status"].isin(_GIVEN)).sum())
    sh = book.sheet("progress", "TIẾN ĐỘ THỰC HIỆN SO VỚI MỤC TIÊU",
                    f"{where} - lũy kế đến ngày {as_of:%d/%m/%Y}", _PROGRESS_SHEET_COLS)
    h = sh.header()
    rows: list[list[Any]] = []
    for phase in d.phases:
        when = f"{phase.name} ({phase.start:%m/%Y} - {phase.end:%m/%Y})"
        started = phase.start <= as_of
        note = "" if started else "Chưa đến giai đoạn"
        if phase.device_sets_target and commune is None:
            rows.append([len(rows) + 1, "Bộ thiết bị học tập đã phân bổ (gồm đã bàn giao)", when,
                         _vn_int(phase.device_sets_target), _vn_int(devices) if started else "",
                         devices / phase.device_sets_target if started else None, note])
        if phase.internet_share_target is not None and share is not None:
            rows.append([len(rows) + 1, "Học sinh lớp 1-9 có kết nối Internet (ước tính)", when,
                         _vn_pct(phase.internet_share_target, 0), _vn_pct(share, 1) if started else "",
                         share / phase.internet_share_target if started and phase.internet_share_target else None,
                         note or "= (sĩ số - số em còn chờ hỗ trợ Internet) / sĩ số"])
    goal = d.overall_targets
    if share is not None:
        rows.append([len(rows) + 1, "Học sinh lớp 1-9 có kết nối Internet - mục tiêu chung", "Mục tiêu cuối",
                     _vn_pct(goal.internet_share, 0), _vn_pct(share, 1),
                     share / goal.internet_share if goal.internet_share else None, ""])
    coverage = _coverage_index(data)
    villages = _villages(data, coverage, commune)
    if villages:
        ok = sum(1 for c, k, _ in villages if any((coverage.get((c, k)) or {}).values()))
        rows.append([len(rows) + 1, "Thôn, khu có sóng 3G/4G hoặc cáp quang", "Mục tiêu cuối",
                     _vn_pct(goal.village_coverage_share, 0), f"{ok}/{len(villages)}",
                     (ok / len(villages)) / goal.village_coverage_share if goal.village_coverage_share else None,
                     "Chi tiết ở trang Hạ tầng"])
    sh.rows(rows, filter_from=h, empty="Chưa có chỉ tiêu")

    m = _follow_up_counts(data, al)
    sh.skip()
    sh.line("Bàn giao và theo dõi sử dụng thiết bị", "section")
    sh.header(_FOLLOW_COLS, freeze=False)
    communes = [c for c in d.communes if commune is None or c.code == commune]
    keys = ["given", "handed_over", "in_use", "broken", "lost", "unchecked"]
    frows = [[i, c.name, *(m[k][c.code] for k in keys)] for i, c in enumerate(communes, 1)]
    sh.rows(frows, _FOLLOW_COLS)
    sh.total(["", "Tổng cộng", *(sum(m[k].values()) for k in keys)], _FOLLOW_COLS)
    internet = al[(al["need"] == "internet")]
    sh.line(f"Gói cước Internet: {_vn_int(int(internet['status'].isin(_GIVEN).sum()))} đã phân bổ, "
            f"{_vn_int(int((internet['status'] == 'handed_over').sum()))} đã bàn giao. Theo dõi sử dụng theo kết quả "
            "kiểm tra gần nhất của nhà trường.")
    sh.signature(left_title="NGƯỜI LẬP BIỂU")


def _write_district(data: _Data, path: Path) -> None:
    info = data.district.district
    book = _Book(path, data, f"Tổng hợp {info.programme} - {info.name}",
                 rows=len(data.allocations) + len(data.persons) + len(data.issues))
    _write_summary(book, data, data.students, data.persons, data.allocations, data.issues, commune=None)
    _write_list_sheets(book, data, data.allocations, data.persons, data.issues, info.name)
    _write_review_sheet(book, data)
    _write_issue_sheet(book, data, data.issues, info.name)
    _write_donation_sheet(book, data)
    _write_infrastructure_sheet(book, data, data.allocations, None)
    _write_progress_sheet(book, data, data.allocations, None)
    _write_sources_sheet(book, data)
    book.close()


def _write_commune(data: _Data, code: str, path: Path) -> None:
    """The commune's workbook: only rows whose commune is this commune (privacy)."""
    name = data.commune_name(code, code)
    st = data.students[data.students["commune_code"] == code]
    persons = data.persons[data.persons["commune_code"] == code]
    al = data.allocations[data.allocations["commune_code"] == code]
    iss = data.issues[data.issues["_commune_key"] == code]
    book = _Book(path, data, f"{data.district.district.programme} - {name}",
                 rows=len(al) + len(persons) + len(iss))
    _write_summary(book, data, st, persons, al, iss, commune=code)
    _write_list_sheets(book, data, al, persons, iss, name)
    _write_issue_sheet(book, data, iss, name)
    _write_rows_as_sent(book, data, st, iss, code, f"{name} - số liệu đến ngày {data.result.as_of:%d/%m/%Y}",
                        unit="commune")
    _write_infrastructure_sheet(book, data, al, code)
    _write_progress_sheet(book, data, al, code)
    book.close()


def _write_rows_as_sent(book: "_Book", data: _Data, st: pd.DataFrame, iss: pd.DataFrame, code: str,
                        sub: str, unit: str = "school") -> None:
    """The rows of the files this school (or commune) sent, as written, problem cells marked (flows.publishing.rows_as_sent).

    A commune sees only the rows of its own lists that are its own children (commune workbooks' privacy rule).
    """
    from flows.publishing.rows_as_sent import write_rows_as_sent

    sent = data.result.rows_as_sent
    if sent is None:
        return
    if unit == "commune":
        mine = st.loc[(st["_file_commune"] == code) & (st["commune_code"] == code)].dropna(subset=["source_row"])
        if mine.empty:
            return
        title = "CÁC DÒNG UBND XÃ ĐÃ GỬI VÀ CÁC Ô CẦN SỬA"
    else:
        mine = st.loc[st["_file_school"] == code].dropna(subset=["source_row"])
        title = "CÁC DÒNG NHÀ TRƯỜNG ĐÃ GỬI VÀ CÁC Ô CẦN SỬA"
    keys = mine[["source_file", "source_sheet", "source_row"]].drop_duplicates().astype({"source_row": "int64"})
    rows = sent.merge(keys, on=["source_file", "source_sheet", "source_row"])
    status = {(f, s, int(r)): label("status", v) for f, s, r, v in
              zip(mine["source_file"], mine["source_sheet"], mine["source_row"], mine["status"])}
    write_rows_as_sent(book.wb, book.fmt, rows, iss, data.result.headers, sub, status, title=title)


def _write_school(data: _Data, code: str, path: Path) -> None:
    """The school's feedback: issues in its files, its students with their status, its allocation list."""
    name = data.school_name(code, code)
    st = data.students
    st = st[(st["school_code"] == code) | (st["_file_school"] == code)]
    al = data.allocations[data.allocations["school_code"] == code]
    iss = data.issues[data.issues["_school_key"] == code]
    book = _Book(path, data, f"Phản hồi dữ liệu - {name}", rows=len(st) + len(al) + len(iss))
    errors = int((iss["severity"] == "error").sum())
    sub = f"{name} - {errors} lỗi, {len(iss) - errors} cảnh báo - số liệu đến ngày {data.result.as_of:%d/%m/%Y}"
    sh = book.sheet("feedback", "PHẢN HỒI DỮ LIỆU DANH SÁCH HỌC SINH", sub, _FEEDBACK_COLS)
    h = sh.header()
    sh.rows([[i, r.source_file, r.source_sheet, _int(r.source_row), r.column, label("severity", r.severity),
              r.message] for i, r in enumerate(_issue_frame_sorted(iss).itertuples(index=False), 1)],
            filter_from=h, empty="Không có lỗi dữ liệu. Cảm ơn nhà trường.")
    sh.line("Dòng có mức độ “Lỗi” chưa được tổng hợp: hãy sửa trong tệp gốc; “Cảnh báo” cần kiểm tra lại.")
    _write_rows_as_sent(book, data, st, iss, code, sub)

    sh = book.sheet("students", "DANH SÁCH HỌC SINH VÀ KẾT QUẢ XÉT HỖ TRỢ", sub, _SCHOOL_LIST_COLS)
    h = sh.header()
    ordered = st.sort_values(["grade", "_name_rank", "source_file", "source_row"], kind="stable", na_position="last")
    rows = []
    for i, r in enumerate(ordered.itertuples(index=False), 1):
        rows.append([i, r.source_file, _int(r.source_row), r.full_name, _date_value(r.date_of_birth, r.birth_year),
                     _int(getattr(r, "grade_as_listed", r.grade)), r.commune, r.village, data.tier_label(r.category),
                     "x" if r.lacks_device else "", "x" if r.lacks_internet else "", r.person_id,
                     label("status", r.status), label("reason", r.reason)])
    sh.rows(rows, filter_from=h, empty="Không có học sinh trong danh sách")

    sh = book.sheet("allocated", "DANH SÁCH HỌC SINH ĐƯỢC PHÂN BỔ HỖ TRỢ", sub, _ALLOCATION_COLS)
    h = sh.header()
    sh.rows(_allocation_rows(data, al), filter_from=h, empty="Chưa có học sinh được phân bổ")
    sh.signature(left_title="NGƯỜI LẬP BIỂU")
    book.close()

"""Hạ tầng and Tiến độ: the programme against its targets, in the district's workbook and each commune's.

Hạ tầng counts, per commune and village, 3G, 4G and fibre against the village coverage target and lists the
children who lack internet where their village has no signal (for the telecoms). Tiến độ sets device sets and
the share of students online against each phase's and the final target, then handovers and the latest
device-use check.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pandas as pd

from flows.allocation.coverage import village_key
from flows.publishing.prepared import GIVEN, WAITING, Prepared, as_int, ordered, school_enrolment, truthy
from flows.publishing.workbook import Book, Col, Sheet, label, tier_label, vn_int, vn_pct
from flows.text import as_text, name_sort_key

_INFRA_COLS = [
    Col("STT", 6, "stt"), Col("Xã, thị trấn", 24), Col("Thôn, khu", 20), Col("Số thôn", 9, "int"),
    Col("Có 3G", 9, "int"), Col("Có 4G", 9, "int"), Col("Có cáp quang", 10, "int"),
    Col("Có sóng hoặc cáp quang", 12, "int"), Col("Chưa có thông tin", 10, "int"),
    Col("Tỷ lệ thôn có sóng", 11, "pct"), Col("Mục tiêu", 9, "pct"), Col("Còn thiếu (thôn)", 10, "int"),
    Col("Học sinh chờ Internet do thôn chưa có sóng", 14, "int"),
]
_INFRA_VILLAGE_COLS = [
    Col("STT", 6, "stt"), Col("Xã, thị trấn", 24), Col("Thôn, khu", 20), Col("3G", 9, "center"),
    Col("4G", 9, "center"), Col("Cáp quang", 10, "center"), Col("Có sóng hoặc cáp quang", 12, "center"),
    Col("Học sinh chờ Internet do thôn chưa có sóng", 14, "int"),
]
_INFRA_CHILD_COLS = [
    Col("STT", 6, "stt"), Col("Xã, thị trấn", 24), Col("Thôn, khu", 20), Col("Mã HS", 14, "center"),
    Col("Họ và tên", 26), Col("Lớp", 6, "int"), Col("Trường", 28), Col("Đối tượng", 24),
    Col("Hạng ưu tiên", 9, "int"), Col("Lý do", 30, "wrap"),
]
_PROGRESS_SHEET_COLS = [
    Col("STT", 6, "stt"), Col("Chỉ tiêu", 44, "wrap"), Col("Giai đoạn", 22), Col("Mục tiêu", 12, "text"),
    Col("Thực hiện", 12, "text"), Col("Tỷ lệ đạt", 10, "pct"), Col("Ghi chú", 36, "wrap"),
]
_FOLLOW_COLS = [
    Col("STT", 6, "stt"), Col("Xã, thị trấn", 44), Col("Thiết bị đã phân bổ", 22, "int"),
    Col("Đã bàn giao", 12, "int"), Col("Đang sử dụng", 12, "int"), Col("Hỏng", 10, "int"),
    Col("Mất", 36, "int"), Col("Chưa có kết quả theo dõi", 12, "int"),
]


def write_infrastructure_sheet(book: Book, data: Prepared, al: pd.DataFrame, commune: str | None) -> None:
    """Hạ tầng: 3G/4G/fibre per commune and village against the village coverage target, and the children who
    lack internet where their village has no signal (for the telecoms)."""
    where = data.commune_name(commune, commune) if commune else data.district.district.name
    target = data.district.overall_targets.village_coverage_share
    book.sheet("infrastructure", "HIỆN TRẠNG HẠ TẦNG VIỄN THÔNG CÁC THÔN, KHU",
               f"{where} - sóng 3G/4G và cáp quang so với mục tiêu {vn_pct(target, 0)} thôn, khu - "
               f"số liệu đến ngày {data.result.as_of:%d/%m/%Y}", _INFRA_COLS).fill(
        lambda sh: _infrastructure(sh, data, al, commune, target), frames=(al,), reads=("connectivity",))


def _infrastructure(sh: Sheet, data: Prepared, al: pd.DataFrame, commune: str | None, target: float) -> None:
    coverage = _coverage_index(data)
    villages = _villages(data, coverage, commune)
    waiting = al[(al["need"] == "internet") & (al["status"] == "no_coverage")]
    waiting_by_village = Counter(village_key(c, v) for c, v in zip(waiting["commune_code"], waiting["village"]))
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
    kids = ordered(waiting.assign(_vk=[village_key(c, v)[1] for c, v in zip(waiting["commune_code"],
                                                                             waiting["village"])]),
                   "_commune_order", "_vk", "_name_rank")
    sh.rows([[i, r.commune, r.village, r.person_id, r.full_name, as_int(r.grade), r.school,
              tier_label(data.district, r.category), as_int(r.priority_rank), label("reason", r.reason)]
             for i, r in enumerate(kids.itertuples(index=False), 1)],
            _INFRA_CHILD_COLS, empty="Không có học sinh nào")
    sh.signature(left_title="NGƯỜI LẬP BIỂU")


def write_progress_sheet(book: Book, data: Prepared, al: pd.DataFrame, commune: str | None) -> None:
    """Tiến độ: per phase, device sets against the target and the share of students with internet against the
    phase's and the final target; then handovers and the device-use follow-up."""
    where = data.commune_name(commune, commune) if commune else data.district.district.name
    book.sheet("progress", "TIẾN ĐỘ THỰC HIỆN SO VỚI MỤC TIÊU",
               f"{where} - lũy kế đến ngày {data.result.as_of:%d/%m/%Y}", _PROGRESS_SHEET_COLS).fill(
        lambda sh: _progress(sh, data, al, commune), frames=(al,), reads=("connectivity", "follow_ups"))


def _progress(sh: Sheet, data: Prepared, al: pd.DataFrame, commune: str | None) -> None:
    """Tiến độ's tables: of tonight's date they read only which phases have started (the phase facts)."""
    d = data.district
    as_of = data.result.as_of
    schools = [s for s in d.schools if commune is None or s.commune == commune]
    enrolment = sum(school_enrolment(s) for s in schools)
    unmet = int(((al["need"] == "internet") & al["status"].isin(WAITING)).sum())
    share = max(enrolment - unmet, 0) / enrolment if enrolment else None
    devices = int(((al["need"] == "device") & al["status"].isin(GIVEN)).sum())
    h = sh.header()
    rows: list[list[Any]] = []
    for phase in d.phases:
        when = f"{phase.name} ({phase.start:%m/%Y} - {phase.end:%m/%Y})"
        started = phase.start <= as_of
        note = "" if started else "Chưa đến giai đoạn"
        if phase.device_sets_target and commune is None:
            rows.append([len(rows) + 1, "Bộ thiết bị học tập đã phân bổ (gồm đã bàn giao)", when,
                         vn_int(phase.device_sets_target), vn_int(devices) if started else "",
                         devices / phase.device_sets_target if started else None, note])
        if phase.internet_share_target is not None and share is not None:
            rows.append([len(rows) + 1, "Học sinh lớp 1-9 có kết nối Internet (ước tính)", when,
                         vn_pct(phase.internet_share_target, 0), vn_pct(share, 1) if started else "",
                         share / phase.internet_share_target if started and phase.internet_share_target else None,
                         note or "= (sĩ số - số em còn chờ hỗ trợ Internet) / sĩ số"])
    goal = d.overall_targets
    if share is not None:
        rows.append([len(rows) + 1, "Học sinh lớp 1-9 có kết nối Internet - mục tiêu chung", "Mục tiêu cuối",
                     vn_pct(goal.internet_share, 0), vn_pct(share, 1),
                     share / goal.internet_share if goal.internet_share else None, ""])
    coverage = _coverage_index(data)
    villages = _villages(data, coverage, commune)
    if villages:
        ok = sum(1 for c, k, _ in villages if any((coverage.get((c, k)) or {}).values()))
        rows.append([len(rows) + 1, "Thôn, khu có sóng 3G/4G hoặc cáp quang", "Mục tiêu cuối",
                     vn_pct(goal.village_coverage_share, 0), f"{ok}/{len(villages)}",
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
    sh.line(f"Gói cước Internet: {vn_int(int(internet['status'].isin(GIVEN).sum()))} đã phân bổ, "
            f"{vn_int(int((internet['status'] == 'handed_over').sum()))} đã bàn giao. Theo dõi sử dụng theo kết quả "
            "kiểm tra gần nhất của nhà trường.")
    sh.signature(left_title="NGƯỜI LẬP BIỂU")


def _coverage_index(data: Prepared) -> dict[tuple[str, str], dict[str, bool]]:
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
            have[flag] = have[flag] or truthy(r.get(col))
    return out


def _villages(data: Prepared, coverage: dict, commune: str | None) -> list[tuple[str, str, str]]:
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
    return sorted(((k[0], k[1], n) for k, n in out.items()),
                  key=lambda t: (order.get(t[0], 10**6), name_sort_key(t[2])))


def _follow_up_counts(data: Prepared, al: pd.DataFrame) -> dict[str, Counter[str]]:
    """Per commune code: devices given, handed over, and the latest device-use check of handed-over devices."""
    fu = data.result.follow_ups
    state: dict[tuple[str, str], str] = {}
    if fu is not None and len(fu):
        state = {(as_text(p), as_text(n)): as_text(s) for p, n, s in zip(fu["person_id"], fu["need"], fu["state"])}
    m: dict[str, Counter[str]] = {k: Counter() for k in ("given", "handed_over", "in_use", "broken", "lost",
                                                          "unchecked")}
    devices = al[(al["need"] == "device") & al["status"].isin(GIVEN)]
    for pid, commune, status in zip(devices["person_id"], devices["commune_code"], devices["status"]):
        m["given"][commune] += 1
        if status == "handed_over":
            m["handed_over"][commune] += 1
            m[state.get((pid, "device")) or "unchecked"][commune] += 1
    return m

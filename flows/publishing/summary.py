"""Tổng hợp: the summary sheet of the district's workbook and of each commune's.

Per commune (the district) or per school (a commune): rows listed and rejected, children, eligible, devices and
internet given, needs waiting, not eligible, issues, enrolment and the estimated share online, with an "other"
row so the totals add up; the district's copy also has a chart and a table per school. Then a reconciliation
(every row and every child counted exactly once) and, for the district, the progress against the phase targets.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd

from flows.publishing.prepared import GIVEN, WAITING, Prepared, school_enrolment, truthy
from flows.publishing.workbook import REISSUE_NOTE, Book, Col, Sheet, label, vn_int, vn_pct

_OTHER_LABEL = "Khác / chưa xác định"
_SUMMARY_METRICS = [
    Col("Số dòng trong danh sách", 11, "int"),
    Col("Dòng bị loại (lỗi)", 10, "int"),
    Col("Số học sinh", 10, "int"),
    Col("Đủ điều kiện", 10, "int"),
    Col("Thiết bị đã phân bổ", 11, "int"),
    Col("Internet đã hỗ trợ", 11, "int"),
    Col("Nhu cầu đang chờ", 10, "int"),
    Col("Không đủ điều kiện", 11, "int"),
    Col("Lỗi dữ liệu", 9, "int"),
    Col("Sĩ số lớp 1-9", 10, "int"),
    Col("Tỷ lệ có Internet (ước tính)", 12, "pct"),
]
_RECONCILE_COLS = [Col("STT", 6, "stt"), Col("Nội dung", 34), Col("Số lượng", 11, "int"),
                   Col("Đối chiếu", 10, "center")]
_PROGRESS_COLS = [
    Col("STT", 6, "stt"), Col("Chỉ tiêu", 34, "text"), Col("Mục tiêu", 11, "text"), Col("Thực hiện", 10, "text"),
    Col("Tỷ lệ đạt", 10, "pct"),
]


def write_summary(book: Book, data: Prepared, st: pd.DataFrame, persons: pd.DataFrame, al: pd.DataFrame,
                  iss: pd.DataFrame, *, commune: str | None) -> None:
    """Tổng hợp of the district (``commune`` None: per commune, then per school) or of one commune's rows."""
    d = data.district
    info = d.district
    phase = d.phase_for(data.result.as_of)
    as_of = data.result.as_of.strftime("%d/%m/%Y")
    phase_text = f"{phase.name} ({phase.start:%m/%Y} - {phase.end:%m/%Y})" if phase else "Ngoài thời gian các giai đoạn"
    where = data.commune_name(commune, commune) if commune else info.name
    title = f"BÁO CÁO TỔNG HỢP CHƯƠNG TRÌNH “{info.programme.upper()}”"
    subtitle = f"{where} - số liệu đến ngày {as_of} - {phase_text} - lần tổng hợp {data.result.run_id}"
    first = [Col("STT", 6, "stt"), Col("Xã, thị trấn" if commune is None else "Trường", 34)]
    cols = [*first, *_SUMMARY_METRICS]
    sh = book.sheet("summary", title, subtitle, cols)

    by_school = _metrics(st, persons, al, iss, "school_code", "_school_key")
    schools = [(s.code, s.name, school_enrolment(s)) for s in d.schools]
    if commune is None:
        by_commune = _metrics(st, persons, al, iss, "commune_code", "_commune_key")
        communes = [(c.code, c.name, sum(school_enrolment(s) for s in d.schools if s.commune == c.code))
                    for c in d.communes]
        header = sh.header(repeat=False)
        rows, total = _summary_table(communes, by_commune)
        sh.rows(rows, filter_from=header)
        sh.total(total)
        # The chart prints whole on a page of its own, and the table per school starts the next one.
        sh.page_break()
        _add_commune_chart(book, sh, header, len(communes))
        sh.skip(22)
        sh.page_break()
        sh.line("Theo trường", "section")
        school_cols = [Col("STT", 6, "stt"), Col("Trường", 34), *_SUMMARY_METRICS]
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
    if commune is not None:
        sh.line(REISSUE_NOTE)

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


_METRIC_ORDER = ["listed", "rejected", "persons", "eligible", "devices", "internet", "waiting", "excluded", "issues"]


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
        if status in GIVEN and need == "device":
            m["devices"][unit] += 1
        elif status in GIVEN and need == "internet":
            m["internet"][unit] += 1
        elif status in WAITING:
            m["waiting"][unit] += 1
            m["unmet_internet"][unit] += need == "internet"
    m["issues"].update(iss[issue_key])
    return m


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


def _progress_rows(data: Prepared, al: pd.DataFrame, total: list[Any]) -> list[list[Any]]:
    d = data.district
    phase = d.phase_for(data.result.as_of)
    devices = int(((al["need"] == "device") & al["status"].isin(GIVEN)).sum())
    share = total[-1]
    rows: list[list[Any]] = []
    if phase and phase.device_sets_target:
        rows.append([len(rows) + 1, f"Bộ thiết bị đã phân bổ ({phase.name})", vn_int(phase.device_sets_target),
                     vn_int(devices), devices / phase.device_sets_target])
    if phase and phase.internet_share_target is not None and share is not None:
        rows.append([len(rows) + 1, f"Học sinh lớp 1-9 có kết nối Internet ({phase.name})",
                     vn_pct(phase.internet_share_target, 0), vn_pct(share, 1),
                     share / phase.internet_share_target if phase.internet_share_target else None])
    conn = data.result.connectivity
    villages = sum(len(c.villages) for c in d.communes)
    if conn is not None and len(conn) and villages:
        covered = conn.copy()
        flags = [c for c in ("has_3g", "has_4g", "has_fibre") if c in covered.columns]
        covered["_ok"] = [any(truthy(v) for v in vals) for vals in covered[flags].itertuples(index=False)] \
            if flags else False
        n = int(covered.loc[covered["_ok"]].drop_duplicates(["commune_code", "village"]).shape[0])
        target = d.overall_targets.village_coverage_share
        rows.append([len(rows) + 1, "Thôn, khu có sóng 3G/4G hoặc cáp quang", vn_pct(target, 0),
                     f"{n}/{villages}", (n / villages) / target if target else None])
    return rows


def _add_commune_chart(book: Book, sh: Sheet, header: int, n: int) -> None:
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
    # as wide as the table beside the first column (xlsxwriter anchors charts in its 7-pixel column model)
    chart.set_size({"width": int(0.8 * sum(w * 7 + 5 for w in sh.widths[1:])), "height": 400})
    sh.ws.insert_chart(sh.row + 1, 1, chart)

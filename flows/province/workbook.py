"""The province workbook: one row per district and city (its night's figures, or why it has none), then progress
against the phase targets; drawn with the district workbook's engine (``flows.publishing.workbook``), the same
official heading, in Vietnamese.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd

from flows.province.config import LoadedProvince
from flows.province.night import internet_share
from flows.publishing.workbook import Book, Col, Sheet, date_value, label, vn_int, vn_pct

WORKBOOK_NAME = "Tong hop tinh.xlsx"
_STATUS = {"ok": "Đã tổng hợp", "failed": "Lỗi, chưa tổng hợp được", "absent": "Chưa tham gia (chưa có cấu hình)"}
_SUMMARY_COLS = [
    Col("STT", 6, "stt"), Col("Huyện, thành phố", 24), Col("Mã", 6, "center"), Col("Tình trạng", 18, "wrap"),
    Col("Nguồn dữ liệu", 9, "int"), Col("Dòng trong danh sách", 11, "int"), Col("Dòng bị loại (lỗi)", 10, "int"),
    Col("Học sinh (sau ghép trùng)", 12, "int"), Col("Đã được hỗ trợ", 11, "int"), Col("Đang chờ", 10, "int"),
    Col("Không đủ điều kiện", 11, "int"), Col("Thiết bị đã phân bổ", 11, "int"), Col("Gói cước đã phân bổ", 11, "int"),
    Col("Cặp cần xem xét", 10, "int"), Col("Sĩ số lớp 1-9", 10, "int"), Col("Tỷ lệ có Internet (ước tính)", 11, "pct"),
]
_PROGRESS_COLS = [
    Col("STT", 6, "stt"), Col("Huyện, thành phố", 24), Col("Giai đoạn", 14), Col("Mục tiêu bộ thiết bị", 12, "int"),
    Col("Đã phân bổ", 11, "int"), Col("Đạt (% mục tiêu thiết bị)", 12, "pct"),
    Col("Mục tiêu tỷ lệ có Internet", 12, "pct"), Col("Tỷ lệ có Internet (ước tính)", 12, "pct"),
    Col("Đạt (% mục tiêu Internet)", 12, "pct"),
]
_COUNTS = ("sources", "student_rows", "rows_rejected", "persons", "allocated", "waitlisted", "excluded")


def write_province_workbook(path: Path, province: LoadedProvince, outcomes: list[dict], as_of: dt.date,
                            run_id: str, started: dt.datetime, moves: pd.DataFrame | None = None) -> Path:
    """Write the province workbook at ``path`` from the districts' summaries (``flows.province.night``)."""
    info = province.province.province
    data = SimpleNamespace(district=SimpleNamespace(district=info),
                           result=SimpleNamespace(started_at=started, as_of=as_of, run_id=run_id))
    book = Book(path, data, f"Tổng hợp {info.name}", len(province.province.districts))
    by_code = {o["code"]: o for o in outcomes}
    _summary(book, info, province, by_code, as_of, run_id)
    _progress(book, info, province, by_code, as_of)
    _moves(book, info, province, moves, as_of)
    book.close()
    return path


def _sheet(book: Book, name: str, title: str, subtitle: str, cols: list[Col]) -> Sheet:
    sheet = Sheet(book, name, title, subtitle, cols)
    book.sheets.append(sheet)
    return sheet


def _summary(book: Book, info, province: LoadedProvince, by_code: dict, as_of: dt.date, run_id: str) -> None:
    title = f"BÁO CÁO TỔNG HỢP CHƯƠNG TRÌNH “{info.programme.upper()}” TOÀN TỈNH"
    subtitle = f"{info.name} - số liệu đến ngày {as_of:%d/%m/%Y} - lần tổng hợp {run_id}"
    sh = _sheet(book, "Tổng hợp tỉnh", title, subtitle, _SUMMARY_COLS)
    header = sh.header(repeat=False)
    rows, totals = [], [0] * (len(_COUNTS) + 5)
    for i, d in enumerate(province.province.districts, 1):
        o = by_code.get(d.code, {"status": "absent"})
        status = _STATUS[o["status"]]
        if o["status"] != "ok":
            if o["status"] == "failed":
                status = f"{status}: {o.get('failure', '')}"
            rows.append([i, d.name, d.code, status, *[None] * (len(_SUMMARY_COLS) - 4)])
            continue
        c = o["counts"]
        values = [*(c.get(k, 0) for k in _COUNTS), o["devices_given"], o["internet_given"], c.get("review_pairs", 0),
                  o["enrolment"], o["unmet_internet"]]
        totals = [a + b for a, b in zip(totals, values)]
        rows.append([i, d.name, d.code, status, *values[:-1], internet_share(o)])
    sh.rows(rows, filter_from=header)
    enrolment, unmet = totals[-2], totals[-1]
    share = max(enrolment - unmet, 0) / enrolment if enrolment else None
    sh.total(["", "Toàn tỉnh", "", f"{sum(o['status'] == 'ok' for o in by_code.values())}/"
              f"{len(province.province.districts)} huyện", *totals[:-1], share])
    sh.line("Ghi chú: mỗi huyện, thành phố có cấu hình, nguồn dữ liệu, sổ cái và bảng tính riêng như khi tổng hợp "
            "riêng; tỷ lệ có Internet ước tính = (sĩ số - số em còn chờ hỗ trợ Internet) / sĩ số.")
    sh.signature(recipients=["- UBND tỉnh (b/c);", "- Sở Thông tin và Truyền thông;", "- Lưu: VT."])


def _progress(book: Book, info, province: LoadedProvince, by_code: dict, as_of: dt.date) -> None:
    title = "TIẾN ĐỘ THỰC HIỆN SO VỚI MỤC TIÊU"
    subtitle = f"{info.name} - số liệu đến ngày {as_of:%d/%m/%Y}"
    sh = _sheet(book, "Tiến độ", title, subtitle, _PROGRESS_COLS)
    header = sh.header(repeat=False)
    rows: list[list[Any]] = []
    target_sum = given_sum = 0
    for i, d in enumerate(province.province.districts, 1):
        o = by_code.get(d.code)
        if not o or o["status"] != "ok":
            rows.append([i, d.name, _STATUS["absent" if not o else o["status"]], *[None] * 6])
            continue
        target, given = o["device_sets_target"], o["devices_given"]
        share, share_target = internet_share(o), o["internet_share_target"]
        if target:
            target_sum, given_sum = target_sum + target, given_sum + given
        rows.append([i, d.name, o["phase"] or "Ngoài các giai đoạn", target, given,
                     given / target if target else None, share_target, share,
                     share / share_target if share is not None and share_target else None])
    sh.rows(rows, filter_from=header)
    sh.total(["", "Toàn tỉnh", "", target_sum or None, given_sum, given_sum / target_sum if target_sum else None,
              None, None, None])
    sh.line(f"Mục tiêu theo giai đoạn của từng huyện (district.yaml); toàn tỉnh: đã phân bổ {vn_int(given_sum)} bộ "
            f"thiết bị" + (f", đạt {vn_pct(given_sum / target_sum, 1)} tổng mục tiêu." if target_sum else "."))
    sh.signature(recipients=["- UBND tỉnh (b/c);", "- Lưu: VT."])


MOVES_SHEET = "Trẻ chuyển huyện"
_MOVE_COLS = [
    Col("STT", 6, "stt"), Col("Huyện (1)", 16), Col("Mã học sinh (1)", 12, "center"), Col("Họ và tên (1)", 22),
    Col("Ngày sinh (1)", 12, "date"), Col("Trường (1)", 24), Col("Tình trạng (1)", 14),
    Col("Huyện (2)", 16), Col("Mã học sinh (2)", 12, "center"), Col("Họ và tên (2)", 22),
    Col("Ngày sinh (2)", 12, "date"), Col("Trường (2)", 24), Col("Tình trạng (2)", 14),
    Col("Kết luận của mô hình", 18, "wrap"), Col("Xác suất", 9, "pct"),
]
_DECISION = {"match": "Có thể là một học sinh", "review": "Chưa chắc chắn, cần xem xét"}


def _moves(book: Book, info, province: LoadedProvince, moves: pd.DataFrame | None, as_of: dt.date) -> None:
    """Children who may be one child listed in two districts (moved, or listed twice): for the officers to check."""
    title = "HỌC SINH CÓ THỂ ĐÃ CHUYỂN HUYỆN (CÓ TÊN Ở HAI HUYỆN)"
    subtitle = f"{info.name} - số liệu đến ngày {as_of:%d/%m/%Y} - đối chiếu giữa các huyện sau khi mỗi huyện ghép trùng"
    sh = _sheet(book, MOVES_SHEET, title, subtitle, _MOVE_COLS)
    header = sh.header()
    names = {d.code: d.name for d in province.province.districts}
    rows = []
    for i, r in enumerate((moves if moves is not None else pd.DataFrame()).itertuples(index=False), 1):
        rows.append([i, names.get(r.district_a, r.district_a), r.person_id_a, r.full_name_a,
                     date_value(r.date_of_birth_a), r.school_a, label("status", r.status_a),
                     names.get(r.district_b, r.district_b), r.person_id_b, r.full_name_b,
                     date_value(r.date_of_birth_b), r.school_b, label("status", r.status_b),
                     _DECISION.get(r.decision, r.decision),
                     None if r.match_probability is None or pd.isna(r.match_probability) else r.match_probability])
    sh.rows(rows, filter_from=header, empty="Không có học sinh nào có tên ở hai huyện.")
    sh.line("Ghi chú: mỗi cặp là hai hồ sơ ở hai huyện mà mô hình ghép trùng (Splink) cho là có thể của cùng một "
            "học sinh; chưa huyện nào thay đổi phân bổ. Hai huyện đối chiếu và thống nhất nơi hỗ trợ em.")
    sh.signature(recipients=["- Phòng GD&ĐT các huyện có tên;", "- Lưu: VT."])

"""The district's workbook: every sheet of the night, for the district education office.

Tổng hợp, Danh sách phân bổ, Danh sách chờ, Không đủ điều kiện, Cần xem xét (the pairs the linkage left to an
officer, with an empty decision column), Thay đổi (every change since the night before but a new allocation, with
its rule and, for two records found to be one child, both ids), Lỗi dữ liệu, Nguồn tài trợ (donations, balance per item and in cash),
Hạ tầng, Tiến độ and Nguồn dữ liệu (every source read, failed and stale first).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flows.publishing.changes import write_changes_sheet
from flows.publishing.lists import write_issue_sheet, write_list_sheets
from flows.publishing.prepared import Prepared, as_int
from flows.publishing.progress import write_infrastructure_sheet, write_progress_sheet
from flows.publishing.summary import write_summary
from flows.publishing.workbook import Book, Col, date_value, label
from flows.text import as_text

NO_REVIEW_PAIRS = "Không có cặp nào cần xem xét"  # Cần xem xét when the linkage left no pair
_DONATION_COLS = [
    Col("STT", 6, "stt"), Col("Mã tài trợ", 14, "center"), Col("Nhà tài trợ", 30, "wrap"),
    Col("Ngày", 14, "date"), Col("Hình thức", 22), Col("Số lượng", 10, "int"), Col("Số tiền (đồng)", 16, "money"),
    Col("Tình trạng", 12), Col("Quy đổi (đơn vị)", 11, "int"), Col("Dành riêng cho", 28, "wrap"),
    Col("Ghi chú", 30, "wrap"),
]
_DONATION_SUMMARY_COLS = [
    Col("STT", 6, "stt"), Col("Mã", 14, "center"), Col("Loại hỗ trợ", 30), Col("Đã nhận", 14, "int"),
    Col("Từ tiền mặt", 22, "int"), Col("Cam kết", 10, "int"), Col("Đã phân bổ", 16, "int"),
    Col("Đã bàn giao", 12, "int"), Col("Còn lại", 11, "int"),
]
_CASH_COLS = [Col("STT", 6, "stt"), Col("Mã", 14, "center"), Col("Khoản mục", 30),
              Col("Số tiền (đồng)", 14, "money")]
_SOURCE_COLS = [
    Col("STT", 6, "stt"), Col("Nguồn", 36, "wrap"), Col("Mã nguồn", 30, "wrap"), Col("Loại", 20),
    Col("Trạng thái", 14), Col("Số dòng", 10, "int"), Col("Ghi chú", 50, "wrap"),
]


def write_district(data: Prepared, path: Path, parts: Any = None) -> None:
    """The district's workbook, every sheet in the order the office reads them. ``parts``
    (``flows.reuse.workbooks.SheetParts``): a sheet given what an earlier night's was is taken from there
    (``workbook.Book``)."""
    info = data.district.district
    book = Book(path, data, f"Tổng hợp {info.programme} - {info.name}",
                rows=len(data.allocations) + len(data.persons) + len(data.issues), parts=parts)
    write_summary(book, data, data.students, data.persons, data.allocations, data.issues, commune=None)
    write_list_sheets(book, data, data.allocations, data.persons, data.issues, info.name)
    _write_review_sheet(book, data)
    write_changes_sheet(book, data)
    write_issue_sheet(book, data, data.issues, info.name)
    _write_donation_sheet(book, data)
    write_infrastructure_sheet(book, data, data.allocations, None)
    write_progress_sheet(book, data, data.allocations, None)
    _write_sources_sheet(book, data)
    book.close()


def _write_review_sheet(book: Book, data: Prepared) -> None:
    """Pairs the linkage left to an officer: both records side by side, the probability, the reasons, the pair
    key and an empty decision column. The officer fills "Quyết định" here (and returns the workbook as a
    ``decisions`` source) or copies the pair key into a decisions sheet; either is applied every night."""
    side = [("person_id", "Mã HS", 12, "center"), ("full_name", "Họ và tên", 22, "text"),
            ("date_of_birth", "Ngày sinh", 12, "date"), ("sex", "Giới tính", 8, "center"),
            ("guardian_name", "Cha/mẹ/người giám hộ", 20, "text"), ("village", "Thôn", 14, "text"),
            ("commune", "Xã", 14, "text"), ("school", "Trường", 22, "text"), ("grade", "Lớp", 6, "int"),
            ("source", "Nguồn (tệp, trang, dòng)", 26, "wrap")]
    cols = [Col("STT", 6, "stt"), Col("Mã cặp", 20, "wrap"),
            *(Col(f"{h} (1)", w, k) for _, h, w, k in side), *(Col(f"{h} (2)", w, k) for _, h, w, k in side),
            Col("Khả năng trùng", 10, "pct"), Col("Căn cứ", 34, "wrap"), Col("Quyết định (cùng/khác)", 16)]
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
                    line_no = as_int(r.get(f"source_row_{s}"))
                    row.append(", ".join([x for x in where if x] + ([f"dòng {line_no}"] if line_no else [])))
                elif kind == "date":
                    row.append(date_value(r.get(f"{f}_{s}", "")))
                elif kind == "int":
                    row.append(as_int(r.get(f"{f}_{s}")))
                elif f == "sex":
                    row.append(sexes.get(as_text(r.get(f"{f}_{s}", "")), ""))
                else:
                    row.append(as_text(r.get(f"{f}_{s}", "")))
        p = r.get("match_probability")
        row += [p if p is not None and p == p else None, as_text(r.get("reasons", "")), ""]
        rows.append(row)
    sh.rows(rows, filter_from=h, empty=NO_REVIEW_PAIRS)


def _write_donation_sheet(book: Book, data: Prepared) -> None:
    """Nguồn tài trợ: each donation, then the balance per item (units) and in cash."""
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
        rows.append([i, r["donation_id"], r["donor"], date_value(r["date"]), label("item", r["kind"]),
                     as_int(r["quantity"]), as_int(r["amount_vnd"]), label("donation_status", r["status"]),
                     as_int(r["units"]), earmark, r["note"]])
    sh.rows(rows, filter_from=h, empty="Chưa có nguồn tài trợ")
    amounts = [as_int(r["amount_vnd"]) or 0 for r in dn.to_dict("records")] if len(dn) else []
    sh.total(["", "", "Tổng cộng", "", "", int(dn["quantity"].fillna(0).sum()) if len(dn) else 0, sum(amounts), "",
              int(dn["units"].fillna(0).sum()) if len(dn) else 0, "", ""])

    sh.skip()
    sh.line("Cân đối theo loại hỗ trợ (đơn vị)", "section")
    sh.header(_DONATION_SUMMARY_COLS, freeze=False)
    ds = data.result.donation_summary
    rows = []
    if ds is not None and len(ds):
        for i, r in enumerate(ds.to_dict("records"), 1):
            rows.append([i, as_text(r.get("item")), label("item", r.get("item")), *(as_int(r.get(k)) for k in (
                "received_units", "from_cash_units", "pledged_units", "allocated", "handed_over", "remaining"))])
    sh.rows(rows, _DONATION_SUMMARY_COLS, empty="Chưa có số liệu")

    sh.skip()
    sh.line("Cân đối tiền mặt (đồng)", "section")
    sh.header(_CASH_COLS, freeze=False)
    cash_rows = [("received_vnd", "Đã nhận"), ("pledged_vnd", "Cam kết, chưa nhận"),
                 ("converted_vnd", "Đã quy đổi thành thiết bị, gói cước"), ("carried_vnd", "Chuyển kỳ sau")]
    sh.rows([[i, k, text, as_int(cash.get(k)) or 0] for i, (k, text) in enumerate(cash_rows, 1)], _CASH_COLS)
    sh.signature(left_title="NGƯỜI LẬP BIỂU")


def _write_sources_sheet(book: Book, data: Prepared) -> None:
    """Nguồn dữ liệu: every source read tonight, failed and stale ones first."""
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

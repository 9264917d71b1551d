"""Builders shared by the intake tests: sheets as a CSV or Google Sheet gives them (layout and headers), and raw
tables as layout leaves them (values, places and normalize)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from flows.frames import SheetGrid, SourceData
from flows.intake.normalize import normalize_students


# --- Sheets ---------------------------------------------------------------------------------------------------
def source(grids: list[SheetGrid], file: str = "truong/danh-sach.xlsx", **kw) -> SourceData:
    """A source of ``grids`` read from ``file``."""
    return SourceData(source_id=file, source_file=file, sheets=grids, **kw)


def grid(rows, name="Sheet1", **kw) -> SheetGrid:
    """A sheet of ``rows``, each padded to the widest."""
    width = max(len(r) for r in rows)
    return SheetGrid(name=name, rows=[list(r) + [None] * (width - len(r)) for r in rows], **kw)


TITLE = [["UBND HUYỆN HỮU LŨNG"], ["TRƯỜNG THCS YÊN BÌNH"], [], ["DANH SÁCH HỌC SINH"]]
# One small table of each kind, under its usual header
KIND_SHEETS = {
    "students": [["STT", "Họ và tên", "Ngày sinh", "Lớp", "Hộ nghèo"], [1, "Lê Văn A", "01/02/2012", "3A", "x"]],
    "donations": [["STT", "Nhà tài trợ", "Ngày nhận", "Hình thức", "Số lượng", "Số tiền (VND)", "Ghi chú"],
                  [1, "Viettel Lạng Sơn", dt.datetime(2021, 12, 20), "Máy tính bảng", 50, None, None]],
    "connectivity": [["STT", "Xã", "Thôn", "Sóng 3G", "Sóng 4G", "Cáp quang", "Số hộ"],
                     [1, "Hữu Liên", "Bãi Hào", "x", "x", None, 85]],
    "handover": [["STT", "Họ và tên", "Ngày sinh", "Trường", "Thiết bị", "Số sê-ri", "Ngày bàn giao", "Người nhận"],
                 [1, "Lê Văn A", "01/02/2012", "TH Hữu Liên", "Máy tính bảng", "SN123", "05/01/2022", "Lê Văn B"]],
}


# --- Raw tables -----------------------------------------------------------------------------------------------
def raw_students(rows: list[dict], list_type: str = "school", unit_code: str = "TH-06388") -> pd.DataFrame:
    """A students table as layout gives it: provenance, the unit, "Nguyễn Văn An" unless named, and ``rows``."""
    records = []
    for i, row in enumerate(rows):
        records.append({"source_id": "s", "source_file": "truong/a.xlsx", "source_sheet": "DS",
                        "source_row": 5 + i, "list_type": list_type, "unit_code": unit_code,
                        "full_name": "Nguyễn Văn An", **row})
    columns = list(dict.fromkeys(k for r in records for k in r))
    return pd.DataFrame([[r.get(c) for c in columns] for r in records], columns=columns, dtype=object)


def student(cfg, **fields) -> pd.Series:
    """One raw student row of ``fields``, normalized."""
    return normalize_students(raw_students([fields]), cfg).iloc[0]


def raw_table(kind: str, rows: list[dict], unit_code: str = "") -> pd.DataFrame:
    """A donations, connectivity or handover table as layout gives it, read from ``<kind>.xlsx`` ("tai-tro",
    "ha-tang", "ban-giao")."""
    records = [{"source_id": f"{kind}.xlsx", "source_file": f"{kind}.xlsx", "source_sheet": "S", "source_row": 3 + i,
                "list_type": "", "unit_code": unit_code, **r} for i, r in enumerate(rows)]
    columns = list(dict.fromkeys(k for r in records for k in r))
    return pd.DataFrame([[r.get(c) for c in columns] for r in records], columns=columns, dtype=object)


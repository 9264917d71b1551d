"""Workbooks the product published, found again among the sources: read only for what an officer returns in them.

An officer fills "Quyết định" in "Cần xem xét", or adds an override column or sheet, in a copy of a district,
commune or school workbook, and saves the copy somewhere among the sources. Read as a list, such a copy would
count every child it lists a second time and every donation on its "Nguồn tài trợ" sheet again. So a
published workbook is recognised and set aside as kind ``returned``: the layout stage reads no table from it
(no students, donations, coverage or handovers), the decisions stage still reads its pair decisions, and each of
its sheets whose header has an override column ("Điều chỉnh", ...) is read as overrides — only the rows where
the officer wrote one — through a companion source ``<id>#dieu-chinh`` of kind ``overrides``.

Recognition, strongest first:

1. the custom document property ``songmaytinh_workbook`` (``district`` / ``commune`` / ``school``) the publisher
   writes (``flows.publishing.workbook.Book``), read from ``docProps/custom.xml`` of an .xlsx file
   (``published_marker``); Excel keeps it when a copy is saved again;
2. the shape of its sheets, for copies whose properties were lost (saved again by LibreOffice or Google Sheets,
   rebuilt by a script): two or more sheets that bear one of the product's sheet names *and* its document
   heading (the issuing unit and the quốc hiệu in the first rows, "STT" opening the header in row 7), or one
   such sheet with every other sheet named as the product names its sheets, or "Cần xem xét" returned alone.

A school's own list has the quốc hiệu too, but not the education office as issuing unit on two of the product's
sheets, so it is never taken for one.
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree as ET

from flows.config import AppConfig
from flows.frames import SheetGrid, SourceData
from flows.publishing.labels import SHEETS
from flows.publishing.rows_as_sent import SHEET_NAME
from flows.publishing.workbook import HEADER_ROW, PUBLISHED_MARKER as MARKER_PROPERTY
from flows.text import as_text, fold

log = logging.getLogger(__name__)

RETURNED_KIND = "returned"
OVERRIDES_SUFFIX = "#dieu-chinh"
_QUOC_HIEU = fold("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
_CUSTOM_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/custom-properties}"
_MESSAGE = ("bảng tính do chương trình xuất ({what}): chỉ đọc quyết định và điều chỉnh của cán bộ, không đọc "
            "danh sách học sinh hay nguồn tài trợ trong đó")
_WHAT = {"district": "bảng tổng hợp của huyện", "commune": "bảng của xã", "school": "bảng phản hồi của trường",
         "shape": "nhận ra theo các trang tính"}


def published_marker(path: Path) -> str:
    """The ``songmaytinh_workbook`` custom property of an .xlsx/.xlsm file, or "" (none, or not such a file)."""
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        return ""
    try:
        with zipfile.ZipFile(path) as zf:
            if "docProps/custom.xml" not in zf.namelist():
                return ""
            if zf.getinfo("docProps/custom.xml").file_size > 1 << 20:
                return ""  # a properties part this large is not ours
            root = ET.fromstring(zf.read("docProps/custom.xml"))
    except Exception:  # a broken or hostile file: not ours (the reader reports it as it is)
        return ""
    for prop in root.iter(f"{_CUSTOM_NS}property"):
        if prop.get("name") == MARKER_PROPERTY:
            return "".join(prop.itertext()).strip()
    return ""


def _published_sheet_names() -> set[str]:
    return {fold(n) for n in (*SHEETS.values(), SHEET_NAME)}


def _bears_heading(grid: SheetGrid, issuing_unit: str) -> bool:
    """The product's document heading: issuing unit and quốc hiệu in the first rows, "STT" opening row 7."""
    top = {fold(as_text(v)) for row in grid.rows[:3] for v in row if as_text(v)}
    header = next((as_text(v) for v in (grid.rows[HEADER_ROW] if len(grid.rows) > HEADER_ROW else []) if as_text(v)),
                  "")
    return _QUOC_HIEU in top and issuing_unit in top and fold(header) == "stt"


def looks_published(sheets: list[SheetGrid], cfg: AppConfig) -> bool:
    """Whether a workbook's sheets have the shape of one the product published (its properties may be lost)."""
    names = _published_sheet_names()
    unit = fold(cfg.district.district.issuing_unit)
    ours = [g for g in sheets if fold(g.name) in names and _bears_heading(g, unit)]
    if len(ours) >= 2 or any(fold(g.name) == fold(SHEETS["review"]) for g in ours):  # "Cần xem xét" alone is ours
        return True
    return len(ours) == 1 and len(sheets) >= 2 and all(fold(g.name) in names for g in sheets)


def set_aside_returned(sources: list[SourceData], cfg: AppConfig,
                       markers: dict[str, str] | None = None) -> list[SourceData]:
    """``sources`` with every published workbook among them set aside as kind ``returned`` (in place) and, after
    each one that carries overrides, its companion overrides source. ``markers``: source id -> the workbook's
    ``songmaytinh_workbook`` property (``published_marker``), for the sources read from files."""
    markers = markers or {}
    out: list[SourceData] = []
    returned = 0
    for source in sources:
        out.append(source)
        if source.status == "failed" or source.source_id.endswith(OVERRIDES_SUFFIX):
            continue
        marker = markers.get(source.source_id, "")
        if not marker and not looks_published(source.sheets, cfg):
            continue
        returned += 1
        source.kind = RETURNED_KIND
        source.message = _MESSAGE.format(what=_WHAT.get(marker or "shape", marker))
        companion = _overrides_of(source, cfg)
        if companion is not None:
            out.append(companion)
    if returned:
        log.warning("%d published workbook(s) found among the sources: read only for officer decisions and "
                    "overrides (%s)", returned, ", ".join(s.source_id for s in out if s.kind == RETURNED_KIND))
    return out


def _overrides_of(source: SourceData, cfg: AppConfig) -> SourceData | None:
    """The sheets of a returned workbook an officer wrote overrides in, keeping only the rows that name one."""
    from flows.intake.headers import find_header

    pair_key = [fold(a) for a in cfg.headers.decisions.get("pair_key", [])]
    sheets = []
    for grid in source.sheets:
        if grid.hidden:
            continue
        header = find_header(grid, cfg, ("overrides",))
        if header is None or header.kind != "overrides" or "action" not in header.fields:
            continue
        texts = {fold(as_text(v)) for row in grid.rows[header.first_row:header.last_row + 1] for v in row}
        if texts & set(pair_key):
            continue  # "Cần xem xét": pair decisions, read by the decisions stage
        action = header.fields["action"][0]
        # the product's own columns an override does not use ("Lớp", "Hạng ưu tiên", ...) are left out, so they
        # are not reported as unknown columns of the officer's sheet
        unused = {c.index for c in header.unknown}
        rows = [[None if c in unused else v for c, v in enumerate(r)]
                if i <= header.last_row or (action < len(r) and as_text(r[action])) else [None] * len(r)
                for i, r in enumerate(grid.rows)]
        if any(action < len(r) and as_text(r[action]) for r in rows[header.last_row + 1:]):
            sheets.append(replace(grid, rows=rows))
    if not sheets:
        return None
    return SourceData(source_id=source.source_id + OVERRIDES_SUFFIX, source_file=source.source_file,
                      kind="overrides", modified=source.modified, sheets=sheets,
                      message="điều chỉnh của cán bộ ghi trong bảng tính do chương trình xuất")

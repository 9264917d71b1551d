"""Provisioning: one template spreadsheet per school and commune, created or updated idempotently, and the registry.

For each unit in ``district.yaml``: find its spreadsheet (registry first, then by title in Drive), create it when
missing, then one ``batchUpdate`` lays out the template — a title row and Vietnamese headers (frozen, protected),
dropdowns (sex, grade 1–9, the commune's villages, priority category, yes/no needs) and an instructions sheet —
and the unit's email is shared as writer, the officers as readers (only permissions that are missing are added).
Running it again changes nothing but what config changed. Finally the registry (unit, kind, key, contact) is
written to the registry sheet (created when ``google.registry`` is not set) when its content changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flows.config import AppConfig
from flows.adapters.google.sheets import (
    REGISTRY_COLUMNS, WRITE_SCOPES, GoogleUnavailable, connect, fetch_spreadsheet, http_of, list_modified,
    parse_registry,
)

log = logging.getLogger(__name__)

LIST_SHEET, LIST_SHEET_ID = "Danh sách", 1
GUIDE_SHEET, GUIDE_SHEET_ID = "Hướng dẫn", 2
PROTECTED = "songmaytinh: tiêu đề mẫu (không sửa)"
HEADER_ROWS = 2
DATA_ROWS = 1000
YES_NO = ["Có", "Không"]
SEXES = ["Nam", "Nữ"]
GRADES = [str(g) for g in range(1, 10)]


@dataclass(frozen=True)
class Unit:
    code: str
    unit_type: str  # school | commune
    name: str
    villages: tuple[str, ...]
    contact: str | None

    @property
    def title(self) -> str:
        return f"Danh sách học sinh - {self.name} ({self.code})"


@dataclass
class ProvisionResult:
    created: list[str] = field(default_factory=list)  # unit codes
    updated: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # unit code -> reason
    shared: int = 0  # permissions added
    registry_key: str = ""
    registry_written: bool = False


def units(cfg: AppConfig) -> list[Unit]:
    d = cfg.district
    contacts = cfg.sources.google.contacts
    out = [Unit(s.code, "school", s.name, tuple(d.commune_by_code[s.commune].villages), contacts.get(s.code))
           for s in d.schools]
    out += [Unit(c.code, "commune", c.name, tuple(c.villages), contacts.get(c.code)) for c in d.communes]
    return out


def columns(unit: Unit, cfg: AppConfig) -> list[tuple[str, list[str] | None]]:
    """(header, dropdown values or None) per column of the list sheet."""
    tiers = [t.label for t in cfg.district.priority_tiers]
    cols: list[tuple[str, list[str] | None]] = [
        ("STT", None), ("Họ và tên", None), ("Ngày sinh", None), ("Giới tính", SEXES), ("Lớp", GRADES)]
    if unit.unit_type == "commune":
        cols.append(("Trường", [s.name for s in cfg.district.schools] or None))
    cols += [("Thôn", list(unit.villages) or None), ("Họ tên cha/mẹ", None), ("Số điện thoại", None),
             ("Diện ưu tiên", tiers), ("Chưa có thiết bị", YES_NO), ("Chưa có Internet", YES_NO), ("Ghi chú", None)]
    return cols


def guide_lines(unit: Unit, cfg: AppConfig) -> list[str]:
    info = cfg.district.district
    return [
        f"HƯỚNG DẪN NHẬP DANH SÁCH - CHƯƠNG TRÌNH “{info.programme.upper()}”",
        f"Đơn vị: {unit.name}. Nơi nhận: {info.issuing_unit} {info.name}.",
        f"1. Nhập mỗi học sinh một dòng trong trang “{LIST_SHEET}”, từ dòng {HEADER_ROWS + 1}; không sửa dòng "
        "tiêu đề.",
        "2. Chỉ ghi học sinh lớp 1 đến lớp 9 chưa có thiết bị hoặc chưa có Internet để học trực tuyến.",
        "3. Ngày sinh ghi dạng ngày/tháng/năm (ví dụ 05/09/2012); chọn Giới tính, Lớp, Thôn, Diện ưu tiên và "
        "Có/Không từ danh sách thả xuống.",
        "4. Diện ưu tiên: hộ nghèo, hộ cận nghèo, con có bố/mẹ tử vong do COVID-19, hoàn cảnh khó khăn khác.",
        "5. Mỗi đêm hệ thống tự tổng hợp; trang “Phản hồi” (nếu có) liệt kê các dòng cần sửa.",
    ] + ([  # a commune's list comes from the household register: the class may not be known (flows.rules.grades)
        "6. Nếu không biết em học lớp nào, trường nào, hãy để trống và ghi đủ ngày sinh (hoặc năm sinh): hệ thống "
        "lấy lớp theo danh sách của trường, nếu không có thì suy ra từ năm sinh.",
    ] if unit.unit_type == "commune" else [])


def template_requests(unit: Unit, cfg: AppConfig, sheets: dict[str, int], protected: list[int],
                      editors: list[str]) -> list[dict]:
    """The one batchUpdate that (re)lays out the template; safe to send again (same end state)."""
    cols = columns(unit, cfg)
    reqs: list[dict] = []
    if LIST_SHEET not in sheets:
        reqs.append({"addSheet": {"properties": {"sheetId": LIST_SHEET_ID, "title": LIST_SHEET, "index": 0}}})
    if GUIDE_SHEET not in sheets:
        reqs.append({"addSheet": {"properties": {"sheetId": GUIDE_SHEET_ID, "title": GUIDE_SHEET, "index": 1}}})
    list_id = sheets.get(LIST_SHEET, LIST_SHEET_ID)
    guide_id = sheets.get(GUIDE_SHEET, GUIDE_SHEET_ID)
    for title, sid in sheets.items():  # the empty first sheet a new spreadsheet comes with
        if title not in (LIST_SHEET, GUIDE_SHEET) and title.startswith(("Trang tính", "Sheet")):
            reqs.append({"deleteSheet": {"sheetId": sid}})
    title_row = f"DANH SÁCH HỌC SINH CHƯA CÓ THIẾT BỊ HOẶC INTERNET HỌC TRỰC TUYẾN - {unit.name.upper()}"
    reqs.append({"updateCells": {"start": {"sheetId": list_id, "rowIndex": 0, "columnIndex": 0},
                                 "rows": [_row([title_row] + [""] * (len(cols) - 1)), _row([c for c, _ in cols])],
                                 "fields": "userEnteredValue"}})
    reqs.append({"updateSheetProperties": {"properties": {"sheetId": list_id,
                                                          "gridProperties": {"frozenRowCount": HEADER_ROWS}},
                                           "fields": "gridProperties.frozenRowCount"}})
    for i, (_, values) in enumerate(cols):
        rng = {"sheetId": list_id, "startRowIndex": HEADER_ROWS, "endRowIndex": DATA_ROWS,
               "startColumnIndex": i, "endColumnIndex": i + 1}
        rule = None if not values else {
            "condition": {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": v} for v in values]},
            "strict": True, "showCustomUi": True,
            "inputMessage": "Chọn trong danh sách thả xuống"}
        reqs.append({"setDataValidation": {"range": rng, **({"rule": rule} if rule else {})}})
    reqs.append({"updateCells": {"range": {"sheetId": guide_id}, "fields": "userEnteredValue"}})
    reqs.append({"updateCells": {"start": {"sheetId": guide_id, "rowIndex": 0, "columnIndex": 0},
                                 "rows": [_row([line]) for line in guide_lines(unit, cfg)],
                                 "fields": "userEnteredValue"}})
    reqs += [{"deleteProtectedRange": {"protectedRangeId": pid}} for pid in protected]
    for rng in ({"sheetId": list_id, "startRowIndex": 0, "endRowIndex": HEADER_ROWS}, {"sheetId": guide_id}):
        reqs.append({"addProtectedRange": {"protectedRange": {
            "range": rng, "description": PROTECTED, "warningOnly": False, "editors": {"users": editors}}}})
    return reqs


def _row(values: list[Any]) -> dict:
    return {"values": [{"userEnteredValue": {"stringValue": str(v)}} for v in values]}


def provision(cfg: AppConfig, client=None, progress: Callable[[str], None] = lambda _: None) -> ProvisionResult:
    """Create or update every unit's template spreadsheet and write the registry. Raises only without a key."""
    settings = cfg.sources.google
    client = client or connect(settings, WRITE_SCOPES)
    http = http_of(client)
    result = ProvisionResult()
    listing = list_modified(client)
    by_title = {title: key for key, (title, _) in sorted(listing.items())}
    registry_title = f"Sổ đăng ký nguồn dữ liệu - {cfg.district.district.programme} - {cfg.district.district.name}"
    registry_key = settings.registry or by_title.get(registry_title, "")
    registered = list(settings.spreadsheets)
    current_registry: list[list[Any]] = []
    if registry_key:
        _, grids, _ = fetch_spreadsheet(client, registry_key)
        if grids:
            current_registry = [[("" if v is None else v) for v in r] for r in grids[0].rows]
            found, _problems = parse_registry(grids)
            registered += [e for e in found if e.key not in {r.key for r in registered}]
    key_for_unit = {e.unit: e.key for e in registered if e.kind == "students" and e.unit}
    officers = list(settings.officers)
    for unit in units(cfg):
        progress(unit.name)
        key = key_for_unit.get(unit.code) or by_title.get(unit.title)
        try:
            if key is None:
                key = client.create(unit.title, folder_id=settings.folder).id
                result.created.append(unit.code)
            else:
                result.updated.append(unit.code)
            meta = http.spreadsheets_get(key, params={
                "fields": "sheets(properties(sheetId,title),protectedRanges(protectedRangeId,description))"})
            sheets = {s["properties"]["title"]: s["properties"].get("sheetId", 0) for s in meta.get("sheets", [])}
            protected = [p["protectedRangeId"] for s in meta.get("sheets", []) for p in s.get("protectedRanges", [])
                         if p.get("description") == PROTECTED]
            # the header rows stay locked for the unit too: only the officers may change them
            http.batch_update(key, {"requests": template_requests(unit, cfg, sheets, protected, officers)})
            result.shared += _share(http, key, {unit.contact: "writer"} if unit.contact else {}, officers)
            key_for_unit[unit.code] = key
        except GoogleUnavailable as exc:
            result.failed[unit.code] = f"HTTP {exc.status}"
            log.warning("provision: unit %s failed (HTTP %s)", unit.code, exc.status)
    rows = registry_rows(cfg, key_for_unit, registered)
    if not registry_key:
        registry_key = client.create(registry_title, folder_id=settings.folder).id
        http.batch_update(registry_key, {"requests": [{"updateSheetProperties": {
            "properties": {"sheetId": 0, "title": "Nguồn dữ liệu"}, "fields": "title"}}]})
        result.shared += _share(http, registry_key, {}, officers)
    if _normalized(rows) != _normalized(current_registry):
        meta = http.spreadsheets_get(registry_key, params={"fields": "sheets(properties(title))"})
        first = meta["sheets"][0]["properties"]["title"]
        from gspread.utils import absolute_range_name

        http.values_clear(registry_key, absolute_range_name(first))
        http.values_update(registry_key, absolute_range_name(first, "A1"), params={"valueInputOption": "RAW"},
                           body={"values": rows})
        result.registry_written = True
    result.registry_key = registry_key
    return result


def registry_rows(cfg: AppConfig, key_for_unit: dict[str, str], registered: list) -> list[list[str]]:
    rows = [REGISTRY_COLUMNS]
    names = {u.code: u for u in units(cfg)}
    kinds = {"students": "Học sinh", "donations": "Tài trợ", "connectivity": "Hạ tầng", "handover": "Bàn giao"}
    for code, unit in names.items():
        if code in key_for_unit:
            rows.append([code, unit.name, kinds["students"], "Trường" if unit.unit_type == "school" else "Xã",
                         key_for_unit[code], unit.contact or ""])
    for e in registered:  # other kinds the officer registered by hand are kept
        if e.kind != "students" or not e.unit or e.unit not in names:
            rows.append([e.unit or "", "", kinds[e.kind], {"school": "Trường", "commune": "Xã"}.get(e.unit_type or "", ""),
                         e.key, e.contact or ""])
    return rows


def _normalized(rows: list[list[Any]]) -> list[list[str]]:
    out = [[str(v) for v in r] for r in rows]
    out = [r[:max([i + 1 for i, v in enumerate(r) if v] + [0])] for r in out]
    while out and not out[-1]:
        out.pop()
    return out


def _share(http, key: str, writers: dict[str, str], readers: list[str]) -> int:
    wanted = dict(writers)
    for email in readers:
        wanted.setdefault(email, "reader")
    if not wanted:
        return 0
    have = {(p.get("emailAddress") or "").lower(): p.get("role") for p in http.list_permissions(key)}
    added = 0
    for email, role in wanted.items():
        if have.get(email.lower()) in (role, "writer", "owner"):
            continue
        http.insert_permission(key, email, perm_type="user", role=role, notify=False)
        added += 1
    return added

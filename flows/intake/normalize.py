"""Stage 3 — normalize: turn the raw cells layout lifted out into typed, official values.

Every text cell is NFC Unicode with TCVN3 / VNI-Windows text repaired (``flows.intake.legacy_fonts``). Names are
cleaned and title-cased; dates come from Excel dates, serial numbers or text in the ways schools write them;
grades from "3A", "Lớp 7", "Khối 8"; phones to ``0xxxxxxxxx``; categories and yes/no marks from the value
vocabularies in ``config/headers.yaml`` (each cell read by ``flows.intake.values``); schools, communes and villages
to the official names and codes of ``config/district.yaml`` (``flows.intake.places``). Nothing is dropped: the
text the school wrote stays in ``raw_<field>`` so validation can quote it, and a value that cannot be read
becomes empty (validation reports it).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Iterable

import pandas as pd

from flows.config import AppConfig
from flows.frames import CONNECTIVITY_COLUMNS, DONATION_COLUMNS, HANDOVER_COLUMNS, PROVENANCE, STUDENT_COLUMNS
from flows.intake.places import Places, places
from flows.intake.values import (
    cell_text, clean_name, parse_amount, parse_date, parse_grade, parse_national_id, parse_phone, parse_quantity,
    vocabularies,
)
from flows.text import clean_spaces, fold, is_missing, split_name

STUDENT_RAW_FIELDS = (
    "full_name", "date_of_birth", "sex", "grade", "school", "commune", "village", "guardian_name", "phone",
    "national_id", "category", "lacks_device", "lacks_internet",
)
_FORMULA_START = ("=", "+", "-", "@")


# --- Rows -----------------------------------------------------------------------------------------------------
def _raw(row: dict[str, Any], fld: str) -> str:
    return cell_text(row.get(fld))


def _formula_like(row: dict[str, Any], fields: Iterable[str]) -> list[str]:
    found = []
    for fld in fields:
        value = row.get(fld)
        if not isinstance(value, str):
            continue
        text = value.strip()
        if len(text) < 2 or not text.startswith(_FORMULA_START):
            continue
        if fld == "phone" and re.fullmatch(r"\+?[\d\s.\-()]+", text):
            continue
        if re.fullmatch(r"[+\-]?\d+([.,]\d+)?", text):
            continue
        found.append(fld)
    return found


def _rows(raw: pd.DataFrame) -> list[dict[str, Any]]:
    if raw is None or raw.empty:
        return []
    return raw.to_dict(orient="records")


def _frame(records: list[dict[str, Any]], columns: list[str], ints: Iterable[str] = (),
           bools: Iterable[str] = ()) -> pd.DataFrame:
    extra = [c for c in (records[0] if records else {}) if c not in columns]
    frame = pd.DataFrame.from_records(records, columns=[*columns, *extra]) if records else \
        pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    for c in ints:
        frame[c] = pd.array([None if is_missing(v) else int(v) for v in frame[c]], dtype="Int64")
    for c in bools:
        frame[c] = frame[c].astype(bool)
    if "source_row" in frame and len(frame):
        frame["source_row"] = frame["source_row"].astype(int)
    return frame


def _provenance(row: dict[str, Any]) -> dict[str, Any]:
    return {c: ("" if is_missing(row.get(c)) else row.get(c)) for c in PROVENANCE}


def normalize_students(raw: pd.DataFrame, cfg: AppConfig) -> pd.DataFrame:
    """Typed student rows: ``STUDENT_COLUMNS`` + ``raw_<field>`` (text as written) + ``note`` +
    ``formula_like`` (fields whose text began with = + - @; kept literally)."""
    place, vocab = places(cfg), vocabularies(cfg)
    district = cfg.district
    out = []
    for row in _rows(raw):
        list_type = cell_text(row.get("list_type"))
        unit_code = cell_text(row.get("unit_code"))
        grade = parse_grade(row.get("grade"))
        dob, year = parse_date(row.get("date_of_birth"))
        full_name = clean_name(row.get("full_name"))
        family, middle, given = split_name(full_name)
        school_text = _raw(row, "school")
        school_code = place.school(school_text, grade) if school_text else ""
        if not school_code and list_type == "school" and unit_code in district.school_by_code:
            school_code = unit_code
        commune_text = _raw(row, "commune")
        village_text = _raw(row, "village")
        if commune_text:
            commune_code = place.commune(commune_text)
        else:
            commune_code = ""
            if "," in village_text:  # an address: "Thôn Bãi Hào, xã Hữu Liên"
                for part in village_text.split(",")[1:]:
                    commune_code = commune_code or place.commune(part)
            # A commune's list is about the children living in that commune, wherever they go to school;
            # a school's list without an address column says nothing better than the school's own commune.
            if not commune_code and list_type == "commune" and unit_code in district.commune_by_code:
                commune_code = unit_code
            if not commune_code and school_code:
                commune_code = district.school_by_code[school_code].commune
        record = {
            **_provenance(row),
            "list_type": list_type,
            "unit_code": unit_code,
            "school_code": school_code,
            "school": district.school_by_code[school_code].name if school_code else "",
            "commune_code": commune_code,
            "commune": district.commune_by_code[commune_code].name if commune_code else "",
            "village": place.village(village_text, commune_code),
            "full_name": full_name,
            "family_name": family,
            "middle_name": middle,
            "given_name": given,
            "date_of_birth": dob,
            "birth_year": year,
            "sex": vocab.sex(row),
            "grade": grade,
            # a list kept by household names the head of household: the children's guardian
            "guardian_name": clean_name(row.get("guardian_name")) or clean_name(row.get("household_head")),
            "phone": parse_phone(row.get("phone")),
            "national_id": parse_national_id(row.get("national_id")),
            "category": vocab.category(row),
        }
        # marks, or text ("cần máy tính bảng", "chưa có mạng") in the need columns
        record["lacks_device"], record["lacks_internet"] = vocab.lacking(row)
        for fld in STUDENT_RAW_FIELDS:
            record[f"raw_{fld}"] = _raw(row, fld)
        record["note"] = _raw(row, "note")
        record["formula_like"] = _formula_like(row, [*STUDENT_RAW_FIELDS, "note"])
        out.append(record)
    columns = [*STUDENT_COLUMNS, *(f"raw_{f}" for f in STUDENT_RAW_FIELDS), "note", "formula_like"]
    return _frame(out, columns, ints=("birth_year", "grade"), bools=("lacks_device", "lacks_internet"))


def _donation_id(parts: Iterable[Any], seen: dict[str, int]) -> str:
    digest = hashlib.sha1("|".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:8].upper()
    n = seen.get(digest, 0)
    seen[digest] = n + 1
    return f"TT-{digest}" + (f"-{n + 1}" if n else "")


def normalize_donations(raw: pd.DataFrame, cfg: AppConfig) -> pd.DataFrame:
    """Donations: ``DONATION_COLUMNS`` (+ ``raw_<field>``). A row without its own id gets a stable one made from
    its content, so inserting a row above it does not change it."""
    place, vocab = places(cfg), vocabularies(cfg)
    out = []
    seen: dict[str, int] = {}
    for row in _rows(raw):
        kind = vocab.named("donation_kind", row.get("kind"))
        amount = parse_amount(row.get("amount_vnd"))
        quantity = parse_quantity(row.get("quantity"))
        if not kind and amount is not None and quantity is None:
            kind = "cash"
        if kind in ("cash", "budget"):
            quantity = None
        status = vocab.named("donation_status", row.get("status")) or "received"
        date, _ = parse_date(row.get("date"))
        donor = clean_spaces(_raw(row, "donor"))
        earmark_text = clean_spaces(_raw(row, "earmark"))
        school_code = place.school_in(earmark_text)
        commune_code = "" if school_code else place.commune(earmark_text) if earmark_text else ""
        donation_id = clean_spaces(_raw(row, "donation_id")) or _donation_id(
            (_raw(row, "source_id"), _raw(row, "source_sheet"), donor, date, kind, quantity, amount), seen)
        out.append({
            **_provenance(row),
            "donation_id": donation_id, "donor": donor, "date": date, "kind": kind, "quantity": quantity,
            "amount_vnd": amount, "status": status, "earmark_commune_code": commune_code,
            "earmark_school_code": school_code, "earmark_text": earmark_text, "note": _raw(row, "note"),
            **{f"raw_{f}": _raw(row, f) for f in ("date", "kind", "quantity", "amount_vnd", "status", "earmark")},
        })
    return _frame(out, DONATION_COLUMNS, ints=("quantity", "amount_vnd"))


def normalize_connectivity(raw: pd.DataFrame, cfg: AppConfig) -> pd.DataFrame:
    """Village coverage: commune from its column, else the sheet's unit; village to its official name."""
    place, vocab = places(cfg), vocabularies(cfg)
    district = cfg.district
    out = []
    for row in _rows(raw):
        commune_text = _raw(row, "commune")
        unit_code = cell_text(row.get("unit_code"))
        commune_code = place.commune(commune_text) if commune_text else ""
        if not commune_code and not commune_text:
            if unit_code in district.commune_by_code:
                commune_code = unit_code
            elif unit_code in district.school_by_code:
                commune_code = district.school_by_code[unit_code].commune
            else:
                commune_code = place.commune(cell_text(row.get("source_sheet")))
        out.append({
            **_provenance(row),
            "commune_code": commune_code,
            "commune": district.commune_by_code[commune_code].name if commune_code else "",
            "village": place.village(_raw(row, "village"), commune_code),
            "has_3g": vocab.has(row.get("has_3g")),
            "has_4g": vocab.has(row.get("has_4g")),
            "has_fibre": vocab.has(row.get("has_fibre")),
            "note": _raw(row, "note"),
            "households": parse_quantity(row.get("households")),
            "raw_commune": commune_text,
            "raw_village": _raw(row, "village"),
        })
    return _frame(out, CONNECTIVITY_COLUMNS, ints=("households",), bools=("has_3g", "has_4g", "has_fibre"))


_ITEMS = ("desktop", "laptop", "tablet", "smartphone", "internet_package")


def normalize_handover(raw: pd.DataFrame, cfg: AppConfig) -> pd.DataFrame:
    """Handover records: names cleaned, dates ISO, the item as desktop/laptop/tablet/smartphone/internet_package."""
    place, vocab = places(cfg), vocabularies(cfg)
    district = cfg.district
    out = []
    for row in _rows(raw):
        school_text = _raw(row, "school")
        school_code = place.school(school_text) if school_text else ""
        dob, _ = parse_date(row.get("date_of_birth"))
        handed, _ = parse_date(row.get("handover_date"))
        serial = row.get("serial")
        out.append({
            **_provenance(row),
            "person_id": clean_spaces(_raw(row, "person_id")),
            "full_name": clean_name(row.get("full_name")),
            "date_of_birth": dob,
            "school": district.school_by_code[school_code].name if school_code else clean_spaces(school_text),
            "item": vocab.named("donation_kind", row.get("item"), among=_ITEMS),
            "serial": clean_spaces(cell_text(serial)),
            "handover_date": handed,
            "received_by": clean_name(row.get("received_by")),
            "donation_id": clean_spaces(_raw(row, "donation_id")),
            "school_code": school_code,
            "note": _raw(row, "note"),
            **{f"raw_{f}": _raw(row, f) for f in ("full_name", "date_of_birth", "school", "item", "handover_date")},
        })
    return _frame(out, HANDOVER_COLUMNS)


# --- officer sheets: device-use follow-up and allocation overrides --------------------------------------------
FOLLOW_UP_COLUMNS = [*PROVENANCE, "person_id", "full_name", "date_of_birth", "school", "school_code", "item",
                     "serial", "state", "checked_on", "checked_by", "note"]
OVERRIDE_SOURCE_COLUMNS = [*PROVENANCE, "person_id", "full_name", "date_of_birth", "school", "school_code", "action",
                           "need", "item", "donation_id", "officer", "reason", "decided_on", "note"]


def _officer_identity(row: dict[str, Any], place: Places, cfg: AppConfig) -> dict[str, Any]:
    """Who an officer's row is about: programme id if written, else name, birth date and school."""
    school_text = _raw(row, "school")
    school_code = place.school(school_text) if school_text else ""
    dob, _ = parse_date(row.get("date_of_birth"))
    return {
        "person_id": clean_spaces(_raw(row, "person_id")).upper(),
        "full_name": clean_name(row.get("full_name")),
        "date_of_birth": dob,
        "school": cfg.district.school_by_code[school_code].name if school_code else clean_spaces(school_text),
        "school_code": school_code,
    }


def normalize_follow_up(raw: pd.DataFrame, cfg: AppConfig) -> pd.DataFrame:
    """Device-use checks: the child, the device (item, serial), its state in_use | broken | lost ("" when the
    sheet's wording is not known), the check date ISO, who checked."""
    place, vocab = places(cfg), vocabularies(cfg)
    out = []
    for row in _rows(raw):
        checked, _ = parse_date(row.get("checked_on"))
        out.append({
            **_provenance(row), **_officer_identity(row, place, cfg),
            "item": vocab.named("donation_kind", row.get("item"), among=_ITEMS),
            "serial": clean_spaces(cell_text(row.get("serial"))),
            "state": vocab.named("device_state", row.get("device_state")),
            "checked_on": checked,
            "checked_by": clean_name(row.get("checked_by")),
            "note": _raw(row, "note"),
            **{f"raw_{f}": _raw(row, f) for f in ("full_name", "device_state", "checked_on")},
        })
    return _frame(out, FOLLOW_UP_COLUMNS)


def normalize_overrides(raw: pd.DataFrame, cfg: AppConfig) -> pd.DataFrame:
    """Officer overrides: action exclude | release | assign ("" when unknown), need device | internet | "" (both),
    item for an assignment, the officer, the reason and the decision date ISO."""
    place, vocab = places(cfg), vocabularies(cfg)
    out = []
    for row in _rows(raw):
        decided, _ = parse_date(row.get("decided_on"))
        item = vocab.named("donation_kind", row.get("item"), among=_ITEMS)
        action = vocab.named("override_action", row.get("action"))
        if action == "assign" and fold(_raw(row, "action")).startswith(("khong ", "ko ", "chua ")):
            action = ""  # "Không giao", "Chưa cấp": not an assignment (read as none, and reported)
        if action == "assign" and not item and not _raw(row, "item"):
            item = vocab.named("donation_kind", row.get("action"), among=_ITEMS)  # "Giao máy tính bảng"
        out.append({
            **_provenance(row), **_officer_identity(row, place, cfg),
            "action": action,
            "need": vocab.named("need", row.get("need")),
            "item": item,
            "donation_id": clean_spaces(_raw(row, "donation_id")),
            "officer": clean_spaces(_raw(row, "officer")),
            "reason": clean_spaces(_raw(row, "reason")),
            "decided_on": decided,
            "note": _raw(row, "note"),
            **{f"raw_{f}": _raw(row, f) for f in ("full_name", "action", "item", "decided_on")},
        })
    return _frame(out, OVERRIDE_SOURCE_COLUMNS)

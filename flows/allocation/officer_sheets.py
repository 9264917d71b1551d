"""Officer sheets (handover, device-use follow-up, allocation overrides): which child each row is about.

Officers list children by the programme id when they have it, otherwise by name, birth date and school, as the
schools wrote them. ``link_rows`` fills ``person_id`` from tonight's persons; a row that names nobody (or more
than one child) becomes a warning issue citing the row, and is left out — the officer fixes it and the next
night picks it up. Follow-up rows may also be linked by the serial of a handed-over device.

The donations ledger's problems the allocator found (``Allocation.donation_problems``) become issues with
``donation_issues``, worded by ``config/rules.yaml``.
"""

from __future__ import annotations

import pandas as pd

from flows.config import Rules
from flows.frames import Issue
from flows.text import as_text, fold
from flows.frames import frame_records

MESSAGES = {
    "person_not_found": "Không tìm thấy học sinh của dòng này trong danh sách tổng hợp (đối chiếu mã học sinh, "
                        "họ tên, ngày sinh, trường): dòng chưa được ghi nhận, hãy kiểm tra lại.",
    "person_ambiguous": "Có nhiều học sinh trùng họ tên và trường với dòng này: hãy ghi mã học sinh hoặc ngày "
                        "sinh để xác định đúng em.",
    "override_invalid": "Không hiểu nội dung điều chỉnh (ghi một trong: Loại khỏi danh sách, Thu hồi, Giao thiết "
                        "bị; giao thiết bị thì ghi rõ loại thiết bị): dòng chưa được áp dụng.",
    "follow_up_state_unknown": "Không hiểu tình trạng thiết bị (ghi một trong: Đang sử dụng, Hỏng, Mất): dòng "
                               "chưa được ghi nhận.",
}
COLUMNS = {"person_not_found": "full_name", "person_ambiguous": "full_name", "override_invalid": "action",
           "follow_up_state_unknown": "device_state"}


def _issue(row: dict, rule: str, headers: dict) -> Issue:
    labels = headers.get((as_text(row.get("source_file")), as_text(row.get("source_sheet"))), {})
    row_no = row.get("source_row")
    return Issue(as_text(row.get("source_file")), as_text(row.get("source_sheet")),
                 None if row_no is None or pd.isna(row_no) else int(row_no), labels.get(COLUMNS[rule], ""),
                 "warning", rule, MESSAGES[rule])


class PersonIndex:
    """What ``link_rows`` looks persons up by: their ids, id -> birth date, and (folded name, school) -> ids. Built
    once a night for all the officer sheets; names are folded only for the schools a row without a known id names
    (folding every child's name cost more than the whole allocation when every row carries its id)."""

    def __init__(self, persons: pd.DataFrame):
        def column(name: str) -> list:
            return persons[name].tolist() if name in persons else [None] * len(persons)

        ids = [as_text(p) for p in column("person_id")]
        self.known = set(persons["person_id"].astype(str)) if len(persons) else set()
        self.birth = dict(zip(ids, (as_text(d) for d in column("date_of_birth"))))
        self._by_school: dict[str, list[tuple[str, object]]] = {}
        for pid, name, school in zip(ids, column("full_name"), column("school_code")):
            self._by_school.setdefault(as_text(school), []).append((pid, name))
        self._folded: dict[str, dict[str, set[str]]] = {}

    def named(self, folded_name: str, school: str) -> set[str]:
        """The ids of the persons of ``school`` whose folded name is ``folded_name``."""
        if school not in self._folded:
            names: dict[str, set[str]] = {}
            for pid, name in self._by_school.get(school, []):
                names.setdefault(fold(as_text(name)), set()).add(pid)
            self._folded[school] = names
        return self._folded[school].get(folded_name, set())


def person_index(persons: pd.DataFrame) -> PersonIndex:
    """``PersonIndex(persons)``: built once a night for all the officer sheets."""
    return PersonIndex(persons)


def link_rows(rows: pd.DataFrame, persons: pd.DataFrame, headers: dict | None = None,
              by_serial: dict[str, str] | None = None, index=None) -> tuple[pd.DataFrame, list[Issue]]:  # noqa: ANN001
    """``rows`` with ``person_id`` filled where it names exactly one of ``persons`` (person_id, full_name,
    date_of_birth, school_code), and the warning issues of the rows left out. A written person_id is kept when
    it is one of tonight's persons; ``by_serial`` (device serial -> person_id) links follow-up rows. ``index``:
    ``person_index(persons)``, when the caller links several sheets to the same persons."""
    headers = headers or {}
    columns = list(dict.fromkeys([*(rows.columns if rows is not None else []), "person_id"]))
    if rows is None or rows.empty:
        return pd.DataFrame(columns=columns), []
    index = person_index(persons) if index is None else index
    known, birth = index.known, index.birth
    out, issues = [], []
    for r in frame_records(rows):
        pid = as_text(r.get("person_id"))
        if pid not in known:
            serial = fold(as_text(r.get("serial")))
            name, school, dob = fold(as_text(r.get("full_name"))), as_text(r.get("school_code")), \
                as_text(r.get("date_of_birth"))
            # same name and school; a birth date written on both sides must agree
            hits = {h for h in index.named(name, school) if not dob or birth[h] in ("", dob)} if name else set()
            if dob and len(hits) > 1:
                hits = {h for h in hits if birth[h] == dob} or hits
            if by_serial and serial and serial in by_serial and (not hits or by_serial[serial] in hits):
                hits = {by_serial[serial]}
            if len(hits) != 1:
                issues.append(_issue(r, "person_ambiguous" if hits else "person_not_found", headers))
                continue
            pid = next(iter(hits))
        out.append({**r, "person_id": pid})
    return pd.DataFrame(out, columns=columns), issues


def usable_overrides(rows: pd.DataFrame, headers: dict | None = None) -> tuple[pd.DataFrame, list[Issue]]:
    """Override rows whose action is understood (an assignment names its item); the others become issues."""
    if rows is None or rows.empty:
        return rows, []
    ok = [bool(as_text(a)) and (as_text(a) != "assign" or bool(as_text(i)))
          for a, i in zip(rows["action"], rows["item"])]
    bad = rows[[not x for x in ok]]
    return rows[ok], [_issue(r, "override_invalid", headers or {}) for r in frame_records(bad)]


def usable_follow_ups(rows: pd.DataFrame, headers: dict | None = None) -> tuple[pd.DataFrame, list[Issue]]:
    """Follow-up rows whose device state is understood; the others become issues."""
    if rows is None or rows.empty:
        return rows, []
    ok = [bool(as_text(s)) for s in rows["state"]]
    bad = rows[[not x for x in ok]]
    return rows[ok], [_issue(r, "follow_up_state_unknown", headers or {}) for r in frame_records(bad)]


def donation_issues(problems: pd.DataFrame | None, rules: Rules, headers: dict | None = None) -> list[Issue]:
    """One issue per donation problem (``flows.allocation.units.PROBLEM_COLUMNS``), citing the donation row; a
    repeated donation id names the row whose units count too."""
    if problems is None or problems.empty:
        return []
    headers = headers or {}
    issues = []
    for p in frame_records(problems):
        rule = p["rule"]
        file, sheet, row = as_text(p["source_file"]), as_text(p["source_sheet"]), _row(p["source_row"])
        params = {k: as_text(p[k]) for k in ("value", "handed_over", "units")}
        message = rules.message(rule, **params, place=_place(file, sheet, row),
                                other=_place(as_text(p["other_file"]), as_text(p["other_sheet"]), _row(p["other_row"])))
        column = headers.get((file, sheet), {}).get(rules.rules[rule].column, "")
        issues.append(Issue(file, sheet, row, column, rules.severity(rule), rule, message))
    return issues


def _row(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _place(file: str, sheet: str, row: int | None) -> str:
    """Where a row is, as an officer finds it: "tệp tai-tro/so.xlsx, trang Sổ tài trợ, dòng 12"."""
    parts = [f"tệp {file}" if file else "", f"trang {sheet}" if sheet else "", f"dòng {row}" if row else ""]
    return ", ".join(x for x in parts if x)

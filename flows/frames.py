"""The data that passes between stages: raw grids, and the columns of each stage's DataFrames.

sources -> SourceData (grids) -> layout -> raw tables (str cells + provenance) -> normalize -> typed students
-> validate (issues, row status) -> dedupe (person_id) -> allocate (statuses, allocations) -> publish.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

SourceStatus = Literal["ok", "stale", "failed"]


@dataclass
class SheetGrid:
    """One sheet as the school sees it. ``rows[0]`` is spreadsheet row 1; empty cells are ``None``.

    Cell values are str, int, float, bool, datetime.date/datetime or None. ``merged`` ranges are 0-based and
    inclusive: (first_row, first_col, last_row, last_col). Hidden rows still occupy their row number.
    """

    name: str
    rows: list[list[Any]]
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)
    hidden_rows: frozenset[int] = frozenset()
    hidden_cols: frozenset[int] = frozenset()
    hidden: bool = False


@dataclass
class SourceData:
    """One source file or spreadsheet as fetched tonight."""

    source_id: str  # stable id: path relative to the sources folder, or the spreadsheet key
    source_file: str  # what issues cite: relative path, or the spreadsheet title
    kind: str | None = None  # students | donations | connectivity | handover; None = infer from headers
    unit_type: str | None = None  # school | commune, for student lists, when the registry says so
    unit: str | None = None  # school or commune code, when the registry says so
    modified: dt.datetime | None = None
    sheets: list[SheetGrid] = field(default_factory=list)
    status: SourceStatus = "ok"
    message: str = ""


@dataclass(frozen=True)
class Issue:
    source_file: str
    source_sheet: str
    source_row: int | None  # None for sheet- or file-level issues
    column: str  # the header as the school wrote it ("" when not about one column)
    severity: Literal["error", "warning"]
    rule: str
    message: str  # Vietnamese, actionable


ISSUE_COLUMNS = ["source_file", "source_sheet", "source_row", "column", "severity", "rule", "message"]

PROVENANCE = ["source_id", "source_file", "source_sheet", "source_row"]

# Student rows after normalize (typed) — the columns the later stages rely on.
# Raw text of each mapped field is kept as ``raw_<field>`` for messages; ``columns_<field>`` is not stored:
# header labels as written live in the layout result's ``headers`` mapping.
STUDENT_COLUMNS = [
    *PROVENANCE,
    "list_type",  # school | commune: who reported the row
    "unit_code",  # school code or commune code of the reporting unit ("" if unknown)
    "school_code", "school",  # official code/name ("" if unknown)
    "commune_code", "commune",
    "village",
    "full_name", "family_name", "middle_name", "given_name",
    "date_of_birth",  # ISO yyyy-mm-dd or ""
    "birth_year",  # Int64, may be NA
    "sex",  # M | F | ""
    "grade",  # Int64 (any integer the sheet said; range checked by validate), NA if unreadable
    "guardian_name", "phone", "national_id",
    "category",  # poor | near_poor | covid_orphan | none
    "lacks_device", "lacks_internet",  # bool
]

# validate adds to the students frame: row_status ("ok" | "rejected" | "duplicate"), duplicate_of (source_row
# of the row repeated in the same sheet), exclusion ("" or grade_out_of_range, needs_nothing, outside_district)
# and grade_by_birth_year (a row without a class: the class its birth year gives); dedupe then adds fingerprint
# and person_id, and its persons carry grade_source (flows.rules.grades) and may be excluded grade_unknown.

STUDENT_EXPORT_COLUMNS = [
    "source_file", "source_sheet", "source_row", "school", "commune", "village", "full_name", "date_of_birth",
    "sex", "grade", "guardian_name", "phone", "category", "lacks_device", "lacks_internet", "person_id",
    "status", "reason",
]

# The change log (ledger table change_log, exports/changes.csv): one row per allocation that changed tonight.
# ``other_person_id`` names the other child of a merge (the survivor on the released row, the merged-away id on
# the row that moved), so the log alone shows which two ids were found to be one child.
CHANGE_COLUMNS = ["person_id", "need", "before", "after", "rule", "other_person_id"]
ALLOCATION_EXPORT_COLUMNS = [
    "person_id", "need", "full_name", "commune", "school", "grade", "category", "priority_rank", "item",
    "donation_id", "status", "reason",
]

DONATION_COLUMNS = [
    *PROVENANCE,
    "donation_id", "donor", "date", "kind",  # kind: cash|budget|desktop|laptop|tablet|smartphone|internet_package
    "quantity",  # Int64 units (devices, packages); NA for cash
    "amount_vnd",  # Int64, NA if not given
    "status",  # received | pledged
    "earmark_commune_code", "earmark_school_code", "earmark_text", "note",
]

CONNECTIVITY_COLUMNS = [*PROVENANCE, "commune_code", "commune", "village", "has_3g", "has_4g", "has_fibre", "note"]

HANDOVER_COLUMNS = [
    *PROVENANCE, "person_id", "full_name", "date_of_birth", "school", "item", "serial", "handover_date",
    "received_by", "donation_id",
]


@dataclass
class SourceReport:
    """A manifest entry: ``{source, id, kind, status, message, rows}``."""

    source: str  # source_file
    id: str  # source_id
    kind: str
    status: SourceStatus
    message: str = ""
    rows: int = 0


@dataclass
class RunResult:
    """Everything one night produced; publish turns it into workbooks, CSV exports and the manifest.

    DataFrames (pandas) and their columns:
    - students: STUDENT_EXPORT_COLUMNS + extras: list_type, school_code, commune_code, given_name, family_name,
      middle_name, birth_year, national_id, tier (1 = highest), priority_rank (Int64, NA if not ranked).
    - issues: ISSUE_COLUMNS.
    - allocations: ALLOCATION_EXPORT_COLUMNS + extras: commune_code, school_code, village, date_of_birth.
    - donations: DONATION_COLUMNS + extras: units (Int64 units this row provides after cash conversion).
    - donation_summary: one row per item: item, received_units, from_cash_units, pledged_units, allocated,
      handed_over, remaining.  Plus ``cash`` dict below for the cash balance.
    - connectivity: CONNECTIVITY_COLUMNS.
    - review_pairs: pair_key (the two records' fingerprints, what an officer's decision is keyed on),
      person_id_l, person_id_r, match_probability, reasons + the two records' fields with _l/_r suffixes
      (full_name, date_of_birth, sex, grade, school, commune, village, guardian_name, source_file, source_sheet,
      source_row, fingerprint).
    - changes: person_id, need, before, after, rule (the run's change log against the previous night).
    """

    run_id: str
    as_of: dt.date
    started_at: dt.datetime
    finished_at: dt.datetime | None
    sources: list[SourceReport]
    students: Any
    issues: Any
    allocations: Any
    donations: Any
    donation_summary: Any
    connectivity: Any
    review_pairs: Any
    changes: Any
    cash: dict[str, int] = field(default_factory=dict)  # received_vnd, pledged_vnd, converted_vnd, carried_vnd
    override_log: Any = None  # officer overrides and their result (flows.allocation.overrides.OVERRIDE_LOG_COLUMNS)
    follow_ups: Any = None  # latest device-use check per person and need (flows.adapters.ledger.FOLLOW_UP_COLUMNS)
    handovers: Any = None  # handovers on record: person_id, need, item, serial, date, received_by, donation_id
    counts: dict[str, int] = field(default_factory=dict)
    # The students' rows as the schools sent them (flows.publishing.rows_as_sent.rows_as_sent) and each sheet's header labels
    # (field -> header as written), for the feedback workbooks. None: not available (no feedback sheet).
    rows_as_sent: Any = None
    headers: dict = field(default_factory=dict)
    # The students suite's validation result for the Data Docs (flows.rules.datadocs.summarize: counts, no values).
    validation: dict = field(default_factory=dict)


def frame_records(frame) -> list[dict[str, Any]]:  # noqa: ANN001 - a pandas DataFrame (pandas is not imported here)
    """``frame.to_dict("records")``, the same values and types, about four times as fast: column by column
    (``Series.tolist`` already gives Python values for numpy columns) instead of a boxing call per value. Only an
    object or extension column holding a numpy scalar or ``pd.NA`` is boxed value by value, as pandas does (``NA``
    becomes None). A frame with repeated or no column names is left to pandas."""
    import numpy as np
    import pandas as pd
    from pandas.api.extensions import ExtensionDtype
    from pandas.core.dtypes.cast import maybe_box_native

    columns = list(frame.columns)
    if not columns or len(set(columns)) != len(columns):
        return frame.to_dict("records")
    lists = []
    for name, dtype in zip(columns, frame.dtypes):
        values = frame[name].tolist()
        if (dtype == object or isinstance(dtype, ExtensionDtype)) and any(
                v is pd.NA or isinstance(v, np.generic) for v in values):
            values = [maybe_box_native(v) for v in values]
        lists.append(values)
    return [dict(zip(columns, row)) for row in zip(*lists)]

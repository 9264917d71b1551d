"""Stage 4 — validate: run the Great Expectations suites on normalized rows and turn failures into issues.

Each issue cites file, sheet, the row number the school sees, the column as the school wrote it, the rule, and
a Vietnamese message from ``config/rules.yaml``. Error issues make a row ``rejected``; repeats of a row in the
same sheet are ``duplicate``; usable rows of children outside the programme get an ``exclusion`` reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import unicodedata
from functools import lru_cache

import numpy as np
import pandas as pd

from flows.config import AppConfig
from validations import quiet_gx_loggers
from validations.lean import lean
from flows.frames import Issue
from flows.rules.grades import birth_year_grades
from flows.text import as_text, fold, has_marks

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
log = logging.getLogger(__name__)
_GX_LOCK = threading.Lock()

HeaderMap = dict[tuple[str, str], dict[str, str]]
DUPLICATE_KEY = ["date_of_birth", "birth_year", "sex", "grade", "school_code", "commune_code", "village",
                 "guardian_name", "phone", "national_id", "category", "lacks_device", "lacks_internet"]


@lru_cache(maxsize=1)
def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    quiet_gx_loggers()
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = ctx.data_sources.add_pandas("songmaytinh")
    return ctx, source


# Every failing row's key (in one list: exclude_unexpected_values), and no cell value
RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": ["row_key"],
    "return_unexpected_index_query": False,
    "exclude_unexpected_values": True,
}


def run_suite(frame: pd.DataFrame, suite, asset_name: str):
    """Validate ``frame`` (must have an integer ``row_key`` column) and return GX's validation result."""
    from great_expectations.validator.v1_validator import Validator

    with _GX_LOCK:
        ctx, source = _context()
        try:
            asset = source.get_asset(asset_name)
        except LookupError:
            asset = source.add_dataframe_asset(asset_name)
        try:
            batch_def = asset.get_batch_definition("whole")
        except (KeyError, LookupError):
            batch_def = asset.add_batch_definition_whole_dataframe("whole")
        # What Batch.validate runs, without first loading the batch a second time (and hashing the frame twice):
        # GX's validator of a batch definition and its parameters, as ValidationDefinition.run uses it
        validator = Validator(batch_definition=batch_def, batch_parameters={"dataframe": _engine_frame(frame)},
                              result_format=RESULT_FORMAT)
        # GX's own validation, without recomputing each configuration nor the frame's fingerprint, which the
        # night drops (validations.lean)
        with lean(fingerprint=False):
            return validator.validate_expectation_suite(suite)


def _engine_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as the rule engine reads it fastest, with the same values. Each text column (every value a
    string or missing) becomes a pandas categorical: GX filters the whole frame once per expectation and metric,
    and a categorical column is filtered by its integer codes instead of by copying every object; its categories
    stay in the order met (sorting them would only cost time). Null checks, set membership, lengths and regular
    expressions read a categorical's values as they read the texts. A nullable integer or float column (``Int64``)
    becomes float64 with NaN for missing when every value is exact as a float: GX compares a numpy number column
    in one vectorized step, but any other dtype one value at a time in Python (``column_values.between``)."""
    out = {}
    for name, col in frame.items():
        if col.dtype == object and pd.api.types.infer_dtype(col, skipna=True) in ("string", "empty"):
            codes, uniques = pd.factorize(col, sort=False)
            col = pd.Series(pd.Categorical.from_codes(codes, categories=uniques), index=col.index, name=name)
        elif _exact_as_float(col):
            col = pd.Series(col.to_numpy(dtype="float64", na_value=np.nan), index=col.index, name=name)
        out[name] = col
    return pd.DataFrame(out, index=frame.index)


def _exact_as_float(col: pd.Series) -> bool:
    """A pandas nullable integer or float column whose every value a float64 holds exactly."""
    if not isinstance(col.dtype, pd.api.extensions.ExtensionDtype) or pd.api.types.is_bool_dtype(col.dtype):
        return False
    if pd.api.types.is_float_dtype(col.dtype):
        return True
    if not pd.api.types.is_integer_dtype(col.dtype):
        return False
    largest = col.abs().max()
    return pd.isna(largest) or int(largest) <= 2**53


def failing_rows(result) -> list[tuple[dict, list[int]]]:
    """(expectation meta, failing row_keys) for each failed expectation of a validation result."""
    out = []
    for r in result.results:
        if r.success:
            continue
        if r.exception_info and r.exception_info.get("raised_exception"):
            raise RuntimeError(f"expectation {r.expectation_config.type} failed to run: "
                               f"{r.exception_info.get('exception_message')}")
        keys: list[int] = []
        for item in r.result.get("unexpected_index_list") or []:
            # with exclude_unexpected_values GX gives every failing row's key in one list (and no cell values)
            key = item["row_key"]
            keys.extend(int(k) for k in (key if isinstance(key, list) else [key]))
        out.append((dict(r.expectation_config.meta or {}), keys))
    return out


# a sheet without the field's own column says it in another one: "Có máy tính?" or "Nhu cầu" for the device need
_WRITTEN_AS = {"lacks_device": ("has_device", "need"), "lacks_internet": ("has_internet", "need")}


def header_label(headers: HeaderMap, cfg: AppConfig, source_file: str, sheet: str, field: str) -> str:
    if not field:
        return ""
    labels = headers.get((source_file, sheet), {})
    for fld in (field, *_WRITTEN_AS.get(field, ())):
        if labels.get(fld):
            return labels[fld]
    aliases = cfg.headers.students.get(field, [field])
    return aliases[0].lstrip("~")


def validate_students(
    students: pd.DataFrame, headers: HeaderMap, cfg: AppConfig, as_of: dt.date
) -> tuple[pd.DataFrame, list[Issue]]:
    """Return the rows with ``row_status``, ``duplicate_of``, ``exclusion`` and ``grade_by_birth_year`` (the class
    the birth year gives a row that wrote none, ``flows.rules.grades``) added, and the issues found."""
    df, issues, _ = validate_students_for_docs(students, headers, cfg, as_of)
    return df, issues


def validate_students_for_docs(
    students: pd.DataFrame, headers: HeaderMap, cfg: AppConfig, as_of: dt.date
) -> tuple[pd.DataFrame, list[Issue], dict]:
    """``validate_students`` plus the suite's result for the Data Docs: a JSON-able dict of counts per
    expectation with no cell values (``flows.rules.datadocs.summarize``); {} when there were no rows."""
    from flows.rules import engine
    from validations.students import check_frame, expectation_specs

    df = students.reset_index(drop=True).copy()
    issues: list[Issue] = []
    if df.empty:
        for col, default in (("row_status", "ok"), ("duplicate_of", pd.NA), ("exclusion", "")):
            df[col] = pd.Series(dtype=object if col != "duplicate_of" else "Int64")
        df["grade_by_birth_year"] = pd.Series(dtype="Int64")
        return df, issues, {}
    frame = check_frame(df, cfg, as_of)
    failures, summary = engine.check(frame, expectation_specs(cfg))  # GX, in its own process when it runs
    rules = cfg.rules
    seen: set[tuple[int, str]] = set()
    errors = pd.Series(False, index=df.index)
    flagged: dict[str, set[int]] = {}
    for meta, keys in failures:
        rule, field = meta.get("rule", ""), meta.get("field", "")
        for k in keys:
            if (k, rule) in seen:
                continue
            seen.add((k, rule))
            row = df.iloc[k]
            flagged.setdefault(rule, set()).add(k)
            this_field = field or (_first(row.get("formula_like")) if rule == "formula_like_text" else "")
            value = _raw_value(row, this_field)
            params = {"value": value, "grade": as_text(row.get("grade")), "commune": row.get("commune") or "",
                      "length": len(value), "column": ""}
            if rule == "age_grade_consistent":
                params["value"] = as_text(row.get("birth_year"))
            if rule == "formula_like_text":
                params["value"] = value[:1]
            severity = rules.severity(rule)
            issues.append(Issue(
                source_file=row["source_file"], source_sheet=row["source_sheet"], source_row=int(row["source_row"]),
                column=header_label(headers, cfg, row["source_file"], row["source_sheet"], this_field),
                severity=severity, rule=rule, message=rules.message(rule, **params),
            ))
            if severity == "error":
                errors.iloc[k] = True
    df["row_status"] = ["rejected" if e else "ok" for e in errors]
    df["duplicate_of"] = pd.array([pd.NA] * len(df), dtype="Int64")
    issues.extend(_mark_duplicates(df, headers, cfg))
    df["exclusion"] = _exclusions(df, flagged)
    df["grade_by_birth_year"] = birth_year_grades(df, as_of)
    return df, issues, summary


def _mark_duplicates(df: pd.DataFrame, headers: HeaderMap, cfg: AppConfig) -> list[Issue]:
    """A usable row repeating an earlier usable row of the same sheet: every field the same (name compared
    folded), so that two children who share a name and class but not a parent or birthday stay apart. Two names
    both written with marks and marked otherwise are two names ("Thủy" / "Thúy": twins share every other field);
    a name without marks repeats any marked spelling of its letters."""
    issues = []
    usable = df["row_status"] == "ok"
    key = df["source_id"].astype(str) + "\x1f" + df["source_sheet"].astype(str) + "\x1f" + df["full_name"].map(fold)
    for col in DUPLICATE_KEY:
        if col in df:
            key = key + "\x1f" + df[col].astype(str)
    earlier: dict[str, list[tuple[str | None, int]]] = {}  # key -> (the name as marked, its first row)
    keys, rows, names = key.to_numpy(), df["source_row"].to_numpy(), df["full_name"].to_numpy()
    for i in df.index[usable]:  # a RangeIndex: labels are positions
        k, marked = keys[i], _as_marked(names[i])
        first = next((row for m, row in earlier.get(k, ()) if m is None or marked is None or m == marked), None)
        if first is not None:
            df.at[i, "row_status"] = "duplicate"
            df.at[i, "duplicate_of"] = first
            issues.append(Issue(
                source_file=df.at[i, "source_file"], source_sheet=df.at[i, "source_sheet"],
                source_row=int(df.at[i, "source_row"]),
                column=header_label(headers, cfg, df.at[i, "source_file"], df.at[i, "source_sheet"], "full_name"),
                severity=cfg.rules.severity("duplicate_in_sheet"), rule="duplicate_in_sheet",
                message=cfg.rules.message("duplicate_in_sheet", other_row=first),
            ))
        else:
            earlier.setdefault(k, []).append((marked, int(rows[i])))
    return issues


def _as_marked(name: object) -> str | None:
    """A name as written with its marks (NFC, lower case, single spaces), or None when it has none to tell."""
    text = " ".join(unicodedata.normalize("NFC", as_text(name)).lower().split())
    return text if has_marks(text) else None


def _exclusions(df: pd.DataFrame, flagged: dict[str, set[int]]) -> list[str]:
    out = []
    for k in range(len(df)):
        if k in flagged.get("grade_in_range", set()):
            out.append("grade_out_of_range")
        elif k in flagged.get("commune_in_district", set()) | flagged.get("commune_missing", set()):
            out.append("outside_district")
        elif k in flagged.get("need_marked", set()):
            out.append("needs_nothing")
        else:
            out.append("")
    return out


def _first(value) -> str:
    if isinstance(value, (list, tuple)) and value:
        return str(value[0])
    return ""


def _raw_value(row: pd.Series, field: str) -> str:
    if not field:
        return ""
    return as_text(row.get(f"raw_{field}")) or as_text(row.get(field))

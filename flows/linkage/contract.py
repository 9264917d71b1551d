"""The stateless ``songmaytinh dedupe IN.csv --output OUT.csv`` contract (see DESIGN.md): a CSV of records in,
every record id with its cluster out. No ledger, no officer decisions: the same linkage as a night's.
"""

from __future__ import annotations

import pandas as pd

from flows.intake.values import parse_date, parse_grade, parse_phone
from flows.linkage.clustering import link
from flows.linkage.features import fold
from flows.text import as_text, title_name


def identity_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """The contract CSV's columns as the fields ``flows.linkage.clustering.link`` compares (text places compared folded)."""
    def col(name: str) -> list[str]:
        return [as_text(v) for v in raw[name]] if name in raw else [""] * len(raw)

    def each(fn, values: list[str]) -> list:  # values repeat: parse each distinct one once
        memo: dict[str, object] = {}
        return [memo[v] if v in memo else memo.setdefault(v, fn(v)) for v in values]

    dates = each(lambda v: parse_date(v) if v else ("", None), col("date_of_birth"))
    sexes = {"nam": "M", "m": "M", "male": "M", "trai": "M", "nu": "F", "f": "F", "female": "F", "gai": "F"}
    return pd.DataFrame({
        "full_name": each(title_name, col("full_name")),
        "date_of_birth": [d for d, _ in dates],
        "birth_year": pd.array([y for _, y in dates], dtype="Int64"),
        "sex": [sexes.get(fold(v), "") for v in col("sex")],
        "commune_code": [fold(v) for v in col("commune")],
        "village": [fold(v) for v in col("village")],
        "school_code": [fold(v) for v in col("school")],
        "grade": each(lambda v: as_text(parse_grade(v)) if v else "", col("grade")),
        "guardian_name": col("guardian_name"),
        "phone": each(parse_phone, col("phone")),  # "+84 912 345 678" is "0912345678", as at night
        "national_id": col("national_id"),
        "address": [fold(v) for v in col("address")],
        "source_list": col("source_list"),  # optional: the list (file, sheet) a record was read from
    })


def read_contract_csv(in_path) -> pd.DataFrame:
    """The input CSV as text columns, read as the night reads a school's CSV: UTF-8 (with or without BOM), UTF-16
    or cp1258, comma, semicolon (Excel in a locale whose decimal mark is a comma) or tab; header names trimmed and
    lower-cased ("Record_ID " is ``record_id``)."""
    import io
    from pathlib import Path

    from flows.adapters.files import _decode, _delimiter

    text = _decode(Path(in_path).read_bytes()).lstrip("\ufeff")
    raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=_delimiter(text[:1 << 16]))
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    return raw


def dedupe_csv(in_path, out_path, progress=None) -> dict[str, int]:
    """Stateless contract of ``songmaytinh dedupe IN.csv --output OUT.csv`` (see DESIGN.md): every input id once,
    ``cluster_id`` = the record_id of the cluster's first record; extra columns ``match_probability`` (the
    strongest link inside the cluster, empty for a record alone) are not part of the contract.
    ``progress(step, total)`` is called as the linkage stages complete."""
    raw = read_contract_csv(in_path)
    for required in ("record_id", "full_name"):
        if required not in raw:
            raise ValueError(f"{in_path}: the column {required!r} is required")
    if raw["record_id"].duplicated().any():
        dup = raw.loc[raw["record_id"].duplicated(), "record_id"].iloc[0]
        raise ValueError(f"{in_path}: record_id {dup!r} appears more than once")
    result = link(identity_frame(raw), progress=progress)
    out = pd.DataFrame({"record_id": raw["record_id"]})
    out["cluster_id"] = [raw["record_id"].iat[label] for label in result.labels]
    out.to_csv(out_path, index=False)
    return {"records": len(out), "clusters": int(out["cluster_id"].nunique()), "review_pairs": len(result.review)}

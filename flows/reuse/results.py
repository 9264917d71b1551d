"""Reuse in the night's results: the students export and the rows as the schools sent them, kept under what they
are made from.

Both are pure functions of frames the stages hand over: ``flows.night_results.student_export`` of the linked
rows, the persons, the allocator's person statuses, the night's issues and the config;
``flows.publishing.rows_as_sent.rows_as_sent`` of the layout's raw student table and the header labels each sheet
had. On a quiet night every one of those comes unchanged out of the store, and building the two frames again
(a Python pass over every row and cell) costs more than fingerprinting what they are made from.
"""

from __future__ import annotations

import pandas as pd

from flows.reuse.fingerprints import (
    code_version, config_fingerprint, digest, exact_bytes, frame_fingerprint, headers_fingerprint,
)
from flows.reuse.store import Reuse

AREA = "results"


def _issues_fingerprint(issues) -> str:  # noqa: ANN001 - list[Issue]
    """Every field of every issue, in order."""
    return digest(exact_bytes([tuple(i.__dict__.items()) for i in issues]))


def reusing_student_export(students: pd.DataFrame, persons: pd.DataFrame, person_status: pd.DataFrame, issues,
                           cfg, reuse: Reuse) -> pd.DataFrame:  # noqa: ANN001
    """``student_export`` of these inputs, taken from the store when a night built it from the same ones."""
    from flows.night_results import student_export

    key = digest("student-export", *(frame_fingerprint(f) for f in (students, persons, person_status)),
                 _issues_fingerprint(issues), config_fingerprint(cfg), code_version())
    kept = reuse.take(AREA, key, "students")
    if kept is not None:
        return kept
    out = student_export(students, persons, person_status, issues, cfg)
    reuse.keep(AREA, key, out, "students")
    return out


def reusing_rows_as_sent(raw_students: pd.DataFrame | None, headers: dict, reuse: Reuse) -> pd.DataFrame:
    """``rows_as_sent`` of the raw student table, taken from the store when a night built it from the same one."""
    from flows.publishing.rows_as_sent import rows_as_sent

    key = digest("rows-as-sent", frame_fingerprint(raw_students), headers_fingerprint(headers), code_version())
    kept = reuse.take(AREA, key, "rows_as_sent")
    if kept is not None:
        return kept
    out = rows_as_sent(raw_students, headers)
    reuse.keep(AREA, key, out, "rows_as_sent")
    return out

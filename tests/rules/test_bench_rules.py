"""The bench's pandas version of the students suite fails exactly the rows Great Expectations fails."""

from __future__ import annotations

import datetime as dt

from flows.bench_rules import compare
from flows.stages import extract_tables, fetch_sources, normalize_tables
from tests.nights import AS_OF, tiny_district


def test_pandas_rules_fail_the_rows_gx_fails(tmp_path, cfg):
    src = tiny_district(tmp_path / "src", schools=6, communes=3)
    students = normalize_tables(extract_tables(fetch_sources(src, cfg), cfg), cfg).students
    outcome = compare(students, cfg, dt.date.fromisoformat(AS_OF))
    assert outcome["rows"] == len(students) > 100
    assert outcome["failures"] > 0  # a comparison of nothing would prove nothing
    assert outcome["same"] is True

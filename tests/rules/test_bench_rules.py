"""The bench's pandas version of the students suite fails exactly the rows Great Expectations fails."""

from __future__ import annotations

import datetime as dt

from flows.bench_rules import compare
from flows.stages import extract_tables, fetch_sources, normalize_tables
from samples.generate import generate
from tests.nights import AS_OF


def test_pandas_rules_fail_the_rows_gx_fails(tmp_path, cfg):
    src = tmp_path / "src"
    generate(src, seed=2021, scale=0.1)  # with the sample's bad rows
    students = normalize_tables(extract_tables(fetch_sources(src, cfg), cfg), cfg).students
    outcome = compare(students, cfg, dt.date.fromisoformat(AS_OF))
    assert outcome["rows"] == len(students) > 500
    assert outcome["failures"] > 0  # a comparison of nothing would prove nothing
    assert outcome["same"] is True

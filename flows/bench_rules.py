"""``songmaytinh bench district``'s rule-engine comparison: the students suite run by Great Expectations (the
night's rule engine) against the same expectations evaluated directly in pandas, on the same frame.

``pandas_failures`` reads the suite itself (each expectation's type and arguments), so the two cannot drift
apart; the bench prints both times and whether they found the same failing rows.
"""

from __future__ import annotations

import re
import time

import pandas as pd


def _present(col: pd.Series) -> pd.Series:
    return col.notna() & col.map(lambda v: v is not None)


def _failing(frame: pd.DataFrame, kind: str, kw: dict) -> pd.Series:
    col = frame[kw["column"]]
    present = _present(col)
    if kind == "expect_column_values_to_not_be_null":
        return ~present
    if kind == "expect_column_values_to_be_null":
        return present
    if kind == "expect_column_values_to_be_in_set":
        allowed = set(kw["value_set"])
        return present & ~col.map(lambda v: v in allowed)
    if kind == "expect_column_values_to_be_between":
        return present & _outside(pd.to_numeric(col, errors="coerce"), kw)
    if kind == "expect_column_value_lengths_to_be_between":
        return present & _outside(col.map(lambda v: len(v) if isinstance(v, str) else 0), kw)
    if kind in ("expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex"):
        pattern = re.compile(kw["regex"])
        found = col.map(lambda v: isinstance(v, str) and pattern.search(v) is not None)
        return present & (found if "_not_match" in kind else ~found)
    raise ValueError(f"no pandas version of {kind}")


def pandas_failures(frame: pd.DataFrame, suite) -> list[tuple[str, list[int]]]:  # noqa: ANN001 - GX suite
    """(rule, failing row_keys) per expectation of ``suite``, evaluated with pandas."""
    out = []
    for exp in suite.expectations:
        config = exp.configuration
        kw = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
        bad = _failing(frame, config.type, kw)
        out.append((config.meta.get("rule", ""), sorted(int(k) for k in frame.loc[bad, "row_key"])))
    return out


def compare(students: pd.DataFrame, cfg, as_of) -> dict:  # noqa: ANN001
    """CPU seconds (this process: both run here, and a busy machine inflates CPU time far less than the wall
    clock) for GX and for pandas on the same check frame, each the best of three runs, and whether they fail the
    same rows; ``gx_fixed``: GX on 20 rows, its cost whatever the rows."""
    from flows.rules.validate import failing_rows, run_suite
    from validations.students import build_suite, check_frame

    frame = check_frame(students.reset_index(drop=True), cfg, as_of)
    suite = build_suite(cfg)
    run_suite(frame.head(20), suite, "bench")  # the engine warmed up, as on a night after the first rows

    def best(fn, *args):  # noqa: ANN001, ANN202
        times, value = [], None
        for _ in range(3):
            t0 = time.process_time()
            value = fn(*args)
            times.append(time.process_time() - t0)
        return min(times), value

    gx_seconds, result = best(run_suite, frame, suite, "bench")
    pandas_seconds, by_pandas = best(pandas_failures, frame, suite)
    fixed_seconds, _ = best(run_suite, frame.head(20), suite, "bench")
    by_gx = {(meta.get("rule", ""), tuple(sorted(keys))) for meta, keys in failing_rows(result)}
    same = by_gx == {(rule, tuple(keys)) for rule, keys in by_pandas if keys}
    return {"gx": gx_seconds, "gx_fixed": fixed_seconds, "pandas": pandas_seconds, "same": same, "rows": len(frame),
            "failures": sum(len(keys) for _, keys in by_gx)}


def _outside(values: pd.Series, kw: dict) -> pd.Series:
    """Values below ``min_value`` or above ``max_value`` (a bound left out is no bound), as GX's "between"."""
    bad = pd.Series(False, index=values.index)
    if kw.get("min_value") is not None:
        bad |= values < kw["min_value"]
    if kw.get("max_value") is not None:
        bad |= values > kw["max_value"]
    return bad

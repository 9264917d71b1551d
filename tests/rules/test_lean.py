"""Great Expectations run lean (validations.lean) gives the very result it gives otherwise; the rule engine's
frame (flows.rules.validate._engine_frame) reads as the check frame; its result holds no cell value."""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import json

import numpy as np
import pandas as pd
import pytest

from flows.rules import validate
from validations.lean import lean
from validations.students import build_suite, check_frame
from tests.helpers import students

AS_OF = dt.date(2022, 3, 1)


def _frame(cfg):
    rows = students(
        {"full_name": ""},
        {"full_name": "Trần Văn Cường", "date_of_birth": "", "birth_year": None, "raw_date_of_birth": "32/13/2012"},
        {"full_name": "Phạm Thị Dung", "grade": 11},
        {"full_name": "Hoàng Văn Em", "lacks_device": False, "lacks_internet": False},
        {"full_name": "Lê Thị Hoa", "phone": "0912399", "raw_phone": "0912399"},
        {"full_name": "Lý Thị Nga", "date_of_birth": "2005-01-01", "birth_year": 2005},
        {"full_name": "Đỗ Văn Hải", "commune_code": "", "commune": "", "raw_commune": "Xã Tân Lập"},
        {"full_name": "Nguyễn Văn An"},
    )
    return check_frame(rows, cfg, AS_OF)


def _comparable(result) -> str:
    data = result.to_json_dict()
    data["meta"].pop("validation_time", None)
    data["meta"].pop("run_id", None)
    data["meta"].pop("batch_markers", None)
    return json.dumps(data, sort_keys=True, default=str)


def test_a_lean_validation_gives_gx_s_own_result(cfg, monkeypatch):
    frame, suite = _frame(cfg), build_suite(cfg)
    lean_result = validate.run_suite(frame, suite, "lean-test")
    monkeypatch.setattr(validate, "lean", lambda **_: contextlib.nullcontext())
    plain_result = validate.run_suite(frame, suite, "lean-test")
    assert _comparable(lean_result) == _comparable(plain_result)
    failed = {meta["rule"] for meta, keys in validate.failing_rows(lean_result) if keys}
    assert {"name_present", "date_valid", "grade_in_range", "need_marked", "phone_valid",
            "age_grade_consistent", "commune_in_district"} <= failed  # a comparison of failures, not of nothing


def test_the_night_s_validation_hashes_no_frame(cfg):
    from great_expectations.execution_engine import pandas_execution_engine

    threshold = pandas_execution_engine.HASH_THRESHOLD
    result = validate.run_suite(_frame(cfg), build_suite(cfg), "lean-test")
    assert "pandas_data_fingerprint" not in result.meta["batch_markers"]  # the night drops the markers
    assert pandas_execution_engine.HASH_THRESHOLD == threshold  # GX as it was, outside


def test_within_lean_a_configuration_is_worked_out_once(cfg):
    expectation = build_suite(cfg).expectations[0]
    assert expectation.configuration is not expectation.configuration  # GX's own: a new object on each read
    with lean():
        first = expectation.configuration
        assert expectation.configuration is first
        assert first.to_domain_obj() is first.to_domain_obj()
    assert expectation.configuration is not first  # the memo ends with the validation


def test_within_lean_a_metric_s_dependencies_are_worked_out_once():
    from great_expectations.execution_engine import PandasExecutionEngine
    from great_expectations.validator.metric_configuration import MetricConfiguration
    from great_expectations.validator.validation_graph import ValidationGraph

    engine, runtime = PandasExecutionEngine(), {}

    def graph():  # noqa: ANN202
        metric = MetricConfiguration("column_values.nonnull.unexpected_count", {"column": "x"}, {})
        built = ValidationGraph(execution_engine=engine)
        built.build_metric_dependency_graph(metric, runtime)
        return built.edge_ids, list(metric.metric_dependencies.values())

    outside = graph()
    assert outside[1] and [a is b for a, b in zip(outside[1], graph()[1])] == [False] * len(outside[1])
    with lean():
        first = graph()
        again = graph()
    assert first[0] == again[0] == outside[0]  # the same graph as GX builds
    assert all(a is b for a, b in zip(first[1], again[1]))  # from the memo


class _Kind(str, enum.Enum):
    A = "a"


@pytest.mark.parametrize("values", [
    {"column": "phone", "batch_id": "b"},
    {"column": "x", "value_set": ["M", "F"], "mostly": 1.0, "strict": False, "n": None},
    {"column": "x", "min_value": float("nan"), "max_value": float("inf")},
    {"column": "x", "nested": {"a": [1, (2, 3)], "b": {"c": None}}},
    {"column": "x", "kind": _Kind.A, "count": np.int64(3)},
    {"column": "x", "when": dt.date(2022, 3, 1), "keys": {1: "one"}},
    {"column": "x", "values": {"b", "a"}},
])
def test_metric_ids_are_gx_s_own(values):
    from great_expectations.core.id_dict import IDDict

    outside = IDDict(values).to_id()
    with lean():
        assert IDDict(values).to_id() == outside
        assert IDDict(values).to_id() == outside  # from the memo


def test_metric_ids_of_equal_but_different_values_differ():
    from great_expectations.core.id_dict import IDDict

    values = [{"column": "x", "v": True}, {"column": "x", "v": 1}, {"column": "x", "v": 1.0}]
    outside = [IDDict(v).to_id() for v in values]
    assert len(set(outside)) == 3
    with lean():
        assert [IDDict(v).to_id() for v in values] == outside


def test_the_engine_frame_reads_as_the_check_frame():
    frame = pd.DataFrame({
        "row_key": [0, 1, 2],
        "text": ["b", None, "a"],
        "small": pd.array([1, None, -3], dtype="Int64"),
        "large": pd.array([1, None, 2**60 + 1], dtype="Int64"),
        "flag": [True, False, True],
    })
    engine = validate._engine_frame(frame)
    assert isinstance(engine["text"].dtype, pd.CategoricalDtype)
    assert engine["text"].tolist()[0::2] == ["b", "a"] and pd.isna(engine["text"][1])
    assert engine["small"].dtype == np.float64  # compared in one vectorized step by GX
    assert engine["small"].tolist()[0::2] == [1.0, -3.0] and np.isnan(engine["small"][1])
    assert engine["large"].dtype == "Int64"  # not exact as a float: left as it is
    assert engine["flag"].dtype == bool and engine["row_key"].dtype == np.int64


def test_the_result_holds_no_cell_value(cfg):
    frame = _frame(cfg)
    result = validate.run_suite(frame, build_suite(cfg), "lean-test")
    text = json.dumps(result.to_json_dict(), default=str)
    assert "0912399" not in text and "Xã Tân Lập" not in text and "32/13/2012" not in text
    phone = next(keys for meta, keys in validate.failing_rows(result) if meta["rule"] == "phone_valid")
    assert phone == [4]

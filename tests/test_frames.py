"""``flows.frames.frame_records`` is ``DataFrame.to_dict("records")``: the same keys, values and types."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from flows.frames import frame_records
from flows.linkage.contract import identity_frame
from flows.linkage.features import features
from flows.linkage.synth import generate


def _same(frame: pd.DataFrame) -> None:
    want, got = frame.to_dict("records"), frame_records(frame)
    assert len(got) == len(want)
    for a, b in zip(want, got):
        assert list(a) == list(b)
        for key in a:
            assert type(a[key]) is type(b[key]), (key, a[key], b[key])
            assert a[key] is b[key] or a[key] == b[key] or (a[key] != a[key] and b[key] != b[key]), key


def test_frame_records_is_to_dict_records_on_every_kind_of_column():
    frame = pd.DataFrame({
        "text": ["a", None, "c"], "string": pd.array(["x", None, "z"], dtype="string"),
        "ints": np.array([1, 2, 3], dtype="int64"), "Int64": pd.array([1, None, 3], dtype="Int64"),
        "floats": [1.5, float("nan"), -0.0], "bools": [True, False, True],
        "boolean": pd.array([True, None, False], dtype="boolean"),
        "mixed": [np.int64(4), np.float32(2.5), pd.NA], "numpy_bool": [np.bool_(True), "t", None],
        "dates": pd.to_datetime(["2020-01-01", None, "2021-05-06"]),
        "objects_dates": [np.datetime64("2020-01-01"), pd.Timestamp("2021-01-01"), pd.NaT],
        "days": [dt.date(2014, 9, 5), None, dt.date(2015, 1, 2)],
        "categories": pd.Categorical(["ngheo", "can_ngheo", "ngheo"]),
    })
    _same(frame)
    _same(frame.astype(object).where(frame.notna(), None))
    _same(frame.iloc[[2, 0]])  # any index
    _same(frame.iloc[:0])
    _same(pd.DataFrame(index=range(3)))


def test_frame_records_on_the_linkage_frames():
    feats = features(identity_frame(generate(200, seed=3).drop(columns=["true_person"])))
    _same(feats)
    _same(feats.astype(object).where(feats.notna(), None))


@pytest.mark.filterwarnings("ignore:DataFrame columns are not unique")
def test_a_frame_with_repeated_column_names_is_pandas_own():
    _same(pd.DataFrame([[1, 2]], columns=["a", "a"]))

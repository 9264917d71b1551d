"""``flows.frames.frame_records`` gives exactly what ``DataFrame.to_dict("records")`` gives, values and types."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from flows.frames import frame_records



def _same(frame: pd.DataFrame) -> None:
    expected, got = frame.to_dict("records"), frame_records(frame)
    assert len(got) == len(expected)
    for e, g in zip(expected, got):
        assert list(g) == list(e)
        assert [type(v) for v in g.values()] == [type(v) for v in e.values()], (e, g)
        # NaN and NaT are unequal to themselves: compared by their text
        assert [repr(v) for v in g.values()] == [repr(v) for v in e.values()], (e, g)


def test_records_are_pandas_own_for_every_kind_of_column() -> None:
    frame = pd.DataFrame({
        "text": ["An", None, " Bình "],
        "ints": [1, 2, 3],
        "floats": [1.5, np.nan, 3.0],
        "flags": [True, False, True],
        "nullable": pd.array([1, None, 3], dtype="Int64"),
        "nullable_text": pd.array(["a", None, "c"], dtype="string"),
        "numpy_in_object": pd.Series([np.int64(3), np.float64(2.5), np.bool_(True)], dtype=object),
        "stamps": pd.to_datetime(["2020-01-01", None, "2021-05-06"]),
        "days": [dt.date(2014, 9, 5), None, dt.date(2015, 1, 2)],
        "mixed": ["x", 1, None],
        "categories": pd.Categorical(["ngheo", "can_ngheo", "ngheo"]),
    })
    _same(frame)
    _same(frame.iloc[[2, 0]])  # any index
    _same(frame.iloc[:0])


@pytest.mark.filterwarnings("ignore:DataFrame columns are not unique")
def test_frames_pandas_handles_alone_are_left_to_it() -> None:
    _same(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    _same(pd.DataFrame(index=[0, 1]))

"""``flows.heap``: the night keeps what earlier stages made out of the cyclic garbage collector's scans
(``gc.freeze`` before each stage) and gives it all back when it ends, however it ends; linking does the same with its
caller's data; a process with its own frozen objects is left alone."""

from __future__ import annotations

import datetime as dt
import gc

import pandas as pd
import pytest

from flows.linkage.clustering import link
from flows.pipeline import run_night
from samples.generate import generate

AS_OF = dt.date(2022, 3, 1)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    generate(src, seed=11, scale=0.03)
    return src


class Recording:
    """A stage runner that notes how many objects are frozen as each stage starts."""

    def __init__(self, fail_at: str | None = None) -> None:
        self.frozen: dict[str, int] = {}
        self.fail_at = fail_at

    def __call__(self, name, fn, *args):  # noqa: ANN001, ANN204
        self.frozen[name] = gc.get_freeze_count()
        if name == self.fail_at:
            raise RuntimeError("stage failed")
        return fn(*args)


def test_each_stage_starts_with_what_came_before_frozen_and_the_night_ends_with_nothing_frozen(tmp_path, sources,
                                                                                                   cfg):
    assert gc.get_freeze_count() == 0
    step = Recording()
    run_night(sources, cfg, tmp_path / "out", AS_OF, step=step)
    assert list(step.frozen)[:3] == ["ledger", "sources", "layout"]
    assert all(count > 0 for count in step.frozen.values()), step.frozen
    # the rows the stages hand on are frozen before the stages that read them
    assert step.frozen["publish"] > step.frozen["sources"], step.frozen
    assert gc.get_freeze_count() == 0
    # and the garbage cycles the night left are already freed, not handed to the next night to freeze again
    left = gc.collect()
    assert left < 500, left


def test_a_failing_night_gives_its_frozen_objects_back(tmp_path, sources, cfg):
    step = Recording(fail_at="dedupe")
    with pytest.raises(RuntimeError, match="stage failed"):
        run_night(sources, cfg, tmp_path / "out", AS_OF, step=step)
    assert step.frozen["dedupe"] > 0
    assert gc.get_freeze_count() == 0


def test_a_process_that_froze_objects_itself_keeps_them_and_the_night_freezes_nothing(tmp_path, sources, cfg):
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        step = Recording()
        run_night(sources, cfg, tmp_path / "out", AS_OF, step=step)
        assert max(step.frozen.values()) <= before  # nothing of the night's was frozen
        assert 0 < gc.get_freeze_count() <= before  # and the process's own frozen objects are still frozen
    finally:
        gc.unfreeze()


def test_linking_freezes_its_callers_objects_while_it_runs_unless_the_caller_froze_its_own():
    records = pd.DataFrame([{"full_name": "Nguyễn Văn An", "date_of_birth": "2012-03-04", "commune_code": "06388"},
                            {"full_name": "Nguyen Van An", "date_of_birth": "2012-03-04", "commune_code": "06388"}])
    seen = []
    labels = link(records, progress=lambda step, total: seen.append(gc.get_freeze_count())).labels
    assert labels[0] == labels[1]
    assert seen[0] > 0 and gc.get_freeze_count() == 0
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        seen.clear()
        link(records, progress=lambda step, total: seen.append(gc.get_freeze_count()))
        assert max(seen) <= before and 0 < gc.get_freeze_count() <= before
    finally:
        gc.unfreeze()

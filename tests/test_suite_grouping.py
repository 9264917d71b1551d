"""`make test` runs pytest-xdist with ``--dist loadgroup``: the modules marked ``xdist_group`` share a Prefect server
or whole nights in module fixtures, and run them once only if their tests stay on one worker. pytest 9.2 made xdist
3.8 drop the marks without a word (pytest-xdist#1386: every fixture then ran once per worker, and the suite took
minutes longer); this fails if a pytest or xdist upgrade does that again."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.xdist_group("grouping-check")


def test_xdist_groups_hold_their_tests_on_one_worker(request):
    # a worker of ``--dist loadgroup`` is told so by xdist's ``loadgroup`` option (its own ``dist`` is "no")
    if not os.environ.get("PYTEST_XDIST_WORKER") or not getattr(request.config.option, "loadgroup", False):
        pytest.skip("only meaningful under `make test` (pytest-xdist --dist loadgroup)")
    assert request.node.nodeid.endswith("@grouping-check"), request.node.nodeid

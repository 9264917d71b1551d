"""The same lists give the same children, night after night, whatever the ledger already holds.

Tonight's rows alone decide who is one child; the ledger only names them (``flows.linkage.dedupe``). So five
nights in a row on unchanged lists give one partition and change no allocation, on SQLite and on PostgreSQL, and a
ledger grown from other lists on an earlier night does not change tonight's partition either.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from flows.pipeline import run_night
from samples.generate import generate
from tests.pg import postgres_url  # noqa: F401  (module-scoped fixture: a fresh PostgreSQL database)


def _partition(result) -> set[frozenset]:
    """Who is one child, as the set of each child's source rows (ids left out: they are the ledger's names)."""
    rows = result.students[result.students["person_id"].astype(str) != ""]
    groups: dict[str, set] = {}
    for pid, f, s, r in zip(rows["person_id"], rows["source_file"], rows["source_sheet"], rows["source_row"]):
        groups.setdefault(pid, set()).add((f, s, int(r)))
    return {frozenset(g) for g in groups.values()}


def _allocated(result) -> list[tuple]:
    a = result.allocations
    return sorted(zip(a["person_id"], a["need"], a["item"].astype(str), a["donation_id"].astype(str), a["status"]))


@pytest.fixture(scope="module")
def lists(tmp_path_factory):
    src = tmp_path_factory.mktemp("stable") / "src"
    generate(src, seed=23, scale=0.05)
    return src


def _nights(src, cfg, out, ledger_url, count):
    """``count`` nights as of the same day (another day may bring a donation in: that is a change of input)."""
    results = []
    for _ in range(count):
        result, _ = run_night(src, cfg, out, dt.date(2022, 3, 1), ledger_url=ledger_url)
        results.append(result)
    return results


def test_five_nights_in_a_row_give_one_partition_and_no_change(lists, cfg, tmp_path):
    out = tmp_path / "out"
    nights = _nights(lists, cfg, out, f"sqlite:///{tmp_path / 'ledger.sqlite'}", 5)
    first = nights[0]
    assert first.counts["allocated"] > 0
    for later in nights[1:]:
        assert _partition(later) == _partition(first)
        assert _allocated(later) == _allocated(first)
        assert later.counts["changes"] == 0


def test_a_ledger_grown_from_other_lists_does_not_change_tonights_partition(lists, cfg, tmp_path):
    fresh = _nights(lists, cfg, tmp_path / "fresh", f"sqlite:///{tmp_path / 'fresh.sqlite'}", 1)[0]
    # an earlier night read other lists: half the schools only, and an extra school list of another seed
    other = tmp_path / "other"
    shutil.copytree(lists, other)
    files = sorted(p for p in (other / "truong").rglob("*") if p.is_file())
    for p in files[::2]:
        p.unlink()
    ledger = f"sqlite:///{tmp_path / 'grown.sqlite'}"
    run_night(other, cfg, tmp_path / "grown", dt.date(2022, 2, 1), ledger_url=ledger)
    tonight, _ = run_night(lists, cfg, tmp_path / "grown", dt.date(2022, 3, 1), ledger_url=ledger)
    assert _partition(tonight) == _partition(fresh)
    again, _ = run_night(lists, cfg, tmp_path / "grown", dt.date(2022, 3, 1), ledger_url=ledger)
    assert _partition(again) == _partition(fresh) and again.counts["changes"] == 0


def test_nights_on_postgresql_give_one_partition_and_no_change(lists, cfg, tmp_path, postgres_url):  # noqa: F811
    nights = _nights(lists, cfg, tmp_path / "out", postgres_url, 3)
    for later in nights[1:]:
        assert _partition(later) == _partition(nights[0])
        assert _allocated(later) == _allocated(nights[0])
        assert later.counts["changes"] == 0

"""The reuse store (take, keep, sweep, a damaged piece, a full night) and workbooks written by several processes
(the same bytes as written by one)."""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import subprocess
import sys

import pandas as pd
import pytest

from flows.pipeline import run_night
from flows.publishing.prepared import prepare
from flows.publishing.publish import write_workbooks
from flows.reuse import Reuse
from flows.reuse.fingerprints import digest, frame_fingerprint
from flows.reuse.intake import per_source
from tests.nights import AS_OF, tiny_district


def test_a_kept_piece_is_taken_with_the_run_it_is_from_and_swept_when_unused(tmp_path):
    first = Reuse.beside(tmp_path, "night-1")
    first.keep("layout", "k1", {"rows": [1, 2]}, "a.xlsx")
    first.keep("layout", "k2", "old", "b.xlsx")
    second = Reuse.beside(tmp_path, "night-2")
    assert second.take("layout", "k1", "a.xlsx") == {"rows": [1, 2]}
    assert second.take("layout", "missing", "c.xlsx") is None
    assert second.report()["areas"]["layout"] == {"reused": {"a.xlsx": "night-1"}, "rebuilt": 0}
    assert second.sweep() == 1  # k2 was not used tonight
    assert Reuse.beside(tmp_path, "night-3").take("layout", "k2") is None
    assert Reuse.beside(tmp_path, "night-3").take("layout", "k1") == {"rows": [1, 2]}


def test_a_damaged_piece_is_rebuilt_and_a_full_night_takes_nothing(tmp_path):
    Reuse.beside(tmp_path, "night-1").keep("validate", "k", [1])
    (tmp_path / ".reuse" / "validate" / "k.pickle").write_bytes(b"not a pickle")
    assert Reuse.beside(tmp_path, "night-2").take("validate", "k") is None
    Reuse.beside(tmp_path, "night-2").keep("validate", "k", [2])
    full = Reuse.beside(tmp_path, "night-3", full=True)
    assert full.take("validate", "k") is None
    assert full.sweep() == 0  # looked for tonight: kept for the next night


def test_a_store_that_cannot_be_written_costs_only_the_reuse(tmp_path):
    (tmp_path / ".reuse").write_text("a file where the store's folder should be")
    night = Reuse.beside(tmp_path, "night-1")
    night.keep("layout", "k", [1], "a.xlsx")  # no exception: the night goes on
    assert night.report()["areas"]["layout"]["rebuilt"] == 1
    assert Reuse.beside(tmp_path, "night-2").take("layout", "k") is None


def test_per_source_gives_the_whole_computation_in_source_order(tmp_path):
    frame = pd.DataFrame({"source_id": ["b", "b", "a", "c", "c"], "x": [1, 2, 3, 4, 5]})
    keys = {"a": "ka", "b": "kb", "c": "kc"}
    calls = []

    def compute(part):
        calls.append(list(part["source_id"]))
        return part.assign(y=part["x"] * 10)

    whole = compute(frame.copy())
    calls.clear()
    first = per_source(frame, keys, "normalize", Reuse.beside(tmp_path, "n1"), compute)
    assert frame_fingerprint(first) == frame_fingerprint(whole)
    night = Reuse.beside(tmp_path, "n2")
    changed = frame.assign(x=[1, 2, 3, 40, 5])
    keys_changed = {**keys, "c": "kc2"}
    calls.clear()
    second = per_source(changed, keys_changed, "normalize", night, compute)
    assert calls == [["c", "c"]]  # only the changed source is computed
    assert frame_fingerprint(second) == frame_fingerprint(compute(changed))
    assert night.report()["areas"]["normalize"]["reused"] == {"a": "n1", "b": "n1"}


def test_keys_tell_types_apart():
    assert len({digest(1), digest(1.0), digest("1"), digest(True)}) == 4
    a = pd.DataFrame({"x": [1, 2]})
    assert frame_fingerprint(a) != frame_fingerprint(a.astype(float))
    assert frame_fingerprint(a) != frame_fingerprint(a.iloc[::-1].reset_index(drop=True))
    objects = pd.DataFrame({"x": [1, 1.0, "1", True, None, float("nan")]}, dtype=object)
    assert len({frame_fingerprint(objects.iloc[[i]].reset_index(drop=True)) for i in range(6)}) == 6


def test_a_frame_fingerprint_is_its_values_whether_or_not_they_share_objects():
    name = "Nguyễn Thị Thủy"
    shared = pd.DataFrame({"full_name": [name, name]}, dtype=object)
    copies = pd.DataFrame({"full_name": [name, "".join(list(name))]}, dtype=object)
    assert shared["full_name"][0] is shared["full_name"][1]
    assert copies["full_name"][0] is not copies["full_name"][1]
    assert frame_fingerprint(shared) == frame_fingerprint(copies)


@pytest.fixture(scope="module")
def night(tmp_path_factory, cfg):
    base = tmp_path_factory.mktemp("publish-reuse")
    result, _ = run_night(tiny_district(base / "src"), cfg, base / "out", dt.date.fromisoformat(AS_OF))
    return result


def test_a_nights_key_is_the_same_in_another_process(night, cfg, tmp_path):
    """Keys hold no order that changes between processes (a set's, under another hash seed): tomorrow's night,
    another process, finds tonight's pieces."""
    from flows.reuse.workbooks import workbook_key

    path = tmp_path / "result.pickle"
    path.write_bytes(pickle.dumps(night))
    code = ("import pickle, sys; from flows.config import load_config; from flows.reuse.workbooks import "
            "workbook_key; from flows.reuse.fingerprints import frame_fingerprint; "
            "r = pickle.load(open(sys.argv[1], 'rb')); print(workbook_key(r, load_config())); "
            "print(frame_fingerprint(r.students))")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert done.stdout.split() == [workbook_key(night, cfg), frame_fingerprint(night.students)]


def test_workbooks_written_by_two_processes_are_the_bytes_one_process_writes(night, tmp_path, cfg):
    data = prepare(night, cfg)
    one, two = tmp_path / "one", tmp_path / "two"
    assert write_workbooks(data, one, workers=1) == write_workbooks(data, two, workers=2) > 3
    files = sorted(p.relative_to(one) for p in one.rglob("*.xlsx"))
    assert files == sorted(p.relative_to(two) for p in two.rglob("*.xlsx"))
    for rel in files:
        assert (one / rel).read_bytes() == (two / rel).read_bytes(), rel


def test_the_linkage_key_covers_the_model_and_the_given_names_of_the_twins_rule(tmp_path, monkeypatch):
    """Editing ``config/given_names.txt`` changes who may be twins: a kept partition must not survive it."""
    from flows.linkage import rules
    from flows.reuse.fingerprints import model_fingerprint

    before = model_fingerprint()
    names = tmp_path / "given_names.txt"
    names.write_text(rules.GIVEN_NAMES_PATH.read_text(encoding="utf-8") + "Gang\n", encoding="utf-8")
    monkeypatch.setattr(rules, "GIVEN_NAMES_PATH", names)
    assert model_fingerprint() != before
    monkeypatch.setattr(rules, "GIVEN_NAMES_PATH", tmp_path / "missing.txt")
    assert model_fingerprint() not in (before, "")


def test_the_allocation_key_follows_the_as_of_date_only_across_a_donation_or_override_date(cfg):
    """The allocator reads the date only through "is this donation (override) dated on or before it?": the key
    stays across days that change no answer and changes on the day a donation arrives or an override falls due."""
    from flows.reuse.allocation import allocation_key

    persons = pd.DataFrame({"person_id": ["P1"], "grade": [3]})
    donations = pd.DataFrame({"donation_id": ["D1", "D2"], "date": ["2022-03-01", "2022-03-10"]})
    overrides = pd.DataFrame({"override_id": ["O1"], "decided_on": ["2022-03-20"]})
    empty = pd.DataFrame()

    def key(day: str, dn: pd.DataFrame = donations) -> str:
        return allocation_key(persons, dn, empty, empty, cfg.district, dt.date.fromisoformat(day), overrides, None)

    assert key("2022-03-02") == key("2022-03-09")  # no date between the two days
    assert key("2022-03-09") != key("2022-03-10")  # D2 arrives on the 10th
    assert key("2022-03-19") != key("2022-03-20")  # O1 falls due on the 20th
    assert key("2022-03-20") == key("2023-01-01")
    assert key("2022-03-05", donations.assign(date=["2022-03-01", "2022-03-11"])) != key("2022-03-05")


def test_the_allocation_key_reads_of_previous_what_the_allocator_reads(cfg):
    """The run that recorded an active allocation and when are no input of the allocator: the key leaves them out,
    and keeps every column it reads."""
    from flows.reuse.allocation import allocation_key

    persons, empty = pd.DataFrame({"person_id": ["P1"], "grade": [3]}), pd.DataFrame()
    previous = pd.DataFrame({"person_id": ["P1"], "need": ["device"], "item": ["tablet"], "donation_id": ["D1"],
                             "status": ["provisional"], "run_id": ["r1"], "allocated_at": ["2022-03-01T01:00"],
                             "full_name": ["An"], "date_of_birth": [""], "commune_code": ["06388"],
                             "school_code": ["TH"], "guardian_name": [""], "left_when_turn": ["tablet 3"]})

    def key(prev: pd.DataFrame) -> str:
        return allocation_key(persons, empty, empty, prev, cfg.district, dt.date(2022, 3, 15), None, None)

    assert key(previous) == key(previous.assign(run_id=["r2"], allocated_at=["2022-03-02T01:00"]))
    assert key(previous) != key(previous.assign(left_when_turn=["tablet 2"]))
    assert key(previous) != key(previous.assign(donation_id=["D2"]))


def test_a_taken_assignment_keeps_the_partition_it_was_computed_from(tmp_path, cfg):
    """A night that takes the whole assignment of ids never links: the partition it rests on must stay in the store
    for a night whose ledger differs (here: the kept assignments removed), which then does not link again."""
    src = tiny_district(tmp_path / "src", schools=3, communes=1)
    out = tmp_path / "out"
    for _ in range(3):
        _, run_dir = run_night(src, cfg, out, dt.date.fromisoformat(AS_OF))
    report = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))["reuse"]["areas"]
    assert report["dedupe"]["reused"] and "linkage" not in report
    for piece in (out / ".reuse" / "dedupe").iterdir():
        piece.unlink()
    _, run_dir = run_night(src, cfg, out, dt.date.fromisoformat(AS_OF))
    report = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))["reuse"]["areas"]
    assert report["linkage"]["reused"] and report["linkage"]["rebuilt"] == 0
    # computed again from the kept pieces, and kept twice: under tonight's ledger, and settled (the lists alone)
    assert report["persons"]["reused"] and report["dedupe"]["rebuilt"] == 2

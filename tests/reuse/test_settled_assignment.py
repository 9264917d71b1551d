"""The settled assignment (``flows.reuse.linkage``): an assignment kept under the lists alone is taken only on a
ledger that links every record to the id it gave, and it is then exactly what ``assign_persons`` computes there,
whatever past recipients the ledger holds; on any other ledger the night computes its own."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from flows.linkage.clustering import link
from flows.linkage.dedupe import assign_persons
from flows.reuse.linkage import _settled_holds, assigner
from flows.reuse.store import Reuse
from tests.helpers import students, validated

COMMUNE_LIST = {"source_id": "xa/huu-lien.xlsx", "source_file": "xa/huu-lien.xlsx", "source_sheet": "DS",
                "list_type": "commune"}


@pytest.fixture
def rows():
    return validated(students(
        {"full_name": "Nguyễn Văn An", "category": "near_poor"},
        {"full_name": "NGUYỄN VĂN AN", "source_row": 20, "date_of_birth": "", "birth_year": 2014, "category": "poor",
         **COMMUNE_LIST},  # the same child, with the year only
        {"full_name": "Lê Thị Bình", "date_of_birth": "2013-01-01", "birth_year": 2013, "grade": 4},
        {"full_name": "Hoàng Văn Cường", "date_of_birth": "2012-06-30", "birth_year": 2012, "grade": 5},
    ))


def _issuer(start: int):
    numbers = itertools.count(start)
    return lambda n: [f"HS{next(numbers):06d}" for _ in range(n)]


def _links(result) -> dict[str, str]:
    usable = result.students[result.students["row_status"] == "ok"]
    return dict(zip(usable["fingerprint"], usable["person_id"]))


def _same(got, want) -> None:
    pd.testing.assert_frame_equal(got.students, want.students)
    pd.testing.assert_frame_equal(got.persons, want.persons)
    pd.testing.assert_frame_equal(got.review_pairs, want.review_pairs)
    assert (got.new_links, got.aliases, got.clusters) == (want.new_links, want.aliases, want.clusters)
    assert [i.rule for i in got.issues] == [i.rule for i in want.issues]


def _night(tmp_path, run_id: str, rows, cfg, **ledger):
    reuse = Reuse(tmp_path / "store", run_id)
    result = assigner(reuse)(rows, cfg, **ledger)
    return result, reuse.report()["areas"]["dedupe"]


def test_the_night_after_new_ids_takes_the_answer_whatever_its_past_recipients(tmp_path, rows, cfg):
    first, report = _night(tmp_path, "night-1", rows, cfg, known_links={}, allocate_ids=_issuer(1))
    assert report == {"reused": {}, "rebuilt": 1}  # reserved ids: kept settled only
    assert first.clusters == 3 and first.new_links
    ledger = _links(first)  # what the first night stored
    for past in (None, pd.DataFrame([{"person_id": "HS000002", "full_name": "Lê Thị Bình",
                                      "date_of_birth": "2013-01-01", "commune_code": "06388", "handed_over": True}])):
        fresh = assign_persons(rows, cfg, known_links=ledger, allocate_ids=_issuer(100), past_recipients=past,
                               linker=link)
        got, report = _night(tmp_path, "night-2", rows, cfg, known_links=ledger, allocate_ids=_issuer(100),
                             past_recipients=past)
        assert report["reused"] == {"settled": "night-1"}
        _same(got, fresh)
        assert got.new_links == {} and got.aliases == {}
        assert list(got.students["person_id"]) == list(first.students["person_id"])


def test_a_ledger_that_links_a_record_elsewhere_computes_its_own_answer(tmp_path, rows, cfg):
    first, _ = _night(tmp_path, "night-1", rows, cfg, known_links={}, allocate_ids=_issuer(1))
    ledger = _links(first)
    commune_record = first.students["fingerprint"].iat[1]
    ledger[commune_record] = "HS000000"  # another history: this record was an older person, now the same child
    fresh = assign_persons(rows, cfg, known_links=ledger, allocate_ids=_issuer(100), linker=link)
    got, report = _night(tmp_path, "night-2", rows, cfg, known_links=ledger, allocate_ids=_issuer(100))
    assert "settled" not in report["reused"]
    _same(got, fresh)
    assert got.aliases == {first.students["person_id"].iat[0]: "HS000000"}  # the older id survives
    assert set(got.students["person_id"].iloc[:2]) == {"HS000000"}
    assert first.students["fingerprint"].iat[0] != commune_record
    # a ledger that does not know one of the records gives it a new id: not the settled answer either
    unknown = dict(ledger)
    unknown.pop(first.students["fingerprint"].iat[3])
    got, report = _night(tmp_path, "night-3", rows, cfg, known_links=unknown, allocate_ids=_issuer(200))
    assert "settled" not in report["reused"]
    assert got.students["person_id"].iat[3] == "HS000200"


def test_a_settled_answer_needs_an_id_of_its_own_for_each_person():
    class Answer:
        clusters = 2

    links = [("f1", "HS000001"), ("f2", "HS000001")]  # two persons under one id: the second would be renamed
    assert not _settled_holds({"result": Answer(), "links": links}, {"f1": "HS000001", "f2": "HS000001"})
    links = [("f1", "HS000001"), ("f2", "HS000002")]
    assert _settled_holds({"result": Answer(), "links": links}, {"f1": "HS000001", "f2": "HS000002", "f9": "X"})
    assert not _settled_holds({"result": Answer(), "links": links}, {"f1": "HS000001"})

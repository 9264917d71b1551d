"""The cheap conditions placed before edit distances in the model's SQL (``flows.linkage.comparisons``) never change
a level: on texts one or two typing errors apart, and on unrelated texts, they agree with the distance alone."""

from __future__ import annotations

import random

import duckdb

from flows.linkage.comparisons import dates_within_one_edit, edits_within


def _typo(rng: random.Random, text: str) -> str:
    i = rng.randrange(len(text) + 1)
    kind = rng.choice("sidt")
    if kind == "s" and i < len(text):
        return text[:i] + rng.choice("abcdeghnu0123456789") + text[i + 1:]
    if kind == "i":
        return text[:i] + rng.choice("abcnhu19") + text[i:]
    if kind == "d" and i < len(text):
        return text[:i] + text[i + 1:]
    if kind == "t" and i + 1 < len(text):
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    return text


def _pairs(seed: int = 5) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    words = ["an", "anh", "linh", "nguyen", "hoang van", "khuon pa", "ba", "y", "ho", "nguyen thi thu", "0912345678"]
    out = []
    for _ in range(3000):
        a = rng.choice(words) if rng.random() < 0.5 else "".join(rng.choice("anhiutg ") for _ in range(rng.randint(1, 9)))
        b = _typo(rng, a)
        out += [(a, b), (a, _typo(rng, b)), (a, rng.choice(words)), (b, a)]
    days = [f"{2008 + rng.randrange(8)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}" for _ in range(400)]
    for d in days:
        out += [(d, _typo(rng, d)), (d, _typo(rng, _typo(rng, d))), (d, rng.choice(days)), (d, d[:4])]
    return out


def test_guarded_edit_distances_give_the_distance_alone():
    con = duckdb.connect()
    con.execute("create table p (a_l varchar, a_r varchar)")
    con.executemany("insert into p values (?, ?)", _pairs())
    for k in (1, 2):
        differ = con.execute(f"select count(*) from p where ({edits_within('a_l', 'a_r', k)}) "
                             f"<> (damerau_levenshtein(a_l, a_r) <= {k})").fetchone()[0]
        assert differ == 0, k
    differ = con.execute(f"select count(*) from p where ({dates_within_one_edit('a_l', 'a_r')}) "
                         "<> (damerau_levenshtein(a_l, a_r) <= 1)").fetchone()[0]
    assert differ == 0
    # and the guards are not vacuous: they keep pairs out before the distance is computed
    assert con.execute(f"select count(*) from p where {edits_within('a_l', 'a_r')}").fetchone()[0] > 1000


def _settings_warnings(model: dict, caplog) -> list[str]:
    """What Splink's settings validation says of ``model`` on the night's feature columns (the night constructs
    its linkers with ``validate_settings=False``: the check parses every level's SQL, and its findings are only
    logged, at a level the night does not show)."""
    import logging

    import pandas as pd
    from splink import DuckDBAPI, Linker

    from flows.linkage.features import features

    feats = features(pd.DataFrame([{"full_name": "Nguyễn Văn An", "date_of_birth": "2014-09-05"},
                                   {"full_name": "Lê Thị Bình", "date_of_birth": "2013-01-01"}]))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="splink"):
        Linker(DuckDBAPI().register(feats), model, log_level=None)
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_settings_and_the_saved_model_name_only_feature_columns(caplog):
    from flows.linkage.comparisons import load_model, settings

    assert _settings_warnings(settings(), caplog) == []
    assert _settings_warnings({k: v for k, v in load_model().items() if k != "training"}, caplog) == []
    broken = settings()
    broken["comparisons"] = [*broken["comparisons"][:-1], {
        **broken["comparisons"][-1], "comparison_levels": [
            {"sql_condition": '"no_such_column_l" = "no_such_column_r"', "label_for_charts": "x"},
            {"sql_condition": "ELSE", "label_for_charts": "else"}]}]
    assert _settings_warnings(broken, caplog)  # the check the night skips does find a missing column

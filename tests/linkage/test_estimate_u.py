"""Random sampling of u with each chunk of the sampled pairs counted once for all the comparisons that need it
(``flows.linkage.estimate._u_counted_together``) gives Splink's own u probabilities, bit for bit, with Splink's own
early stops, and leaves no chunk to Splink's counting."""

from __future__ import annotations

import copy
import logging
from contextlib import contextmanager

import pytest

from flows.linkage.comparisons import SEED, settings
from flows.linkage.contract import identity_frame
from flows.linkage.features import features
from flows.linkage.synth import generate


@contextmanager
def _recorded(calls: list):
    """Splink's chunk counting function, as installed now, with each call's (comparison, chunks, chunk) noted."""
    from splink.internals import estimate_u as eu

    inner = eu._accumulate_u_counts_from_chunk_and_check_min_count

    def recording(**kw):
        calls.append((kw["comparison"].output_column_name, kw["rhs_num_chunks"], kw["rhs_chunk_num"]))
        return inner(**kw)

    eu._accumulate_u_counts_from_chunk_and_check_min_count = recording
    try:
        yield
    finally:
        eu._accumulate_u_counts_from_chunk_and_check_min_count = inner


def _sampled(feats, together: bool, max_pairs: float, min_count: int | None):
    """u probabilities by level, the chunks Splink asked for, and those Splink's own function counted."""
    from splink import DuckDBAPI, Linker
    from splink.internals.estimate_u import estimate_u_values

    from flows.linkage.estimate import _u_counted_together

    linker = Linker(DuckDBAPI().register(feats), settings(), log_level=logging.ERROR, validate_settings=False)
    asked: list = []
    by_splink: list = []
    with _recorded(by_splink):
        if together:
            with _u_counted_together(linker), _recorded(asked):
                estimate_u_values(linker, max_pairs=max_pairs, seed=SEED, min_count_per_level=min_count)
        else:
            estimate_u_values(linker, max_pairs=max_pairs, seed=SEED, min_count_per_level=min_count)
            asked = list(by_splink)
    u = {(comp.output_column_name, level.comparison_vector_value): [r["probability"] for r in
                                                                    level._trained_u_probabilities]
         for comp in linker._settings_obj.comparisons for level in comp._comparison_levels_excluding_null}
    return u, asked, by_splink


@pytest.mark.parametrize(("children", "seed", "max_pairs", "min_count"), [
    (1500, 11, 1e6, 100),  # every comparison stops at another chunk: the probe, the first, later, never
    (600, 4, 1e5, 100),  # the whole input is the sample
    (900, 9, 2e5, None),  # no early stop: every chunk of every comparison
    (900, 9, 2e5, 5),  # most comparisons stop at the probe
])
def test_u_counted_together_is_splinks_own_sampling(children, seed, max_pairs, min_count):
    feats = features(identity_frame(generate(children, seed=seed).drop(columns=["true_person"])))
    own, own_chunks, _ = _sampled(feats, False, max_pairs, min_count)
    mine, my_chunks, left_to_splink = _sampled(feats, True, max_pairs, min_count)
    assert mine == own  # the same floats, not close ones
    assert any(isinstance(p, float) for seen in own.values() for p in seen)
    assert my_chunks == own_chunks  # the same early stops
    assert left_to_splink == []  # every chunk answered from the counts made together
    if min_count == 100 and children == 1500:  # the case this is for: comparisons stopping at different chunks
        stops = {name: max(c for n, num, c in own_chunks if n == name and num == 10) for name, _, _ in own_chunks
                 if any(n == name and num == 10 for n, num, _ in own_chunks)}
        assert len(set(stops.values())) > 1


def test_a_comparison_whose_sql_is_not_the_linkers_is_counted_by_splink():
    from splink import DuckDBAPI, Linker
    from splink.internals.estimate_u import estimate_u_values

    from flows.linkage.estimate import _u_counted_together

    feats = features(identity_frame(generate(300, seed=2).drop(columns=["true_person"])))
    other = copy.deepcopy(settings())  # settings() shares the module's level dicts
    other["comparisons"] = other["comparisons"][:2]  # given, and family with another level SQL
    other["comparisons"][1]["comparison_levels"][1]["sql_condition"] = '"family_l" = "family_r" AND 1 = 1'
    linker = Linker(DuckDBAPI().register(feats), settings(), log_level=logging.ERROR, validate_settings=False)
    sampling = Linker(DuckDBAPI().register(feats), other, log_level=logging.ERROR, validate_settings=False)
    by_splink: list = []
    with _recorded(by_splink), _u_counted_together(linker):
        estimate_u_values(sampling, max_pairs=2e4, seed=SEED)
    assert by_splink and {name for name, _, _ in by_splink} == {"family"}


def test_a_sampling_in_another_thread_meanwhile_is_splinks_own():
    from concurrent.futures import ThreadPoolExecutor

    from splink import DuckDBAPI, Linker
    from splink.internals.estimate_u import estimate_u_values

    from flows.linkage.estimate import _u_counted_together

    feats = features(identity_frame(generate(400, seed=6).drop(columns=["true_person"])))
    own, own_chunks, _ = _sampled(feats, False, 5e4, 100)
    linker = Linker(DuckDBAPI().register(feats), settings(), log_level=logging.ERROR, validate_settings=False)
    elsewhere = Linker(DuckDBAPI().register(feats), settings(), log_level=logging.ERROR, validate_settings=False)
    by_splink: list = []
    with _recorded(by_splink), _u_counted_together(linker), ThreadPoolExecutor(1) as pool:
        pool.submit(estimate_u_values, elsewhere, max_pairs=5e4, seed=SEED).result()
    assert by_splink == own_chunks  # every chunk of the other thread's sampling counted by Splink
    u = {(comp.output_column_name, level.comparison_vector_value): [r["probability"] for r in
                                                                    level._trained_u_probabilities]
         for comp in elsewhere._settings_obj.comparisons for level in comp._comparison_levels_excluding_null}
    assert u == own

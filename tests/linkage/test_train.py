"""Self-training at night must never cost the district its night: when EM degenerates, the saved model is used
(its m probabilities, with u sampled from the night's own data)."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from flows.linkage.comparisons import SELF_TRAIN_MIN_RECORDS, load_model
from flows.linkage.features import features
from flows.linkage.scoring import _estimate_own_u, score
from flows.linkage.contract import identity_frame
from flows.linkage.synth import generate


def _refusing_trainer(feats, **_):
    # What Splink raises when an EM step drives an m probability below what float64 can hold (seen on a real
    # second night of the sample district: 15,062 records with past recipients).
    raise ValueError("m_probability value 7.17e-312 is below the minimum allowed value of 1e-300.")


def test_a_failed_training_falls_back_to_the_saved_model(caplog):
    raw = generate(3000, seed=11).drop(columns=["true_person"])
    feats = features(identity_frame(raw))
    assert len(feats) >= SELF_TRAIN_MIN_RECORDS  # large enough that the night trains on itself
    with caplog.at_level(logging.INFO, logger="flows.linkage.scoring"):
        fallback = score(feats, train=_refusing_trainer)
    saved_model = {k: v for k, v in load_model().items() if k != "training"}
    _estimate_own_u(feats, saved_model)  # the saved m probabilities, u sampled from the night's data
    saved = score(feats, model=saved_model)
    assert len(fallback) > 100
    def ordered(df: pd.DataFrame) -> pd.DataFrame:
        return df.sort_values(["unique_id_l", "unique_id_r"]).reset_index(drop=True)[list(saved.columns)]

    pd.testing.assert_frame_equal(ordered(fallback), ordered(saved))
    assert any("saved model is used" in r.getMessage() for r in caplog.records)
    assert all(str(len(feats)) in r.getMessage() for r in caplog.records if "training" in r.getMessage())


def test_an_m_that_underflows_in_em_is_held_at_splinks_floor_instead_of_failing_the_training():
    # The sample district's full night: an EM step made every pair of one level improbable, the next step's m for
    # that level summed to 0.0, and Splink refused it; the training was lost and the saved model stood in.
    from splink import DuckDBAPI, Linker
    from splink.internals import expectation_maximisation as em

    from flows.linkage.comparisons import settings
    from flows.linkage.estimate import EM_UNDERFLOW_FLOOR, _em_underflow_held

    feats = features(identity_frame(generate(50, seed=3).drop(columns=["true_person"])))
    linker = Linker(DuckDBAPI().register(feats), settings())
    comparison = linker._settings_obj.comparisons[0]
    level = comparison._comparison_levels_excluding_null[0]

    def lookup(m: float) -> dict:
        return {comparison.output_column_name: {level.comparison_vector_value: {"m_probability": m,
                                                                                "u_probability": 0.25}}}

    with pytest.raises(ValueError, match="below the minimum"):  # what Splink does on its own
        em.populate_m_u_from_lookup(set(), level, comparison.output_column_name, lookup(0.0))
    with _em_underflow_held():
        em.populate_m_u_from_lookup(set(), level, comparison.output_column_name, lookup(0.0))
        assert level.m_probability == EM_UNDERFLOW_FLOOR
        em.populate_m_u_from_lookup(set(), level, comparison.output_column_name, lookup(0.3))
        assert level.m_probability == 0.3  # what EM reaches without underflowing is untouched
    assert level.u_probability == 0.25
    with pytest.raises(ValueError, match="below the minimum"):  # Splink's own function is back afterwards
        em.populate_m_u_from_lookup(set(), level, comparison.output_column_name, lookup(0.0))


def test_splinks_exact_match_test_is_remembered_with_its_own_answers_during_training():
    from splink import DuckDBAPI, Linker
    from splink.internals.comparison_level import ComparisonLevel

    from flows.linkage import estimate
    from flows.linkage.comparisons import settings

    feats = features(identity_frame(generate(50, seed=3).drop(columns=["true_person"])))
    levels = [lvl for comp in Linker(DuckDBAPI().register(feats), settings())._settings_obj.comparisons
              for lvl in comp.comparison_levels]
    own = [lvl._is_exact_match for lvl in levels]
    assert any(own) and not all(own)  # the model has exact-match levels and others
    estimate._EXACT_MATCH.clear()
    with estimate._exact_match_remembered():
        assert [lvl._is_exact_match for lvl in levels] == own
        assert len(estimate._EXACT_MATCH) == len({(lvl.sql_condition, lvl._is_else_level) for lvl in levels})
        assert [lvl._is_exact_match for lvl in levels] == own  # now from memory
    assert isinstance(ComparisonLevel.__dict__["_is_exact_match"], property)
    assert ComparisonLevel.__dict__["_is_exact_match"].fget.__qualname__ == "ComparisonLevel._is_exact_match"

"""Self-training at night must never cost the district its night: when EM degenerates, the saved model is used
(its m probabilities, with u sampled from the night's own data)."""

from __future__ import annotations

import logging

import pandas as pd

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

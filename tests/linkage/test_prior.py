"""The prior refitted to the scored pairs (``flows.linkage.scoring._prior_from_pairs``): EM on the share of
record pairs that are one person, with the model's m and u held fixed."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from flows.linkage.scoring import _prior_from_pairs


def _scored(bits: list[float], prior: float) -> pd.DataFrame:
    logit = math.log2(prior / (1 - prior))
    weight = np.array(bits) + logit
    return pd.DataFrame({"unique_id_l": range(len(bits)), "unique_id_r": range(1, len(bits) + 1),
                         "match_weight": weight, "match_probability": 1 / (1 + np.exp2(-weight))})


def test_the_prior_is_the_mean_match_probability_over_all_pairs_at_its_fixed_point():
    n = 2000  # 1,999,000 pairs; 1,500 of them carry strong evidence, 3,000 weak evidence
    bits = [25.0] * 1500 + [9.0] * 3000
    out = _prior_from_pairs(_scored(bits, 1e-5), n, 1e-5)  # a prior far too low: the strong pairs say otherwise
    lam = out["match_probability"].sum() / (n * (n - 1) / 2)
    logit = out["match_weight"].to_numpy() - np.array(bits)
    assert np.allclose(logit, logit[0])  # one prior for every pair, the evidence kept
    assert math.isclose(1 / (1 + 2 ** -logit[0]), lam, rel_tol=1e-6)
    assert 1500 / 1999000 <= lam < 4500 / 1999000
    # the weak pairs rose with it: at 1e-5 they were near 0; now they stand at the odds the data gives them
    assert out["match_probability"].iloc[-1] > 0.3


def test_the_refitted_prior_does_not_depend_on_the_order_of_the_pairs():
    rng = np.random.default_rng(7)
    bits = list(rng.normal(5, 8, 4000))
    a = _prior_from_pairs(_scored(bits, 1e-4), 3000, 1e-4)
    b = _prior_from_pairs(_scored(bits, 1e-4).iloc[::-1].reset_index(drop=True), 3000, 1e-4)
    assert a["match_weight"].tolist() == b["match_weight"].iloc[::-1].tolist()


def test_no_pairs_or_a_small_input_keep_the_prior():
    empty = _scored([], 1e-4)
    assert _prior_from_pairs(empty, 5000, 1e-4) is empty
    few = _scored([20.0] * 5, 1e-4)
    assert _prior_from_pairs(few, 100, 1e-4) is few  # 100 records: too few pairs to fit a share on

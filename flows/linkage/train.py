"""Train and save the linkage model: ``python -m flows.linkage.train [--out config/linkage_model.json]``.

Documented, reproducible procedure (no labels are used, nothing is set by hand):
1. records: the seeded Vietnamese synthetic set of ``flows.linkage.synth`` (20,000 children, seed 2021), read
   through the same contract path as ``songmaytinh dedupe`` (``identity_frame`` -> ``features``);
2. the prior from exact agreement on given + family name + birth date (recall assumed 0.8);
3. u probabilities by random sampling (2 million pairs, seed 2021);
4. m probabilities by expectation maximisation, once blocked on the given + family name and once on the birth
   date, so every comparison is estimated in a session that does not block on it;
5. a level never observed gets m = u (no evidence either way); m and u probabilities floored at 0.001 (a level never seen among matches in training must not veto a
   match by itself: the readable hard rules of ``flows.linkage.model.cannot_link`` do that).
At night the prior is estimated on the night's data; the u probabilities are sampled from it with the same seed
from 1,000 records on, and the m probabilities too from 5,000 records on (``flows.linkage.model.score``); term
frequencies always come from the data being linked.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from flows.linkage import model as linkage
TRAIN_CHILDREN = 20_000
PROBABILITY_FLOOR = linkage.PROBABILITY_FLOOR


def train_on(feats, seed: int = linkage.SEED, max_pairs: float = 2e6) -> dict:
    """Steps 2-5 of the procedure on a features frame (``flows.linkage.model.features``); returns the model dict."""
    from splink import DuckDBAPI, Linker

    linker = Linker(DuckDBAPI().register(feats), linkage.settings(), log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(linkage.DETERMINISTIC_RULES,
                                                                   recall=linkage.DETERMINISTIC_RECALL)
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    for rule in ("l.given = r.given AND l.family = r.family", "l.dob = r.dob"):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True, max_pairs=max_pairs / 4)
    model = linker.misc.save_model_to_json()
    for comp in model["comparisons"]:  # no level of one field may veto a match alone: hard rules do that
        for level in comp["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            if "m_probability" not in level or "u_probability" not in level:  # never seen: no evidence either way
                level["m_probability"] = level["u_probability"] = level.get("u_probability", PROBABILITY_FLOOR)
            for key in ("m_probability", "u_probability"):
                if key in level:  # 10 significant digits: DuckDB's parallel sums differ in the last bits
                    level[key] = float(f"{max(level[key], PROBABILITY_FLOOR):.10g}")
    model.pop("linker_uid", None)
    model["probability_two_random_records_match"] = float(f"{model['probability_two_random_records_match']:.10g}")
    return model


def train(out: Path = linkage.MODEL_PATH, children: int = TRAIN_CHILDREN, seed: int = linkage.SEED) -> dict:
    from flows.linkage.dedupe import identity_frame
    from flows.linkage.synth import generate

    raw = generate(children, seed=seed).drop(columns=["true_person", "twin_group"])  # the truth stays out
    feats = linkage.features(identity_frame(raw))
    model = train_on(feats, seed)
    model["training"] = {"procedure": "flows.linkage.train", "records": len(feats), "children": children,
                         "seed": seed}
    out.write_text(json.dumps(model, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return model


def main() -> None:  # pragma: no cover - a thin command line over ``train``
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=linkage.MODEL_PATH)
    args = parser.parse_args()
    model = train(args.out)
    print(f"wrote {args.out} (trained on {model['training']['records']} records)")


if __name__ == "__main__":  # pragma: no cover
    main()

"""Train and save the linkage model: ``python -m flows.linkage.train [--out config/linkage_model.json]``.

Documented, reproducible procedure (nothing is set by hand):
1. records: the seeded Vietnamese synthetic set of ``flows.linkage.synth`` (20,000 children, seed 2021), read
   through the same contract path as ``songmaytinh dedupe`` (``identity_frame`` -> ``features``);
2. the prior from exact agreement on given + family name + birth date (recall assumed 0.8);
3. u probabilities by random sampling (2 million pairs, seed 2021);
4. m probabilities counted on the set's true pairs (it knows who is who; EM would take its twins and siblings,
   who share a household and a class, for one child);
5. a level never seen among the true pairs gets the floor m = 0.001 (rare in a match: another commune, another
   sex); m and u probabilities floored at 0.001, so no level of one field vetoes a match alone: the evidence of
   every field is weighed together.
At night the prior is estimated on the night's data; the u probabilities are sampled from it with the same seed
from 1,000 records on, and the m probabilities too (EM) from 1,000 records on (``flows.linkage.scoring.score``); term
frequencies always come from the data being linked.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from flows.linkage.comparisons import MODEL_PATH, SEED
from flows.linkage.estimate import train_on
from flows.linkage.features import features

TRAIN_CHILDREN = 20_000


def train(out: Path = MODEL_PATH, children: int = TRAIN_CHILDREN, seed: int = SEED) -> dict:
    from flows.linkage.contract import identity_frame
    from flows.linkage.synth import generate

    raw = generate(children, seed=seed)
    # the truth is only the person each record belongs to: the linkage never sees it, m is counted on it
    feats = features(identity_frame(raw.drop(columns=["true_person", "twin_group"])))
    feats["true_person"] = raw["true_person"].astype(str).to_numpy()
    model = train_on(feats, seed, label_column="true_person")
    model["training"] = {"procedure": "flows.linkage.train", "records": len(feats), "children": children,
                         "seed": seed}
    out.write_text(json.dumps(model, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return model


def main() -> None:  # pragma: no cover - a thin command line over ``train``
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()
    model = train(args.out)
    print(f"wrote {args.out} (trained on {model['training']['records']} records)")


if __name__ == "__main__":  # pragma: no cover
    main()

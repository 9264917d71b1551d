"""Record linkage, step 3: score candidate pairs with Splink (DuckDB backend).

Parameters: on inputs of ``SELF_TRAIN_MIN_RECORDS`` records or more, u (random sampling) and m (EM) are
estimated on the data being linked by the documented, seeded procedure of ``flows.linkage.estimate``; smaller
inputs, and those where that training does not converge, use the m probabilities saved in
``config/linkage_model.json`` with u probabilities sampled from the data itself from ``TF_MIN_RECORDS`` records
on. The prior is always estimated on the data being linked: from exact agreement on name and birth date, then,
from ``SELF_TRAIN_MIN_RECORDS`` records on, refitted to the scored pairs by maximum likelihood (``_prior_from_pairs``).
Term-frequency adjustments on the given and family names are computed on the data itself from ``TF_MIN_RECORDS``
on. Blocking rules that would explode on a data set are counted first and left out.
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Callable

import pandas as pd

from flows.linkage.comparisons import (
    BLOCKING_RULES, DETERMINISTIC_RECALL, DETERMINISTIC_RULES, IDENTITY_COMPARISONS, PROBABILITY_FLOOR,
    REVIEW_THRESHOLD, SEED,
    SELF_TRAIN_MIN_RECORDS, TF_MIN_RECORDS, load_model,
)

log = logging.getLogger(__name__)


def score(feats: pd.DataFrame, model: dict | None = None, *, min_probability: float = REVIEW_THRESHOLD,
          train: Callable[..., dict] | None = None, train_rows: int | None = None) -> pd.DataFrame:
    """Scored candidate pairs (unique_id_l < unique_id_r, match_probability, match_weight, mw_* columns) at or above
    ``min_probability``. Empty frame when fewer than two records."""
    from splink import DuckDBAPI, Linker

    from flows.linkage.backends import on_backend

    logging.getLogger("splink").setLevel(logging.ERROR)  # its training chatter is not the night's business
    cols = ["unique_id_l", "unique_id_r", "match_probability", "match_weight"]
    if len(feats) < 2:
        return pd.DataFrame(columns=cols)
    own = feats if train_rows is None else feats.iloc[:train_rows]  # tonight's records, not the ledger's copies
    u_found: dict = {}  # u sampled while training: reused if training fails and the saved model's m stands
    if model is None and len(own) >= SELF_TRAIN_MIN_RECORDS:
        # enough records to learn this data's own parameters, by the same seeded procedure as the saved model
        from flows.linkage.estimate import train_on

        try:
            kwargs = {} if train else {"u_found": u_found}
            model = (train or train_on)(own.reset_index(drop=True), max_pairs=1e6, **kwargs)
            if _households_listed(own):
                model = _identity_disagreement_from_labels(model)
        except Exception as exc:  # EM can degenerate on some data (Splink refuses an m that underflows): the
            # saved model is the documented fallback, not a fault (the sample district's own night takes it)
            log.info("training on %d records did not converge (%s); the saved model is used", len(own),
                        type(exc).__name__)
            model = None
    own_u = model is None and len(own) >= TF_MIN_RECORDS  # the saved model, on an input large enough to sample
    model = json.loads(json.dumps({k: v for k, v in (model or load_model()).items() if k != "training"}))
    if own_u:
        _estimate_own_u(own.reset_index(drop=True), model, u_found or None)
    # the parameters these pairs are scored with: records linked later against the same night reuse them
    params = json.loads(json.dumps(model))
    model["retain_intermediate_calculation_columns"] = True
    if len(feats) < TF_MIN_RECORDS:  # too few records for name frequencies: the trained u values stand
        for comp in model["comparisons"]:
            for level in comp["comparison_levels"]:
                level.pop("tf_adjustment_column", None)
                level.pop("tf_adjustment_weight", None)
    db = DuckDBAPI()
    table = db.register(feats)
    model["blocking_rules_to_generate_predictions"] = [{"blocking_rule": r} for r in affordable_rules(table, len(feats))]
    # Splink's settings check parses every level's SQL and only logs, below ERROR: the settings are checked once
    # by tests/linkage/test_comparison_sql.py, not on every night
    linker = Linker(on_backend(feats, table), model, log_level=logging.ERROR, validate_settings=False)
    _estimate_prior(linker, len(feats), model)
    prior = linker._settings_obj._probability_two_random_records_match
    # scored a little below the floor: the prior the pairs then give may raise them over it
    pairs = linker.inference.predict(threshold_match_probability=min_probability / PRIOR_HEADROOM,
                                     warning_mode="never").as_pandas_dataframe()
    # what clustering and the review reasons read: the ids, the weights; not the name frequencies or match keys
    pairs = pairs[[c for c in pairs.columns if c.startswith("mw_") or c in _PAIR_COLUMNS]]
    pairs = _prior_from_pairs(pairs, len(feats), prior)
    pairs = pairs[pairs["match_probability"] >= min_probability].reset_index(drop=True)
    pairs.attrs["model"] = params
    return pairs


_PAIR_COLUMNS = ("unique_id_l", "unique_id_r", "match_probability", "match_weight")
PRIOR_HEADROOM = 10  # pairs are predicted down to the floor divided by this before the prior is refitted


def _prior_from_pairs(pairs: pd.DataFrame, n: int, prior: float) -> pd.DataFrame:
    """The prior (the share of all record pairs that are one person) refitted to the scored pairs, by maximum
    likelihood with the model's m and u held fixed: the prior is the mean match probability over all pairs, those
    never scored counting as 0, and each pair's probability depends on the prior; iterated to its fixed point (EM
    on the prior alone). The prior from exact agreement on name and birth date assumes that rule finds 80 % of the
    duplicates; on lists typed with many errors it finds far fewer and every pair was scored too low. From
    ``SELF_TRAIN_MIN_RECORDS`` records on, as the model's own training."""
    import math

    import numpy as np

    if not len(pairs) or n < SELF_TRAIN_MIN_RECORDS:  # too few pairs to say what share of them match
        return pairs
    total = n * (n - 1) / 2
    start = math.log2(prior / (1 - prior))
    bits = pairs["match_weight"].to_numpy(dtype=float) - start  # the comparisons' evidence, without the prior
    lam = prior
    for _ in range(200):
        logit = math.log2(lam / (1 - lam))
        # fsum: exact, whatever order DuckDB returned the pairs in
        new = min(max(math.fsum((1 / (1 + np.exp2(-(bits + logit)))).tolist()) / total, 1e-12), 0.5)
        done = abs(new - lam) <= 1e-9 * lam
        lam = new
        if done:
            break
    lam = float(f"{lam:.10g}")
    log.info("prior refitted to the scored pairs: %.3g (from %.3g)", lam, prior)
    logit = math.log2(lam / (1 - lam))
    out = pairs.copy()
    out["match_weight"] = bits + logit
    out["match_probability"] = 1 / (1 + np.exp2(-out["match_weight"].to_numpy(dtype=float)))
    return out


def _households_listed(feats: pd.DataFrame) -> bool:
    """Most records name a guardian or a class: lists where siblings and twins share context fields."""
    listed = feats["guardian"].notna() | feats["school"].notna()
    return bool(len(feats)) and float(listed.mean()) >= 0.5


def _identity_disagreement_from_labels(model: dict) -> dict:
    """On lists that name households and classes, EM cannot tell twins and siblings (one guardian, one class) from
    one child, so it learns that another given name or birth date is common among matches. There, for the levels
    where name and birth disagree outright, the saved model's m, counted on labelled true pairs, is used when it is
    smaller. (Registers without household fields, such as FEBRL, keep EM's own estimate: there it is unbiased.)"""
    saved = {c["output_column_name"]: c for c in load_model()["comparisons"]}
    for comp in model["comparisons"]:
        if comp["output_column_name"] not in IDENTITY_COMPARISONS or comp["output_column_name"] not in saved:
            continue
        labelled = {lvl["label_for_charts"]: lvl for lvl in saved[comp["output_column_name"]]["comparison_levels"]}
        for level in comp["comparison_levels"]:
            known = labelled.get(level["label_for_charts"])
            if level["label_for_charts"] == "else" and known and "m_probability" in known and "m_probability" in level:
                level["m_probability"] = min(level["m_probability"], known["m_probability"])
    return model


PAIRS_PER_RECORD = 100  # a blocking rule that would compare more pairs than this per record (and 1e6) is left out


def affordable_rules(table, n: int) -> list[str]:
    """``BLOCKING_RULES`` without those that would explode on this data (a "commune" column holding a province, a
    column where everyone has the same value): each rule's pairs are counted first, the rule on its own (Splink's
    blocking analysis, on a sample of large inputs), and a rule over ``PAIRS_PER_RECORD`` pairs per record is left
    out and logged, so that one data set cannot make the night run for hours. The other rules keep its pairs in
    reach.

    Splink counts a rule by building its pairs (about 45 ms a rule). A rule whose pairs are bounded by the budget
    anyway is not counted: the pairs agreeing on the values it compares side by side (``l.x = r.x``, ``left(l.x, 4) =
    left(r.x, 4)``) are counted for every rule in one query (``_plain_column_bounds``), and a rule within the budget
    by that bound is kept, as its own count, which is no larger, would keep it. Only the others are counted by
    Splink."""
    import warnings

    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    budget = max(1e6, PAIRS_PER_RECORD * n)
    bounds = _plain_column_bounds(table, BLOCKING_RULES)
    kept = []
    for rule in BLOCKING_RULES:  # each rule on its own: left out, a rule's pairs are no longer another's
        if bounds.get(rule, math.inf) <= budget:
            kept.append(rule)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Splink's notice that the counts are sampled estimates
            (count,) = count_comparisons_from_blocking_rules(table, blocking_rules=[rule], link_type="dedupe_only",
                                                             record_sample_proportion=min(1.0, 20_000 / max(n, 1)))
        if count["marginal_comparison_count"] > budget:
            log.warning("blocking rule left out: it would compare about %d pairs of %d records (%s)",
                        count["marginal_comparison_count"], n, rule)
        else:
            kept.append(rule)
    return kept


_SIDE = re.compile(r"\bl\.(\w+)")


def _top_level(text: str, sep: str) -> list[str]:
    """``text`` split at each ``sep`` outside parentheses."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i = i + len(sep)
            continue
        i += 1
    return [*parts, text[start:]]


def _symmetric_keys(rule: str) -> tuple[str, ...]:
    """The expressions of a record that a rule's conditions ``f(l) = f(r)`` compare (``l.x = r.x``, ``left(l.id,
    4) = left(r.id, 4)``), written on the record's own columns; its other conditions (``l.dob = r.dob_swap``,
    ``length(l.id) >= 6``) are left out: they only narrow the pairs."""
    keys = set()
    for condition in _top_level(rule, " AND "):
        sides = _top_level(condition.strip(), " = ")
        if len(sides) != 2:
            continue
        left, right = (side.strip() for side in sides)
        if "r." in left or not _SIDE.search(left) or _SIDE.sub(r"r.\1", left) != right:
            continue
        keys.add(_SIDE.sub(r'"\1"', left))
    return tuple(sorted(keys))


def _plain_column_bounds(table, rules: list[str]) -> dict[str, float]:
    """For each rule with conditions ``f(l) = f(r)`` (``_symmetric_keys``): the number of record pairs with equal
    values of all those expressions (none of them null), an upper bound of the rule's pairs (its other conditions
    only narrow them). One DuckDB query over ``table`` (a registered Splink frame) for all the rules."""
    keys = {rule: _symmetric_keys(rule) for rule in rules}
    distinct = sorted({k for k in keys.values() if k})
    if not distinct:
        return {}
    parts = []
    for i, exprs in enumerate(distinct):
        parts.append(f"SELECT {i} AS k, coalesce(sum(c * (c - 1) / 2), 0) AS pairs FROM (SELECT count(*) AS c "
                     f"FROM {table.physical_name} WHERE {' AND '.join(f'({e}) IS NOT NULL' for e in exprs)} "
                     f"GROUP BY {', '.join(exprs)})")
    found = dict(table.db_api.duckdb_con.execute(" UNION ALL ".join(parts)).fetchall())
    return {rule: float(found[distinct.index(exprs)]) for rule, exprs in keys.items() if exprs}


def _estimate_own_u(feats: pd.DataFrame, model: dict, sampled: dict | None = None) -> None:
    """The saved model's u probabilities (how often two different people agree by chance) replaced, level by
    level, by those of the data being linked, by the same seeded random sampling as ``flows.linkage.train``: how
    often two birth dates agree by chance depends on how many years a data set spans, not on the training set."""
    from splink import DuckDBAPI, Linker


    linker = Linker(DuckDBAPI().register(feats), json.loads(json.dumps(model)), log_level=logging.ERROR, validate_settings=False)
    _estimate_prior(linker, len(feats), model)
    prior = linker._settings_obj._probability_two_random_records_match
    if sampled is None:  # ``sampled``: the same sampling, already done while training on this data
        from flows.linkage.estimate import _u_counted_together, sampled_u

        with _u_counted_together(linker):
            linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=SEED)
        sampled = sampled_u(linker)
    for comp in model["comparisons"]:
        for level in comp["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            seen = sampled.get((comp["output_column_name"], level["label_for_charts"]))
            # random pairs include the true pairs (a share ``prior`` of them, agreeing with probability m): on a
            # small input they alone would make a telling agreement look common; take them out. A level no
            # sampled pair fell in is as rare as the floor allows.
            u = (seen - prior * level["m_probability"]) / (1 - prior) if seen is not None else 0.0
            level["u_probability"] = min(max(u, PROBABILITY_FLOOR), 1.0)


def _estimate_prior(linker, n: int, model: dict) -> None:
    try:
        linker.training.estimate_probability_two_random_records_match(DETERMINISTIC_RULES,
                                                                       recall=DETERMINISTIC_RECALL)
    except Exception as exc:  # noqa: BLE001 - Splink refuses when no exact match exists; keep the saved prior
        log.info("prior kept from the model (%s)", type(exc).__name__)
        return
    p = linker._settings_obj._probability_two_random_records_match
    if not (0 < p < 1) or p < 1e-9:  # nothing matched deterministically: one expected duplicate per record
        linker._settings_obj._probability_two_random_records_match = min(0.5, 1 / max(n, 2))


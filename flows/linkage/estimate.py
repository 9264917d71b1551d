"""Estimate the linkage model's parameters on a features frame: the seeded procedure shared by the saved model
(``flows.linkage.train``) and a night large enough to learn its own data (``flows.linkage.scoring``).

No labels are used and nothing is set by hand: the prior from exact agreement on given + family name + birth date
(recall assumed 0.8), u probabilities by random sampling, m probabilities by expectation maximisation, once blocked
on the given + family name and once on the birth date, so every comparison is estimated in a session that does not
block on it; every probability floored at ``PROBABILITY_FLOOR`` and rounded to 10 significant digits.

While EM iterates, an m or u probability that underflows (a level where every pair's match probability has become
0.0 in float64) is held at ``EM_UNDERFLOW_FLOOR``, the smallest value Splink accepts, instead of failing the
training: the level is one no match falls in, which the final floor says anyway (``_em_underflow_held``).
"""

from __future__ import annotations

import contextvars
import logging
from contextlib import contextmanager

from flows.linkage.comparisons import DETERMINISTIC_RECALL, DETERMINISTIC_RULES, PROBABILITY_FLOOR, SEED, settings


EM_UNDERFLOW_FLOOR = 1e-300  # Splink refuses an m or u below this ("cannot be represented accurately as float64")


@contextmanager
def _em_underflow_held():
    """EM's maximisation step with each new m and u probability held at ``EM_UNDERFLOW_FLOOR`` or above.

    Splink sets a level's m to the sum of its pairs' match probabilities over the sum of all: when the previous
    step made a level so unlikely among matches that every one of its pairs' probabilities underflows to 0.0, the
    new m is 0.0 and Splink raises, and the whole training is lost (the sample district's own night did). Held
    at the floor, EM goes on and converges; the level ends at ``PROBABILITY_FLOOR`` as every unseen level does.
    Values EM reaches without underflowing are untouched, so training that succeeded before gives the same model.
    Splink's module function is wrapped only for the duration of this training (its version is pinned in
    ``uv.lock``; ``tests/linkage/test_train.py`` fails if the wrapped function goes away)."""
    from splink.internals import expectation_maximisation as em

    original = em.populate_m_u_from_lookup

    def held(training_fixed_probabilities, comparison_level, output_column_name, m_u_records_lookup):  # noqa: ANN001, ANN202
        record = m_u_records_lookup.get(output_column_name, {}).get(comparison_level.comparison_vector_value)
        for key in ("m_probability", "u_probability"):
            value = record.get(key) if record else None
            if isinstance(value, (int, float)) and value < EM_UNDERFLOW_FLOOR:
                record[key] = EM_UNDERFLOW_FLOOR
        return original(training_fixed_probabilities, comparison_level, output_column_name, m_u_records_lookup)

    em.populate_m_u_from_lookup = held
    try:
        yield
    finally:
        em.populate_m_u_from_lookup = original


_EXACT_MATCH: dict[tuple, bool] = {}  # (level SQL, dialect) -> Splink's answer: a pure function of the text


@contextmanager
def _exact_match_remembered():
    """Splink's test of whether a comparison level is an exact match, remembered by the level's SQL and dialect.

    Each EM session asks it of every level (to find the levels a training blocking rule fixes), by parsing and
    simplifying the level's SQL with sqlglot: about 4 ms a level, 55 levels, two sessions a night; the answer
    depends on the SQL text alone, so a process asks sqlglot once per level (a worker running several districts,
    once in all). Installed only for the duration of a training, as ``_em_underflow_held`` (Splink's version is
    pinned in ``uv.lock``; ``tests/linkage/test_train.py`` checks the answers are Splink's own)."""
    from splink.internals.comparison_level import ComparisonLevel

    original = ComparisonLevel.__dict__["_is_exact_match"]

    def remembered(level) -> bool:  # noqa: ANN001
        key = (level.sql_condition, str(level.sqlglot_dialect), level._is_else_level)
        if key not in _EXACT_MATCH:
            _EXACT_MATCH[key] = original.fget(level)
        return _EXACT_MATCH[key]

    ComparisonLevel._is_exact_match = property(remembered)
    try:
        yield
    finally:
        ComparisonLevel._is_exact_match = original


# the sampling ``_u_counted_together`` answers for in this thread: Splink's module function is one for all threads,
# and one thread's counting must never answer another's (nor outlive its own sampling)
_U_TOGETHER: contextvars.ContextVar[object | None] = contextvars.ContextVar("songmaytinh_u_together", default=None)


@contextmanager
def _u_counted_together(linker):
    """Splink's random sampling of u with each chunk of its sampled pairs compared once for all the comparisons
    that need it, not once per comparison.

    Splink counts, comparison by comparison, how the sampled pairs fall into its levels, a chunk of the pairs at a
    time (a probe of 1 % of them, then tenths), and stops counting a comparison once each of its levels has been
    seen ``min_count_per_level`` times: on the sample district, 51 queries over the same cross join of the sample.
    Its stopping rule depends only on a comparison's own counts, so which chunks each comparison needs is known
    chunk by chunk: here the first comparison to ask for a chunk has it counted, in one query, for every
    comparison of ``linker`` that will ask for it (the probe for all; chunk k for those the probe and chunks 1 to
    k-1 left short), and each then takes its own counts. The same pairs are compared by the same SQL and the same
    integer counts added in the same order: the same early stops and the same u probabilities, bit for bit, in 11
    queries at most. A chunk this does not know how to answer (a comparison whose SQL is not ``linker``'s,
    another link type, a backend other than DuckDB) is counted by Splink as before. Installed only around a
    sampling, as ``_em_underflow_held``, and only for the thread that installed it (``_U_TOGETHER``: a sampling in
    another thread meanwhile is Splink's own). Splink's version is pinned in ``uv.lock``;
    ``tests/linkage/test_estimate_u.py`` checks the u probabilities are Splink's own."""
    from copy import deepcopy

    from splink.internals import estimate_u as eu
    from splink.internals.blocking import _sql_gen_where_condition
    from splink.internals.misc import dedupe_preserving_order
    from splink.internals.unique_id_concat import _composite_unique_id_from_nodes_sql

    original = eu._accumulate_u_counts_from_chunk_and_check_min_count
    comparisons = {c.output_column_name: c for c in deepcopy(linker._settings_obj.comparisons)}
    for comp in comparisons.values():  # as Splink samples: without the name frequencies
        for level in comp.comparison_levels:
            level._tf_adjustment_column = None
    sql_of = {name: (comp._columns_to_select_for_comparison_vector_values(False),
                     comp._columns_to_select_for_blocking()) for name, comp in comparisons.items()}
    # (sample table, number of chunks, chunk) -> comparison -> {comparison vector value: pairs}
    counted: dict[tuple[str, int, int], dict[str, dict[int, float]]] = {}
    same_sql: dict[int, bool] = {}  # id of Splink's comparison -> its SQL is ours

    def short(name: str, table: str, chunks: list[tuple[int, int]], min_count: int | None) -> bool:
        """Whether Splink's counting of ``name`` goes on after ``chunks`` (its rule: every level seen
        ``min_count`` times, a probe's counts started afresh)."""
        if min_count is None:
            return True
        acc = None
        for num, chunk in chunks:
            if chunk == 1:
                acc = eu._MUCountsAccumulator(comparisons[name])
            acc.update_from_chunk_counts(_records(counted[(table, num, chunk)][name]))
            if acc.all_levels_meet_min_u_count(min_count):
                return False
        return True

    def count(kw: dict, names: list[str]) -> dict[str, dict[int, float]]:
        db_api, uid_cols = kw["db_api"], [kw["unique_id_input_column"]]
        where = _sql_gen_where_condition(kw["link_type"], uid_cols, right_chunk=(kw["rhs_chunk_num"],
                                         kw["rhs_num_chunks"]), sql_dialect=db_api.sql_dialect)
        blocking = dedupe_preserving_order([c for name in names for c in sql_of[name][1]])
        gammas = dedupe_preserving_order([c for name in names for c in sql_of[name][0]])
        table = kw["df_sample"].physical_name
        pairs = (f"SELECT {_composite_unique_id_from_nodes_sql(uid_cols, 'l')} AS join_key_l, "
                 f"{_composite_unique_id_from_nodes_sql(uid_cols, 'r')} AS join_key_r, {', '.join(blocking)}, "
                 f"'0' AS match_key FROM {table} AS l INNER JOIN {table} AS r ON (1=1) {where}")
        parts = [f"SELECT '{name}' AS name, {comparisons[name]._gamma_column_name} AS cvv, count(*) AS n "
                 f"FROM __vectors GROUP BY ALL" for name in names]
        sql = (f"WITH __pairs AS ({pairs}), __vectors AS (SELECT {', '.join(gammas)} FROM __pairs) "
               f"{' UNION ALL '.join(parts)}")
        found: dict[str, dict[int, float]] = {name: {} for name in names}
        for name, cvv, n in db_api.duckdb_con.execute(sql).fetchall():
            found[name][int(cvv)] = float(n)
        return found

    def together(**kw):  # noqa: ANN003, ANN202 - Splink's keyword arguments
        if _U_TOGETHER.get() is not mine:  # another thread's sampling, or one this function outlived
            return original(**kw)
        comparison, db_api = kw["comparison"], kw["db_api"]
        name = comparison.output_column_name
        if id(comparison) not in same_sql:  # Splink's copy of the comparison, asked once (sqlglot: ~10 ms)
            same_sql[id(comparison)] = name in sql_of and sql_of[name] == (
                comparison._columns_to_select_for_comparison_vector_values(False),
                comparison._columns_to_select_for_blocking())
        if (kw["split_sqls"] or kw["source_dataset_input_column"] is not None or kw["link_type"] != "dedupe_only"
                or not hasattr(db_api, "duckdb_con") or not same_sql[id(comparison)]):
            return original(**kw)
        table, num, chunk = kw["df_sample"].physical_name, kw["rhs_num_chunks"], kw["rhs_chunk_num"]
        key = (table, num, chunk)
        if key not in counted or name not in counted[key]:
            # the chunks each comparison counted before this one, in Splink's order: the probe (the one chunk of
            # more than ``num``), then 1 to ``chunk`` - 1
            probe = [k for k in counted if k[0] == table and k[1] > num and k[2] == 1]
            before = (probe[:1] if probe else []) + [(table, num, c) for c in range(1, chunk)]
            names = [n for n in sql_of if all(n in counted.get(k, {}) for k in before)
                     and short(n, table, [k[1:] for k in before], kw["min_count_per_level"])
                     and n not in counted.get(key, {})]
            if name not in names:
                return original(**kw)
            counted.setdefault(key, {}).update(count(kw, names))
        kw["counts_accumulator"].update_from_chunk_counts(_records(counted[key][name]))
        if kw["min_count_per_level"] is None:
            return False
        return kw["counts_accumulator"].all_levels_meet_min_u_count(kw["min_count_per_level"])

    mine = object()
    active = _U_TOGETHER.set(mine)
    eu._accumulate_u_counts_from_chunk_and_check_min_count = together
    try:
        yield
    finally:
        eu._accumulate_u_counts_from_chunk_and_check_min_count = original
        _U_TOGETHER.reset(active)


def _records(counts: dict[int, float]) -> list[dict]:
    return [{"comparison_vector_value": cvv, "u_count": n} for cvv, n in sorted(counts.items())]


def sampled_u(linker) -> dict[tuple[str, str], float]:
    """The u probabilities random sampling left on ``linker``, by (comparison, level label): what a caller that
    falls back to the saved model's m can reuse instead of sampling the same pairs again."""
    out = {}
    for comp in linker._settings_obj.comparisons:
        for level in comp.comparison_levels:
            seen = [r["probability"] for r in level._trained_u_probabilities
                    if isinstance(r["probability"], (int, float))]
            if seen:
                out[(comp.output_column_name, level.label_for_charts)] = seen[-1]
    return out


def train_on(feats, seed: int = SEED, max_pairs: float = 2e6, label_column: str | None = None,
             u_found: dict | None = None) -> dict:
    """Steps 2-5 of the procedure on a features frame (``flows.linkage.features.features``); returns the model dict.

    ``u_found``: filled with the sampled u probabilities (``sampled_u``) before EM runs.
    ``label_column``: a column of ``feats`` that names each record's person (the synthetic training set knows who
    is who): m probabilities are then counted on its true pairs instead of estimated by EM. EM on unlabelled
    lists takes twins and siblings, who share a household and a class, for one child and learns that another
    given name or birth date is common among matches; labels do not."""
    from splink import DuckDBAPI, Linker

    model_settings = settings()
    if label_column:
        model_settings["additional_columns_to_retain"] = [label_column]
    # Splink's settings check parses every level's SQL and only logs, below ERROR: the settings are checked once
    # by tests/linkage/test_comparison_sql.py, not on every night
    linker = Linker(DuckDBAPI().register(feats), model_settings, log_level=logging.ERROR, validate_settings=False)
    linker.training.estimate_probability_two_random_records_match(DETERMINISTIC_RULES,
                                                                   recall=DETERMINISTIC_RECALL)
    with _u_counted_together(linker):
        linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    if u_found is not None:  # kept for the caller before EM, which may fail on this data
        u_found.update(sampled_u(linker))
    if label_column:
        linker.training.estimate_m_from_label_column(label_column)
    else:
        with _em_underflow_held(), _exact_match_remembered():
            for rule in ("l.given = r.given AND l.family = r.family", "l.dob = r.dob"):
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, estimate_without_term_frequencies=True, max_pairs=max_pairs / 4)
    model = linker.misc.save_model_to_json()
    for comp in model["comparisons"]:  # no level of one field may veto a match alone: hard rules do that
        for level in comp["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            if "u_probability" not in level:  # never seen: no evidence either way
                level["m_probability"] = level["u_probability"] = PROBABILITY_FLOOR
            elif "m_probability" not in level:
                # counted on labelled true pairs and never seen among them: rare in a match; estimated by EM and
                # never reached: no evidence either way
                level["m_probability"] = PROBABILITY_FLOOR if label_column else level["u_probability"]
            for key in ("m_probability", "u_probability"):
                if key in level:  # 10 significant digits: DuckDB's parallel sums differ in the last bits
                    level[key] = float(f"{max(level[key], PROBABILITY_FLOOR):.10g}")
    model.pop("linker_uid", None)
    model["additional_columns_to_retain"] = []
    model["probability_two_random_records_match"] = float(f"{model['probability_two_random_records_match']:.10g}")
    return model

"""Great Expectations without its repeated bookkeeping: the same validation, each value worked out once per run.

Profiled on the district sample (28 expectations, ``songmaytinh bench district``), most of GX's time was not
spent on the data but on four things it recomputes over and over while it builds the metric graph and the
results (GX 1.x, ``great_expectations/expectations`` and ``core/id_dict.py``):

- ``Expectation.configuration``, a property that rebuilds the expectation's pydantic ``dict()`` on every read:
  about 140 reads per expectation and validation (each metric's kwargs, each success/domain key);
- ``ExpectationConfiguration.to_domain_obj``, which builds (and pydantic-validates) a new Expectation from the
  same configuration for every metric it asks about;
- ``IDDict.to_id``, each metric configuration's id, which runs ``convert_to_json_serializable`` (numpy type
  checks on every element, value sets of a few hundred villages included) before ``json.dumps``;
- ``ValidationGraph.build_metric_dependency_graph``, which asks each metric's provider for its dependencies
  (new MetricConfigurations, new ids) again for every expectation and every path that reaches that metric
  (the table's columns and row count, each column's null condition...): about 56 nodes per expectation.

``lean()`` makes the first two and the dependencies of a metric (by its id and the run's configuration) answer
from a memo for the duration of one validation (the objects are made and
read within it; the memo is dropped when it ends), and gives ``to_id`` a fast path for values that are already
plain JSON (str, int, bool, None, finite or infinite floats, lists, tuples and str-keyed dicts of those), for
which GX's conversion returns the values unchanged: the id is the same md5 of the same ``json.dumps``. Anything
else takes GX's own code. GX's results are unchanged (``tests/rules/test_lean.py`` compares a whole validation
result with and without), and GX stays the rule engine: it still builds the graph, computes every metric and
writes every result. The patches are installed on first use and are inert outside ``lean()``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from contextlib import contextmanager
from typing import Any, Iterator

_STATE = threading.local()
_INSTALLED = False
_INSTALL_LOCK = threading.Lock()
_PLAIN_SCALARS = (str, int, bool, type(None))
_KEYED_BY_VALUE = (str, int, bool, type(None), float)
_DICTS: tuple[type, ...] = (dict,)  # and GX's IDDict, once installed


def _memo() -> dict | None:
    return getattr(_STATE, "memo", None)


def _plain(value: Any) -> bool:
    """Whether GX's ``convert_to_json_serializable`` gives ``value`` back as it is (for ``json.dumps``)."""
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return True
    if kind is float:
        return value == value  # NaN becomes None in GX's conversion
    if kind is list or kind is tuple:
        return all(_plain(v) for v in value)
    if kind in _DICTS:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    return False


def _install() -> None:
    global _INSTALLED, _DICTS
    with _INSTALL_LOCK:
        if _INSTALLED:
            return
        from great_expectations.core.id_dict import IDDict
        from great_expectations.expectations.expectation import Expectation
        from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

        configuration = Expectation.configuration.fget
        to_domain_obj = ExpectationConfiguration.to_domain_obj
        to_id = IDDict.to_id
        _DICTS = (dict, IDDict)

        def memoized(kind: str, compute):  # noqa: ANN001, ANN202
            def read(self):  # noqa: ANN001, ANN202
                memo = _memo()
                if memo is None:
                    return compute(self)
                key = (kind, id(self))
                hit = memo.get(key)
                if hit is not None and hit[0] is self:
                    return hit[1]
                value = compute(self)
                memo[key] = (self, value)  # the object is kept: its id cannot be reused while the memo lives
                return value
            read.__wrapped__ = compute
            read.__doc__ = compute.__doc__
            return read

        def fast_to_id(self, id_keys=None, id_ignore_keys=None):  # noqa: ANN001, ANN202
            memo = _memo()
            if memo is not None and id_keys is None and id_ignore_keys is None:
                keys = set(self.keys()) - set(self._id_ignore_keys)
                if len(keys) > 1:
                    data = {k: self[k] for k in keys}
                    # the same values of the same types (a container: the same object, kept alive below) give
                    # the same id; True and 1 are equal keys in Python, hence the type
                    key = ("to_id", *sorted((k, type(v), v if type(v) in _KEYED_BY_VALUE else id(v))
                                            for k, v in data.items()))
                    hit = memo.get(key)
                    if hit is not None:
                        return hit[1]
                    if _plain(data):
                        found = hashlib.md5(json.dumps(data, sort_keys=True).encode("utf-8"),
                                            usedforsecurity=False).hexdigest()
                        memo[key] = (list(data.values()), found)
                        return found
            return to_id(self, id_keys, id_ignore_keys)

        fast_to_id.__wrapped__ = to_id

        def memo_dependencies(graph, metric_configuration, runtime_configuration=None):  # noqa: ANN001, ANN202
            memo = _memo()
            if memo is None:
                return build_graph(graph, metric_configuration, runtime_configuration)
            impl, _ = graph.set_metric_configuration_default_kwargs_if_absent(metric_configuration)
            key = ("dependencies", metric_configuration.id, id(runtime_configuration), id(graph._execution_engine))
            hit = memo.get(key)
            if hit is None:
                deps = impl.get_evaluation_dependencies(metric=metric_configuration,
                                                        execution_engine=graph._execution_engine,
                                                        runtime_configuration=runtime_configuration)
                hit = memo[key] = (runtime_configuration, deps)
            deps = hit[1]
            if not deps:
                graph.add(MetricEdge(left=metric_configuration))
                return
            metric_configuration.metric_dependencies = deps
            for dependency in deps.values():
                if dependency.id == metric_configuration.id:
                    continue
                graph.add(MetricEdge(left=metric_configuration, right=dependency))
                memo_dependencies(graph, dependency, runtime_configuration)

        from great_expectations.validator.validation_graph import MetricEdge, ValidationGraph

        build_graph = ValidationGraph.build_metric_dependency_graph
        ValidationGraph.build_metric_dependency_graph = memo_dependencies
        Expectation.configuration = property(memoized("configuration", configuration))
        ExpectationConfiguration.to_domain_obj = memoized("domain_obj", to_domain_obj)
        IDDict.to_id = fast_to_id
        _INSTALLED = True


@contextmanager
def lean(fingerprint: bool = True) -> Iterator[None]:
    """Within: this thread's GX validation reads each expectation's configuration and domain object once.
    ``fingerprint=False``: a pandas batch loaded within gets no ``pandas_data_fingerprint`` marker, an md5 of the
    whole frame (``hash_pandas_object``) that GX computes for every frame under 1 GB and that a caller who drops
    the result's batch markers (``flows.rules.datadocs.summarize``) never reads."""
    _install()
    outer = _memo()
    if outer is not None:  # nested: the outer run's memo serves
        yield
        return
    _STATE.memo = {}
    engine, threshold = None, None
    if not fingerprint:
        from great_expectations.execution_engine import pandas_execution_engine as engine

        threshold, engine.HASH_THRESHOLD = engine.HASH_THRESHOLD, 0  # memory_usage().sum() < 0: never hashed
    try:
        yield
    finally:
        _STATE.memo = None
        if engine is not None:
            engine.HASH_THRESHOLD = threshold

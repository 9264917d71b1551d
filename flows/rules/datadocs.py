"""Great Expectations Data Docs for the run: the students suite and tonight's validation, as a static HTML site.

The validate stage hands over its result as a plain JSON-able dict (``summarize``), stripped of every cell value
and row index, so the site shows each rule, how many rows it checked and how many failed, and nothing about a
child: officers find the rows themselves in the issues sheets and ``exports/issues.csv``. ``build`` writes the
site once per run into the run folder (``<run>/data-docs/index.html``), before the manifest is written, so the
manifest lists it and the run folder is switched in with it. The pages fetch nothing from the internet
(``flows.rules.offline_docs``).
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import os
from pathlib import Path
from typing import Any

from flows.config import AppConfig
from flows.rules.offline_docs import make_offline

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
log = logging.getLogger(__name__)

SITE = "songmaytinh"
FOLDER = "data-docs"
# Result keys that carry cell values or row positions (personal data): dropped before the result is kept.
_VALUE_KEYS = ("partial_unexpected_list", "partial_unexpected_counts", "partial_unexpected_index_list",
               "unexpected_list", "unexpected_index_list", "unexpected_index_query", "unexpected_index_column_names",
               "observed_value", "details")


def summarize(result: Any) -> dict:
    """A GX suite validation result as a JSON-able dict with counts only (no cell values, no row keys)."""
    data = copy.deepcopy(result.to_json_dict())
    for item in data.get("results", []):
        res = item.get("result") or {}
        for key in _VALUE_KEYS:
            res.pop(key, None)
        item["result"] = res
        item["exception_info"] = {"raised_exception": False, "exception_message": None, "exception_traceback": None}
    meta = data.setdefault("meta", {})
    meta.pop("batch_markers", None)  # a fingerprint of the frame
    return data


def build(summary: dict, cfg: AppConfig, run_id: str, started_at: dt.datetime, folder: Path) -> Path | None:
    """Write the Data Docs site for one run into ``folder``; return its index page (None: nothing to show). Great
    Expectations writes it in the rule engine's process when it runs (``flows.rules.engine``)."""
    if not summary or not summary.get("results"):
        return None
    from flows.rules import engine
    from validations.students import expectation_specs

    index = engine.data_docs(summary, expectation_specs(cfg), run_id, started_at, folder)
    log.info("data docs: %d expectations written to %s", len(summary["results"]), folder.name)
    return index


def write_site(summary: dict, specs: list, run_id: str, started_at: dt.datetime, folder: Path) -> Path | None:
    """``build`` with the suite given as ``validations.students.expectation_specs``: what the worker runs."""
    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )
    from validations.students import suite_of

    from validations import quiet_gx_loggers

    quiet_gx_loggers()
    folder.mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="ephemeral")
    ctx.add_data_docs_site(site_name=SITE, site_config={
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": str(folder.resolve())},  # GX refuses a relative one
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    suite = suite_of(specs)
    ctx.suites.add(suite)
    result = ExpectationSuiteValidationResultSchema().load(summary)
    when = started_at if started_at.tzinfo else started_at.replace(tzinfo=dt.timezone.utc)
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
        run_id=RunIdentifier(run_name=run_id, run_time=when),
        batch_identifier="students",
    )
    ctx.validation_results_store.set(key, result)
    ctx.build_data_docs(site_names=[SITE])
    make_offline(folder)  # no CDN: the page opens offline and tells no one who reads it
    index = folder / "index.html"
    return index if index.exists() else None

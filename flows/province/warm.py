"""Dask worker preload of the province night's local cluster: a worker imports what every district night uses
(pandas, Great Expectations, Splink, the stages and the workbook writers) as it starts, which the cluster does
while Prefect's temporary server starts in the parent, instead of inside its first district night.

Imports only, and never Prefect: a worker reads Prefect's settings when its first task arrives, after it has been
told the API URL of the night's server (``flows.province.flow``)."""

from __future__ import annotations

import importlib
import os

from distributed.diagnostics.plugin import WorkerPlugin

MODULES = ("pandas", "great_expectations", "splink", "flows.pipeline", "flows.province.night",
           "flows.rules.validate", "flows.linkage.clustering", "flows.publishing.publish")


def dask_setup(worker) -> None:  # noqa: ANN001 - distributed.Worker
    for name in MODULES:
        importlib.import_module(name)


class PrefectApi(WorkerPlugin):
    """Dask worker plugin: sets ``PREFECT_API_URL`` in each worker, those running now and any started later, so
    their tasks report to the night's server."""

    name = "songmaytinh-prefect-api"

    def __init__(self, url: str) -> None:
        self.url = url

    def setup(self, worker) -> None:  # noqa: ANN001
        os.environ["PREFECT_API_URL"] = self.url

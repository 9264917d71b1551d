"""The fault tests' shared nights: the small district (``district``) and a reference pair of nights on it that met
no fault (``reference``), computed once per test process (the tests that use them share one xdist worker:
``xdist_group("fault-nights")``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from tests.faults.district import exports, small_district

AS_OF = dt.date(2022, 3, 1)


@dataclass
class Reference:
    counts: dict
    run_dir: Path
    exports: dict[str, pd.DataFrame]


@pytest.fixture(scope="session")
def district(tmp_path_factory) -> tuple[Path, Path]:
    """(night A's sources, night B's): see ``tests.faults.district``."""
    return small_district(tmp_path_factory.mktemp("district"))


@pytest.fixture(scope="session")
def reference(district, cfg, tmp_path_factory) -> Reference:
    """Night A then night B on a fresh SQLite ledger, nothing injected: what night B publishes when all is well."""
    from flows.pipeline import run_night

    out = tmp_path_factory.mktemp("reference")
    url = f"sqlite:///{out / 'ledger.sqlite'}"
    run_night(district[0], cfg, out, AS_OF, url)
    result, run_dir = run_night(district[1], cfg, out, AS_OF, url)
    return Reference(result.counts, run_dir, exports(run_dir))

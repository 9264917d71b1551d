"""The runs the publishing tests read: the small night published once, and once more with officers' sheets
(handovers, device-use follow-up). Session-scoped: tests only read them."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from flows.publishing.publish import publish
from tests.publishing.night import make_result


@pytest.fixture(scope="session")
def published(cfg, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return publish(make_result(), cfg, out)


@pytest.fixture(scope="session")
def officer_run(cfg, tmp_path_factory):
    result = make_result(run_id="officer")
    al = result.allocations
    al.loc[al["person_id"].isin(["P006", "P007", "P008"]), "village"] = "Thôn Khòn Pần"
    result.handovers = pd.DataFrame([{"person_id": "P007", "need": "device", "item": "smartphone", "serial": "SN1",
                                      "date": dt.date(2022, 1, 8), "received_by": "Đặng Văn Bố", "donation_id": "D-003",
                                      "source": "ban-giao.xlsx", "run_id": "r"}])
    result.follow_ups = pd.DataFrame([{"person_id": "P007", "need": "device", "item": "smartphone", "serial": "SN1",
                                       "state": "broken", "checked_on": "2022-01-10", "checked_by": "GVCN",
                                       "note": "", "source": "theo-doi.xlsx"}])
    return publish(result, cfg, tmp_path_factory.mktemp("officer"))

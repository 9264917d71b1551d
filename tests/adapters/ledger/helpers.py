"""What the ledger tests share: a clock that moves only when told, allocation frames as the allocator returns them."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from flows.adapters.ledger import Ledger

T0 = dt.datetime(2022, 3, 1, 8, 0, tzinfo=dt.timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, minutes: int = 60) -> None:
        self.now += dt.timedelta(minutes=minutes)


def alloc_rows(*rows: tuple) -> pd.DataFrame:
    """(person_id, need, item, donation_id, status[, full_name]) -> an allocations frame as allocate returns."""
    out = []
    for r in rows:
        pid, need, item, donation, status, *rest = r
        out.append({"person_id": pid, "need": need, "item": item, "donation_id": donation, "status": status,
                    "full_name": rest[0] if rest else "", "date_of_birth": "2012-05-01", "commune_code": "06388",
                    "school_code": "TH-06388", "guardian_name": "Nguyễn Văn Bố"})
    return pd.DataFrame(out)


def active(led: Ledger) -> set[tuple]:
    df = led.active_allocations()
    return set(df[["person_id", "need", "item", "donation_id", "status"]].itertuples(index=False, name=None))


"""Reuse in allocation: the allocator's answer, kept under everything it reads.

``flows.allocation.allocate.allocate`` is a pure function of tonight's persons, the donations, the connectivity
lists, the ledger's active allocations (``previous``), the district config, the stored overrides, the open review
pairs and the as-of date. The date reaches it in two places only: a donation counts when it is dated on or before
it (``flows.allocation.units``), an override waits when it is dated after it (``flows.allocation.overrides``). So
the key holds, instead of the date itself, the answer to "on or before the as-of date?" for every donation and
override date: a later night with the same lists and the same ledger state takes the kept answer even on another
day, and a night on whose date a donation arrives or an override falls due allocates again. The ledger's part
(recording the allocations, the change log, the officer sheets) always runs.

The first night after a change allocates again even when nothing else changed: its ``previous`` is the answer of
the night before, not that night's ``previous``.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from flows.reuse.fingerprints import code_version, digest, frame_fingerprint
from flows.reuse.store import Reuse

AREA = "allocation"


def _dates_reached(frame: pd.DataFrame | None, column: str, as_of: dt.date) -> tuple[bool | None, ...]:
    """For each row: whether its date (read as the allocator reads it) is on or before ``as_of``; None undated."""
    from flows.allocation.values import as_day

    if frame is None or column not in frame.columns:
        return ()
    days = (as_day(v) for v in frame[column].tolist())
    return tuple(None if d is None else d <= as_of for d in days)


def allocation_key(persons, donations, connectivity, previous, district, as_of: dt.date,  # noqa: ANN001
                   overrides=None, review_pairs=None) -> str:  # noqa: ANN001
    """The key of ``allocate(persons, donations, connectivity, previous, district, as_of, overrides,
    review_pairs)``: every frame value by value, the district config, the code, and of the date only which
    donation and override dates it has reached."""
    return digest(AREA, *(frame_fingerprint(f) for f in (persons, donations, connectivity, previous, overrides,
                                                          review_pairs)),
                  district.model_dump_json(), _dates_reached(donations, "date", as_of),
                  _dates_reached(overrides, "decided_on", as_of), code_version())


def allocator(reuse: Reuse | None):
    """A drop-in for ``flows.allocation.allocate.allocate`` that takes a kept answer when its key matches."""
    from flows.allocation.allocate import allocate

    if reuse is None:
        return allocate

    def reusing_allocate(persons, donations, connectivity, previous, district, as_of,  # noqa: ANN001, ANN202
                         overrides=None, review_pairs=None):
        key = allocation_key(persons, donations, connectivity, previous, district, as_of, overrides, review_pairs)
        got = reuse.take(AREA, key, "allocate")
        if got is None:
            got = allocate(persons, donations, connectivity, previous, district, as_of, overrides, review_pairs)
            reuse.keep(AREA, key, got, "allocate")
        return got

    return reusing_allocate

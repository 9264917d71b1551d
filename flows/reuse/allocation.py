"""Reuse in allocation: the allocator's answer, kept under everything it reads.

``flows.allocation.allocate.allocate`` is a pure function of tonight's persons, the donations, the connectivity
lists, the ledger's active allocations (``previous``), the district config, the stored overrides, the open review
pairs and the as-of date. Of ``previous`` it reads each active allocation's person, need, status, unit and the
identity and ``left_when_turn`` it was recorded with, never the run that made it or when (``PREVIOUS_READS``): the
key holds those columns only. The date reaches it in two places only: a donation counts when it is dated on or
before it (``flows.allocation.units``), an override waits when it is dated after it
(``flows.allocation.overrides``). So the key holds, instead of the date itself, the answer to "on or before the
as-of date?" for every donation and override date: a later night with the same lists and the same ledger state
takes the kept answer even on another day, and a night on whose date a donation arrives or an override falls due
allocates again. The ledger's part (recording the allocations, the change log, the officer sheets) always runs.

The night after an allocation is the first to read it from the ledger as ``previous``: its answer is another
(its change log is empty, an override already applied is logged as such). So a night that allocated, once its
allocations are recorded, allocates once more on the ledger state the next night will read (``ahead``) and keeps
that answer under that night's key: an unchanged next night takes it. Nothing is predicted: the kept answer is
the allocator's own on exactly those inputs, and a next night whose ledger state differs (a handover recorded,
two children merged) has another key and allocates.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from flows.reuse.fingerprints import code_version, digest, frame_fingerprint
from flows.reuse.store import Reuse

AREA = "allocation"
# the columns of ``previous`` the allocator reads (``flows.allocation.allocate._previous``)
PREVIOUS_READS = ("person_id", "need", "status", "item", "donation_id", "full_name", "date_of_birth",
                  "commune_code", "school_code", "guardian_name", "left_when_turn")


def _dates_reached(frame: pd.DataFrame | None, column: str, as_of: dt.date) -> tuple[bool | None, ...]:
    """For each row: whether its date (read as the allocator reads it) is on or before ``as_of``; None undated."""
    from flows.allocation.values import as_day

    if frame is None or column not in frame.columns:
        return ()
    days = (as_day(v) for v in frame[column].tolist())
    return tuple(None if d is None else d <= as_of for d in days)


def _read_of_previous(previous: pd.DataFrame | None) -> pd.DataFrame | None:
    """``previous`` as the allocator reads it: the columns of ``PREVIOUS_READS`` it has, in order."""
    if previous is None or not isinstance(previous, pd.DataFrame):
        return previous
    return previous[[c for c in previous.columns if c in PREVIOUS_READS]]


def allocation_key(persons, donations, connectivity, previous, district, as_of: dt.date,  # noqa: ANN001
                   overrides=None, review_pairs=None) -> str:  # noqa: ANN001
    """The key of ``allocate(persons, donations, connectivity, previous, district, as_of, overrides,
    review_pairs)``: every frame value by value (``previous``: the columns the allocator reads), the district
    config, the code, and of the date only which donation and override dates it has reached."""
    return digest(AREA, *(frame_fingerprint(f) for f in (persons, donations, connectivity,
                                                          _read_of_previous(previous), overrides, review_pairs)),
                  district.model_dump_json(), _dates_reached(donations, "date", as_of),
                  _dates_reached(overrides, "decided_on", as_of), code_version())


class Allocator:
    """A drop-in for ``flows.allocation.allocate.allocate`` that takes a kept answer when its key matches
    (``reuse`` None: it always allocates), and can allocate ahead for the next night (``ahead``)."""

    def __init__(self, reuse: Reuse | None):
        self.reuse = reuse
        self._tonight: tuple | None = None  # the inputs of an answer computed tonight, and its key

    def __call__(self, persons, donations, connectivity, previous, district, as_of,  # noqa: ANN001, ANN204
                 overrides=None, review_pairs=None):
        from flows.allocation.allocate import allocate

        if self.reuse is None:
            return allocate(persons, donations, connectivity, previous, district, as_of, overrides, review_pairs)
        key = allocation_key(persons, donations, connectivity, previous, district, as_of, overrides, review_pairs)
        got = self.reuse.take(AREA, key, "allocate")
        if got is None:
            got = allocate(persons, donations, connectivity, previous, district, as_of, overrides, review_pairs)
            self.reuse.keep(AREA, key, got, "allocate")
            self._tonight = (key, persons, donations, connectivity, district, as_of, overrides, review_pairs)
        return got

    @property
    def computed(self) -> bool:
        """Whether tonight's answer was computed (not taken) on a night that keeps a store."""
        return self._tonight is not None and self.reuse is not None and self.reuse.root is not None

    def ahead(self, previous: pd.DataFrame) -> bool:
        """When tonight allocated (its answer was not kept), allocate again on ``previous``, the ledger's active
        allocations as tonight left them (what the next night reads), and keep that answer under its key, named
        "allocate (next night)". True when it did (not for a night with no store, nor when ``previous`` gives
        tonight's own key)."""
        from flows.allocation.allocate import allocate

        if not self.computed:
            return False
        tonight, persons, donations, connectivity, district, as_of, overrides, review_pairs = self._tonight
        key = allocation_key(persons, donations, connectivity, previous, district, as_of, overrides, review_pairs)
        if key == tonight:
            return False
        self.reuse.keep(AREA, key, allocate(persons, donations, connectivity, previous, district, as_of, overrides,
                                            review_pairs), "allocate (next night)")
        return True


def allocator(reuse: Reuse | None) -> Allocator:
    """The allocator of a night (``Allocator``)."""
    return Allocator(reuse)

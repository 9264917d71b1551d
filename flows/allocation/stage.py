"""The allocate stage as the nightly flow runs it: the allocator (``flows.allocation.allocate``) with its ledger I/O.

Officer sheets are linked to tonight's persons and stored, yesterday's active allocations are read, tonight's
allocation is recorded with its change log. ``flows.nightly`` wires it between dedupe and publish (a Prefect task).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from flows.allocation.allocate import Allocation
from flows.allocation.officer_sheets import (donation_issues, link_rows, person_index, usable_follow_ups,
                                            usable_overrides)
from flows.config import AppConfig
from flows.frames import Issue
from flows.text import fold


def allocate_supports(persons: pd.DataFrame, normalized, cfg: AppConfig, ledger, run_id: str,
                      as_of: dt.date, earlier_changes: list[pd.DataFrame], headers: dict | None = None,
                      review_pairs: pd.DataFrame | None = None, reuse=None) -> Allocation:
    """Allocate stage with its ledger I/O: yesterday's active allocations in, tonight's decisions out.

    ``normalized``: the normalize stage's frames (``flows.stages.Normalized``: donations, connectivity, handover,
    follow_up, overrides); ``ledger``: a ``flows.adapters.ledger.Ledger``.

    Officer sheets are linked to tonight's persons first (``flows.allocation.officer_sheets``): handover rows that name a child
    without the programme id, overrides (stored for good, then applied by the allocator) and device-use
    follow-ups. Rows that name nobody, and the donations ledger's problems, become issues (``allocation.issues``).
    ``review_pairs``: tonight's undecided pairs, never both supported (``flows.allocation.allocate``).
    ``reuse`` (``flows.reuse.Reuse``): the allocator's answer is taken from the store when everything it reads is
    that of a kept night (``flows.reuse.allocation``); the ledger is written either way. A night that allocated
    also allocates on the ledger state it leaves, for the next night to take (``Allocator.ahead``).
    """
    from flows.reuse.allocation import allocator

    issues: list[Issue] = []
    changes = list(earlier_changes)
    index = person_index(persons)  # the officer sheets are looked up in tonight's persons: indexed once
    handover = normalized.handover
    if handover is not None and len(handover):
        ids = handover["person_id"].fillna("").astype(str)
        unnamed = handover[~ids.isin(ledger.known_person_ids(ids))]  # no id, or one the ledger never issued
        linked, found = link_rows(unnamed, persons, headers, index=index)
        issues += found
        if len(linked):
            changes.append(ledger.record_handovers(run_id, linked))
    overrides, bad = usable_overrides(normalized.overrides, headers)
    issues += bad
    if overrides is not None and len(overrides):
        linked, found = link_rows(overrides, persons, headers, index=index)
        issues += found
        ledger.record_overrides(run_id, linked.assign(source=linked["source_file"]))
    handed = ledger.handovers()
    serials = {fold(s): pid for s, pid in zip(handed["serial"], handed["person_id"]) if s}
    follow_up, bad = usable_follow_ups(normalized.follow_up, headers)
    issues += bad
    if follow_up is not None and len(follow_up):
        linked, found = link_rows(follow_up, persons, headers, by_serial=serials, index=index)
        issues += found
        ledger.record_follow_ups(run_id, linked.assign(source=linked["source_file"]))

    previous = ledger.active_allocations()
    allocate = allocator(reuse)
    allocation = allocate(persons, normalized.donations, normalized.connectivity, previous, cfg.district, as_of,
                          ledger.overrides(), review_pairs)
    ledger.record_allocations(run_id, allocation.allocations, allocation.releases)
    if allocate.computed:  # the next night reads tonight's allocations as its ``previous``: allocate it now
        allocate.ahead(ledger.active_allocations())
    changes = [c for c in changes if c is not None and len(c)]
    if changes:
        allocation.changes = pd.concat([*changes, allocation.changes], ignore_index=True)
    ledger.write_change_log(run_id, allocation.changes)
    allocation.issues = issues + donation_issues(allocation.donation_problems, cfg.rules, headers)
    allocation.follow_ups = ledger.follow_ups(latest_only=True)
    allocation.handovers = ledger.handovers()
    return allocation

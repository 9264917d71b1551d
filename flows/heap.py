"""Python's cyclic garbage collector kept off data that stays alive, where a night or a linkage holds millions of
container objects (rows as lists, dicts and frames).

Every full collection Python triggers on its own scans every tracked object again: about 1.6 s of a full night's 21 s,
0.85 s of an unchanged night's 4, 1.1 s of linking 100,000 records. ``gc.freeze`` moves the objects alive now out
of those scans; they are still freed by reference counting, and only one that becomes part of a garbage cycle waits
until ``gc.unfreeze``. A process that froze objects itself (a server's start-up) keeps its own policy: then nothing
here freezes or unfreezes. Where a block allocates a great deal and drops it again (a workbook writer), the
collector is paused instead (``collector_paused``).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Callable, Iterator


def _ours() -> bool:
    """Whether freezing is ours to do: nothing is frozen yet."""
    return not gc.get_freeze_count()


def frozen_between_stages(step: Callable) -> tuple[Callable, Callable[[], None]]:
    """``step`` (a stage runner, ``step(name, fn, *args)``) that first freezes every object alive so far, and the
    call that gives them back when the night ends, with one full collection: without it a process running night
    after night would freeze each night's leftover cycles again the next night and grow. What a stage receives is
    alive until the stages after it are done with it; what a stage makes and drops is collected as before."""
    if not _ours():
        return step, lambda: None

    def frozen_step(name: str, fn: Callable, *args):  # noqa: ANN202 - the stage's own result
        gc.freeze()
        return step(name, fn, *args)

    def thaw() -> None:
        gc.unfreeze()
        gc.collect()

    return frozen_step, thaw


@contextmanager
def frozen_while() -> Iterator[None]:
    """The caller's objects (alive on entry, and still alive after: nothing inside drops them) out of the scans
    for the duration; what the block makes is collected as usual."""
    ours = _ours()
    if ours:
        gc.freeze()
    try:
        yield
    finally:
        if ours:
            gc.unfreeze()


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused for the block: writing a workbook allocates a list per row and a tuple
    per cell, which would start full collections over the whole night's heap again and again (a third of a quiet
    night's publish). What is freed is freed by reference counting; cycles wait for the next collection."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()

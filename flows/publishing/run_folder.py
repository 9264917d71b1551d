"""The run folder's life: written as ``OUT/<run_id>.partial/``, renamed, ``OUT/latest`` switched, old runs pruned.

``writing`` gives a fresh ``OUT/<run_id>.partial/`` and removes it again if writing fails, so a half-written run
is never seen. ``switch`` renames it to ``OUT/<run_id>/`` (replacing a folder of the same run id), points
``OUT/latest`` at it (a symlink replaced atomically; ``latest.txt`` where the file system has no symlinks) and
deletes the oldest run folders beyond the retention. ``remove_leftovers`` clears what a killed night left
(the next night calls it under the output folder's night lock). ``OUT/.reuse/`` beside the run folders is the
store of pieces kept for the next night (``flows.reuse``): never a run, never pruned here.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


@contextmanager
def writing(out_root: Path, run_id: str) -> Iterator[Path]:
    """A fresh ``out_root/<run_id>.partial/`` to write the run into; removed again if writing it fails."""
    run_id = _checked_run_id(run_id)
    out_root.mkdir(parents=True, exist_ok=True)
    partial = out_root / f"{run_id}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir()
    try:
        yield partial
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def remove_leftovers(out_root: Path) -> int:
    """Delete what a killed night left under ``out_root``: ``<run_id>.partial/`` folders, a run folder set aside
    while being replaced, temporary ``latest`` pointers. Only call it holding the output folder's night lock
    (``flows.adapters.night_lock``): then no other night is writing there. Returns how many were removed."""
    if not out_root.is_dir():
        return 0
    removed = 0
    for p in out_root.iterdir():
        name = p.name
        if name in {"latest", "latest.txt"}:
            continue
        if name.endswith(".partial") and p.is_dir() and not p.is_symlink() or (
                name.startswith(".") and ".replaced-" in name and p.is_dir() and not p.is_symlink()):
            shutil.rmtree(p, ignore_errors=True)
            removed += 1
        elif name.startswith((".latest.tmp-", ".latest.txt.tmp-")) or (name.startswith(".") and ".replaced-" in name):
            p.unlink(missing_ok=True)
            removed += 1
    return removed


def switch(partial: Path, retention: int) -> tuple[Path, int]:
    """Rename the written ``<run_id>.partial/`` to ``<run_id>/`` (replacing a run folder of the same id), point
    ``latest`` at it and prune old runs beyond ``retention``; return the run folder and how many were pruned."""
    out_root = partial.parent
    run_id = partial.name.removesuffix(".partial")
    final = out_root / run_id
    if final.exists() or final.is_symlink():
        aside = out_root / f".{run_id}.replaced-{os.getpid()}"
        os.rename(final, aside)
        os.rename(partial, final)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.rename(partial, final)
    _point_latest(out_root, run_id)
    return final, _prune(out_root, keep=final, retention=retention)


def _checked_run_id(run_id: str) -> str:
    text = str(run_id)
    if (not text or text in {".", "..", "latest", "latest.txt"} or text.startswith(".")
            or text.endswith(".partial") or "/" in text or "\\" in text or "\x00" in text):
        raise ValueError(f"run_id {run_id!r} cannot name a run folder")
    return text


def _point_latest(out_root: Path, run_id: str) -> None:
    link = out_root / "latest"
    tmp = out_root / f".latest.tmp-{os.getpid()}"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(run_id, tmp, target_is_directory=True)
        os.replace(tmp, link)
    except OSError as exc:
        if tmp.is_symlink():
            tmp.unlink()
        log.warning("latest: symlink not possible (%s); writing latest.txt", exc.__class__.__name__)
        if link.is_symlink():  # an older pointer must not contradict latest.txt
            try:
                link.unlink()
            except OSError:
                pass
        pointer = out_root / f".latest.txt.tmp-{os.getpid()}"
        pointer.write_text(run_id + "\n", encoding="utf-8")
        os.replace(pointer, out_root / "latest.txt")
        return
    stale = out_root / "latest.txt"
    if stale.exists():
        stale.unlink()


def _run_started(folder: Path) -> str:
    try:
        return str(json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("started_at") or "")
    except (OSError, ValueError):
        return ""


def _prune(out_root: Path, keep: Path, retention: int) -> int:
    """Delete the oldest run folders (by manifest started_at) beyond ``retention``; never ``keep``."""
    runs = [p for p in out_root.iterdir()
            if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
            and not p.name.endswith(".partial") and (p / "manifest.json").is_file()]
    runs.sort(key=lambda p: (_run_started(p), p.name), reverse=True)
    survivors = [keep] + [p for p in runs if p != keep][: max(retention, 1) - 1]
    pruned = 0
    for p in runs:
        if p not in survivors:
            shutil.rmtree(p, ignore_errors=True)
            pruned += 1
    return pruned

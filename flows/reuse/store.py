"""The store of reusable pieces beside the outputs (``OUT/.reuse/<area>/<key>.pickle``) and tonight's account of it.

``Reuse`` is handed to the stages by the night. ``take(area, key)`` gives a kept piece (and notes since which run
it is kept) or None; ``keep(area, key, value)`` stores what was just computed, noting tonight's run. After the
night is published, ``sweep`` deletes the pieces tonight neither took nor kept, so the store holds one night's
worth. ``full=True`` (``songmaytinh run --full``) takes nothing and keeps everything: a full rebuild that leaves a
fresh store. The store holds student rows like the run folders beside it, as pickles: only the user the nights
run as may write it (like the ledger beside it). Files are written to a temporary name and renamed, so a killed
night leaves no half piece; a piece that cannot be written is only a rebuild the next night.
"""

from __future__ import annotations

import logging
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

FOLDER = ".reuse"
_FORMAT = 1


@dataclass
class Reuse:
    root: Path | None  # None: nothing is stored (a night with no store, e.g. a replay)
    run_id: str
    full: bool = False
    taken: dict[str, dict[str, str]] = field(default_factory=dict)  # area -> name -> run the piece is from
    rebuilt: dict[str, list[str]] = field(default_factory=dict)  # area -> names computed tonight
    source_keys: dict[str, str] = field(default_factory=dict)  # source id -> key of its content (set by layout)
    _touched: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def beside(cls, out_root: Path, run_id: str, full: bool = False) -> "Reuse":
        return cls(Path(out_root) / FOLDER, run_id, full)

    def _path(self, area: str, key: str) -> Path:
        return self.root / area / f"{key}.pickle"

    def take(self, area: str, key: str, name: str = "", holds=None):  # noqa: ANN001 - a predicate on the piece
        """The piece kept under ``key`` in ``area``, or None (``full``, never kept, or unreadable; or ``holds``
        given and false of it: a piece whose key does not say everything it depends on, not taken)."""
        if self.root is None:
            return None
        self._touched.add((area, key))
        if self.full:
            return None
        path = self._path(area, key)
        try:
            with path.open("rb") as fh:
                stored = pickle.load(fh)
        except FileNotFoundError:
            return None
        except Exception as exc:  # a damaged piece is rebuilt, never trusted
            log.warning("reuse: %s/%s unreadable (%s): rebuilt", area, key[:12], type(exc).__name__)
            return None
        if not isinstance(stored, dict) or stored.get("format") != _FORMAT or stored.get("key") != key:
            return None
        if holds is not None and not holds(stored["value"]):
            return None
        self.taken.setdefault(area, {})[name or key[:12]] = stored["since"]
        return stored["value"]

    def keep(self, area: str, key: str, value, name: str = "") -> None:
        """Store ``value`` under ``key`` (computed tonight)."""
        self.rebuilt.setdefault(area, []).append(name or key[:12])
        if self.root is None:
            return
        self._touched.add((area, key))
        path = self._path(area, key)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as fh:
                pickle.dump({"format": _FORMAT, "key": key, "since": self.run_id, "value": value}, fh,
                            protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except OSError as exc:  # a full or read-only disk costs the next night its reuse, never this night
            log.warning("reuse: %s/%s not kept (%s)", area, key[:12], type(exc).__name__)
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass

    def sweep(self) -> int:
        """Delete the pieces tonight neither took nor kept (and leftovers of a killed night); return how many."""
        if self.root is None or not self.root.is_dir():
            return 0
        removed = 0
        for area in self.root.iterdir():
            if not area.is_dir():
                continue
            for path in area.iterdir():
                key = path.name.removesuffix(".pickle")
                if path.name.startswith(".") or (area.name, key) not in self._touched:
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed

    def touched(self) -> set[tuple[str, str]]:
        """The (area, key) of every piece taken or kept so far tonight."""
        return set(self._touched)

    def retain(self, pieces) -> None:  # noqa: ANN001 - iterable of (area, key)
        """Keep ``pieces`` in the store past tonight's sweep without reading them: the pieces a kept answer was
        computed from, which a later night whose key differs may need again."""
        if self.root is not None:
            self._touched.update((str(area), str(key)) for area, key in pieces)

    def report(self) -> dict:
        """For the manifest: per area, what was taken from which run and how many pieces were rebuilt."""
        areas = sorted(set(self.taken) | set(self.rebuilt))
        return {"full": self.full,
                "areas": {a: {"reused": dict(sorted(self.taken.get(a, {}).items())),
                              "rebuilt": len(self.rebuilt.get(a, []))} for a in areas}}

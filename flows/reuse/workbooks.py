"""Reuse in publish: workbooks, CSV exports and Data Docs whose every input is unchanged are linked, not written;
the frames prepared for the workbooks are kept under the five fields of the result they are made from.

- The district workbook reads every value of the night's result (the change log, the sources sheet, tonight's
  date) except the run's id and times: it is kept under all of them (group ``district``) and linked only on a
  rerun with the same result. Any other night writes it, sheet by sheet from ``SheetParts`` (area
  ``district-sheets``): a worksheet given exactly what a kept one was (``flows.publishing.workbook.Sheet.key``:
  every call and value, tonight's date as placeholders with how the heading fits it, the config and the code)
  takes that one's XML with tonight's date put in instead of writing its cells; formats have fixed style indices
  and the worksheet calls the workbook's own parts read are replayed, so the file is the bytes a full write gives.
  A sheet with tonight's date inside a value, a sheet a writer reaches past ``Sheet`` (the summary's chart) and a
  workbook small enough for shared strings keep nothing. So a quiet night writes only the sheets whose content
  changed (the change log, the sources, the summary). A sheet filled through ``Sheet.fill`` is also kept under
  its inputs (area ``district-sheet-inputs``, ``SheetParts.inputs``: the prepared frames' key, the result fields
  it reads, the phase facts), so such a night does not even make its rows; and each kept worksheet's XML is kept
  deflated (area ``district-sheet-zip``, ``SheetParts.deflated``), so the same XML is compressed once. A rerun that
  links the whole workbook retains the sheets it was made from (``keep_written``'s ``pieces``, ``link_kept``):
  the store's sweep would otherwise drop them, and the next night whose lists changed would write every sheet.
- Each commune and school workbook is keyed by exactly what its writer reads for that unit
  (``flows.publishing.prepared.Prepared.unit``: its rows of each list, its issues, its children's handovers and
  device checks, its villages' connectivity, the rows as sent of its files; global figures it prints, such as a
  child's priority rank, by this unit's values), the phase facts of the as-of date (which phase is current and
  which have started), the config and the code (``UnitKeys``). Its date is not in the key: a unit workbook
  states the night its content was first published (``Stamp``: the as-of date it prints, the run it names, the
  time in its properties), read from the last run's manifest (``unit_workbooks``), as long as its key stays the
  same. So one school's changed list rewrites the workbooks whose content changed (that school's, its commune's,
  and those of units whose children's printed ranks moved), and a quiet night on a new day rewrites none of them;
  only the district workbook and the manifest carry tonight's date. A full night (``--full``) writes every
  workbook, with the same stamps, so it publishes the same bytes; a night with no store (a replay) stamps every
  workbook with its own night.

Files are hard-linked (copied where links are not possible) from the last run folder into tonight's, each checked
against that folder's manifest. Anything missing or different is written. The Data Docs show only the suite and
the validation's counts per rule: they are keyed by those and linked whenever the lists gave the same counts.
Each CSV export is written from one field of the result by code alone (``flows.publishing.exports``): it is keyed
by that field and the code, and linked whenever the field is unchanged, whatever the day (a quiet night writes
only its change log). The manifest is always written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import pandas as pd

from flows.reuse.fingerprints import code_version, config_fingerprint, digest, frame_fingerprint
from flows.reuse.store import Reuse

log = logging.getLogger(__name__)

AREA = "workbooks"
# group -> the run folder's parts it writes (the commune and school workbooks are kept one by one: ``UnitKeys``)
GROUPS = {"district": ("district",)}
UNIT_AREA = "unit-workbooks"  # the manifest's part naming each unit workbook's key and stamp
DOCS_AREA = "data-docs"
DOCS = ("data-docs",)  # keyed by the validation's summary alone (it shows nothing else of the night)
EXPORTS_AREA = "exports"  # each CSV export, keyed by the one field of the result it writes
EXPORTS_FOLDER = "exports"
_RUN_STAMPS = {"run_id", "started_at", "finished_at"}


def field_fingerprints(result) -> dict[str, str]:  # noqa: ANN001 - RunResult
    """Each value of the night's result except the run's id and times, fingerprinted (frames value by value)."""
    return {name: frame_fingerprint(value) if isinstance(value, pd.DataFrame) else repr(value)
            for name, value in sorted(vars(result).items()) if name not in _RUN_STAMPS}


def result_fingerprint(result, fields: dict[str, str] | None = None) -> str:  # noqa: ANN001
    """Every value of the night's result except the run's id and times; ``fields``: ``field_fingerprints(result)``
    when already computed."""
    fields = field_fingerprints(result) if fields is None else fields
    return digest(*sorted(fields.items()))


def workbook_key(result, cfg, group: str = "district", fields: dict[str, str] | None = None) -> str:  # noqa: ANN001
    """The key of the district workbook: every value of the result but the run's id and times, the config and the
    code. ``fields``: ``field_fingerprints(result)``, when already computed."""
    return digest(AREA, group, result_fingerprint(result, fields), config_fingerprint(cfg),
                  code_version())


def phase_facts(cfg, as_of) -> tuple:  # noqa: ANN001 - AppConfig, date
    """All a unit workbook's content reads of the as-of date besides printing it: for each phase, whether it has
    started and whether it has ended (which phase is current, which figures are shown)."""
    return tuple((p.start <= as_of, as_of <= p.end) for p in cfg.district.phases)


class UnitKeys:
    """The keys of the night's commune and school workbooks (``key``): for each, what its view
    (``flows.publishing.prepared.UnitIndex.view``) holds but its stamp (its rows, ``UnitIndex.rows``), the phase
    facts of tonight's date, the config and the code. The night's large frames are digested row by row once (every value, its type, the
    columns and dtypes; ``_name_rank`` apart, as the view renumbers it): a unit's key reads its rows' digests."""

    _FRAMES = ("students", "allocations", "persons", "issues", "rows_as_sent")

    def __init__(self, data, cfg, as_of) -> None:  # noqa: ANN001 - Prepared, AppConfig, date
        self.data = data
        self.fixed = digest(phase_facts(cfg, as_of), config_fingerprint(cfg), code_version())
        self._rows: dict[str, tuple[str, list[bytes]]] = {}

    def _digests(self, name: str) -> tuple[str, list[bytes]]:
        if name not in self._rows:
            frame = self.data.result.rows_as_sent if name == "rows_as_sent" else getattr(self.data, name)
            if not isinstance(frame, pd.DataFrame):
                self._rows[name] = (repr(frame), [])
            else:
                cols = [c for c in frame.columns if c != "_name_rank"]
                header = repr([(str(c), str(frame[c].dtype)) for c in cols])
                rows = zip(*(frame[c].tolist() for c in cols)) if cols else ((),) * len(frame)
                self._rows[name] = (header, [hashlib.sha256(repr(row).encode("utf-8", "surrogatepass")).digest()
                                             for row in rows])
        return self._rows[name]

    def key(self, unit) -> str:  # noqa: ANN001 - UnitRows (``UnitIndex.rows``)
        parts = []
        for name in self._FRAMES:
            header, rows = self._digests(name)
            parts.append((header, hashlib.sha256(b"".join(rows[i] for i in unit.rows[name])).hexdigest()))
        small = [frame_fingerprint(f) if isinstance(f, pd.DataFrame) else repr(f)
                 for f in (unit.connectivity, unit.handovers, unit.follow_ups)]
        return digest(UNIT_AREA, unit.kind, unit.code, *parts, unit.name_ranks, *small,
                      repr(sorted(unit.headers.items())), self.fixed)


SHEETS_AREA = "district-sheets"
ZIP_AREA = "district-sheet-zip"  # a worksheet's XML, deflated (``SheetParts.deflated``)
INPUTS_AREA = "district-sheet-inputs"  # a sheet's inputs -> the key of the sheet they made (``SheetParts.made``)


class SheetParts:
    """The store of the district workbook's worksheets (``flows.publishing.workbook.Book``): each sheet's XML and
    its worksheet calls but the cells', kept under the digest of everything its ``Sheet`` was given (tonight's
    date as placeholders), the config and the code. It works on its own copy of the night's ``Reuse`` (it may be
    used in a writer process): ``merge`` gives what it took and kept back to the night's."""

    def __init__(self, reuse: Reuse, cfg, fields: dict[str, str] | None = None) -> None:  # noqa: ANN001 - AppConfig
        self.reuse = Reuse(reuse.root, reuse.run_id, reuse.full)
        self.fixed = digest(SHEETS_AREA, config_fingerprint(cfg), code_version())
        self.fields = dict(fields or {})  # ``field_fingerprints`` of the night's result (``inputs``)
        self._cfg = cfg

    def key(self, *parts: str) -> str:
        return digest(SHEETS_AREA, self.fixed, *parts)

    def inputs(self, data, reads: tuple[str, ...]) -> str | None:  # noqa: ANN001 - Prepared
        """The digest of what a sheet's rows are made from (``workbook.Sheet.fill``): the night's prepared frames
        (their key, ``Prepared.key``: the fields of the result ``prepare`` reads), the fields ``reads`` of the
        result, the phase facts of tonight's date; the config and the code are in every key. None (the rows are
        made at once) when the frames or a field have no key (a night without the store)."""
        if not getattr(data, "key", "") or any(name not in self.fields for name in reads):
            return None
        return digest(INPUTS_AREA, data.key, *((name, self.fields[name]) for name in reads),
                      phase_facts(self._cfg, data.result.as_of))

    def deflated(self, xml: bytes) -> tuple[int, bytes]:
        """A worksheet's XML as the package stores it (``flows.publishing.workbook.deflate``: CRC and deflate
        stream), kept under its digest: a night that writes the same worksheet again (the same day) does not
        compress it again."""
        import zlib

        from flows.publishing.workbook import deflate

        key = digest(ZIP_AREA, hashlib.sha256(xml).hexdigest(), len(xml), zlib.ZLIB_RUNTIME_VERSION)
        got = self.reuse.take(ZIP_AREA, key, "")
        if isinstance(got, tuple) and len(got) == 2 and isinstance(got[0], int) and isinstance(got[1], bytes):
            return got
        done = deflate(xml)
        self.reuse.keep(ZIP_AREA, key, done, "")
        return done

    def made(self, key: str, name: str) -> str | None:
        """The key (``workbook.Sheet.key``) of the sheet kept from the inputs ``key`` (``Sheet.inputs_key``)."""
        got = self.reuse.take(INPUTS_AREA, key, name)
        return got.get("sheet") if isinstance(got, dict) and isinstance(got.get("sheet"), str) else None

    def keep_made(self, key: str, sheet: str, name: str) -> None:
        self.reuse.keep(INPUTS_AREA, key, {"sheet": sheet}, name)

    def take(self, key: str, name: str):  # noqa: ANN201 - dict | None
        got = self.reuse.take(SHEETS_AREA, key, name)
        return got if isinstance(got, dict) else None

    def keep(self, key: str, value: dict, name: str) -> None:
        self.reuse.keep(SHEETS_AREA, key, value, name)

    def merge(self, into: Reuse) -> None:
        into.retain(self.reuse.touched())
        into.taken.setdefault(SHEETS_AREA, {}).update(self.reuse.taken.get(SHEETS_AREA, {}))
        into.rebuilt.setdefault(SHEETS_AREA, []).extend(self.reuse.rebuilt.get(SHEETS_AREA, []))


UNIT_KEYS_AREA = "unit-keys"
# the fields of the night's result a unit's view is made from (``prepare`` reads the first five)
UNIT_READS = (*("students", "allocations", "issues", "review_pairs", "donations"), "connectivity", "handovers",
              "follow_ups", "rows_as_sent", "headers")


def unit_keys(data, cfg, reuse: Reuse, fields: dict[str, str]) -> dict[str, str]:  # noqa: ANN001
    """Path -> key (``UnitKeys``) of every commune and school workbook of the night; kept in the store under the
    fields of the result the views are made from (``UNIT_READS``, value by value: ``fields``), the phase facts, the
    config and the code, so a night whose lists did not change indexes nothing to know its keys."""
    from flows.publishing.prepared import UnitIndex

    plan = digest(UNIT_KEYS_AREA, *((name, fields.get(name, "absent")) for name in UNIT_READS),
                  phase_facts(cfg, data.result.as_of), config_fingerprint(cfg), code_version())
    got = reuse.take(UNIT_KEYS_AREA, plan, "keys")
    if isinstance(got, dict):
        return got
    keys, index = UnitKeys(data, cfg, data.result.as_of), UnitIndex(data)
    found = {rel: keys.key(index.rows(kind, code)) for kind, code, rel in data.unit_files()}
    reuse.keep(UNIT_KEYS_AREA, plan, found, "keys")
    return found


def unit_workbooks(out_root: Path) -> tuple[Path | None, dict[str, dict], dict[str, str]]:
    """The last run folder, its manifest's unit workbooks (path -> key and stamp) and its files' sha256."""
    last = _last_run(out_root)
    if last is None:
        return None, {}, {}
    try:
        manifest = json.loads((last / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return last, {}, {}
    entries = manifest.get(UNIT_AREA)
    return last, dict(entries) if isinstance(entries, dict) else {}, dict(manifest.get("files") or {})


def stamp_entry(key: str, stamp) -> dict:  # noqa: ANN001 - Stamp
    return {"key": key, "data_as_of": stamp.as_of.isoformat(), "run_id": stamp.run_id,
            "started_at": stamp.started_at.isoformat()}


def kept_stamp(entry: dict | None, key: str):  # noqa: ANN201 - Stamp | None
    """The stamp of a unit workbook the last run published under ``key``; None when its key was another."""
    import datetime as dt

    from flows.publishing.prepared import Stamp

    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    try:
        return Stamp(dt.date.fromisoformat(entry["data_as_of"]), str(entry["run_id"]),
                     dt.datetime.fromisoformat(entry["started_at"]))
    except (KeyError, TypeError, ValueError):
        return None


def link_file(last: Path, rel: str, sha: str | None, folder: Path, listed: dict[str, str]) -> bool:
    """Link ``rel`` from the last run folder into ``folder`` when it is there with the sha256 its manifest lists;
    False (nothing linked) otherwise."""
    source = last / rel
    if sha is None or listed.get(rel) != sha or not source.is_file():
        return False
    target = folder / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
    return True


def docs_key(summary: dict, cfg) -> str:  # noqa: ANN001
    """The Data Docs show the suite (config) and the validation's counts per rule (``summary``)."""
    return digest(DOCS_AREA, json.dumps(summary, sort_keys=True, default=repr), config_fingerprint(cfg),
                  code_version())


PREPARED_AREA = "prepared"
PREPARED_READS = ("students", "allocations", "issues", "review_pairs", "donations")  # what ``prepare`` reads


def prepared(result, cfg, reuse: Reuse | None, fields: dict[str, str]):  # noqa: ANN001, ANN201 - RunResult, AppConfig
    """``flows.publishing.prepared.prepare(result, cfg)``, its frames taken from the store when the five fields
    of the result it reads (``PREPARED_READS``, value by value: ``fields``), the config and the code are a kept
    night's; tonight's result and config are put back in (the writers read the run's date and id from them)."""
    from dataclasses import fields as dataclass_fields, replace

    from flows.publishing.prepared import Prepared, prepare

    if reuse is None:
        return prepare(result, cfg)
    key = digest(PREPARED_AREA, *((name, fields.get(name, "absent")) for name in PREPARED_READS),
                 config_fingerprint(cfg), code_version())
    got = reuse.take(PREPARED_AREA, key, "prepared")
    if isinstance(got, dict):
        return Prepared(result=result, cfg=cfg, key=key, **got)
    data = replace(prepare(result, cfg), key=key)
    reuse.keep(PREPARED_AREA, key, {f.name: getattr(data, f.name) for f in dataclass_fields(Prepared)
                                    if f.name not in ("result", "cfg", "key")}, "prepared")
    return data


def link_kept(reuse: Reuse | None, key: str, out_root: Path, folder: Path, area: str = AREA,
              name: str = "all") -> bool:
    """Link the files kept under ``key`` (piece ``name``) from the last run folder into ``folder``; False (nothing
    linked) when they are not all there, unchanged."""
    if reuse is None:
        return False
    kept = reuse.take(area, key, name)
    if kept is None:
        return False
    last = _last_run(out_root)
    listed = _manifest_files(last) if last is not None else {}
    files: dict[str, str] = kept["files"]
    if last is None or any(listed.get(rel) != sha or not (last / rel).is_file() for rel, sha in files.items()):
        reuse.taken.get(area, {}).pop(name, None)  # pruned or rewritten since: write them
        return False
    for rel in sorted(files):
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(last / rel, target)
        except OSError:
            shutil.copy2(last / rel, target)
    # the pieces the files were made from (the district workbook's sheets): a later night whose key differs may
    # take them, so they stay in the store past tonight's sweep, unread
    pieces = kept.get("pieces")
    if isinstance(pieces, list):
        reuse.retain(tuple(p) for p in pieces if isinstance(p, (list, tuple)) and len(p) == 2)
    log.info("publish: %d %s files linked from run %s", len(files), area, last.name)
    return True


def keep_written(reuse: Reuse | None, key: str, folder: Path, area: str = AREA, name: str = "all",
                 pieces=None) -> None:  # noqa: ANN001 - iterable of (area, key)
    """Keep the list of files just written (path -> sha256) under ``key`` (piece ``name``: a group of ``GROUPS``,
    "all" for the Data Docs, or an export's file name) for the next night; ``pieces``: the (area, key) of the store's
    pieces they were made from (the district workbook's sheets, ``SheetParts``), retained whenever they are linked
    (``link_kept``)."""
    if reuse is None:
        return
    from flows.publishing.manifest import _sha256

    if area == EXPORTS_AREA:
        paths = [folder / EXPORTS_FOLDER / name]
    else:
        parts = DOCS if area == DOCS_AREA else GROUPS[name]
        paths = [p for part in parts if (folder / part).is_dir() for p in sorted((folder / part).rglob("*"))]
    files = {p.relative_to(folder).as_posix(): _sha256(p) for p in paths if p.is_file()}
    value: dict = {"files": files}
    if pieces is not None:
        value["pieces"] = sorted([str(a), str(k)] for a, k in pieces)
    reuse.keep(area, key, value, name)


def export_key(name: str, fields: dict[str, str]) -> str:
    """The key of one CSV export (``flows.publishing.exports.EXPORTS``): the one field of the night's result it
    writes, value by value (``fields``: ``field_fingerprints(result)``), and the code. No config reaches it."""
    from flows.publishing.exports import EXPORTS

    return digest(EXPORTS_AREA, name, fields.get(EXPORTS[name][0], "absent"), code_version())


def _last_run(out_root: Path) -> Path | None:
    for pointer in (out_root / "latest",):
        if pointer.is_dir():
            return pointer.resolve()
    text = out_root / "latest.txt"
    if text.is_file():
        folder = out_root / text.read_text(encoding="utf-8").strip()
        return folder if folder.is_dir() else None
    return None


def _manifest_files(folder: Path) -> dict[str, str]:
    try:
        return dict(json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("files") or {})
    except (OSError, ValueError):
        return {}

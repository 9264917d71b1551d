"""Reuse in publish: workbooks, CSV exports and Data Docs whose every input is unchanged are linked, not written;
the frames prepared for the workbooks are kept under the five fields of the result they are made from.

The workbooks are kept in two groups, each keyed by what its writers read:

- ``district``: the district workbook reads every value of the night's result (the change log and the sources
  sheet included), except the run's id and times.
- ``units``: the commune and school workbooks read the lists (students, allocations, issues, review pairs,
  donations, connectivity, handovers, follow-ups, rows as sent, headers) and the as-of date, never the change
  log, the sources' report, the counts, the validation summary, the cash, the donation summary or the override
  log (``UNITS_IGNORE``). So a night whose lists are those of a kept night (the change log aside: the night
  after the first, or any quiet night) links them all and writes only the district workbook.

When a group's inputs, the config and the code are those of a kept night, the files that night published are
the files a full night would write, save the stamp naming the run that wrote them (the run id in a title, the
file's creation time); they are hard-linked (copied where links are not possible) from the last run folder into
tonight's, each checked against that folder's manifest. Anything missing or different is written.
Workbooks print the as-of date, so a night with another as-of date writes them again. The Data Docs show only the
suite and the validation's counts per rule: they are keyed by those and linked whenever the lists gave the same
counts. Each CSV export is written from one field of the result by code alone (``flows.publishing.exports``): it is
keyed by that field and the code, and linked whenever the field is unchanged, whatever the day (a quiet night
writes only its change log). The manifest is always written.
"""

from __future__ import annotations

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
# group -> the run folder's parts it writes
GROUPS = {"district": ("district",), "units": ("communes", "schools")}
# RunResult fields no commune or school workbook reads (flows.publishing.commune, .school and what they call)
UNITS_IGNORE = frozenset({"changes", "sources", "counts", "validation", "cash", "donation_summary", "override_log"})
DOCS_AREA = "data-docs"
DOCS = ("data-docs",)  # keyed by the validation's summary alone (it shows nothing else of the night)
EXPORTS_AREA = "exports"  # each CSV export, keyed by the one field of the result it writes
EXPORTS_FOLDER = "exports"
_RUN_STAMPS = {"run_id", "started_at", "finished_at"}


def field_fingerprints(result) -> dict[str, str]:  # noqa: ANN001 - RunResult
    """Each value of the night's result except the run's id and times, fingerprinted (frames value by value)."""
    return {name: frame_fingerprint(value) if isinstance(value, pd.DataFrame) else repr(value)
            for name, value in sorted(vars(result).items()) if name not in _RUN_STAMPS}


def result_fingerprint(result, ignore: frozenset[str] = frozenset(), fields: dict[str, str] | None = None) -> str:  # noqa: ANN001
    """Every value of the night's result except the run's id and times and the fields in ``ignore``;
    ``fields``: ``field_fingerprints(result)`` when already computed."""
    fields = field_fingerprints(result) if fields is None else fields
    return digest(*((name, fp) for name, fp in sorted(fields.items()) if name not in ignore))


def workbook_key(result, cfg, group: str = "district", fields: dict[str, str] | None = None) -> str:  # noqa: ANN001
    """The key of a group of workbooks (``GROUPS``): what its writers read, the config and the code. ``fields``:
    ``field_fingerprints(result)``, computed once for both groups."""
    ignore = UNITS_IGNORE if group == "units" else frozenset()
    return digest(AREA, group, result_fingerprint(result, ignore, fields), config_fingerprint(cfg), code_version())


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
    from dataclasses import fields as dataclass_fields

    from flows.publishing.prepared import Prepared, prepare

    if reuse is None:
        return prepare(result, cfg)
    key = digest(PREPARED_AREA, *((name, fields.get(name, "absent")) for name in PREPARED_READS),
                 config_fingerprint(cfg), code_version())
    got = reuse.take(PREPARED_AREA, key, "prepared")
    if got is not None:
        return Prepared(result=result, cfg=cfg, **got)
    data = prepare(result, cfg)
    reuse.keep(PREPARED_AREA, key, {f.name: getattr(data, f.name) for f in dataclass_fields(Prepared)
                                    if f.name not in ("result", "cfg")}, "prepared")
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
    log.info("publish: %d %s files linked from run %s", len(files), area, last.name)
    return True


def keep_written(reuse: Reuse | None, key: str, folder: Path, area: str = AREA, name: str = "all") -> None:
    """Keep the list of files just written (path -> sha256) under ``key`` (piece ``name``: a group of ``GROUPS``,
    "all" for the Data Docs, or an export's file name) for the next night."""
    if reuse is None:
        return
    from flows.publishing.manifest import _sha256

    if area == EXPORTS_AREA:
        paths = [folder / EXPORTS_FOLDER / name]
    else:
        parts = DOCS if area == DOCS_AREA else GROUPS[name]
        paths = [p for part in parts if (folder / part).is_dir() for p in sorted((folder / part).rglob("*"))]
    files = {p.relative_to(folder).as_posix(): _sha256(p) for p in paths if p.is_file()}
    reuse.keep(area, key, {"files": files}, name)


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

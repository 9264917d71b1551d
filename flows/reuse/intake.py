"""Reuse in intake: a source's layout and its normalized student rows, kept per source; the night's validation,
kept whole.

Layout reads one source at a time, and normalizing reads one student row at a time, so a source's pieces depend
on that source alone (and on the config and the code, in every key). Validation is kept for the night as a
whole: its Data Docs summary counts over all rows, and it is one pass of the rule engine either way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd

from flows.reuse.fingerprints import (
    code_version, config_fingerprint, digest, frame_fingerprint, headers_fingerprint, source_fingerprint,
)
from flows.reuse.store import Reuse


def grid_reader(reuse: Reuse):
    """A ``read(path, limits)`` for ``flows.adapters.files.read_local``: a file whose bytes (and the reading limits
    and the code) are those of a kept night is not parsed again; its grids are taken from the store."""
    import hashlib

    from flows.adapters.files import read_grids

    def read(path, limits):  # noqa: ANN001, ANN202
        key = digest("grids", hashlib.sha256(path.read_bytes()).hexdigest(), path.suffix.lower(), repr(limits),
                     code_version())
        name = path.name
        got = reuse.take("files", key, name)
        if got is None:
            got = read_grids(path, limits)  # a file that cannot be read raises here each night, never kept
            reuse.keep("files", key, got, name)
        return got

    return read


def source_keys(sources, cfg) -> dict[str, str]:  # noqa: ANN001 - list[SourceData], AppConfig
    """source id -> the key of its layout: its content, the config and the code (failed sources have none)."""
    base = (config_fingerprint(cfg), code_version())
    return {s.source_id: digest("source", source_fingerprint(s), *base) for s in sources if s.status != "failed"}


def per_source(frame: pd.DataFrame, keys: dict[str, str], area: str, reuse: Reuse,
               compute: Callable[[pd.DataFrame], pd.DataFrame]) -> pd.DataFrame:
    """``compute(frame)`` for a row-by-row ``compute``, taking each source's kept rows and computing the others'
    in one call. The frame's rows of one source are together and in source order (as layout makes them); the
    result keeps that order. Rows of a source without a key are always computed."""
    ids = frame["source_id"].astype(str)
    order = list(dict.fromkeys(ids))
    kept: dict[str, pd.DataFrame] = {}
    for sid in order:
        if sid in keys:
            got = reuse.take(area, digest(area, keys[sid]), sid)
            if got is not None:
                kept[sid] = got
    missing = [sid for sid in order if sid not in kept]
    if missing:
        done = compute(frame[ids.isin(missing)].reset_index(drop=True))
        done_ids = done["source_id"].astype(str)
        for sid in missing:
            part = done[done_ids == sid].reset_index(drop=True)
            kept[sid] = part
            if sid in keys:
                reuse.keep(area, digest(area, keys[sid]), part, sid)
    if not kept:
        return compute(frame)
    return pd.concat([kept[sid] for sid in order], ignore_index=True)


def per_source_call(reuse: Reuse | None, area: str):
    """A ``per_source(source, read)`` for stages that read each source on its own (officer decisions): the
    source's kept answer when its content (and the config and code) are those of a kept night, else ``read``."""
    if reuse is None:
        return None

    def call(source, read):  # noqa: ANN001, ANN202
        key = reuse.source_keys.get(source.source_id)
        if key is None:
            return read(source)
        got = reuse.take(area, digest(area, key), source.source_id)
        if got is None:
            got = read(source)
            reuse.keep(area, digest(area, key), got, source.source_id)
        return got

    return call


def validate_night(students: pd.DataFrame, headers, cfg, as_of: dt.date, reuse: Reuse | None = None):  # noqa: ANN001
    """``flows.rules.validate.validate_students_for_docs``, taken from the store when tonight's student rows,
    their header labels, the config, the code and the school year of ``as_of`` (the only way the date reaches the
    rules, ``flows.rules.grades.school_year_start``) are those of a kept night."""
    from flows.rules.grades import school_year_start
    from flows.rules.validate import validate_students_for_docs

    if reuse is None:
        return validate_students_for_docs(students, headers, cfg, as_of)
    key = digest("validate", frame_fingerprint(students), headers_fingerprint(headers), school_year_start(as_of),
                 config_fingerprint(cfg), code_version())
    got = reuse.take("validate", key, "students")
    if got is None:
        got = validate_students_for_docs(students, headers, cfg, as_of)
        reuse.keep("validate", key, got, "students")
    return got

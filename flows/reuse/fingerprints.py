"""Keys of reusable pieces: the code's version, the config, the linkage model, a source's content, a frame.

A key is a sha256 over a canonical text of its parts, so two keys are equal only when every part is equal.
Canonical means: a value's type is part of its text (1, 1.0, "1" and True differ), and the order of rows and
columns counts. A key that differs when nothing changed only costs a rebuild; a key that matched when
something changed would be a wrong night, so every part a piece reads is in its key.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import pickle
from functools import lru_cache
from pathlib import Path

import pandas as pd

_ROOT = Path(__file__).resolve().parents[2]
# third-party packages whose behaviour reaches the published result
_PACKAGES = ("pandas", "numpy", "great-expectations", "splink", "duckdb", "xlsxwriter", "python-calamine",
             "pyicu", "pydantic", "pyarrow")


def digest(*parts: object) -> str:
    """sha256 of the parts' canonical text (str parts as they are, others by ``repr``)."""
    h = hashlib.sha256()
    for part in parts:
        text = part if isinstance(part, str) else repr(part)
        h.update(type(part).__name__.encode())
        h.update(b"\x1e")
        h.update(text.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def exact_bytes(value: object) -> bytes:
    """``value`` as bytes that differ whenever a value or its type does (1, 1.0, "1" and True differ): a pickle
    without its memo, so equal content gives equal bytes whether or not it shares objects. About three times as
    fast as ``repr`` on a column of 12,000 texts."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=5)
    pickler.fast = True  # no memo: a repeated object is written again, not referred to
    pickler.dump(value)
    return buffer.getvalue()


@lru_cache(maxsize=1)
def code_version() -> str:
    """Every Python file of ``flows`` and ``validations`` and the versions of the packages the result depends on:
    any change to the code invalidates every kept piece."""
    h = hashlib.sha256()
    for folder in ("flows", "validations"):
        for path in sorted((_ROOT / folder).rglob("*.py")):
            h.update(path.relative_to(_ROOT).as_posix().encode())
            h.update(path.read_bytes())
    for name in _PACKAGES:
        try:
            h.update(f"{name}=={importlib.metadata.version(name)}".encode())
        except importlib.metadata.PackageNotFoundError:
            h.update(f"{name}: absent".encode())
    return h.hexdigest()


def config_fingerprint(cfg) -> str:  # noqa: ANN001 - AppConfig
    """The whole config (district, sources, header aliases, rules and their messages), not where it was read from."""
    return digest(cfg.model_dump_json(exclude={"config_dir"}))


def model_fingerprint() -> str:
    """The saved linkage model's bytes (``config/linkage_model.json``) and those of the given names its twins rule
    reads (``config/given_names.txt``): editing either relinks."""
    from flows.linkage.comparisons import MODEL_PATH
    from flows.linkage.rules import GIVEN_NAMES_PATH

    return digest(*(hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else f"no {p.name}"
                    for p in (MODEL_PATH, GIVEN_NAMES_PATH)))


def headers_fingerprint(headers: dict) -> str:
    """The header labels each sheet had (``(file, sheet) -> field -> label``), sheets in a stable order (the
    mapping's own order is the sources')."""
    return digest(sorted(headers.items()))


def source_fingerprint(source) -> str:  # noqa: ANN001 - SourceData
    """A source as fetched tonight: its id, name, registry kind and unit, status, and every sheet's cells, merged
    ranges and hidden rows and columns. Not its modified time: the same cells give the same rows."""
    h = hashlib.sha256()
    h.update(repr((source.source_id, source.source_file, source.kind, source.unit_type, source.unit,
                   source.status, source.message)).encode("utf-8", "surrogatepass"))
    for sheet in source.sheets:
        h.update(repr((sheet.name, sheet.hidden, sorted(sheet.merged), sorted(sheet.hidden_rows),
                       sorted(sheet.hidden_cols), len(sheet.rows))).encode("utf-8", "surrogatepass"))
        for row in sheet.rows:
            h.update(repr(row).encode("utf-8", "surrogatepass"))
            h.update(b"\n")
    return h.hexdigest()


def frame_fingerprint(frame: pd.DataFrame | None) -> str:
    """A frame's columns, dtypes and every value, in order (the index left out)."""
    if frame is None:
        return "none"
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode("utf-8", "surrogatepass"))
    for col in frame.columns:
        h.update(exact_bytes(frame[col].tolist()))
        h.update(b"\x1f")
    return h.hexdigest()

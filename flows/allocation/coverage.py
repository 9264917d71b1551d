"""Which villages have a signal: an internet package is only given where the child's village has 3G, 4G or fibre.

Villages are matched on (commune_code, folded name without "Thôn", "Khu" or "Xóm"): ``village_key``, which the
published workbooks use too to group children by village.
"""

from __future__ import annotations

import pandas as pd

from flows.allocation.values import as_flag
from flows.text import as_text, fold
from flows.frames import frame_records


def village_key(commune_code: str, village: str) -> tuple[str, str]:
    """(commune_code, folded village name without its "thôn ", "khu " or "xóm " prefix)."""
    v = fold(village)
    for prefix in ("thon ", "khu ", "xom "):
        if v.startswith(prefix):
            v = v[len(prefix):]
            break
    return commune_code, v


def coverage(connectivity: pd.DataFrame | None) -> dict[tuple[str, str], bool]:
    """(commune_code, folded village) -> has 3G, 4G or fibre (any row saying so)."""
    out: dict[tuple[str, str], bool] = {}
    if connectivity is None or connectivity.empty:
        return out
    for r in frame_records(connectivity):
        key = village_key(as_text(r.get("commune_code")), as_text(r.get("village")))
        if not key[1]:
            continue
        covered = any(as_flag(r.get(c)) for c in ("has_3g", "has_4g", "has_fibre"))
        out[key] = out.get(key, False) or covered
    return out

"""``songmaytinh bench province``: a whole province night (every Lạng Sơn district, generated at ``scale`` with all
its official communes; Hữu Lũng from config/) on a Dask LocalCluster, timed; generation is not counted. Figures
are printed, never asserted; the issue's target: a Lạng Sơn-sized province (≈140,000 rows) in ≤ 2 min here.
With ``SONGMAYTINH_BENCH_SPARK=1``, the move linkage of the night's runs is timed again on DuckDB and on Spark."""

from __future__ import annotations

import os
import resource
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table


def bench_province(scale: float, console: Console, districts: list[str] | None = None) -> dict:
    from flows.province.config import official_communes, official_districts
    from flows.province.flow import run_province
    from samples.province import PROVINCE_CODE, build_province

    codes = districts or list(official_districts(PROVINCE_CODE))
    with tempfile.TemporaryDirectory(prefix="songmaytinh-bench-province-") as tmp:
        t0 = time.perf_counter()
        path = build_province(Path(tmp) / "province", {c: len(official_communes(c)) for c in codes}, scale=scale)
        generated = time.perf_counter() - t0
        t0 = time.perf_counter()
        outcome = run_province(path, Path(tmp) / "out", as_of="2022-03-15")
        seconds = time.perf_counter() - t0
        linkage = _backends_timed(outcome) if os.environ.get("SONGMAYTINH_BENCH_SPARK") else None
    rows = sum(d.get("counts", {}).get("student_rows", 0) for d in outcome["districts"])
    table = Table(title=f"Province night: {len(codes)} districts at scale {scale} (generated in {generated:.0f} s, "
                        "not counted)")
    for column in ("district", "status", "student rows", "persons", "worker peak RSS MiB"):
        table.add_column(column, justify="right")
    for d in outcome["districts"]:
        c = d.get("counts", {})
        table.add_row(f"{d['code']} {d['name']}", d["status"], str(c.get("student_rows", "")),
                      str(c.get("persons", "")), f"{d.get('worker_peak_rss_mib', 0):.0f}")
    console.print(table)
    main_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    console.print(f"{rows:,} student rows in {seconds:.1f} s ({rows / seconds if seconds else 0:,.0f} rows/s); "
                  f"peak RSS of this process {main_rss:.0f} MiB; moved-child pairs {outcome['moved_pairs']}")
    if linkage:
        console.print("Move linkage of the same districts' persons: " + ", ".join(
            f"{backend} {secs:.1f} s" for backend, secs in linkage.items()) + " (Spark: its session's start included)")
    console.print("Target (issue 17): a Lạng Sơn-sized province, ≈140,000 rows (scale 1), in ≤ 120 s on 2 cores.")
    return {"rows": rows, "seconds": seconds, "linkage_seconds": linkage}


def _backends_timed(outcome: dict) -> dict[str, float]:
    """Seconds of the move linkage of the night's published runs on DuckDB and on Spark (a session started here:
    its start is part of what a night on Spark pays). ``SONGMAYTINH_BENCH_SPARK=1`` asks for it (needs Java)."""
    from flows.province.moves import moved_children

    runs = [(d["code"], Path(d["run_dir"])) for d in outcome["districts"] if d["status"] == "ok"]
    out = {}
    for backend in ("duckdb", "spark"):
        t0 = time.perf_counter()
        moved_children(runs, backend)
        out[backend] = time.perf_counter() - t0
    return out

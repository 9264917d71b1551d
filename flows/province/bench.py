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


class TreePeak:
    """Peak resident memory of this process and all its descendants (Dask workers, the workbook writers, Prefect's
    temporary server), summed, sampled every ``every`` seconds on a thread while in the ``with`` block; the peak
    of the largest single process; and the CPU seconds of them all (``cpu_seconds``, a figure that a loaded
    machine inflates less than the wall clock; a process's last ``every`` seconds may be missed)."""

    def __init__(self, every: float = 0.2) -> None:
        import threading

        self.every = every
        self.total = self.largest = self.own = 0
        self._cpu: dict[int, float] = {}
        self._cpu_start: dict[int, float] = {}
        self._started = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-peak", daemon=True)

    def sample(self) -> None:
        import psutil

        me = psutil.Process()
        sizes = []
        for p in [me, *me.children(recursive=True)]:
            try:
                with p.oneshot():
                    sizes.append(p.memory_info().rss)
                    times = p.cpu_times()
            except psutil.Error:  # ended between listing and reading
                continue
            # a process running before the block counts from then; one started inside it, from its start
            self._cpu_start.setdefault(p.pid, times.user + times.system if not self._started else 0.0)
            self._cpu[p.pid] = times.user + times.system
        self.total = max(self.total, sum(sizes))
        self.own = max(self.own, sizes[0] if sizes else 0)
        self.largest = max(self.largest, max(sizes, default=0))

    @property
    def cpu_seconds(self) -> float:
        return sum(self._cpu[pid] - self._cpu_start[pid] for pid in self._cpu)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def __enter__(self) -> "TreePeak":
        self.sample()
        self._started = True
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


STAGES = ("ledger", "sources", "layout", "normalize", "validate", "dedupe", "allocate", "publish")


def national_night(rows: int, districts: int | None, cache: Path | None, console: Console) -> dict:
    """One national night on the cached sample of ``rows`` rows; its figures (generation apart)."""
    from flows.province.flow import run_province
    from samples.national import build_national

    t0 = time.perf_counter()
    path, cached = build_national(rows, districts, cache=cache)
    generated = time.perf_counter() - t0
    console.print(f"sample: {path.parent} ({'from the cache' if cached else f'generated in {generated:.0f} s'}, "
                  "not counted)")
    with tempfile.TemporaryDirectory(prefix="songmaytinh-bench-national-") as tmp, TreePeak() as peak:
        t0 = time.perf_counter()
        outcome = run_province(path, Path(tmp) / "out", as_of="2022-03-15")
        seconds = time.perf_counter() - t0
    done = [d for d in outcome["districts"] if d["status"] == "ok"]
    console.print(f"{sum(d['counts'].get('student_rows', 0) for d in done):,} rows in {len(done)} of "
                  f"{len(outcome['districts'])} districts: {seconds:.1f} s, CPU {peak.cpu_seconds:.1f} s, peak RSS "
                  f"{peak.total / 2**20:,.0f} MiB (process tree), {peak.largest / 2**20:,.0f} MiB (largest process)")
    stages = {s: sum(d.get("stage_seconds", {}).get(s, 0.0) for d in done) for s in STAGES}
    return {"rows": sum(d["counts"].get("student_rows", 0) for d in done), "districts": len(outcome["districts"]),
            "failed": len(outcome["districts"]) - len(done), "seconds": seconds, "flow": outcome["seconds"],
            "stages": stages, "cpu_seconds": peak.cpu_seconds, "peak_tree_mib": peak.total / 2**20,
            "peak_own_mib": peak.own / 2**20,
            "peak_worker_mib": max((d.get("worker_peak_rss_mib", 0) for d in done), default=0), "peak_process_mib": peak.largest / 2**20,
            "largest_district": max((d["counts"].get("student_rows", 0) for d in done), default=0),
            "moved_pairs": outcome["moved_pairs"], "cached": cached, "sample": str(path.parent)}


def growth_exponent(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of log(seconds) against log(rows); None under two distinct sizes."""
    import math

    xs = [math.log(r) for r, _ in points]
    ys = [math.log(s) for _, s in points]
    if len(set(xs)) < 2:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def bench_national(sizes: list[int], console: Console, districts: int | None = None,
                   cache: Path | None = None) -> list[dict]:
    """``songmaytinh bench national``: the whole national night at each size in ``sizes`` (student rows), with
    seconds per stage, peak RSS of the process tree and, over several sizes, the growth exponent of time."""
    runs = [national_night(n, districts, cache, console) for n in sizes]
    table = Table(title="National night (generation not counted)")
    table.add_column("figure")
    for r in runs:
        table.add_column(f"{r['rows']:,} rows", justify="right")

    def row(label: str, fmt) -> None:
        table.add_row(label, *(fmt(r) for r in runs))

    row("districts (failed)", lambda r: f"{r['districts']} ({r['failed']})")
    row("largest district, rows", lambda r: f"{r['largest_district']:,}")
    row("district nights, s (wall)", lambda r: f"{r['flow']['district_nights']:.1f}")
    for stage in STAGES:
        row(f"  {stage}, s (sum over districts)", lambda r, s=stage: f"{r['stages'][s]:.1f}")
    row("province linkage, s", lambda r: f"{r['flow']['province_linkage']:.1f}")
    row("province workbook, s", lambda r: f"{r['flow']['province_workbook']:.1f}")
    row("start and stop (cluster, Prefect), s",
        lambda r: f"{r['seconds'] - sum(r['flow'].values()):.1f}")
    row("total, s", lambda r: f"{r['seconds']:.1f}")
    row("CPU s, process tree (user + system)", lambda r: f"{r['cpu_seconds']:.1f}")
    row("rows/s", lambda r: f"{r['rows'] / r['seconds']:,.0f}" if r["seconds"] else "")
    row("peak RSS, process tree, MiB", lambda r: f"{r['peak_tree_mib']:,.0f}")
    row("peak RSS, largest process, MiB", lambda r: f"{r['peak_process_mib']:,.0f}")
    row("  of which this process (province linkage), MiB", lambda r: f"{r['peak_own_mib']:,.0f}")
    row("  of which a Dask worker (largest), MiB", lambda r: f"{r['peak_worker_mib']:,.0f}")
    row("moved-child pairs (match/review)", lambda r: f"{r['moved_pairs']['match']}/{r['moved_pairs']['review']}")
    console.print(table)
    exponent = growth_exponent([(r["rows"], r["seconds"]) for r in runs if r["rows"]])
    if exponent is not None:
        cpu = growth_exponent([(r["rows"], r["cpu_seconds"]) for r in runs if r["rows"] and r["cpu_seconds"]])
        of_cpu = f" (of CPU seconds: {cpu:.2f})" if cpu is not None else ""
        console.print(f"growth exponent of time against rows (least squares, log-log): {exponent:.2f}{of_cpu}")
    console.print("Targets (issue 17): ≈140,000 rows in ≤ 120 s on 2 cores; 2,000,000 rows in ≤ 600 s with peak RSS "
                  "≤ 8 GB; growth exponent ≤ 1.15 from 200,000 to 2,000,000 rows.")
    return runs


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

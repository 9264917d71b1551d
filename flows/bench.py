"""``songmaytinh bench``: speed and memory figures, printed (tests never assert on time)."""

from __future__ import annotations

import datetime as dt
import resource
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_district(scale: float, console: Console) -> dict[str, float]:
    """Generate the sample district at ``scale`` and time each stage of one night (no Prefect server)."""
    from flows.config import load_config
    from flows.nightly import run_night
    from samples.generate import generate

    cfg = load_config()
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="songmaytinh-bench-") as tmp:
        src, out = Path(tmp) / "sources", Path(tmp) / "out"
        t0 = time.perf_counter()
        counts = generate(src, seed=2021, scale=scale)
        timings["generate sample"] = time.perf_counter() - t0

        def step(name, fn, *args):
            start = time.perf_counter()
            try:
                return fn(*args)
            finally:
                timings[name] = time.perf_counter() - start

        t0 = time.perf_counter()
        result, _ = run_night(src, cfg, out, dt.date(2022, 3, 1), step=step)
        timings["night total"] = time.perf_counter() - t0
    table = Table(title=f"bench district (scale {scale}): {result.counts.get('student_rows', 0):,} student rows, "
                        f"{result.counts.get('sources', 0)} sources")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for name, sec in timings.items():
        table.add_row(name, f"{sec:.2f}")
    console.print(table)
    rows = max(result.counts.get("student_rows", 0), 1)
    console.print(f"throughput: {rows / timings['night total']:.0f} rows/s; peak RSS {_rss_mib():.0f} MiB; "
                  f"generated: {counts}")
    return timings


def bench_dedupe(n: int, console: Console) -> None:
    """Link n synthetic records (the first version's deterministic linker)."""
    import random

    import pandas as pd

    from flows.dedupe import link_records

    rng = random.Random(7)
    families = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Nông", "Lương", "Vi"]
    middles = ["Văn", "Thị", "Đức", "Minh", "Ngọc", "Thu", "Hải", ""]
    givens = [f"{a}{b}" for a in ["An", "Bình", "Cường", "Dung", "Hà", "Lan", "Mai", "Nam", "Phúc", "Quân", "Sơn",
                                  "Tâm", "Uyên", "Vy", "Yến"] for b in ["", "h", "g"]]
    people = []
    for i in range(n):
        people.append({"full_name": f"{rng.choice(families)} {rng.choice(middles)} {rng.choice(givens)}",
                       "date_of_birth": f"{rng.randint(2008, 2016)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                       "commune_code": f"{rng.randint(6385, 6460):05d}"})
    records = pd.DataFrame(people + rng.sample(people, n // 5))
    t0 = time.perf_counter()
    labels = link_records(records)
    sec = time.perf_counter() - t0
    console.print(f"bench dedupe: {len(records):,} records -> {len(set(labels)):,} clusters in {sec:.2f} s "
                  f"({len(records) / sec:,.0f} records/s); peak RSS {_rss_mib():.0f} MiB")


def run_bench(what: str, scale: float, console: Console) -> None:
    if what == "district":
        bench_district(scale, console)
    elif what == "dedupe":
        bench_dedupe(int(100_000 * scale), console)
    elif what == "scale":
        for s in (0.25, 0.5, 1.0, 2.0):
            bench_district(s * scale, console)
    else:
        raise SystemExit(f"unknown benchmark {what!r}: choose district, dedupe or scale")

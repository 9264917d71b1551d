"""``songmaytinh bench national``: the generated national sample (official districts of the whole country, kept in
a cache keyed by its size and the generator's version) and the report the benchmark prints. Figures are never
asserted, only that they are there."""

from __future__ import annotations

import json
import math
import subprocess
import sys

from typer.testing import CliRunner

from flows.province.bench import TreePeak, growth_exponent
from flows.province.config import NATION, load_province, official_districts
from samples.national import build_national, generator_version, national_districts, sample_folder


def test_the_national_sample_spreads_rows_over_official_districts_and_is_generated_once(tmp_path):
    path, cached = build_national(400, districts=2, cache=tmp_path, workers=1)
    assert not cached and path.name == "province.yaml"
    province = load_province(path)  # a configuration over the whole country, each district checked as official
    assert province.province.province.code == NATION
    codes = [d.code for d in province.taking_part]
    assert codes == national_districts(2) == list(official_districts("20"))[:2]  # Lạng Sơn's first
    sample = json.loads((path.parent / "sample.json").read_text(encoding="utf-8"))
    assert sorted(sample["student_rows_by_district"]) == codes
    assert 200 <= sample["student_rows"] <= 800  # about the rows asked for, with the sample's own variation
    for d in province.taking_part:
        cfg = province.district_config(d)
        assert cfg.district.district.province_code == "20"
        assert any((path.parent / d.sources).rglob("*.xlsx"))
    stamp = (path.parent / "sample.json").stat().st_mtime_ns

    again, cached = build_national(400, districts=2, cache=tmp_path, workers=1)
    assert cached and again == path
    assert (path.parent / "sample.json").stat().st_mtime_ns == stamp  # read, not written again
    assert path.parent == sample_folder(400, 2, 2021, tmp_path)
    assert generator_version() in path.parent.name  # another generator, another sample
    assert len({sample_folder(400, 3, 2021, tmp_path), sample_folder(800, 2, 2021, tmp_path), path.parent}) == 3


def test_districts_beyond_one_province_come_from_the_next_provinces():
    codes = national_districts(40)
    assert codes[:11] == list(official_districts("20"))
    assert len(set(codes)) == 40 and set(codes) <= set(official_districts(NATION))
    assert set(codes[11:]) & set(official_districts("01"))  # Hà Nội, the first province by code


def test_growth_exponent_is_the_slope_of_log_time_against_log_rows():
    assert math.isclose(growth_exponent([(1e4, 3.0), (2e4, 6.0), (8e4, 24.0)]), 1.0)
    assert math.isclose(growth_exponent([(1e4, 1.0), (2e4, 4.0), (4e4, 16.0)]), 2.0)
    assert growth_exponent([(1e4, 1.0), (1e4, 2.0)]) is None


_HOLD = "import sys; b = bytearray({mib} * 2**20); b[::4096] = b'x' * len(b[::4096]); print('ready', flush=True); sys.stdin.read()"


def test_tree_peak_counts_a_child_process_memory():
    with TreePeak(every=0.05) as peak:
        child = subprocess.Popen([sys.executable, "-c", _HOLD.format(mib=300)], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready"
        peak.sample()
        child.communicate("")
    assert peak.largest >= 300 * 2**20  # the child alone
    assert peak.total >= peak.largest + 20 * 2**20  # the child and this process
    assert peak.cpu_seconds > 0  # the child's work (filling 300 MiB) at least


def test_bench_national_prints_rows_stages_peak_memory_and_reads_the_cached_sample(tmp_path):
    from flows.cli import app

    build_national(300, districts=2, cache=tmp_path / "cache")
    result = CliRunner().invoke(app, ["bench", "national", "--rows", "300", "--districts", "2",
                                      "--cache", str(tmp_path / "cache")], terminal_width=200)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "from the cache" in out and "generated in" not in out
    for label in ("districts (failed)", "2 (0)", "district nights, s", "validate, s", "dedupe, s", "publish, s",
                  "province linkage, s", "province workbook, s", "total, s", "CPU s, process tree", "peak RSS, process tree, MiB",
                  "Targets (issue 17)"):
        assert label in out, label
    assert "growth exponent of time" not in out  # one size: no slope to fit

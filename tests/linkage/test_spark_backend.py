"""Splink's Spark backend (``linkage.backend: spark``, ``flows.linkage.backends``): on a small province, local-mode
Spark links the districts' children into the same clusters as DuckDB, from the same model and its DuckDB-flavoured
SQL, and the move linkage lists the same pairs.

Spark needs a Java runtime (``make test`` installs one when missing: tests/java.sh). One session serves the module,
started once with JVM options that warm up sooner on small data and stopped at its end; the module stays on one
xdist worker (one JVM).
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

import flows.linkage.clustering as clustering
from flows.config import ConfigError
from flows.linkage import backends
from flows.linkage.synth import generate
from flows.province.config import load_province
from flows.province.moves import moved_children

pytestmark = pytest.mark.xdist_group("spark")

ROOT = Path(__file__).resolve().parents[2]
CHILDREN = 180  # about 270 persons in two districts, a third of them listed in both
QUICK_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"  # a small JIT and collector: seconds, not tens, to warm up


@pytest.fixture(scope="module")
def spark():
    t0 = time.perf_counter()
    session = backends.spark_session(java_options=QUICK_JVM)
    print(f"spark session started in {time.perf_counter() - t0:.1f} s")
    yield session
    backends.stop_spark()


def partition(labels) -> set[frozenset[int]]:
    groups: dict = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, set()).add(i)
    return {frozenset(g) for g in groups.values()}


def _province_exports(tmp_path: Path) -> tuple[list[tuple[str, Path]], pd.DataFrame]:
    """Two districts' published runs as the move linkage reads them (``exports/students.csv``): every generated
    child once in Hữu Lũng, and each child the generator wrote more than once again in Chi Lăng, as a school there
    wrote it (another spelling, date format, village...). Also the persons in the order the linkage reads them."""
    records = generate(CHILDREN, seed=17)
    districts = (("186", records.drop_duplicates("true_person")),
                 ("187", records[records.duplicated("true_person")].drop_duplicates("true_person")))
    runs, persons = [], []
    for code, rows in districts:
        rows = rows.assign(person_id=[f"{code}-{i:05d}" for i in range(len(rows))], status="allocated")
        (tmp_path / code / "exports").mkdir(parents=True)
        rows.to_csv(tmp_path / code / "exports" / "students.csv", index=False)
        runs.append((code, tmp_path / code))
        persons.append(rows)
    return runs, pd.concat(persons, ignore_index=True)


def test_a_province_linked_on_spark_gets_the_same_clusters_and_pairs_as_on_duckdb(spark, tmp_path, monkeypatch):
    runs, persons = _province_exports(tmp_path)
    linked: dict[str, clustering.Linkage] = {}
    link = clustering.link

    def recording_link(records, *args, **kwargs):
        assert isinstance(backends.db_api(), backends._duck_sql_spark_api()) == (backends.current() == "spark")
        linked[backends.current()] = result = link(records, *args, **kwargs)
        return result

    monkeypatch.setattr(clustering, "link", recording_link)
    t0 = time.perf_counter()
    on_duckdb = moved_children(runs)
    t1 = time.perf_counter()
    on_spark = moved_children(runs, "spark")
    print(f"move linkage of {len(persons)} persons: DuckDB {t1 - t0:.1f} s, Spark {time.perf_counter() - t1:.1f} s")

    assert backends.current() == "duckdb"  # the choice ends with the move linkage
    duck, spk = linked["duckdb"], linked["spark"]
    assert partition(spk.labels) == partition(duck.labels)
    assert spk.pairs_scored == duck.pairs_scored
    review = lambda result: [(r["i"], r["j"], round(float(r["match_probability"]), 9)) for r in result.review]  # noqa: E731
    assert review(spk) == review(duck)
    pd.testing.assert_frame_equal(on_spark.drop(columns="match_probability"),
                                  on_duckdb.drop(columns="match_probability"))
    probability = lambda pairs: [None if pd.isna(p) else round(float(p), 9) for p in pairs["match_probability"]]  # noqa: E731
    assert probability(on_spark) == probability(on_duckdb)

    # the clusters are the model's, not trivial ones: most children listed in both districts are found
    moved = persons.groupby("true_person")["person_id"].apply(frozenset)
    moved = {ids for ids in moved if len(ids) == 2}
    matched = {frozenset((a, b)) for a, b, d in on_duckdb[["person_id_a", "person_id_b", "decision"]].itertuples(
        index=False) if d == "match"}
    assert len(moved) > 60
    assert len(moved & matched) / len(moved) > 0.8


def test_the_backend_is_chosen_in_the_config_and_a_wrong_one_names_the_key(tmp_path):
    data = yaml.safe_load((ROOT / "config/province/province.yaml").read_text(encoding="utf-8"))
    for d in data["districts"]:
        d.pop("config", None)
    assert load_province(ROOT / "config/province").province.linkage.backend == "duckdb"
    path = tmp_path / "province.yaml"
    path.write_text(yaml.safe_dump({**data, "linkage": {"backend": "spark"}}, allow_unicode=True), encoding="utf-8")
    assert load_province(path).province.linkage.backend == "spark"
    path.write_text(yaml.safe_dump({**data, "linkage": {"backend": "hadoop"}}, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"province.yaml: linkage.backend"):
        load_province(path)
    with pytest.raises(ValueError, match="hadoop"):
        with backends.using("hadoop"):
            pass

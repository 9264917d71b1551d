"""Where Splink links: DuckDB in this process (the default), or Spark (``linkage.backend: spark``) for linkage past
what one DuckDB process holds, such as a province's or the nation's children at once.

``using(backend)`` chooses the backend for the linkage inside it (the config's ``linkage.backend``: a district
night's dedupe, a province night's move linkage); ``db_api()`` is the Splink database API of the backend in force.

What runs where, on Spark: ``flows.linkage.scoring.score`` scores every candidate pair on Spark (``on_backend``):
the names' term frequencies, the prior, the blocking and the comparisons, which is what grows with the data. The
model's parameters (``flows.linkage.estimate``, u by random sampling) and the blocking rules' pair counts
(``affordable_rules``) are estimated on DuckDB in this process whatever the backend: both read a bounded sample (at
most ``max_pairs`` pairs, 20,000 records), and Splink draws its samples by hashing ids with the backend's own hash
function, so estimating them on Spark would give another model (other u probabilities, other blocking rules kept)
and, at the margin, other clusters. As it is, one model gives the same pairs, probabilities and clusters on both.

Spark: a local-mode session (``local[2]``), started on first use in this process and stopped at its exit, with
Splink's similarity functions (its jar), few shuffle partitions, quiet logs, and its scratch and checkpoint
folders under one temporary folder. It needs a Java runtime (17 or later: ``java`` on the PATH or ``JAVA_HOME``);
``make test`` installs one when missing (tests/java.sh).

The model's SQL (``flows.linkage.comparisons``, the saved ``config/linkage_model.json``) is written for DuckDB:
``"column"`` quoting, ``a // b`` integer division, ``jaro_winkler_similarity``. Spark reads it as it is, through a
dialect that is Spark's with those three read as DuckDB reads them (``DuckSqlSpark``): one text of the model for
both backends. (``damerau_levenshtein``, ``contains``, ``split_part``, ``left``/``right``, ``substr`` and ``abs``
mean the same in both; ``damerau_levenshtein`` and ``jaro_winkler`` are Splink's jar functions on Spark.)
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Iterator

BACKENDS: tuple[str, ...] = ("duckdb", "spark")
SPARK_MASTER = "local[2]"
SPARK_SHUFFLE_PARTITIONS = 4  # Spark's 200 is for a cluster; a province's persons fit a handful
SPARK_DRIVER_MEMORY = "4g"  # the local session's heap at most (Spark's 1g is short for a province's pairs)

log = logging.getLogger(__name__)

_backend: contextvars.ContextVar[str] = contextvars.ContextVar("songmaytinh_linkage_backend", default="duckdb")
_lock = threading.Lock()
_spark = None  # the session, once started
_scratch: Path | None = None


def current() -> str:
    """The backend in force here (``duckdb`` unless inside ``using``)."""
    return _backend.get()


@contextlib.contextmanager
def using(backend: str | None) -> Iterator[None]:
    """Linkage inside the block runs on ``backend`` (None: the default, DuckDB)."""
    backend = backend or "duckdb"
    if backend not in BACKENDS:
        raise ValueError(f"linkage backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    token = _backend.set(backend)
    try:
        yield
    finally:
        _backend.reset(token)


def db_api(backend: str | None = None):
    """A Splink database API on ``backend`` (default: the one in force, ``current()``)."""
    backend = backend or current()
    if backend == "duckdb":
        from splink import DuckDBAPI

        return DuckDBAPI()
    if backend == "spark":
        return _spark_api()
    raise ValueError(f"linkage backend {backend!r}: expected one of {', '.join(BACKENDS)}")


def on_backend(feats, registered):
    """The table a Linker scores ``feats`` on: ``registered`` (``feats`` on DuckDB, where the parameters and the
    blocking counts were estimated) on DuckDB, else ``feats`` registered on the backend in force."""
    if current() == "duckdb":
        return registered
    return db_api().register(feats)


# --- Spark ------------------------------------------------------------------------------------------------------
_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark: %p %c{1}: %m%n
"""


def spark_session(java_options: str = ""):
    """The process's local-mode SparkSession, started on first call (the JVM: a few seconds).

    ``java_options``: more options for the JVM, when this call starts it (the tests start it with a JIT and a
    collector that warm up sooner on small data)."""
    global _spark, _scratch
    with _lock:
        if _spark is not None:
            return _spark
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location

        if not java_available():
            raise RuntimeError("linkage.backend spark needs a Java runtime, 17 or later (java on the PATH or "
                               "JAVA_HOME; Debian: apt-get install default-jre-headless); or choose duckdb")
        _scratch = Path(tempfile.mkdtemp(prefix="songmaytinh-spark-"))
        log4j = _scratch / "log4j2.properties"
        log4j.write_text(_LOG4J, encoding="utf-8")
        java = f"-Dlog4j2.configurationFile=file:{log4j} -Dderby.system.home={_scratch / 'derby'} {java_options}"
        builder = (SparkSession.builder.master(SPARK_MASTER).appName("songmaytinh-linkage")
                   .config("spark.jars", similarity_jar_location())  # jaro_winkler, damerau_levenshtein
                   .config("spark.driver.memory", SPARK_DRIVER_MEMORY)
                   .config("spark.driver.extraJavaOptions", java.strip())
                   .config("spark.sql.shuffle.partitions", str(SPARK_SHUFFLE_PARTITIONS))
                   .config("spark.default.parallelism", str(SPARK_SHUFFLE_PARTITIONS))
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.local.dir", str(_scratch / "local"))
                   .config("spark.sql.warehouse.dir", str(_scratch / "warehouse"))
                   .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
        log.info("linkage: starting a local Spark session (%s)", SPARK_MASTER)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        # Splink writes each intermediate table here as Parquet (its default outside Databricks) and reads it back
        session.sparkContext.setCheckpointDir(str(_scratch / "checkpoints"))
        _spark = session
        atexit.register(stop_spark)
        return _spark


def stop_spark() -> None:
    """Stop the session (if started) and remove its temporary folder; the next ``spark_session`` starts anew."""
    global _spark, _scratch
    with _lock:
        if _spark is not None:
            try:
                _spark.stop()
            except Exception:  # noqa: BLE001 - at exit the JVM may already be gone
                pass
            _spark = None
        if _scratch is not None:
            shutil.rmtree(_scratch, ignore_errors=True)
            _scratch = None


def _spark_api():
    return _duck_sql_spark_api()(spark_session=spark_session(), break_lineage_method="parquet",
                                 num_partitions_on_repartition=SPARK_SHUFFLE_PARTITIONS)


_classes: dict = {}


def _duck_sql_spark_api():
    """``SparkAPI`` reading the model's DuckDB-flavoured SQL (built once: the classes need pyspark)."""
    if "api" in _classes:
        return _classes["api"]
    import pyarrow as pa
    import sqlglot
    from sqlglot import exp
    from sqlglot.tokens import TokenType
    from splink.backends.spark import SparkAPI
    from splink.internals.dialects import SparkDialect, SplinkDialect
    from splink.internals.spark.spark_helpers.custom_spark_dialect import CustomSpark

    class DuckSqlSpark(CustomSpark):  # sqlglot dialect "ducksqlspark"
        """Spark SQL, with DuckDB's ``"identifier"`` quoting, ``//`` integer division and
        ``jaro_winkler_similarity`` (Spark: Splink's ``jaro_winkler``). Splink writes its string literals in single
        quotes, so reading ``"`` as an identifier's quote changes none of them."""

        class Tokenizer(CustomSpark.Tokenizer):
            QUOTES = ["'"]
            IDENTIFIERS = ["`", '"']
            KEYWORDS = {**CustomSpark.Tokenizer.KEYWORDS, "//": TokenType.DIV}

        class Parser(CustomSpark.Parser):
            FUNCTIONS = {**CustomSpark.Parser.FUNCTIONS,
                         "JARO_WINKLER_SIMILARITY": lambda args: exp.Anonymous(this="jaro_winkler",
                                                                               expressions=args)}

    class DuckSqlSparkDialect(SparkDialect, SplinkDialect):  # a direct subclass: found by its name
        _dialect_name_for_factory = "ducksqlspark"

        @property
        def sql_dialect_str(self):
            return "ducksqlspark"

        @property
        def sqlglot_dialect(self):
            return "ducksqlspark"

    class DuckSqlSparkAPI(SparkAPI):
        sql_dialect = DuckSqlSparkDialect()

        def _setup_for_execute_sql(self, sql: str, physical_name: str) -> str:
            return sqlglot.transpile(sql, read="ducksqlspark", write="customspark", pretty=True)[0]

        def _table_registration(self, input, table_name: str) -> None:  # noqa: A002 - Splink's name
            import pandas as pd

            if isinstance(input, pd.DataFrame):  # through Arrow, typed: an all-empty text column stays text
                table = pa.Table.from_pandas(input, preserve_index=False)
                table = table.cast(pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                                              for f in table.schema]))
                self.spark.createDataFrame(table).createOrReplaceTempView(table_name)
                return
            super()._table_registration(input, table_name)

    assert sqlglot.Dialect.get_or_raise("ducksqlspark")  # registered by its class name
    _classes["api"] = DuckSqlSparkAPI
    return DuckSqlSparkAPI


def java_available() -> bool:
    """A Java runtime Spark can start: ``JAVA_HOME``'s when it is set (as Spark looks), else ``java`` on the PATH."""
    home = os.environ.get("JAVA_HOME")
    return (Path(home) / "bin" / "java").exists() if home else shutil.which("java") is not None

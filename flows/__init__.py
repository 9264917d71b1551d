import sys

# pyspark is installed for the Spark linkage backend (flows.linkage.backends), and Great Expectations imports it
# when it can, Spark Connect included. Connect needs grpc, which is not installed; its import then fails, except in
# a process whose __main__ has no file (pytest-xdist's workers, some pool workers), where pyspark takes itself for a
# doctest run and exits the process. Spark Connect is not used here: its import fails at once, as a missing module.
sys.modules.setdefault("pyspark.sql.connect", None)  # type: ignore[arg-type]

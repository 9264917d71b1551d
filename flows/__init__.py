import os
import sys

# pyspark is installed for the Spark linkage backend (flows.linkage.backends), and Great Expectations imports it
# when it can, Spark Connect included. Connect needs grpc, which is not installed; its import then fails, except in
# a process whose __main__ has no file (pytest-xdist's workers, some pool workers), where pyspark takes itself for a
# doctest run and exits the process. Spark Connect is not used here: its import fails at once, as a missing module.
sys.modules.setdefault("pyspark.sql.connect", None)  # type: ignore[arg-type]

# An empty PREFECT_API_URL ("PREFECT_API_URL= songmaytinh run", a blank line in a service's environment) means no
# server is configured. Prefect reads its settings once, when first imported, and takes "" for a URL that is set:
# the province night's events client then fails on every task ("Cannot put items in a stopped service instance",
# an ERROR and a traceback per event in the operator's log, and a night a third slower). Unset, Prefect and the
# night start the temporary server as documented.
if "PREFECT_API_URL" in os.environ and not os.environ["PREFECT_API_URL"].strip():
    del os.environ["PREFECT_API_URL"]

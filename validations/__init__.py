"""Great Expectations suites, built from config/rules.yaml (one module per source kind)."""

import logging

import flows  # noqa: F401 - before Great Expectations: pyspark's Spark Connect stays unimported (flows/__init__.py)


def quiet_gx_loggers() -> None:
    """GX sets some of its own loggers to INFO at import; keep its chatter out of the operator's terminal."""
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("great_expectations"):
            logger = logging.getLogger(name)
            if logger.level and logger.level < logging.WARNING:
                logger.setLevel(logging.WARNING)

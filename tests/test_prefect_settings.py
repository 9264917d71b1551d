"""An empty PREFECT_API_URL means no server: the project drops it before Prefect reads its settings (``flows``),
so a province night started as ``PREFECT_API_URL= songmaytinh ...`` does not log an events error per task."""

from __future__ import annotations

import os
import subprocess
import sys

READ = "from prefect.settings import PREFECT_API_URL; print(repr(PREFECT_API_URL.value()))"


def _api_url_seen(code: str, **env: str) -> str:
    run = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True,
                         check=True, timeout=120)
    return run.stdout.strip().splitlines()[-1]


def test_an_empty_prefect_api_url_is_read_as_none_set():
    assert _api_url_seen(READ, PREFECT_API_URL="") == "''"  # Prefect alone: an empty URL, which is not "none"
    assert _api_url_seen("import flows; " + READ, PREFECT_API_URL="") == "None"
    assert _api_url_seen("import flows; " + READ, PREFECT_API_URL=" ") == "None"
    # a configured server is kept
    assert _api_url_seen("import flows; " + READ, PREFECT_API_URL="http://127.0.0.1:4200/api") == \
        "'http://127.0.0.1:4200/api'"

"""The temporary Prefect server of ``songmaytinh run`` dies with the night, however the night ends.

Without ``PREFECT_API_URL`` Prefect starts a local API server for one run (``SubprocessASGIServer``: uvicorn in
a child process) and stops it at exit. A night killed with SIGKILL runs no exit handler, and the server would
live on. ``start_for_this_process`` starts that server from the calling (main) thread with the Linux parent-death
signal set in the child (``prctl(PR_SET_PDEATHSIG, SIGTERM)``): the kernel sends it SIGTERM the moment its parent
is gone. Prefect's own clients then find the server already running and use it. The child also exits at once
if the parent died between ``fork`` and ``prctl``. Elsewhere than Linux this does nothing (Prefect's default).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import types
from typing import Any

_PR_SET_PDEATHSIG = 1


def _parent_death_signal() -> Any:
    """A ``preexec_fn`` that asks the kernel to SIGTERM the child when this process dies (libc loaded here,
    before the fork, so that the child only calls it)."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def in_child() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return in_child


def start_for_this_process() -> str | None:
    """Start Prefect's temporary server now, tied to this process; return its API URL, or None when a server is
    configured (``PREFECT_API_URL``) or the platform has no parent-death signal. Call it from the main thread:
    the signal follows the thread that started the child."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value() or not sys.platform.startswith("linux"):
        return None
    from prefect.server.api import server as prefect_server

    preexec = _parent_death_signal()

    class _Popen(subprocess.Popen):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("preexec_fn", preexec)
            super().__init__(*args, **kwargs)

    shim = types.SimpleNamespace(**{k: getattr(subprocess, k) for k in dir(subprocess) if not k.startswith("__")})
    shim.Popen = _Popen
    original = prefect_server.subprocess
    prefect_server.subprocess = shim  # only the server's own Popen, only while it starts
    try:
        server = prefect_server.SubprocessASGIServer()
        server.start()
    finally:
        prefect_server.subprocess = original
    return server.api_url

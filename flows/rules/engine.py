"""The rule engine's own process: Great Expectations runs in a long-lived worker started early in the night.

Importing Great Expectations and making its context cost about 2.5 CPU seconds and 200 MB in whatever process
does it. The night starts the worker (``start``) when layout has read its first student list, so that the import
overlaps layout and normalize on another core and the night's own process never holds GX; validate sends it the
check frame (``check``) and publish the Data Docs summary (``data_docs``). The suite travels as plain data
(``validations.students.expectation_specs``) and is built in the worker, once per suite.

A worker that cannot start, that dies or is killed, or that fails a request never stops the night: the caller runs
the same code in its own process, with the same result, and the log says so. The worker is a fresh interpreter
(``python -m flows.rules.engine``: not a fork of a night that may run beside threads, and it does not run the
night's main script again as multiprocessing's ``spawn`` would), talking over a pipe; it leaves when the pipe
closes, when its parent is gone, and is ended at the night process's exit. A daemonic process (a Dask worker of
the province night, which imports Great Expectations as it starts: ``flows.province.warm``) starts none.
``SONGMAYTINH_RULES_WORKER=0`` keeps the rule engine in the night's process.
"""

from __future__ import annotations

import atexit
import json
import logging
import multiprocessing
import os
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ENV = "SONGMAYTINH_RULES_WORKER"
# CPU seconds the rule engine's worker processes spent so far and the largest peak RSS one reached (for ``bench``)
WORKER_STATS = {"seconds": 0.0, "peak_mib": 0.0, "requests": 0, "fallbacks": 0}


@dataclass
class _Worker:
    process: subprocess.Popen
    conn: Any  # multiprocessing.connection.Connection
    cpu_seen: float = 0.0
    owner: int = 0  # the process that started it: a process forked from that one starts its own

    def alive(self) -> bool:
        return self.process.poll() is None


_LOCK = threading.RLock()
_worker: _Worker | None = None
_registered = False


def _forget_after_fork() -> None:
    """In a process forked from one with a worker (a test's night): that worker is its parent's; this process
    closes its copy of the pipe and starts its own when it needs one."""
    global _LOCK, _worker
    _LOCK = threading.RLock()
    if _worker is not None:
        try:
            _worker.conn.close()
        except OSError:
            pass
    _worker = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def enabled() -> bool:
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def start() -> bool:
    """Start the worker unless it runs (it imports Great Expectations while the night goes on); False when the rule
    engine stays in this process (disabled, or a daemonic process, which may start none)."""
    global _worker
    with _LOCK:
        if _worker is not None and _worker.owner == os.getpid() and _worker.alive():
            return True
        _worker = None
        if not enabled():
            return False
        if multiprocessing.current_process().daemon:
            log.info("rules: a daemonic process starts no worker; Great Expectations runs in the night's process")
            return False
        try:
            here, there = multiprocessing.Pipe()
            try:
                process = subprocess.Popen([sys.executable, "-m", "flows.rules.engine", str(there.fileno()),
                                            str(os.getpid())], pass_fds=[there.fileno()], stdin=subprocess.DEVNULL)
            finally:
                there.close()
        except Exception as exc:  # noqa: BLE001 - no worker is no reason to stop the night
            log.warning("rules: worker not started (%s); Great Expectations runs in the night's process",
                        type(exc).__name__)
            return False
        _worker = _Worker(process, here, owner=os.getpid())
        global _registered
        if not _registered:
            atexit.register(stop)
            _registered = True
        log.info("rules: worker process %d started", process.pid)
        return True


def stop() -> None:
    """End the worker (the next request starts another)."""
    global _worker
    with _LOCK:
        worker, _worker = _worker, None
        if worker is None:
            return
        try:
            worker.conn.send(None)
        except (OSError, ValueError):
            pass
        worker.conn.close()
        try:
            worker.process.wait(5)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait(5)


def worker_pid() -> int | None:
    with _LOCK:
        return _worker.process.pid if _worker is not None and _worker.alive() else None


_FAILED = object()


def _call(kind: str, *args: Any) -> Any:
    """``kind`` run by the worker (started now when it is not running); ``_FAILED`` when it could not be."""
    global _worker
    with _LOCK:
        if not start():
            return _FAILED
        worker = _worker
        try:
            worker.conn.send((kind, args))
            while not worker.conn.poll(0.5):
                if not worker.alive():
                    raise EOFError("the worker process ended")
            status, value, cpu, peak = worker.conn.recv()
        except (EOFError, OSError, ValueError, TypeError, AttributeError) as exc:
            log.warning("rules: worker process %s lost (%s, exit code %s); Great Expectations runs in the night's "
                        "process", worker.process.pid, type(exc).__name__, worker.process.poll())
            WORKER_STATS["fallbacks"] += 1
            _discard(worker)
            return _FAILED
        WORKER_STATS["seconds"] += max(cpu - worker.cpu_seen, 0.0)
        worker.cpu_seen = cpu
        WORKER_STATS["peak_mib"] = max(WORKER_STATS["peak_mib"], peak)
        WORKER_STATS["requests"] += 1
        if status != "ok":
            log.warning("rules: the worker failed %s (%s); Great Expectations runs in the night's process", kind, value)
            WORKER_STATS["fallbacks"] += 1
            return _FAILED
        return value


def _discard(worker: _Worker) -> None:
    global _worker
    if _worker is worker:
        _worker = None
    try:
        if worker.alive():
            worker.process.kill()
        worker.process.wait(5)
        worker.conn.close()
    except (OSError, ValueError, subprocess.TimeoutExpired):
        pass


# --- What the night asks ----------------------------------------------------------------------------------------
def check(frame, specs: list) -> tuple[list[tuple[dict, list[int]]], dict]:  # noqa: ANN001 - DataFrame
    """(failing rows of each failed expectation, the Data Docs summary) of the suite ``specs`` on the check frame
    (``flows.rules.validate.failing_rows``, ``flows.rules.datadocs.summarize``): in the worker, else here."""
    got = _call("check", frame, specs)
    return _check(frame, specs) if got is _FAILED else got


def data_docs(summary: dict, specs: list, run_id: str, started_at, folder: Path) -> Path | None:  # noqa: ANN001
    """``flows.rules.datadocs.write_site`` in the worker, else here."""
    got = _call("docs", summary, specs, run_id, started_at, str(folder))
    if got is _FAILED:
        from flows.rules.datadocs import write_site

        return write_site(summary, specs, run_id, started_at, folder)
    return Path(got) if got else None


# --- The worker -------------------------------------------------------------------------------------------------
_SUITES: dict[str, Any] = {}


def _suite(specs: list):  # noqa: ANN202
    from validations.students import suite_of

    key = json.dumps(specs, sort_keys=True, default=str)
    if key not in _SUITES:
        _SUITES.clear()
        _SUITES[key] = suite_of(specs)
    return _SUITES[key]


def _check(frame, specs: list) -> tuple[list[tuple[dict, list[int]]], dict]:  # noqa: ANN001
    from flows.rules.datadocs import summarize
    from flows.rules.validate import failing_rows, run_suite

    result = run_suite(frame, _suite(specs), "students")
    return failing_rows(result), summarize(result)


def _docs(summary: dict, specs: list, run_id: str, started_at, folder: str) -> str | None:  # noqa: ANN001
    from flows.rules.datadocs import write_site

    index = write_site(summary, specs, run_id, started_at, Path(folder))
    return str(index) if index else None


_HANDLERS = {"check": _check, "docs": _docs}


def _peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _serve(conn) -> None:  # noqa: ANN001 - the worker's end of the pipe
    """The worker: import Great Expectations and make its context at once, then answer requests until the night's
    process closes the pipe or sends None (``_watch`` ends it when that process is gone)."""
    try:
        from flows.rules.validate import _context

        _context()
    except Exception:  # noqa: BLE001 - said with the first request's answer
        pass
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        kind, args = message
        try:
            answer = ("ok", _HANDLERS[kind](*args))
        except Exception as exc:  # noqa: BLE001 - the night runs it again in its own process, and sees it there
            frame = traceback.extract_tb(exc.__traceback__)[-1]  # type and place: a message may quote a cell
            answer = ("error", f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno}")
        try:
            conn.send((*answer, time.process_time(), _peak_mib()))
        except (OSError, ValueError):
            return


def _watch(parent: int) -> None:
    """End this worker the moment the night's process ``parent`` is gone (killed, even while Great Expectations is
    being imported), whoever else holds the pipe open: a thread, polling the parent's pid."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)

    if os.getppid() != parent:
        os._exit(0)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


if __name__ == "__main__":
    _watch(int(sys.argv[2]))
    import flows  # noqa: F401 - before Great Expectations (flows/__init__.py)
    from multiprocessing.connection import Connection

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    _serve(Connection(int(sys.argv[1])))

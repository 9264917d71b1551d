"""A night killed with SIGKILL leaves nothing that stops or misleads the next one: its ledger and output-folder
locks go with it, the next night removes its ``.partial`` folder and marks its run failed, and the temporary
Prefect server ``songmaytinh run`` started dies with it. A night running keeps a second one out."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.adapters.ledger import Ledger
from flows.adapters.night_lock import NightLocked
from flows.pipeline import run_night
from tests.pg import postgres_url  # noqa: F401  (module-scoped fixture: a fresh PostgreSQL database)

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2022, 3, 1)
# A night that hangs once its run folder is half written (the exports), as a night killed there would leave it.
HANGING_NIGHT = """
import datetime as dt, pathlib, sys, time
import flows.publishing.publish as publish
from flows.config import load_config
from flows.pipeline import run_night

def hang(*args, **kwargs):
    pathlib.Path(sys.argv[4]).write_text("publishing")
    time.sleep(600)

publish.write_exports = hang
run_night(pathlib.Path(sys.argv[1]), load_config(), pathlib.Path(sys.argv[2]), dt.date(2022, 3, 1), sys.argv[3])
"""


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    from samples.generate import generate

    src = tmp_path_factory.mktemp("src")
    generate(src, seed=11, scale=0.02)
    return src


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'out' / 'ledger.sqlite'}"
    return request.getfixturevalue("postgres_url")


def _wait_for(predicate, what: str, proc: subprocess.Popen, seconds: float = 600):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        if proc.poll() is not None:
            raise AssertionError(f"the night exited ({proc.returncode}) before {what}")
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"timed out waiting for {what}")


def test_a_killed_night_is_cleaned_up_by_the_next_and_keeps_others_out_while_alive(tmp_path, sources, ledger_url,
                                                                                    cfg, tally):
    out, marker = tmp_path / "out", tmp_path / "publishing"
    night = subprocess.Popen([sys.executable, "-c", HANGING_NIGHT, str(sources), str(out), ledger_url, str(marker)],
                             cwd=ROOT)
    try:
        _wait_for(marker.exists, "publishing", night)
        (partial,) = out.glob("*.partial")
        with pytest.raises(NightLocked, match=f"pid {night.pid}"):
            run_night(sources, cfg, out, AS_OF, ledger_url, lock_wait=0)
        assert partial.is_dir()  # the night that stopped touched nothing
    finally:
        tally.injected()
        os.kill(night.pid, signal.SIGKILL)
        night.wait()

    result, run_dir = run_night(sources, cfg, out, AS_OF, ledger_url, lock_wait=30)
    assert run_dir.is_dir() and result.counts["student_rows"] > 0
    assert not list(out.glob("*.partial"))
    assert (out / "latest").resolve() == run_dir.resolve()
    with Ledger(ledger_url) as ledger:
        runs = ledger.runs()
    killed = runs[runs["run_id"] == partial.name.removesuffix(".partial")]
    assert list(killed["status"]) == ["failed"]
    assert list(runs.loc[runs["run_id"] == result.run_id, "status"]) == ["ok"]
    tally.survived()


def _children(pid: int) -> list[tuple[int, str]]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append((int(entry.name), cmdline))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in {"Z", "X"}


# ``songmaytinh run`` (the Prefect flow, its temporary server) SIGKILLing itself on entering the dedupe stage.
CLI_KILLED_IN_DEDUPE = """
import os, signal, sys
import flows.pipeline
from flows.cli import app

def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

flows.pipeline.link_persons = killed
sys.argv[0] = "songmaytinh"
app()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_night_killed_inside_a_prefect_task_leaves_no_process_and_no_server(tmp_path, sources, tally):
    """The CLI night (Prefect flow, one task per stage, temporary server) killed in its dedupe task: the server
    it started dies with it, nothing of the night's session is left running, nothing was published."""
    from tests.faults.district import session_processes

    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    out = tmp_path / "out"
    tally.injected()
    cli = subprocess.Popen([sys.executable, "-c", CLI_KILLED_IN_DEDUPE, "run", "--sources", str(sources), "--out",
                            str(out), "--as-of", "2022-03-01"], cwd=ROOT, env=env, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = None
    try:
        servers = _wait_for(lambda: [p for p, cmd in _children(cli.pid) if "prefect.server.api.server" in cmd],
                            "the temporary Prefect server started", cli, seconds=300)
        (server,) = servers
        assert cli.wait(timeout=600) == -signal.SIGKILL  # it killed itself in the dedupe task
        deadline = time.monotonic() + 30
        while session_processes(cli.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(server), "the temporary Prefect server outlived the killed night"
        assert session_processes(cli.pid) == [], "processes of the killed night are still running"
        assert not (out / "latest").exists()
        with Ledger(f"sqlite:///{out / 'ledger.sqlite'}") as ledger:
            assert list(ledger.runs()["status"]) == ["running"]  # the next night marks it failed (above)
        tally.survived()
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
        if server is not None and _alive(server):
            os.kill(server, signal.SIGKILL)

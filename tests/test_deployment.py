"""The nightly run as the office deploys it, on a real Prefect server: the README's scheduling steps, command for
command (``prefect server start``, ``work-pool create``, ``prefect deploy`` from prefect.yaml, ``worker start``,
``deployment run``), and ``songmaytinh serve``. Each triggered night must complete, publish its run folder, leave
its artifacts on the server and send the morning message — with no child's name or phone number in either.

Every process is started in its own process group and killed in ``finally``; the server lives for this module
(the two tests share it: ``xdist_group`` keeps them on one worker, one after the other).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.nights import AS_OF, SmtpSink, config_copy, free_port, personal_values, tiny_district

pytestmark = [pytest.mark.deployment, pytest.mark.xdist_group("prefect-server")]

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the project's venv: what `uv run` runs
DEPLOYMENT = "nightly-consolidation/nightly-consolidation"
RAN: list[list[str]] = []  # every prefect command this module ran, in order (compared with the README)


def shape(argv: list[str]) -> list[str]:
    """A command without its values (port, paths, dates): what must be the same in the README and here."""
    out = []
    for i, token in enumerate(argv):
        if i and argv[i - 1] == "--param":
            token = token.split("=", 1)[0] + "=…"
        elif i and argv[i - 1] == "--port":
            token = "…"
        out.append(token)
    return out


def readme_steps() -> list[list[str]]:
    """The commands of the README's scheduling steps (its first sh block there), without `uv run`, environment
    assignments and `&`."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Scheduling the nightly run", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    steps = []
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("export "):
            continue
        words = [w for w in shlex.split(line) if w != "&"]
        while "=" in words[0]:
            words.pop(0)
        assert words[:2] == ["uv", "run"], line
        steps.append(words[2:])
    return steps


class Processes:
    """Long-running children (server, worker, serve), each in a new session so its whole group can be killed."""

    def __init__(self, logs: Path) -> None:
        self.logs, self.running = logs, []
        logs.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, args: list[str], env: dict, cwd: Path) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "wb")
        proc = subprocess.Popen(args, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.running.append((name, proc, log))
        return proc

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self, proc: subprocess.Popen) -> None:
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)  # the group we created: the child and what it started
            except ProcessLookupError:
                return
            try:
                proc.wait(wait)
                if sig == signal.SIGTERM:  # the leader is gone; make sure nothing of its group is left
                    os.killpg(proc.pid, signal.SIGKILL)
                return
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                return

    def stop_all(self) -> None:
        for _, proc, log in reversed(self.running):
            try:
                self.stop(proc)
            except ProcessLookupError:
                pass
            log.close()
        self.running.clear()


def prefect(*args: str, env: dict, cwd: Path = ROOT, timeout: float = 240) -> str:
    """One `prefect` command as the README gives it; its output (it must succeed)."""
    RAN.append(["prefect", *args])
    done = subprocess.run([str(BIN / "prefect"), *args], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`prefect server start` on a free local port, PREFECT_HOME in a temporary folder; yields its environment."""
    tmp = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp / "home"), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_UI_ENABLED": "false",
           "PREFECT_LOGGING_LEVEL": "INFO", "PREFECT_WORKER_QUERY_SECONDS": "2", "PREFECT_RUNNER_POLL_FREQUENCY": "2"}
    env.pop("SONGMAYTINH_LEDGER_URL", None)
    procs = Processes(tmp / "logs")
    try:
        args = ["server", "start", "--host", "127.0.0.1", "--port", str(port)]
        RAN.append(["prefect", *args])
        proc = procs.start("server", [str(BIN / "prefect"), *args], env, tmp)
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, f"prefect server exited:\n{procs.tail('server')}"
            try:
                if httpx.get(f"{env['PREFECT_API_URL']}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"prefect server did not answer:\n{procs.tail('server')}"
            time.sleep(1)
        yield env
    finally:
        procs.stop_all()


@pytest.fixture
def night(tmp_path):
    """A tiny district, a config whose morning message goes to a local SMTP server, an output folder."""
    smtp = SmtpSink().start()
    try:
        yield {"src": tiny_district(tmp_path / "src"), "conf": config_copy(tmp_path / "config", smtp=smtp),
               "out": tmp_path / "out", "smtp": smtp, "procs": Processes(tmp_path / "logs"), "tmp": tmp_path}
    finally:
        smtp.stop()


def api(env: dict, method: str, path: str, body: dict | None = None):
    response = httpx.request(method, env["PREFECT_API_URL"] + path, json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def wait_for_end(env: dict, flow_run_id: str, procs: Processes, who: str, timeout: float = 420) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = api(env, "GET", f"/flow_runs/{flow_run_id}")
        if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return run
        assert time.monotonic() < deadline, f"flow run still {run['state']['type']}:\n{procs.tail(who)}"
        time.sleep(2)


def trigger(env: dict) -> str:
    """`prefect deployment run` (a night now; as_of replays the sample's school year); the flow run's id."""
    output = prefect("deployment", "run", DEPLOYMENT, "--param", f"as_of={AS_OF}", env=env)
    return re.search(r"UUID: ([0-9a-f-]{36})", output).group(1)


def check_published(night: dict, run: dict, procs: Processes, who: str) -> Path:
    assert run["state"]["type"] == "COMPLETED", f"{run['state']}\n{procs.tail(who, 80)}"
    assert run["state"]["message"].startswith("Hoàn thành 2022-03-15_")
    run_dir = (night["out"] / "latest").resolve()
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["as_of"] == AS_OF and manifest["counts"]["persons"] > 0
    assert manifest["run_id"] in run["state"]["message"]
    assert list((run_dir / "district").glob("*.xlsx")) and (run_dir / "exports" / "students.csv").is_file()
    (mail,) = night["smtp"].messages
    assert "Tổng hợp Huyện Hữu Lũng ngày 15/03/2022: hoàn thành" in mail.subject
    assert f"- Học sinh (sau ghép trùng): {manifest['counts']['persons']}" in mail.body
    assert not [v for v in personal_values(run_dir) if v in mail.body]
    return run_dir


def test_the_readme_deployment_steps_run_the_night_through_a_worker(server, night):
    env = {**server, "SONGMAYTINH_HOME": str(ROOT)}  # prefect.yaml's pull step runs the flow from the checkout
    procs = night["procs"]
    server_start, mine = next(c for c in RAN if c[1:3] == ["server", "start"]), len(RAN)
    try:
        prefect("work-pool", "create", "songmaytinh", "--type", "process", env=env)
        prefect("deploy", "--all", "--no-prompt", "--param", f"config_dir={night['conf']}",
                "--param", f"sources_dir={night['src']}", "--param", f"out_dir={night['out']}", env=env)
        deployment = api(env, "GET", f"/deployments/name/{DEPLOYMENT}")
        assert deployment["work_pool_name"] == "songmaytinh"
        assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["0 1 * * *"]
        RAN.append(["prefect", "worker", "start", "--pool", "songmaytinh"])
        procs.start("worker", [str(BIN / "prefect"), *RAN[-1][1:]], env, night["tmp"])
        flow_run_id = trigger(env)
        # the README's steps, command for command (values apart)
        assert [shape(c) for c in [server_start, *RAN[mine:]]] == [shape(c) for c in readme_steps()]
        run = wait_for_end(env, flow_run_id, procs, "worker")
        run_dir = check_published(night, run, procs, "worker")
    finally:
        procs.stop_all()

    artifacts = api(env, "POST", "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}})
    by_key = {a["key"]: a for a in artifacts}
    assert {"night-counts", "night-sources", "night-run-folder", "night-district-workbook"} <= set(by_key)
    counts = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))["counts"]
    table = by_key["night-counts"]["data"]
    table = json.loads(table) if isinstance(table, str) else table
    assert {row["Mã"]: row["Số lượng"] for row in table}["persons"] == counts["persons"]
    assert run_dir.as_uri() in by_key["night-run-folder"]["data"]
    assert "Tất cả nguồn đều đọc được." in by_key["night-sources"]["data"]
    text = json.dumps(artifacts, ensure_ascii=False)
    assert not [v for v in personal_values(run_dir) if v in text]


def test_songmaytinh_serve_runs_a_triggered_night(server, night):
    procs = night["procs"]
    try:
        serve = procs.start("serve", [str(BIN / "songmaytinh"), "serve", "--sources", str(night["src"]),
                                      "--config", str(night["conf"]), "--out", str(night["out"])], server, ROOT)
        deadline = time.monotonic() + 240
        while True:  # served: the deployment carries this process's parameters and no work pool
            assert serve.poll() is None, f"songmaytinh serve exited:\n{procs.tail('serve')}"
            try:
                deployment = api(server, "GET", f"/deployments/name/{DEPLOYMENT}")
                if deployment["parameters"].get("sources_dir") == str(night["src"]):
                    break
            except httpx.HTTPStatusError:
                pass
            assert time.monotonic() < deadline, f"not served:\n{procs.tail('serve')}"
            time.sleep(2)
        assert deployment["work_pool_name"] is None
        run = wait_for_end(server, trigger(server), procs, "serve")
        check_published(night, run, procs, "serve")
    finally:
        procs.stop_all()

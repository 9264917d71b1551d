"""A PostgreSQL server of the test's own that it can stop and start again with its data (the suite's shared
server, ``tests/pg_server.sh``, is used by other tests at the same time and must stay up). Started and finally
deleted with ``tests/pg_server.sh`` in a state folder of its own; stopped and restarted with the same
``pg_ctl`` and options as that script, as the server's user when running as root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "pg_server.sh"


class PrivatePostgres:
    def __init__(self, state: Path) -> None:
        self.state = state
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        subprocess.run(["bash", str(SCRIPT), "start", str(state)], check=True, capture_output=True, env=env,
                       cwd=ROOT, timeout=300)
        self.url = (state / "url").read_text().strip()
        self.root = Path((state / "root").read_text().strip())
        self.bin = Path((self.root / "bin").read_text().strip())
        self.user = (self.root / "user").read_text().strip()
        self.env = env

    def _ctl(self, *args: str) -> None:
        cmd = [str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def stop(self) -> None:
        """Stop the server (its sessions are cut, as when the database machine goes down); the data stays."""
        self._ctl("-m", "fast", "-w", "stop")

    def start(self) -> None:
        port = sa.engine.make_url(self.url).port
        self._ctl("-l", str(self.root / "server.log"), "-w", "-t", "60", "-o",
                  f"-p {port} -k {self.root / 'sock'} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200", "start")

    def destroy(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "stop", str(self.state)], capture_output=True, env=self.env, cwd=ROOT,
                       timeout=120)

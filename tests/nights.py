"""What the tests of whole nights share: a tiny sample district, a config copy with test settings, a real local
SMTP server (aiosmtpd) that keeps what it receives, and a TCP gate in front of PostgreSQL that refuses the first
connections (a ledger server that is not up yet)."""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from flows.config import DEFAULT_CONFIG_DIR

AS_OF = "2022-03-15"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_district(dest: Path, schools: int = 4, communes: int = 2, seed: int = 7) -> Path:
    """A few school and commune lists of the generated sample, with its donations and village coverage: a night
    over it takes seconds, and still allocates, waitlists and publishes every workbook."""
    from samples.generate import generate

    full = dest.parent / f".{dest.name}-full"
    generate(full, seed=seed, scale=0.03)
    dest.mkdir(parents=True, exist_ok=True)
    for folder in ("tai-tro", "ha-tang"):
        shutil.copytree(full / folder, dest / folder)
    for folder, n in (("truong", schools), ("xa", communes)):
        (dest / folder).mkdir()
        for path in sorted((full / folder).iterdir())[:n]:
            shutil.copy2(path, dest / folder / path.name)
    shutil.rmtree(full)
    return dest


def personal_values(run_dir: Path) -> set[str]:
    """Every child's and guardian's name and phone number a run exported (what must never leave it)."""
    students = pd.read_csv(run_dir / "exports" / "students.csv", dtype=str, keep_default_na=False)
    values = set()
    for column in ("full_name", "guardian_name", "phone", "phone_as_listed"):
        if column in students:
            values |= {v for v in students[column] if len(v) >= 5}
    return values


def config_copy(dest: Path, *, smtp: "SmtpSink | None" = None, retries: dict | None = None,
                google: dict | None = None, local_default: str | None = None) -> Path:
    """The project's config folder copied to ``dest`` with test settings: the morning message to ``smtp``,
    ``retries`` (sources.yaml), a ``google`` block, the local default sources folder."""
    shutil.copytree(DEFAULT_CONFIG_DIR, dest)
    sources = yaml.safe_load((dest / "sources.yaml").read_text(encoding="utf-8"))
    sources["local"]["default_dir"] = local_default
    if retries is not None:
        sources["retries"] = retries
    if google is not None:
        sources["google"] = google
    (dest / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True), encoding="utf-8")
    if smtp is not None:
        district = yaml.safe_load((dest / "district.yaml").read_text(encoding="utf-8"))
        district["morning_message"] = {
            "enabled": True, "host": "127.0.0.1", "port": smtp.port, "security": "none",
            "sender": "songmaytinh@huulung.example.vn", "recipients": ["phonggddt@huulung.example.vn"],
            "username_env": "SONGMAYTINH_TEST_SMTP_USER", "password_env": "SONGMAYTINH_TEST_SMTP_PASSWORD"}
        (dest / "district.yaml").write_text(yaml.safe_dump(district, allow_unicode=True, sort_keys=False),
                                            encoding="utf-8")
    return dest


@dataclass
class Received:
    envelope_from: str
    envelope_to: list[str]
    message: email.message.EmailMessage
    login: tuple[str, str] | None

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        return self.message.get_content()


@dataclass
class SmtpSink:
    """A real SMTP server (aiosmtpd) on a free local port; ``messages`` as received and parsed. With ``users``,
    it offers AUTH (without TLS: loopback only) and accepts those user/password pairs."""

    users: dict[str, str] = field(default_factory=dict)
    messages: list[Received] = field(default_factory=list)
    port: int = 0

    def start(self) -> "SmtpSink":
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        sink = self
        logins: dict[int, tuple[str, str]] = {}

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                message = email.message_from_bytes(envelope.original_content or envelope.content,
                                                   policy=email.policy.default)
                sink.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message,
                                              logins.get(id(session))))
                return "250 OK"

        def authenticate(server, session, envelope, mechanism, auth_data):
            if isinstance(auth_data, LoginPassword):
                user, password = auth_data.login.decode(), auth_data.password.decode()
                if sink.users.get(user) == password:
                    logins[id(session)] = (user, password)
                    return AuthResult(success=True)
            return AuthResult(success=False, handled=False)

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, authenticator=authenticate,
                                     auth_require_tls=False)
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class RefusingGate:
    """A TCP proxy on a free local port in front of ``target`` (host, port) that closes the first ``refuse``
    connections at once (as a database server that is still starting would), then forwards the rest."""

    def __init__(self, target: tuple[str, int], refuse: int) -> None:
        self.target, self.refuse = target, refuse
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            if self.connections <= self.refuse:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()  # a reset, before the server's first byte
                continue
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        self._stop.set()
        self.sock.close()

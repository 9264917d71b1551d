"""Retries where they help: the ledger connection and the Google pull are tried again on failures that may pass
(a PostgreSQL that refuses at first, Google answering 503), as config says; a bug is never retried. The flow's
final state message says which. Real components: PostgreSQL behind a refusing TCP gate, the fake Google server,
an SMTP server receiving the morning message; the flow runs on the test process's own Prefect server."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from flows.nightly import nightly_consolidation
from tests.fake_google import FakeGoogle, service_account, upload_folder
from tests.fake_google.server import Fault
from tests.nights import AS_OF, RefusingGate, config_copy, personal_values, tiny_district
from tests.pg import fresh_schema, postgres_url  # noqa: F401  (module-scoped fixture: a fresh database)

NO_WAIT = {"attempts": 3, "delay_seconds": [0]}


def gated(url: str, gate: RefusingGate) -> str:
    """``url`` through the gate (one TCP connection per attempt: no SSL negotiation to fall back from)."""
    parsed = sa.engine.make_url(url)
    options = dict(parsed.query)
    options["sslmode"] = "disable"
    return parsed.set(host="127.0.0.1", port=gate.port, query=options).render_as_string(hide_password=False)


def target(url: str) -> tuple[str, int]:
    parsed = sa.engine.make_url(url)
    return parsed.host, parsed.port


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    return tiny_district(tmp_path_factory.mktemp("retries") / "src")


def test_a_refusing_ledger_and_a_failing_google_listing_are_retried_and_the_night_completes(
        tmp_path, sources, postgres_url, smtp, monkeypatch, tally):  # noqa: F811
    fake = FakeGoogle()
    fake.serve()
    gate = None
    try:
        cfg_probe = config_copy(tmp_path / "probe")
        from flows.config import load_config

        entries, _ = upload_folder(fake, sources, load_config(cfg_probe))
        key = tmp_path / "key.json"
        key.write_text(json.dumps(service_account(fake)), encoding="utf-8")
        key.chmod(0o600)  # a key others can read is refused
        monkeypatch.setenv("SONGMAYTINH_GOOGLE_KEY", str(key))
        google = {"endpoint": fake.url, "spreadsheets": entries,
                  "quota": {"reads_per_minute": 100000, "project_reads_per_minute": 100000, "max_retries": 0,
                            "backoff_base_seconds": 0.01}}
        conf = config_copy(tmp_path / "config", smtp=smtp, google=google,
                           retries={"google": NO_WAIT, "ledger": NO_WAIT})
        url = fresh_schema(postgres_url)
        gate = RefusingGate(target(url), refuse=2)
        fake.faults.append(Fault(status=503, match="GET /drive", times=1))
        tally.injected(2)  # a ledger refusing twice, Google's listing answering 503 once

        state = nightly_consolidation(config_dir=str(conf), out_dir=str(tmp_path / "out"), as_of=AS_OF,
                                      ledger_url=gated(url, gate), return_state=True)

        assert state.is_completed(), state.message
        outcome = state.result()
        assert outcome["retried"] == {"ledger": 2, "sources": 1}
        assert "ledger thêm 2 lần" in state.message and "sources thêm 1 lần" in state.message
        assert gate.connections >= 3  # two refused, then the ledger's own
        # the pull was tried again and read Google for real: no source fell back to a stored snapshot
        assert {s["status"] for s in outcome["sources"]} == {"ok"}
        assert outcome["counts"]["persons"] > 0
        (mail,) = smtp.messages
        assert "hoàn thành" in mail.subject
        assert "Đã thử lại sau lỗi tạm thời: bước ledger thêm 2 lần, bước sources thêm 1 lần." in mail.body
        assert not [v for v in personal_values(tmp_path / "out" / "latest") if v in mail.body]
        tally.survived(2)
    finally:
        if gate is not None:
            gate.stop()
        fake.stop()


def test_a_ledger_that_keeps_refusing_fails_the_night_after_the_configured_attempts(
        tmp_path, sources, postgres_url, smtp, tally):  # noqa: F811
    tally.injected()
    url = fresh_schema(postgres_url)
    gate = RefusingGate(target(url), refuse=10**6)
    try:
        conf = config_copy(tmp_path / "config", smtp=smtp,
                           retries={"google": NO_WAIT, "ledger": {"attempts": 2, "delay_seconds": [0]}})
        state = nightly_consolidation(sources_dir=str(sources), config_dir=str(conf), out_dir=str(tmp_path / "out"),
                                      as_of=AS_OF, ledger_url=gated(url, gate), return_state=True)
    finally:
        gate.stop()
    assert state.is_failed()
    assert ("Bước ledger (kết nối sổ cái): lỗi tạm thời (cơ sở dữ liệu sổ cái: OperationalError/OperationalError), "
            "đã thử 2 lần — hết số lần thử") in state.message
    assert gate.connections == 2
    (mail,) = smtp.messages
    assert mail.subject.startswith("[Sóng và máy tính cho em] LỖI: tổng hợp Huyện Hữu Lũng ngày 15/03/2022")
    assert "KHÔNG hoàn thành" in mail.body and "đã thử 2 lần" in mail.body
    tally.survived()  # failed as configured, and said so


def test_a_bug_in_a_stage_fails_the_night_at_once_without_a_retry(tmp_path, sources, smtp, monkeypatch):
    """The sources step is one that retries (3 attempts here): a bug in it still runs once."""
    import flows.adapters.files

    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise KeyError("Nguyễn Văn An 0912345678")  # an exception message may quote a cell: it must not travel

    monkeypatch.setattr(flows.adapters.files, "read_local", broken)
    conf = config_copy(tmp_path / "config", smtp=smtp, retries={"google": NO_WAIT, "ledger": NO_WAIT})
    state = nightly_consolidation(sources_dir=str(sources), config_dir=str(conf), out_dir=str(tmp_path / "out"),
                                  as_of=AS_OF, return_state=True)
    assert state.is_failed()
    assert len(calls) == 1
    assert "Bước sources (đọc nguồn dữ liệu): lỗi chương trình (KeyError tại flows/stages.py:" in state.message
    assert "— không thử lại" in state.message
    (mail,) = smtp.messages
    assert "LỖI" in mail.subject and "lỗi chương trình (KeyError" in mail.body
    for text in (state.message, mail.subject, mail.body):
        assert "Nguyễn Văn An" not in text and "0912345678" not in text

"""The service account's key and scopes: a key file others can read is refused with a message that says how to
fix it (and never used: no token is even asked for); the night's pull asks Google only for read-only scopes, as
the token requests the test server received show."""

from __future__ import annotations

import json
import logging
import stat

import pytest

from flows.adapters.google.sheets import READ_SCOPES, InsecureKeyFile, connect
from flows.adapters.ledger import Ledger
from flows.stages import fetch_sources
from tests.adapters.test_google_sheets import google_cfg, student_sheet
from tests.fake_google.server import READ


@pytest.fixture
def ledger(tmp_path):
    with Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as led:
        led.migrate()
        yield led


@pytest.fixture
def key_file(tmp_path, key, cfg, monkeypatch):
    """The throwaway key as a file named by ``google.credentials_env``, private to its owner (mode 600)."""
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(key), encoding="utf-8")
    path.chmod(0o600)
    monkeypatch.setenv(cfg.sources.google.credentials_env, str(path))
    return path


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_others_can_read_or_change_is_refused_and_never_used(cfg, fake, key, key_file, ledger, mode,
                                                                       tally, caplog):
    tally.injected()
    caplog.set_level(logging.DEBUG)
    book = fake.add_spreadsheet("Trường TH Minh Sơn", [student_sheet()])
    gcfg = google_cfg(cfg, fake, [book.id])
    key_file.chmod(mode)
    with pytest.raises(InsecureKeyFile, match=f"chmod 600 {key_file}"):
        connect(gcfg.sources.google, READ_SCOPES)
    (source,) = fetch_sources(None, gcfg, ledger, "n1")
    assert source.status == "failed"
    assert f"chmod 600 {key_file}" in source.message and "người khác đọc được" in source.message
    assert fake.token_requests == [] and fake.count() == 0  # the key was never used

    key_file.chmod(0o600)  # fixed as the message says: the next night reads the sheet
    (source,) = fetch_sources(None, gcfg, ledger, "n2")
    assert source.status == "ok" and source.sheets
    secret = [line for line in key["private_key"].splitlines() if "PRIVATE KEY" not in line]
    assert caplog.records and not [line for line in secret if line in caplog.text]  # no part of the key logged
    tally.personal_data(sum(line in caplog.text for line in secret))
    tally.survived()


def test_the_nights_pull_asks_only_for_read_only_scopes(cfg, fake, key_file, ledger):
    books = [fake.add_spreadsheet(f"Trường {i}", [student_sheet()]) for i in range(2)]
    gcfg = google_cfg(cfg, fake, [b.id for b in books])
    sources = fetch_sources(None, gcfg, ledger, "n1")
    assert [s.status for s in sources] == ["ok", "ok"]
    assert fake.token_requests, "no token was requested"
    assert all(scopes and scopes <= READ for scopes in fake.token_requests), fake.token_requests
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

"""Which failures may pass (and are retried by the steps that meet them) and which are bugs; how a failure is
told without its message (real exceptions from SQLite, PostgreSQL's driver and the Google client)."""

from __future__ import annotations

import pickle
import re
import socket
import sqlite3

import pytest
import sqlalchemy as sa

from flows.adapters.google.sheets import GoogleUnavailable
from flows.failures import StageFailure, classify, google_transient, ledger_transient


def _raised(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the exception is the test's subject
        return exc
    raise AssertionError("nothing raised")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when the block ends: nothing listens there


def test_a_refused_postgresql_connection_may_pass_and_a_missing_table_does_not(tmp_path):
    engine = sa.create_engine(f"postgresql+psycopg://nobody@127.0.0.1:{closed_port()}/x?connect_timeout=5")
    refused = _raised(lambda: engine.connect())
    assert ledger_transient(refused) and not google_transient(refused)
    lite = sa.create_engine(f"sqlite:///{tmp_path / 'l.sqlite'}")
    with lite.connect() as conn:
        missing = _raised(lambda: conn.execute(sa.text("SELECT * FROM runs")))
    assert isinstance(missing, sa.exc.OperationalError) and not ledger_transient(missing)
    locked = sa.exc.OperationalError("UPDATE runs", {}, sqlite3.OperationalError("database is locked"))
    assert ledger_transient(locked)


def test_google_answers_that_may_pass():
    assert google_transient(GoogleUnavailable(503, "UNAVAILABLE")) and google_transient(GoogleUnavailable(0, "Timeout"))
    assert not google_transient(GoogleUnavailable(403, "PERMISSION_DENIED"))
    assert not google_transient(GoogleUnavailable(404, "NOT_FOUND"))


def test_a_failure_is_told_by_step_kind_and_place_never_by_its_message():
    bug = classify("dedupe", _raised(lambda: {}["Nguyễn Văn An"]))
    assert bug.kind == "bug" and bug.where == ""  # raised in the test itself: no place in our code
    assert str(bug) == "Bước dedupe (ghép trùng học sinh): lỗi chương trình (KeyError) — không thử lại"
    assert "Nguyễn" not in str(bug)

    refused = GoogleUnavailable(503, "x")
    first = classify("sources", refused, attempts=1, retry_on=google_transient, max_attempts=3)
    assert first.will_retry and str(first).endswith("lần thử 1/3 — sẽ thử lại")
    last = classify("sources", refused, attempts=3, retry_on=google_transient, max_attempts=3)
    assert not last.will_retry and str(last) == ("Bước sources (đọc nguồn dữ liệu): lỗi tạm thời (Google HTTP 503), "
                                                 "đã thử 3 lần — hết số lần thử")
    # a passing failure in a step that is not retried (it writes to the ledger halfway) is reported as such
    elsewhere = classify("allocate", refused)
    assert elsewhere.kind == "transient" and not elsewhere.will_retry
    assert str(elsewhere).endswith("— bước này không thử lại")
    assert pickle.loads(pickle.dumps(last)).describe() == last.describe()


def test_the_place_of_a_bug_is_in_our_code():
    from flows.config import spreadsheet_key

    failure = classify("sources", _raised(lambda: spreadsheet_key("không phải khoá")))
    assert failure.kind == "bug" and re.fullmatch(r"flows/config\.py:\d+", failure.where)
    assert str(failure).startswith(f"Bước sources (đọc nguồn dữ liệu): lỗi chương trình (ValueError tại {failure.where})")
    assert "không phải khoá" not in str(failure)
    with pytest.raises(StageFailure):
        raise failure

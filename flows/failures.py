"""Why a step of the night failed: a failure that may pass if tried again, or a bug in our code.

``ledger_transient`` and ``google_transient`` say which exceptions of the two outside services may pass (a
refused or dropped connection, a locked SQLite file, Google answering 429 or 5xx, a timeout); the Prefect flow
retries the ``ledger`` and ``sources`` steps on those only. Everything else is a bug and is never retried.

A ``StageFailure`` describes a failed step by its stage, the exception's *type* and the place in our code —
never the exception's message, which may quote a cell of a school's sheet (logs and Prefect's records hold no
personal data).
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Callable, Literal

_ROOT = Path(__file__).resolve().parent.parent

STAGE_LABELS = {
    "ledger": "kết nối sổ cái",
    "sources": "đọc nguồn dữ liệu",
    "layout": "nhận dạng bảng",
    "normalize": "chuẩn hoá dữ liệu",
    "validate": "kiểm tra dữ liệu",
    "dedupe": "ghép trùng học sinh",
    "allocate": "phân bổ",
    "publish": "xuất bảng tính",
    "feedback": "gửi phản hồi vào Google Sheets",
    "night": "tổng hợp",
}

Kind = Literal["transient", "bug"]


class StageFailure(Exception):
    """A step of the night failed. ``kind``: ``transient`` (may pass) or ``bug``; ``attempts``: tries made of
    ``max_attempts``; ``retryable``: whether this failure is one the step is tried again on."""

    def __init__(self, stage: str, kind: Kind, cause: str, where: str = "", attempts: int = 1,
                 retryable: bool = False, max_attempts: int = 1) -> None:
        self.stage, self.kind, self.cause, self.where = stage, kind, cause, where
        self.attempts, self.retryable, self.max_attempts = attempts, retryable, max(max_attempts, attempts)
        super().__init__(self.describe())

    @property
    def will_retry(self) -> bool:
        return self.kind == "transient" and self.retryable and self.attempts < self.max_attempts

    def describe(self) -> str:
        """One Vietnamese line for the officer and the Prefect state: which step, what kind, retried or not."""
        label = STAGE_LABELS.get(self.stage, self.stage)
        if self.kind == "bug":
            place = f" tại {self.where}" if self.where else ""
            return f"Bước {self.stage} ({label}): lỗi chương trình ({self.cause}{place}) — không thử lại"
        if self.will_retry:
            return (f"Bước {self.stage} ({label}): lỗi tạm thời ({self.cause}), lần thử {self.attempts}/"
                    f"{self.max_attempts} — sẽ thử lại")
        if self.retryable:
            return (f"Bước {self.stage} ({label}): lỗi tạm thời ({self.cause}), đã thử {self.attempts} lần — "
                    f"hết số lần thử")
        return f"Bước {self.stage} ({label}): lỗi tạm thời ({self.cause}) — bước này không thử lại"

    def __reduce__(self):  # picklable with its fields (Prefect may copy exceptions between processes)
        return (StageFailure, (self.stage, self.kind, self.cause, self.where, self.attempts, self.retryable,
                               self.max_attempts))


def classify(stage: str, exc: BaseException, attempts: int = 1,
             retry_on: Callable[[BaseException], bool] | None = None, max_attempts: int = 1) -> StageFailure:
    """The ``StageFailure`` for ``exc`` raised by ``stage`` (type and place only). ``retry_on``: the test of the
    failures this step is tried again on (``ledger_transient`` for the ledger, ``google_transient`` for sources);
    another transient failure (a dropped connection in the middle of dedupe) is reported, not retried."""
    if isinstance(exc, StageFailure):
        return exc
    retryable = retry_on is not None and retry_on(exc)
    if retryable or is_transient(exc):
        return StageFailure(stage, "transient", cause(exc), attempts=attempts, retryable=retryable,
                            max_attempts=max_attempts if retryable else attempts)
    return StageFailure(stage, "bug", type(exc).__name__, where=where(exc), attempts=attempts)


def is_transient(exc: BaseException) -> bool:
    return ledger_transient(exc) or google_transient(exc)


def ledger_transient(exc: BaseException) -> bool:
    """A database error that may pass: the server refused or dropped the connection, is starting or shutting
    down, has too many connections, a deadlock; SQLite's file is locked or busy."""
    import sqlalchemy.exc as sa_exc

    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return False
    orig = getattr(exc, "orig", None)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        psycopg = None
    if psycopg is not None and isinstance(orig, (psycopg.OperationalError, psycopg.InterfaceError)):
        return True
    text = str(orig or "").lower()
    return "database is locked" in text or "database is busy" in text


def google_transient(exc: BaseException) -> bool:
    """Google unavailable for a while: a timeout or dropped connection (status 0), 429, 5xx."""
    from flows.adapters.google.sheets import GoogleUnavailable

    if isinstance(exc, GoogleUnavailable):
        return exc.transient
    try:
        import requests
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, (requests.ConnectionError, requests.Timeout))


def cause(exc: BaseException) -> str:
    """The exception's type, and for Google its HTTP status, for the ledger's database that it was the ledger's
    (no message: it could quote data)."""
    status = getattr(exc, "status", None)
    if isinstance(status, int) and type(exc).__name__ == "GoogleUnavailable":
        return f"Google HTTP {status}" if status else "Google không phản hồi"
    orig = getattr(exc, "orig", None)
    name = f"{type(exc).__name__}/{type(orig).__name__}" if orig is not None else type(exc).__name__
    if orig is not None and ledger_transient(exc):  # a database error: the ledger's server, not Google
        return f"cơ sở dữ liệu sổ cái: {name}"
    return name


def where(exc: BaseException, frames: int = 3) -> str:
    """The innermost places in our own code (``flows``, ``validations``) the exception passed through, innermost
    first: ``flows/x.py:12 < flows/y.py:34``."""
    ours = []
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename).resolve()
        if any(path.is_relative_to(_ROOT / package) for package in ("flows", "validations")):
            ours.append(f"{path.relative_to(_ROOT).as_posix()}:{frame.lineno}")
    return " < ".join(reversed(ours[-frames:]))

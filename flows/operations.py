"""Typed settings for running the night unattended: retries of passing failures and the morning message.

``Retries`` is the ``retries:`` block of ``config/sources.yaml``; ``MorningMessage`` the ``morning_message:``
block of ``config/district.yaml``. Both are validated with the rest of the configuration (``flows.config``).
No secret lives here: the SMTP user and password are read from environment variables or a Prefect Secret block
whose *names* are configured.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryPolicy(_Strict):
    """How often one step is tried when it meets a failure that may pass (a refused connection, HTTP 503).

    ``attempts`` counts every try, the first included; ``delay_seconds`` is the wait before each retry (the last
    value repeats). A failure that is our own bug is never retried, whatever the policy.
    """

    attempts: int = Field(3, ge=1, le=20)
    delay_seconds: list[Annotated[float, Field(ge=0)]] = Field(default_factory=lambda: [30.0, 120.0], min_length=1,
                                                               max_length=20)


class Retries(_Strict):
    """``google``: the pull again when the Drive listing fails for a reason that may pass (after the per-request
    retries of ``google.quota``); on the last attempt the night goes on with the stored snapshots (stale).
    ``ledger``: connecting to the ledger database (and bringing its schema up to date)."""

    google: RetryPolicy = RetryPolicy(attempts=3, delay_seconds=[60.0, 300.0])
    ledger: RetryPolicy = RetryPolicy(attempts=4, delay_seconds=[10.0, 60.0, 300.0])


class MorningMessage(_Strict):
    """The e-mail officers get after each night (``enabled``), with counts, what needs attention and where the
    workbooks are; on failure, what failed. Credentials: ``username_env`` / ``password_env`` name environment
    variables, ``password_secret`` a Prefect Secret block; never the values themselves."""

    enabled: bool = False
    host: str = "localhost"
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "starttls"
    sender: str = "songmaytinh@localhost"
    recipients: list[str] = []
    username_env: str = "SONGMAYTINH_SMTP_USER"
    password_env: str = "SONGMAYTINH_SMTP_PASSWORD"
    password_secret: str | None = None
    timeout_seconds: float = Field(30.0, gt=0)
    subject_prefix: str = "[Sóng và máy tính cho em]"

    @model_validator(mode="after")
    def _addresses(self) -> "MorningMessage":
        for i, address in enumerate([self.sender, *self.recipients]):
            if "@" not in address or address.strip() != address:
                where = "sender" if i == 0 else f"recipients.{i - 1}"
                raise ValueError(f"{where}: {address!r} is not an e-mail address")
        if self.enabled and not self.recipients:
            raise ValueError("recipients: at least one address when enabled")
        return self

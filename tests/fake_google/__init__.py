"""A fake Google (OAuth2 token + Drive v3 + Sheets v4) for tests, and helpers to fill it from local files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from flows.frames import SheetGrid
from tests.fake_google.server import Fault, FakeGoogle, FakeSheet, FakeSpreadsheet

__all__ = ["Fault", "FakeClock", "FakeGoogle", "FakeSheet", "FakeSpreadsheet", "service_account",
           "sheets_from_grids", "upload_file"]

SERVICE_ACCOUNT = "songmaytinh-night@test-project.iam.gserviceaccount.com"
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


class FakeClock:
    """Monotonic time that only moves when the code under test sleeps (quota waits and backoff cost nothing)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def service_account(fake: FakeGoogle, email: str = SERVICE_ACCOUNT) -> dict:
    """A throwaway service-account key JSON whose token_uri is the fake server (generated, never stored)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    fake.public_keys[email] = public
    return {"type": "service_account", "project_id": "test-project", "private_key_id": "test-key",
            "private_key": private, "client_email": email, "client_id": "1",
            "token_uri": f"{fake.url}/token"}


def _cell(value: Any) -> Any:
    """A local cell as Sheets stores it: dates and times become serial numbers, as UNFORMATTED_VALUE returns."""
    if isinstance(value, dt.datetime):
        serial = (value - _EXCEL_EPOCH).total_seconds() / 86400
        return int(serial) if serial.is_integer() else serial  # JSON writes whole numbers without a fraction
    if isinstance(value, dt.date):
        return (value - _EXCEL_EPOCH.date()).days
    if isinstance(value, dt.time):
        return (value.hour * 3600 + value.minute * 60 + value.second) / 86400
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / 86400
    if isinstance(value, float) and value.is_integer():
        return int(value)  # Sheets' JSON writes whole numbers without a fraction
    return value


def sheets_from_grids(grids: list[SheetGrid], csv_sheet_name: str = "Trang tính1") -> list[FakeSheet]:
    out = []
    for i, g in enumerate(grids):
        sheet = FakeSheet(sheet_id=1000 + i, title=g.name or csv_sheet_name,
                          rows=[[_cell(v) for v in row] for row in g.rows],
                          merges=[{"startRowIndex": r0, "startColumnIndex": c0, "endRowIndex": r1 + 1,
                                   "endColumnIndex": c1 + 1} for r0, c0, r1, c1 in g.merged],
                          hidden_rows=set(g.hidden_rows), hidden_cols=set(g.hidden_cols), hidden=g.hidden)
        sheet.row_count = max(len(g.rows), 1)
        sheet.col_count = max([len(r) for r in g.rows] + [1])
        out.append(sheet)
    return out


def upload_file(fake: FakeGoogle, path: Path, title: str, key: str | None = None) -> FakeSpreadsheet:
    """Put a local spreadsheet into the fake Drive, as "Upload and convert to Google Sheets" would."""
    from flows.adapters.files import read_grids

    return fake.add_spreadsheet(title, sheets_from_grids(read_grids(path)), key=key)


def upload_folder(fake: FakeGoogle, folder: Path, cfg) -> tuple[list[dict], dict[str, str]]:
    """Every local source under ``folder`` as a spreadsheet titled like the file (without its suffix).

    Returns the registry entries (key, kind, unit_type as the local patterns say) for sources.yaml and a map
    title -> the local relative path, for comparing exports.
    """
    import hashlib

    from flows.adapters.files import list_local

    entries, paths = [], {}
    for path, pattern in list_local(folder, cfg):
        rel = path.relative_to(folder).as_posix()
        title = path.stem
        key = "key" + hashlib.sha256(rel.encode()).hexdigest()[:24]
        upload_file(fake, path, title, key=key)
        entry = {"key": key, "kind": pattern.kind if pattern else "students"}
        if pattern and pattern.unit_type:
            entry["unit_type"] = pattern.unit_type
        entries.append(entry)
        paths[title] = rel
    return entries, paths

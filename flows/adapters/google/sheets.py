"""Google Sheets as a source: a quota-aware gspread client, change detection and stored snapshots.

The night makes one Drive ``files.list`` call (per 1,000 files) for every spreadsheet's ``modifiedTime``; a
spreadsheet whose ``modifiedTime`` equals its stored snapshot costs no read at all. A changed spreadsheet costs two
reads: ``spreadsheets.get`` with a field mask (sheet titles, merged ranges, hidden rows and columns) and one
``values.batchGet`` over all its sheets (unformatted values, dates as serial numbers). The pull uses read-only
scopes; only provisioning and the feedback write-back ask for write scopes.

Every request goes through ``GoogleHTTPClient`` (a ``gspread.http_client.HTTPClient``): a client-side rate limit
(a sliding one-minute window per user and per project; Sheets reads, Drive reads and writes apart), a timeout,
and retries of 429, 5xx and timeouts with exponential backoff, full jitter and ``Retry-After``. Time and sleep
are injected so tests run on a fake clock. ``endpoint`` sends every call to another base URL (the test server speaks the same REST API).

One failing spreadsheet (403 unshared, 404 deleted, 5xx that does not stop) never stops the night: it becomes
``stale`` (the last good snapshot is used) or ``failed`` when none exists.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from google.auth.exceptions import RefreshError, TransportError
from gspread import Client
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient
from gspread.utils import absolute_range_name

from flows.config import AppConfig, GoogleQuota, GoogleSettings, GoogleSource
from flows.frames import SheetGrid, SourceData
from flows.text import fold

log = logging.getLogger(__name__)

READ_SCOPES = ["https://www.googleapis.com/auth/spreadsheets.readonly",
               "https://www.googleapis.com/auth/drive.metadata.readonly"]
WRITE_SCOPES = ["https://www.googleapis.com/auth/spreadsheets", "https://www.googleapis.com/auth/drive"]
GOOGLE_HOSTS = ("https://sheets.googleapis.com", "https://www.googleapis.com")
RETRY_STATUSES = {429, 500, 502, 503, 504}
TRANSIENT_STATUSES = RETRY_STATUSES | {0, 408}  # worth a later try of the whole pull (flows.failures)
FEEDBACK_SHEET = "Phản hồi"
METADATA_FIELDS = ("spreadsheetId,properties(title),sheets(properties(sheetId,title,index,hidden),merges,"
                   "data(rowMetadata(hiddenByUser),columnMetadata(hiddenByUser)))")


class Clock(Protocol):
    def __call__(self) -> float: ...


# ---------------------------------------------------------------------------------------------------------------
# Quota: client-side rate limit, retries with backoff, timeouts


class WindowLimiter:
    """At most ``limit`` requests in any ``window`` seconds (sliding window); waits through ``sleep``."""

    def __init__(self, limit: int, window: float = 60.0, *, clock: Clock = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.limit, self.window, self.clock, self.sleep = limit, window, clock, sleep
        self.sent: deque[float] = deque()
        self.waited = 0.0

    def acquire(self) -> None:
        while True:
            now = self.clock()
            while self.sent and self.sent[0] <= now - self.window:
                self.sent.popleft()
            if len(self.sent) < self.limit:
                self.sent.append(now)
                return
            wait = self.sent[0] + self.window - now
            self.waited += wait
            self.sleep(wait)


class GoogleUnavailable(Exception):
    """A call failed for good (after retries): ``status`` is the HTTP status, 0 for timeouts and transport errors."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail

    @property
    def transient(self) -> bool:
        """Google may answer later: a timeout or dropped connection (0), 408, 429 or 5xx."""
        return self.status in TRANSIENT_STATUSES


@dataclass
class CallStats:
    requests: int = 0  # HTTP attempts sent to the API (token requests excluded)
    retries: int = 0
    slept: float = 0.0  # seconds of backoff (rate-limit waits are in the limiters)
    by_kind: dict[str, int] = field(default_factory=dict)


class GoogleHTTPClient(HTTPClient):
    """gspread's HTTP client with quotas, retries, timeouts and an optional endpoint override."""

    def __init__(self, auth: Any, session: requests.Session | None = None, *, quota: GoogleQuota = GoogleQuota(),
                 endpoint: str | None = None, clock: Clock = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> None:
        super().__init__(auth, session)
        self.quota = quota
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.clock, self.sleep = clock, sleep
        self.rng = rng or random.Random()
        self.reads = [WindowLimiter(quota.reads_per_minute, clock=clock, sleep=sleep),
                      WindowLimiter(quota.project_reads_per_minute, clock=clock, sleep=sleep)]
        self.writes = [WindowLimiter(quota.writes_per_minute, clock=clock, sleep=sleep)]
        self.drive_reads = [WindowLimiter(quota.drive_reads_per_minute, clock=clock, sleep=sleep)]
        self.set_timeout(quota.timeout_seconds)
        self.stats = CallStats()

    def _url(self, url: str) -> str:
        if self.endpoint:
            for host in GOOGLE_HOSTS:
                if url.startswith(host):
                    return self.endpoint + url[len(host):]
        return url

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Full-jitter exponential backoff, never shorter than the server's Retry-After."""
        cap = min(self.quota.backoff_max_seconds, self.quota.backoff_base_seconds * (2 ** attempt))
        delay = self.rng.uniform(0, cap)
        return max(delay, retry_after) if retry_after is not None else delay

    def request(self, method: str, endpoint: str, params=None, data=None, json=None, files=None,  # noqa: A002
                headers=None) -> requests.Response:
        url = self._url(endpoint)
        if method.lower() != "get":
            limiters = self.writes
        else:  # Drive and Sheets count their reads apart; the Sheets ones are the scarce ones
            limiters = self.drive_reads if "/drive/" in url else self.reads
        attempt = 0
        while True:
            for limiter in limiters:
                limiter.acquire()
            self.stats.requests += 1
            try:
                return super().request(method, url, params=params, data=data, json=json, files=files,
                                       headers=headers)
            except APIError as exc:
                status = exc.response.status_code
                if not _retryable(exc) or attempt >= self.quota.max_retries:
                    raise GoogleUnavailable(status, _api_message(exc)) from None
                retry_after = _retry_after(exc.response.headers.get("Retry-After"))
            except RefreshError as exc:  # the key was refused: retrying will not help
                raise GoogleUnavailable(401, type(exc).__name__) from None
            except (requests.Timeout, requests.ConnectionError, TransportError) as exc:
                # a write that timed out may have been applied: only reads are safe to send again
                if attempt >= self.quota.max_retries or (method.lower() != "get" and not isinstance(
                        exc, (requests.ConnectTimeout, TransportError))):
                    raise GoogleUnavailable(0, type(exc).__name__) from None
                retry_after = None
            delay = self.backoff(attempt, retry_after)
            self.stats.retries += 1
            self.stats.slept += delay
            log.info("google %s retry %d after %.1fs", method.upper(), attempt + 1, delay)
            self.sleep(delay)
            attempt += 1


def _retryable(exc: APIError) -> bool:
    status = exc.response.status_code
    if status in RETRY_STATUSES:
        return True
    if status == 403:  # Drive reports its rate limits as 403 with a reason
        reasons = {e.get("reason") for e in exc.error.get("errors", []) if isinstance(e, dict)}
        return bool(reasons & {"rateLimitExceeded", "userRateLimitExceeded"})
    return False


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _api_message(exc: APIError) -> str:
    return str(exc.error.get("status") or exc.error.get("message") or "")[:80]


class InsecureKeyFile(ValueError):
    """The service-account key file may be read or changed by users other than its owner: it is not used. The
    message (Vietnamese) names the file and the command that fixes it; it holds nothing of the key."""


def credentials_info(settings: GoogleSettings) -> dict | None:
    """The service-account key JSON: from the file named by ``credentials_env`` or a Prefect Secret block.

    A key file that its group or other users can read or write is refused (``InsecureKeyFile``), as ssh refuses
    a private key: whoever reads it can read every school's list."""
    path = os.environ.get(settings.credentials_env)
    if path:
        with open(path, encoding="utf-8") as fh:
            mode = os.fstat(fh.fileno()).st_mode & 0o777
            if os.name == "posix" and mode & 0o077:
                raise InsecureKeyFile(
                    f"khoá tài khoản dịch vụ {path} để người khác đọc được (quyền {mode:o}); chương trình không "
                    f"dùng khoá này. Hãy chạy: chmod 600 {path} (chỉ người chạy chương trình được đọc)")
            return json.load(fh)
    if settings.credentials_secret:
        from prefect.blocks.system import Secret

        value = Secret.load(settings.credentials_secret).get()
        return value if isinstance(value, dict) else json.loads(value)
    return None


def connect(settings: GoogleSettings, scopes: list[str], *, info: dict | None = None, clock: Clock = time.monotonic,
            sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> Client:
    """A gspread client authorised as the service account, with our quotas; ValueError if no key is set."""
    from google.oauth2.service_account import Credentials

    info = info if info is not None else credentials_info(settings)
    if info is None:
        raise ValueError(f"no service-account key: set {settings.credentials_env} to the key file's path")
    creds = Credentials.from_service_account_info(info, scopes=scopes)

    class _Client(GoogleHTTPClient):
        def __init__(self, auth: Any, session: requests.Session | None = None) -> None:
            super().__init__(auth, session, quota=settings.quota, endpoint=settings.endpoint, clock=clock,
                             sleep=sleep, rng=rng)

    return Client(creds, http_client=_Client)


def http_of(client: Client) -> GoogleHTTPClient:
    return client.http_client  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------------------------
# Snapshots


class SnapshotStore(Protocol):
    """What the source needs from the ledger (``flows.adapters.ledger.Ledger`` implements it)."""

    def save_snapshot(self, snapshot: Any, run_id: str | None = None) -> int: ...
    def latest_snapshot(self, source_id: str) -> Any: ...


def grids_to_json(sheets: Iterable[SheetGrid]) -> list[dict[str, Any]]:
    return [{"name": g.name, "rows": [[_jsonable(v) for v in r] for r in g.rows],
             "merged": [list(m) for m in g.merged], "hidden_rows": sorted(g.hidden_rows),
             "hidden_cols": sorted(g.hidden_cols), "hidden": g.hidden} for g in sheets]


def grids_from_json(sheets: Iterable[dict[str, Any]]) -> list[SheetGrid]:
    return [SheetGrid(name=s["name"], rows=[list(r) for r in s["rows"]],
                      merged=[tuple(m) for m in s["merged"]],  # type: ignore[misc]
                      hidden_rows=frozenset(s["hidden_rows"]), hidden_cols=frozenset(s["hidden_cols"]),
                      hidden=bool(s["hidden"])) for s in sheets]


def _jsonable(v: Any) -> Any:
    return v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v


def fetch_spreadsheet(client: Client, key: str) -> tuple[str, list[SheetGrid], list[int]]:
    """Title, grids and sheet ids of one spreadsheet in two reads: metadata (merges, hidden rows), one batchGet."""
    http = http_of(client)
    meta = http.spreadsheets_get(key, params={"fields": METADATA_FIELDS})
    sheets = sorted(meta.get("sheets", []), key=lambda s: s.get("properties", {}).get("index", 0))
    titles = [s["properties"]["title"] for s in sheets]
    values: list[dict] = []
    if titles:
        got = http.values_batch_get(key, [absolute_range_name(t) for t in titles],
                                    params={"valueRenderOption": "UNFORMATTED_VALUE",
                                            "dateTimeRenderOption": "SERIAL_NUMBER", "majorDimension": "ROWS"})
        values = got.get("valueRanges", [])
    grids = []
    for i, sheet in enumerate(sheets):
        rows = values[i].get("values", []) if i < len(values) else []
        grids.append(_grid(sheet, rows))
    ids = [s["properties"].get("sheetId", 0) for s in sheets]
    return meta.get("properties", {}).get("title", key), grids, ids


def _grid(sheet: dict, rows: list[list[Any]]) -> SheetGrid:
    props = sheet.get("properties", {})
    merged = [(m.get("startRowIndex", 0), m.get("startColumnIndex", 0), m["endRowIndex"] - 1, m["endColumnIndex"] - 1)
              for m in sheet.get("merges", []) if "endRowIndex" in m and "endColumnIndex" in m]
    hidden_rows: set[int] = set()
    hidden_cols: set[int] = set()
    for data in sheet.get("data", []):
        start_row, start_col = data.get("startRow", 0), data.get("startColumn", 0)
        hidden_rows.update(start_row + i for i, m in enumerate(data.get("rowMetadata", [])) if m.get("hiddenByUser"))
        hidden_cols.update(start_col + i for i, m in enumerate(data.get("columnMetadata", []))
                           if m.get("hiddenByUser"))
    height = max([len(rows)] + [m[2] + 1 for m in merged])
    width = max([len(r) for r in rows] + [m[3] + 1 for m in merged] + [0])
    grid = [[None if v == "" else v for v in r] + [None] * (width - len(r)) for r in rows]
    grid += [[None] * width for _ in range(height - len(grid))]
    return SheetGrid(name=props.get("title", ""), rows=grid, merged=merged, hidden_rows=frozenset(hidden_rows),
                     hidden_cols=frozenset(hidden_cols), hidden=bool(props.get("hidden")))


def list_modified(client: Client) -> dict[str, tuple[str, str]]:
    """Every spreadsheet the service account can see: key -> (title, modifiedTime). One call per 1,000 files."""
    return {f["id"]: (f.get("name", ""), f.get("modifiedTime", "")) for f in client.list_spreadsheet_files()}


# ---------------------------------------------------------------------------------------------------------------
# The registry: which spreadsheet is which unit's list


_REGISTRY_HEADERS = {
    "unit": ["don vi", "ma don vi", "ma", "unit"],
    "kind": ["loai", "loai du lieu", "kind"],
    "key": ["khoa / url", "khoa", "url", "key", "lien ket", "duong dan"],
    "contact": ["lien he", "email", "contact"],
    "unit_type": ["cap", "unit_type", "loai don vi"],
}
_KIND_WORDS = {"students": ["students", "hoc sinh", "danh sach hoc sinh"], "donations": ["donations", "tai tro"],
               "connectivity": ["connectivity", "ha tang", "ket noi", "song"], "handover": ["handover", "ban giao"]}
_UNIT_TYPE_WORDS = {"school": ["school", "truong"], "commune": ["commune", "xa"]}
REGISTRY_COLUMNS = ["Đơn vị", "Tên đơn vị", "Loại", "Cấp", "Khoá / URL", "Liên hệ"]


def parse_registry(grids: list[SheetGrid]) -> tuple[list[GoogleSource], list[str]]:
    """Registry rows from the first sheet with a key column; (sources, problems as "row N: ...")."""
    problems: list[str] = []
    for grid in grids:
        for r, row in enumerate(grid.rows[:10]):
            names = [fold(str(v)) if v is not None else "" for v in row]
            cols = {f: next((i for i, n in enumerate(names) if n in aliases), None)
                    for f, aliases in _REGISTRY_HEADERS.items()}
            if cols["key"] is None or cols["kind"] is None:
                continue
            out = []
            for n, values in enumerate(grid.rows[r + 1:], start=r + 2):
                def cell(f: str) -> str:
                    i = cols[f]
                    return "" if i is None or i >= len(values) or values[i] is None else str(values[i]).strip()
                if not cell("key"):
                    continue
                kind = _word(cell("kind"), _KIND_WORDS)
                unit_type = _word(cell("unit_type"), _UNIT_TYPE_WORDS)
                if kind is None:
                    problems.append(f"row {n}: unknown kind")
                    continue
                try:
                    out.append(GoogleSource(key=cell("key"), kind=kind, unit=cell("unit") or None,
                                            unit_type=unit_type, contact=cell("contact") or None))
                except ValueError:
                    problems.append(f"row {n}: not a spreadsheet key or URL")
            return out, problems
    return [], ["no header row with a key and a kind column"]


def _word(text: str, words: dict[str, list[str]]) -> str | None:
    folded = fold(text)
    for value, aliases in words.items():
        if folded in aliases:
            return value
    return None


# ---------------------------------------------------------------------------------------------------------------
# The night's pull


@dataclass
class GooglePull:
    """What the Google part of the sources stage did: the sources, the snapshot each used, and the counts."""

    sources: list[SourceData]
    snapshot_ids: dict[str, int | None] = field(default_factory=dict)  # every key read, the registry included
    statuses: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (status, message)
    registry_problems: list[str] = field(default_factory=list)
    requests: int = 0
    changed: int = 0
    unchanged: int = 0


def _failure_message(exc: Exception) -> str:
    if isinstance(exc, GoogleUnavailable):
        if exc.status == 403:
            return "bảng tính chưa được chia sẻ với tài khoản dịch vụ (HTTP 403)"
        if exc.status == 404:
            return "không tìm thấy bảng tính: đã bị xoá hoặc sai khoá (HTTP 404)"
        if exc.status == 429:
            return "vượt hạn mức truy cập của Google (HTTP 429) sau nhiều lần thử"
        if exc.status >= 500:
            return f"máy chủ Google lỗi liên tục (HTTP {exc.status}) sau nhiều lần thử"
        if exc.status == 0:
            return "Google không phản hồi kịp (quá thời gian chờ hoặc mất kết nối)"
        return f"Google từ chối yêu cầu (HTTP {exc.status})"
    return f"không đọc được bảng tính ({type(exc).__name__})"


def _parse_time(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def _source(entry: GoogleSource, title: str, sheets: list[SheetGrid], modified: str) -> SourceData:
    return SourceData(source_id=entry.key, source_file=title or entry.key, kind=entry.kind, unit_type=entry.unit_type,
                      unit=entry.unit, modified=_parse_time(modified),
                      sheets=[g for g in sheets if g.name != FEEDBACK_SHEET])


def pull_google(cfg: AppConfig, store: SnapshotStore, run_id: str | None = None, *, client: Client | None = None,
                offline: bool = False, replay: dict[str, Any] | None = None, fallback: bool = True) -> GooglePull:
    """Fetch every registered spreadsheet that changed since its snapshot; reuse snapshots for the rest.

    ``offline`` (or no credentials) reads only stored snapshots; ``replay`` (source id -> snapshot, from
    ``Ledger.run_snapshots``) replays the spreadsheets one past night read. Never raises for one bad spreadsheet.
    When the Drive listing fails for a reason that may pass (``GoogleUnavailable.transient``), ``fallback=False``
    raises it (the caller tries the pull again later: nothing has been read or stored yet); ``fallback=True`` goes
    on with the stored snapshots, marked stale.
    """
    from flows.adapters.ledger import Snapshot

    settings = cfg.sources.google
    pull = GooglePull(sources=[])
    unavailable = ""
    if client is None and not offline and replay is None:
        try:
            client = connect(settings, READ_SCOPES)
        except InsecureKeyFile as exc:  # the operator's to fix: say how (the message names the file, not the key)
            unavailable = str(exc)
            log.error("google: the key file in %s is readable by others; refused, using stored snapshots",
                      settings.credentials_env)
        except Exception as exc:  # no key, an unreadable key, a Secret block that cannot be loaded
            unavailable = f"chưa cấu hình được khoá tài khoản dịch vụ ({type(exc).__name__})"
            log.warning("google: no usable credentials (%s, %s); using stored snapshots", settings.credentials_env,
                        type(exc).__name__)
    online = client is not None and not offline and replay is None

    listing: dict[str, tuple[str, str]] = {}
    if online:
        try:
            listing = list_modified(client)
        except GoogleUnavailable as exc:
            if not fallback and exc.transient:
                log.warning("google: Drive listing failed (HTTP %s); the pull will be tried again", exc.status)
                raise
            unavailable = _failure_message(exc)
            online = False
            log.warning("google: Drive listing failed (HTTP %s); using stored snapshots", exc.status)

    def get(key: str) -> tuple[Any, str, str]:
        """(snapshot, status, message) for one key."""
        stored = replay.get(key) if replay is not None else store.latest_snapshot(key)
        if not online:
            if stored is None:
                return None, "failed", unavailable or "chế độ ngoại tuyến: chưa có bản lưu của bảng tính này"
            if offline or replay is not None:
                return stored, "ok", f"bản lưu (sửa lúc {stored.modified_time})"
            return stored, "stale", f"dùng bản lưu (sửa lúc {stored.modified_time}): {unavailable}"
        title, modified = listing.get(key, ("", ""))
        if stored is not None and modified and stored.modified_time == modified:
            pull.unchanged += 1
            return stored, "ok", ""
        try:
            title, sheets, sheet_ids = fetch_spreadsheet(client, key)
        except Exception as exc:  # one spreadsheet never stops the night
            if not isinstance(exc, GoogleUnavailable):
                log.error("google: spreadsheet %s: %s", key, type(exc).__name__)
            message = _failure_message(exc)
            log.warning("google: spreadsheet %s failed (%s)", key, getattr(exc, "status", type(exc).__name__))
            if stored is None:
                return None, "failed", message
            return stored, "stale", f"dùng bản lưu (sửa lúc {stored.modified_time}): {message}"
        pull.changed += 1
        stored_sheets = [dict(g, sheet_id=i) for g, i in zip(grids_to_json(sheets), sheet_ids)]
        snapshot = Snapshot(source_id=key, title=title, modified_time=modified or "", sheets=stored_sheets)
        snapshot.snapshot_id = store.save_snapshot(snapshot, run_id)
        return snapshot, "ok", ""

    entries = list(settings.spreadsheets)
    if settings.registry:
        snapshot, status, message = get(settings.registry)
        pull.snapshot_ids[settings.registry] = getattr(snapshot, "snapshot_id", None)
        pull.statuses[settings.registry] = (status, message)
        if snapshot is None:
            pull.registry_problems.append(f"registry: {message}")
        else:
            found, problems = parse_registry(grids_from_json(snapshot.sheets))
            pull.registry_problems.extend(problems)
            known = {e.key for e in entries}
            entries += [e for e in found if e.key not in known]
    seen: set[str] = set()
    for entry in entries:
        if entry.key in seen:
            continue
        seen.add(entry.key)
        snapshot, status, message = get(entry.key)
        if snapshot is None:
            title = listing.get(entry.key, ("", ""))[0] or entry.key
            source = SourceData(source_id=entry.key, source_file=title, kind=entry.kind, unit_type=entry.unit_type,
                                unit=entry.unit, status="failed", message=message)
        else:
            source = _source(entry, snapshot.title, grids_from_json(snapshot.sheets), snapshot.modified_time)
            source.status, source.message = status, message  # type: ignore[assignment]
        pull.sources.append(source)
        pull.snapshot_ids[entry.key] = getattr(snapshot, "snapshot_id", None)
        pull.statuses[entry.key] = (source.status, source.message)
    _distinct_titles(pull.sources)
    if client is not None:
        pull.requests = http_of(client).stats.requests
    log.info("google: %d spreadsheets, %d changed, %d unchanged, %d requests, %d stale, %d failed",
             len(pull.sources), pull.changed, pull.unchanged, pull.requests,
             sum(s.status == "stale" for s in pull.sources), sum(s.status == "failed" for s in pull.sources))
    return pull


def _distinct_titles(sources: list[SourceData]) -> None:
    """Two spreadsheets with one title would share issues and headers: such titles get the key's start added."""
    seen: dict[str, int] = {}
    for s in sources:
        seen[s.source_file] = seen.get(s.source_file, 0) + 1
    for s in sources:
        if seen[s.source_file] > 1:
            s.source_file = f"{s.source_file} [{s.source_id[:10]}]"


class GoogleSheetSource:
    """The Google Sheets source of one night: the registry in ``cfg``, a gspread client, the snapshot store.

    ``pull()`` is the sources stage's Google part (see ``pull_google``); ``fetch`` and ``modified`` are its two
    kinds of call, for tools that need one spreadsheet or the listing alone.
    """

    def __init__(self, cfg: AppConfig, store: SnapshotStore, client: Client | None = None) -> None:
        self.cfg, self.store, self.client = cfg, store, client

    def _client(self) -> Client:
        if self.client is None:
            self.client = connect(self.cfg.sources.google, READ_SCOPES)
        return self.client

    def modified(self) -> dict[str, tuple[str, str]]:
        """key -> (title, modifiedTime) for every spreadsheet shared with the service account."""
        return list_modified(self._client())

    def fetch(self, key: str) -> tuple[str, list[SheetGrid]]:
        """Title and grids of one spreadsheet (two reads)."""
        title, grids, _ = fetch_spreadsheet(self._client(), key)
        return title, grids

    def pull(self, run_id: str | None = None, *, offline: bool = False,
             replay: dict[str, Any] | None = None, fallback: bool = True) -> GooglePull:
        return pull_google(self.cfg, self.store, run_id, client=self.client, offline=offline, replay=replay,
                           fallback=fallback)

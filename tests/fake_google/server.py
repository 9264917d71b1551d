"""A local HTTP server speaking the subset of Google's OAuth2 token, Drive v3 and Sheets v4 REST APIs we use.

The real gspread / google-auth clients talk to it over HTTP. It keeps spreadsheets in memory, verifies the
service account's signed JWT, enforces scopes (a read-only token cannot write), records every request, and
injects faults (status codes with Retry-After, slow responses) per spreadsheet or endpoint.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from google.auth import jwt as google_jwt

SPREADSHEET_MIME = "application/vnd.google-apps.spreadsheet"
READ = {"https://www.googleapis.com/auth/spreadsheets.readonly",
        "https://www.googleapis.com/auth/drive.metadata.readonly", "https://www.googleapis.com/auth/drive.readonly"}
WRITE = {"https://www.googleapis.com/auth/spreadsheets", "https://www.googleapis.com/auth/drive",
         "https://www.googleapis.com/auth/drive.file"}


@dataclass
class FakeSheet:
    sheet_id: int
    title: str
    rows: list[list[Any]] = field(default_factory=list)
    merges: list[dict] = field(default_factory=list)
    hidden_rows: set[int] = field(default_factory=set)
    hidden_cols: set[int] = field(default_factory=set)
    hidden: bool = False
    frozen_rows: int = 0
    validations: dict[tuple[int, int], dict] = field(default_factory=dict)  # (row, col) -> rule
    protected: list[dict] = field(default_factory=list)
    row_count: int = 1000
    col_count: int = 26

    def set(self, r: int, c: int, value: Any) -> None:
        while len(self.rows) <= r:
            self.rows.append([])
        row = self.rows[r]
        while len(row) <= c:
            row.append(None)
        row[c] = value

    def clear(self, r0: int, c0: int, r1: int | None, c1: int | None) -> None:
        for r, row in enumerate(self.rows):
            if r < r0 or (r1 is not None and r > r1):
                continue
            for c in range(len(row)):
                if c >= c0 and (c1 is None or c <= c1):
                    row[c] = None


@dataclass
class FakeSpreadsheet:
    id: str
    title: str
    sheets: list[FakeSheet]
    modified_time: str = ""
    parents: list[str] = field(default_factory=list)
    permissions: list[dict] = field(default_factory=list)
    trashed: bool = False


@dataclass
class Fault:
    """Answer matching requests with ``status`` (or delay them by ``delay`` seconds) ``times`` times."""

    status: int = 0
    match: str = ""  # substring of "METHOD /path" (e.g. a spreadsheet key, "values:batchGet", "GET /drive")
    times: int = 1
    retry_after: str | None = None
    delay: float = 0.0
    reason: str = ""


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    kind: str
    spreadsheet: str | None
    body: Any = None
    at: float = 0.0  # the test's clock when the request arrived


class FakeGoogle:
    """The in-memory state and behaviour; ``serve()`` starts the HTTP server on a free port."""

    def __init__(self) -> None:
        self.spreadsheets: dict[str, FakeSpreadsheet] = {}
        self.tokens: dict[str, set[str]] = {}
        self.token_requests: list[frozenset[str]] = []  # the scopes each token request asked for, granted or not
        self.public_keys: dict[str, str] = {}  # service-account email -> public key PEM
        self.faults: list[Fault] = []
        self.errors: list[str] = []
        self.arrived: list[str] = []
        self.stamp: Callable[[], float] = time.monotonic
        self.log: list[Logged] = []
        self.lock = threading.RLock()
        self._tick = itertools.count(1)
        self._ids = itertools.count(1)
        self.page_size_cap = 1000
        self.httpd: ThreadingHTTPServer | None = None
        self.url = ""

    # -- set-up helpers --------------------------------------------------------------------------------------

    def next_modified(self) -> str:
        """Drive's RFC 3339 modifiedTime; a logical clock (one second per change) keeps tests deterministic."""
        moment = dt.datetime(2022, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=next(self._tick))
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def add_spreadsheet(self, title: str, sheets: list[FakeSheet], key: str | None = None,
                        shared_with: str | None = None) -> FakeSpreadsheet:
        with self.lock:
            key = key or f"fake{uuid.uuid4().hex[:20]}"
            book = FakeSpreadsheet(key, title, sheets, self.next_modified())
            if shared_with:
                book.permissions.append({"id": f"p{next(self._ids)}", "type": "user", "role": "writer",
                                         "emailAddress": shared_with})
            self.spreadsheets[key] = book
            return book

    def touch(self, key: str) -> None:
        with self.lock:
            self.spreadsheets[key].modified_time = self.next_modified()

    def count(self, kind: str | None = None, spreadsheet: str | None = None, ok_only: bool = False) -> int:
        return sum(1 for e in self.log if (kind is None or e.kind == kind) and e.kind != "token"
                   and (spreadsheet is None or e.spreadsheet == spreadsheet) and (not ok_only or e.status < 400))

    def reset_log(self) -> None:
        with self.lock:
            self.log.clear()
            self.arrived.clear()

    # -- HTTP ----------------------------------------------------------------------------------------------------

    def serve(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                return None

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, payload, headers = fake.handle(self.command, self.path, dict(self.headers.items()), raw)
                body = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        return self.url

    def stop(self) -> None:
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, dict]:
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        kind, key = _classify(method, path)
        at = self.stamp()
        with self.lock:
            self.arrived.append(kind)  # logged on arrival too: a slow answer is logged only when it is sent
        body: Any = None
        if raw and "json" in headers.get("Content-Type", headers.get("content-type", "")):
            body = json.loads(raw)
        status, payload, extra = 200, {}, {}
        fault = self._fault(f"{method} {path}")
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.status:
            status, payload = fault.status, _error(fault.status, fault.reason)
            if fault.retry_after is not None:
                extra["Retry-After"] = fault.retry_after
        else:
            try:
                with self.lock:
                    status, payload = self._route(method, path, kind, key, query, headers, raw, body)
            except _Error as exc:
                status, payload = exc.status, _error(exc.status, exc.reason, exc.message)
            except Exception as exc:  # a bug in the fake: answer 500 and keep it for the test to see
                self.errors.append(f"{method} {path}: {type(exc).__name__}: {exc}")
                status, payload = 500, _error(500, "backendError", "fake server error")
        with self.lock:
            self.log.append(Logged(method, path, query, status, kind, key, body, at))
        return status, payload, extra

    def _fault(self, request: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.match in request:
                    fault.times -= 1
                    return fault
        return None

    # -- routes --------------------------------------------------------------------------------------------------

    def _route(self, method, path, kind, key, query, headers, raw, body):
        if kind == "token":
            return self._token(raw)
        scopes = self.tokens.get(headers.get("Authorization", headers.get("authorization", ""))
                                 .removeprefix("Bearer "))
        if scopes is None:
            raise _Error(401, "UNAUTHENTICATED", "invalid credentials")
        if not (scopes & (WRITE if method != "GET" else READ | WRITE)):
            raise _Error(403, "PERMISSION_DENIED", "insufficient authentication scopes")
        if kind == "drive.list":
            return 200, self._list(query)
        if kind == "drive.create":
            sheet = FakeSheet(0, "Trang tính1")
            book = self.add_spreadsheet(body["name"], [sheet])
            book.parents = list(body.get("parents", []))
            return 200, {"kind": "drive#file", "id": book.id, "name": book.title, "mimeType": SPREADSHEET_MIME}
        book = self.spreadsheets.get(key or "")
        if book is None or book.trashed:
            raise _Error(404, "NOT_FOUND", "Requested entity was not found.")
        if kind == "drive.get":
            return 200, {"kind": "drive#file", "id": book.id, "name": book.title, "mimeType": SPREADSHEET_MIME,
                         "createdTime": "2021-12-01T00:00:00.000Z", "modifiedTime": book.modified_time}
        if kind == "drive.permissions.list":
            return 200, {"permissions": book.permissions}
        if kind == "drive.permissions.create":
            perm = {"id": f"p{next(self._ids)}", "type": body.get("type"), "role": body.get("role"),
                    "emailAddress": body.get("emailAddress")}
            book.permissions.append(perm)
            return 200, perm
        if kind == "sheets.get":
            return 200, self._metadata(book, query)
        if kind == "values.batchGet":
            ranges = [self._range(book, r) for r in query.get("ranges", [])]
            render = query.get("valueRenderOption", ["FORMATTED_VALUE"])[0]
            return 200, {"spreadsheetId": book.id,
                         "valueRanges": [{"range": r, "majorDimension": "ROWS", **_values(s, a, render)}
                                         for r, (s, a) in zip(query.get("ranges", []), ranges)]}
        if kind == "values.get":
            sheet, area = self._range(book, _range_of(path))
            return 200, {"range": _range_of(path), **_values(sheet, area, query.get("valueRenderOption",
                                                                                    ["FORMATTED_VALUE"])[0])}
        if kind == "values.update":
            self._write_values(book, _range_of(path), body.get("values", []))
            return 200, {"spreadsheetId": book.id}
        if kind == "values.clear":
            sheet, (r0, c0, r1, c1) = self._range(book, _range_of(path))
            sheet.clear(r0, c0, r1, c1)
            book.modified_time = self.next_modified()
            return 200, {"spreadsheetId": book.id}
        if kind == "values.batchUpdate":
            for item in body.get("data", []):
                self._write_values(book, item["range"], item.get("values", []))
            return 200, {"spreadsheetId": book.id}
        if kind == "batchUpdate":
            replies = [self._request(book, req) for req in body.get("requests", [])]
            book.modified_time = self.next_modified()
            return 200, {"spreadsheetId": book.id, "replies": replies}
        raise _Error(400, "INVALID_ARGUMENT", f"unsupported {method} {path}")

    def _token(self, raw: bytes):
        form = parse_qs(raw.decode())
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            raise _Error(400, "invalid_grant", "unsupported grant type")
        assertion = form["assertion"][0]
        claims = google_jwt.decode(assertion, verify=False)
        self.token_requests.append(frozenset(claims.get("scope", "").split()))
        pem = self.public_keys.get(claims.get("iss", ""))
        if pem is None:
            raise _Error(400, "invalid_grant", "unknown service account")
        try:  # google-auth signs for Google's token endpoint whatever the key's token_uri says
            google_jwt.decode(assertion, certs=pem,
                              audience=[f"{self.url}/token", "https://oauth2.googleapis.com/token"])
        except ValueError as exc:
            raise _Error(400, "invalid_grant", f"bad assertion: {exc}") from None
        token = uuid.uuid4().hex
        self.tokens[token] = set(claims.get("scope", "").split())
        return 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}

    def _list(self, query):
        q = query.get("q", [""])[0]
        books = [b for b in self.spreadsheets.values() if not b.trashed]
        m = re.search(r"""name\s*=\s*["']((?:[^"'\\]|\\.)*)["']""", q)
        if m:
            books = [b for b in books if b.title == m.group(1).replace("\\", "")]
        m = re.search(r"""parents in ["']([^"']+)["']|["']([^"']+)["'] in parents""", q)
        if m:
            folder = m.group(1) or m.group(2)
            books = [b for b in books if folder in b.parents]
        books.sort(key=lambda b: b.id)
        size = min(int(query.get("pageSize", ["100"])[0]), self.page_size_cap)
        start = int(query.get("pageToken", ["0"])[0] or 0)
        page = books[start:start + size]
        out: dict[str, Any] = {"kind": "drive#fileList",
                               "files": [{"id": b.id, "name": b.title, "mimeType": SPREADSHEET_MIME,
                                          "createdTime": "2021-12-01T00:00:00.000Z", "modifiedTime": b.modified_time}
                                         for b in page]}
        if start + size < len(books):
            out["nextPageToken"] = str(start + size)
        return out

    def _metadata(self, book: FakeSpreadsheet, query) -> dict:
        fields = query.get("fields", [""])[0]
        grid = "data" in fields or query.get("includeGridData", ["false"])[0] == "true"
        sheets = []
        for i, s in enumerate(book.sheets):
            entry: dict[str, Any] = {
                "properties": {"sheetId": s.sheet_id, "title": s.title, "index": i, "sheetType": "GRID",
                               "hidden": s.hidden,
                               "gridProperties": {"rowCount": max(s.row_count, len(s.rows)),
                                                  "columnCount": s.col_count, "frozenRowCount": s.frozen_rows}},
                "merges": [dict(m, sheetId=s.sheet_id) for m in s.merges],
                "protectedRanges": s.protected,
            }
            if grid:
                rows = max(s.row_count, len(s.rows))
                entry["data"] = [{"startRow": 0, "startColumn": 0,
                                  "rowMetadata": [{"pixelSize": 21, **({"hiddenByUser": True} if r in s.hidden_rows
                                                                       else {})} for r in range(rows)],
                                  "columnMetadata": [{"pixelSize": 100, **({"hiddenByUser": True}
                                                                           if c in s.hidden_cols else {})}
                                                     for c in range(s.col_count)]}]
            sheets.append(entry)
        return _proto3({"spreadsheetId": book.id, "properties": {"title": book.title, "locale": "vi_VN",
                                                                 "timeZone": "Asia/Ho_Chi_Minh"},
                        "sheets": sheets, "spreadsheetUrl": f"{self.url}/d/{book.id}"})

    def _sheet(self, book: FakeSpreadsheet, sheet_id: int | None = None, title: str | None = None) -> FakeSheet:
        for s in book.sheets:
            if (sheet_id is not None and s.sheet_id == sheet_id) or (title is not None and s.title == title):
                return s
        raise _Error(400, "INVALID_ARGUMENT", f"no sheet {sheet_id if title is None else title!r}")

    def _range(self, book: FakeSpreadsheet, a1: str) -> tuple[FakeSheet, tuple[int, int, int | None, int | None]]:
        title, _, cells = a1.rpartition("!") if "!" in a1 else (a1, "", "")
        if title.startswith("'") and title.endswith("'"):
            title = title[1:-1].replace("''", "'")
        sheet = self._sheet(book, title=title)
        return sheet, _a1(cells)

    def _write_values(self, book: FakeSpreadsheet, a1: str, values: list[list[Any]]) -> None:
        sheet, (r0, c0, _, _) = self._range(book, a1)
        for i, row in enumerate(values):
            for j, v in enumerate(row):
                sheet.set(r0 + i, c0 + j, None if v == "" else v)
        book.modified_time = self.next_modified()

    def _request(self, book: FakeSpreadsheet, req: dict) -> dict:
        (name, args), = req.items()
        if name == "addSheet":
            props = args.get("properties", {})
            if any(s.title == props.get("title") for s in book.sheets):
                raise _Error(400, "INVALID_ARGUMENT", f"A sheet with the name {props.get('title')} already exists")
            sid = props.get("sheetId", max([s.sheet_id for s in book.sheets] + [0]) + 1)
            sheet = FakeSheet(sid, props.get("title", f"Sheet{sid}"),
                              frozen_rows=props.get("gridProperties", {}).get("frozenRowCount", 0))
            book.sheets.insert(props.get("index", len(book.sheets)), sheet)
            return {"addSheet": {"properties": {"sheetId": sid, "title": sheet.title}}}
        if name == "deleteSheet":
            book.sheets.remove(self._sheet(book, args["sheetId"]))
            return {}
        if name == "updateSheetProperties":
            props = args["properties"]
            sheet = self._sheet(book, props.get("sheetId", 0))
            fields = args.get("fields", "")
            if "title" in fields and "title" in props:
                sheet.title = props["title"]
            if "frozenRowCount" in fields:
                sheet.frozen_rows = props.get("gridProperties", {}).get("frozenRowCount", 0)
            if "hidden" in fields:
                sheet.hidden = bool(props.get("hidden"))
            return {}
        if name == "updateSpreadsheetProperties":
            if "title" in args.get("fields", ""):
                book.title = args["properties"]["title"]
            return {}
        if name == "updateCells":
            if "userEnteredValue" not in args.get("fields", "") and args.get("fields") != "*":
                return {}
            if "range" in args:
                rng = args["range"]
                sheet = self._sheet(book, rng.get("sheetId", 0))
                r0, c0 = rng.get("startRowIndex", 0), rng.get("startColumnIndex", 0)
                if not args.get("rows"):
                    sheet.clear(r0, c0, rng.get("endRowIndex", 10**9) - 1, rng.get("endColumnIndex", 10**9) - 1)
            else:
                start = args["start"]
                sheet = self._sheet(book, start.get("sheetId", 0))
                r0, c0 = start.get("rowIndex", 0), start.get("columnIndex", 0)
            for i, row in enumerate(args.get("rows", [])):
                for j, cell in enumerate(row.get("values", [])):
                    sheet.set(r0 + i, c0 + j, _entered(cell.get("userEnteredValue")))
            return {}
        if name == "setDataValidation":
            rng = args["range"]
            sheet = self._sheet(book, rng.get("sheetId", 0))
            for r in range(rng.get("startRowIndex", 0), rng.get("endRowIndex", sheet.row_count)):
                for c in range(rng.get("startColumnIndex", 0), rng.get("endColumnIndex", sheet.col_count)):
                    if args.get("rule"):
                        sheet.validations[(r, c)] = args["rule"]
                    else:
                        sheet.validations.pop((r, c), None)
            return {}
        if name == "addProtectedRange":
            pr = dict(args["protectedRange"], protectedRangeId=next(self._ids))
            self._sheet(book, pr["range"].get("sheetId", 0)).protected.append(pr)
            return {"addProtectedRange": {"protectedRange": pr}}
        if name == "deleteProtectedRange":
            for s in book.sheets:
                s.protected = [p for p in s.protected if p["protectedRangeId"] != args["protectedRangeId"]]
            return {}
        if name == "mergeCells":
            rng = args["range"]
            self._sheet(book, rng.get("sheetId", 0)).merges.append(
                {k: rng[k] for k in ("startRowIndex", "endRowIndex", "startColumnIndex", "endColumnIndex")})
            return {}
        if name == "unmergeCells":
            rng = args["range"]
            sheet = self._sheet(book, rng.get("sheetId", 0))
            sheet.merges = [m for m in sheet.merges if not (rng.get("startRowIndex", 0) <= m["startRowIndex"]
                                                             and m["endRowIndex"] <= rng.get("endRowIndex", 10**9))]
            return {}
        if name == "updateDimensionProperties":
            rng = args["range"]
            sheet = self._sheet(book, rng.get("sheetId", 0))
            target = sheet.hidden_rows if rng["dimension"] == "ROWS" else sheet.hidden_cols
            for i in range(rng["startIndex"], rng["endIndex"]):
                (target.add if args["properties"].get("hiddenByUser") else target.discard)(i)
            return {}
        if name in ("repeatCell", "autoResizeDimensions", "updateBorders"):
            return {}
        raise _Error(400, "INVALID_ARGUMENT", f"unsupported request {name}")


def _proto3(value: Any) -> Any:
    """Google's JSON leaves out fields at their default (sheetId 0, index 0, hidden false, startRowIndex 0)."""
    if isinstance(value, dict):
        return {k: _proto3(v) for k, v in value.items()
                if not (v is False or (isinstance(v, int) and not isinstance(v, bool) and v == 0) or v == "")}
    if isinstance(value, list):
        return [_proto3(v) for v in value]
    return value


class _Error(Exception):
    def __init__(self, status: int, reason: str, message: str = "") -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "BAD_GATEWAY", 503: "UNAVAILABLE"}


def _error(status: int, reason: str = "", message: str = "") -> dict:
    body: dict[str, Any] = {"code": status, "message": message or _STATUS.get(status, "error"),
                            "status": _STATUS.get(status, "UNKNOWN")}
    if reason:
        body["errors"] = [{"reason": reason, "message": message}]
    return {"error": body}


def _classify(method: str, path: str) -> tuple[str, str | None]:
    if path == "/token":
        return "token", None
    m = re.fullmatch(r"/drive/v3/files(?:/([^/]+))?(/permissions)?(?:/[^/]+)?", path)
    if m:
        if m.group(2):
            return ("drive.permissions.list" if method == "GET" else "drive.permissions.create"), m.group(1)
        if m.group(1):
            return ("drive.delete" if method == "DELETE" else "drive.get"), m.group(1)
        return ("drive.list" if method == "GET" else "drive.create"), None
    m = re.fullmatch(r"/v4/spreadsheets/([^/:]+)(.*)", path)
    if not m:
        return "unknown", None
    key, rest = m.groups()
    if rest == "":
        return "sheets.get", key
    if rest == ":batchUpdate":
        return "batchUpdate", key
    if rest == "/values:batchGet":
        return "values.batchGet", key
    if rest == "/values:batchUpdate":
        return "values.batchUpdate", key
    if rest.startswith("/values/") and rest.endswith(":clear"):
        return "values.clear", key
    if rest.startswith("/values/"):
        return ("values.get" if method == "GET" else "values.update"), key
    return "unknown", key


def _range_of(path: str) -> str:
    rest = path.split("/values/", 1)[1]
    return rest.removesuffix(":clear")


def _a1(cells: str) -> tuple[int, int, int | None, int | None]:
    if not cells:
        return 0, 0, None, None
    start, _, end = cells.partition(":")

    def one(ref: str) -> tuple[int | None, int | None]:
        m = re.fullmatch(r"([A-Za-z]*)(\d*)", ref)
        letters, digits = m.group(1), m.group(2)
        col = None
        if letters:
            col = 0
            for ch in letters.upper():
                col = col * 26 + ord(ch) - 64
            col -= 1
        return (int(digits) - 1 if digits else None), col

    r0, c0 = one(start)
    r1, c1 = one(end) if end else (r0, c0)
    return r0 or 0, c0 or 0, r1, c1


def _values(sheet: FakeSheet, area, render: str) -> dict:
    r0, c0, r1, c1 = area
    rows = []
    for r, row in enumerate(sheet.rows):
        if r < r0 or (r1 is not None and r > r1):
            continue
        cells = row[c0:(c1 + 1 if c1 is not None else None)]
        cells = ["" if v is None else (v if render == "UNFORMATTED_VALUE" else _formatted(v)) for v in cells]
        while cells and cells[-1] == "":
            cells.pop()
        rows.append(cells)
    while rows and not rows[-1]:
        rows.pop()
    # leading blank rows inside the requested area are kept as [] so row numbers stay right
    return {"values": rows} if rows else {}


def _formatted(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _entered(value: dict | None) -> Any:
    if not value:
        return None
    for k in ("stringValue", "numberValue", "boolValue", "formulaValue"):
        if k in value:
            return value[k]
    return None

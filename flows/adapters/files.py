"""Stage 1 — sources: list tonight's spreadsheets and fetch them as raw cell grids with provenance.

``read_local`` reads a folder of xlsx/xlsm/xlsb/xls/ods/csv files with python-calamine (CSV with the csv module).
A file that cannot be read becomes a ``failed`` SourceData with a message; it never raises. Refused before any
cell is read: a file beyond the limits (``flows.adapters.file_limits``) and a workbook that carries macros (a VBA
project, Excel 4.0 macro sheets): the night never runs them, and it does not take code-carrying files from a
shared folder either; the school saves the list as a plain .xlsx. A password-protected file, or a zip whose
members unpack to more than they declare, cannot be read and says so.
"""

from __future__ import annotations

import csv
import datetime as dt
import fnmatch
import io
import re
import struct
import unicodedata
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree as ET

from python_calamine import CalamineWorkbook

from flows.adapters.file_limits import HostileFile, cell_too_long, check_file, check_shape, check_text, clean_cell
from flows.config import AppConfig, LocalPattern, SourceLimits
from flows.frames import SheetGrid, SourceData

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods", ".csv"}
IGNORED_SUFFIXES = {".md", ".txt", ".json", ".yaml", ".yml", ".pdf", ".docx", ".doc", ".png", ".jpg", ".zip"}
_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def list_local(sources_dir: Path, cfg: AppConfig) -> list[tuple[Path, LocalPattern | None]]:
    """Files under ``sources_dir`` that may be sources, with the registry pattern each matches (if any)."""
    found: list[tuple[Path, LocalPattern | None]] = []
    for path in sorted(p for p in sources_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(sources_dir)
        if any(part.startswith((".", "~$", "_")) for part in rel.parts):
            continue
        if path.suffix.lower() in IGNORED_SUFFIXES:
            continue
        found.append((path, _match_pattern(PurePosixPath(rel.as_posix()), cfg.sources.local.patterns)))
    return found


def _match_pattern(rel: PurePosixPath, patterns: list[LocalPattern]) -> LocalPattern | None:
    text = str(rel)
    for pattern in patterns:
        glob = pattern.glob
        if fnmatch.fnmatch(text, glob) or (glob.endswith("/**") and text.startswith(glob[:-2])):
            return pattern
    return None


def read_local(sources_dir: Path, cfg: AppConfig, read=None) -> list[SourceData]:
    """Fetch every local source under ``sources_dir`` (never raises for a bad file). ``read(path, limits)``: how
    a file's grids are had (default ``read_grids``; ``flows.reuse.intake.grid_reader`` keeps them by content)."""
    read = read or read_grids
    out = []
    for path, pattern in list_local(sources_dir, cfg):
        rel = path.relative_to(sources_dir).as_posix()
        source = SourceData(
            source_id=rel,
            source_file=rel,
            kind=pattern.kind if pattern else None,
            unit_type=pattern.unit_type if pattern else None,
            modified=dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc),
        )
        try:
            source.sheets = read(path, cfg.sources.local.limits)
        except Exception as exc:  # a broken file is data, not a crash
            source.status = "failed"
            source.message = _describe_failure(path, exc)
        out.append(source)
    return out


def read_grids(path: Path, limits: SourceLimits | None = None) -> list[SheetGrid]:
    """All sheets of one spreadsheet file as grids (row 0 = row 1 as the school sees it), within ``limits``
    (default ``SourceLimits()``; ``HostileFile`` beyond them); text cells without control characters."""
    limits = limits or SourceLimits()
    suffix = path.suffix.lower()
    if suffix not in SPREADSHEET_SUFFIXES:
        raise ValueError(f"unsupported file type {suffix or '(none)'}")
    check_file(path, limits)
    _refuse_macros(path, suffix)
    if suffix == ".csv":
        return [SheetGrid(name="", rows=_read_csv(path.read_bytes(), limits))]
    hidden = (_xlsx_hidden(path) if suffix in {".xlsx", ".xlsm"} else _ods_hidden(path) if suffix == ".ods"
              else _xls_hidden(path) if suffix == ".xls" else {})
    with open(path, "rb") as fh:
        wb = CalamineWorkbook.from_filelike(fh)
        grids = []
        for meta in wb.sheets_metadata:
            sheet = wb.get_sheet_by_name(meta.name)
            check_shape(sheet.total_height, sheet.total_width, limits, meta.name)  # before any cell is built
            rows = [[None if v == "" else clean_cell(v, limits) for v in r]
                    for r in sheet.to_python(skip_empty_area=False)]
            merged = []
            for rng in sheet.merged_cell_ranges or []:
                (r0, c0), (r1, c1) = rng
                merged.append((r0, c0, r1, c1))
            hrows, hcols = hidden.get(meta.name, (frozenset(), frozenset()))
            visible = str(meta.visible).lower().endswith("visible")
            grids.append(SheetGrid(name=meta.name, rows=rows, merged=merged, hidden_rows=hrows,
                                   hidden_cols=hcols, hidden=not visible))
    return grids


_MACRO_MEMBER = re.compile(r"(^|/)vbaProject\.bin$|^xl/macrosheets/|^xl/dialogsheets/", re.IGNORECASE)
MACROS = ("tệp có macro (VBA): vì an toàn, tệp chứa macro không được đọc; hãy lưu lại dạng Excel Workbook (.xlsx) "
          "(File > Save As > Excel Workbook) rồi gửi lại")


def _refuse_macros(path: Path, suffix: str) -> None:
    """``HostileFile`` for a workbook with macros: a VBA project or Excel 4.0 macro/dialog sheets in an
    xlsx/xlsm/xlsb, a VBA storage in an .xls. Only the zip directory or the OLE directory is read."""
    if suffix in {".xlsx", ".xlsm", ".xlsb"} and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            found = any(_MACRO_MEMBER.search(name) for name in zf.namelist())
    elif suffix == ".xls":
        import olefile

        if not olefile.isOleFile(str(path)):
            return
        try:
            with olefile.OleFileIO(str(path)) as ole:
                found = any(entry[0].upper() in {"_VBA_PROJECT_CUR", "MACROS"} for entry in ole.listdir(storages=True))
        except OSError:
            return  # not readable as OLE: the reader says what is wrong with it
    else:
        return
    if found:
        raise HostileFile(MACROS)


def _read_csv(data: bytes, limits: SourceLimits) -> list[list[object]]:
    text = _decode(data)
    check_text(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text[:20000]))
    rows: list[list[object]] = []
    try:
        for row in reader:
            check_shape(len(rows) + 1, len(row), limits)
            rows.append([None if c.strip() == "" else clean_cell(c, limits) for c in row])
    except csv.Error as exc:  # "field larger than field limit": a cell far beyond any real one
        if "field larger" in str(exc):
            raise cell_too_long(limits) from None
        raise
    return rows


def _delimiter(sample: str) -> str:
    """The delimiter that splits the most lines into the same number (> 1) of fields. csv.Sniffer is misled by
    the title rows above a school's table ("DANH SÁCH HỌC SINH", no delimiter at all) and by commas inside
    cells ("Ngày, tháng, năm sinh"), so count whole parsed lines instead."""
    lines = sample.splitlines()[:60]
    best, best_score = ",", (0, 0)
    for delimiter in (",", ";", "\t"):
        try:
            widths = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            continue
        counts: dict[int, int] = {}
        for w in widths:
            if w > 1:
                counts[w] = counts.get(w, 0) + 1
        if not counts:
            continue
        width, n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        if (n, width) > best_score:
            best, best_score = delimiter, (n, width)
    return best


def _decode(data: bytes) -> str:
    """Text of a CSV file in NFC (cp1258 writes tones as combining marks)."""
    return unicodedata.normalize("NFC", _decode_bytes(data))


def _decode_bytes(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    attempts = []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        attempts.append("utf-16")
    elif len(data) > 1 and data[1:2] == b"\x00" and data[0:1] != b"\x00":
        attempts.append("utf-16-le")
    attempts.append("utf-8")
    for encoding in attempts:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("cp1258", errors="replace")  # Vietnamese Windows; never fails


def _xlsx_hidden(path: Path) -> dict[str, tuple[frozenset[int], frozenset[int]]]:
    """Rows hidden by hand and hidden columns per sheet name (0-based), read from the xlsx XML (calamine exposes
    neither). Rows hidden by an active filter (the sheet's ``autoFilter``, or a table's, with a criterion) are a
    view of the sheet, not a choice to leave rows out: they are not returned, so they are read like any other
    row (Google Sheets says the same: ``hiddenByUser`` against ``hiddenByFilter``). A hidden row inside an active
    filter's range that the filter would show (its value is among the values the filter lists) was hidden by
    hand; when the criterion is one not read here (a custom or date filter), every hidden row of the range is the
    filter's."""
    result: dict[str, tuple[frozenset[int], frozenset[int]]] = {}
    m = _MAIN_NS

    def column_index(ref: str) -> int:
        n = 0
        for ch in re.match(r"[A-Z]*", ref.upper()).group(0):
            n = n * 26 + ord(ch) - 64
        return n - 1

    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
            targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_PKG_REL_NS}Relationship")}
            workbook = ET.fromstring(zf.read("xl/workbook.xml"))
            shared: list[str] | None = None

            def shared_strings() -> list[str]:
                nonlocal shared
                if shared is None:
                    shared = []
                    if "xl/sharedStrings.xml" in names:
                        for si in ET.fromstring(zf.read("xl/sharedStrings.xml")).iter(f"{m}si"):
                            shared.append("".join(t.text or "" for t in si.iter(f"{m}t")))
                return shared

            for sheet in workbook.iter(f"{m}sheet"):
                target = targets.get(sheet.get(f"{_REL_NS}id"), "")
                member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
                if member not in names:
                    continue
                rows: set[int] = set()
                cols: set[int] = set()
                cells: dict[int, dict[int, tuple[str, str]]] = {}  # hidden row -> column -> (type, value)
                # an active filter's data rows (0-based, its header row excluded) and its criteria: column ->
                # (values shown, blanks shown); None when a criterion is not one of listed values
                filters: list[tuple[int, int, dict[int, tuple[set[str], bool]] | None]] = []

                def active_filter(elem: ET.Element) -> None:
                    ref = elem.get("ref", "")
                    columns = elem.findall(f"{m}filterColumn")
                    found = re.findall(r"([A-Z]+)(\d+)", ref.upper())
                    if not columns or not found:
                        return  # filter buttons with no criterion: nothing is hidden by them
                    first_col = column_index(found[0][0])
                    criteria: dict[int, tuple[set[str], bool]] | None = {}
                    for fc in columns:
                        listed = fc.find(f"{m}filters")
                        if listed is None or len(fc) != 1 or listed.find(f"{m}dateGroupItem") is not None:
                            criteria = None
                            break
                        values = {(f.get("val") or "").strip().lower() for f in listed.iter(f"{m}filter")}
                        criteria[first_col + int(fc.get("colId", "0"))] = (values, listed.get("blank") in ("1", "true"))
                    filters.append((int(found[0][1]), int(found[-1][1]) - 1, criteria))

                def shown(r: int, criteria: dict[int, tuple[set[str], bool]]) -> bool:
                    for c, (values, blank) in criteria.items():
                        kind, text = cells.get(r, {}).get(c, ("", ""))
                        if kind == "s" and text.isdigit() and int(text) < len(shared_strings()):
                            text = shared_strings()[int(text)]
                        text = text.strip()
                        if not text:
                            if not blank:
                                return False
                            continue
                        number = re.fullmatch(r"-?\d+(\.\d+)?", text)
                        same = text.lower() in values or (number is not None and any(
                            re.fullmatch(r"-?\d+(\.\d+)?", v) and float(v) == float(text) for v in values))
                        if not same:
                            return False
                    return True

                if not _mentions(zf, member, b"hidden"):  # no hidden row nor column: nothing to parse (most sheets)
                    result[sheet.get("name", "")] = (frozenset(), frozenset())
                    continue
                with zf.open(member) as fh:
                    for _, elem in ET.iterparse(fh):
                        if elem.tag == f"{m}row":
                            if elem.get("hidden") in ("1", "true") and elem.get("r"):
                                r = int(elem.get("r")) - 1
                                rows.add(r)
                                for c in elem.iter(f"{m}c"):
                                    value = c.find(f"{m}v")
                                    text = value.text if value is not None else "".join(
                                        t.text or "" for t in c.iter(f"{m}t"))
                                    cells.setdefault(r, {})[column_index(c.get("r", ""))] = (c.get("t", ""),
                                                                                             text or "")
                            elem.clear()
                        elif elem.tag == f"{m}col" and elem.get("hidden") in ("1", "true"):
                            cols.update(range(int(elem.get("min")) - 1, int(elem.get("max"))))
                        elif elem.tag == f"{m}autoFilter":
                            active_filter(elem)
                folder, base = member.rsplit("/", 1)
                sheet_rels = f"{folder}/_rels/{base}.rels"
                if sheet_rels in names:  # tables (Insert > Table) carry their own filter
                    for rel in ET.fromstring(zf.read(sheet_rels)).iter(f"{_PKG_REL_NS}Relationship"):
                        if not rel.get("Type", "").endswith("/table"):
                            continue
                        part = str(PurePosixPath(folder, rel.get("Target", "")))
                        part = re.sub(r"[^/]+/\.\./", "", part).lstrip("/")
                        if part in names:
                            for elem in ET.fromstring(zf.read(part)).iter(f"{m}autoFilter"):
                                active_filter(elem)
                by_hand = set()
                for r in rows:
                    ranges = [criteria for first, last, criteria in filters if first <= r <= last]
                    if not ranges or all(criteria is not None and shown(r, criteria) for criteria in ranges):
                        by_hand.add(r)
                result[sheet.get("name", "")] = (frozenset(by_hand), frozenset(cols))
    except (KeyError, zipfile.BadZipFile, ET.ParseError, ValueError, AttributeError):
        return {}
    return result


def _mentions(zf: zipfile.ZipFile, member: str, word: bytes, chunk: int = 1 << 20) -> bool:
    """``word`` occurs in the zip member (read a chunk at a time: a bytes scan is far cheaper than parsing)."""
    tail = b""
    with zf.open(member) as fh:
        while block := fh.read(chunk):
            window = tail + block
            if word in window:
                return True
            tail = window[-(len(word) - 1):]
    return False


_ENCRYPTED_OOXML = "EncryptionInfo".encode("utf-16-le")  # stream name in the CFB directory of a protected file


_ODS_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"


def _ods_hidden(path: Path) -> dict[str, tuple[frozenset[int], frozenset[int]]]:
    """Rows hidden by hand (``table:visibility="collapse"``) and hidden columns per sheet of an .ods file, 0-based.
    Rows a filter hides (``visibility="filter"``) are a view: they are not returned, so they are read."""
    result: dict[str, tuple[frozenset[int], frozenset[int]]] = {}
    t = _ODS_TABLE
    try:
        with zipfile.ZipFile(path) as zf, zf.open("content.xml") as fh:
            for _, elem in ET.iterparse(fh):
                if elem.tag != f"{t}table":
                    continue
                rows: set[int] = set()
                cols: set[int] = set()
                r = c = 0
                for node in elem.iter():
                    if node.tag == f"{t}table-column":
                        n = int(node.get(f"{t}number-columns-repeated", "1"))
                        if node.get(f"{t}visibility", "visible") != "visible":
                            cols.update(range(c, c + n))
                        c += n
                    elif node.tag == f"{t}table-row":
                        n = int(node.get(f"{t}number-rows-repeated", "1"))
                        if node.get(f"{t}visibility", "visible") not in ("visible", "filter"):
                            rows.update(range(r, r + min(n, 10000)))
                        r += n
                result[elem.get(f"{t}name", "")] = (frozenset(rows), frozenset(cols))
                elem.clear()
    except (KeyError, zipfile.BadZipFile, ET.ParseError, ValueError):
        return {}
    return result


def _xls_hidden(path: Path) -> dict[str, tuple[frozenset[int], frozenset[int]]]:
    """Rows hidden by hand and hidden columns per sheet of an Excel 97-2003 (.xls) file, 0-based, from its BIFF8
    records: ROW (0x0208) with fDyZero, COLINFO (0x007D) with fHidden; sheets located by BOUNDSHEET (0x0085). A
    sheet whose filter is on (FILTERMODE, 0x009B) hides rows of its filter range (the built-in name
    _FilterDatabase, NAME 0x0018) as a view: those are not returned, so they are read."""
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            stream = "Workbook" if ole.exists("Workbook") else "Book"
            data = ole.openstream(stream).read()
    except (OSError, ValueError):
        return {}

    def records(start: int):
        pos = start
        while pos + 4 <= len(data):
            kind, size = struct.unpack_from("<HH", data, pos)
            yield kind, data[pos + 4: pos + 4 + size]
            pos += 4 + size
            if kind == 0x000A:  # EOF of this substream
                return

    result: dict[str, tuple[frozenset[int], frozenset[int]]] = {}
    try:
        sheets = []
        sheet_of_xti: list[int] = []
        filter_ranges: dict[int, tuple[int, int]] = {}  # sheet index -> (first, last) row of its filter range
        for kind, body in records(0):
            if kind == 0x0085 and len(body) >= 8:
                offset, cch, high = struct.unpack_from("<IxxBB", body, 0)
                raw = body[8: 8 + (cch * 2 if high & 1 else cch)]
                sheets.append((raw.decode("utf-16-le" if high & 1 else "latin-1", errors="replace"), offset))
            elif kind == 0x0017 and len(body) >= 2:  # EXTERNSHEET: XTI -> sheet
                count = struct.unpack_from("<H", body, 0)[0]
                sheet_of_xti = [struct.unpack_from("<HHH", body, 2 + 6 * i)[1] for i in range(count)
                                if 2 + 6 * i + 6 <= len(body)]
            elif kind == 0x0018 and len(body) >= 15:  # NAME: the built-in _FilterDatabase (0x0D)
                grbit, cch, cce, itab = struct.unpack_from("<HxBHxxH", body, 0)
                wide = body[14] & 1
                name_end = 15 + cch * (2 if wide else 1)
                if not grbit & 0x20 or cch != 1 or body[15] != 0x0D or name_end + 11 > len(body):
                    continue
                ptg = body[name_end]
                if ptg in (0x3B, 0x5B, 0x7B) and cce >= 11:  # ptgArea3d: ixti, rows, columns
                    ixti, first, last = struct.unpack_from("<HHH", body, name_end + 1)
                    index = itab - 1 if itab else (sheet_of_xti[ixti] if ixti < len(sheet_of_xti) else -1)
                    filter_ranges[index] = (first + 1, last)  # its first row is the header: not filtered
        for index, (name, offset) in enumerate(sheets):
            rows, cols, filtering = _xls_sheet_hidden(records(offset))
            if filtering:
                first, last = filter_ranges.get(index, (1, 65535))
                rows = frozenset(r for r in rows if not first <= r <= last)
            result[name] = (rows, cols)
    except struct.error:
        return {}
    return result


def _xls_sheet_hidden(records: Iterable[tuple[int, bytes]]) -> tuple[frozenset[int], frozenset[int], bool]:
    """(hidden rows, hidden columns, whether a filter is on) of one sheet's BIFF8 substream."""
    rows: set[int] = set()
    cols: set[int] = set()
    filtering = False
    for kind, body in records:
        if kind == 0x0208 and len(body) >= 14:
            if struct.unpack_from("<H", body, 12)[0] & 0x20:  # fDyZero: the row is hidden
                rows.add(struct.unpack_from("<H", body, 0)[0])
        elif kind == 0x007D and len(body) >= 10:
            first, last, _, _, flags = struct.unpack_from("<HHHHH", body, 0)
            if flags & 0x01:
                cols.update(range(first, min(last, 16383) + 1))
        elif kind == 0x009B:  # FILTERMODE: the sheet's filter hides rows
            filtering = True
    return frozenset(rows), frozenset(cols), filtering


def _describe_failure(path: Path, exc: Exception) -> str:
    """Vietnamese reason a school can act on, for a file that could not be read."""
    if isinstance(exc, HostileFile):
        return str(exc)
    data = b""
    if path.exists():
        with path.open("rb") as fh:
            data = fh.read(16 << 20)  # the start is enough to recognise it; a huge file is never read whole
    head = data[:512]
    suffix = path.suffix.lower()
    if head.lstrip().lower().startswith((b"<!doctype html", b"<html")) or b"<html" in head.lower():
        return "tệp là trang web (HTML) được lưu với đuôi bảng tính, không phải bảng tính thật"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        if _ENCRYPTED_OOXML in data or "password" in str(exc).lower() or "encrypt" in str(exc).lower():
            return "tệp được đặt mật khẩu; hãy gỡ mật khẩu (File > Info > Protect Workbook > Encrypt with Password)"
        if suffix in {".xlsx", ".xlsm"}:
            return "tệp không phải định dạng .xlsx (có thể là .xls đổi tên)"
    if suffix in {".xlsx", ".xlsm", ".xlsb", ".ods"} and not zipfile.is_zipfile(path):
        return "tệp bị hỏng (không giải nén được) hoặc không phải bảng tính"
    if "larger than its declared" in str(exc):  # the zip reader stops a member that inflates past its size
        return ("tệp nén khai sai kích thước giải nén (có thể là tệp độc hại); hãy mở bằng Excel, sao chép danh "
                "sách sang tệp mới và gửi lại")
    if "detect file format" in str(exc):
        return "không nhận ra định dạng tệp (cần Excel .xlsx/.xls, .ods hoặc .csv)"
    if "password" in str(exc).lower() or "encrypt" in str(exc).lower():
        return "tệp được đặt mật khẩu"
    detail = re.sub(r"\s+", " ", str(exc))[:120]
    return f"tệp bị hỏng hoặc không đúng định dạng ({type(exc).__name__}: {detail})"

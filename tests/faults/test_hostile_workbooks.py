"""Hostile workbooks the night meets in a shared folder: macros (.xlsm with a VBA project, Excel 4.0 macro sheets),
a password-protected (encrypted) .xlsx, an .xlsx whose zip members unpack to far more than they declare. Each is
one clear ``unreadable_file`` issue naming the file, read no further; an .xlsm without macros and the other files
are read as usual."""

from __future__ import annotations

import resource
import struct
import zipfile
from pathlib import Path

import msoffcrypto
import xlsxwriter

from flows.adapters.files import read_local
from flows.stages import extract_tables

STUDENTS = [["Họ và tên", "Ngày sinh", "Lớp", "Chưa có thiết bị"], ["Nguyễn Văn An", "05/09/2013", "3A", "x"],
            ["Lê Thị Bình", "12/01/2012", "4B", "x"]]
# The start of a real OLE compound file, which is what Excel stores a VBA project as.
VBA_PROJECT = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)


def _workbook(path: Path, vba: Path | None = None) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("DS")
    for r, row in enumerate(STUDENTS):
        ws.write_row(r, 0, row)
    if vba is not None:
        wb.add_vba_project(str(vba))
    wb.close()
    return path


def _with_member(path: Path, name: str, data: bytes) -> Path:
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(name, data)
    return path


def _encrypted(path: Path, plain: Path) -> Path:
    with open(plain, "rb") as fh, open(path, "wb") as out:
        msoffcrypto.OfficeFile(fh).encrypt("truong2021", out)
    return path


def _under_declared(path: Path, plain: Path, rows: int = 200_000) -> Path:
    """``plain`` with its sheet grown to ``rows`` rows (about 15 MB of XML) while the zip's local header and
    central directory still declare the sheet's original size."""
    member = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == member:
                declared = len(data)
                head, tail = data.split(b"</sheetData>")
                body = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>Nguyen Van %d</t></is></c></row>'
                                % (i, i, i) for i in range(len(STUDENTS) + 1, rows))
                data = head + body + b"</sheetData>" + tail
            zout.writestr(info.filename, data)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        local = zf.getinfo(member).header_offset
    struct.pack_into("<I", raw, local + 22, declared)  # the local header's uncompressed size
    end = raw.rfind(b"PK\x05\x06")
    pos = struct.unpack_from("<I", raw, end + 16)[0]  # the central directory
    while raw[pos:pos + 4] == b"PK\x01\x02":
        n, extra, comment = struct.unpack_from("<3H", raw, pos + 28)
        if raw[pos + 46:pos + 46 + n] == member.encode():
            struct.pack_into("<I", raw, pos + 24, declared)
        pos += 46 + n + extra + comment
    path.write_bytes(bytes(raw))
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo(member).file_size == declared  # what it declares is a lie
    return path


def hostile_workbooks(folder: Path, scratch: Path) -> dict[str, str]:
    """Write the hostile workbooks into ``folder``; returns file name -> words its issue must carry."""
    scratch.mkdir(parents=True, exist_ok=True)
    plain = _workbook(scratch / "plain.xlsx")
    (scratch / "vbaProject.bin").write_bytes(VBA_PROJECT)
    _workbook(folder / "co-macro.xlsm", vba=scratch / "vbaProject.bin")
    _with_member(_workbook(folder / "macro-excel4.xlsm"), "xl/macrosheets/sheet1.xml", b"<xm:macrosheet/>")
    _encrypted(folder / "mat-khau.xlsx", plain)
    _under_declared(folder / "khai-sai.xlsx", plain)
    return {"co-macro.xlsm": "macro", "macro-excel4.xlsm": "macro", "mat-khau.xlsx": "mật khẩu",
            "khai-sai.xlsx": "khai sai kích thước"}


def test_each_hostile_workbook_is_one_issue_naming_it_and_the_rest_is_read(tmp_path, cfg, tally):
    folder = tmp_path / "truong"
    folder.mkdir()
    expected = hostile_workbooks(folder, tmp_path / "scratch")
    _workbook(folder / "khong-macro.xlsm")  # the .xlsm suffix alone is no reason to refuse a list
    _workbook(folder / "tot.xlsx")
    tally.hostile_tried(len(expected))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    sources = {s.source_file: s for s in read_local(folder, cfg)}
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 200_000  # KiB: nothing was unpacked whole
    extraction = extract_tables(list(sources.values()), cfg)
    unreadable = [i for i in extraction.issues if i.rule == "unreadable_file"]
    assert sorted(i.source_file for i in unreadable) == sorted(expected)  # one issue each, naming the file
    for issue in unreadable:
        assert expected[issue.source_file] in issue.message, (issue.source_file, issue.message)
        assert issue.severity == "error" and issue.source_row is None
        tally.hostile_reported()
    assert {name for name, s in sources.items() if s.status == "ok"} == {"khong-macro.xlsm", "tot.xlsx"}
    students = extraction.tables["students"]
    assert len(students) == 2 * (len(STUDENTS) - 1)  # both readable lists, every row
    tally.rows_lost(2 * (len(STUDENTS) - 1) - len(students))


def test_external_links_are_never_followed_the_values_saved_with_the_file_are_read(tmp_path, cfg, tally):
    """A list whose names come from another workbook on a server (a formula linking to it, with an external-link
    part as Excel writes): the night reads the values saved in the file and never asks that server anything."""
    import http.server
    import threading

    hits: list[str] = []

    class Count(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Count)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        link = f"http://127.0.0.1:{server.server_port}/ds.xlsx"
        path = tmp_path / "truong" / "lien-ket.xlsx"
        path.parent.mkdir()
        wb = xlsxwriter.Workbook(str(path))
        ws = wb.add_worksheet("DS")
        ws.write_row(0, 0, STUDENTS[0])
        for r, row in enumerate(STUDENTS[1:], 1):
            ws.write_formula(r, 0, f"='{link[:-7]}[ds.xlsx]DS'!A{r + 1}", None, row[0])
            ws.write_row(r, 1, row[1:])
        wb.close()
        rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.'
                'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
                'openxmlformats.org/officeDocument/2006/relationships/externalLinkPath" Target="' + link +
                '" TargetMode="External"/></Relationships>')
        _with_member(path, "xl/externalLinks/_rels/externalLink1.xml.rels", rels.encode())
        _with_member(path, "xl/externalLinks/externalLink1.xml", b'<externalLink xmlns="http://schemas.openxmlformats'
                     b'.org/spreadsheetml/2006/main"><externalBook r:id="rId1" xmlns:r="http://schemas.openxmlformats'
                     b'.org/officeDocument/2006/relationships"/></externalLink>')
        tally.injected()  # not refused (a link is no reason to refuse a list), so not counted as reported
        (source,) = read_local(tmp_path, cfg)
        extraction = extract_tables([source], cfg)
    finally:
        server.shutdown()
        server.server_close()
    assert hits == []  # nothing was fetched
    assert source.status == "ok"
    assert sorted(extraction.tables["students"]["full_name"]) == sorted(r[0] for r in STUDENTS[1:])
    tally.rows_lost(len(STUDENTS) - 1 - len(extraction.tables["students"]))
    tally.survived()

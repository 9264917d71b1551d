"""Great Expectations Data Docs that open offline: nothing is fetched from the internet when a page opens.

GX's pages load Bootstrap, jQuery, bootstrap-table, Vega, Font Awesome and its logo from CDNs. The officers'
machine may be offline, and a page that calls a CDN tells it who reads the district's validation. ``make_offline``
rewrites the written site in place:

- ``<link>`` and ``<script src>`` to another host are removed, and so is every other ``<script>``: without those
  libraries they cannot run (the pages stay plain HTML, the site's own stylesheet in ``static/styles`` applies);
- the index's list of validations, which GX fills in with bootstrap-table from data in a script, is written into
  its table as rows, each linking to its page;
- an image from another host becomes the site's own logo (``static/images/logo-long.png``); a stylesheet
  ``url(...)`` or ``@import`` of another host becomes ``none``; references to the site's own ``static/`` files
  are made relative to each page (GX counts one folder too few on validation pages).

Links a reader may click (``<a href>`` to greatexpectations.io) are not resources and stay.
"""

from __future__ import annotations

import ast
import html
import os
import re
from pathlib import Path

_EXTERNAL = r"""\s*["']?\s*(?:https?:)?//"""
_LINK = re.compile(r"<link\b[^>]*\bhref=" + _EXTERNAL + r"[^>]*>\s*", re.I)
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>\s*", re.I | re.S)
_IMG_SRC = re.compile(r"""(<img\b[^>]*\bsrc=)(["'])\s*(?:https?:)?//[^"']*\2""", re.I)
_CSS_URL = re.compile(r"url\(" + _EXTERNAL + r"[^)]*\)", re.I)
_CSS_IMPORT = re.compile(r"@import\s+[\"']\s*(?:https?:)?//[^;]*;", re.I)
_TABLE_INIT = re.compile(r"\$\('#([\w-]+)'\)\.bootstrapTable\(.*?^\s*columns: (\[.*?\]),\s*$.*?^\s*data: (\[.*?\]),\s*$",
                         re.S | re.M)
_LOGO = "static/images/logo-long.png"
_LOCAL_STATIC = re.compile(r"""(\b(?:src|href)=)(["'])(?:\./|\.\./)*static/""", re.I)
_STYLE = ("<style>table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;"
          "text-align:left;vertical-align:top}body{font-family:sans-serif;margin:1em 2em}"
          "img{max-height:3em}.ge-failed-icon::before{content:'\\2717';color:#c00}"
          ".ge-success-icon::before{content:'\\2713';color:#080}</style>")


def make_offline(folder: Path) -> int:
    """Rewrite every page and stylesheet of the site under ``folder``; return how many files changed."""
    changed = 0
    for path in sorted(folder.rglob("*")):
        if path.suffix not in {".html", ".css"} or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        new = _page(text, _relative(folder / "static", path.parent)) if path.suffix == ".html" else _css(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed += 1
    return changed


def _relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def _css(text: str) -> str:
    return _CSS_URL.sub("none", _CSS_IMPORT.sub("", text))


def _page(text: str, static: str) -> str:
    """``static``: the site's ``static`` folder relative to this page."""
    logo = f"{static}/{_LOGO.removeprefix('static/')}"
    for table_id, columns, data in _TABLE_INIT.findall(text):
        text = _fill_table(text, table_id, columns, data)
    text = _SCRIPT.sub("", text)
    text = _LINK.sub("", text)
    text = _IMG_SRC.sub(lambda m: f"{m.group(1)}{m.group(2)}{logo}{m.group(2)}", text)
    text = _css(text)
    # the site's own files, from wherever the page is (GX counts one folder too few on validation pages)
    text = _LOCAL_STATIC.sub(lambda m: f"{m.group(1)}{m.group(2)}{static}/", text)
    return text.replace("</head>", _STYLE + "</head>", 1)


def _fill_table(text: str, table_id: str, columns_src: str, data_src: str) -> str:
    """The rows bootstrap-table would have drawn from the init script, written into ``<table id=...>``."""
    try:
        columns = ast.literal_eval(columns_src)
        rows = ast.literal_eval(data_src)
    except (ValueError, SyntaxError):
        return text
    head = "".join(f"<th>{html.escape(str(c.get('title', '')))}</th>" for c in columns)
    body = []
    for row in rows:
        link = row.get("_table_row_link_path")
        cells = []
        for c in columns:
            value = str(row.get(c.get("field"), ""))  # GX renders these cells as HTML itself
            cells.append(f'<td><a href="{html.escape(link)}">{value}</a></td>' if link else f"<td>{value}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    rendered = f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
    pattern = re.compile(r"(<table\b[^>]*\bid=\"" + re.escape(table_id) + r"\"[^>]*>)\s*(</table>)", re.S)
    return pattern.sub(lambda m: m.group(1) + rendered + m.group(2), text, count=1)

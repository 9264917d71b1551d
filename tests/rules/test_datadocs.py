"""Data Docs: built from a validation result stripped of every cell value."""

from __future__ import annotations

import datetime as dt
import json

from flows.rules import datadocs
from flows.rules.validate import validate_students_for_docs
from tests.helpers import students


def test_summary_keeps_counts_and_drops_values(cfg):
    df = students({"full_name": "Nguyễn Văn An", "phone": "09123", "raw_phone": "09123"},
                  {"full_name": "Trần Thị Bình", "phone": "0912345678"})
    _, issues, summary = validate_students_for_docs(df, {}, cfg, dt.date(2021, 12, 1))
    assert any(i.rule == "phone_valid" for i in issues)
    text = json.dumps(summary, ensure_ascii=False)
    assert "09123" not in text and "Nguyễn Văn An" not in text and "0912345678" not in text
    phone = [r for r in summary["results"] if r["expectation_config"]["meta"]["rule"] == "phone_valid"]
    assert phone and phone[0]["success"] is False and phone[0]["result"]["unexpected_count"] == 1


def test_build_writes_a_site_per_run(cfg, tmp_path):
    df = students({"full_name": "Nguyễn Văn An", "grade": 11})
    _, _, summary = validate_students_for_docs(df, {}, cfg, dt.date(2021, 12, 1))
    index = datadocs.build(summary, cfg, "2021-12-01_020000", dt.datetime(2021, 12, 1, 2), tmp_path / "dd")
    assert index == tmp_path / "dd" / "index.html"
    path = next((tmp_path / "dd" / "validations").rglob("*.html"))
    assert "2021-12-01_020000" in path.parts
    page = path.read_text(encoding="utf-8")
    assert "grade" in page and "Nguyễn Văn An" not in page
    assert datadocs.build({}, cfg, "r", dt.datetime(2021, 12, 1), tmp_path / "none") is None


def test_the_site_opens_offline_with_no_outside_resource(cfg, tmp_path):
    """No page or stylesheet fetches anything from the internet (CDN scripts, stylesheets, fonts, images): the
    officers' machine may be offline, and opening the page must not tell a CDN who looks at it."""
    import re

    df = students({"full_name": "Nguyễn Văn An", "grade": 11}, {"full_name": "Lê Thị Bình", "phone": "0912"})
    _, _, summary = validate_students_for_docs(df, {}, cfg, dt.date(2021, 12, 1))
    folder = tmp_path / "dd"
    datadocs.build(summary, cfg, "2021-12-01_020000", dt.datetime(2021, 12, 1, 2), folder)
    pages = list(folder.rglob("*.html"))
    assert len(pages) >= 3
    outside = re.compile(r"""(?:\bsrc\s*=\s*["']?\s*(?:https?:)?//|<link\b[^>]*\bhref\s*=\s*["']?\s*(?:https?:)?//"""
                         r"""|url\(\s*["']?\s*(?:https?:)?//|@import\s+["']\s*(?:https?:)?//)""", re.I)
    for path in [*pages, *folder.rglob("*.css")]:
        text = path.read_text(encoding="utf-8")
        assert not outside.search(text), (path.relative_to(folder), outside.search(text).group(0))
        assert "<script" not in text.lower()  # nothing to run, nothing that needs a CDN library
    index = (folder / "index.html").read_text(encoding="utf-8")
    # the list of validations is in the page itself (GX fills it with a CDN script otherwise)
    link = re.search(r'href="(validations/students/2021-12-01_020000/[^"]+\.html)"', index)
    assert link and (folder / link.group(1)).is_file()
    for path in pages:  # local images and styles still resolve
        for ref in re.findall(r'(?:src|href)="([^"#:]+\.(?:png|css|ico|svg))"', path.read_text(encoding="utf-8")):
            assert (path.parent / ref).resolve().is_file(), (path.name, ref)

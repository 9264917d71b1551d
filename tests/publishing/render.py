"""Workbooks as a person sees them: LibreOffice (headless) prints them to PDF, pdfplumber reads the PDF's text
boxes back, pdftoppm draws the first pages as PNG for a person to look at.

``ensure_office`` installs LibreOffice Calc and poppler with apt-get when missing (``tests/office.sh``, as root),
so the render tests run everywhere ``make test`` does instead of being skipped.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def ensure_office() -> str:
    """The soffice executable, installed by tests/office.sh first when missing."""
    if not (shutil.which("soffice") and shutil.which("pdftoppm")):
        subprocess.run(["bash", str(ROOT / "tests" / "office.sh")], check=True, timeout=1800)
    exe = shutil.which("soffice")
    assert exe and shutil.which("pdftoppm"), "LibreOffice / poppler missing: run `bash tests/office.sh` as root"
    return exe


def to_pdf(workbooks: list[Path], out_dir: Path) -> list[Path]:
    """Print workbooks to PDF as LibreOffice would (one private profile per call, so parallel runs coexist)."""
    exe = ensure_office()
    out_dir.mkdir(parents=True, exist_ok=True)
    profile = out_dir / ".lo-profile"
    env = {**os.environ, "HOME": str(out_dir), "SAL_USE_VCLPLUGIN": "svp"}
    done = subprocess.run([exe, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                           "--convert-to", "pdf", "--outdir", str(out_dir), *map(str, workbooks)],
                          capture_output=True, text=True, timeout=600, env=env)
    pdfs = [out_dir / (w.stem + ".pdf") for w in workbooks]
    missing = [p.name for p in pdfs if not p.exists()]
    assert not missing, f"LibreOffice did not print {missing}: {done.stdout}{done.stderr}"
    return pdfs


def to_png(pdf: Path, out_dir: Path, pages: int = 2) -> list[Path]:
    """The first pages as PNG (72 dpi) for a person to look at."""
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix = out_dir / pdf.stem
    subprocess.run(["pdftoppm", "-r", "72", "-png", "-f", "1", "-l", str(pages), str(pdf), str(prefix)],
                   check=True, timeout=120)
    return sorted(out_dir.glob(f"{pdf.stem}-*.png"))


@dataclass(frozen=True)
class Word:
    page: int
    text: str
    x0: float
    top: float
    x1: float
    bottom: float


_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>')


def words(pdf: Path) -> list[Word]:
    """Every printed word with its box (poppler's pdftotext -bbox: fast on documents of many pages)."""
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True,
                         timeout=300).stdout
    found, page = [], 0
    for line in out.splitlines():
        if "<page " in line:
            page += 1
        elif m := _WORD.search(line):
            x0, top, x1, bottom = map(float, m.groups()[:4])
            found.append(Word(page, html.unescape(m.group(5)), x0, top, x1, bottom))
    return found


def overlapping_text(pdf: Path) -> list[tuple[Word, Word]]:
    """Pairs of printed words drawn over each other (sharing a third of the smaller one's width and height, and
    more than the 1.5 pt a tight glyph pair such as "ố." shares):
    wrapped lines running into the next row, a value running into its neighbour's cell, titles over titles.
    Rotated words (a chart's slanted axis labels) have tall boxes that touch by design and are left out."""
    found = []
    by_page: dict[int, list[Word]] = {}
    for w in words(pdf):
        by_page.setdefault(w.page, []).append(w)
    for page_words in by_page.values():
        heights = sorted(w.bottom - w.top for w in page_words)
        usual = heights[len(heights) // 2]
        flat = sorted((w for w in page_words if w.bottom - w.top <= 1.8 * usual), key=lambda w: w.x0)
        for i, a in enumerate(flat):
            for b in flat[i + 1:]:
                if b.x0 >= a.x1:
                    break
                ix = min(a.x1, b.x1) - max(a.x0, b.x0)
                iy = min(a.bottom, b.bottom) - max(a.top, b.top)
                if (ix > max(0.34 * min(a.x1 - a.x0, b.x1 - b.x0), 1.5)
                        and iy > max(0.34 * min(a.bottom - a.top, b.bottom - b.top), 1.5)):
                    found.append((a, b))
    return found


def page_texts(pdf: Path) -> list[str]:
    """Each page's text in reading order (poppler's pdftotext -layout)."""
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True,
                         timeout=300).stdout
    return out.split("\f")[:-1] if out.endswith("\f") else out.split("\f")

"""Compare two run folders: every CSV export byte for byte, every workbook cell by cell (read back with calamine).

    python -m tests.compare_runs OUT_A/latest OUT_B/latest

Used to prove that a change with no change in behaviour (a refactoring, an incremental night) publishes the same
result. Files that name the run (``manifest.json``, Data Docs) and workbook titles that carry the run id or time
are the only expected differences; they are left out. Exit status 1 when anything else differs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from python_calamine import CalamineWorkbook

# cells that name the run or the moment it ran, not its result
_RUN_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}_\d{6}|\d{2}:\d{2}(:\d{2})?|lần chạy|run id", re.I)


def _cells(path: Path) -> dict[str, list[list[str]]]:
    book = CalamineWorkbook.from_path(str(path))
    out = {}
    for name in book.sheet_names:
        rows = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
        out[name] = [["" if _RUN_STAMP.search(str(v)) else str(v) for v in row] for row in rows]
    return out


def differences(a: Path, b: Path) -> list[str]:
    """What differs between run folders ``a`` and ``b`` (empty: the same result)."""
    found = []
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    skip = lambda p: p.name == "manifest.json" or p.parts[0] == "data-docs"  # noqa: E731
    for rel in sorted((files_a ^ files_b)):
        if not skip(rel):
            found.append(f"only in {'first' if rel in files_a else 'second'}: {rel}")
    for rel in sorted(files_a & files_b):
        if skip(rel):
            continue
        if rel.suffix == ".csv":
            if (a / rel).read_bytes() != (b / rel).read_bytes():
                found.append(f"differs: {rel}")
        elif rel.suffix == ".xlsx":
            ca, cb = _cells(a / rel), _cells(b / rel)
            if ca.keys() != cb.keys():
                found.append(f"sheets differ: {rel}")
            for sheet in ca.keys() & cb.keys():
                if ca[sheet] != cb[sheet]:
                    found.append(f"cells differ: {rel} [{sheet}]")
    return found



def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    a, b = (Path(x).resolve() for x in argv)
    found = differences(a, b)
    for line in found:
        print(line)
    print("same result" if not found else f"{len(found)} difference(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The package: ``Ledger`` assembled from its parts, the parts importing only the schema, the names importers use."""

from __future__ import annotations

import ast
from pathlib import Path

import sqlalchemy as sa

import flows.adapters.ledger as package
from flows.adapters.ledger import Ledger, schema

PARTS = ["allocations", "identities", "runs", "snapshots"]
# every name the single-module ledger offered before it was split into parts
NAMES = ["Ledger", "Snapshot", "need_for_item", "ACTIVE_ALLOCATION_COLUMNS", "ACTIVE_STATUSES", "CHANGE_COLUMNS",
         "DECISION_COLUMNS", "DEFAULT_URL", "FOLLOW_UP_COLUMNS", "FOLLOW_UP_STATES", "IDENTITY_FIELDS", "ITEMS",
         "MIGRATIONS_DIR", "OVERRIDE_FIELDS", "PERSON_ID_DIGITS", "PERSON_ID_PREFIX"]


def _ledger_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        found |= {m for m in modules if m.startswith("flows.adapters.ledger")}
    return found


def test_the_parts_import_the_schema_only_and_the_schema_no_part() -> None:
    here = Path(package.__file__).parent
    for part in PARTS:
        assert _ledger_imports(here / f"{part}.py") == {"flows.adapters.ledger.schema"}, part
    assert _ledger_imports(here / "schema.py") == set()


def test_the_package_offers_every_name_and_its_parts_by_their_names() -> None:
    assert set(NAMES) <= set(package.__all__)
    for name in package.__all__:
        assert getattr(package, name) is not None, name
    for part in PARTS:  # no table shadows a part module of the same name
        assert getattr(package, part).__name__ == f"flows.adapters.ledger.{part}"
    assert all(isinstance(t, sa.Table) for t in schema.metadata.sorted_tables)
    assert package.MIGRATIONS_DIR == Path(package.__file__).parent / "migrations"
    assert package.MIGRATIONS_DIR.is_dir()


def test_every_ledger_method_comes_from_one_part() -> None:
    parts = Ledger.__mro__[1:-1]
    assert [p.__module__.rsplit(".", 1)[-1] for p in parts] == ["identities", "allocations", "snapshots", "runs",
                                                                  "schema"]
    public = {n for p in parts for n in vars(p) if not n.startswith("_")}
    assert all(sum(n in vars(p) for p in parts) == 1 for n in public)

"""On PostgreSQL each district of a province has its own database (``ledger.url`` with ``{code}``): two district
nights write two ledgers, each holding only its own district's run and persons. Needs ``tests/run.sh``."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
import yaml

from flows.adapters.ledger import Ledger
from flows.province.config import load_province
from flows.province.night import district_night
from samples.province import build_province
from tests.nights import AS_OF, tiny_district
from tests.pg import _execute, drop_database, server_url


def test_each_district_writes_its_own_postgresql_database(tmp_path):
    home = tiny_district(tmp_path / "huu-lung")
    path = build_province(tmp_path / "lang-son", {"186": 0, "187": 2}, scale=0.03, home_sources=home)
    base = sa.engine.make_url(server_url())
    prefix = f"province_{uuid.uuid4().hex[:8]}"
    urls = {}
    for code in ("186", "187"):  # the operator creates one database per district
        _execute(base, f'CREATE DATABASE "{prefix}_{code}"')
        urls[code] = base.set(database=f"{prefix}_{code}").render_as_string(hide_password=False)
    template = urls["186"].removesuffix("_186") + "_{code}"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["ledger"] = {"url": template}
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        province = load_province(path)

        outcomes = {d.code: district_night(str(path), d.code, str(tmp_path / "out"), AS_OF)
                    for d in province.taking_part}

        assert {c: o["status"] for c, o in outcomes.items()} == {"186": "ok", "187": "ok"}
        assert not any((tmp_path / "out" / o["folder"] / "ledger.sqlite").exists() for o in outcomes.values())
        for code, url in urls.items():
            with Ledger(url) as ledger:
                assert list(ledger.runs()["run_id"]) == [outcomes[code]["run_id"]]
    finally:
        for url in urls.values():
            drop_database(url)

"""The province configuration: Lạng Sơn's 11 districts and cities with their official codes, checked at start."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flows.config import ConfigError
from flows.province.config import load_province, official_districts, slug

ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "province.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _province(**changes) -> dict:
    data = yaml.safe_load((ROOT / "config/province/province.yaml").read_text(encoding="utf-8"))
    for d in data["districts"]:
        d.pop("config", None)
    data.update(changes)
    return data


def test_the_bundled_province_lists_every_official_district_of_lang_son_and_hu_lung_takes_part():
    province = load_province(ROOT / "config/province")
    listed = {d.code: d.name for d in province.province.districts}
    assert listed == official_districts("20")
    assert len(listed) == 11 and listed["186"] == "Huyện Hữu Lũng" and listed["178"] == "Thành phố Lạng Sơn"
    (huu_lung,) = province.taking_part
    cfg = province.district_config(huu_lung)
    assert cfg.district.district.code == "186"
    assert province.sources_dir(huu_lung, cfg) == ROOT / "samples/huu-lung"
    assert province.folder_name(huu_lung) == "186-huu-lung"


def test_a_district_code_or_name_that_is_not_official_is_refused_naming_the_key(tmp_path):
    data = _province()
    data["districts"][3]["code"] = "999"
    with pytest.raises(ConfigError, match=r"districts\.3\.code.*'999'"):
        load_province(_write(tmp_path, data))
    data = _province()
    data["districts"][0]["name"] = "Thành phố Lạng Sơn Mới"
    with pytest.raises(ConfigError, match=r"districts\.0\.name.*Thành phố Lạng Sơn"):
        load_province(_write(tmp_path, data))
    data = _province()
    data["districts"].append(dict(data["districts"][0]))
    with pytest.raises(ConfigError, match="duplicate district code"):
        load_province(_write(tmp_path, data))


def test_each_district_has_its_own_ledger(tmp_path):
    data = _province()
    for d in data["districts"]:
        if d["code"] in ("186", "187"):
            d["config"] = str(ROOT / "config")  # the config's district must be the listed one: checked on use
    province = load_province(_write(tmp_path, data))
    out = tmp_path / "out"
    urls = {d.code: province.ledger_url(d, out) for d in province.taking_part}
    assert urls["186"] == f"sqlite:///{(out / '186-huu-lung' / 'ledger.sqlite').resolve()}"
    assert urls["186"] != urls["187"]
    with pytest.raises(ConfigError, match="districts.187.config"):
        province.district_config(province.taking_part[1])  # Hữu Lũng's config is not Chi Lăng's
    templated = load_province(_write(tmp_path, {**data, "ledger": {"url": "postgresql+psycopg://db/smt_{code}"}}))
    assert [templated.ledger_url(d, out) for d in templated.taking_part] == [
        "postgresql+psycopg://db/smt_186", "postgresql+psycopg://db/smt_187"]
    with pytest.raises(ConfigError, match=r"ledger\.url.*\{code\}"):
        load_province(_write(tmp_path, {**data, "ledger": {"url": "postgresql+psycopg://db/one_for_all"}}))


def test_folder_names_are_ascii():
    assert [slug(n) for n in ("Huyện Đình Lập", "Thành phố Lạng Sơn", "Huyện Lộc Bình")] == [
        "dinh-lap", "lang-son", "loc-binh"]


def test_province_run_refuses_a_bad_province_config_naming_the_key(tmp_path):
    from typer.testing import CliRunner

    from flows.cli import app

    data = _province()
    data["districts"][7]["code"] = "190"
    result = CliRunner().invoke(app, ["province", "run", "--config", str(_write(tmp_path, data)),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "districts.7.code" in result.output and not (tmp_path / "out").exists()

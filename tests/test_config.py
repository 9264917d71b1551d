import shutil
from pathlib import Path

import pytest
import yaml

from flows.config import DEFAULT_CONFIG_DIR, ConfigError, load_config


def test_district_has_the_23_communes_of_huu_lung(cfg):
    communes = cfg.district.communes
    assert len(communes) == 23
    assert {c.code for c in communes} >= {"06385", "06388", "06460"}
    assert sum(c.type == "township" for c in communes) == 1
    assert len(cfg.district.schools) >= 40
    assert {s.level for s in cfg.district.schools} == {"TH", "THCS"}


def test_phases_and_targets_follow_the_plan(cfg):
    p1 = cfg.district.phases[0]
    assert (p1.start.isoformat(), p1.end.isoformat()) == ("2021-12-01", "2022-12-31")
    assert p1.device_sets_target == 1500 and p1.internet_share_target == 0.5
    assert [t.category for t in cfg.district.priority_tiers] == ["poor", "near_poor", "covid_orphan", "none"]


def test_indexes_recognise_schools_and_communes(cfg):
    from flows.text import fold

    assert cfg.commune_index[fold("UBND XÃ HỮU LIÊN")] == "06388"
    assert cfg.school_index[fold("Trường TH Hữu Liên")] == "TH-06388"
    assert cfg.school_index[fold("Trung học cơ sở Hữu Liên")] == "THCS-06388"


def _copy_config(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, target)
    return target


def test_bad_key_is_named(tmp_path):
    target = _copy_config(tmp_path)
    data = yaml.safe_load((target / "district.yaml").read_text(encoding="utf-8"))
    data["schools"][3]["commune"] = "99999"
    (target / "district.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"schools\.3\.commune"):
        load_config(target)


def test_unknown_key_and_wrong_type_are_named(tmp_path):
    target = _copy_config(tmp_path)
    data = yaml.safe_load((target / "district.yaml").read_text(encoding="utf-8"))
    data["unit_prices"]["laptop"] = "mười triệu"
    data["phases"][0]["targett"] = 1
    (target / "district.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(target)
    assert "district.yaml: unit_prices.laptop" in str(err.value)
    assert "phases.0.targett" in str(err.value)


def test_missing_rule_is_named(tmp_path):
    target = _copy_config(tmp_path)
    data = yaml.safe_load((target / "rules.yaml").read_text(encoding="utf-8"))
    del data["rules"]["need_marked"]
    (target / "rules.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="need_marked"):
        load_config(target)


def test_retry_limits_and_the_morning_message_are_typed_and_a_bad_value_is_named(tmp_path, cfg):
    assert cfg.sources.retries.ledger.attempts >= 2 and cfg.sources.retries.google.attempts >= 2
    assert cfg.district.morning_message.enabled is False  # nothing is sent until an office configures it
    target = _copy_config(tmp_path)
    sources = yaml.safe_load((target / "sources.yaml").read_text(encoding="utf-8"))
    sources["retries"]["ledger"] = {"attempts": 0, "delay_seconds": [-1]}
    (target / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True), encoding="utf-8")
    district = yaml.safe_load((target / "district.yaml").read_text(encoding="utf-8"))
    district["morning_message"].update(enabled=True, recipients=[], password="bí mật")
    (target / "district.yaml").write_text(yaml.safe_dump(district, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(target)
    # district.yaml is read first: its two problems are named (a password is not a setting: it lives outside)
    assert "district.yaml: morning_message.password: Extra inputs are not permitted" in str(err.value)
    del district["morning_message"]["password"]
    (target / "district.yaml").write_text(yaml.safe_dump(district, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"morning_message: .*recipients: at least one address"):
        load_config(target)
    district["morning_message"]["recipients"] = ["phonggddt@example.vn"]
    (target / "district.yaml").write_text(yaml.safe_dump(district, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(target)
    assert "sources.yaml: retries.ledger.attempts" in str(err.value)
    assert "sources.yaml: retries.ledger.delay_seconds.0: Input should be greater than or equal to 0" in str(err.value)


def test_lookups_built_for_a_config_are_kept_for_the_latest_configs_only():
    """A Dask worker runs district after district, each with its own config: their lookups must not pile up."""
    from flows.config import BUILT_KEPT, built_for

    cache: dict = {}
    built: list[int] = []
    configs = [load_config().model_copy() for _ in range(BUILT_KEPT + 3)]
    for cfg in configs:
        assert built_for(cache, cfg, lambda c: built.append(id(c)) or len(built)) == len(built)
    assert len(cache) == BUILT_KEPT and len(built) == len(configs)
    latest = configs[-1]
    assert built_for(cache, latest, lambda c: built.append(id(c)) or -1) == len(configs)  # kept: not built again
    assert built_for(cache, configs[0], lambda c: built.append(id(c)) or -1) == -1  # dropped: built again
    assert len(cache) == BUILT_KEPT


def test_a_file_that_is_not_yaml_is_named(tmp_path):
    target = _copy_config(tmp_path)
    (target / "rules.yaml").write_text("rules:\n  - [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rules\.yaml: not valid YAML"):
        load_config(target)

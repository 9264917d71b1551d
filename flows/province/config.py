"""The province configuration (``province.yaml``): the province, its districts and cities with their official
codes, and for each district taking part its own config folder, sources folder, ledger and outputs.

Codes and names are checked against ``vietnamadminunits`` (the legacy 63-province units, valid 2021 to mid-2025),
so a typo in a district code stops the night with a message naming the key (``ConfigError``). ``province.code``
``00`` (``NATION``) is the whole country: any official district may take part (``bench national``'s sample).

Ledger namespace, one per district: by default a SQLite file in the district's own output folder
(``OUT/<code>-<slug>/ledger.sqlite``, as ``songmaytinh run --out OUT/<code>-<slug>`` would use). For PostgreSQL,
``ledger.url`` is a template with ``{code}``: one database per district (``postgresql://host/songmaytinh_{code}``),
which the operator creates; ``SONGMAYTINH_LEDGER_URL`` (one district's ledger) is never used by a province night.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from flows.config import AppConfig, ConfigError, LinkageSettings, _load_yaml, _validate, load_config
from flows.text import strip_tones


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProvinceInfo(_Strict):
    name: str
    code: str = Field(pattern=r"^\d{2}$")
    issuing_unit: str = "SỞ GIÁO DỤC VÀ ĐÀO TẠO"
    parent_unit: str
    place_name: str
    signer_title: str = "GIÁM ĐỐC"
    programme: str = "Sóng và máy tính cho em"


class ProvinceDistrict(_Strict):
    """One district or city of the province; ``config`` None: listed, not yet taking part (no night)."""

    code: str = Field(pattern=r"^\d{3}$")
    name: str
    config: str | None = None  # the district's config folder, relative to province.yaml
    sources: str | None = None  # its sources folder (default: its config's local.default_dir)


class LedgerSettings(_Strict):
    url: str | None = None  # None: SQLite per district folder; else a template with {code}

    @field_validator("url")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        if v is not None and "{code}" not in v:
            raise ValueError("must contain {code}: each district has its own ledger")
        return v


class DaskSettings(_Strict):
    address: str | None = None  # scheduler of a running Dask cluster (tcp://host:8786); None: a LocalCluster
    n_workers: int = Field(2, ge=1)  # LocalCluster worker processes
    threads_per_worker: int = Field(1, ge=1)
    memory_limit: str | None = None  # per LocalCluster worker ("4GiB"); None: Dask's default share


class Province(_Strict):
    province: ProvinceInfo
    ledger: LedgerSettings = LedgerSettings()
    dask: DaskSettings = DaskSettings()
    linkage: LinkageSettings = LinkageSettings()  # the move linkage across districts (flows.province.moves)
    districts: list[ProvinceDistrict] = Field(min_length=1)

    @model_validator(mode="after")
    def _official(self) -> "Province":
        units = official_districts(self.province.code)
        if not units:
            raise ValueError(f"province.code: {self.province.code!r} is not a province code")
        codes = [d.code for d in self.districts]
        if len(set(codes)) != len(codes):
            raise ValueError("districts: duplicate district code")
        for i, d in enumerate(self.districts):
            if d.code not in units:
                raise ValueError(f"districts.{i}.code: {d.code!r} is not a district of {self.province.name}")
            if d.name != units[d.code]:
                raise ValueError(f"districts.{i}.name: {d.name!r}, the official name of {d.code} is "
                                 f"{units[d.code]!r}")
        return self


NATION = "00"  # province.code of a configuration over the whole country: any official district may take part


@cache
def official_districts(province_code: str) -> dict[str, str]:
    """District code -> official name (``Huyện Hữu Lũng``, ``Thành phố Lạng Sơn``) from vietnamadminunits;
    ``NATION``: every district of the country."""
    from vietnamadminunits.database.main import query

    if not province_code.isdigit():
        return {}
    where = "" if province_code == NATION else f"WHERE provinceCode = '{province_code}' "
    rows = query(f"SELECT DISTINCT districtCode, district FROM admin_units_legacy {where}ORDER BY districtCode")
    return {r["districtCode"]: r["district"] for r in rows}


@cache
def province_of(district_code: str) -> tuple[str, str]:
    """(code, official name) of the province a district belongs to (``186`` -> ``20``, ``Tỉnh Lạng Sơn``)."""
    from vietnamadminunits.database.main import query

    if not district_code.isdigit():
        raise ValueError(f"{district_code!r} is not a district code")
    rows = query("SELECT DISTINCT provinceCode, province FROM admin_units_legacy "
                 f"WHERE districtCode = '{district_code}'")
    if not rows:
        raise ValueError(f"{district_code!r} is not a district code")
    return rows[0]["provinceCode"], rows[0]["province"]


@cache
def official_communes(district_code: str) -> list[tuple[str, str, str]]:
    """(code, name, type) of a district's communes, wards and townships, from vietnamadminunits."""
    from vietnamadminunits.database.main import query

    if not district_code.isdigit():
        return []
    rows = query("SELECT DISTINCT wardCode, ward, wardType FROM admin_units_legacy "
                 f"WHERE districtCode = '{district_code}' ORDER BY wardCode")
    return [(r["wardCode"], r["ward"], r["wardType"]) for r in rows]


def slug(name: str) -> str:
    """ASCII folder name of a unit: ``Huyện Hữu Lũng`` -> ``huu-lung``."""
    bare = name
    for prefix in ("Thành phố ", "Thị xã ", "Huyện ", "Quận "):
        bare = bare.removeprefix(prefix)
    text = strip_tones(bare).replace("đ", "d").replace("Đ", "D").lower()
    return "-".join("".join(ch if ch.isalnum() else " " for ch in text).split())


class LoadedProvince:
    """A validated province and where its files are."""

    def __init__(self, path: Path, province: Province) -> None:
        self.path = path
        self.folder = path.parent
        self.province = province

    @property
    def taking_part(self) -> list[ProvinceDistrict]:
        return [d for d in self.province.districts if d.config is not None]

    def folder_name(self, district: ProvinceDistrict) -> str:
        """The district's folder under the province output root: ``186-huu-lung``."""
        return f"{district.code}-{slug(district.name)}"

    def district_config(self, district: ProvinceDistrict) -> AppConfig:
        cfg = load_config((self.folder / district.config).resolve())
        if cfg.district.district.code != district.code:
            raise ConfigError(f"{self.path.name}: districts.{district.code}.config: its district.yaml is district "
                              f"{cfg.district.district.code!r}")
        return cfg

    def sources_dir(self, district: ProvinceDistrict, cfg: AppConfig) -> Path | None:
        if district.sources is not None:
            return (self.folder / district.sources).resolve()
        if cfg.sources.local.default_dir:
            return (cfg.config_dir.resolve().parent / cfg.sources.local.default_dir).resolve()
        return None

    def ledger_url(self, district: ProvinceDistrict, out_root: Path) -> str:
        """The district's own ledger (see the module's docstring)."""
        template = self.province.ledger.url
        if template:
            return template.format(code=district.code)
        return f"sqlite:///{(out_root / self.folder_name(district) / 'ledger.sqlite').resolve()}"


def load_province(path: Path | str) -> LoadedProvince:
    """Load and validate ``province.yaml`` (``path`` may be its folder); ``ConfigError`` names the bad key. Every
    district taking part must have its config folder (loaded and checked when its night runs)."""
    path = Path(path)
    if path.is_dir():
        path = path / "province.yaml"
    province = _validate(Province, path, _load_yaml(path))
    loaded = LoadedProvince(path.resolve(), province)  # type: ignore[arg-type]
    for d in loaded.taking_part:
        if not (loaded.folder / d.config / "district.yaml").is_file():
            raise ConfigError(f"{path.name}: districts.{d.code}.config: no district.yaml in {d.config}")
    return loaded

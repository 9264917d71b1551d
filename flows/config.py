"""Typed configuration: the district, the data rules, header aliases and the source registry.

Everything a district changes lives in YAML under ``config/``; this module validates it with pydantic
at start so that a bad key stops the run with a message naming it (``ConfigError``).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from flows.operations import MorningMessage, Retries
from flows.text import fold

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_DIR = REPO_ROOT / "config"

Category = Literal["poor", "near_poor", "covid_orphan", "none"]
Item = Literal["desktop", "laptop", "tablet", "smartphone", "internet_package"]
DEVICE_ITEMS: tuple[str, ...] = ("desktop", "laptop", "tablet", "smartphone")


class ConfigError(Exception):
    """A configuration file is missing or invalid; the message names the file and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DistrictInfo(_Strict):
    name: str
    short_name: str
    code: str
    province: str
    province_code: str
    issuing_unit: str
    parent_unit: str
    place_name: str
    signer_title: str = "TRƯỞNG PHÒNG"
    programme: str = "Sóng và máy tính cho em"


class Phase(_Strict):
    id: str
    name: str
    start: dt.date
    end: dt.date
    device_sets_target: int | None = None
    internet_share_target: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> "Phase":
        if self.end < self.start:
            raise ValueError(f"phase {self.id}: end {self.end} is before start {self.start}")
        return self


class OverallTargets(_Strict):
    device_share: float = Field(1.0, ge=0, le=1)
    internet_share: float = Field(1.0, ge=0, le=1)
    village_coverage_share: float = Field(1.0, ge=0, le=1)


class PriorityTier(_Strict):
    category: Category
    label: str


class Commune(_Strict):
    code: str = Field(pattern=r"^\d{5}$")
    name: str
    type: Literal["commune", "township"] = "commune"
    villages: list[str] = []


class School(_Strict):
    code: str
    name: str
    level: Literal["TH", "THCS", "TH&THCS"]
    commune: str
    enrolment: dict[int, int] = {}

    @field_validator("enrolment")
    @classmethod
    def _grades(cls, v: dict[int, int]) -> dict[int, int]:
        for g, n in v.items():
            if not 1 <= g <= 9 or n < 0:
                raise ValueError(f"enrolment grade {g} -> {n}: grade must be 1-9 and count >= 0")
        return v


TieBreak = Literal["lacks_both", "grade_asc", "grade_desc", "birth_date_asc", "given_name", "person_id"]


class DevicePreference(_Strict):
    """Device items a grade band prefers, best first; items not listed come after, in donation order."""

    grades: list[int] = Field(min_length=1)
    items: list[Item] = Field(min_length=1)


class PublishSettings(_Strict):
    retention: int = Field(14, ge=1)  # run folders kept under the output root (the newest always stays)


class NightSettings(_Strict):
    # how long a night waits for another night on the same ledger or output folder before it stops
    lock_wait_seconds: float = Field(60, ge=0)


class LinkageSettings(_Strict):
    # where Splink links the records (flows.linkage.backends): duckdb, in the night's own process (the default),
    # or spark, a local Spark session started for the night (needs a Java runtime, 17 or later)
    backend: Literal["duckdb", "spark"] = "duckdb"


class District(_Strict):
    district: DistrictInfo
    phases: list[Phase]
    overall_targets: OverallTargets = OverallTargets()
    priority_tiers: list[PriorityTier]
    tie_breaks: list[TieBreak] = ["lacks_both", "grade_desc", "birth_date_asc", "given_name"]
    unit_prices: dict[Item, int]
    cash_buys: list[Item] = ["tablet"]
    cash_internet_share: float = Field(0.0, ge=0, le=1)
    device_preference: list[DevicePreference] = []
    publish: PublishSettings = PublishSettings()
    night: NightSettings = NightSettings()
    linkage: LinkageSettings = LinkageSettings()
    morning_message: MorningMessage = MorningMessage()  # the officers' e-mail after each night
    communes: list[Commune]
    schools: list[School]

    @model_validator(mode="after")
    def _consistent(self) -> "District":
        codes = [c.code for c in self.communes]
        if len(set(codes)) != len(codes):
            raise ValueError("communes: duplicate commune code")
        scodes = [s.code for s in self.schools]
        if len(set(scodes)) != len(scodes):
            raise ValueError("schools: duplicate school code")
        for i, s in enumerate(self.schools):
            if s.commune not in codes:
                raise ValueError(f"schools.{i}.commune: {s.commune!r} is not a commune code in communes")
        cats = [t.category for t in self.priority_tiers]
        if sorted(cats) != sorted({"poor", "near_poor", "covid_orphan", "none"}):
            raise ValueError("priority_tiers: must list poor, near_poor, covid_orphan and none exactly once")
        for item in self.cash_buys:
            if item not in self.unit_prices:
                raise ValueError(f"cash_buys: {item!r} has no unit_prices entry")
        banded: set[int] = set()
        for i, band in enumerate(self.device_preference):
            if banded & set(band.grades):
                raise ValueError(f"device_preference.{i}.grades: a grade is in two bands")
            if "internet_package" in band.items:
                raise ValueError(f"device_preference.{i}.items: internet_package is not a device")
            banded |= set(band.grades)
        return self

    def preferred_items(self, grade: int | None) -> list[str]:
        """Device items the grade prefers, best first ([] = no preference: donation order)."""
        for band in self.device_preference:
            if grade in band.grades:
                return list(band.items)
        return []

    def phase_for(self, day: dt.date) -> Phase | None:
        for p in self.phases:
            if p.start <= day <= p.end:
                return p
        return None

    @cached_property
    def commune_by_code(self) -> dict[str, Commune]:
        return {c.code: c for c in self.communes}

    @cached_property
    def school_by_code(self) -> dict[str, School]:
        return {s.code: s for s in self.schools}

    def tier_rank(self, category: str) -> int:
        for i, t in enumerate(self.priority_tiers):
            if t.category == category:
                return i + 1
        return len(self.priority_tiers)

    def tier_label(self, category: str) -> str:
        for t in self.priority_tiers:
            if t.category == category:
                return t.label
        return category


class Rule(_Strict):
    severity: Literal["error", "warning"]
    column: str = ""
    message: str


class AgeBand(_Strict):
    below: int = 2
    above: int = 3


class Rules(_Strict):
    grade_min: int = 1
    grade_max: int = 9
    age_band: AgeBand = AgeBand()
    name_min_length: int = 2
    name_max_length: int = 60
    text_max_length: int = 200
    birth_year_min: int = 2005
    rules: dict[str, Rule]

    def message(self, rule: str, **params: object) -> str:
        template = self.rules[rule].message
        try:
            return template.format(**params)
        except (KeyError, IndexError):
            return template

    def severity(self, rule: str) -> str:
        return self.rules[rule].severity


REQUIRED_RULES = {
    "name_present", "date_valid", "grade_valid", "grade_in_range", "category_in_domain", "commune_in_district",
    "need_marked", "duplicate_in_sheet", "unknown_column", "missing_column", "no_table", "unreadable_file",
    "formula_in_name",
    "duplicate_donation", "earmark_unknown", "donation_overdrawn",
}


class Headers(BaseModel):
    """Header aliases and value vocabularies; kept loose (dict-shaped) because districts extend them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    students: dict[str, list[str]]
    donations: dict[str, list[str]]
    connectivity: dict[str, list[str]]
    handover: dict[str, list[str]]
    follow_up: dict[str, list[str]] = {}
    overrides: dict[str, list[str]] = {}
    decisions: dict[str, list[str]] = {}  # officer decisions on record pairs (flows.linkage.decisions)
    values: dict[str, list[str] | dict[str, list[str]]]
    footer_markers: list[str] = []
    subtotal_markers: list[str] = []
    example_markers: list[str] = []  # a template's example row ("VD", "Ví dụ:") is not data
    # kind -> a parent header's field -> field -> aliases of the columns under that parent (flows.intake.headers)
    sub_columns: dict[str, dict[str, dict[str, list[str]]]] = {}

    @field_validator("students", "donations", "connectivity", "handover", "follow_up", "overrides")
    @classmethod
    def _aliases(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for field, aliases in v.items():
            if not aliases:
                raise ValueError(f"{field}: needs at least one alias")
        return v

    def for_kind(self, kind: str) -> dict[str, list[str]]:
        return getattr(self, kind)

    def vocabulary(self, name: str) -> list[str]:
        v = self.values.get(name, [])
        if isinstance(v, dict):
            raise TypeError(f"values.{name} is a mapping")
        return v

    def mapping(self, name: str) -> dict[str, list[str]]:
        v = self.values.get(name, {})
        if not isinstance(v, dict):
            raise TypeError(f"values.{name} is a list")
        return v


SourceKind = Literal["students", "donations", "connectivity", "handover", "follow_up", "overrides",
                     "decisions"]


class LocalPattern(_Strict):
    glob: str
    kind: SourceKind
    unit_type: Literal["school", "commune"] | None = None


class SourceLimits(_Strict):
    """What one source file may hold before it is refused (one ``unreadable_file`` issue), so that a hostile or
    broken file cannot exhaust memory. School lists are a few thousand rows of a few dozen columns."""

    max_file_bytes: int = Field(50_000_000, ge=1)  # the file as stored
    max_uncompressed_bytes: int = Field(300_000_000, ge=1)  # an xlsx/ods (zip): every member unpacked
    max_compression_ratio: float = Field(500, ge=1)  # one zip member: unpacked / packed (zip bombs: 1000+)
    max_rows: int = Field(50_000, ge=1)  # per sheet
    max_columns: int = Field(500, ge=1)  # per sheet
    max_cell_chars: int = Field(32_767, ge=1)  # Excel's own limit for one cell


class LocalSources(_Strict):
    default_dir: str | None = None
    patterns: list[LocalPattern] = []
    limits: SourceLimits = SourceLimits()


def spreadsheet_key(value: str) -> str:
    """The spreadsheet id in a Google Sheets URL, or the id itself; ValueError if it is neither."""
    m = re.search(r"/spreadsheets/d/([A-Za-z0-9_-]+)", value)
    key = m.group(1) if m else value.strip()
    if not re.fullmatch(r"[A-Za-z0-9_-]{8,}", key):
        raise ValueError(f"{value!r} is neither a spreadsheet key nor a Google Sheets URL")
    return key


class GoogleSource(_Strict):
    """One registered spreadsheet: ``key`` is the spreadsheet id or its URL."""

    key: str
    kind: SourceKind
    unit: str | None = None
    unit_type: Literal["school", "commune"] | None = None
    contact: str | None = None

    @field_validator("key")
    @classmethod
    def _key_from_url(cls, v: str) -> str:
        return spreadsheet_key(v)


class GoogleQuota(_Strict):
    """Client-side limits; Google allows about 60 read requests per minute per user and 300 per project."""

    reads_per_minute: int = Field(60, ge=1)
    project_reads_per_minute: int = Field(300, ge=1)
    writes_per_minute: int = Field(60, ge=1)
    drive_reads_per_minute: int = Field(600, ge=1)  # Drive metadata reads: a quota of their own, far larger
    timeout_seconds: float = Field(30.0, gt=0)
    max_retries: int = Field(5, ge=0)
    backoff_base_seconds: float = Field(1.0, gt=0)
    backoff_max_seconds: float = Field(64.0, gt=0)


class GoogleSettings(_Strict):
    """The ``google:`` block of sources.yaml (a plain list is read as ``spreadsheets``)."""

    credentials_env: str = "SONGMAYTINH_GOOGLE_KEY"  # env var holding the path of the service-account key
    credentials_secret: str | None = None  # or a Prefect Secret block holding the key JSON
    endpoint: str | None = None  # API base URL override (a test server); None = Google
    registry: str | None = None  # key or URL of the registry sheet the officer keeps
    officers: list[str] = []  # emails shared as readers on provisioned sheets
    contacts: dict[str, str] = {}  # unit code -> email of the school / commune (writer)
    folder: str | None = None  # Drive folder for provisioned sheets
    feedback: bool = False  # write the "Phản hồi" sheet back into each school's spreadsheet
    quota: GoogleQuota = GoogleQuota()
    spreadsheets: list[GoogleSource] = []

    @model_validator(mode="before")
    @classmethod
    def _list_form(cls, data: object) -> object:
        return {"spreadsheets": data} if isinstance(data, list) else data

    @field_validator("registry")
    @classmethod
    def _registry_key(cls, v: str | None) -> str | None:
        return None if v is None else spreadsheet_key(v)

    @property
    def configured(self) -> bool:
        return bool(self.spreadsheets or self.registry)


class Sources(_Strict):
    local: LocalSources = LocalSources()
    google: GoogleSettings = GoogleSettings()
    retries: Retries = Retries()  # the Google pull and the ledger connection, on failures that may pass


class AppConfig(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    config_dir: Path
    district: District
    rules: Rules
    headers: Headers
    sources: Sources

    @cached_property
    def school_index(self) -> dict[str, str]:
        """Folded school name variants -> school code (used to recognise a school from free text)."""
        index: dict[str, str] = {}
        for s in self.district.schools:
            commune = self.district.commune_by_code[s.commune]
            place = s.name.split(" ", 2)[-1]  # "Trường TH Hữu Liên" -> "Hữu Liên"
            for variant in (s.name, s.name.replace("Trường ", ""), f"{s.level} {place}",
                            f"{_LEVEL_WORDS[s.level]} {place}", f"{s.level} {commune.name}",
                            s.code):  # a file named by the school's code ("TH-06400.xlsx"), not its commune's
                index.setdefault(fold(variant), s.code)
        return index

    @cached_property
    def commune_index(self) -> dict[str, str]:
        """Folded commune name variants ("Xã Hữu Liên", "Hữu Liên", "UBND xã Hữu Liên") -> code."""
        index: dict[str, str] = {}
        for c in self.district.communes:
            bare = c.name.split(" ", 2)[-1] if c.type == "township" else c.name.removeprefix("Xã ")
            for variant in (c.name, bare, f"UBND {c.name}", c.code):
                index.setdefault(fold(variant), c.code)
        return index


_LEVEL_WORDS = {"TH": "Tiểu học", "THCS": "Trung học cơ sở", "TH&THCS": "TH và THCS"}


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's: a tenth of the time, the same data


def _load_yaml(path: Path) -> dict:
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def _validate(model: type[BaseModel], path: Path, data: dict) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"{path.name}: {key}: {err['msg']}")
        raise ConfigError("invalid configuration\n  " + "\n  ".join(lines)) from None


def load_config(config_dir: Path | str | None = None) -> AppConfig:
    """Load and validate ``district.yaml``, ``rules.yaml``, ``headers.yaml`` and ``sources.yaml``.

    ``config_dir`` may also be the path of one of those files (its folder is used).
    """
    path = Path(config_dir) if config_dir else DEFAULT_CONFIG_DIR
    if path.is_file():
        path = path.parent
    district = _validate(District, path / "district.yaml", _load_yaml(path / "district.yaml"))
    rules = _validate(Rules, path / "rules.yaml", _load_yaml(path / "rules.yaml"))
    missing = REQUIRED_RULES - set(rules.rules)  # type: ignore[attr-defined]
    if missing:
        raise ConfigError(f"rules.yaml: rules: missing rule(s) {', '.join(sorted(missing))}")
    headers = _validate(Headers, path / "headers.yaml", _load_yaml(path / "headers.yaml"))
    sources_path = path / "sources.yaml"
    sources = _validate(Sources, sources_path, _load_yaml(sources_path)) if sources_path.exists() else Sources()
    return AppConfig(config_dir=path, district=district, rules=rules, headers=headers, sources=sources)


BUILT_KEPT = 4  # configs whose lookups a process keeps: a worker running many districts' nights keeps the latest


def built_for(cache: dict, cfg: "AppConfig", build):
    """``build(cfg)``, made once per config object and kept in ``cache`` (lookups every row of a night uses); only
    the ``BUILT_KEPT`` latest configs' are kept, so a process that runs district after district does not grow."""
    entry = cache.get(id(cfg))
    if entry is None or entry[0] is not cfg:
        entry = (cfg, build(cfg))
        cache.pop(id(cfg), None)
        while len(cache) >= BUILT_KEPT:
            cache.pop(next(iter(cache)))  # the oldest (dicts keep insertion order)
        cache[id(cfg)] = entry
    return entry[1]

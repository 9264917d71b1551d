"""Seeded generator of a sample province: Lạng Sơn's Hữu Lũng (the bundled sample district, the project's
``config/``) plus small generated districts of the same province.

A generated district's config folder is the project's config (rules, headers, sources, linkage model) with its own
``district.yaml``: the district and its first communes, wards and townships with their official codes from
``vietnamadminunits``; schools (one TH and one THCS per commune), villages and enrolment are SAMPLE values. Its
student lists, donations and coverage are drawn by ``samples.generate`` from that config: invented children, no
personal data of real people.

    python -m samples.province --out samples/lang-son [--districts 187:3,189:2] [--scale 0.05] [--seed 2021]

writes ``OUT/province.yaml`` and, per district, ``OUT/<code>-<slug>/config/`` (generated districts only) and
``OUT/<code>-<slug>/sources/``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
from pathlib import Path

import yaml

from flows.config import DEFAULT_CONFIG_DIR, load_config
from flows.province.config import official_communes, official_districts, province_of, slug

PROVINCE_CODE = "20"
HOME_DISTRICT = "186"  # Hữu Lũng: the bundled sample district (config/)
_VILLAGES = ["Thôn Đồng Tâm", "Thôn Nà Pàn", "Thôn Khuôn Vèn", "Thôn Đoàn Kết", "Thôn Pác Lạng",
             "Thôn Hợp Thành", "Thôn Làng Giữa", "Thôn Còn Quan", "Thôn Bó Đà", "Thôn Khòn Pá"]
_TYPE = {"Xã": "commune", "Thị trấn": "township", "Phường": "commune"}  # a ward is a commune-level unit


def district_config(dest: Path, code: str, communes: int | None, seed: int = 2021,
                    province_code: str = PROVINCE_CODE, enrolment: float = 1.0) -> Path:
    """Write a config folder for district ``code`` of ``province_code`` (``NATION``: any district of the country)
    with its first ``communes`` official communes (None: all of them); ``enrolment`` multiplies each school's
    drawn enrolment (60 to 120 a grade), which the generator's list sizes follow."""
    names = official_districts(province_code)
    if code not in names:
        raise ValueError(f"{code} is not a district of province {province_code}")
    units = official_communes(code)[:communes]
    rng = random.Random(f"{seed}-{code}")
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(DEFAULT_CONFIG_DIR, dest, ignore=shutil.ignore_patterns("province"))  # a district, not the province
    district = yaml.safe_load((dest / "district.yaml").read_text(encoding="utf-8"))
    name = names[code]
    short = name
    for prefix in ("Thành phố ", "Thị xã ", "Huyện ", "Quận "):
        short = short.removeprefix(prefix)
    home_code, home_name = province_of(code)
    district["district"].update(name=name, short_name=short, code=code, place_name=short,
                                parent_unit=f"UBND {name.upper()}", province=home_name, province_code=home_code)
    district["communes"] = [{"code": c, "name": n, "type": _TYPE.get(t, "commune"),
                             "villages": sorted(rng.sample(_VILLAGES, 4))} for c, n, t in units]
    schools = []
    for c, n, _ in units:
        place = n.split(" ", 1)[1] if n.startswith(("Xã ", "Phường ")) else n
        schools.append({"code": f"TH-{c}", "name": f"Trường TH {place}", "level": "TH", "commune": c,
                        "enrolment": {g: round(rng.randint(60, 120) * enrolment) for g in range(1, 6)}})
        schools.append({"code": f"THCS-{c}", "name": f"Trường THCS {place}", "level": "THCS", "commune": c,
                        "enrolment": {g: round(rng.randint(60, 120) * enrolment) for g in range(6, 10)}})
    district["schools"] = schools
    (dest / "district.yaml").write_text(yaml.safe_dump(district, allow_unicode=True, sort_keys=False),
                                        encoding="utf-8")
    sources = yaml.safe_load((dest / "sources.yaml").read_text(encoding="utf-8"))
    sources["local"]["default_dir"] = None
    (dest / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True, sort_keys=False),
                                       encoding="utf-8")
    load_config(dest)  # a generated config must load like any other
    return dest


def build_province(out: Path, districts: dict[str, int], scale: float = 0.05, seed: int = 2021,
                   home_sources: Path | None = None) -> Path:
    """Write a sample province under ``out``: ``districts`` maps a district code to how many of its communes are
    generated (Hữu Lũng, 186, uses the project's config/ whole: its value is ignored). ``home_sources``: Hữu Lũng's
    sources as they are (default: generated at ``scale``). Returns the path of ``province.yaml``."""
    from samples.generate import generate

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = official_districts(PROVINCE_CODE)
    entries = []
    for code, name in names.items():
        entry: dict = {"code": code, "name": name}
        if code in districts:
            folder = out / f"{code}-{slug(name)}"
            sources = folder / "sources"
            if code == HOME_DISTRICT:
                config = DEFAULT_CONFIG_DIR
                if home_sources is None:
                    generate(sources, seed=seed, scale=scale, config_dir=config)
                else:
                    sources = home_sources
            else:
                config = district_config(folder / "config", code, districts[code], seed)
                generate(sources, seed=seed + int(code), scale=scale, config_dir=config)
            entry["config"] = _relative(config, out)
            entry["sources"] = _relative(sources, out)
        entries.append(entry)
    province = {
        "province": {"name": "Tỉnh Lạng Sơn", "code": PROVINCE_CODE, "issuing_unit": "SỞ GIÁO DỤC VÀ ĐÀO TẠO",
                     "parent_unit": "UBND TỈNH LẠNG SƠN", "place_name": "Lạng Sơn"},
        "dask": {"address": None, "n_workers": 2, "threads_per_worker": 1},
        "districts": entries,
    }
    path = out / "province.yaml"
    path.write_text(yaml.safe_dump(province, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _relative(path: Path, start: Path) -> str:
    import os

    return os.path.relpath(Path(path).resolve(), Path(start).resolve())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m samples.province", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("samples/lang-son"))
    ap.add_argument("--districts", default="186:0,187:4,189:3",
                    help="code:communes,... (186 = Hữu Lũng, the bundled sample district, whole)")
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=2021)
    args = ap.parse_args(argv)
    districts = {code: int(n) for code, n in (part.split(":") for part in args.districts.split(","))}
    path = build_province(args.out, districts, args.scale, args.seed)
    print(f"Sample province written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

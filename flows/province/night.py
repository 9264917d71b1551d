"""One district's night inside a province night: the district's own ``run_night`` (its config, sources, ledger
and output folder ``OUT/<code>-<slug>/``), so it publishes exactly what ``songmaytinh run`` would for that
district alone; what comes back is a small summary for the province workbook (counts and ids, no personal data),
never the district's frames.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from flows.province.config import LoadedProvince, ProvinceDistrict, load_province

log = logging.getLogger(__name__)

GIVEN = ("allocated", "handed_over")  # as flows.publishing.prepared counts them
WAITING = ("waitlisted", "no_coverage")


def district_night(province_file: str, code: str, out_dir: str, as_of: str | None = None, step=None) -> dict:
    """Run district ``code``'s night; returns its summary (``status`` ``ok`` or ``failed`` with the error's type
    and place: one district failing never stops the others). ``step``: the stage runner (``run_night``'s)."""
    from flows.failures import classify

    province = load_province(province_file)
    district = next(d for d in province.province.districts if d.code == code)
    out_root = Path(out_dir) / province.folder_name(district)
    day = dt.date.fromisoformat(as_of) if as_of else None
    try:
        return _run(province, district, out_root, Path(out_dir), day, step)
    except Exception as exc:  # type and place only: a message may quote a school's cell
        failure = classify("night", exc)
        log.error("district %s: night failed: %s", code, failure.describe())
        return {"code": code, "name": district.name, "folder": province.folder_name(district), "status": "failed",
                "failure": failure.describe()}


def _run(province: LoadedProvince, district: ProvinceDistrict, out_root: Path, out_dir: Path,
         day: dt.date | None, step) -> dict:
    from flows.pipeline import TimedSteps, run_night

    cfg = province.district_config(district)
    sources = province.sources_dir(district, cfg)
    runner = None if step is None else step(cfg)
    kwargs = {} if runner is None else {"step": runner}
    result, run_dir = run_night(sources, cfg, out_root, day, province.ledger_url(district, out_dir), **kwargs)
    log.info("district %s: run %s published (%d persons)", district.code, result.run_id,
             result.counts.get("persons", 0))
    summary = summarise(district, province.folder_name(district), cfg, result, run_dir)
    if isinstance(runner, TimedSteps):
        summary["stage_seconds"] = {k: round(v, 3) for k, v in runner.seconds.items()}
    return summary


def summarise(district: ProvinceDistrict, folder: str, cfg, result, run_dir: Path) -> dict:
    """The figures the province workbook shows for one district (counts only)."""
    al = result.allocations
    need, status = al["need"], al["status"]
    phase = cfg.district.phase_for(result.as_of)
    enrolment = sum(sum(s.enrolment.values()) for s in cfg.district.schools)
    return {
        "code": district.code, "name": district.name, "folder": folder, "status": "ok",
        "run_id": result.run_id, "run_dir": str(run_dir), "as_of": result.as_of.isoformat(),
        "counts": dict(result.counts),
        "communes": len(cfg.district.communes), "schools": len(cfg.district.schools), "enrolment": enrolment,
        "devices_given": int(((need == "device") & status.isin(GIVEN)).sum()),
        "internet_given": int(((need == "internet") & status.isin(GIVEN)).sum()),
        "unmet_internet": int(((need == "internet") & status.isin(WAITING)).sum()),
        "phase": phase.name if phase else None,
        "device_sets_target": phase.device_sets_target if phase else None,
        "internet_share_target": phase.internet_share_target if phase else None,
    }


def internet_share(summary: dict) -> float | None:
    """Estimated share of grade 1-9 students with internet, as the district workbook computes it:
    (enrolment - children still waiting for internet) / enrolment."""
    enrolment = summary.get("enrolment") or 0
    if not enrolment:
        return None
    return max(enrolment - summary.get("unmet_internet", 0), 0) / enrolment

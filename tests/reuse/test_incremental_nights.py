"""Incremental nights give what full nights give: several nights in a row on one district, each run twice (reusing
what did not change, and ``full``), compared export by export and workbook cell by cell; and what a change to a
school's list, the config, the rules or the linkage model invalidates."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
import yaml

from flows.bench import change_one_school
from flows.config import load_config
from flows.pipeline import run_night
from tests.compare_runs import differences
from tests.nights import AS_OF, config_copy, tiny_district

DAY = dt.date.fromisoformat(AS_OF)


def _reuse(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))["reuse"]


def _reused(report: dict, area: str) -> int:
    return len(report["areas"].get(area, {}).get("reused", {}))


def _rebuilt(report: dict, area: str) -> int:
    return report["areas"].get(area, {}).get("rebuilt", 0)


# the nights of the fixture: (days after DAY, what the night is)
NIGHTS = ((0, "first"), (1, "the same lists the next day"), (1, "a rerun of that day"),
          (2, "one school's list changed"), (2, "the same lists again that day"))


# the tests share module fixtures (whole nights): one xdist worker runs them all, and the nights once
pytestmark = pytest.mark.xdist_group("incremental-nights")


@pytest.fixture(scope="module")
def nights(tmp_path_factory, cfg):
    """Five nights over one district (``NIGHTS``), incremental (``inc``) and full (``full``) side by side: the
    first, the same lists the next day, again that same day (a rerun), one school's list changed the day after,
    then those lists again that day (only the change log differs from the night before)."""
    base = tmp_path_factory.mktemp("incremental")
    src = tiny_district(base / "src", schools=6, communes=2)
    assert list((src / "truong").glob("*.xlsx")), "the tiny district needs a school workbook to change"
    runs = []
    for n, (days, _) in enumerate(NIGHTS):
        if n == 3:
            change_one_school(src)
        day = DAY + dt.timedelta(days=days)
        _, inc = run_night(src, cfg, base / "inc", day)
        _, full = run_night(src, cfg, base / "full", day, full=True)
        runs.append((inc, full, differences(inc, full)))
    return {"base": base, "src": src, "runs": runs}


def test_every_night_publishes_what_a_full_night_publishes(nights):
    for n, (inc, full, found) in enumerate(nights["runs"], 1):
        assert found == [], f"night {n}: {found}"
        for csv in sorted((full / "exports").glob("*.csv")):
            assert (inc / "exports" / csv.name).read_bytes() == csv.read_bytes(), f"night {n}: {csv.name}"


def test_a_full_night_reuses_nothing(nights):
    for _, full, _ in nights["runs"]:
        report = _reuse(full)
        assert report["full"] is True
        assert all(not r["reused"] for r in report["areas"].values())
        assert _rebuilt(report, "layout") > 0 and _rebuilt(report, "linkage") >= 1


def test_an_unchanged_night_reuses_every_source_the_validation_and_the_partition(nights):
    first, second, third = (_reuse(inc) for inc, _, _ in nights["runs"][:3])
    sources = _rebuilt(first, "layout")
    assert sources > 0 and _reused(first, "layout") == 0
    for report in (second, third):
        assert _reused(report, "files") == sources and _rebuilt(report, "files") == 0  # not parsed again
        assert _reused(report, "layout") == sources and _rebuilt(report, "layout") == 0
        assert _rebuilt(report, "normalize") == 0 and _reused(report, "normalize") > 0
        assert _reused(report, "validate") == 1 and _rebuilt(report, "validate") == 0
        assert _rebuilt(report, "linkage") == 0
    # the first night reserved new ids: its assignment is kept only settled (``flows.reuse.linkage``). The second
    # night's ledger holds the first night's links and allocations, and links each record to the id the first
    # night gave it: the settled assignment is taken whole, and so on the third night, whatever the ledger holds
    first_night = nights["runs"][0][0].name
    assert _rebuilt(first, "dedupe") == 1 and _reused(first, "dedupe") == 0
    for report in (second, third):
        assert report["areas"]["dedupe"] == {"reused": {"settled": first_night}, "rebuilt": 0}
        assert _rebuilt(report, "persons") == 0
    # each piece says the night it was computed on
    assert set(second["areas"]["layout"]["reused"].values()) == {nights["runs"][0][0].name}
    assert set(third["areas"]["layout"]["reused"].values()) == {nights["runs"][0][0].name}


def _units(run_dir: Path) -> list[str]:
    return sorted(p.relative_to(run_dir).as_posix() for part in ("communes", "schools")
                  for p in (run_dir / part).iterdir())


def test_a_rerun_of_the_same_day_links_the_workbooks_of_the_night_before(nights):
    """The district workbook prints tonight's date and change log: only a night with the same date and the same
    result can link it. The commune and school workbooks are linked whenever their content is unchanged."""
    (first, _, _), (second, _, _), (third, _, _) = nights["runs"][:3]
    report = _reuse(third)
    # each unit workbook says the run that first published its content: the first night
    assert report["areas"]["workbooks"]["reused"] == {"district": second.name, **{u: first.name for u in _units(third)}}
    # the allocator's answer too: the same lists and the same ledger state, whose answer the first night computed
    # ahead, once its allocations were recorded
    assert report["areas"]["allocation"]["reused"] == {"allocate": first.name}
    for part in ("district", "communes", "schools"):
        linked = [p for p in (third / part).iterdir()]
        assert linked and all(p.stat().st_ino == (second / part / p.name).stat().st_ino for p in linked), part


def test_the_night_after_an_allocation_takes_the_answer_computed_ahead_for_it(nights):
    """The night after a night that allocated reads that night's allocations from the ledger: an answer of its own
    (no change log), which the night before computed once its allocations were recorded. So it allocates nothing,
    and still publishes what a full night publishes (``found == []``)."""
    for before, after in ((0, 1), (3, 4)):
        (allocated, _, _), (quiet, _, found) = nights["runs"][before], nights["runs"][after]
        assert found == []
        assert _reuse(allocated)["areas"]["allocation"] == {"reused": {}, "rebuilt": 2}  # tonight's, the next's
        assert _reuse(quiet)["areas"]["allocation"] == {"reused": {"allocate": allocated.name}, "rebuilt": 0}
    # the quiet night's change log is its own, not the night before's (which allocated everything)
    first, second = (nights["runs"][n][0] for n in (0, 1))
    assert len((first / "exports" / "changes.csv").read_text(encoding="utf-8").splitlines()) > 1
    assert len((second / "exports" / "changes.csv").read_text(encoding="utf-8").splitlines()) == 1


def test_a_night_whose_lists_did_not_change_links_the_commune_and_school_workbooks(nights):
    """The night after a change, on the same day: only the change log differs, which only the district workbook
    shows; the commune and school workbooks are linked, and the result is still a full night's."""
    (first, _, _), (changed, _, _), (quiet, _, found) = nights["runs"][0], nights["runs"][3], nights["runs"][4]
    assert found == []
    report = _reuse(quiet)
    rewritten = set(_reuse(changed)["areas"]["workbooks"]["reused"]) ^ set(_units(changed)) - {"district"}
    assert rewritten and report["areas"]["workbooks"]["reused"] == {
        u: changed.name if u in rewritten else first.name for u in _units(quiet)}
    # the frames the district workbook is written from are that night's: the lists did not change
    assert report["areas"]["prepared"]["reused"] == {"prepared": changed.name}
    assert _rebuilt(_reuse(changed), "prepared") == 1
    assert report["areas"]["workbooks"]["rebuilt"] == 1  # the district workbook: its change log is tonight's
    assert (quiet / "exports" / "changes.csv").read_bytes() != (changed / "exports" / "changes.csv").read_bytes()
    for part in ("communes", "schools"):
        linked = [p for p in (quiet / part).iterdir()]
        assert linked and all(p.stat().st_ino == (changed / part / p.name).stat().st_ino for p in linked), part
    district = next((quiet / "district").iterdir())
    assert district.stat().st_ino != (changed / "district" / district.name).stat().st_ino


def test_the_next_day_unchanged_states_the_date_of_its_data_and_the_district_tonights(nights):
    """A quiet night on a new day rewrites no commune or school workbook: each still states the night its data was
    first published (its date, its run), and the manifest says tonight checked it; the district workbook carries
    tonight's date. A full night that day writes them all, stating the same date (``found == []``)."""
    from tests.publishing.night import strings

    (first, _, _), (second, full, found) = nights["runs"][:2]
    assert found == []
    assert _rebuilt(_reuse(second), "workbooks") == 1  # the district workbook alone
    manifest = json.loads((second / "manifest.json").read_text(encoding="utf-8"))
    entries = manifest["unit-workbooks"]
    assert sorted(entries) == _units(second) and manifest["as_of"] == (DAY + dt.timedelta(days=1)).isoformat()
    assert {(e["data_as_of"], e["run_id"]) for e in entries.values()} == {(DAY.isoformat(), first.name)}
    # the full night's chain is its own (its runs): the same keys and dates
    same = lambda es: {rel: (e["key"], e["data_as_of"]) for rel, e in es.items()}  # noqa: E731
    assert same(json.loads((full / "manifest.json").read_text(encoding="utf-8"))["unit-workbooks"]) == same(entries)
    school = second / _units(second)[-1]
    assert any(f"{DAY:%d/%m/%Y}" in s for s in strings(school))
    assert not any(f"{DAY + dt.timedelta(days=1):%d/%m/%Y}" in s for s in strings(school))
    assert any(f"{DAY:%d/%m/%Y}" in s for s in strings(full / school.relative_to(second)))  # written, same date
    district = next((second / "district").iterdir())
    assert any(f"{DAY + dt.timedelta(days=1):%d/%m/%Y}" in s for s in strings(district))


def test_csv_exports_whose_frame_did_not_change_are_linked_and_the_change_log_is_written(nights):
    """Each export is keyed by the one frame it writes: the night after a change (same day, same lists) links the
    students, issues and allocations and writes its own change log; a rerun links them all."""
    (changed, _, _), (quiet, _, _) = nights["runs"][3], nights["runs"][4]
    same = lambda a, b, name: (a / "exports" / name).stat().st_ino == (b / "exports" / name).stat().st_ino  # noqa: E731
    report = _reuse(quiet)["areas"]["exports"]
    assert {"students.csv", "issues.csv", "allocations.csv"} <= set(report["reused"])
    assert {report["reused"][n] for n in ("students.csv", "allocations.csv")} == {changed.name}
    assert all(same(quiet, changed, n) for n in ("students.csv", "issues.csv", "allocations.csv"))
    assert not same(quiet, changed, "changes.csv") and "changes.csv" not in report["reused"]
    (second, _, _), (third, _, _) = nights["runs"][1:3]
    assert _rebuilt(_reuse(third), "exports") == 0
    assert all(same(third, second, p.name) for p in (second / "exports").glob("*.csv"))
    for _, full, _ in nights["runs"]:  # a full night writes every one
        assert _reused(_reuse(full), "exports") == 0 and _rebuilt(_reuse(full), "exports") == 7


def test_one_changed_school_list_is_laid_out_again_alone(nights):
    report = _reuse(nights["runs"][3][0])
    sources = _rebuilt(_reuse(nights["runs"][0][0]), "layout")
    assert _rebuilt(report, "files") == 1 and _reused(report, "files") == sources - 1
    assert _rebuilt(report, "layout") == 1 and _reused(report, "layout") == sources - 1
    assert _rebuilt(report, "normalize") == 1
    assert _rebuilt(report, "validate") == 1 and _rebuilt(report, "linkage") >= 1
    # the district workbook, the changed school's and its commune's; no other unit's content changed
    changed = set(_units(nights["runs"][3][0])) - set(report["areas"]["workbooks"]["reused"])
    assert _rebuilt(report, "workbooks") == len(changed) + 1
    assert len([u for u in changed if u.startswith("schools/")]) == 1
    assert len([u for u in changed if u.startswith("communes/")]) == 1


def test_the_data_docs_of_the_same_validation_are_linked_whatever_the_day(nights):
    (first, _, _), (second, _, _) = nights["runs"][:2]
    assert _reuse(second)["areas"]["data-docs"]["reused"] == {"all": first.name}
    index = second / "data-docs" / "index.html"
    assert index.is_file() and index.stat().st_ino == (first / "data-docs" / "index.html").stat().st_ino


def _edited_config(dest: Path, file: str, edit) -> Path:  # noqa: ANN001
    folder = config_copy(dest)
    data = yaml.safe_load((folder / file).read_text(encoding="utf-8"))
    edit(data)
    (folder / file).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return folder


@pytest.mark.parametrize("file, edit", [
    ("rules.yaml", lambda r: r.__setitem__("name_max_length", int(r["name_max_length"]) - 1)),
    ("district.yaml", lambda d: d["district"].__setitem__("issuing_unit", "PHÒNG GD&ĐT HUYỆN HỮU LŨNG")),
], ids=["rules", "config"])
def test_a_changed_config_or_rule_rebuilds_the_night_and_gives_a_full_nights_result(nights, tmp_path, file, edit):
    out, src = tmp_path / "out", nights["src"]
    shutil.copytree(nights["base"] / "inc", out, symlinks=True)
    changed = load_config(_edited_config(tmp_path / "config", file, edit))
    _, inc = run_night(src, changed, out, DAY + dt.timedelta(days=4))
    report = _reuse(inc)
    for area in ("layout", "normalize", "validate", "workbooks", "data-docs"):  # files: same bytes, same code
        assert _reused(report, area) == 0 and _rebuilt(report, area) >= 1, area
    shutil.copytree(nights["base"] / "full", tmp_path / "full", symlinks=True)  # the same ledger history
    _, full = run_night(src, changed, tmp_path / "full", DAY + dt.timedelta(days=4), full=True)
    assert differences(inc, full) == []


def test_a_changed_linkage_model_relinks_and_keeps_the_sources(nights, tmp_path, monkeypatch, cfg):
    from flows.linkage import comparisons

    model = json.loads(comparisons.MODEL_PATH.read_text(encoding="utf-8"))
    model["probability_two_random_records_match"] = model["probability_two_random_records_match"] * 0.999
    path = tmp_path / "linkage_model.json"
    path.write_text(json.dumps(model), encoding="utf-8")
    out = tmp_path / "out"
    shutil.copytree(nights["base"] / "inc", out, symlinks=True)
    monkeypatch.setattr(comparisons, "MODEL_PATH", path)
    _, inc = run_night(nights["src"], cfg, out, DAY + dt.timedelta(days=4))
    report = _reuse(inc)
    assert _reused(report, "linkage") == 0 and _rebuilt(report, "linkage") >= 1
    assert _rebuilt(report, "layout") == 0 and _reused(report, "validate") == 1


def test_the_students_export_and_the_rows_as_sent_are_built_again_only_from_other_inputs(nights):
    """Both are kept under what they are made from (``flows.reuse.results``): a night with the same lists takes
    the rows as the schools sent them, and the students export when the persons' statuses and the issues are the
    same too; the night one school's list changed builds both again. Every night still publishes what a full night
    publishes (the first test)."""
    reports = [_reuse(inc) for inc, _, _ in nights["runs"]]
    names = [inc.name for inc, _, _ in nights["runs"]]
    assert reports[0]["areas"]["results"] == {"reused": {}, "rebuilt": 2}
    assert reports[3]["areas"]["results"] == {"reused": {}, "rebuilt": 2}
    for n in (1, 2):
        assert reports[n]["areas"]["results"] == {"reused": {"rows_as_sent": names[0], "students": names[0]},
                                                  "rebuilt": 0}, NIGHTS[n][1]
    assert reports[4]["areas"]["results"] == {"reused": {"rows_as_sent": names[3], "students": names[3]},
                                              "rebuilt": 0}


def test_the_results_keys_change_with_every_input_they_read():
    """The keys' parts: a header a sheet gained or an issue's message changed gives another key."""
    from flows.frames import Issue
    from flows.reuse.fingerprints import headers_fingerprint
    from flows.reuse.results import _issues_fingerprint

    headers = {("a.xlsx", "DS"): {"full_name": "Họ và tên", "dob": "Ngày sinh"}}
    assert headers_fingerprint(headers) == headers_fingerprint({k: dict(v) for k, v in headers.items()})
    assert headers_fingerprint(headers) != headers_fingerprint({("a.xlsx", "DS"): {"full_name": "Họ và tên"}})
    assert headers_fingerprint(headers) != headers_fingerprint({("a.xlsx", "DS2"): headers[("a.xlsx", "DS")]})
    issue = Issue(source_file="a.xlsx", source_sheet="DS", source_row=3, column="Ngày sinh", rule="dob_valid",
                  severity="error", message="Ngày sinh không hợp lệ")
    from dataclasses import replace

    assert _issues_fingerprint([issue]) == _issues_fingerprint([replace(issue)])
    assert _issues_fingerprint([issue]) != _issues_fingerprint([replace(issue, message="khác")])
    assert _issues_fingerprint([issue]) != _issues_fingerprint([replace(issue, source_row=4)])
    assert _issues_fingerprint([issue, issue]) != _issues_fingerprint([issue])

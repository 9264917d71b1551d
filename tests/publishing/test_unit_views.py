"""A commune's or a school's workbook written from its unit's data alone (``Prepared.unit``) is the workbook
written from the whole night, byte for byte: so the key over that data (``flows.reuse.workbooks.UnitKeys``)
covers everything the workbook shows, and another unit's change leaves it alone."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import pytest

from flows.pipeline import run_night
from flows.publishing.commune import write_commune
from flows.publishing.prepared import Stamp, UnitIndex, prepare
from flows.publishing.school import write_school
from flows.reuse.workbooks import UnitKeys
from tests.nights import AS_OF, tiny_district
from tests.publishing.night import make_result

WRITERS = {"commune": write_commune, "school": write_school}


def _with_officer_sheets():
    result = make_result(run_id="officer")
    result.handovers = pd.DataFrame([{"person_id": "P007", "need": "device", "item": "smartphone", "serial": "SN1",
                                      "date": dt.date(2022, 1, 8), "received_by": "Đặng Văn Bố",
                                      "donation_id": "D-003", "source": "ban-giao.xlsx", "run_id": "r"}])
    result.follow_ups = pd.DataFrame([{"person_id": "P007", "need": "device", "item": "smartphone", "serial": "SN1",
                                       "state": "broken", "checked_on": "2022-01-10", "checked_by": "GVCN",
                                       "note": "", "source": "theo-doi.xlsx"}])
    return result


@pytest.fixture(scope="module")
def tiny_night(tmp_path_factory, cfg):
    base = tmp_path_factory.mktemp("unit-views")
    src = tiny_district(base / "src", schools=6, communes=2)
    result, _ = run_night(src, cfg, base / "out", dt.date.fromisoformat(AS_OF))
    return result


@pytest.mark.parametrize("which", ["small", "officer", "tiny"])
def test_a_unit_workbook_from_its_units_data_is_the_one_from_the_whole_night(which, tiny_night, cfg, tmp_path):
    result = {"small": make_result, "officer": _with_officer_sheets, "tiny": lambda: tiny_night}[which]()
    data = prepare(result, cfg)
    units = data.unit_files()
    assert {kind for kind, _, _ in units} == {"commune", "school"}
    for kind, code, rel in units:
        whole, alone = tmp_path / "whole" / rel, tmp_path / "alone" / rel
        WRITERS[kind](data, code, whole)
        WRITERS[kind](data.unit(kind, code), code, alone)
        assert alone.read_bytes() == whole.read_bytes(), rel


def test_a_unit_key_follows_its_own_rows_only(cfg):
    data = prepare(make_result(), cfg)
    day = data.result.as_of
    keys = {rel: UnitKeys(data, cfg, day).key(UnitIndex(data).rows(kind, code))
            for kind, code, rel in data.unit_files()}
    # a child of Yên Bình renamed: Yên Bình's commune workbook and its school's change, Hữu Liên's do not
    result = make_result()
    st = result.students
    st.loc[st["person_id"] == "P007", "full_name"] = "Đặng Thị Dương"
    al = result.allocations
    al.loc[al["person_id"] == "P007", "full_name"] = "Đặng Thị Dương"
    changed = prepare(result, cfg)
    after = {rel: UnitKeys(changed, cfg, day).key(UnitIndex(changed).rows(kind, code))
             for kind, code, rel in changed.unit_files()}
    moved = sorted(rel for rel in keys if keys[rel] != after[rel])
    assert moved == ["communes/06391-xa-yen-binh.xlsx", "schools/TH-06391-th-yen-binh.xlsx"]
    # the date is no part of a unit's content, only its phase facts
    later, index = day + dt.timedelta(days=1), UnitIndex(data)
    assert all(UnitKeys(data, cfg, later).key(index.rows(k, c)) == keys[rel] for k, c, rel in data.unit_files())
    ended = UnitKeys(data, cfg, cfg.district.phases[0].end + dt.timedelta(days=1))
    assert ended.key(index.rows("commune", "06391")) != keys["communes/06391-xa-yen-binh.xlsx"]


def test_a_stamp_changes_only_what_the_workbook_states_about_its_making(cfg, tmp_path):
    data = prepare(make_result(), cfg)
    earlier = Stamp(dt.date(2022, 1, 10), "20220110-020000", dt.datetime(2022, 1, 10, 2, 0))
    view = data.unit("school", "TH-06391")
    assert dataclasses.replace(view.stamped(earlier).result, as_of=view.result.as_of,
                               run_id=view.result.run_id, started_at=view.result.started_at) == view.result
    from tests.publishing.night import strings
    write_school(view.stamped(earlier), "TH-06391", tmp_path / "a.xlsx")
    text = strings(tmp_path / "a.xlsx")
    assert any("10/01/2022" in s for s in text) and not any("15/01/2022" in s for s in text)

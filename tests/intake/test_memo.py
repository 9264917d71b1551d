"""Cell readings are remembered for text cells (flows.text.memo_text and the lru caches of intake): a remembered
reading is the reading, whatever was read before, and values that are equal but of different types (1, 1.0, True,
"1") are never taken for one another."""

from __future__ import annotations

import datetime as dt

import pytest

from flows.intake.cells import display_text
from flows.intake.legacy_fonts import to_unicode
from flows.intake.values import cell_text, clean_name, parse_date, parse_grade, parse_national_id, parse_phone
from flows.text import fold, memo_text

CELLS = [1, 1.0, True, "1", 2012, 2012.0, "2012", 41000, 41000.0, "41000", "05/03/2012", dt.date(2012, 3, 5),
         "  nguyễn  văn AN ", "NguyÔn V¨n §øc", "Nguyeãn Vaên Ñöùc", "0912 345 678", 912345678, "Lớp 3A", "3A", 3, 3.5,
         None, float("nan"), "", " "]


@pytest.mark.parametrize("read", [fold, cell_text, display_text, parse_date, parse_grade, parse_phone,
                                  parse_national_id, clean_name])
def test_a_remembered_reading_is_the_reading_whatever_came_before(read):
    plain = getattr(read, "__wrapped__", None)
    first = [read(v) for v in CELLS]
    again = [read(v) for v in reversed(CELLS)][::-1]
    assert first == again
    if plain is not None:
        assert first == [plain(v) for v in CELLS]


def test_equal_values_of_other_types_are_not_confused():
    assert [fold(v) for v in ("1", 1, 1.0, True)] == ["1", "1", "1 0", "true"]
    assert [cell_text(v) for v in (True, 1, "1")] == ["true", "1", "1"]
    assert parse_date("2012") == ("", 2012) and parse_date(2012.5) != parse_date("2012")
    assert parse_grade(True) is None and parse_grade(1) == 1 and parse_grade("1") == 1


def test_memo_text_remembers_text_only():
    calls = []

    @memo_text
    def read(value):  # noqa: ANN001, ANN202
        calls.append(value)
        return str(value).upper()

    assert [read("a"), read("a"), read(1), read(1)] == ["A", "A", "1", "1"]
    assert calls == ["a", 1, 1]
    assert read.cache_info().hits == 1


def test_legacy_text_read_the_same_from_the_cache():
    assert to_unicode("NguyÔn V¨n §øc") == "Nguyễn Văn Đức" == to_unicode("NguyÔn V¨n §øc")
    assert to_unicode(None) is None and to_unicode("") == ""

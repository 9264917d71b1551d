"""Values: one cell as a school writes it becomes a typed value (dates, grades, phones, sex, categories, yes/no
marks, names, amounts, kinds), read directly and in the normalized students and donations frames."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pandas as pd
import pytest

from flows.config import load_config
from flows.intake.legacy_fonts import encode
from flows.intake.normalize import normalize_donations
from flows.intake.values import parse_amount, parse_date, parse_grade, parse_phone
from tests.intake.builders import raw_table, student


@pytest.fixture(scope="module")
def cfg():
    return load_config()


@pytest.mark.parametrize(("value", "iso", "year"), [
    (dt.datetime(2012, 9, 5), "2012-09-05", 2012),
    (dt.date(2012, 9, 5), "2012-09-05", 2012),
    (pd.Timestamp("2012-09-05"), "2012-09-05", 2012),
    (41157, "2012-09-05", 2012),  # Excel serial number
    (41157.0, "2012-09-05", 2012),
    (41157.75, "2012-09-05", 2012),
    ("41157", "2012-09-05", 2012),  # a serial that arrived as text
    (59, "1900-02-28", 1900),  # before Excel's phantom 29 February 1900
    (61, "1900-03-01", 1900),
    ("05/09/2012", "2012-09-05", 2012),
    ("5/9/2012", "2012-09-05", 2012),
    (" 05 / 09 / 2012 ", "2012-09-05", 2012),
    ("5-9-12", "2012-09-05", 2012),
    ("05-09-2012", "2012-09-05", 2012),
    ("5.9.2012", "2012-09-05", 2012),
    ("2012-09-05", "2012-09-05", 2012),
    ("2012/9/5", "2012-09-05", 2012),
    ("05092012", "2012-09-05", 2012),
    ("20120905", "2012-09-05", 2012),  # year first, as FEBRL and many registers write it
    ("5-Sep-2012", "2012-09-05", 2012),
    ("Sep 5, 2012", "2012-09-05", 2012),
    ("5 September 2012", "2012-09-05", 2012),
    ("September 5th, 2012", "2012-09-05", 2012),
    ("5 Sepx 2012", "", None),
    ("5/9/2012 0:00:00", "2012-09-05", 2012),
    ("ngày 5 tháng 9 năm 2012", "2012-09-05", 2012),
    ("05 tháng 9 năm 2012", "2012-09-05", 2012),  # without "ngày"
    ("Sinh ngày 05 tháng 09 năm 2012", "2012-09-05", 2012),
    ("00/00/2012", "", 2012),  # day and month left as placeholders: the year alone
    ("?/9/2012", "", 2012),
    ("xx/xx/2012", "", 2012),
    ("9/25/2012", "2012-09-25", 2012),  # month first: the only reading that is a date
    ("29/02/2012", "2012-02-29", 2012),
    ("2012", "", 2012),  # a year alone
    (2012, "", 2012),
    (2012.0, "", 2012),
    ("09/2012", "", 2012),
    ("31/02/2012", "", None),
    ("30/13/2012", "", None),
    ("không rõ", "", None),
    ("", "", None),
    (None, "", None),
])
def test_dates(cfg, value, iso, year):
    assert parse_date(value) == (iso, year)
    row = student(cfg, date_of_birth=value)
    assert row["date_of_birth"] == iso
    assert (None if pd.isna(row["birth_year"]) else row["birth_year"]) == year


@pytest.mark.parametrize(("value", "grade"), [
    ("3A", 3), ("3a", 3), ("3 A", 3), ("Lớp 7", 7), ("lớp 6B", 6), ("LỚP 9A1", 9), ("7", 7), (7, 7), (7.0, 7),
    ("7.0", 7), ("Khối 8", 8), ("khối lớp 5", 5), ("6/1", 6), ("6A2", 6), ("10", 10), (12, 12), ("Lớp ba", 3),
    ("lớp Năm", 5), ("Năm", 5), ("lop nam", 5), ("Nam", None), ("nam", None), ("L\u00edp 4", 4),  # TCVN3 "Líp" reads as a Unicode word; the number still counts
    ("III", 3), ("Lớp VI", 6), ("lớp ix", 9), ("XI", 11), ("Lớp V", 5), ("x", None), ("v", None),
    ("abc", None), ("", None), (None, None), (3.5, None), ("Mẫu giáo", None),
    ("Lớp 1 (2021-2022)", 1), ("Lớp 3 (ghép)", 3), ("(3A)", 3),  # a note in brackets
])
def test_grades(cfg, value, grade):
    assert parse_grade(value) == grade
    got = student(cfg, grade=value)["grade"]
    assert (None if pd.isna(got) else got) == grade


@pytest.mark.parametrize(("value", "phone"), [
    ("0912345678", "0912345678"), ("0912 345 678", "0912345678"), ("0912.345.678", "0912345678"),
    ("0912-345-678", "0912345678"), ("(0912) 345678", "0912345678"), ("+84 912 345 678", "0912345678"),
    ("+84912345678", "0912345678"), ("84912345678", "0912345678"), ("912345678", "0912345678"),
    (912345678, "0912345678"), (912345678.0, "0912345678"), ("01662345678", "0362345678"),
    (1662345678, "0362345678"), ("0912345678 / 0987654321", "0912345678"),
    ("0912345678 hoặc 0987654321", "0912345678"), ("ĐT: 0912 345 678", "0912345678"),
    ("02053 845 123", "02053845123"), ("123", "123"), ("", ""), (None, ""), ("không có", ""),
])
def test_phones(cfg, value, phone):
    assert parse_phone(value) == phone
    assert student(cfg, phone=value)["phone"] == phone

@pytest.mark.parametrize(("fields", "sex"), [
    ({"sex": "Nam"}, "M"), ({"sex": "NỮ"}, "F"), ({"sex": "nu"}, "F"), ({"sex": "nữ "}, "F"),
    ({"sex": "Trai"}, "M"), ({"sex": "gái"}, "F"), ({"sex": "?"}, ""), ({"sex": ""}, ""),
    ({"sex_female": "x", "sex_male": ""}, "F"), ({"sex_female": "", "sex_male": "X"}, "M"),
    ({"sex_female": "x", "sex_male": "x"}, ""), ({"sex_female": "", "sex_male": ""}, ""),
    ({"sex_female": "x"}, "F"), ({"sex_female": ""}, "M"),  # only a "Nữ" column: unmarked is a boy
    ({"sex_female": "Nữ"}, "F"), ({"sex": "Nam", "sex_female": "x"}, "M"),
])
def test_sex(cfg, fields, sex):
    assert student(cfg, **fields)["sex"] == sex


@pytest.mark.parametrize(("fields", "category"), [
    ({"category": "Hộ nghèo"}, "poor"), ({"category": "HN"}, "poor"), ({"category": "nghèo"}, "poor"),
    ({"category": "Hộ cận nghèo"}, "near_poor"), ({"category": "cận nghèo"}, "near_poor"),
    ({"category": "HCN"}, "near_poor"), ({"category": "Mồ côi do COVID-19"}, "covid_orphan"),
    ({"category": "Con có bố/mẹ tử vong do Covid"}, "covid_orphan"), ({"category": "Khó khăn"}, "none"),
    ({"category": "Hoàn cảnh khó khăn"}, "none"), ({"category": ""}, "none"),
    ({"category": "Cận nghèo, mồ côi do covid"}, "near_poor"), ({"category": "Hộ nghèo; cận nghèo"}, "poor"),
    ({"category": "Gia đình chính sách"}, "none"),  # unknown text: none, raw kept for a warning
    ({"category": encode("Hộ cận nghèo", "tcvn3")}, "near_poor"),
    ({"category_poor": "x"}, "poor"), ({"category_near_poor": "x"}, "near_poor"),
    ({"category_covid_orphan": "x"}, "covid_orphan"), ({"category_other": "x"}, "none"),
    ({"category_poor": "x", "category_near_poor": "x"}, "poor"),
    ({"category_covid_orphan": "x", "category_near_poor": "x"}, "near_poor"),
    ({"category_covid_orphan": "x", "category_other": "x"}, "covid_orphan"),
    ({"category_poor": "0", "category_near_poor": ""}, "none"),
    ({"category": "Cận nghèo", "category_poor": "x"}, "poor"),
])
def test_categories(cfg, fields, category):
    assert student(cfg, **fields)["category"] == category

@pytest.mark.parametrize(("value", "expected"), [
    ("x", True), ("X", True), (" x ", True), ("có", True), ("1", True), (1, True), (True, True), ("✓", True),
    ("Chưa có", True), ("không", False), ("0", False), (0, False), ("", False),
    (None, False), ("đã có", False), ("Đã có điện thoại", False), ("-", False), (False, False),
])
def test_need_marks(cfg, value, expected):
    row = student(cfg, lacks_device=value, lacks_internet=value)
    assert bool(row["lacks_device"]) is expected
    assert bool(row["lacks_internet"]) is expected


@pytest.mark.parametrize(("value", "name", "parts"), [
    ("Nguyễn Văn An", "Nguyễn Văn An", ("Nguyễn", "Văn", "An")),
    ("NGUYỄN  VĂN   AN", "Nguyễn Văn An", ("Nguyễn", "Văn", "An")),
    ("nguyễn thị ánh", "Nguyễn Thị Ánh", ("Nguyễn", "Thị", "Ánh")),
    ("  Lê Thị Hà. ", "Lê Thị Hà", ("Lê", "Thị", "Hà")),
    ("Hoàng\u00a0Thị  Ngọc Ánh", "Hoàng Thị Ngọc Ánh", ("Hoàng", "Thị Ngọc", "Ánh")),
    (unicodedata.normalize("NFD", "Đặng Thuỳ Dương"), "Đặng Thùy Dương", ("Đặng", "Thùy", "Dương")),  # one tone placement
    ("NguyÔn V¨n §øc", "Nguyễn Văn Đức", ("Nguyễn", "Văn", "Đức")),  # TCVN3
    ("NGUYÔN THÞ H¦¥NG", "Nguyễn Thị Hương", ("Nguyễn", "Thị", "Hương")),  # TCVN3 in .VnTimeH capitals
    ("Nguyeãn Vaên Ñöùc", "Nguyễn Văn Đức", ("Nguyễn", "Văn", "Đức")),  # VNI
    ("Lò", "Lò", ("", "", "Lò")),
    ("Nguyễn Văn An (Tí)", "Nguyễn Văn An", ("Nguyễn", "Văn", "An")),  # a nickname in brackets is no name part
    ("Lê Thị Hà [con ông Ba]", "Lê Thị Hà", ("Lê", "Thị", "Hà")),
    ("(Nguyễn Văn An)", "Nguyễn Văn An", ("Nguyễn", "Văn", "An")),
    ("1. Nguyễn Văn An", "Nguyễn Văn An", ("Nguyễn", "Văn", "An")),  # the row's number typed into the name
    ("Nguyễn Văn An - con ông Ba", "Nguyễn Văn An", ("Nguyễn", "Văn", "An")),  # a note after a dash
    ("", "", ("", "", "")),
])
def test_names(cfg, value, name, parts):
    row = student(cfg, full_name=value)
    assert row["full_name"] == name
    assert unicodedata.is_normalized("NFC", row["full_name"])
    assert (row["family_name"], row["middle_name"], row["given_name"]) == parts


@pytest.mark.parametrize(("value", "amount"), [
    (50000000, 50_000_000), (50000000.0, 50_000_000), ("50.000.000", 50_000_000), ("50,000,000 đ", 50_000_000),
    ("50.000.000 VNĐ", 50_000_000), ("50 000 000", 50_000_000), ("50.000.000,00", 50_000_000),
    ("50 triệu", 50_000_000), ("1,5 tỷ", 1_500_000_000), ("2.5 triệu đồng", 2_500_000), ("500k", 500_000),
    ("", None), (None, None), ("không", None),
])
def test_donation_amounts(cfg, value, amount):
    assert parse_amount(value) == amount
    out = normalize_donations(raw_table("tai-tro", [{"donor": "A", "kind": "Tiền mặt", "amount_vnd": value}]), cfg)
    got = out.iloc[0]["amount_vnd"]
    assert (None if pd.isna(got) else got) == amount


@pytest.mark.parametrize(("kind", "expected"), [
    ("Tiền mặt", "cash"), ("Chuyển khoản", "cash"), ("Ngân sách nhà nước", "budget"), ("Quỹ khuyến học", "budget"),
    ("Máy tính để bàn", "desktop"), ("Laptop", "laptop"), ("Máy tính xách tay Dell", "laptop"),
    ("Máy tính bảng", "tablet"), ("iPad", "tablet"), ("Điện thoại thông minh", "smartphone"),
    ("Gói cước Internet 12 tháng", "internet_package"), ("SIM 4G", "internet_package"), ("Sách vở", ""),
    ("Laptop cũ", "laptop"), ("iPad cũ", "tablet"), ("Smartphone Oppo", "smartphone"), ("Ủng hộ tiền", "cash"),
])
def test_donation_kinds(cfg, kind, expected):
    out = normalize_donations(raw_table("tai-tro", [{"donor": "A", "kind": kind, "quantity": 10}]), cfg)
    assert out.iloc[0]["kind"] == expected



# --- Needs and categories written as text (issue 20) ----------------------------------------------------------
@pytest.mark.parametrize(("fields", "device", "internet"), [
    ({"need": "cần máy tính bảng"}, True, False),
    ({"need": "chưa có mạng"}, False, True),
    ({"need": "không có điện thoại"}, True, False),
    ({"need": "Máy tính + Internet"}, True, True),
    ({"need": "Có điện thoại, chưa có mạng"}, False, True),
    ({"need": "Chưa có máy tính, Internet"}, True, True),  # the verb carries to the next clause
    ({"need": "Laptop; wifi"}, True, True),
    ({"need": "Cả hai"}, True, True),
    ({"need": "Máy tính để học trực tuyến"}, True, False),
    ({"need": "Dùng chung máy với anh"}, False, False),  # cannot be read: layout reports it
    ({"lacks_device": "Chưa có", "lacks_internet": "Đã có"}, True, False),
    ({"lacks_device": "Cần máy tính bảng"}, True, False),
    ({"lacks_device": "Đã có điện thoại", "lacks_internet": "x"}, False, True),
    ({"lacks_device": "chưa có mạng"}, False, True),  # says the Internet, in the device column
    ({"lacks_device": "x; 1"}, True, False),  # two sub-columns of one need
    ({"lacks_device": "không; ✓"}, True, False),
    ({"lacks_device": "√"}, True, False),
    ({"lacks_device": "hỏng máy, không dùng được"}, True, False),
    ({"lacks_device": "abc"}, True, False),  # any other text in a mark column still counts as its mark
    ({"lacks_device": "Không cần"}, False, False),
    ({"need": "không cần máy tính, cần mạng"}, False, True),
    ({"need_in_note": "Cần máy tính bảng"}, True, False),  # a list with no need column: the note
    ({"need_in_note": "Mượn máy của hàng xóm"}, False, False),
])
def test_needs_written_as_text(cfg, fields, device, internet):
    row = student(cfg, **fields)
    assert (bool(row["lacks_device"]), bool(row["lacks_internet"])) == (device, internet)


@pytest.mark.parametrize(("fields", "device", "internet"), [
    # a column asking what the child has ("Có máy tính?"): the other way round from a need column
    ({"has_device": "Có", "has_internet": "Không"}, False, True),
    ({"has_device": "Không", "has_internet": "Có"}, True, False),
    ({"has_device": "Chưa có", "has_internet": "Chưa"}, True, True),  # a verb keeps its meaning
    ({"has_device": "Đã có", "has_internet": "có rồi"}, False, False),
    ({"has_device": "x", "has_internet": "0"}, False, True),  # a bare mark is read the other way round
    ({"has_device": "✓", "has_internet": "-"}, False, True),
    ({"has_device": "Hỏng"}, True, False),  # a broken device is lacking
    ({"has_device": "Không; Có"}, False, False),  # two "has" sub-columns: any that has it wins
    ({"has_device": "Có điện thoại, chưa có mạng"}, False, True),
    ({"has_device": "Máy tính bảng"}, False, False),  # names what the child has
    ({"has_device": "", "has_internet": None}, False, False),  # nothing said
    ({"has_device": "Dùng chung máy với anh"}, False, False),  # cannot be read: layout reports it
    ({"has_device": "Có", "lacks_device": "x"}, True, False),  # a need column still says what is lacking
])
def test_columns_asking_what_the_child_has(cfg, fields, device, internet):
    row = student(cfg, **fields)
    assert (bool(row["lacks_device"]), bool(row["lacks_internet"])) == (device, internet)


@pytest.mark.parametrize(("text", "category"), [
    ("Gia đình thuộc hộ nghèo", "poor"), ("Hộ cận nghèo năm 2021", "near_poor"), ("Bố mất do Covid-19", "covid_orphan"),
    ("Mồ côi cha do dịch Covid", "covid_orphan"), ("Hộ nghèo, mẹ đơn thân", "poor"), ("Không thuộc hộ nghèo", "none"),
    ("Không phải hộ cận nghèo", "none"), ("Đã thoát nghèo", "none"), ("Bố mẹ đi làm ăn xa", "none"),
    ("HCN", "near_poor"), ("Hộ nghèo đa chiều", "poor"),
    ("Cận", "near_poor"), ("hộ CN", "near_poor"), ("H.nghèo", "poor"), ("H. cận nghèo", "near_poor"),  # shorthands
])
def test_category_from_free_text(cfg, text, category):
    assert student(cfg, category=text)["category"] == category


@pytest.mark.parametrize(("value", "iso", "year"), [
    ("Ngày 05/03/2012", "2012-03-05", 2012), ("sinh 05/03/2012", "2012-03-05", 2012),
    ("5/3/2012 (âm lịch)", "2012-03-05", 2012), ("NS: 12/5/2010", "2010-05-12", 2010), ("Năm 2012", "", 2012),
    ("ngày 5 tháng 3", "", None),
])
def test_dates_with_words_around_them(value, iso, year):
    assert parse_date(value) == (iso, year)

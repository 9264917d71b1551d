import pytest

from flows.text import collation_key, fold, name_sort_key, title_name, tone_placement


@pytest.mark.parametrize(("word", "expected"), [
    ("Hoà", "Hòa"), ("HOÀ", "HÒA"), ("Thuỷ", "Thủy"), ("thuý", "thúy"), ("Khoẻ", "Khỏe"), ("Thuỵ", "Thụy"),
    ("Quý", "Quý"), ("Quỳnh", "Quỳnh"), ("Hoàng", "Hoàng"), ("Toàn", "Toàn"), ("Hòa", "Hòa"), ("Huy", "Huy"),
])
def test_tone_placement(word, expected):
    assert tone_placement(word) == expected


def test_title_name_cleans_case_spaces_and_tone_placement():
    assert title_name("  LƯU   THUỲ lam ") == "Lưu Thùy Lam"
    assert title_name("nguye\u0302\u0303n thi\u0323 a\u0301nh") == "Nguyễn Thị Ánh"  # NFD input


def test_fold_is_a_matching_key():
    assert fold("UBND XÃ HỮU LIÊN") == "ubnd xa huu lien"
    assert fold("Thôn/Xóm") == "thon/xom"
    assert fold(None) == ""


def test_vietnamese_order_by_given_then_family_then_middle():
    names = ["Nguyễn Văn Bình", "Trần Thị An", "Lê Ánh", "Lê Anh", "Đỗ Ăn", "Vũ Ân", "Hoàng Văn Đức",
             "Phạm Thị Dung", "Bùi Văn An"]
    assert sorted(names, key=name_sort_key) == [
        "Bùi Văn An", "Trần Thị An", "Lê Anh", "Lê Ánh", "Đỗ Ăn", "Vũ Ân", "Nguyễn Văn Bình", "Phạm Thị Dung",
        "Hoàng Văn Đức"]
    assert collation_key("d") < collation_key("đ") < collation_key("e")


def test_invisible_characters_pasted_from_the_web_are_undone():
    from flows.text import clean_spaces, title_name

    assert clean_spaces("Nguyễn\u200bVăn\u00a0 Hải\ufeff") == "Nguyễn Văn Hải"
    assert title_name("nguyễn\u200bvăn\u200d hải\u00ad") == "Nguyễn Văn Hải"

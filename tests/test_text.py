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


def test_strip_tones_gives_the_long_ways_result_whatever_the_characters():
    """Letters are stripped from a table; text with any other character (a lone mark, a spacing mark, Hangul,
    a compatibility form) is stripped the long way, so the table never changes a result."""
    import unicodedata

    from flows.text import _strip_tones, strip_tones

    texts = ["Đặng Thị Ánh", "Nguyễn Văn Ưng", "ĐỖ HOÀNG", "a\u0301b", "\u0301a", "e\u0308\u0301", "x\u0327\u0301",
             "가나", "\u1100\u1161", "ﬁle", "Å Ω ß", "ǅ", "ḉ", "ऋ\u0903", "İ", "ŉ", "", "plain ascii"]
    texts += [unicodedata.normalize(form, t) for form in ("NFD", "NFKC", "NFKD") for t in texts]
    assert strip_tones("Đặng Thị Ánh") == "Dang Thi Anh"
    for text in texts:
        assert strip_tones(text) == _strip_tones(text), repr(text)

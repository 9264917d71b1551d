"""TCVN3 (ABC, .VnTime) and VNI-Windows text is repaired to Unicode; Unicode, ASCII and foreign text is not touched."""

from __future__ import annotations

import random
import unicodedata

import pytest

from flows.intake.legacy_fonts import TCVN3_ENCODE, VNI_ENCODE, all_letters, detect, encode, to_unicode

LETTERS = all_letters()


def test_the_alphabet_has_134_letters_and_both_tables_cover_it():
    assert len(LETTERS) == len(set(LETTERS)) == 134
    assert all(unicodedata.is_normalized("NFC", ch) and len(ch) == 1 for ch in LETTERS)
    assert set(LETTERS) <= set(TCVN3_ENCODE)
    assert set(LETTERS) <= set(VNI_ENCODE)


def test_vni_codes_are_unique_and_tcvn3_codes_only_shared_by_capitals():
    vni = [VNI_ENCODE[ch] for ch in LETTERS]
    assert len(set(vni)) == len(vni)
    lower = [ch for ch in LETTERS if ch.islower()]
    assert len({TCVN3_ENCODE[ch] for ch in lower}) == len(lower)
    # TCVN3 has capitals only for Ă Â Ê Ô Ơ Ư Đ; the other capitals are typed with the lowercase code points.
    own_capitals = {ch for ch in LETTERS if ch.isupper() and TCVN3_ENCODE[ch] != TCVN3_ENCODE[ch.lower()]}
    assert own_capitals == set("ĂÂÊÔƠƯĐ")
    # Legacy text lives in Latin-1: that is what Excel hands over for a .VnTime / VNI-Times cell.
    assert all(ord(c) <= 0xFF for ch in LETTERS for c in TCVN3_ENCODE[ch] + VNI_ENCODE[ch])


def _word(letter: str) -> str:
    """A well-formed syllable around ``letter``: "đa" for đ, "tỳ" for y (an open syllable), else "t…n"."""
    base = unicodedata.normalize("NFD", letter.lower())[0]
    if letter in "đĐ":
        word = letter + "a"
    elif base == "y":
        word = "t" + letter
    else:
        word = "t" + letter + "n"
    return word if letter.islower() else word.upper()


@pytest.mark.parametrize("letter", LETTERS)
def test_every_letter_with_every_tone_round_trips_through_tcvn3(letter):
    text = f"Nguyễn Văn {_word(letter)}"
    legacy = encode(text, "tcvn3")
    assert legacy != text and legacy.encode("latin-1")
    expected = text
    if letter.isupper() and letter not in "ĂÂÊÔƠƯĐ":
        # a mixed-case cell keeps a toned capital as the lowercase letter it was typed as; names are
        # title-cased later
        expected = text.replace(letter, letter.lower())
    assert to_unicode(legacy) == expected
    assert detect(legacy) == "tcvn3"


@pytest.mark.parametrize("letter", LETTERS)
def test_every_letter_with_every_tone_round_trips_through_vni(letter):
    text = f"Nguyễn Văn {_word(letter)}"
    legacy = encode(text, "vni")
    assert legacy.encode("latin-1")
    assert to_unicode(legacy) == text
    assert detect(legacy) == "vni"


@pytest.mark.parametrize("letter", LETTERS)
def test_an_all_capitals_tcvn3_cell_comes_back_in_capitals(letter):
    text = f"NGUYỄN VĂN {_word(letter).upper()}"
    assert to_unicode(encode(text, "tcvn3")) == text


REAL = [
    ("NguyÔn V¨n §øc", "Nguyễn Văn Đức", "tcvn3"),
    ("TrÇn ThÞ H\u00ad¬ng", "Trần Thị Hương", "tcvn3"),
    ("Hoµng ThÞ Ngäc ¸nh", "Hoàng Thị Ngọc ánh", "tcvn3"),
    ("L\u00adêng V¨n Khuª", "Lường Văn Khuê", "tcvn3"),
    ("§Æng Quèc ViÖt", "Đặng Quốc Việt", "tcvn3"),
    ("N«ng ThÞ YÕn", "Nông Thị Yến", "tcvn3"),
    ("Tr\u00adêng TH H÷u Liªn", "Trường TH Hữu Liên", "tcvn3"),
    ("TR¦êNG TIÓU HäC Y£N B×NH", "TRƯỜNG TIỂU HỌC YÊN BÌNH", "tcvn3"),
    ("Hä vµ tªn", "Họ và tên", "tcvn3"),
    ("Ngµy, th¸ng, n¨m sinh", "Ngày, tháng, năm sinh", "tcvn3"),
    ("Hé nghÌo", "Hộ nghèo", "tcvn3"),
    ("Ch\u00ada cã thiÕt bÞ", "Chưa có thiết bị", "tcvn3"),
    ("Th«n §ång NgÇu", "Thôn Đồng Ngầu", "tcvn3"),
    ("Nguyeãn Vaên Ñöùc", "Nguyễn Văn Đức", "vni"),
    ("Traàn Thò Höông", "Trần Thị Hương", "vni"),
    ("Hoaøng Thò Ngoïc AÙnh", "Hoàng Thị Ngọc Ánh", "vni"),
    ("Löôøng Vaên Khueâ", "Lường Văn Khuê", "vni"),
    ("NGUYEÃN THÒ QUYØNH", "NGUYỄN THỊ QUỲNH", "vni"),
    ("Hoï vaø teân", "Họ và tên", "vni"),
    ("Hoä caän ngheøo", "Hộ cận nghèo", "vni"),
    ("Thoân Ñoàng Ngaàu, xaõ Höõu Lieân", "Thôn Đồng Ngầu, xã Hữu Liên", "vni"),
]


@pytest.mark.parametrize(("legacy", "unicode", "encoding"), REAL)
def test_real_names_and_labels(legacy, unicode, encoding):
    assert detect(legacy) == encoding
    assert to_unicode(legacy) == unicode
    assert encode(unicode, encoding) == legacy or encoding == "tcvn3"  # TCVN3 capitals are lossy


UNTOUCHED = [
    ("Nguyễn Văn Đức", "unicode"), ("Lê Hà", "unicode"), ("Võ Tú", "unicode"), ("Hồ Thị Ánh", "unicode"),
    ("Hoà Bình", "unicode"), ("Đồng Quan", "unicode"), ("TRƯỜNG TH HỮU LIÊN", "unicode"),
    ("Nguyen Van Duc", "ascii"), ("x", "ascii"), ("3A", "ascii"), ("", "ascii"),
    ("Café crème", "unicode"), ("François Müller", "unicode"), ("naïve façade", "unicode"), ("Noël", "unicode"),
    ("Straße", "unicode"), ("São Paulo", "unicode"), ("Zürich", "unicode"), ("Ærø", "unicode"),
    ("Björk Guðmundsdóttir", "unicode"), ("© 2021 Viettel", "unicode"), ("½ giá", "unicode"),
    ("50 µm", "unicode"), ("±5 %", "unicode"), ("Señor Peña", "unicode"), ("déjà vu", "unicode"),
]


@pytest.mark.parametrize(("text", "kind"), UNTOUCHED)
def test_unicode_ascii_and_foreign_text_is_not_touched(text, kind):
    assert to_unicode(text) == text
    assert detect(text) == kind


def test_decomposed_unicode_comes_back_composed_and_unchanged():
    nfd = unicodedata.normalize("NFD", "Nguyễn Thị Ánh")
    assert to_unicode(nfd) == "Nguyễn Thị Ánh"
    assert detect(nfd) == "unicode"


FAMILY = "Nguyễn Trần Lê Phạm Hoàng Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Lường Nông Hà Lục Triệu Mạc Chu Đinh".split()
MIDDLE = "Văn Thị Đức Ngọc Minh Quốc Thu Thanh Hữu Xuân Bảo Gia Khánh Tuấn Mỹ Phương Hải Kim Diệu Thuỳ".split()
GIVEN = ("An Anh Ánh Bình Chi Cường Dũng Duyên Đạt Đức Giang Hà Hải Hạnh Hiếu Hoa Hùng Hương Huyền Khoa Khuê Lan "
         "Linh Loan Long Mai My Nam Nga Ngân Nghĩa Ngọc Nhung Oanh Phúc Quân Quỳnh Sơn Tâm Thảo Thắng Thủy Trang "
         "Trinh Tú Tuyết Uyên Vân Việt Vy Yến Ưng Hiển Diễm Nguyệt Khuyến Huỳnh Ngoãn Trường").split()


def test_generated_names_unicode_never_changes_and_legacy_is_almost_always_repaired():
    rng = random.Random(20211201)
    repaired = {"tcvn3": 0, "vni": 0}
    wrong = {"tcvn3": 0, "vni": 0}
    total = 3000
    for _ in range(total):
        name = " ".join((rng.choice(FAMILY), rng.choice(MIDDLE), rng.choice(GIVEN)))
        if rng.random() < 0.2:
            name = name.upper()
        assert to_unicode(name) == name
        for enc in ("tcvn3", "vni"):
            legacy = encode(name, enc)
            out = to_unicode(legacy)
            if out == name or (enc == "tcvn3" and out.lower() == name.lower()):
                repaired[enc] += 1
            elif out != legacy:
                wrong[enc] += 1  # converted, but to something else
    # A cell whose every legacy word is also a Vietnamese word in Unicode ("Vâ Tó" = "Võ Tú") is left alone:
    # it cannot be told apart per cell. Such cells are rare; a wrong conversion is rarer still.
    assert repaired["tcvn3"] / total > 0.98
    assert repaired["vni"] / total > 0.98
    assert wrong["tcvn3"] + wrong["vni"] <= total * 0.002


def test_non_strings_pass_through():
    assert to_unicode(None) is None  # type: ignore[arg-type]
    assert detect(None) == "ascii"  # type: ignore[arg-type]


def test_one_odd_word_does_not_block_a_cell_that_is_clearly_legacy():
    # "Slín" is a Tày name, not a Vietnamese syllable; the other words prove the cell is TCVN3.
    assert to_unicode("N«ng ThÞ SlÝn") == "Nông Thị Slín"
    # but a single legacy-looking word that is not Vietnamese is not enough
    assert to_unicode("SlÝn") == "SlÝn"


# --- A sheet's evidence decides the cells that are ambiguous alone (issue 20) ---------------------------------
from flows.intake.legacy_fonts import SheetFonts  # noqa: E402

_FAMILY = "Nguyễn Trần Lê Hoàng Vũ Võ Đặng Bùi Đỗ Hồ Ngô Lý Lường Nông Hà Lục Triệu Mạc Chu Vi Lăng Lương Mã Lã Bế Tạ".split()
_MIDDLE = "Văn Thị Đức Ngọc Minh Quốc Thu Thanh Hữu Xuân Kim".split()
_GIVEN = "An Ánh Bình Dũng Hoa Hồng Hương Lan Phúc Quế Sơn Tâm Thảo Thơ Thuý Trinh Tú Vân Ủy Ất Ốc Ớt Ửng Lụa Chi".split()


def _sheet(encoding: str, names: list[str]) -> tuple[SheetFonts, list[list[str]]]:
    header = [encode(h, encoding) for h in ["STT", "Họ và tên", "Ngày sinh", "Lớp", "Thôn", "Chưa có thiết bị"]]
    rows = [header, *[["1", encode(n, encoding)] for n in names]]
    return SheetFonts(rows), rows


@pytest.mark.parametrize("encoding", ["vni", "tcvn3"])
def test_every_name_of_a_legacy_sheet_is_read_in_its_font(encoding):
    from flows.text import title_name

    names = [f"{f} {m} {g}" for f in _FAMILY for m in _MIDDLE for g in _GIVEN]
    fonts, _ = _sheet(encoding, ["Nguyễn Văn An", "Hoàng Thị Mai", "Lường Văn Đức"])
    wrong = [n for n in names if title_name(fonts.read(encode(n, encoding), None, 1)) != title_name(n)]
    assert wrong == []
    alone = [n for n in names if title_name(to_unicode(encode(n, encoding))) != title_name(n)]
    assert alone  # what the sheet's evidence repairs: cells that read wrong on their own


@pytest.mark.parametrize("encoding", ["vni", "tcvn3"])
@pytest.mark.parametrize("case", [str, str.upper])
def test_one_word_cells_of_a_split_name_are_read_in_the_columns_font(encoding, case):
    from flows.text import title_name

    rows = [[encode(case(h), encoding) for h in ["STT", "Họ và tên đệm", "Tên"]]]
    rows += [["1", encode(case(f"{f} Văn"), encoding), encode(case(g), encoding)] for f, g in
             [("Nguyễn", "Hùng"), ("Hoàng", "Hương"), ("Lường", "Đức")]]
    fonts = SheetFonts(rows)
    for word in _GIVEN + _FAMILY:
        assert title_name(fonts.read(encode(case(word), encoding), None, 2)) == title_name(word)


def test_a_vni_phone_header_is_not_read_as_tcvn3():
    fonts, rows = _sheet("vni", ["Bế Kim Hoa", "Chu Thị Trinh", "Hồ Văn Lâm"])
    assert to_unicode(encode("SĐT", "vni")) == "SẸT"  # alone
    assert fonts.read(encode("SĐT", "vni"), 0, 6) == "SĐT"
    assert fonts.read(encode("Số ĐT", "vni"), 0, 7) == "Số ĐT"
    assert [fonts.read(r[1], i, 1) for i, r in enumerate(rows[1:], 1)] == ["Bế Kim Hoa", "Chu Thị Trinh",
                                                                         "Hồ Văn Lâm"]


def test_unicode_cells_of_a_mixed_sheet_are_left_as_they_are():
    rows = [["STT", "Họ và tên", "Thôn"], ["1", encode("Trần Thị Thanh Hằng", "vni"), encode("Pá Ràng", "vni")],
            ["2", encode("Phạm Đức Thuận", "vni"), "Đồng Tuấn"], ["3", "Lò Thị Hà", "Trung Tâm"],
            ["4", "Lê Thái Hòa", "Hòa Bình"]]
    fonts = SheetFonts(rows)
    assert [fonts.read(r[1], i, 1) for i, r in enumerate(rows[1:], 1)] == [
        "Trần Thị Thanh Hằng", "Phạm Đức Thuận", "Lò Thị Hà", "Lê Thái Hòa"]
    assert fonts.read("Trung Tâm", 3, 2) == "Trung Tâm" and fonts.read("Hòa Bình", 4, 2) == "Hòa Bình"


def test_a_unicode_sheet_has_no_legacy_evidence():
    fonts = SheetFonts([["STT", "Họ và tên"], ["1", "Nguyễn Văn Tú"], ["2", "Lê Thái Hòa"], ["3", "Chu Thò"]])
    assert not fonts.legacy
    assert fonts.read("Lê Thái Hòa", 2, 1) == "Lê Thái Hòa" and fonts.read("Chu Thò", 3, 1) == "Chu Thò"

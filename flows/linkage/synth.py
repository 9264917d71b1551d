"""A seeded Vietnamese synthetic set for record linkage, in the ``songmaytinh dedupe`` CSV contract.

Independent of ``samples.generate`` (the nightly fixture): its own name tables and corruptions, so measuring the
linker on it is not measuring it on what it was developed against. Each child gets one to three records as the
school, the commune and a later list would write them: tones stripped, NFD text, "Thị"/"Văn" dropped, Đ->D,
typos in the given, middle and family name, dates in several formats, day/month swapped, one digit mistyped or
only the year, village spelled another way, mistyped or left out, moved school, the guardian's name, phone or
national id mistyped, and a home address (village and commune, or house number and street) on half the rows.
Hard negatives are built in: twins (same family, birthday, guardian, village, class; another given name),
siblings and namesakes (the same full name in the same commune, another birthday and parent).
"""

from __future__ import annotations

import random
import re
import unicodedata

import pandas as pd

from flows.text import strip_tones

FAMILIES = [("Nguyễn", 38), ("Trần", 11), ("Lê", 9), ("Hoàng", 6), ("Phạm", 6), ("Nông", 5), ("Vi", 3),
            ("Lương", 3), ("Đặng", 3), ("Hà", 2), ("Lăng", 2), ("Chu", 2), ("Mông", 2), ("Đinh", 2), ("Bế", 2),
            ("Triệu", 2), ("Lộc", 1), ("Dương", 1), ("Vũ", 1), ("Đỗ", 1)]
MIDDLES = ["", "", "Thu", "Minh", "Ngọc", "Đức", "Thanh", "Hải", "Hồng", "Quang", "Bảo", "Gia", "Khánh", "Anh"]
GIVEN_F = ["Anh", "Ánh", "Hà", "Hoa", "Huyền", "Hương", "Lan", "Linh", "Loan", "Mai", "Ngân", "Nhung", "Phương",
           "Quỳnh", "Thảo", "Thủy", "Thúy", "Trang", "Uyên", "Vân", "Yến", "Diệp", "Hằng", "Hạnh", "Liên", "My",
           "Nga", "Oanh", "Tâm", "Thư", "Vy", "Duyên", "Giang", "Hiền", "Nhi", "Chi"]
GIVEN_M = ["An", "Bình", "Công", "Cường", "Dũng", "Đạt", "Đức", "Hải", "Hiếu", "Hoàng", "Hùng", "Hưng", "Huy",
           "Khánh", "Khoa", "Kiên", "Long", "Lâm", "Minh", "Nam", "Phong", "Phúc", "Quân", "Quang", "Sơn", "Tài",
           "Thắng", "Thành", "Tiến", "Toàn", "Trung", "Tuấn", "Việt", "Vinh", "Vũ", "Duy"]
PARENT_GIVEN = ["Văn Hùng", "Văn Thắng", "Thị Lan", "Thị Hoa", "Văn Bình", "Thị Mai", "Đức Minh", "Văn Tư",
                "Thị Hằng", "Văn Long", "Thị Nga", "Văn Sáu", "Văn Quý", "Thị Thu", "Văn Khải", "Thị Hà"]
VILLAGE_WORDS = ["Đồng", "Bản", "Nà", "Khuôn", "Pác", "Làng", "Thôn", "Cốc", "Nặm", "Khe"]
GENERIC_VILLAGE_WORDS = ["Bản", "Làng", "Thôn", "Khu", "Xóm"]  # "Nà", "Pác", "Khuôn"... belong to the name
VILLAGE_NAMES = ["Mới", "Chùa", "Trung", "Đình", "Riềng", "Sàng", "Lầy", "Cầu", "Tân", "Hòa", "Bắc", "Thượng",
                 "Hạ", "Quan", "Mỏ", "Pheo", "Khoang", "Pò", "Luông", "Bó"]


def _weighted(rng: random.Random, table):
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 3:
        return word
    i = rng.randrange(1, len(word))
    op = rng.choice(["drop", "double", "swap"])
    if op == "drop":
        return word[:i] + word[i + 1:]
    if op == "double":
        return word[:i] + word[i] + word[i:]
    if i < len(word) - 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word


STREETS = ["Lê Lợi", "Trần Phú", "Hùng Vương", "Nguyễn Trãi", "Quang Trung", "Lý Thái Tổ", "Chi Lăng", "Bà Triệu",
           "Hoàng Văn Thụ", "Nguyễn Du"]


def _home(rng: random.Random, village: str, commune: str) -> str:
    """Where a family lives as a list writes it: the village and commune, or (about a quarter, near the town)
    a house number and street."""
    if rng.random() < 0.25:
        return f"Số {rng.randint(1, 200)}, đường {rng.choice(STREETS)}, {village}"
    return f"{village}, {commune}"


def _digit_typo(rng: random.Random, digits: str) -> str:
    """One digit of a number mistyped."""
    if not digits:
        return digits
    i = rng.randrange(len(digits))
    return digits[:i] + rng.choice([d for d in "0123456789" if d != digits[i]]) + digits[i + 1:]


def _date_text(rng: random.Random, y: int, m: int, d: int, style: str) -> str:
    if style == "year":
        return str(y)
    if style == "swap" and d <= 12 and d != m:
        m, d = d, m
    fmt = rng.choice(["iso", "dmy", "dmy0", "dash", "dot"])
    return {"iso": f"{y}-{m:02d}-{d:02d}", "dmy": f"{d}/{m}/{y}", "dmy0": f"{d:02d}/{m:02d}/{y}",
            "dash": f"{d:02d}-{m:02d}-{y}", "dot": f"{d:02d}.{m:02d}.{y}"}[fmt]


def generate(n_children: int, seed: int = 7) -> pd.DataFrame:
    """Records of ``n_children`` children (about 1.6 records each): the contract columns + ``true_person`` +
    ``twin_group`` (the same for a twin and the other twin, the child's own number otherwise)."""
    rng = random.Random(seed)
    n_communes = max(3, n_children // 400)
    communes = [f"Xã {rng.choice(VILLAGE_NAMES)} {k + 1}" for k in range(n_communes)]
    villages = {c: [f"{rng.choice(VILLAGE_WORDS)} {rng.choice(VILLAGE_NAMES)} {v + 1}" for v in range(8)]
                for c in communes}
    schools = {c: [f"Trường TH&THCS {c[3:]} {s + 1}" for s in range(2)] for c in communes}

    children: list[dict] = []

    def child(family: str, sex: str, dob: tuple[int, int, int], guardian: str, commune: str, village: str,
              given: str | None = None, home: str = "") -> dict:
        particle = ("Thị" if sex == "F" else "Văn") if rng.random() < 0.55 else ""
        middle = rng.choice(MIDDLES)
        given = given or rng.choice(GIVEN_F if sex == "F" else GIVEN_M)
        words = [family, particle, middle, given]
        grade = max(1, min(9, 2022 - dob[0] - 6))
        return {"full_name": " ".join(w for w in words if w), "sex": sex, "dob": dob, "guardian": guardian,
                "commune": commune, "village": village, "school": rng.choice(schools[commune]), "grade": grade,
                "address": home,
                "phone": "09" + "".join(rng.choice("0123456789") for _ in range(8)) if rng.random() < 0.5 else "",
                "national_id": "0" + "".join(rng.choice("0123456789") for _ in range(11))
                if rng.random() < 0.3 else ""}

    def new_dob() -> tuple[int, int, int]:
        return rng.randint(2008, 2016), rng.randint(1, 12), rng.randint(1, 28)

    while len(children) < n_children:
        commune = rng.choice(communes)
        village = rng.choice(villages[commune])
        family = _weighted(rng, FAMILIES)
        guardian = f"{family} {rng.choice(PARENT_GIVEN)}"
        # the other parent: a list kept from the household register may name either
        other_parent = f"{_weighted(rng, FAMILIES)} Thị {rng.choice(PARENT_GIVEN)}"
        sex = rng.choice("MF")
        home = _home(rng, village, commune)
        first = child(family, sex, new_dob(), guardian, commune, village, home=home)
        first["other_parent"] = other_parent
        children.append(first)
        roll = rng.random()
        if roll < 0.06:  # twins: same everything a school writes, another given name
            sex2 = rng.choice("MF")
            pool = [g for g in (GIVEN_F if sex2 == "F" else GIVEN_M) if g != first["full_name"].split()[-1]]
            twin = child(family, sex2, first["dob"], guardian, commune, village, given=rng.choice(pool), home=home)
            twin["school"], twin["grade"] = first["school"], first["grade"]
            twin["twin_of"] = len(children) - 1
            twin["other_parent"] = other_parent
            children.append(twin)
        elif roll < 0.14:  # a sibling
            sibling = child(family, rng.choice("MF"), new_dob(), guardian, commune, village, home=home)
            sibling["other_parent"] = other_parent
            children.append(sibling)
        elif roll < 0.20:  # a namesake in the same commune: same full name, another birthday and parent
            elsewhere = rng.choice(villages[commune])
            other = child(family, sex, new_dob(), f"{family} {rng.choice(PARENT_GIVEN)}", commune, elsewhere,
                          home=_home(rng, elsewhere, commune))
            other["full_name"] = first["full_name"]
            children.append(other)

    rows = []
    for pid, c in enumerate(children[:n_children]):
        copies = rng.choices([1, 2, 3], weights=[45, 40, 15])[0]
        for k in range(copies):
            rows.append({**_record(rng, c, pid, corrupt=k > 0, villages=villages, schools=schools),
                         "twin_group": c.get("twin_of", pid)})
    rng.shuffle(rows)
    df = pd.DataFrame(rows)
    df.insert(0, "record_id", [f"R{i:06d}" for i in range(len(df))])
    return df


def _record(rng: random.Random, c: dict, pid: int, corrupt: bool, villages, schools) -> dict:
    name, village, school, grade = c["full_name"], c["village"], c["school"], c["grade"]
    guardian, phone, nid = c["guardian"], c["phone"], c["national_id"]
    address = c["address"] if rng.random() < 0.5 else ""  # not every list asks for it
    y, m, d = c["dob"]
    style = "full"
    sex = {"M": "Nam", "F": "Nữ"}[c["sex"]]
    if corrupt:
        r = rng.random
        if r() < 0.3 and c.get("other_parent"):
            guardian = c["other_parent"]  # the other parent, as the household register has it
        words = name.split()
        if r() < 0.25 and len(words) > 2 and words[1] in ("Thị", "Văn"):
            words.pop(1)  # "Thị"/"Văn" dropped
        if r() < 0.10:
            words[-1] = _typo(rng, words[-1])
        elif r() < 0.08 and len(words) > 2:
            words[1] = _typo(rng, words[1])
        if r() < 0.04:
            words[0] = _typo(rng, words[0])  # the family name mistyped too
        if r() < 0.04:
            words = [words[-1], *words[:-1]]  # the given name written first, as on a form that asks it first
        name = " ".join(words)
        if r() < 0.25:
            name = strip_tones(name)
        if r() < 0.10:
            name = name.replace("Đ", "D").replace("đ", "d")
        if r() < 0.15:
            name = name.upper()
        if r() < 0.15:
            name = unicodedata.normalize("NFD", name)
        style = rng.choices(["full", "swap", "year", "missing"], weights=[75, 10, 10, 5])[0]
        if style == "full" and r() < 0.05:  # one digit of the date mistyped: the day's tens or the year's units
            if r() < 0.5:
                d = min(28, max(1, 10 * rng.choice([t for t in (0, 1, 2) if t != d // 10]) + d % 10))
            else:
                y = y - y % 10 + rng.choice([u for u in range(10) if u != y % 10])
        if r() < 0.3:  # without tones, or under another generic word ("Bản Mới 3" / "Thôn Mới 3" / "Thôn Nà Lầy")
            first, rest = village.split(" ", 1)
            village = strip_tones(village) if r() < 0.5 else (
                f"{rng.choice([w for w in GENERIC_VILLAGE_WORDS if w != first])} {rest}"
                if first in GENERIC_VILLAGE_WORDS else f"Thôn {village}")
        elif r() < 0.08:  # a list without the village
            village = ""
        elif r() < 0.05:
            words = village.split()
            words[1] = _typo(rng, words[1])
            village = " ".join(words)
        if address:
            if r() < 0.3:
                address = strip_tones(address)
            if r() < 0.3:
                address = address.replace("Số ", "").replace("đường", "đ.").replace(",", "")
            if r() < 0.05:  # the house number mistyped
                address = re.sub(r"\d+", lambda mo: _digit_typo(rng, mo.group()), address, count=1)
        if r() < 0.12:  # moved school, next year's list
            others = [s for s in schools[c["commune"]] if s != school]
            school, grade = rng.choice(others), min(9, grade + 1)
        if r() < 0.3:
            guardian = ""
        elif r() < 0.2:
            guardian = strip_tones(guardian)
        elif r() < 0.05:
            guardian = " ".join([*guardian.split()[:-1], _typo(rng, guardian.split()[-1])])
        if r() < 0.5:
            phone = ""
        elif r() < 0.04:
            phone = _digit_typo(rng, phone)
        if r() < 0.5:
            nid = ""
        elif r() < 0.05:
            nid = _digit_typo(rng, nid)
        if r() < 0.3:
            sex = ""
    dob = "" if style == "missing" else _date_text(rng, y, m, d, style)
    return {"full_name": name, "date_of_birth": dob, "sex": sex, "guardian_name": guardian, "commune": c["commune"],
            "village": village, "school": school, "grade": f"Lớp {grade}", "phone": phone, "national_id": nid,
            "address": address, "true_person": pid}

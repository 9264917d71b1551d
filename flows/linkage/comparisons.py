"""Record linkage, step 2: the model, declaratively (Splink settings).

``COMPARISONS`` lists each compared field with its levels, ``BLOCKING_RULES`` the candidate pairs, and
``settings()`` the Splink settings dict; ``load_model`` reads the parameters saved by ``flows.linkage.train``
(``config/linkage_model.json``). The thresholds a night links and reviews at live here too.
"""

from __future__ import annotations

import json
from pathlib import Path


MODEL_PATH = Path(__file__).resolve().parents[2] / "config" / "linkage_model.json"
SEED = 2021
# No m or u probability is ever estimated below this (a level never seen would otherwise be a certainty).
PROBABILITY_FLOOR = 1e-3
SELF_TRAIN_MIN_RECORDS = 1000  # from this many records on, u and m are estimated on the data being linked
TF_MIN_RECORDS = 1000  # name frequencies are taken from the data itself from this many records on
MATCH_THRESHOLD = 0.95  # link at or above
REVIEW_THRESHOLD = 0.30  # an officer looks at pairs between the two
# pairs scored down to this probability are kept as evidence against joining their children (``cluster``)
EVIDENCE_FLOOR = 0.01


# --- The model, declaratively ---------------------------------------------------------------------------------
def _lvl(label: str, sql: str, **extra) -> dict:
    return {"sql_condition": sql, "label_for_charts": label, **extra}


def _null(*cols: str) -> dict:
    return _lvl("missing", " OR ".join(f'"{c}_l" IS NULL OR "{c}_r" IS NULL' for c in cols), is_null_level=True)


ELSE = _lvl("else", "ELSE")


def edits_within(left: str, right: str, k: int = 1) -> str:
    """SQL: the two columns at most ``k`` typing errors apart (Damerau-Levenshtein), with cheap conditions the
    distance implies tested first, so the database computes the distance only for pairs that can pass and every pair
    gets the level the distance alone gives (about three times faster over the pairs a night scores): lengths at most
    ``k`` apart and, for one error in texts of three letters or more, the same first or the same last letter (one
    error changes at most two neighbouring letters, or adds or drops one)."""
    sql = f'abs(length("{left}") - length("{right}")) <= {k}'
    if k == 1:
        sql += (f' AND (length("{left}") < 3 OR length("{right}") < 3 OR left("{left}", 1) = left("{right}", 1) '
                f'OR right("{left}", 1) = right("{right}", 1))')
    return f'{sql} AND damerau_levenshtein("{left}", "{right}") <= {k}'


def dates_within_one_edit(left: str, right: str) -> str:
    """SQL: two dates written "YYYY-MM-DD" one typing error apart. One error in text of ten characters or more leaves
    its first four or its last five whole (the year, or the month and day): that is tested first."""
    return (f'(length("{left}") < 10 OR length("{right}") < 10 OR left("{left}", 4) = left("{right}", 4) '
            f'OR right("{left}", 5) = right("{right}", 5)) AND {edits_within(left, right)}')


# family and given name in each other's place, each up to one typing error ("Stephenson Elizabeth" / "Elizbeth
# Stephenson"), as the hard rule ``_swapped`` allows
SWAPPED_SQL = f'{edits_within("given_l", "family_r")} AND {edits_within("family_l", "given_r")}'

# how many words two addresses share, and how many each has (words are split on spaces; functions that DuckDB and
# Spark SQL both know, so one text of the model serves both backends)
_SHARED_WORDS = 'cardinality(array_intersect(split("address_l", \' \'), split("address_r", \' \')))'
_WORDS = 'cardinality(split("address_{side}", \' \'))'

COMPARISONS = [
    {"output_column_name": "given", "comparison_description": "given name (the most telling part)",
     "comparison_levels": [
         _null("given"),
         _lvl("same, marks agree", '"given_l" = "given_r" AND ("given_marked_l" IS NULL OR "given_marked_r" IS NULL '
              'OR "given_marked_l" = "given_marked_r")', tf_adjustment_column="given", tf_adjustment_weight=1.0),
         # one name written with other marks is as common as the name: the same frequency adjustment as the level
         # above, or a common name's other spelling would outweigh its exact agreement
         _lvl("same letters, different tone", '"given_l" = "given_r"', tf_adjustment_column="given",
              tf_adjustment_weight=1.0),
         _lvl("written in the other order", f'({SWAPPED_SQL}) OR "name_key_l" = "name_key_r"'),
         _lvl("one typo", edits_within("given_l", "given_r")),
         _lvl("similar", 'jaro_winkler_similarity("given_l", "given_r") >= 0.88'),
         # a name of one word may be the family name alone ("Kilby" / "Kilby Josephine")
         _lvl("one word only, the other's family name", '("family_l" IS NULL AND "given_l" = "family_r") '
              'OR ("family_r" IS NULL AND "given_r" = "family_l")'),
         ELSE]},
    {"output_column_name": "family", "comparison_description": "family name",
     "comparison_levels": [
         _null("family"),
         _lvl("same", '"family_l" = "family_r"', tf_adjustment_column="family", tf_adjustment_weight=1.0),
         _lvl("written in the other order", f'({SWAPPED_SQL}) OR "name_key_l" = "name_key_r"'),
         _lvl("one typo", edits_within("family_l", "family_r")),
         ELSE]},
    {"output_column_name": "middle", "comparison_description": "middle name (without Thị/Văn)",
     "comparison_levels": [
         _lvl("both missing", '"middle_l" IS NULL AND "middle_r" IS NULL', is_null_level=True),
         _lvl("same", '"middle_l" = "middle_r"'),
         _lvl("one missing or contained", '"middle_l" IS NULL OR "middle_r" IS NULL '
              'OR contains("middle_l", "middle_r") OR contains("middle_r", "middle_l")'),
         _lvl("one typo", edits_within("middle_l", "middle_r")),
         ELSE]},
    {"output_column_name": "birth", "comparison_description": "date of birth (day/month swap, year alone)",
     "comparison_levels": [
         _lvl("missing", '"birth_year_l" IS NULL OR "birth_year_r" IS NULL', is_null_level=True),
         _lvl("same date", '"dob_l" = "dob_r"'),
         _lvl("day and month swapped", '"dob_l" = "dob_swap_r"'),
         _lvl("one typo in the date", dates_within_one_edit("dob_l", "dob_r")),
         _lvl("same day and month, another year", 'substr("dob_l", 6, 5) = substr("dob_r", 6, 5)'),
         _lvl("only the year known, same year", '("dob_l" IS NULL OR "dob_r" IS NULL) '
              'AND "birth_year_l" = "birth_year_r"'),
         # a list that gives only the year may give the school year's other one
         _lvl("only the year known, a year apart", '("dob_l" IS NULL OR "dob_r" IS NULL) '
              'AND abs("birth_year_l" - "birth_year_r") = 1'),
         ELSE]},
    {"output_column_name": "sex", "comparison_description": "sex",
     "comparison_levels": [_null("sex"), _lvl("same", '"sex_l" = "sex_r"'), ELSE]},
    # guardian, phone and street address say one thing (the same family), not three: siblings share them all, so
    # they are one comparison, or a brother's record would outweigh a different name and birth date
    {"output_column_name": "household", "comparison_description": "family: guardian, phone, street address",
     "comparison_levels": [
         _lvl("missing", '("guardian_l" IS NULL OR "guardian_r" IS NULL) AND ("phone_l" IS NULL OR "phone_r" IS NULL) '
              'AND ("address_l" IS NULL OR "address_r" IS NULL)', is_null_level=True),
         _lvl("same guardian and phone or address", '"guardian_l" = "guardian_r" AND ("phone_l" = "phone_r" '
              'OR "address_l" = "address_r")'),
         _lvl("same guardian, phone or address", '"guardian_l" = "guardian_r" OR "phone_l" = "phone_r" '
              'OR "address_l" = "address_r"'),
         # an address written another way: one house number (or one address leaving it out) and most words shared,
         # in any order (a word mistyped, left out or added); words naming a place alone are the place comparison's
         _lvl("guardian one typo, or similar address", f'({edits_within("guardian_l", "guardian_r")}) '
              'OR jaro_winkler_similarity("address_l", "address_r") >= 0.88 '
              f'OR (("house_l" = "house_r" OR ("house_l" IS NULL) <> ("house_r" IS NULL)) AND 3 * {_SHARED_WORDS} >= 2 * greatest({_WORDS.format(side="l")}, '
              f'{_WORDS.format(side="r")}))'),
         ELSE]},
    {"output_column_name": "place", "comparison_description": "village, else commune",
     "comparison_levels": [
         _lvl("missing", '("village_l" IS NULL OR "village_r" IS NULL) AND ("commune_l" IS NULL OR "commune_r" IS NULL)',
              is_null_level=True),
         _lvl("same village", '"village_l" = "village_r"'),
         _lvl("village one typo away", edits_within("village_l", "village_r")),
         _lvl("same commune, a village unknown", '("village_l" IS NULL OR "village_r" IS NULL) '
              'AND "commune_l" = "commune_r"'),
         _lvl("same commune, another village", '"commune_l" = "commune_r"'),
         ELSE]},
    {"output_column_name": "class", "comparison_description": "school and grade (one up: the next school year)",
     "comparison_levels": [
         _lvl("missing", '("school_l" IS NULL OR "school_r" IS NULL) AND ("grade_l" IS NULL OR "grade_r" IS NULL)',
              is_null_level=True),
         _lvl("same school and grade", '"school_l" = "school_r" AND "grade_l" = "grade_r"'),
         _lvl("same school, grade within one or unknown", '"school_l" = "school_r" AND ("grade_l" IS NULL '
              'OR "grade_r" IS NULL OR abs("grade_l" - "grade_r") <= 1)'),
         _lvl("same grade, a school unknown", '("school_l" IS NULL OR "school_r" IS NULL) AND "grade_l" = "grade_r"'),
         _lvl("grade within one", 'abs("grade_l" - "grade_r") <= 1'),
         ELSE]},
    {"output_column_name": "national_id", "comparison_description": "national id",
     "comparison_levels": [
         _null("national_id"),
         _lvl("same", '"national_id_l" = "national_id_r"'),
         _lvl("one typo", edits_within("national_id_l", "national_id_r")),
         _lvl("two typos", edits_within("national_id_l", "national_id_r", 2)),
         ELSE]},
]

# The comparisons that say who a child is. The others (household, place, class) say which family and school: they
# corroborate an identity and tell namesakes apart, but siblings and cousins share them all, so a pair whose name and
# birth taken alone say "two children" (a negative weight) is never joined, however much its context agrees.
IDENTITY_COMPARISONS = ("given", "family", "middle", "birth", "sex", "national_id")

# Each rule keeps the candidate pairs of one kind of error in reach while a block stays small: "Nguyễn" + a
# common given name across a district is millions of pairs, so the name rules are narrowed by birth year or commune.
BLOCKING_RULES = [
    'l.given = r.given AND l.family = r.family AND l.birth_year = r.birth_year',
    'l.given = r.given AND l.family = r.family AND l.commune = r.commune',
    'l.name_key = r.name_key AND l.birth_year = r.birth_year',
    'l.name_key = r.name_key AND l.commune = r.commune',  # either order, the birth date missing or unreadable
    'l.dob = r.dob AND substr(l.family, 1, 1) = substr(r.family, 1, 1)',
    # the family name mistyped or changed, or written after the given name ("Ánh Nguyễn"): the same date
    # and an initial of the given name, or of the other name in the other's place
    'l.dob = r.dob AND substr(l.given, 1, 1) = substr(r.given, 1, 1)',
    'l.dob = r.dob AND substr(l.family, 1, 1) = substr(r.given, 1, 1)',
    'l.dob = r.dob AND substr(l.given, 1, 1) = substr(r.family, 1, 1)',
    'l.dob = r.dob AND l.commune = r.commune',
    'l.dob = r.dob_swap AND l.family = r.family',
    'l.given = r.given AND l.birth_year = r.birth_year AND l.commune = r.commune',
    'l.family = r.family AND l.birth_year = r.birth_year AND l.commune = r.commune',
    'l.family = r.family AND l.school = r.school AND l.grade = r.grade',
    'l.given = r.given AND l.commune = r.commune',
    # the commune (or postcode) mistyped too: the village alone keeps the family in reach
    'l.family = r.family AND l.village = r.village',
    'l.given = r.given AND l.village = r.village',
    # the same words of a name, whatever else was mistyped (a block too large for a common name is left out)
    'l.name_key = r.name_key',
    # one house: the same village and the address's first word (a house number, a hamlet)
    "l.village = r.village AND split_part(l.address, ' ', 1) = split_part(r.address, ' ', 1)",
    'l.national_id = r.national_id',
    # one digit of the id mistyped leaves one of its halves whole (a half that is a province and birth year,
    # as the first half of a Vietnamese personal id is, is too common a value and is left out by budget)
    'left(l.national_id, length(l.national_id) // 2) = left(r.national_id, length(r.national_id) // 2) '
    'AND length(l.national_id) = length(r.national_id) AND length(l.national_id) >= 6',
    'right(l.national_id, (length(l.national_id) + 1) // 2) = right(r.national_id, (length(r.national_id) + 1) // 2) '
    'AND length(l.national_id) >= 6',
    'l.phone = r.phone',
    'l.address = r.address AND l.commune = r.commune',
    # one house number in one commune (or postcode), the rest of the address written another way
    'l.house = r.house AND l.commune = r.commune',
]
# Exact agreement that counts towards the prior (the probability two random records are the same child)
DETERMINISTIC_RULES = ['l.given = r.given AND l.family = r.family AND l.dob = r.dob',
                       'l.national_id = r.national_id AND l.dob = r.dob']
DETERMINISTIC_RECALL = 0.8


def settings() -> dict:
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": 1e-4,
        "blocking_rules_to_generate_predictions": [{"blocking_rule": r} for r in BLOCKING_RULES],
        "comparisons": COMPARISONS,
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
        "additional_columns_to_retain": [],
    }



def load_model(path: Path | None = None) -> dict:
    path = path or MODEL_PATH
    if not path.exists():
        raise FileNotFoundError(f"{path}: the linkage model is missing; create it with python -m flows.linkage.train")
    return json.loads(path.read_text(encoding="utf-8"))



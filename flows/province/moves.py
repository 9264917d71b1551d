"""Children who moved between districts: after each district's own linkage, one record per district person
(from its published ``exports/students.csv``) is linked across the province with the night's Splink model
(``flows.linkage.clustering.link``) on the province's ``linkage.backend``: DuckDB in this process, or Spark
(``flows.linkage.backends``), which gives the same pairs. A district is one list: two persons of one district are
never joined here (the district's own linkage decided them), so every pair found is across two districts.

The result is a list of candidate pairs for the province officer ("Trẻ có thể đã chuyển huyện"): the same child
supported twice, or listed in two districts. Nothing is merged or released in any district's ledger.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

_IDENTITY = ["person_id", "full_name", "date_of_birth", "sex", "school", "commune", "village", "grade",
             "guardian_name", "phone", "status"]
PAIR_COLUMNS = ["district_a", "person_id_a", "full_name_a", "date_of_birth_a", "school_a", "status_a",
                "district_b", "person_id_b", "full_name_b", "date_of_birth_b", "school_b", "status_b",
                "match_probability", "decision"]


def _persons(code: str, run_dir: Path) -> pd.DataFrame:
    """One row per person of a district's run (the first of its rows), identity columns only."""
    st = pd.read_csv(Path(run_dir) / "exports" / "students.csv", dtype=str, keep_default_na=False,
                     usecols=lambda c: c in _IDENTITY)
    st = st.loc[st["person_id"] != ""].drop_duplicates("person_id").reset_index(drop=True)
    st.insert(0, "district", code)
    return st


def moved_children(runs: list[tuple[str, Path]], backend: str | None = None) -> pd.DataFrame:
    """Candidate pairs across the districts ``runs`` ((code, run folder), in province order): ``decision``
    ``match`` (the model links them) or ``review`` (uncertain, for an officer). ``backend``: where Splink runs
    (``duckdb``, the default, or ``spark``)."""
    from flows.linkage.backends import using
    from flows.linkage.clustering import link
    from flows.linkage.contract import identity_frame

    if len({code for code, _ in runs}) < 2:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    persons = pd.concat([_persons(code, run_dir) for code, run_dir in runs], ignore_index=True)
    if persons["district"].nunique() < 2:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    records = identity_frame(persons)
    records["source_list"] = persons["district"]  # one district, one list: never joined inside it
    with using(backend):
        result = link(records)
    pairs: dict[tuple[int, int], tuple[float | None, str]] = {}
    clusters: dict[int, list[int]] = {}
    for i, label in enumerate(result.labels):
        clusters.setdefault(label, []).append(i)
    for members in clusters.values():
        for x in members:
            for y in members:
                if x < y and persons.at[x, "district"] != persons.at[y, "district"]:
                    pairs[(x, y)] = (None, "match")
    for r in result.review:
        x, y = sorted((int(r["i"]), int(r["j"])))
        if persons.at[x, "district"] != persons.at[y, "district"] and (x, y) not in pairs:
            pairs[(x, y)] = (float(r["match_probability"]), "review")
    rows = []
    for (x, y), (probability, decision) in sorted(pairs.items()):
        a, b = persons.loc[x], persons.loc[y]
        rows.append([a["district"], a["person_id"], a["full_name"], a["date_of_birth"], a["school"], a["status"],
                     b["district"], b["person_id"], b["full_name"], b["date_of_birth"], b["school"], b["status"],
                     probability, decision])
    log.info("province linkage (%s): %d persons of %d districts, %d candidate pairs (%d to review)",
             backend or "duckdb", len(persons), len(runs), len(rows), sum(r[-1] == "review" for r in rows))
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)

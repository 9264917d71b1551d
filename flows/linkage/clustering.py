"""Record linkage, step 4: join scored records into children (``link`` runs steps 1 to 4).

``cluster`` joins records pair by pair, strongest first, never across a hard rule between any two of their
records (except from a record whose given name or date was written wrong, known by the national id it shares
with its child). Pairs in the uncertain band, doubtful pairs, and records that fit two different children
equally well go to the review queue with the reasons, in Vietnamese.
"""

from __future__ import annotations

import gc
import math
from dataclasses import dataclass, field

import pandas as pd

from flows.frames import frame_records
from flows.heap import frozen_while
from flows.linkage.comparisons import (
    COMPARISONS, EVIDENCE_FLOOR, IDENTITY_COMPARISONS, MATCH_THRESHOLD, REVIEW_THRESHOLD,
)
from flows.linkage.features import features
from flows.linkage.rules import cannot_link, mark_list_order
from flows.linkage.scoring import score


@dataclass
class Linkage:
    labels: list[int]  # cluster label per record (the index of the cluster's first record)
    review: list[dict] = field(default_factory=list)  # {"i", "j", "match_probability", "reasons"}
    pairs_scored: int = 0
    model: dict | None = None  # the parameters the pairs were scored with (None when nothing was scored)



def _reasons(row: dict, a: dict | None = None, b: dict | None = None) -> str:
    """Which comparisons agreed and which disagreed, by their match weights in bits (strongest first); with the
    two records, how a birth date or a place agreed ("cùng năm sinh", "ngày/tháng đảo", "cùng xã")."""
    parts = []
    for comp in COMPARISONS:
        name = comp["output_column_name"]
        weight = sum(float(row.get(c) or 0) for c in (f"mw_{name}", f"mw_tf_adj_{name}")
                     if row.get(c) is not None and not (isinstance(row.get(c), float) and math.isnan(row[c])))
        if abs(weight) >= 1:
            said = _agreement(name, a, b) if weight > 0 and a and b else ""
            said = said or f"{_LABELS.get(name, name)} {'khớp' if weight > 0 else 'khác'}"
            parts.append((weight, f"{said} ({weight:+.1f})"))
    parts.sort(key=lambda p: -abs(p[0]))
    return "; ".join(p for _, p in parts)


def _agreement(name: str, a: dict, b: dict) -> str:
    """The words for a birth date or a place that agreed only in part ("" when they agreed in full)."""
    if name == "birth":
        if not (a["dob"] and b["dob"]):
            return "cùng năm sinh (một bản ghi thiếu ngày sinh)"
        if a["dob"] != b["dob"]:
            return "ngày sinh khớp khi đảo ngày/tháng" if a["dob"] == b["dob_swap"] else "ngày sinh lệch một chữ số"
    if name == "place" and a["village"] != b["village"]:
        return "cùng xã (thôn khác cách viết hoặc thiếu)" if a["commune"] and a["commune"] == b["commune"] else ""
    return ""


_LABELS = {"given": "tên", "family": "họ", "middle": "tên đệm", "birth": "ngày sinh", "sex": "giới tính",
           "household": "gia đình (phụ huynh, SĐT, địa chỉ)", "place": "thôn/xã", "class": "trường và lớp",
           "national_id": "số định danh"}



def link(records: pd.DataFrame, model: dict | None = None, *, must_link: list[tuple[int, int]] = (),
         cannot: list[tuple[int, int]] = (), match_threshold: float = MATCH_THRESHOLD,
         review_threshold: float = REVIEW_THRESHOLD, progress=None, train_rows: int | None = None) -> Linkage:
    """Cluster ``records`` (see ``features``) into children.

    ``must_link`` / ``cannot``: record index pairs an officer decided (same / different person); they override
    the model. ``train_rows``: only the first so many records are trained on (tonight's rows: the past recipients
    appended after them repeat earlier nights and would make the model depend on the ledger's history).
    ``progress(step, total)`` is called as the stages complete."""
    tick = progress or (lambda step, total: None)
    with frozen_while():  # the caller's data out of the collector's scans (a night has frozen it already)
        feats = features(records)
        tick(1, 4)
        # pairs well below the review band are scored too: they are the evidence that two children are not one
        pairs = score(feats, model, min_probability=min(review_threshold, EVIDENCE_FLOOR), train_rows=train_rows)
        gc.collect()  # Splink's linkers hold their DuckDB databases in reference cycles: freed now, not at a later peak
        tick(2, 4)
        recs = frame_records(feats.astype(object).where(feats.notna(), None))
        labels, review = cluster(recs, pairs, must_link=must_link, cannot=cannot, match_threshold=match_threshold,
                                 review_threshold=review_threshold)
    tick(3, 4)
    tick(4, 4)
    return Linkage(labels=labels, review=review, pairs_scored=len(pairs), model=pairs.attrs.get("model"))


# a record fits two children "about as well" when its match weights to them are this many bits apart or fewer
TORN_MARGIN = 5.0


def identity_weight(row: dict, comparisons=IDENTITY_COMPARISONS) -> float:
    """The match weight (bits) of a scored pair's identity comparisons alone: name, birth, sex, national id
    (+inf for a pair scored without its comparisons' weights: nothing then speaks against it)."""
    if not any(f"mw_{name}" in row for name in comparisons):
        return math.inf
    total = 0.0
    for name in comparisons:
        for col in (f"mw_{name}", f"mw_tf_adj_{name}"):
            value = row.get(col)
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                total += float(value)
    return total


class _Clusters:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.members = {i: [i] for i in range(n)}

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        keep, gone = min(ra, rb), max(ra, rb)
        self.parent[gone] = keep
        self.members[keep] += self.members.pop(gone)


def cluster(recs: list[dict], pairs: pd.DataFrame, *, must_link=(), cannot=(),
            match_threshold: float = MATCH_THRESHOLD,
            review_threshold: float = REVIEW_THRESHOLD) -> tuple[list[int], list[dict]]:
    """Join records pair by pair, strongest first; never across a cannot-link (hard rule or officer decision).

    Two children are not joined either when two of their records that were scored have names and births that,
    alone, say "two children" (a negative identity weight), unless more of the strong pairs across the two children
    say "one child" than say "two" and, where two *dated* records say "two", the pair joining them is dated on both
    sides: an undated record that fits two children of one class does not make them one, while a pair that says
    "two" with an undated side (an undated "Will" against "William") only votes. A record whose links above the
    threshold lead to two children who cannot be one (an undated "Nguyễn Văn An" in a commune with two of them)
    joins neither: the pairs go to review. Uncertain pairs go to review."""
    n = len(recs)
    uf = _Clusters(n)
    forbidden = {(min(a, b), max(a, b)) for a, b in cannot}
    for a, b in must_link:
        uf.union(a, b)

    def blocked(i: int, j: int, ra: int, rb: int) -> str:
        """Why the children of ``i`` and ``j`` cannot be joined tonight: an officer's decision or a hard rule
        between any two of their records."""
        why = cannot_link(recs[i], recs[j])
        if why:
            return why
        said_against = said_for = dated_against = 0
        for x in uf.members[ra]:
            for y in uf.members[rb]:
                key = (min(x, y), max(x, y))
                if key in forbidden:
                    return "cán bộ đã xác định khác người"
                if key in against:
                    said_against += 1
                    dated_against += bool(recs[x]["dob"] and recs[y]["dob"])
                said_for += key in strong_pairs
                why = cannot_link(recs[x], recs[y])
                if why:
                    return why
        # two records that say "two children": the pairs across the two children vote, so one record mistyped
        # twice does not keep a child's other records apart; and a link through a record without a birth date
        # never outweighs two *dated* records that say so (an undated "Mai" fits two dated namesakes). A pair with an
        # undated side ("Will" / "William", names alone) only votes.
        if said_against >= max(said_for, 1) or (dated_against and not (recs[i]["dob"] and recs[j]["dob"])):
            return "tên và ngày sinh của hai bản ghi cho thấy hai học sinh"
        return ""

    scored = frame_records(pairs) if len(pairs) else []
    against = {(min(int(r["unique_id_l"]), int(r["unique_id_r"])), max(int(r["unique_id_l"]), int(r["unique_id_r"])))
               for r in scored if identity_weight(r) <= 0}
    rows = [r for r in scored if identity_weight(r) > 0 and r["match_probability"] >= review_threshold]
    # strongest first by match weight: probabilities saturate at 1.0, and a tie there would fall back to row order
    rows.sort(key=lambda r: (-float(r.get("match_weight") or 0), -r["match_probability"], r["unique_id_l"],
                             r["unique_id_r"]))
    strong = [r for r in rows if r["match_probability"] >= match_threshold]
    strong_pairs = {(int(r["unique_id_l"]), int(r["unique_id_r"])) for r in strong}
    mark_list_order(recs, sorted(strong_pairs))  # rows next to each other say "one list" only in list order
    # records that fit two children who cannot be one: hold them back
    partners: dict[int, list[int]] = {}
    for r in strong:
        i, j = int(r["unique_id_l"]), int(r["unique_id_r"])
        partners.setdefault(i, []).append(j)
        partners.setdefault(j, []).append(i)
    weight = {(int(r["unique_id_l"]), int(r["unique_id_r"])): float(r.get("match_weight") or 0) for r in strong}
    torn = set()
    for i, js in partners.items():
        js = [j for j in js if not cannot_link(recs[i], recs[j])]
        # only children it fits about as well as its best match are contenders (within TORN_MARGIN bits)
        w = {j: weight.get((min(i, j), max(i, j)), 0.0) for j in js}
        js = [j for j in js if w[j] >= max(w.values(), default=0.0) - TORN_MARGIN]
        if len(js) > 1 and not recs[i]["dob"]:
            if any(cannot_link(recs[x], recs[y]) for k, x in enumerate(js) for y in js[k + 1:]):
                torn.add(i)
    review: list[dict] = []
    for r in rows:
        i, j, p = int(r["unique_id_l"]), int(r["unique_id_r"]), float(r["match_probability"])
        ri, rj = uf.find(i), uf.find(j)
        if ri == rj:
            continue
        if p >= match_threshold and i not in torn and j not in torn:
            if not blocked(i, j, ri, rj):
                uf.union(ri, rj)
            continue
        elif (min(i, j), max(i, j)) in forbidden or cannot_link(recs[i], recs[j]):
            continue
        else:
            reasons = _reasons(r, recs[i], recs[j])
        if i in torn or j in torn:
            reasons = "Bản ghi thiếu ngày sinh khớp với nhiều học sinh; " + reasons
            if j in torn and i not in torn:
                i, j = j, i  # the record that fits several children first
        review.append({"i": i, "j": j, "match_probability": round(p, 4), "reasons": reasons})
    labels = [uf.find(i) for i in range(n)]
    review = [r for r in review if labels[r["i"]] != labels[r["j"]]]
    return labels, review

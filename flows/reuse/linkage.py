"""Reuse in linkage: the partition of a set of records, kept under the records themselves; the person rows of a set
of named records; the whole assignment of person ids, kept under the ledger state it read.

``flows.linkage.clustering.link`` is a pure function of the records it is given (every column, in order), the
officers' must-link and cannot-link pairs, how many rows it trains on, the saved model and the code. ``linker``
gives a ``link`` that takes its answer from the store when all of these are those of a kept night, and computes
and keeps it otherwise: tonight's records identical to a kept night's give that night's partition (and its
review pairs) without scoring a pair.

``flows.linkage.dedupe.person_rows`` (one row per person, and the category and grade issues) is a function of the
rows with their person ids and of the config: ``summarizer`` keeps it under those. The night after the first,
whose ids are the first night's, takes it although the ledger changed in between.

``flows.linkage.dedupe.assign_persons`` reads, besides tonight's rows and the config, the ledger's fingerprint
links, past recipients and officer decisions, and may reserve new person ids. ``assigner`` keeps its answer
under all of these (every link the ledger holds, not only tonight's: a key never equates two different states)
when it reserved no id, and a later night with the same rows and the same ledger state takes it: ids, aliases,
new links, persons and review pairs. Storing the links and aliases in the ledger always runs (``link_persons``).
An answer that reserved ids is never kept under that key: the ledger's sequence has moved, and those ids are now
its links.

Every answer is also kept *settled*, under what it reads besides the ledger's links and past recipients: the
rows, the officer decisions, the config, the model and the code. A later night with those takes it when the
ledger already links every one of tonight's usable records to the id the answer gave it, one id per person
(``_settled_holds``). ``assign_persons`` would then compute that very answer with nothing to store: each person
is named by its own records' links (one id, so neither an alias nor the survivor's rank), no person is left to
find among past recipients or to give a new id, and no link differs. So the night after a night that gave ids,
whose ledger now holds them and its allocations, assigns nothing again, whatever those allocations are.
"""

from __future__ import annotations

from dataclasses import replace

from flows.reuse.fingerprints import code_version, config_fingerprint, digest, frame_fingerprint, model_fingerprint
from flows.reuse.store import Reuse


def linker(reuse: Reuse):
    """A drop-in for ``flows.linkage.clustering.link`` that reuses kept partitions."""
    from flows.linkage.clustering import link

    def reusing_link(records, model=None, **options):  # noqa: ANN001, ANN202 - link's signature
        if model is not None:  # a model given in memory, not the saved one: not keyed here
            return link(records, model, **options)
        opts = sorted((k, list(v) if k in ("must_link", "cannot") else v) for k, v in options.items()
                      if k != "progress")  # the pairs in their order: the key never equates two calls
        key = digest("link", frame_fingerprint(records), opts, model_fingerprint(), code_version())
        name = "tonight" if options.get("train_rows") is None else "past recipients"
        got = reuse.take("linkage", key, name)
        if got is None:
            got = link(records, **options)
            reuse.keep("linkage", key, got, name)
        return got

    return reusing_link


def summarizer(reuse: Reuse):
    """A drop-in for ``flows.linkage.dedupe.person_rows`` that reuses kept person rows."""
    from flows.linkage.dedupe import person_rows

    def reusing_person_rows(df, cfg):  # noqa: ANN001, ANN202
        key = digest("persons", frame_fingerprint(df), config_fingerprint(cfg), code_version())
        got = reuse.take("persons", key, "persons")
        if got is None:
            got = person_rows(df, cfg)
            reuse.keep("persons", key, got, "persons")
        return got

    return reusing_person_rows


def assigner(reuse: Reuse):
    """A drop-in for ``flows.linkage.dedupe.assign_persons`` that takes a kept assignment when tonight's rows, the
    ledger's links, past recipients and decisions, the config, the saved model and the code are a kept night's.
    It links and summarizes through ``linker`` and ``summarizer``; a taken assignment keeps the pieces it was
    computed from in the store (``Reuse.retain``), for the night whose ledger state differs."""
    from flows.linkage.dedupe import assign_persons

    def reusing_assign(students, cfg, known_links=None, allocate_ids=None, past_recipients=None,  # noqa: ANN001, ANN202
                       decisions=None):
        known_links = known_links or {}
        lists = digest("dedupe-settled", frame_fingerprint(students), frame_fingerprint(decisions),
                       allocate_ids is None, config_fingerprint(cfg), model_fingerprint(), code_version())
        settled = reuse.take("dedupe", lists, "settled", holds=lambda got: _settled_holds(got, known_links))
        if settled is not None:
            reuse.retain(settled["pieces"])
            return settled["result"]
        key = digest("dedupe", lists, sorted(known_links.items()), frame_fingerprint(past_recipients))
        got = reuse.take("dedupe", key, "persons")
        if got is not None:
            reuse.retain(got["pieces"])
            return got["result"]
        reserved = []

        def ids(n: int) -> list[str]:
            reserved.append(n)
            return allocate_ids(n)

        before = reuse.touched()
        result = assign_persons(students, cfg, known_links=known_links, allocate_ids=ids if allocate_ids else None,
                                past_recipients=past_recipients, decisions=decisions, linker=linker(reuse),
                                summarize=summarizer(reuse))
        pieces = sorted(reuse.touched() - before)
        usable = result.students[result.students["row_status"] == "ok"] if len(result.students) else result.students
        links = list(zip(usable.get("fingerprint", []), usable.get("person_id", [])))
        reuse.keep("dedupe", lists, {"result": replace(result, new_links={}, aliases={}, ledger_changes=[]),
                                     "links": links, "pieces": pieces}, "settled")
        if not any(reserved):
            reuse.keep("dedupe", key, {"result": result, "pieces": pieces}, "persons")
        return result

    return reusing_assign


def _settled_holds(settled: dict, known_links: dict[str, str]) -> bool:
    """The ledger links each usable record of a settled answer to the id the answer gave it, and the answer gave
    each of its persons an id of its own: ``assign_persons`` on this ledger would give that answer unchanged."""
    links = settled["links"]
    return (len({pid for _, pid in links}) == settled["result"].clusters
            and all(known_links.get(fp) == pid for fp, pid in links))

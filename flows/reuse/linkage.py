"""Reuse in linkage: the partition of a set of records, kept under the records themselves.

``flows.linkage.clustering.link`` is a pure function of the records it is given (every column, in order), the
officers' must-link and cannot-link pairs, how many rows it trains on, the saved model and the code. ``linker``
gives a ``link`` that takes its answer from the store when all of these are those of a kept night, and computes
and keeps it otherwise: tonight's records identical to a kept night's give that night's partition (and its
review pairs) without scoring a pair. The ledger's part (stable ids, past recipients, aliases) always runs.
"""

from __future__ import annotations

from flows.reuse.fingerprints import code_version, digest, frame_fingerprint, model_fingerprint
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

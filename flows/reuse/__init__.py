"""Reuse: a night costs what changed since the last one, and gives exactly what a full night gives.

Every piece of a night that is a pure function of its inputs is kept in a store beside the outputs
(``OUT/.reuse/``, ``store``) under a key made of those inputs (``fingerprints``): the code's version, the config,
and the piece's own data. A later night with the same key takes the kept piece instead of computing it again;
anything else is computed as a full night would, and kept for the next night. Nothing is ever patched: a key
either matches exactly or the piece is rebuilt.

    source grid ──► layout (per source)        key: source content + config + code            (intake)
                └─► normalize students (per source)        + the layout's key
                └─► validate students (per source)         + the school year of the as-of date
    usable rows ──► linkage partition          key: the records + officer decisions + model   (linkage)
    rows + ids ───► person rows                key: the rows with their ids + config + code   (linkage)
    rows ─────────► assignment of person ids   key: the rows + the ledger's links, past recipients and
                                                    decisions + config + model + code; kept only when no
                                                    new id was reserved                           (linkage)
    persons ──────► allocator's answer         key: its frames + ledger state + which dates the as-of date
                                                    has reached + district config + code; a night that
                                                    allocated also answers the next night's key (allocation)
    rows, persons,
    statuses, issues ► students export        key: those frames and issues + config + code   (results)
    raw student rows ► rows as the schools sent them   key: the raw rows + the header labels + code
    night result ─► frames for the workbooks   key: the five frames they are made from + config + code
                └─► district workbook          key: the published frames + config + code      (workbooks)
                └─► each commune, school workbook  key: its unit's rows (Prepared.unit) + phase facts +
                                                    config + code; states the night its content was first published
                └─► each CSV export            key: the one frame it writes + code

The ledger's part of every stage (storing fingerprint links and merges, recording allocations and the change log,
handovers) always runs.
``songmaytinh run --full`` reads nothing from the store (every piece rebuilt, the store refreshed). The
manifest's ``reuse`` part says which pieces were taken and since which run (``Reuse.report``).
"""

from flows.reuse.store import Reuse

__all__ = ["Reuse"]

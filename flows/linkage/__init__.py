"""Stage 5 — linkage: which records are the same child, and the child's stable ``person_id``.

Read in the order a record goes through:

- ``features``     records -> Vietnamese-aware comparison columns (names tone-folded, dates and their swaps…)
- ``comparisons``  the Splink model, declaratively: compared fields and their levels, blocking rules, thresholds
- ``scoring``      candidate pairs scored with Splink (DuckDB backend); parameters from the saved model or the data
- ``rules``        the hard rules no probability overrides, and the pairs only an officer may join
- ``clustering``   scored pairs -> children (``link``), the review queue and its reasons
- ``dedupe``       the night's stage: persons, person ids kept across nights, past recipients, review pairs
- ``decisions``    officer decisions (same / different child) read from returned sheets
- ``contract``     the stateless ``songmaytinh dedupe IN.csv --output OUT.csv``
- ``estimate``, ``train``, ``synth``   how the saved model in ``config/linkage_model.json`` is made, reproducibly
"""

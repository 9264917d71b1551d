"""A province's night: every district's own night (its config, sources, ledger and outputs, exactly as alone),
run side by side on Dask distributed, then the province workbook (``flows.province.flow``)."""

"""The write protocol: how every write reaches a table and the catalog.

Stage, conform to the table's schema under a named policy, commit to Delta, record in the
catalog; heal the catalog from the Delta log; vacuum. Stages (``ingest``, ``queries``)
call it; it uses the catalog, the table format and the core.
"""

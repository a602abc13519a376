"""Use cases of the reconciliation service: confirmation runs, replies, reports, cheques.

Each use case takes an engine (or a session inside the caller's unit of work), reads the cash
application tables into polars frames (:mod:`services.recon.usecases.ledger`) and hands them to
the pure domain (:mod:`services.recon.domain`).
"""

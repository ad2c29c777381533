"""The write side of the compute-voucher ledger: domain and application.

Pure: no SQL, no CLI, no environment reads. Only the event store is touched, through the
eventsourcing Application in :mod:`ledger.application`.
"""

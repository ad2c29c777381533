"""The write side of the compute-voucher ledger: domain and application.

Pure: no SQL, no CLI, no environment reads. Only the event store is touched, through the
eventsourcing Application in :mod:`ledger.application`.
"""

from ledger.topics import register_renamed_topics

register_renamed_topics()  # old topics of moved event classes stay readable (ADR 0005)

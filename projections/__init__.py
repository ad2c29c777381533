"""The read side: read models built only from events, position-tracked and rebuildable.

``store.ReadModelStore`` holds the tables (SQLAlchemy Core, on the ledger's own database or a
scratch SQLite), ``runner.ProjectionRunner`` pulls pages of notifications from the event store
and applies them — rows and tracking position in one transaction per page — and
``reports`` reads the tables back for people and machines.
"""

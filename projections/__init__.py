"""The read side: read models built only from events, position-tracked and rebuildable.

``store.ReadModelStore`` holds the tables (SQLAlchemy Core, on the ledger's own database or a
scratch SQLite); ``registry`` is the one list of read models (each a ``read_model``
subclass in a ``*_views`` module); ``runner.ProjectionRunner`` pulls pages of notifications
through the recorder and mapper it is given and applies them — rows and tracking position in
one transaction per page — and ``reports`` reads the tables back for people and machines.

Imports point one way: ``store`` ← ``read_model`` ← ``*_views`` ← ``registry``, ``reports``;
the runner imports no view and not the application (tests/unit/test_projection_imports.py).
"""

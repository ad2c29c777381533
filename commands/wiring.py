"""The one place where the ledger meets its configuration: which database, which policies.

``--db`` or ``VOUCHER_LEDGER_DB`` selects the store: a file path (or ``sqlite:///path``) for
SQLite — the default, ``voucher-ledger.db`` in the current directory — or a
``postgresql://user@host:port/dbname`` URL for PostgreSQL. A PostgreSQL password is read from
``VOUCHER_LEDGER_DB_PASSWORD``, ``VOUCHER_LEDGER_DB_PASSWORD_FILE`` or ``PGPASSWORD``, never
from the command line, and is never printed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from eventsourcing.persistence import PersistenceError
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from ledger.application import VoucherLedger
from ledger.policy import bundled_policies
from projections.ledger_views import all_read_models
from projections.runner import ProjectionRunner
from projections.store import ReadModelStore

DEFAULT_DB = "voucher-ledger.db"
SCHEMA_ATTEMPTS = 5


@dataclass
class Ledger:
    app: VoucherLedger
    store: ReadModelStore
    runner: ProjectionRunner
    location: str  # for messages: never contains a password

    def close(self) -> None:
        self.app.close()
        self.store.engine.dispose()


def resolve_db(db: str | None) -> str:
    return db or os.environ.get("VOUCHER_LEDGER_DB") or DEFAULT_DB


def _password() -> str:
    path = os.environ.get("VOUCHER_LEDGER_DB_PASSWORD_FILE")
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return os.environ.get("VOUCHER_LEDGER_DB_PASSWORD") or os.environ.get("PGPASSWORD") or ""


def _sqlite(path: str) -> tuple[dict[str, str], Engine, str]:
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": path,
        "SQLITE_LOCK_TIMEOUT": "30",
    }
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _wal(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    return env, engine, f"SQLite file {path}"


def _postgres(url: str) -> tuple[dict[str, str], Engine, str]:
    parts = urlsplit(url)
    dbname = parts.path.lstrip("/")
    if not dbname:
        raise ValueError("database URL needs a database name: postgresql://user@host/dbname")
    password = unquote(parts.password) if parts.password else _password()
    host = parts.hostname or "localhost"
    port = parts.port or 5432
    user = unquote(parts.username) if parts.username else os.environ.get("USER", "postgres")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(port),
        "POSTGRES_USER": user,
        "POSTGRES_PASSWORD": password,
        "POSTGRES_ENABLE_DB_FUNCTIONS": "y",
        "POSTGRES_POOL_SIZE": "2",
    }
    engine = create_engine(
        URL.create(
            "postgresql+psycopg",
            username=user,
            password=password or None,
            host=host,
            port=port,
            database=dbname,
        ),
        pool_size=2,
    )
    return env, engine, f"PostgreSQL {user}@{host}:{port}/{dbname}"


# Aggregates are cached and fast-forwarded with only the events stored since: a programme
# with hundreds of issued vouchers is not replayed from its first event for every command.
CACHE = {"AGGREGATE_CACHE_MAXSIZE": "5000", "AGGREGATE_CACHE_FASTFORWARD": "y"}


def open_ledger(db: str | None = None) -> Ledger:
    target = resolve_db(db)
    if target.startswith(("postgresql://", "postgres://")):
        env, engine, location = _postgres(target)
    else:
        path = target.removeprefix("sqlite:///")
        env, engine, location = _sqlite(path)
    # Several processes opening a new ledger at once race to create the schema; PostgreSQL
    # then refuses all but one ("tuple concurrently updated"). The schema statements are
    # idempotent, so the losers simply try again.
    for attempt in range(SCHEMA_ATTEMPTS):
        try:
            app = VoucherLedger(bundled_policies(), env={**env, **CACHE})
            store = ReadModelStore(engine, all_read_models())
            break
        except (PersistenceError, SQLAlchemyError):
            if attempt == SCHEMA_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return Ledger(app, store, ProjectionRunner(app, store), location)

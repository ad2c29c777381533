"""Fixtures: every ``db_url`` test runs on SQLite and on the throwaway PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from commands.wiring import Ledger, open_ledger
from tests.pgserver import PostgresServer

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile("default")

# The suite tells programme years of 2024–2026 in business time: every ledger it creates runs
# on a simulated clock that follows the story (recorded in the ledger, and said in its
# reports), with a year's tolerance for stories told out of order. The trust tests create
# their own ledgers on the system clock and the default threshold.
os.environ["VOUCHER_LEDGER_CLOCK"] = "simulated"
os.environ["VOUCHER_LEDGER_LATE_AFTER_DAYS"] = "400"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.create_database()


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    opened = open_ledger(db_url)
    try:
        yield opened
    finally:
        opened.close()

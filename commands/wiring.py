"""The one place where the ledger meets its configuration: which database, which policies.

``--db`` or ``VOUCHER_LEDGER_DB`` selects the store: a file path (or ``sqlite:///path``) for
SQLite — the default, ``voucher-ledger.db`` in the current directory — or a
``postgresql://user@host:port/dbname`` URL for PostgreSQL. A PostgreSQL password is read from
``VOUCHER_LEDGER_DB_PASSWORD``, ``VOUCHER_LEDGER_DB_PASSWORD_FILE`` or ``PGPASSWORD``, never
from the command line (a URL holding one is refused: :class:`PasswordInURL`), and is never
printed. A wrong password is reported at once as :class:`AuthenticationFailed`, not retried.
"""

from __future__ import annotations

import os
import pwd
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit
from uuid import UUID, uuid4

import psycopg
from eventsourcing.persistence import IntegrityError, PersistenceError
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from ledger.application import VoucherLedger
from ledger.clock import Clock, SimulatedClock, TimeRules
from ledger.errors import InvalidInput
from ledger.events import Context, LedgerClock
from ledger.ids import stable_id
from ledger.policy import Policy, bundled_policies, parse_policy
from projections.chain import audit_chain, log_table
from projections.registry import all_read_models
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

    @property
    def simulated_clock(self) -> bool:
        return self.app.clock.simulated

    def close(self) -> None:
        self.app.close()
        self.store.engine.dispose()


def resolve_db(db: str | None) -> str:
    return db or os.environ.get("VOUCHER_LEDGER_DB") or DEFAULT_DB


def identity_for(db: str | None) -> str:
    """Who is giving commands, as the environment establishes it: on PostgreSQL the database
    login (one per person), otherwise the operating-system user (from the process's user id,
    not from variables a caller can set)."""
    target = resolve_db(db)
    if target.startswith(("postgresql://", "postgres://")):
        login = unquote(urlsplit(target).username or "") or os.environ.get("PGUSER", "")
        if login:
            return login
    return pwd.getpwuid(os.getuid()).pw_name


PASSWORD_SOURCES = "VOUCHER_LEDGER_DB_PASSWORD or VOUCHER_LEDGER_DB_PASSWORD_FILE"


class PasswordInURL(InvalidInput):
    """A database URL with a password in it: refused, as a command line is visible to every
    user of the machine (``ps``) and lands in shell histories."""

    def __init__(self) -> None:
        super().__init__(
            "invalid-value",
            "the database URL holds a password; remove it from the URL "
            "(postgresql://user@host/dbname) and give it in the environment: "
            f"{PASSWORD_SOURCES} (a file readable only by you)",
            field="db",
        )


class AuthenticationFailed(PersistenceError):
    """PostgreSQL refused the login (wrong or missing password, or no such login). Reported at
    once: trying again cannot help. Names the user, never the password."""

    def __init__(self, user: str, location: str) -> None:
        self.user = user
        super().__init__(
            f"authentication failed for user {user!r} ({location}); check the password in "
            f"{PASSWORD_SOURCES}, and that the login exists"
        )


# libpq's own time limit for reaching the server (seconds): how long an unreachable server
# takes to be reported. A refused login is reported as soon as the server answers.
CONNECT_TIMEOUT = 10


def _password() -> str:
    path = os.environ.get("VOUCHER_LEDGER_DB_PASSWORD_FILE")
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return os.environ.get("VOUCHER_LEDGER_DB_PASSWORD") or os.environ.get("PGPASSWORD") or ""


# What libpq says when the server refuses a login (password, ident, peer …), or there is none.
_LOGIN_REFUSED = re.compile(
    r'authentication failed|no password supplied|role "[^"]*" does not exist'
)


def check_login(error: Exception, user: str, location: str) -> None:
    """Raise :class:`AuthenticationFailed` if ``error`` (a driver's connection error) says the
    server refused the login; otherwise return, and the caller handles ``error`` as before."""
    if _LOGIN_REFUSED.search(str(error)):
        raise AuthenticationFailed(user, location) from None


def _probe(conninfo: dict[str, object], user: str, location: str) -> None:
    """One direct connection before the pool is made: the library's pool retries a refused
    login until its time-out, so a wrong password would look like an unreachable server."""
    try:
        psycopg.connect(**conninfo, connect_timeout=CONNECT_TIMEOUT).close()  # type: ignore[arg-type]
    except psycopg.OperationalError as error:
        check_login(error, user, location)
        # Anything else (the server unreachable, starting up …) is the pool's to retry and
        # report as before.


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
    if parts.password is not None:
        raise PasswordInURL()
    password = _password()
    host = parts.hostname or "localhost"
    port = parts.port or 5432
    user = unquote(parts.username) if parts.username else os.environ.get("USER", "postgres")
    location = f"PostgreSQL {user}@{host}:{port}/{dbname}"
    _probe(
        {"host": host, "port": port, "user": user, "dbname": dbname, "password": password or None},
        user,
        location,
    )
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(port),
        "POSTGRES_USER": user,
        "POSTGRES_PASSWORD": password,
        "POSTGRES_ENABLE_DB_FUNCTIONS": "y",
        "POSTGRES_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
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
    return env, engine, location


# Aggregates are cached and fast-forwarded with only the events stored since: a programme
# with hundreds of issued vouchers is not replayed from its first event for every command.
CACHE = {"AGGREGATE_CACHE_MAXSIZE": "5000", "AGGREGATE_CACHE_FASTFORWARD": "y"}


# PostgreSQL refuses UPDATE, DELETE and TRUNCATE on the event table: the log is append-only at
# the database too, whatever client connects. Created once, then left alone (no lock taken on
# every open).
APPEND_ONLY_SQL = """
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'voucher_ledger_refuse_change') THEN
    CREATE FUNCTION voucher_ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $f$
    BEGIN
      RAISE EXCEPTION 'the voucher ledger event log is append-only: %% refused', TG_OP;
    END $f$;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'voucher_ledger_append_only') THEN
    CREATE TRIGGER voucher_ledger_append_only BEFORE UPDATE OR DELETE ON {table}
      FOR EACH ROW EXECUTE FUNCTION voucher_ledger_refuse_change();
    CREATE TRIGGER voucher_ledger_no_truncate BEFORE TRUNCATE ON {table}
      FOR EACH STATEMENT EXECUTE FUNCTION voucher_ledger_refuse_change();
  END IF;
END $$;
"""

# Every stored event has a positive position: the hash chain, the read models and history read
# the log from position 1, while aggregates read their events by originator id, so a row at
# position 0 or below would decide the business unseen (issue 21). PostgreSQL: a CHECK
# constraint, added once by the table's owner, NOT VALID (it binds every row written from then
# on; rows already there are `audit verify`'s to find, and the ledger still opens). SQLite:
# triggers AFTER insert and update refusing the row (in a BEFORE INSERT trigger NEW.rowid is -1
# whenever SQLite assigns the rowid itself).
POSITIVE_POSITIONS_SQL = """
DO $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM pg_constraint
    WHERE conname = 'voucher_ledger_positive_position' AND conrelid = '{table}'::regclass
  ) AND pg_has_role(
    current_user, (SELECT relowner FROM pg_class WHERE oid = '{table}'::regclass), 'USAGE'
  ) THEN
    ALTER TABLE {table} ADD CONSTRAINT voucher_ledger_positive_position
      CHECK (notification_id > 0) NOT VALID;
  END IF;
END $$;
"""
SQLITE_POSITIVE_POSITIONS_SQL = [
    f"""
CREATE TRIGGER IF NOT EXISTS voucher_ledger_positive_position{suffix} AFTER {op} ON {{table}}
WHEN NEW.rowid <= 0
BEGIN
  SELECT RAISE(ABORT, 'the voucher ledger event log: positions are positive; {op} refused');
END
"""
    for suffix, op in (("", "INSERT"), ("_update", "UPDATE"))
]


def policies() -> dict[str, Policy]:
    """The bundled parameter files, plus any in ``VOUCHER_LEDGER_POLICY_DIR`` (a new city's
    programme is a file there: no code)."""
    found = bundled_policies()
    folder = os.environ.get("VOUCHER_LEDGER_POLICY_DIR")
    if folder:
        for path in sorted(Path(folder).glob("*.toml")):
            policy = parse_policy(path.read_text(encoding="utf-8"), origin=str(path))
            found[policy.id] = policy
    return found


def events_table(app: VoucherLedger) -> str:
    """The event table's name on PostgreSQL (the library prefixes it with the app's name)."""
    return f"{app.name.lower()}_events"


def open_ledger(
    db: str | None = None, *, read_only: bool = False, simulated_if_new: bool = False
) -> Ledger:
    """Open the ledger. ``read_only`` (auditors' commands) creates and changes nothing, so a
    role that may only read can run them. ``simulated_if_new``: a ledger created now runs on a
    simulated clock (the demo), as ``VOUCHER_LEDGER_CLOCK=simulated`` asks."""
    target = resolve_db(db)
    if target.startswith(("postgresql://", "postgres://")):
        env, engine, location = _postgres(target)
    else:
        path = target.removeprefix("sqlite:///")
        env, engine, location = _sqlite(path)
    # Several processes opening a new ledger at once race to create the schema; PostgreSQL
    # then refuses all but one ("tuple concurrently updated"). The schema statements are
    # idempotent, so the losers simply try again. A role that may write but not create (the
    # writer role) opens the schema its owner set up.
    create = not read_only
    for attempt in range(SCHEMA_ATTEMPTS):
        try:
            no_create = {} if create else {"CREATE_TABLE": "n"}
            app = VoucherLedger(policies(), env={**env, **CACHE, **no_create})
            store = ReadModelStore(
                engine, all_read_models(), extra_tables=[audit_chain], create=create
            )
            if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres" and create:
                with engine.begin() as conn:
                    conn.exec_driver_sql(APPEND_ONLY_SQL.format(table=events_table(app)))
                    conn.exec_driver_sql(POSITIVE_POSITIONS_SQL.format(table=events_table(app)))
            elif create:
                with engine.begin() as conn:
                    for statement in SQLITE_POSITIVE_POSITIONS_SQL:
                        conn.exec_driver_sql(statement.format(table=log_table(app.recorder)))
            break
        except (PersistenceError, SQLAlchemyError) as e:
            if create and "permission denied" in str(e):
                create = False
                continue
            racing = any(
                sign in str(e) for sign in ("concurrently", "already exists", "duplicate key")
            )
            if not racing or attempt == SCHEMA_ATTEMPTS - 1:
                raise  # e.g. the server is unreachable: no point trying again
            time.sleep(0.05 * (attempt + 1))
    # Pages of notifications per read-model transaction (larger is faster; smaller resumes
    # sooner after a crash).
    page_size = int(os.environ.get("VOUCHER_LEDGER_PAGE_SIZE") or 2000)
    runner = ProjectionRunner(app.recorder, app.mapper, store, page_size=page_size, chain=True)
    _set_clock(app, create=create, simulated=simulated_if_new)
    app.candidates = lambda: _reconciliation_candidates(runner, store)
    return Ledger(app, store, runner, location)


class SystemClock:
    """Recorded time for real use: the machine's clock."""

    simulated = False

    def now(self) -> datetime:
        return datetime.now(UTC)

    def observe(self, at: datetime) -> None:
        """Business time never moves the system clock."""


# Read only when a ledger is created (its first open): afterwards the ledger's own record
# decides, so a caller cannot switch a running ledger to simulated time.
CLOCK_ENV = "VOUCHER_LEDGER_CLOCK"  # "simulated" for demos, training and tests
LATE_AFTER_ENV = "VOUCHER_LEDGER_LATE_AFTER_DAYS"
# A simulated clock starts before any story a demo or a test tells, and follows it.
SIMULATION_START = datetime(2000, 1, 1, tzinfo=UTC)


def _set_clock(app: VoucherLedger, *, create: bool, simulated: bool) -> None:
    """The clock this ledger was created with (recorded then); a ledger from before the
    choice was recorded runs on the system clock."""
    chosen: LedgerClock | None = app.find(stable_id("ledger-clock"))
    if chosen is None and create and not app.recorder.max_notification_id():
        simulated = simulated or os.environ.get(CLOCK_ENV, "system") == "simulated"
        late_after = int(os.environ.get(LATE_AFTER_ENV) or TimeRules().late_after.days)
        chosen = LedgerClock._create(
            LedgerClock.Chosen,
            id=stable_id("ledger-clock"),
            simulated=simulated,
            late_after_days=late_after,
            **Context(
                datetime.now(UTC), pwd.getpwuid(os.getuid()).pw_name, f"create-{uuid4()}"
            ).fields(),
        )
        try:
            app.save(chosen)
        except IntegrityError:  # another process created the ledger at the same moment
            chosen = app.find(stable_id("ledger-clock"))
    clock: Clock = SystemClock()
    if chosen is not None:
        app.time_rules = TimeRules(late_after=timedelta(days=chosen.late_after_days))
        if chosen.simulated:
            clock = SimulatedClock(_latest_business_time(app) or SIMULATION_START)
    app.clock = clock


def _latest_business_time(app: VoucherLedger) -> datetime | None:
    """Where a simulated clock stands: the latest business time recorded."""
    last = app.recorder.max_notification_id()
    if not last:
        return None
    (notification,) = app.recorder.select_notifications(last, 1)
    event = app.mapper.to_domain_event(notification)
    if isinstance(event, LedgerClock.Chosen):
        return None  # nothing has happened in the story yet
    at: datetime | None = getattr(event, "at", None)
    return at


def _reconciliation_candidates(
    runner: ProjectionRunner, store: ReadModelStore
) -> tuple[list[str], list[UUID]]:
    """Every payment instruction, and the statements with unmatched lines, from the read
    models brought up to date (the aggregates then decide)."""
    from sqlalchemy import select

    from projections.finance_views import bank_lines, statements
    from projections.ledger_views import payments

    runner.catch_up()
    with store.engine.connect() as conn:
        refs = [ref for (ref,) in conn.execute(select(payments.c.reference))]
        with_unmatched = {
            s
            for (s,) in conn.execute(
                select(bank_lines.c.statement).where(bank_lines.c.outcome == "unmatched")
            )
        }
        ids = [
            UUID(i)
            for i, name in conn.execute(select(statements.c.statement_id, statements.c.statement))
            if name in with_unmatched
        ]
    return refs, ids


AUDITOR_ROLE = "voucher_ledger_auditor"
WRITER_ROLE = "voucher_ledger_writer"


def create_auditor_role(ledger: Ledger, login: str | None) -> list[str]:
    """PostgreSQL: a group role that may read every table and write none."""
    return _create_role(
        ledger,
        AUDITOR_ROLE,
        login,
        [
            f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {AUDITOR_ROLE}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {AUDITOR_ROLE}",
        ],
    )


def create_writer_role(ledger: Ledger, login: str | None) -> list[str]:
    """PostgreSQL: a group role that runs the ledger's commands — appends events, maintains
    the read models — but cannot change the schema nor change or delete an event."""
    return _create_role(
        ledger,
        WRITER_ROLE,
        login,
        [
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {WRITER_ROLE}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {WRITER_ROLE}",
            f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {WRITER_ROLE}",
            f"REVOKE UPDATE, DELETE, TRUNCATE ON {events_table(ledger.app)} FROM {WRITER_ROLE}",
        ],
    )


NEW_ROLE_PASSWORD = "VOUCHER_LEDGER_NEW_ROLE_PASSWORD"


def _create_role(ledger: Ledger, role: str, login: str | None, grants: list[str]) -> list[str]:
    """A group role with these grants, optionally a login role in it (its password, if any,
    from VOUCHER_LEDGER_NEW_ROLE_PASSWORD). Returns the SQL to show: the password never appears
    in it, masked or not — a placeholder names where it came from. The password itself never
    reaches the server either: it is hashed here (SCRAM, libpq's ``PQencryptPasswordConn``)
    and only the hash is sent, as ``psql``'s ``\\password`` does. Needs a user allowed to create
    roles and grant on the tables (e.g. the owner)."""
    if not ledger.location.startswith("PostgreSQL"):
        raise ValueError(
            "roles exist on PostgreSQL only; a SQLite file's readers are its file permissions"
        )
    database = ledger.store.engine.url.database
    statements = [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') "
        f"THEN CREATE ROLE {role} NOLOGIN; END IF; END $$",
        f'GRANT CONNECT ON DATABASE "{database}" TO {role}',
        f"GRANT USAGE ON SCHEMA public TO {role}",
        *grants,
    ]
    shown = list(statements)
    password = os.environ.get(NEW_ROLE_PASSWORD) or ""
    if login and not (login.isidentifier() and login.isascii()):
        raise ValueError(f"{login!r} is not a plain role name")
    with ledger.store.engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
        if login:
            create = (
                f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{login}') "
                f"THEN CREATE ROLE {login} LOGIN IN ROLE {role}{{password}}; END IF; END $$"
            )
            secret = ""
            if password:
                driver = conn.connection.dbapi_connection
                hashed = driver.pgconn.encrypt_password(  # type: ignore[union-attr]
                    password.encode("utf-8"), login.encode("utf-8"), b"scram-sha-256"
                ).decode("ascii")
                if not re.fullmatch(
                    r"SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=:]+", hashed
                ):
                    raise ValueError("the password could not be hashed")  # never the hash
                secret = f" PASSWORD '{hashed}'"
            conn.exec_driver_sql(create.format(password=secret))
            shown.append(
                create.format(
                    password=f" PASSWORD '<from {NEW_ROLE_PASSWORD}>'" if password else ""
                )
            )
            if not password:
                shown.append(
                    f"-- {login} has no password ({NEW_ROLE_PASSWORD} was not set): give it one "
                    f"in psql with \\password {login}"
                )
    return shown

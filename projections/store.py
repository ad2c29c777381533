"""Read-model tables and the batched row writer the projections use."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    and_,
    create_engine,
    delete,
    insert,
    select,
)

metadata = MetaData()

# One row per read model: the notification id it has applied up to. Written in the same
# transaction as the read model's rows, so a crash can never apply a page twice or lose one.
tracking = Table(
    "rm_tracking",
    metadata,
    Column("read_model", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)


class ReadModel(Protocol):
    name: str
    tables: Sequence[Table]

    @property
    def topics(self) -> frozenset[str]:
        """The topics of the events it applies: the runner decodes no others."""

    def apply(self, page: Page, events: Sequence[Any]) -> None: ...


RowKey = tuple[str, tuple[Any, ...]]  # table name, primary key


class RecentRows:
    """Rows written by earlier pages of one catch-up, most recently used last, so that the
    next pages find them without a query. A subject's events come close together in the log
    (a voucher is issued, redeemed, reimbursed, settled within its programme year), so a
    bounded memory catches nearly every reuse while memory stays flat however long the log.
    Only valid while one runner applies pages in order: it lives for one catch-up."""

    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity = capacity
        self.rows: OrderedDict[RowKey, dict[str, Any]] = OrderedDict()

    def take(self, key: RowKey) -> dict[str, Any] | None:
        return self.rows.pop(key, None)

    def keep(self, table: str, rows: dict[tuple[Any, ...], dict[str, Any] | None]) -> None:
        for key, row in rows.items():
            if row is not None:
                self.rows[(table, key)] = row
                self.rows.move_to_end((table, key))
        while len(self.rows) > self.capacity:
            self.rows.popitem(last=False)


class RowCache:
    """The rows of one table touched by one page of events: read at most once (from the rows
    recent pages wrote, else one query), written once per page with executemany (inserts
    and updates separately)."""

    def __init__(self, conn: Connection, table: Table, recent: RecentRows | None = None) -> None:
        self.conn = conn
        self.table = table
        self.recent = recent
        self.key_columns = [c.name for c in table.primary_key.columns]
        self.rows: dict[tuple[Any, ...], dict[str, Any] | None] = {}
        self.stored: set[tuple[Any, ...]] = set()
        self.dirty: set[tuple[Any, ...]] = set()

    def get(self, *key: Any) -> dict[str, Any] | None:
        if key not in self.rows:
            found = self.recent.take((self.table.name, key)) if self.recent else None
            if found is None:
                where = and_(
                    *[self.table.c[n] == v for n, v in zip(self.key_columns, key, strict=True)]
                )
                stored = self.conn.execute(select(self.table).where(where)).mappings().first()
                found = dict(stored) if stored is not None else None
            self.rows[key] = found
            if found is not None:
                self.stored.add(key)
        return self.rows[key]

    def require(self, *key: Any) -> dict[str, Any]:
        row = self.get(*key)
        if row is None:
            raise LookupError(f"{self.table.name}: no row {key!r} (events out of order?)")
        return row

    def put(self, row: dict[str, Any]) -> None:
        key = tuple(row[n] for n in self.key_columns)
        self.rows[key] = row
        self.dirty.add(key)

    def change(self, key: tuple[Any, ...], **deltas: int) -> dict[str, Any]:
        """Add ``deltas`` to numeric columns of an existing row."""
        row = self.require(*key)
        for column, delta in deltas.items():
            row[column] += delta
        self.dirty.add(key)
        return row

    def set(self, key: tuple[Any, ...], **values: Any) -> None:
        self.require(*key).update(values)
        self.dirty.add(key)

    def flush(self) -> None:
        inserts = [r for k in self.dirty if k not in self.stored and (r := self.rows[k])]
        updates = [r for k in self.dirty if k in self.stored and (r := self.rows[k])]
        if inserts:
            bulk_insert(self.conn, self.table, inserts)
        if updates:
            bulk_update(self.conn, self.table, self.key_columns, updates)
        self.stored.update(self.dirty)
        self.dirty.clear()


# The hot path of every catch-up and rebuild writes through the driver: SQLAlchemy's
# per-statement bookkeeping cost more than SQLite's own work on a page of rows.


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """PostgreSQL: COPY; SQLite: one prepared INSERT, executemany."""
    columns = [c.name for c in table.c]
    values = [tuple(row[c] for c in columns) for row in rows]
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if conn.dialect.name == "postgresql":
            with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for value in values:
                    copy.write_row(value)
        else:
            marks = ", ".join("?" for _ in columns)
            cursor.executemany(
                f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", values
            )
    finally:
        cursor.close()


def bulk_update(
    conn: Connection, table: Table, keys: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    """Every non-key column of each row, by primary key: one prepared UPDATE, executemany."""
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    columns = [c.name for c in table.c if c.name not in keys]
    sql = (
        f"UPDATE {table.name} SET {', '.join(f'{c} = {mark}' for c in columns)} "
        f"WHERE {' AND '.join(f'{k} = {mark}' for k in keys)}"
    )
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, [tuple(row[c] for c in (*columns, *keys)) for row in rows])
    finally:
        cursor.close()


class Page:
    """The write context of one page of events: row caches for every table touched."""

    def __init__(self, conn: Connection, recent: RecentRows | None = None) -> None:
        self.conn = conn
        self.recent = recent
        self._caches: dict[str, RowCache] = {}
        # The log position of each event of the page, for read models that show it.
        self._positions: dict[int, int] = {}

    def note_positions(self, decoded: Sequence[tuple[int, Any]]) -> None:
        self._positions = {id(event): position for position, event in decoded}

    def position_of(self, event: Any) -> int:
        return self._positions.get(id(event), 0)

    def rows(self, table: Table) -> RowCache:
        if table.name not in self._caches:
            self._caches[table.name] = RowCache(self.conn, table, self.recent)
        return self._caches[table.name]

    def flush(self) -> None:
        for cache in self._caches.values():
            cache.flush()

    def committed(self) -> None:
        """The page's transaction committed: its rows are what the tables now hold."""
        if self.recent is not None:
            for name, cache in self._caches.items():
                self.recent.keep(name, cache.rows)


class ReadModelStore:
    """Where read models live: the ledger's database, or a scratch SQLite for replays."""

    def __init__(
        self,
        engine: Engine,
        read_models: Sequence[ReadModel],
        extra_tables: Sequence[Table] = (),
        *,
        create: bool = True,
    ) -> None:
        self.engine = engine
        self.read_models = list(read_models)
        self.tables = [t for rm in self.read_models for t in rm.tables]
        if create:
            metadata.create_all(engine, tables=[tracking, *self.tables, *extra_tables])

    @classmethod
    def scratch(cls, read_models: Sequence[ReadModel]) -> ReadModelStore:
        """An in-memory store that replays never touch the live read models through."""
        return cls(create_engine("sqlite://"), read_models)

    def positions(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(tracking.c.read_model, tracking.c.position)).all()
        found = {name: position for name, position in rows}
        return {rm.name: int(found.get(rm.name, 0)) for rm in self.read_models}

    def save_positions(self, conn: Connection, positions: dict[str, int]) -> None:
        names = list(positions)
        conn.execute(delete(tracking).where(tracking.c.read_model.in_(names)))
        conn.execute(
            insert(tracking), [{"read_model": n, "position": p} for n, p in positions.items()]
        )

    def drop(self) -> None:
        """Forget every read model and its position (``rebuild`` replays from zero)."""
        data_tables = [t for rm in self.read_models for t in rm.tables]
        metadata.drop_all(self.engine, tables=data_tables)
        with self.engine.begin() as conn:
            conn.execute(
                delete(tracking).where(
                    tracking.c.read_model.in_([rm.name for rm in self.read_models])
                )
            )
        metadata.create_all(self.engine, tables=data_tables)

    def dump(self, tables: Iterable[Table] | None = None) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every read-model table, in key order: what rebuild checks compare."""
        chosen = list(tables) if tables is not None else self.tables
        out: dict[str, list[tuple[Any, ...]]] = {}
        with self.engine.connect() as conn:
            for t in chosen:
                order = list(t.primary_key.columns)
                out[t.name] = [tuple(r) for r in conn.execute(select(t).order_by(*order))]
        return out

"""Read-model tables and the batched row writer the projections use."""

from __future__ import annotations

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
    bindparam,
    create_engine,
    delete,
    insert,
    select,
    update,
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

    def apply(self, page: Page, events: Sequence[Any]) -> None: ...


class RowCache:
    """The rows of one table touched by one page of events: read at most once, written once
    per page with executemany (inserts and updates separately)."""

    def __init__(self, conn: Connection, table: Table) -> None:
        self.conn = conn
        self.table = table
        self.key_columns = [c.name for c in table.primary_key.columns]
        self.rows: dict[tuple[Any, ...], dict[str, Any] | None] = {}
        self.stored: set[tuple[Any, ...]] = set()
        self.dirty: set[tuple[Any, ...]] = set()

    def get(self, *key: Any) -> dict[str, Any] | None:
        if key not in self.rows:
            where = and_(
                *[self.table.c[n] == v for n, v in zip(self.key_columns, key, strict=True)]
            )
            found = self.conn.execute(select(self.table).where(where)).mappings().first()
            self.rows[key] = dict(found) if found is not None else None
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
            self.conn.execute(insert(self.table), inserts)
        if updates:
            params = [{f"k_{n}": r[n] for n in self.key_columns} | r for r in updates]
            where = and_(*[self.table.c[n] == bindparam(f"k_{n}") for n in self.key_columns])
            values: dict[str, Any] = {
                c.name: bindparam(c.name) for c in self.table.c if c.name not in self.key_columns
            }
            self.conn.execute(update(self.table).where(where).values(values), params)
        self.stored.update(self.dirty)
        self.dirty.clear()


class Page:
    """The write context of one page of events: row caches for every table touched."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._caches: dict[str, RowCache] = {}

    def rows(self, table: Table) -> RowCache:
        if table.name not in self._caches:
            self._caches[table.name] = RowCache(self.conn, table)
        return self._caches[table.name]

    def flush(self) -> None:
        for cache in self._caches.values():
            cache.flush()


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

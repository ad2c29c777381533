"""The projection worker: keeps the read models current as events are written, so a request
never catches up itself. One per server process; on PostgreSQL several processes (and several
servers) share the read models, the runner's advisory lock applying each page once.

It wakes on PostgreSQL's NOTIFY (the event store notifies its channel on every insert), on a
command stored by this process, or every ``interval`` seconds (SQLite has no notifications:
polling the log through the recorder's ``select_notifications``, as the runner reads it). A
failure — the database restarting, say — is kept for ``/readyz`` and retried with back-off;
the read models resume from their tracked positions."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from commands.wiring import Ledger

log = logging.getLogger("voucher_ledger.worker")


class ProjectionWorker:
    def __init__(self, ledger: Ledger, interval: float = 0.5) -> None:
        self.ledger = ledger
        self.interval = interval
        self.error: str | None = None
        self.position = 0  # how far every read model has applied the log
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._listener: Any = None

    # ---- life -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="projection-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._close_listener()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def poke(self) -> None:
        """Something was written here: catch up now rather than at the next tick."""
        self._wake.set()

    # ---- reading your own write -----------------------------------------------------------

    def current(self) -> int:
        positions = self.ledger.store.positions()
        return min(positions.values(), default=0)

    def wait_for(self, position: int, timeout: float) -> bool:
        """Until the read models have applied the log up to ``position`` (True), or the time
        is up (False)."""
        deadline = time.monotonic() + timeout
        self.poke()
        while True:
            reached = self.current()
            if reached >= position:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.poke()
            with self._changed:
                self._changed.wait(min(left, self.interval))

    # ---- the loop -----------------------------------------------------------------------

    def _run(self) -> None:
        backoff = self.interval
        while not self._stop.is_set():
            try:
                self.ledger.runner.catch_up()
                self.position = self.current()
                self.error = None
                backoff = self.interval
            except Exception as e:  # any failure: kept for /readyz, retried
                first = str(e).strip().splitlines()[0] if str(e).strip() else ""
                self.error = f"{type(e).__name__}: {first}"
                log.warning("read models could not catch up: %s", self.error)
                self._close_listener()
                # A reader waiting for a position (or a stop) cuts the back-off short.
                self._wake.wait(backoff)
                self._wake.clear()
                backoff = min(backoff * 2, 10.0)
                continue
            with self._changed:
                self._changed.notify_all()
            self._wait_for_news()

    def _wait_for_news(self) -> None:
        """Until NOTIFY (PostgreSQL), a poke, a stop, or the interval is up."""
        if self._wake.is_set():
            self._wake.clear()
            return
        if self.ledger.store.engine.dialect.name == "postgresql":
            try:
                self._listen()
                return
            except Exception as e:  # the listener failed: poll this time, reconnect next
                log.info("LISTEN failed, polling: %s", type(e).__name__)
                self._close_listener()
        self._wake.wait(self.interval)
        self._wake.clear()

    def _listen(self) -> None:
        import psycopg

        if self._listener is None:
            url = self.ledger.store.engine.url
            conn = psycopg.connect(
                host=url.host,
                port=url.port,
                user=url.username,
                password=url.password,
                dbname=url.database,
                autocommit=True,
                connect_timeout=10,
            )
            channel = str(getattr(self.ledger.app.recorder, "channel_name", ""))
            conn.execute(f'LISTEN "{channel}"')
            self._listener = conn
        # Short slices, so a poke or a stop is seen within a fraction of the interval.
        deadline = time.monotonic() + self.interval
        while not self._wake.is_set() and time.monotonic() < deadline:
            for _ in self._listener.notifies(timeout=0.1, stop_after=1):
                return
        self._wake.clear()

    def _close_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                self._listener.close()
            self._listener = None

    def status(self) -> dict[str, Any]:
        head = int(self.ledger.app.recorder.max_notification_id() or 0)
        position = self.current()
        return {
            "worker": "running" if self.alive else "stopped",
            "position": position,
            "head": head,
            "lag": max(head - position, 0),
            "error": self.error,
        }

"""Long work as jobs whose progress can be polled (``POST /v1/audit/verify``, then
``GET /v1/jobs/{id}``). The work runs in a thread of the server process that took the
request; its state is kept in a table of the read-model database (``service_jobs``), so that
any worker or server instance answers the poll. Where the service's login may not create that
table (a writer role on a database set up before it existed), jobs are kept in the process's
memory instead, and a poll must reach the same instance."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Engine, MetaData, String, Table, Text, delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger("voucher_ledger.jobs")

jobs_table = Table(
    "service_jobs",
    MetaData(),
    Column("job", String(32), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("identity", String(100), nullable=False),
    Column("state", String(10), nullable=False),
    Column("body", Text, nullable=False),  # the job as JSON
)


@dataclass
class Job:
    id: str
    kind: str
    identity: str
    state: str = "running"
    progress: dict[str, int] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "job": self.id,
            "kind": self.kind,
            "state": self.state,
            "progress": self.progress,
            "result": self.result,
            "error": self.error,
        }


class Jobs:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.memory: dict[str, Job] = {}
        self.lock = threading.Lock()
        try:
            jobs_table.create(engine, checkfirst=True)
            self.shared = True
        except SQLAlchemyError as e:
            log.warning("jobs kept in memory (cannot create service_jobs: %s)", type(e).__name__)
            self.shared = False

    def save(self, job: Job) -> None:
        with self.lock:
            self.memory[job.id] = job
        if not self.shared:
            return
        row = {
            "job": job.id,
            "kind": job.kind,
            "identity": job.identity,
            "state": job.state,
            "body": json.dumps(job.as_json(), ensure_ascii=False),
        }
        with self.engine.begin() as conn:
            conn.execute(delete(jobs_table).where(jobs_table.c.job == job.id))
            conn.execute(insert(jobs_table).values(**row))

    def get(self, job_id: str) -> dict[str, Any] | None:
        if self.shared:
            with self.engine.connect() as conn:
                body = conn.execute(
                    select(jobs_table.c.body).where(jobs_table.c.job == job_id)
                ).scalar()
            found: dict[str, Any] | None = json.loads(body) if body is not None else None
            return found
        with self.lock:
            job = self.memory.get(job_id)
        return job.as_json() if job is not None else None

"""The ASGI application: routes, authentication, errors, the projection worker's life.

Thin, like the command line: a command is parsed by :func:`commands.envelope.parse_command`
and run by :func:`commands.envelope.execute`; a report is built by the function
:mod:`commands.report_catalog` names; audit work by :mod:`commands.audit` and
:mod:`projections.chain`. Nothing here restates a command's fields or a report's query."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from eventsourcing.persistence import PersistenceError
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from commands import render as r
from commands.batch import parse_line
from commands.envelope import Given, execute, parse_command
from commands.report_catalog import REPORTS
from commands.service import problems
from commands.service.auth import NotAuthenticated, Principal, current_principal, new_token
from commands.service.jobs import Job, Jobs
from commands.service.worker import ProjectionWorker
from commands.wiring import Ledger
from ledger import parsers as p
from ledger.errors import InvalidInput, LedgerError
from projections.chain import log_table, position_column
from projections.reports import Report
from projections.runner import ReadModelFailed

log = logging.getLogger("voucher_ledger.access")

# How long a read may wait for the read models to reach ``min_position`` (seconds).
DEFAULT_WAIT, MAX_WAIT = 10.0, 60.0
SIMULATED_NOTE = " — simulated clock (demo, training or test ledger)"


# ---- the service: one ledger, one worker, one writer at a time per process --------------


class Service:
    """What every request shares. Commands run one at a time per process (the application
    object holds the running command's context); several processes — server workers, servers
    behind a load balancer — write to one PostgreSQL database concurrently, the event store's
    optimistic concurrency serialising them as it does CLI processes."""

    def __init__(self, ledger: Ledger, *, poll_interval: float = 0.5) -> None:
        self.ledger = ledger
        self.write_lock = threading.Lock()
        self.worker = ProjectionWorker(ledger, poll_interval)
        self.jobs = Jobs(ledger.store.engine)

    def run(self, given: Given) -> dict[str, Any]:
        """Run one command; its result as the batch runner prints it, with the log positions
        its events were written at."""
        with self.write_lock:
            events = execute(self.ledger.app, given)
        self.worker.poke()
        positions = self.positions_of(events)
        return {
            "ok": True,
            "command": given.command.command_name,
            "command_id": given.context.command_id,
            "position": max(positions, default=None),
            "positions": positions,
            "events": [r.describe_event(e) for e in events],
        }

    def positions_of(self, events: list[Any]) -> list[int]:
        """The log positions of stored events (a repeat's too: the original ones)."""
        engine = self.ledger.store.engine
        table, column = log_table(self.ledger.app.recorder), position_column(engine)
        postgres = engine.dialect.name == "postgresql"
        query = text(
            f"SELECT {column} FROM {table} WHERE originator_id = :id AND originator_version = :v"
        )
        found = []
        with engine.connect() as conn:
            for e in events:
                key = e.originator_id if postgres else e.originator_id.hex
                position = conn.execute(query, {"id": key, "v": e.originator_version}).scalar()
                if position is not None:
                    found.append(int(position))
        return sorted(found)


# ---- request helpers ------------------------------------------------------------------------


Caller = Annotated[Principal, Depends(current_principal)]


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _reader(request: Request, principal: Caller) -> Principal:
    principal.require_reader(_service(request).ledger.app)
    return principal


# Every route but /healthz and /readyz takes one of these: no token, no answer.
Reader = Annotated[Principal, Depends(_reader)]


def _no_constants(name: str) -> Any:
    raise InvalidInput("invalid-amount", f"{name} is not a number the ledger accepts")


def _json_body(raw: bytes) -> Any:
    """Numbers parsed as Decimal from their digits (exact), as the batch runner does."""
    try:
        return json.loads(
            raw.decode("utf-8-sig"), parse_float=Decimal, parse_constant=_no_constants
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidInput("malformed-json", f"the request body is not JSON ({e})") from None


def http_file(value: Any) -> Any:
    """A file-shaped field over HTTP: ``{"filename": …, "content_base64": …}``. A path is
    refused: the service never reads a file of its own machine for a caller."""
    if (
        isinstance(value, dict)
        and isinstance(value.get("content_base64"), str)
        and isinstance(value.get("filename", ""), str)
    ):
        try:
            data = base64.b64decode(value["content_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("invalid-value", "content_base64: not base64") from None
        return p.FileContent(str(value.get("filename") or "upload"), data)
    raise InvalidInput(
        "invalid-value",
        'a file is sent as {"filename": "...", "content_base64": "..."} over HTTP',
    )


def _wait_for(request: Request, service: Service) -> None:
    """Read your own write: ``min_position`` (or ``X-Ledger-Min-Position``) makes a read wait
    until the read models have applied the log that far, for up to ``wait`` seconds."""
    wanted = request.query_params.get("min_position") or request.headers.get(
        "x-ledger-min-position"
    )
    if not wanted:
        return
    if not wanted.isdigit():
        raise InvalidInput("invalid-value", "min_position: a log position", field="min_position")
    wait_text = request.query_params.get("wait") or str(DEFAULT_WAIT)
    try:
        wait = min(max(float(wait_text), 0.0), MAX_WAIT)
    except ValueError:
        raise InvalidInput("invalid-value", "wait: seconds", field="wait") from None
    if not service.worker.wait_for(int(wanted), wait):
        raise _Behind(int(wanted), service.worker.current())


class _Behind(Exception):
    def __init__(self, wanted: int, reached: int) -> None:
        super().__init__(f"the read models stand at position {reached}, not yet {wanted}")
        self.wanted, self.reached = wanted, reached


def _format(request: Request) -> str:
    asked = request.query_params.get("format")
    if asked:
        if asked not in ("json", "csv"):
            raise InvalidInput("invalid-value", "format: json or csv", field="format")
        return asked
    accept = request.headers.get("accept", "")
    return "csv" if "text/csv" in accept and "application/json" not in accept else "json"


def _report_response(
    report: Report, fmt: str, position: int, name: str, simulated: bool
) -> Response:
    headers = {"X-Ledger-Position": str(position)}
    if simulated:
        report = Report(report.title + SIMULATED_NOTE, report.columns, report.rows, report.totals)
    if fmt == "csv":
        rows = ([row.get(c) for c in report.columns] for row in report.rows)
        headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return Response(
            "\ufeff" + r.csv_rows(report.columns, rows),
            media_type="text/csv; charset=utf-8",
            headers=headers,
        )
    body = {
        "report": report.title,
        "position": position,
        "simulated_clock": simulated,
        "columns": report.columns,
        "rows": report.rows,
        "totals": report.totals,
    }
    return JSONResponse(r.jsonable(body), headers=headers)


# ---- the application ------------------------------------------------------------------------


def create_app(
    open_ledger: Callable[[], Ledger], *, poll_interval: float = 0.5, title: str | None = None
) -> FastAPI:
    """The HTTP API over the ledger ``open_ledger`` opens (at start-up, closed at shutdown).
    Other HTTP ways in (the web views) mount routes on the returned app and reuse
    :func:`commands.service.auth.current_principal` and ``app.state.service``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = Service(open_ledger(), poll_interval=poll_interval)
        app.state.service = service
        service.worker.start()
        try:
            yield
        finally:
            # Uvicorn has let in-flight requests finish before this runs (graceful shutdown).
            service.worker.stop()
            with service.write_lock:
                service.ledger.close()

    app = FastAPI(
        title=title or "voucher-ledger",
        version="1",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    _install_errors(app)
    _install_access_log(app)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/readyz")
    def readyz(request: Request) -> JSONResponse:
        status = _service(request).worker.status()
        ready = status["worker"] == "running" and status["error"] is None
        return JSONResponse({"ready": ready, **status}, status_code=200 if ready else 503)

    @app.get("/v1/openapi.json")
    def openapi(principal: Caller) -> JSONResponse:
        from commands.service.openapi import document

        return JSONResponse(document(app))

    @app.get("/v1/me")
    def me(request: Request, principal: Caller) -> Any:
        app_ = _service(request).ledger.app
        return {
            "identity": principal.identity,
            "token_id": principal.token_id,
            "roles": [list(x) for x in principal.roles(app_)],
        }

    @app.get("/v1/position")
    def position(request: Request, principal: Reader) -> Any:
        return _service(request).worker.status()

    # ---- commands ---------------------------------------------------------------------

    @app.post("/v1/commands/{name}", include_in_schema=False)
    async def command(name: str, request: Request, principal: Caller) -> Any:
        raw = _json_body(await request.body())
        return await _in_thread(lambda: _command(request, name, raw, principal))

    def _command(request: Request, name: str, raw: Any, principal: Principal) -> Any:
        service = _service(request)
        if not isinstance(raw, dict):
            raise InvalidInput("malformed-json", "the request body must be a JSON object")
        if raw.setdefault("command", name) != name:
            raise InvalidInput(
                "invalid-value", f"command: the path says {name}, the body {raw['command']}"
            )
        key = request.headers.get("idempotency-key")
        if key:
            if raw.get("command_id") not in (None, key):
                raise InvalidInput(
                    "invalid-value",
                    "command_id: differs from the Idempotency-Key header (they are the same id)",
                    field="command_id",
                )
            raw["command_id"] = key
        given = parse_command(
            raw, identity=principal.identity, now=service.ledger.app.clock.now, files=http_file
        )
        return service.run(given)

    @app.post("/v1/batch", include_in_schema=False)
    async def batch(request: Request, principal: Caller) -> Any:
        body = await request.body()
        return await _in_thread(lambda: _batch(request, body, principal))

    def _batch(request: Request, body: bytes, principal: Principal) -> Response:
        service = _service(request)
        digest = hashlib.sha256(body).hexdigest()[:16]
        parsed: list[tuple[int, Given]] = []
        malformed: list[dict[str, Any]] = []
        for number, line in enumerate(body.split(b"\n"), start=1):
            try:
                text_line = line.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as e:
                malformed.append(_line_failure(number, InvalidInput("malformed-json", str(e))))
                continue
            if not text_line.strip():
                continue
            try:
                parsed.append(
                    (
                        number,
                        parse_line(
                            text_line,
                            identity=principal.identity,
                            now=service.ledger.app.clock.now,
                            default_command_id=f"batch-{digest}-{number}",
                            files=http_file,
                        ),
                    )
                )
            except InvalidInput as e:
                malformed.append(_line_failure(number, e))
        if malformed:
            # As `voucher-ledger run` (ADR 0003): a malformed line and nothing is stored.
            return problems.problem(
                400,
                malformed[0]["error"],
                f"{len(malformed)} malformed lines; nothing was stored",
                lines=malformed,
            )

        def results() -> Iterator[str]:
            for number, given in parsed:
                try:
                    result: dict[str, Any] = {"line": number, **service.run(given)}
                except LedgerError as e:
                    result = _line_failure(number, e)
                yield r.dumps(result) + "\n"

        return StreamingResponse(results(), media_type="application/x-ndjson")

    # ---- tokens -------------------------------------------------------------------------

    @app.post("/v1/tokens")
    async def issue_token(request: Request, principal: Caller) -> Any:
        raw = _json_body(await request.body())
        if not isinstance(raw, dict):
            raise InvalidInput("malformed-json", "the request body must be a JSON object")
        token_id, token, digest = new_token(raw.get("token_id"))
        line = {
            "command": "issue-api-token",
            "token_id": token_id,
            "identity": raw.get("identity"),
            "token_digest": digest,
            "label": raw.get("label"),
        }
        result = await _in_thread(lambda: _command(request, "issue-api-token", line, principal))
        # Shown once, here: the ledger keeps only the digest.
        return {**result, "token_id": token_id, "token": token}

    @app.delete("/v1/tokens/{token_id}")
    async def revoke_token(token_id: str, request: Request, principal: Caller) -> Any:
        line = {
            "command": "revoke-api-token",
            "token_id": token_id,
            "reason": request.query_params.get("reason") or "revoked over HTTP",
        }
        return await _in_thread(lambda: _command(request, "revoke-api-token", line, principal))

    # ---- reads --------------------------------------------------------------------------

    @app.get("/v1/reports/{name}", include_in_schema=False)
    def report(name: str, request: Request, principal: Reader) -> Response:
        from commands.audit import AsOf, replay

        service = _service(request)
        definition = REPORTS.get(name)
        if definition is None:
            return problems.problem(404, "not-found", f"no report named {name!r}")
        fmt = _format(request)
        given = dict(request.query_params)
        as_of_text = given.pop("as_of", None)
        for control in ("format", "min_position", "wait"):
            given.pop(control, None)
        if as_of_text and not definition.as_of:
            raise InvalidInput("unknown-field", f"as_of: the {name} report is always live")
        filters = definition.parse(given)
        filters["approver"] = principal.identity
        on_view = filters.get("on") if definition.on_is_view else None
        if as_of_text or on_view:
            as_of = AsOf.parse(as_of_text) if as_of_text else None
            store = replay(service.ledger, as_of, None, on_view)
            position = min(store.positions().values(), default=0)
        else:
            _wait_for(request, service)
            store = service.ledger.store
            position = service.worker.current()
        built = definition.build(store, filters)
        return _report_response(built, fmt, position, name, service.ledger.simulated_clock)

    @app.get("/v1/explain/{subject}")
    def explain(subject: str, request: Request, principal: Reader) -> Any:
        from commands.explaining import explain as explained

        service = _service(request)
        _wait_for(request, service)
        position = service.worker.current()
        paragraphs = explained(service.ledger, subject)
        return JSONResponse(
            {"subject": subject, "position": position, "explanation": paragraphs},
            headers={"X-Ledger-Position": str(position)},
        )

    @app.get("/v1/audit/history/{subject}")
    def history(subject: str, request: Request, principal: Reader) -> Any:
        from commands.audit import history as history_of

        service = _service(request)
        position = int(service.ledger.app.recorder.max_notification_id() or 0)
        built = history_of(service.ledger, subject)
        return _report_response(
            built, _format(request), position, "history", service.ledger.simulated_clock
        )

    @app.get("/v1/audit/digest")
    def digest(request: Request, principal: Reader) -> Any:
        from projections.chain import digest_of

        taken = digest_of(_service(request).ledger.app.recorder)
        return {**taken.as_json(), "taken_at": datetime.now(UTC).isoformat()}

    @app.post("/v1/audit/verify", status_code=202)
    async def verify(request: Request, principal: Reader) -> Any:
        from projections.chain import Digest

        body = await request.body()
        kept = None
        if body.strip():
            try:
                kept = Digest.from_json(_json_body(body))
            except (ValueError, KeyError, TypeError) as e:
                raise InvalidInput("invalid-value", f"digest: unreadable ({e})") from None
        job = _start_verify(_service(request), principal, kept)
        return JSONResponse(
            job.as_json(), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"}
        )

    @app.get("/v1/jobs/{job_id}")
    def job(job_id: str, request: Request, principal: Reader) -> Any:
        found = _service(request).jobs.get(job_id)
        if found is None:
            return problems.problem(404, "not-found", f"no job {job_id}")
        return found

    @app.get("/v1/audit/pack")
    def pack(request: Request, principal: Reader) -> Any:
        from commands.audit import export_pack

        service = _service(request)
        folder = Path(tempfile.mkdtemp(prefix="voucher-ledger-pack-"))
        try:
            manifest = export_pack(service.ledger, folder / "pack")
            archive = folder / "audit-pack.zip"
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
                for item in sorted((folder / "pack").iterdir()):
                    z.write(item, f"audit-pack/{item.name}")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return FileResponse(
            archive,
            media_type="application/zip",
            filename="audit-pack.zip",
            headers={"X-Ledger-Position": str(manifest["head"]["position"])},
            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
        )

    return app


def _start_verify(service: Service, principal: Principal, kept: Any) -> Job:
    from projections.chain import verify

    job = Job(uuid.uuid4().hex, "verify", principal.identity)
    head = int(service.ledger.app.recorder.max_notification_id() or 0)
    job.progress = {"events": 0, "position": 0, "head": head}
    service.jobs.save(job)

    def progress(events: int, position: int) -> None:
        job.progress = {"events": events, "position": position, "head": head}
        service.jobs.save(job)

    def work() -> None:
        try:
            verdict = verify(
                service.ledger.app.recorder, service.ledger.store.engine, kept, progress
            )
            job.result = {
                "ok": verdict.ok,
                "events": verdict.events,
                "head": {"position": verdict.head[0], "hash": verdict.head[1]},
                "problems": verdict.problems,
                "first_bad_position": verdict.first_bad_position,
                "matches_kept_digest": (verdict.ok if kept is not None else None),
            }
            job.state = "done"
        except Exception as e:
            job.error, job.state = f"{type(e).__name__}: {e}", "failed"
        try:
            service.jobs.save(job)
        except Exception as e:  # the database went away: the job's end is logged at least
            log.warning("job %s ended %s, not saved: %s", job.id, job.state, type(e).__name__)

    threading.Thread(target=work, name=f"verify-{job.id}", daemon=True).start()
    return job


def _line_failure(number: int, error: LedgerError) -> dict[str, Any]:
    result: dict[str, Any] = {
        "line": number,
        "ok": False,
        "error": error.code,
        "message": error.message,
        "status": problems.status_of(error),
    }
    if isinstance(error, InvalidInput) and error.field:
        result["field"] = error.field
    return result


async def _in_thread(work: Callable[[], Any]) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(work)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def ledger_error(request: Request, error: LedgerError) -> Response:
        return problems.from_ledger_error(error)

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, error: NotAuthenticated) -> Response:
        return problems.problem(
            401, "not-authenticated", error.reason, headers={"WWW-Authenticate": "Bearer"}
        )

    @app.exception_handler(_Behind)
    async def behind(request: Request, error: _Behind) -> Response:
        return problems.problem(
            503,
            "read-models-behind",
            str(error),
            headers={"Retry-After": "1", "X-Ledger-Position": str(error.reached)},
            position=error.reached,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        code = "not-found" if error.status_code == 404 else f"http-{error.status_code}"
        return problems.problem(error.status_code, code, str(error.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        return problems.problem(400, "invalid-value", str(error.errors()[:1]))

    @app.exception_handler(ReadModelFailed)
    async def read_model_failed(request: Request, error: ReadModelFailed) -> Response:
        return problems.problem(503, "read-models-stopped", str(error))

    @app.exception_handler(PersistenceError)
    @app.exception_handler(SQLAlchemyError)
    async def unavailable(request: Request, error: Exception) -> Response:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return problems.problem(
            503, "database-unavailable", f"the ledger database is unavailable: {first}"
        )


def _install_access_log(app: FastAPI) -> None:
    """One JSON line per request: method, path, status, time, identity and token id — never
    a header, a body or a token."""

    @app.middleware("http")
    async def access(request: Request, call_next: Any) -> Response:
        started = time.monotonic()
        response: Response = await call_next(request)
        principal = getattr(request.state, "principal", None)
        log.info(
            json.dumps(
                {
                    "method": request.method,
                    "path": request.url.path,
                    "status": response.status_code,
                    "ms": round((time.monotonic() - started) * 1000, 1),
                    "identity": principal.identity if principal else None,
                    "token_id": principal.token_id if principal else None,
                },
                ensure_ascii=False,
            )
        )
        return response

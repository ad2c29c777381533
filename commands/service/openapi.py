"""The OpenAPI document, generated from the command declarations
(:data:`ledger.vocabulary.DECLARATIONS`, with the envelope of :mod:`commands.envelope`) and
the report definitions (:data:`commands.report_catalog.REPORTS`) — never a copy of either.
Each command has its path, its request schema (fields, which are required, what each means)
and its declared example; each report its path and filters. Served at ``/v1/openapi.json``."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from commands.envelope import ENVELOPE
from commands.report_catalog import REPORTS, Filter
from commands.service.problems import HTTP_CODES
from ledger import parsers as p
from ledger.errors import ALL_CODES
from ledger.vocabulary import DECLARATIONS, Command, FieldSpec

_PROBLEM = {"$ref": "#/components/schemas/Problem"}
_DECIMAL = {
    "type": ["string", "number"],
    "pattern": r"^\d+(\.\d{1,2})?$",
    "description": "CNY, at most two decimal places (a decimal string is exact)",
}
_BY_PARSER: dict[Any, dict[str, Any]] = {
    p.amount: _DECIMAL,
    p.credit_code: {"type": "string", "minLength": 18, "maxLength": 18},
    p.date_: {"type": "string", "format": "date"},
    p.business_time: {"type": "string", "format": "date-time"},
    p.year: {"type": "integer"},
    p.boolean: {"type": "boolean"},
    p.month: {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
}
_FILE = {
    "type": "object",
    "required": ["content_base64"],
    "properties": {"filename": {"type": "string"}, "content_base64": {"type": "string"}},
    "description": "a file's content; over HTTP it is sent, never named by a path",
}


def _value_schema(parse: Any) -> dict[str, Any]:
    known = _BY_PARSER.get(parse)
    if known is not None:
        return dict(known)
    qualname = getattr(parse, "__qualname__", "")
    if qualname.startswith("choice."):
        options = inspect.getclosurevars(parse).nonlocals.get("options")
        if options:
            return {"type": "string", "enum": list(options)}
    if qualname.startswith("count."):
        return {"type": "integer"}
    return {"type": "string"}


def field_schema(spec: FieldSpec) -> dict[str, Any]:
    if spec.shape == "file":
        schema: dict[str, Any] = dict(_FILE)
    elif spec.shape == "list":
        schema = {"type": "array", "items": {"type": "string"}}
    elif spec.shape == "pairs":
        schema = {"type": "object", "additionalProperties": True}
    elif spec.shape == "objects":
        schema = {"type": "array", "items": {"type": "object"}}
    else:
        schema = _value_schema(spec.parse)
    return {**schema, "description": spec.help}


def command_schema(declared: type[Command]) -> dict[str, Any]:
    specs = (*declared.field_specs(), *ENVELOPE)
    return {
        "type": "object",
        "description": declared.summary,
        "additionalProperties": False,
        "required": [s.name for s in declared.field_specs() if s.required],
        "properties": {
            "command": {"type": "string", "enum": [declared.command_name]},
            **{s.name: field_schema(s) for s in specs},
        },
    }


def _filter_parameter(f: Filter) -> dict[str, Any]:
    kinds: dict[str, dict[str, Any]] = {
        "date": {"type": "string", "format": "date"},
        "integer": {"type": "integer"},
        "boolean": {"type": "boolean"},
        "credit-code": {"type": "string", "minLength": 18, "maxLength": 18},
        "text": {"type": "string"},
    }
    schema = dict(kinds[f.kind])
    if f.default is not None:
        schema["default"] = f.default
    return {
        "name": f.name,
        "in": "query",
        "required": f.required,
        "description": f.help,
        "schema": schema,
    }


_READ_PARAMETERS = [
    {
        "name": "format",
        "in": "query",
        "required": False,
        "description": "json (default) or csv (UTF-8 with BOM, for Excel); or send Accept",
        "schema": {"type": "string", "enum": ["json", "csv"]},
    },
    {
        "name": "min_position",
        "in": "query",
        "required": False,
        "description": "read your write: wait until the read models reach this log position",
        "schema": {"type": "integer"},
    },
    {
        "name": "wait",
        "in": "query",
        "required": False,
        "description": "seconds to wait for min_position (default 10, at most 60); then 503",
        "schema": {"type": "number"},
    },
]
_AS_OF = {
    "name": "as_of",
    "in": "query",
    "required": False,
    "description": "the ledger as it stood: a log position, or a recorded time (ISO with zone)",
    "schema": {"type": "string"},
}


def _errors(*statuses: int) -> dict[str, Any]:
    return {
        str(s): {
            "description": "application/problem+json (RFC 9457) with the ledger's error code",
            "content": {"application/problem+json": {"schema": _PROBLEM}},
        }
        for s in statuses
    }


def document(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(
        title=app.title,
        version="1",
        description=(
            "The compute-voucher ledger over HTTP: the same commands (one path each, the same "
            "JSON object as a JSON Lines batch line), reports, explanations and audit. Every "
            "path but /healthz and /readyz needs `Authorization: Bearer <token>`. See "
            "docs/service.md."
        ),
        routes=app.routes,
    )
    paths: dict[str, Any] = doc.setdefault("paths", {})
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    doc["security"] = [{"bearer": []}]
    schemas["Problem"] = {
        "type": "object",
        "required": ["type", "title", "status", "code"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string", "enum": sorted([*ALL_CODES, *HTTP_CODES])},
            "field": {"type": "string"},
        },
    }
    schemas["CommandResult"] = {
        "type": "object",
        "properties": {
            "ok": {"type": "boolean"},
            "command": {"type": "string"},
            "command_id": {"type": "string"},
            "position": {"type": ["integer", "null"], "description": "last log position written"},
            "positions": {"type": "array", "items": {"type": "integer"}},
            "events": {"type": "array", "items": {"type": "object"}},
        },
    }
    schemas["Report"] = {
        "type": "object",
        "properties": {
            "report": {"type": "string"},
            "position": {"type": "integer", "description": "log position the rows reflect"},
            "simulated_clock": {"type": "boolean"},
            "columns": {"type": "array", "items": {"type": "string"}},
            "rows": {"type": "array", "items": {"type": "object"}},
            "totals": {"type": "object"},
        },
    }
    for name, declared in sorted(DECLARATIONS.items()):
        schema_name = "Command-" + name
        schemas[schema_name] = command_schema(declared)
        clauses = ", ".join(declared.clauses) or "none"
        paths[f"/v1/commands/{name}"] = {
            "post": {
                "operationId": f"command-{name}",
                "tags": [f"commands: {declared.needs_role}"],
                "summary": declared.summary.split(". ")[0],
                "description": f"{declared.summary}\n\nRole: {declared.needs_role}. "
                f"Clauses: {clauses}.",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "the command id: a repeat returns the original result",
                        "schema": {"type": "string"},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{schema_name}"},
                            "example": {"command": name, **dict(declared.example)},
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "stored (or a repeat of a stored command)",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CommandResult"}
                            }
                        },
                    },
                    **_errors(400, 401, 403, 409, 422),
                },
            }
        }
    paths["/v1/batch"] = {
        "post": {
            "operationId": "batch",
            "tags": ["commands"],
            "summary": "JSON Lines: one command per line, one result per line, streamed",
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-ndjson": {
                        "schema": {"type": "string"},
                        "example": "\n".join(
                            '{"command": "register-applicant", "credit_code": '
                            '"91510100MA61RLW55K", "name": "成都示例科技有限公司", "city": '
                            '"Chengdu", "kind": "enterprise"}'.splitlines()
                        ),
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "one JSON result per line, as `voucher-ledger run` prints",
                    "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                },
                **_errors(400, 401),
            },
        }
    }
    for name, definition in sorted(REPORTS.items()):
        parameters = [_filter_parameter(f) for f in definition.filters]
        if definition.as_of:
            parameters.append(dict(_AS_OF))
        paths[f"/v1/reports/{name}"] = {
            "get": {
                "operationId": f"report-{name}",
                "tags": ["reports"],
                "summary": definition.help,
                "parameters": parameters + [dict(x) for x in _READ_PARAMETERS],
                "responses": {
                    "200": {
                        "description": definition.help,
                        "headers": {
                            "X-Ledger-Position": {
                                "description": "log position the report reflects",
                                "schema": {"type": "integer"},
                            }
                        },
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Report"}},
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    **_errors(400, 401, 403, 503),
                },
            }
        }
    return doc

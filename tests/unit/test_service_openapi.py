"""The OpenAPI document is generated from the command declarations and the report
definitions: every command and every report appears, with its fields; the report catalogue
names every report the command line has."""

from __future__ import annotations

import argparse

from commands.cli import _report, build_parser
from commands.envelope import ENVELOPE
from commands.report_catalog import CLI_NAMES, REPORTS
from commands.service import create_app
from commands.service.openapi import document
from ledger.vocabulary import DECLARATIONS


def _doc() -> dict:
    return document(create_app(lambda: None))  # type: ignore[arg-type, return-value]


def test_every_command_has_a_path_with_its_fields_and_example() -> None:
    doc = _doc()
    schemas = doc["components"]["schemas"]
    for name, declared in DECLARATIONS.items():
        post = doc["paths"][f"/v1/commands/{name}"]["post"]
        body = post["requestBody"]["content"]["application/json"]
        schema = schemas[body["schema"]["$ref"].rsplit("/", 1)[1]]
        fields = {s.name for s in declared.field_specs()}
        assert set(schema["properties"]) == fields | {e.name for e in ENVELOPE} | {"command"}
        assert set(schema["required"]) == {s.name for s in declared.field_specs() if s.required}
        for spec in declared.field_specs():
            assert schema["properties"][spec.name]["description"] == spec.help
        assert body["example"]["command"] == name
        assert set(body["example"]) - {"command"} <= set(schema["properties"])
        assert declared.needs_role in post["description"]
        assert {"400", "401", "403", "409", "422"} <= set(post["responses"])


def test_every_report_has_a_path_with_its_filters() -> None:
    doc = _doc()
    for name, definition in REPORTS.items():
        get = doc["paths"][f"/v1/reports/{name}"]["get"]
        names = {p["name"] for p in get["parameters"]}
        assert {f.name for f in definition.filters} <= names
        assert ("as_of" in names) == definition.as_of
        assert {"format", "min_position", "wait"} <= names
        assert {"application/json", "text/csv"} <= set(get["responses"]["200"]["content"])
    assert {"/v1/batch", "/v1/explain/{subject}", "/v1/audit/verify", "/v1/audit/pack"} <= set(
        doc["paths"]
    )
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def _cli_reports() -> set[str]:
    """Every sub-command of the CLI that prints a report (as `voucher-ledger …` names it)."""
    found: set[str] = set()

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    handler = sub.get_default("handler")
                    path = f"{prefix}{name}"
                    if handler is _report or (
                        handler is not None and handler.__name__ in ("_approvable", "_payment_file")
                    ):
                        found.add(path)
                    walk(sub, path + " ")

    walk(build_parser(), "")
    return found


def test_the_catalogue_names_every_report_of_the_command_line() -> None:
    assert {CLI_NAMES.get(name, name) for name in REPORTS} == _cli_reports()

"""The three ways a write command is given agree, command by command and field by field (issue
14): the command line (``commands/cli.py``), the JSON Lines batch reader (``commands/batch.py``,
``commands/envelope.py``) and the reference (the committed ``docs/commands.md``), each against the
declarations in ``ledger/handlers/``.

Each way in is checked against the declaration, not against the generator that made it, so a
hand edit, a stale file or a generator that drops or misreads a field fails here. The last test
gives every declaration's example through the command line and as a JSON line and asserts that
both make the same typed command. No ledger is opened: the command line is stopped the moment it
hands its raw command to ``parse_command``.
"""

from __future__ import annotations

import argparse
import io
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from commands import cli
from commands.batch import parse_line
from commands.docgen import DOCS
from commands.envelope import ENVELOPE, Given, parse_command
from ledger.errors import InvalidInput
from ledger.vocabulary import DECLARATIONS, Command, FieldSpec

ROOT = Path(__file__).resolve().parents[2]  # the examples name files relative to the root
COMMANDS_MD = DOCS / "commands.md"
NAMES = sorted(DECLARATIONS)
NOW = datetime(2030, 1, 1, tzinfo=UTC)  # never used: every example gives `at`
ACTOR = "agreement-test"
COMMAND_ID = "agreement-test-1"

# What every command takes besides its fields. `actor` is a global option on the command line.
ENVELOPE_OPTIONS = {"--at": "at", "--command-id": "command_id", "--late-reason": "late_reason"}
GLOBAL_OPTIONS = {"-h", "--help", "--db", "--actor", "--format"}
GROUPED_PARENTS: Mapping[str, str] = cli.GROUPED  # commands filed under a group, e.g. finance


def test_the_envelope_is_what_this_test_assumes() -> None:
    assert [f.name for f in ENVELOPE] == ["at", "actor", "command_id", "late_reason"]
    assert all(not f.required and f.shape == "one" for f in ENVELOPE)
    assert set(GROUPED_PARENTS) <= set(DECLARATIONS), "GROUPED names an undeclared command"


# --- the command line ------------------------------------------------------------------------


def _sub_commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    return cli.build_parser()


def _cli_path(name: str) -> list[str]:
    group = GROUPED_PARENTS.get(name)
    return [group, name] if group else [name]


def _command_parser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    *groups, leaf = _cli_path(name)
    for group in groups:
        parser = _sub_commands(parser)[group]
    found = _sub_commands(parser).get(leaf)
    assert found is not None, f"voucher-ledger {' '.join(_cli_path(name))}: no such sub-command"
    return found


def test_every_declaration_is_a_sub_command_where_it_belongs_and_only_there(
    parser: argparse.ArgumentParser,
) -> None:
    top = _sub_commands(parser)
    assert "--actor" in {s for a in parser._actions for s in a.option_strings}
    for name in NAMES:
        group = GROUPED_PARENTS.get(name)
        if group is None:
            assert name in top, f"{name}: not a top-level sub-command"
        else:
            assert group in top, f"{name}: filed under {group!r}, which is no sub-command"
            assert name in _sub_commands(top[group]), f"{name}: not under `{group}`"
            assert name not in top, f"{name}: at the top level as well as under `{group}`"
    # A declared name filed under a group is nowhere else among the groups.
    for group_name, group_parser in top.items():
        for name in _sub_commands(group_parser):
            if name in DECLARATIONS:
                assert GROUPED_PARENTS.get(name) == group_name, f"{group_name} {name}: misfiled"


def _option_actions(p: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in p._actions for s in a.option_strings}


@pytest.mark.parametrize("name", NAMES)
def test_a_sub_command_takes_exactly_the_declared_fields(
    parser: argparse.ArgumentParser, name: str
) -> None:
    declared = DECLARATIONS[name]
    p = _command_parser(parser, name)
    options = _option_actions(p)
    positionals = [a for a in p._actions if not a.option_strings]

    fields = declared.field_specs()
    expected_options = {f.option for f in fields if f.shape != "file"}
    expected_positionals = [f.name for f in fields if f.shape == "file"]
    assert set(options) == expected_options | set(ENVELOPE_OPTIONS) | GLOBAL_OPTIONS
    assert [a.dest for a in positionals] == expected_positionals

    for spec in fields:
        if spec.shape == "file":
            action = next(a for a in positionals if a.dest == spec.name)
            # A positional is always required: an optional file field could not be left out.
            assert spec.required, f"{name}.{spec.name}: optional, but a positional on the CLI"
            assert action.nargs is None
        else:
            action = options[spec.option]
            assert action.dest == spec.name, f"{name} {spec.option}: dest {action.dest}"
            assert action.required == spec.required, f"{name} {spec.option}: required-ness"
            assert action.default is None, f"{name} {spec.option}: a default the JSON lacks"
        # The CLI passes the text through: the declaration's parser is the only one.
        assert action.type is None, f"{name}.{spec.name}: the CLI converts it on its own"
        assert action.choices is None, f"{name}.{spec.name}: the CLI restricts it on its own"
        if spec.shape in ("list", "pairs"):
            assert isinstance(action, argparse._AppendAction), f"{name} {spec.option}: not repeated"
        else:
            assert isinstance(action, argparse._StoreAction), f"{name}.{spec.name}: {action}"
        assert (action.help or "").replace("%%", "%") == spec.help, f"{name}.{spec.name}: help"

    for option, dest in ENVELOPE_OPTIONS.items():
        action = options[option]
        assert (action.dest, action.required, action.default) == (dest, False, None)
        assert isinstance(action, argparse._StoreAction) and action.type is None


# --- the reference ---------------------------------------------------------------------------

HEADING = re.compile(r"^### `([^`]+)`$", re.MULTILINE)
ROLE_HEADING = re.compile(r"^## (.+)$", re.MULTILINE)


def _doc_sections(text: str) -> dict[str, tuple[str, str]]:
    """Each command's section of commands.md: the `## ` heading it is under, and its text."""
    sections: dict[str, tuple[str, str]] = {}
    starts = [(m.start(), m.group(1)) for m in HEADING.finditer(text)]
    for i, (start, name) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
        body = text[start:end]
        body = body.split("\n## ", 1)[0]  # a section ends at the next `## ` heading too
        role = [m.group(1) for m in ROLE_HEADING.finditer(text, 0, start)]
        assert name not in sections, f"commands.md: two sections for {name}"
        sections[name] = (role[-1] if role else "", body)
    return sections


def _doc_table(body: str) -> list[tuple[str, str, str]]:
    lines = body.splitlines()
    header = lines.index("| field | required | meaning |")
    assert lines[header + 1] == "| --- | --- | --- |"
    rows = []
    for line in lines[header + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 3, f"not a three-cell row (a `|` in a help text?): {line}"
        field = re.fullmatch(r"`([a-z_]+)`", cells[0])
        assert field is not None, f"not a field cell: {cells[0]}"
        rows.append((field.group(1), cells[1], cells[2]))
    return rows


def _doc_example(body: str) -> Any:
    blocks = re.findall(r"^```json\n(.*?)\n```$", body, re.MULTILINE | re.DOTALL)
    assert len(blocks) == 1, "one JSON example per command"
    return json.loads(blocks[0])


@pytest.fixture(scope="module")
def doc_sections() -> dict[str, tuple[str, str]]:
    return _doc_sections(COMMANDS_MD.read_text(encoding="utf-8"))


def test_the_reference_documents_exactly_the_declared_commands(
    doc_sections: dict[str, tuple[str, str]],
) -> None:
    assert sorted(doc_sections) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_lists_exactly_the_declared_fields(
    doc_sections: dict[str, tuple[str, str]], name: str
) -> None:
    declared = DECLARATIONS[name]
    assert name in doc_sections, f"commands.md: no section for {name}"
    role_heading, body = doc_sections[name]
    assert role_heading == f"Commands for {cli.USERS[declared.needs_role]}", (
        f"{name}: filed wrongly"
    )

    rows = _doc_table(body)
    assert [(f, req) for f, req, _ in rows] == [
        (s.name, "yes" if s.required else "no") for s in declared.field_specs()
    ]
    for (field, _, meaning), spec in zip(rows, declared.field_specs(), strict=True):
        assert meaning.startswith(spec.help), f"{name}.{field}: help differs from the code"

    group = GROUPED_PARENTS.get(name)
    if group:
        assert f"(command line: `{group} {name}`)" in body
    else:
        assert "(command line:" not in body
    assert _doc_example(body) == json.loads(
        json.dumps({"command": name, **declared.example}, ensure_ascii=False)
    ), f"{name}: the documented example is not the declared one"


# --- the batch reader ------------------------------------------------------------------------


@pytest.fixture
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def _line(name: str, content: Mapping[str, Any]) -> str:
    return json.dumps({"command": name, **content}, ensure_ascii=False)


def _read(text: str) -> Given:
    return parse_line(text, identity=ACTOR, now=lambda: NOW)


def _refusal(text: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        _read(text)
    return caught.value


@pytest.mark.usefixtures("at_root")
@pytest.mark.parametrize("name", NAMES)
def test_the_batch_reader_accepts_the_example_and_refuses_what_is_not_declared(
    name: str,
) -> None:
    declared = DECLARATIONS[name]
    example = dict(declared.example)
    given = _read(_line(name, example))
    assert type(given.command) is declared
    assert given.context.at != NOW, f"{name}: the example's `at` was not read"

    unknown = _refusal(_line(name, {**example, "no_such_field": "x"}))
    assert (unknown.code, unknown.field) == ("unknown-field", "no_such_field")
    for spec in declared.field_specs():
        if "_" in spec.name:  # the command line's spelling is not a JSON field
            spelt = spec.name.replace("_", "-")
            wrong = _refusal(_line(name, {**example, spelt: example.get(spec.name, "x")}))
            assert (wrong.code, wrong.field) == ("unknown-field", spelt)

    required = [s.name for s in declared.field_specs() if s.required]
    assert all(f in example for f in required), f"{name}: the example leaves out a required field"
    for field in required:
        missing = _refusal(_line(name, {k: v for k, v in example.items() if k != field}))
        assert (missing.code, missing.field) == ("missing-field", field), f"{name} without {field}"


# --- the round trip: the command line and a JSON line make the same command ------------------


def _cli_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)  # 2025 -> "2025", True -> "true"


def _argv(declared: type[Command], content: Mapping[str, Any], objects_file: Path) -> list[str]:
    """The example as a person types it, following each field's shape."""
    argv = ["--actor", ACTOR, *_cli_path(declared.command_name)]
    specs: dict[str, FieldSpec] = {s.name: s for s in (*declared.field_specs(), *ENVELOPE)}
    for key, value in content.items():
        spec = specs[key]
        if spec.shape == "file":
            argv.append(value)
        elif spec.shape == "list":
            for item in value:
                argv += [spec.option, _cli_text(item)]
        elif spec.shape == "pairs":
            for k, v in value.items():
                argv += [spec.option, f"{k}={_cli_text(v)}"]
        elif spec.shape == "objects":
            objects_file.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
            argv += [spec.option, "@" + str(objects_file)]
        else:
            argv += [spec.option, _cli_text(value)]
    return argv


class _Stopped(Exception):
    """Raised in place of opening the ledger."""


def _through_the_cli(
    parser: argparse.ArgumentParser, argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, Any], Given]:
    """Run the sub-command's own handler (``_write_command``) up to ``parse_command``."""
    seen: list[tuple[dict[str, Any], Given]] = []

    def stop_at_parse(raw: Mapping[str, Any], **kwargs: Any) -> Given:
        assert kwargs["identity"] == ACTOR
        given = parse_command(raw, identity=kwargs["identity"], now=lambda: NOW)
        seen.append((dict(raw), given))
        raise _Stopped

    monkeypatch.setattr(cli, "parse_command", stop_at_parse)
    args = parser.parse_args(argv)
    args.acting_identity = ACTOR  # main() takes it from the environment (the OS user, the login)
    with pytest.raises(_Stopped):
        args.handler(args, io.StringIO())
    [(raw, given)] = seen
    return raw, given


# Values for the optional fields the examples leave out, so that the round trip below passes
# every declared field through both ways in at least once.
OPTIONAL: dict[str, dict[str, Any]] = {
    "apply-special": {
        "submitted_at": "2025-03-04T16:30:00+08:00",
        "prior_year_spend_incl_tax": "13250000.00",
        "tax_rate": "0.06",
    },
    "apply-supplier-subsidy": {"special_holder_spend": {"91510100MA6BXQ5N2A": "12500000.00"}},
    "city-review": {"approved_amount": "1000000.00"},
    "demand-clawback": {"vouchers": ["CD-2025-INC-0001", "CD-2025-INC-0002"]},
    "import-statement": {"column": {"value_date": "交易日期", "amount": "金额"}},
    "offset-clawback": {"amount": "100.50"},
    "raise-objection": {"round": "R1"},
    "reconcile": {"window_days": 20, "missing_after_days": 45},
    "record-credit-listing": {"listed_until": "2025-12-31"},
    "redeem": {
        "deduction": "4000.00",
        "tax": "480.00",
        "bill_amount_incl_tax": "8480.00",
        "tax_rate": "0.06",
    },
    "register-applicant": {"bank_account": "6222 0244 0200 7654 321"},
    "resolve-objection": {"round": "R1"},
}


def test_the_round_trip_passes_every_declared_field() -> None:
    for name, extra in OPTIONAL.items():
        assert name in DECLARATIONS, f"OPTIONAL names no command {name}"
        for field in extra:
            spec = DECLARATIONS[name].spec(field)
            assert spec is not None and not spec.required, f"{name}.{field}: not optional"
    untried = [
        f"{name}.{spec.name}"
        for name, declared in DECLARATIONS.items()
        for spec in declared.field_specs()
        if spec.name not in declared.example and spec.name not in OPTIONAL.get(name, {})
    ]
    assert untried == [], "give these a value in OPTIONAL"


@pytest.mark.usefixtures("at_root")
@pytest.mark.parametrize("every_field", [False, True], ids=["example", "every-field"])
@pytest.mark.parametrize("name", NAMES)
def test_the_command_line_and_a_json_line_make_the_same_command(
    parser: argparse.ArgumentParser,
    name: str,
    every_field: bool,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    declared = DECLARATIONS[name]
    content: dict[str, Any] = {**declared.example, "command_id": COMMAND_ID}
    if every_field:
        content.update(OPTIONAL.get(name, {}))
    from_json = _read(_line(name, content))

    raw, from_cli = _through_the_cli(
        parser, _argv(declared, content, tmp_path / "x.json"), monkeypatch
    )
    assert raw["command"] == name
    # `--actor` is a global option: the CLI always gives the actor.
    assert set(raw) == {"command", "actor", *content}, f"{name}: other fields than typed"
    assert raw["actor"] == ACTOR
    assert from_cli == from_json
    assert from_cli.context.command_id == COMMAND_ID and from_cli.context.idempotent

    # An objects field also takes the JSON text itself, not only @FILE.
    if any(s.shape == "objects" for s in declared.field_specs()):
        argv = _argv(declared, content, tmp_path / "x.json")
        inline = (tmp_path / "x.json").read_text(encoding="utf-8")
        argv = [inline if word.startswith("@") else word for word in argv]
        assert inline in argv
        _, from_inline = _through_the_cli(parser, argv, monkeypatch)
        assert from_inline == from_json

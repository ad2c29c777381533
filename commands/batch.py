"""``voucher-ledger run FILE.jsonl``: one command per line, one JSON result per line.

Two passes. The first parses and checks every line without touching the ledger; if any line
is malformed, every malformed line is reported and nothing at all is stored (exit 2). The
second executes the lines in order, each all-or-nothing (exit 1 if a rule rejected any).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn, TextIO

from commands.envelope import Given, execute, parse_command, read_file
from commands.render import describe_event, dumps
from commands.wiring import Ledger
from ledger.errors import InvalidInput, Rejected

EXIT_OK, EXIT_REJECTED, EXIT_MALFORMED = 0, 1, 2
CATCH_UP_EVERY = 500  # lines between read-model catch-ups during a long batch


def _no_constants(name: str) -> NoReturn:
    raise InvalidInput("invalid-amount", f"{name} is not a number the ledger accepts")


def parse_line(
    text: str,
    *,
    identity: str,
    now: Callable[[], datetime],
    default_command_id: str | None = None,
    files: Callable[[Any], Any] = read_file,
) -> Given:
    try:
        # Numbers are parsed as Decimal straight from their digits: exact, never binary.
        raw = json.loads(text, parse_float=Decimal, parse_constant=_no_constants)
    except json.JSONDecodeError as e:
        raise InvalidInput("malformed-json", f"not JSON: {e.msg} at column {e.colno}") from None
    if not isinstance(raw, dict):
        raise InvalidInput("malformed-json", "each line must be a JSON object")
    return parse_command(
        raw, identity=identity, now=now, default_command_id=default_command_id, files=files
    )


def numbered_lines(path: Path) -> Iterator[tuple[int, str | InvalidInput]]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as e:
                yield number, InvalidInput("malformed-json", f"not UTF-8 at byte {e.start}")
                continue
            if text.strip():
                yield number, text


def _failure(number: int, error: InvalidInput | Rejected) -> dict[str, Any]:
    result: dict[str, Any] = {
        "line": number,
        "ok": False,
        "error": error.code,
        "message": error.message,
    }
    if isinstance(error, InvalidInput) and error.field:
        result["field"] = error.field
    return result


def run_batch(
    ledger: Ledger,
    path: Path,
    out: TextIO,
    *,
    identity: str,
    now: Callable[[], datetime],
    resume: bool = False,
    err: TextIO | None = None,
) -> int:
    # Every line's command id defaults to the file's content and the line number, so running
    # the same file again — after a crash, say — applies each line at most once.
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]

    def parsed() -> Iterator[tuple[int, Given | InvalidInput]]:
        for number, item in numbered_lines(path):
            if isinstance(item, InvalidInput):
                yield number, item
                continue
            try:
                yield (
                    number,
                    parse_line(
                        item,
                        identity=identity,
                        now=now,
                        default_command_id=f"batch-{digest}-{number}",
                    ),
                )
            except InvalidInput as e:
                yield number, e

    malformed = [(n, c) for n, c in parsed() if isinstance(c, InvalidInput)]
    if malformed:
        for number, error in malformed:
            out.write(dumps(_failure(number, error)) + "\n")
        return EXIT_MALFORMED

    rejected = late_malformed = False
    repeated = 0
    for count, (number, command) in enumerate(parsed(), start=1):
        assert isinstance(command, Given)
        try:
            if resume and ledger.app.command_done(command.context.command_id):
                repeated += 1
            events = execute(ledger.app, command)
        except Rejected as e:
            rejected = True
            out.write(dumps(_failure(number, e)) + "\n")
        except InvalidInput as e:
            # Found only when the line ran (a date that contradicts the ledger's facts): the
            # line is refused like a rejected one, and the batch goes on.
            late_malformed = True
            out.write(dumps(_failure(number, e)) + "\n")
        else:
            out.write(
                dumps({"line": number, "ok": True, "events": [describe_event(ev) for ev in events]})
                + "\n"
            )
        if count % CATCH_UP_EVERY == 0:
            ledger.runner.catch_up()
    ledger.runner.catch_up()
    if resume and err is not None:
        err.write(f"resumed: {repeated} lines were applied already and were not applied again\n")
    if late_malformed:
        return EXIT_MALFORMED
    return EXIT_REJECTED if rejected else EXIT_OK

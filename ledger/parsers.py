"""Field parsers shared by every way in (CLI strings, JSON Lines and HTTP JSON values): one
definition of what each field accepts, so all of them refuse the same inputs with the same
messages. Pure: a parser sees a value, never a file or the environment."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ledger.clock import parse_business_time, parse_date, parse_period
from ledger.errors import InvalidInput
from ledger.ids import parse_credit_code
from ledger.money import parse_amount
from ledger.programme import parse_programme_name

Parser = Callable[[Any, str], Any]


def credit_code(value: Any, name: str) -> str:
    return parse_credit_code(value, field=name)


def amount(value: Any, name: str) -> Decimal:
    return parse_amount(value, field=name)


def tax_rate(value: Any, name: str) -> Decimal:
    """A VAT rate as a decimal fraction, e.g. 0.06: more than 0, less than 1, two places."""
    rate = parse_amount(value, field=name)
    if not Decimal(0) < rate < Decimal(1):
        raise InvalidInput(
            "invalid-value", f"{name}: a tax rate such as 0.06, not {rate}", field=name
        )
    return rate


def date_(value: Any, name: str) -> Any:
    return parse_date(value, field=name)


def business_time(value: Any, name: str) -> Any:
    return parse_business_time(value, field=name)


def period(value: Any, name: str) -> str:
    return parse_period(value, field=name)


def programme(value: Any, name: str) -> str:
    return parse_programme_name(value, field=name)


# Characters no name, reference or reason ever needs, and that can hide or forge what a reader
# sees (or, NUL, what PostgreSQL can store): C0 controls, DEL and C1 controls; lone surrogates
# (what undecodable bytes become); invisible and bidirectional controls — zero-width space,
# joiners and marks (U+200B–U+200F), line and paragraph separators (U+2028–U+2029),
# embeddings and overrides (U+202A–U+202E), the word joiner and invisible operators
# (U+2060–U+2064), isolates (U+2066–U+2069), the Arabic letter mark (U+061C) and the
# zero-width no-break space / byte-order mark (U+FEFF) inside text.
_HOSTILE = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200b-\u200f\u2028-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff]"
)


def hostile_character(value: str) -> str | None:
    """The first control, invisible or bidirectional character in ``value``, described
    (``U+0000``), or None if there is none."""
    found = _HOSTILE.search(value)
    return None if found is None else f"U+{ord(found.group()):04X}"


def refuse_hostile(value: str, name: str) -> None:
    """Refuse text holding a control, invisible or bidirectional character (named, with the
    character's code point and where it is)."""
    found = _HOSTILE.search(value)
    if found is not None:
        raise InvalidInput(
            "invalid-value",
            f"{name}: character {found.start() + 1} is U+{ord(found.group()):04X}, a control, "
            "invisible or bidirectional character; only printable text is accepted",
            field=name,
        )


def text(max_length: int = 200) -> Parser:
    def parse(value: Any, name: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput("invalid-value", f"{name}: expected non-empty text", field=name)
        if len(value) > max_length:
            raise InvalidInput(
                "invalid-value",
                f"{name}: at most {max_length} printable characters",
                field=name,
            )
        refuse_hostile(value, name)
        return value.strip()

    return parse


def choice(*options: str) -> Parser:
    def parse(value: Any, name: str) -> str:
        if value not in options:
            raise InvalidInput(
                "invalid-value",
                f"{name}: {value!r} is not one of {', '.join(options)}",
                field=name,
            )
        return str(value)

    return parse


def year(value: Any, name: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 2000 <= value <= 2100:
        raise InvalidInput("invalid-value", f"{name}: {value!r} is not a year", field=name)
    return value


def repeated(parse: Parser) -> Parser:
    def parse_all(value: Any, name: str) -> list[Any]:
        if not isinstance(value, list) or not value:
            raise InvalidInput("invalid-value", f"{name}: expected a non-empty list", field=name)
        return [parse(v, f"{name}[{i}]") for i, v in enumerate(value)]

    return parse_all


def _pairs(value: Any, name: str) -> dict[str, Any]:
    """A JSON object as it is; on the command line, repeated ``KEY=VALUE`` options."""
    if isinstance(value, list):
        pairs = {}
        for item in value:
            key, sep, val = str(item).partition("=")
            if not sep:
                raise InvalidInput(
                    "invalid-value", f"{name}: {item!r} is not KEY=VALUE", field=name
                )
            pairs[key.strip()] = val
        value = pairs
    if not isinstance(value, dict):
        raise InvalidInput("invalid-value", f"{name}: expected an object", field=name)
    return value


def keyed(parse: Parser, keys: tuple[str, ...]) -> Parser:
    """A mapping from known keys to values."""

    def parse_all(value: Any, name: str) -> dict[str, Any]:
        pairs = _pairs(value, name)
        unknown = sorted(set(pairs) - set(keys))
        if unknown:
            raise InvalidInput(
                "invalid-value",
                f"{name}: {unknown[0]!r} is not one of {', '.join(keys)}",
                field=name,
            )
        return {k: parse(v, f"{name}.{k}") for k, v in pairs.items()}

    return parse_all


def mapping(parse_key: Parser, parse_value: Parser) -> Parser:
    """A mapping whose keys are checked too (e.g. credit code → amount)."""

    def parse_all(value: Any, name: str) -> dict[str, Any]:
        return {
            parse_key(k, f"{name} key"): parse_value(v, f"{name}.{k}")
            for k, v in _pairs(value, name).items()
        }

    return parse_all


def boolean(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "true", "no", "false"):
        return value.strip().lower() in ("yes", "true")
    raise InvalidInput("invalid-value", f"{name}: {value!r} is not yes/no", field=name)


def objects(shape: dict[str, tuple[Parser, bool]]) -> Parser:
    """A list of JSON objects with these fields (parser, required). On the command line: the
    JSON text itself (the CLI reads @FILE for it)."""

    def parse_all(value: Any, name: str) -> list[dict[str, Any]]:
        if isinstance(value, str):  # the command line gives the JSON text itself
            try:
                value = json.loads(value, parse_float=Decimal)
            except json.JSONDecodeError as e:
                raise InvalidInput(
                    "invalid-value", f"{name}: not JSON ({e.msg})", field=name
                ) from None
        if not isinstance(value, list) or not value:
            raise InvalidInput("invalid-value", f"{name}: expected a non-empty list", field=name)
        out = []
        for i, item in enumerate(value):
            where = f"{name}[{i}]"
            if not isinstance(item, dict):
                raise InvalidInput("invalid-value", f"{where}: expected an object", field=name)
            unknown = sorted(set(item) - set(shape))
            if unknown:
                raise InvalidInput(
                    "unknown-field", f"{where}.{unknown[0]}: no such field", field=name
                )
            parsed = {}
            for key, (parse, required) in shape.items():
                if key not in item:
                    if required:
                        raise InvalidInput("missing-field", f"{where}.{key}: required", field=name)
                    continue
                parsed[key] = parse(item[key], f"{where}.{key}")
            out.append(parsed)
        return out

    return parse_all


def count(low: int, high: int) -> Parser:
    """A whole number of days, lines or the like, within bounds."""

    def parse(value: Any, name: str) -> int:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidInput(
                "invalid-value", f"{name}: {value!r} is not a whole number {low}…{high}", field=name
            )
        return value

    return parse


@dataclass(frozen=True)
class FileContent:
    """A file a command carries: its name (as given) and its bytes. The way in reads the file;
    the ledger only ever sees the content."""

    name: str
    data: bytes


def file_content(value: Any, name: str) -> FileContent:
    if not isinstance(value, FileContent):
        raise InvalidInput("invalid-value", f"{name}: expected a file", field=name)
    return value


def month(value: Any, name: str) -> str:
    """An accounting month, ``YYYY-MM``."""
    if isinstance(value, str) and re.fullmatch(r"(19|20)\d\d-(0[1-9]|1[0-2])", value.strip()):
        return value.strip()
    raise InvalidInput("invalid-value", f"{name}: {value!r} is not a month, YYYY-MM", field=name)

r"""Output for people (aligned tables, amounts with thousands separators) and for machines
(JSON; CSV as UTF-8 with a byte-order mark so Excel opens Chinese names cleanly).

Every CSV the ledger writes goes through :func:`csv_rows`: a cell a spreadsheet would read as a
formula — text beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return — is
prefixed with a single quote (OWASP's rule against CSV injection). Numbers are left as they are:
an amount or count the ledger formats (``-1200.00``, ``42``) matches ``^-?\d+(\.\d+)?$`` and
cannot be a formula, so a negative amount stays a number for the spreadsheet."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TextIO
from uuid import UUID

from projections.reports import Report

FORMATS = ("table", "json", "csv")


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}" if value.as_tuple().exponent == -2 else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return value.hex
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def dumps(value: Any) -> str:
    return json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":"))


def describe_event(event: Any) -> dict[str, Any]:
    """An event as the batch runner and the CLI print it."""
    state = {
        k: v
        for k, v in vars(event).items()
        if k not in ("originator_id", "originator_version", "timestamp", "originator_topic")
    }
    name = type(event).__qualname__
    return {"event": name, "id": event.originator_id, "version": event.originator_version, **state}


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def csv_cell(value: Any) -> Any:
    """One CSV cell, safe to open in a spreadsheet: a value as :func:`jsonable` gives it, with
    text that could start a formula prefixed by ``'``; numbers (and number text) unchanged."""
    value = jsonable(value)
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_STARTS)
        and not _NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def csv_rows(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A whole CSV text (CRLF line ends, no byte-order mark), every cell through
    :func:`csv_cell` — the column names too."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_cell(c) for c in columns])
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cell(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return "" if value is None else str(value)


def render(report: Report, fmt: str, out: TextIO) -> None:
    if fmt == "json":
        out.write(dumps({"report": report.title, "rows": report.rows, "totals": report.totals}))
        out.write("\n")
    elif fmt == "csv":
        rows = ([row.get(c) for c in report.columns] for row in report.rows)
        out.write("\ufeff" + csv_rows(report.columns, rows))
    else:
        render_table(report, out)


def render_table(report: Report, out: TextIO, limit: int | None = None) -> None:
    shown = report.rows if limit is None else report.rows[:limit]
    body = [[_cell(r.get(c)) for c in report.columns] for r in shown]
    footer = [_cell(report.totals.get(c)) for c in report.columns] if report.totals else None
    grid = [report.columns, *body, *([footer] if footer else [])]
    widths = [max(_width(row[i]) for row in grid) for i in range(len(report.columns))]
    numeric = [
        any(isinstance(r.get(c), Decimal | int) for r in report.rows) for c in report.columns
    ]

    def line(cells: list[str]) -> str:
        parts = []
        for cell, w, right in zip(cells, widths, numeric, strict=True):
            pad = " " * (w - _width(cell))
            parts.append(pad + cell if right else cell + pad)
        return "  ".join(parts).rstrip()

    out.write(f"{report.title}\n")
    out.write(line(report.columns) + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for cells in body:
        out.write(line(cells) + "\n")
    if limit is not None and len(report.rows) > limit:
        out.write(f"… {len(report.rows) - limit} more rows (use --format csv for all)\n")
    if footer:
        out.write("  ".join("-" * w for w in widths) + "\n")
        out.write(line(footer) + "\n")

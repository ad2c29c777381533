"""Hostile and broken input: whatever arrives, a named error and exit code 2 for malformed
input, never a traceback, and nothing stored from a malformed file."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.batch import EXIT_MALFORMED, run_batch
from commands.wiring import open_ledger
from ledger.errors import ALL_CODES, InvalidInput
from ledger.statements import read_statement
from ledger.vocabulary import DECLARATIONS
from tests.scenario import at

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.text(max_size=30)
    | st.floats(allow_nan=True)
    | st.sampled_from(
        ["12.345", "-1", "1e9", "NaN", "2025-13-01", "91510100MA61R0BQ4E", "2025-02-01"]
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
FIELD_NAMES = sorted(
    {f.name for d in DECLARATIONS.values() for f in d.field_specs()} | {"at", "command_id"}
)


@st.composite
def command_lines(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["garbage", "object", "command"]))
    if kind == "garbage":
        return draw(st.text(max_size=60).filter(lambda t: "\n" not in t and "\r" not in t))
    fields = draw(st.dictionaries(st.sampled_from(FIELD_NAMES), VALUES, max_size=6))
    if kind == "command":
        fields["command"] = draw(st.sampled_from([*sorted(DECLARATIONS), "nope"]))
    return json.dumps(fields, default=str)


def _count(ledger) -> int:  # type: ignore[no-untyped-def]
    return int(ledger.app.recorder.max_notification_id() or 0)


@FUZZ
@given(lines=st.lists(command_lines(), min_size=1, max_size=6))
def test_any_batch_gets_named_results_and_a_malformed_one_stores_nothing(
    lines: list[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    ledger = open_ledger(str(folder / "f.db"))
    try:
        before = _count(ledger)
        source = folder / "in.jsonl"
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out = io.StringIO()
        code = run_batch(ledger, source, out, identity="fuzz", now=lambda: at().at)
        results = [json.loads(r) for r in out.getvalue().splitlines()]
        assert code in (0, 1, 2)
        for r in results:
            assert r["ok"] or r["error"] in ALL_CODES
        if code == EXIT_MALFORMED:
            assert _count(ledger) == before
            assert all(not r["ok"] for r in results)
    finally:
        ledger.close()


@FUZZ
@given(data=st.binary(max_size=400))
def test_non_utf8_and_binary_batches_are_malformed(
    data: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("bytes")
    ledger = open_ledger(str(folder / "b.db"))
    created = _count(ledger)  # the ledger's creation (its clock) is recorded when first opened
    try:
        source = folder / "in.jsonl"
        source.write_bytes(data)
        out = io.StringIO()
        code = run_batch(ledger, source, out, identity="fuzz", now=lambda: at().at)
        assert code in (0, 1, 2)
        if code == EXIT_MALFORMED:
            assert _count(ledger) == created
    finally:
        ledger.close()


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.lists(
            st.lists(
                st.text(max_size=12) | st.decimals(places=3, allow_nan=False).map(str), max_size=6
            ),
            max_size=8,
        ).map(
            lambda rows: "\n".join(
                ",".join(r) for r in [["交易日期", "对方户名", "金额"], *rows]
            ).encode("utf-8")
        ),
    )
)
def test_any_statement_is_imported_or_refused_by_name(data: bytes) -> None:
    try:
        digest, lines = read_statement(data)
    except InvalidInput as e:
        assert e.code in ALL_CODES and e.message
    else:
        assert len(digest) == 64
        assert all(isinstance(line.amount, Decimal) and line.amount > 0 for line in lines)


def test_huge_numbers_and_three_decimals_are_refused_with_the_line_and_field(
    tmp_path: Path,
) -> None:
    ledger = open_ledger(str(tmp_path / "h.db"))
    try:
        source = tmp_path / "h.jsonl"
        source.write_text(
            json.dumps(
                {
                    "command": "redeem",
                    "voucher": "CD-2025-INC-0001",
                    "supplier": "91510100MA6CJ8UQ10",
                    "bill_amount": 10**40,
                    "invoice_number": "X",
                    "service_kind": "compute",
                    "service_date": "2025-03-01",
                }
            )
            + "\n",
            encoding="utf-8",
        )
        out = io.StringIO()
        assert run_batch(ledger, source, out, identity="f", now=lambda: at().at) == 2
        result = json.loads(out.getvalue())
        assert (result["line"], result["error"], result["field"]) == (
            1,
            "invalid-amount",
            "bill_amount",
        )
    finally:
        ledger.close()

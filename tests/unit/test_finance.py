"""Finance: statements, reconciliation and its invariant, on the in-memory store."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidInput
from ledger.events import Context
from ledger.finance import BankStatement, StatementLine
from ledger.handlers.finance import (
    CancelPayment,
    ImportStatement,
    Reconcile,
    RecordSettlement,
    ResolveException,
)
from ledger.handlers.inclusive import ClaimReimbursement, Reimburse
from ledger.parsers import FileContent
from ledger.statements import read_statement
from tests.scenario import PROGRAMME, World, at, in_memory_ledger, rejected

EVIDENCE = {"contract": "HT", "payment-proof": "P", "invoice": "FP", "service-proof": "U"}


def instructions(world: World, count: int, bills: list[int] | None = None) -> list[str]:
    """``count`` reimbursements at supplier 0, instructed on 2025-04-02; their references."""
    refs = []
    for n in range(count):
        voucher = (
            world.issue(n % len(world.applicants))
            if n < len(world.applicants)
            else (world.app.programme(PROGRAMME).voucher_numbers()[0])
        )
        bill = (bills or [])[n] if bills else 2000 + n
        world.redeem(
            voucher, bill=f"{bill}.00", invoice=f"I{n}", service=date(2025, 3, 1), ctx=at(3, 2)
        )
        world.app.execute(
            at(3, 20),
            ClaimReimbursement(
                supplier=world.suppliers[0], invoice_number=f"I{n}", evidence=EVIDENCE
            ),
        )
        events = world.app.execute(
            at(4, 2), Reimburse(supplier=world.suppliers[0], invoice_number=f"I{n}")
        )
        refs.append(str(events[1].reference))  # type: ignore[attr-defined]
    return refs


def statement_file(lines: list[StatementLine], name: str = "bank.csv") -> FileContent:
    """The lines as the bank's CSV export holds them (line 1 is the header)."""
    rows = ["value_date,counterparty_name,counterparty_account,amount,reference"]
    for number, item in enumerate(lines, start=2):
        assert item.line == number, "lines are numbered as the file numbers them"
        rows.append(
            f"{item.value_date},{item.counterparty_name},{item.counterparty_account},"
            f"{item.amount},{item.reference}"
        )
    return FileContent(name, ("\n".join(rows) + "\n").encode("utf-8"))


def import_lines(world: World, lines: list[StatementLine], when: Context | None = None) -> str:
    events = world.app.execute(when or at(5, 1), ImportStatement(file=statement_file(lines)))
    return str(events[0].originator_id) if events else ""


def reconcile(world: World, refs: list[str], day: int = 15, month: int = 5) -> Counter[str]:
    events = world.app.execute(at(month, day), Reconcile())
    return Counter(
        getattr(e, "outcome", None) or type(e).__qualname__.split(".")[1]
        for e in events
        if type(e).__qualname__
        in ("BankStatement.LineMatched", "PaymentInstruction.ReportedMissing")
    )


def _statements(world: World) -> list[BankStatement]:
    imported = world.app.events_of(BankStatement.Imported)
    return [world.app.repository.get(e.originator_id) for e in imported]


def line(n: int, ref: str, amount: Decimal, name: str = "智算中心0") -> StatementLine:
    return StatementLine(n, date(2025, 4, 10), name, "", amount, f"补贴款 {ref}")


def test_299_settled_1_mismatch_1_unexpected_1_missing() -> None:
    world = World(in_memory_ledger(), applicants=300, suppliers=1)
    refs = instructions(world, 301)
    payable = {r: world.app.payment(r).payable for r in refs}
    lines = [line(n + 2, r, payable[r]) for n, r in enumerate(refs[:299])]
    lines.append(line(301, refs[299], payable[refs[299]] + Decimal("0.10")))
    lines.append(line(302, "PI-XX-UNKNOWN", Decimal("777.00"), name="某某公司"))
    import_lines(world, lines)
    outcomes = reconcile(world, refs)
    assert outcomes == Counter(
        {"settled": 299, "amount-mismatch": 1, "unexpected": 1, "ReportedMissing": 1}
    )
    states = Counter(world.app.payment(r).reconciliation_state for r in refs)
    assert states == Counter({"settled": 299, "mismatch": 1, "missing": 1})
    # Reconciling again changes nothing.
    assert reconcile(world, refs) == Counter()
    # The bank pays the missing one later: settled, and its exception resolved.
    late = line(2, refs[300], payable[refs[300]])
    import_lines(world, [late], at(6, 1))
    assert reconcile(world, refs, 2, 6) == Counter({"settled": 1})
    assert world.app.payment(refs[300]).reconciliation_state == "settled"


def test_matching_by_payee_amount_and_date_when_the_reference_is_absent() -> None:
    world = World(in_memory_ledger(), applicants=3, suppliers=1)
    refs = instructions(world, 2, bills=[3000, 4000])
    lines = [StatementLine(2, date(2025, 4, 5), "智算中心0", "", Decimal("2000.00"), "")]
    lines.append(StatementLine(3, date(2025, 6, 1), "智算中心0", "", Decimal("1500.00"), ""))
    import_lines(world, lines)
    assert reconcile(world, refs, 3, 6) == Counter(
        {"settled": 1, "unexpected": 1, "ReportedMissing": 1}
    )
    assert world.app.payment(refs[1]).reconciliation_state == "settled"


def test_a_second_payment_is_a_duplicate_and_a_cancelled_one_cannot_be_settled() -> None:
    world = World(in_memory_ledger(), applicants=3, suppliers=1)
    refs = instructions(world, 2)
    world.app.execute(at(4, 3), CancelPayment(payment=refs[1], reason="issued in error"))
    rejected(
        "payment-cancelled",
        world.app.execute,
        at(4, 4),
        RecordSettlement(
            payment=refs[1],
            amount=world.app.payment(refs[1]).payable,
            bank_reference="B",
            value_date=date(2025, 4, 4),
        ),
    )
    amount = world.app.payment(refs[0]).payable
    import_lines(
        world,
        [
            line(2, refs[0], amount),
            line(3, refs[0], amount),
            line(4, refs[1], world.app.payment(refs[1]).payable),
        ],
    )
    assert reconcile(world, refs) == Counter(
        {"settled": 1, "duplicate-payment": 1, "paid-after-cancel": 1}
    )


def test_importing_the_same_statement_twice_changes_nothing() -> None:
    world = World(in_memory_ledger(), applicants=1, suppliers=1)
    lines = [line(2, "X", Decimal("1.00"))]
    assert world.app.execute(at(5, 1), ImportStatement(file=statement_file(lines, "a.csv")))
    again = ImportStatement(file=statement_file(lines, "a-again.csv"))
    assert world.app.execute(at(5, 2), again) == []


def test_exceptions_stay_open_until_resolved() -> None:
    world = World(in_memory_ledger(), applicants=1, suppliers=1)
    instructions(world, 1)
    import_lines(world, [line(2, "NOTHING", Decimal("5.00"), name="陌生人")])
    events = world.app.execute(at(4, 20), Reconcile())
    (raised,) = [e for e in events if type(e).__qualname__ == "ReconciliationException.Opened"]
    reference = raised.reference  # type: ignore[attr-defined]
    world.app.execute(
        at(4, 21), ResolveException(exception=reference, reason="bank: misdirected, reversed")
    )
    rejected(
        "exception-resolved",
        world.app.execute,
        at(4, 22),
        ResolveException(exception=reference, reason="again"),
    )


# ---- statements (CSV) ------------------------------------------------------------------


HEADER_CN = "交易日期,对方户名,对方账号,金额,摘要\n"


def test_chinese_headers_with_bom_and_gbk_import_alike() -> None:
    body = '2025-04-10,成都智算中心,6222001,"1,500.00",补贴款 PI-CD-2025-ABC\n'
    utf8 = ("\ufeff" + HEADER_CN + body).encode("utf-8")
    gbk = (HEADER_CN + body).encode("gbk")
    d1, lines1 = read_statement(utf8)
    d2, lines2 = read_statement(gbk)
    assert d1 == d2 and lines1 == lines2
    assert lines1[0].amount == Decimal("1500.00") and lines1[0].counterparty_account == "6222001"


def test_a_bad_amount_on_line_57_refuses_the_whole_file() -> None:
    rows = [f"2025-04-{1 + n % 28:02d},某公司,,100.00,ref{n}\n" for n in range(60)]
    rows[55] = "2025-04-10,某公司,,12.345,ref55\n"  # file line 57 (line 1 is the header)
    with pytest.raises(InvalidInput) as caught:
        read_statement((HEADER_CN + "".join(rows)).encode("utf-8"))
    assert "line 57" in caught.value.message and "nothing imported" in caught.value.message


def test_unreadable_or_headless_statements_are_refused_clearly() -> None:
    with pytest.raises(InvalidInput, match="neither UTF-8 nor GBK"):
        read_statement(b"\xff\xfe\x00\x01garbage\x80\x81")
    with pytest.raises(InvalidInput, match="no column for amount"):
        read_statement("交易日期,对方户名\n2025-01-01,x\n".encode())
    _, lines = read_statement(
        b"when,who,how much\n2025-01-02,x,3.00\n",
        {"value_date": "when", "counterparty_name": "who", "amount": "how much"},
    )
    assert lines[0].amount == Decimal("3.00")


# ---- the invariant ---------------------------------------------------------------------


@settings(max_examples=20)
@given(
    st.lists(st.integers(2000, 9000), min_size=1, max_size=8),
    st.lists(
        st.tuples(st.integers(0, 9), st.sampled_from(["exact", "wrong", "dup", "stranger"])),
        max_size=12,
    ),
    st.integers(0, 60),
)
def test_every_instruction_is_in_exactly_one_state_and_the_states_add_up(
    bills: list[int], plan: list[tuple[int, str]], days_later: int
) -> None:
    world = World(in_memory_ledger(), applicants=len(bills), suppliers=1)
    refs = instructions(world, len(bills), bills=bills)
    payable = {r: world.app.payment(r).payable for r in refs}
    lines = []
    for n, (which, kind) in enumerate(plan):
        ref = refs[which % len(refs)]
        amount = {
            "exact": payable[ref],
            "dup": payable[ref],
            "wrong": payable[ref] + 1,
            "stranger": Decimal("3.33"),
        }[kind]
        lines.append(
            line(
                n + 2,
                ref if kind != "stranger" else "?",
                amount,
                "陌生人" if kind == "stranger" else "智算中心0",
            )
        )
    if lines:
        import_lines(world, lines)
    when = date(2025, 4, 2) + timedelta(days=days_later)
    world.app.execute(at(when.month, when.day), Reconcile())
    states = {r: world.app.payment(r).reconciliation_state for r in refs}
    assert set(states.values()) <= {"settled", "mismatch", "missing", "outstanding", "cancelled"}
    total = sum(payable.values(), start=Decimal(0))
    by_state: dict[str, Decimal] = {}
    for r, state in states.items():
        by_state[state] = by_state.get(state, Decimal(0)) + payable[r]
    assert sum(by_state.values(), start=Decimal(0)) == total
    for statement in _statements(world):
        assert set(statement.matched) == {ln.line for ln in statement.lines}  # every line decided

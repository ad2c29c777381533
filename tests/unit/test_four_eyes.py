"""Four eyes on money (issue 15): an instruction is paid only after a second person approved it,
never to a barred payee; a bank payment that breaks the rule is recorded and flagged.

Given a Chengdu year in which suppliers' bills were reimbursed (the instructions given by the
clerk "test"), when finance approves, settles, reconciles or approves in bulk, then these
events or this refusal."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from ledger.application import VoucherLedger
from ledger.enforcement import EntityRecord
from ledger.events import Context
from ledger.finance import ReconciliationException, StatementLine, payment_concerns
from ledger.handlers.enforcement import RecordCreditListing
from ledger.handlers.finance import (
    ApprovePayment,
    ApprovePayments,
    CancelPayment,
    ImportStatement,
    Reconcile,
    RecordSettlement,
    ResolveException,
    plan_approvals,
)
from ledger.handlers.inclusive import ClaimReimbursement, Reimburse
from ledger.parsers import FileContent
from ledger.payment import BulkApproval, PaymentInstruction, people
from tests.scenario import PROGRAMME, World, at, event_names, in_memory_ledger, rejected

EVIDENCE = {"contract": "HT", "payment-proof": "P", "invoice": "FP", "service-proof": "U"}
WANG = "wang.finance"


def by(actor: str, ctx: Context) -> Context:
    return replace(ctx, actor=actor)


def reimbursed(world: World, n: int, supplier: int = 0, ctx: Context | None = None) -> str:
    """Applicant ``n``'s voucher redeemed at ``supplier`` (bill 2000 + n), claimed and
    reimbursed on 2025-04-02 by ``ctx``'s actor ("test" unless given); the reference."""
    voucher = world.issue(n)
    invoice = f"I{n}"
    world.redeem(
        voucher,
        bill=f"{2000 + n}.00",
        invoice=invoice,
        supplier=supplier,
        service=date(2025, 3, 1),
        ctx=at(3, 2),
    )
    code = world.suppliers[supplier]
    world.app.execute(
        at(3, 20), ClaimReimbursement(supplier=code, invoice_number=invoice, evidence=EVIDENCE)
    )
    events = world.app.execute(ctx or at(4, 2), Reimburse(supplier=code, invoice_number=invoice))
    return str(events[1].reference)  # type: ignore[attr-defined]


def bar_without_stopping(app: VoucherLedger, credit_code: str, first_day: date) -> None:
    """A payee barred while an instruction to it stayed open — what a back-dated entry made
    before the trust rules could leave behind (issue 15): the bar only, nothing stopped."""
    ctx = at(4, 5)
    record = app.entity_record(credit_code) or EntityRecord.start(ctx, credit_code)
    record.debar(ctx, "C-OLD", app.programme_terms(PROGRAMME).policy, first_day)
    app.save(record)


def settle(world: World, reference: str, ctx: Context | None = None) -> list[str]:
    payment = world.app.payment(reference)
    return event_names(
        world.app.execute(
            ctx or by(WANG, at(4, 20)),
            RecordSettlement(
                payment=reference,
                amount=payment.payable,
                bank_reference="ICBC-1",
                value_date=date(2025, 4, 18),
            ),
        )
    )


def open_exceptions(app: VoucherLedger) -> dict[str, str]:
    """Kind of every open exception, by payment reference and kind."""
    found: dict[str, str] = {}
    for event in app.events_of(ReconciliationException.Opened):
        exception: ReconciliationException = app.repository.get(event.originator_id)
        if exception.open:
            found[f"{event.payment_reference} {event.kind}"] = exception.reference
    return found


# ---- approval ---------------------------------------------------------------------------


def test_the_instructor_may_not_approve_their_own_instruction_a_second_person_may() -> None:
    world = World(in_memory_ledger(), applicants=1, suppliers=1)
    reference = reimbursed(world, 0)
    assert world.app.payment(reference).instructed_by == "test"
    refusal = rejected(
        "approver-is-instructor", world.app.execute, at(4, 5), ApprovePayment(payment=reference)
    )
    assert "test" in refusal.message and "four eyes" in refusal.message
    assert not world.app.payment(reference).approved
    events = world.app.execute(by(WANG, at(4, 5)), ApprovePayment(payment=reference, note="ok"))
    assert event_names(events) == ["PaymentInstruction.Approved"]
    payment = world.app.payment(reference)
    assert (payment.approved, payment.approved_by) == (True, WANG)
    # Approving again changes nothing, whoever asks.
    assert world.app.execute(at(4, 6), ApprovePayment(payment=reference)) == []


def test_whoever_entered_an_instruction_on_someones_behalf_may_not_approve_it() -> None:
    assert people("li (entered by admin)") == {"li", "admin"}
    assert people("li") == {"li"}
    entered = Context(
        datetime(2025, 4, 2, 9, tzinfo=ZoneInfo("Asia/Shanghai")), "li", "c", entered_by="admin"
    )
    payment = PaymentInstruction.instruct(
        entered,
        payee="S",
        payee_name="S",
        payee_account="",
        instrument="inclusive",
        amount=Decimal("1.00"),
        purpose="p",
        programme=PROGRAMME,
        year=2025,
        funding_source="city",
        decision="d",
        basis={},
    )
    assert payment.instructed_by == "li (entered by admin)"
    for person in ("li", "admin"):
        refusal = payment.approval_refusal(replace(entered, actor=person, entered_by=""))
        assert refusal is not None and refusal.code == "approver-is-instructor"
    assert payment.approval_refusal(replace(entered, actor=WANG, entered_by="")) is None


def test_approving_a_payment_to_a_barred_payee_is_refused_even_back_dated() -> None:
    world = World(in_memory_ledger(), applicants=1, suppliers=1)
    reference = reimbursed(world, 0)
    bar_without_stopping(world.app, world.suppliers[0], date(2025, 4, 4))
    rejected(
        "entity-debarred", world.app.execute, by(WANG, at(4, 5)), ApprovePayment(payment=reference)
    )
    # Dated before the bar began: what is already recorded binds all the same.
    rejected(
        "entity-debarred", world.app.execute, by(WANG, at(4, 3)), ApprovePayment(payment=reference)
    )
    assert not world.app.payment(reference).approved


def test_approving_a_payment_to_a_payee_with_a_disqualifying_listing_is_refused() -> None:
    world = World(in_memory_ledger(), applicants=1, suppliers=1)
    reference = reimbursed(world, 0)
    world.app.execute(
        at(4, 4),
        RecordCreditListing(
            entity=world.suppliers[0],
            reference="SD-1",
            kind="serious-dishonesty",
            source="credit china",
            listed_from=date(2025, 4, 3),
        ),
    )
    rejected(
        "credit-record-in-lookback",
        world.app.execute,
        by(WANG, at(4, 5)),
        ApprovePayment(payment=reference),
    )


def test_a_cancelled_or_stopped_instruction_cannot_be_approved() -> None:
    world = World(in_memory_ledger(), applicants=2, suppliers=1)
    cancelled, stopped = reimbursed(world, 0), reimbursed(world, 1)
    world.app.execute(by(WANG, at(4, 3)), CancelPayment(payment=cancelled, reason="twice"))
    rejected(
        "payment-cancelled",
        world.app.execute,
        by(WANG, at(4, 4)),
        ApprovePayment(payment=cancelled),
    )
    payment = world.app.payment(stopped)
    payment.stop(at(4, 3), "C-1")
    world.app.save(payment)
    rejected(
        "payment-stopped", world.app.execute, by(WANG, at(4, 4)), ApprovePayment(payment=stopped)
    )


# ---- settlement -------------------------------------------------------------------------


def test_a_recorded_settlement_of_an_unapproved_instruction_is_kept_and_flagged() -> None:
    world = World(in_memory_ledger(), applicants=2, suppliers=1)
    unapproved, approved = reimbursed(world, 0), reimbursed(world, 1)
    world.app.execute(by(WANG, at(4, 5)), ApprovePayment(payment=approved))
    assert settle(world, unapproved) == [
        "PaymentInstruction.Settled",
        "ReconciliationException.Opened",
    ]
    assert world.app.payment(unapproved).reconciliation_state == "settled"
    assert settle(world, approved) == ["PaymentInstruction.Settled"]
    assert list(open_exceptions(world.app)) == [f"{unapproved} settled-unapproved"]


def test_a_reconciled_payment_of_an_unapproved_instruction_is_settled_and_flagged() -> None:
    world = World(in_memory_ledger(), applicants=2, suppliers=1)
    unapproved, approved = reimbursed(world, 0), reimbursed(world, 1)
    world.app.execute(by(WANG, at(4, 5)), ApprovePayment(payment=approved))
    lines = [
        StatementLine(
            n, date(2025, 4, 10), "智算中心0", "", world.app.payment(ref).payable, f"补贴 {ref}"
        )
        for n, ref in ((2, unapproved), (3, approved))
    ]
    rows = ["value_date,counterparty_name,counterparty_account,amount,reference"] + [
        f"{x.value_date},{x.counterparty_name},,{x.amount},{x.reference}" for x in lines
    ]
    world.app.execute(
        at(4, 30),
        ImportStatement(file=FileContent("bank.csv", ("\n".join(rows) + "\n").encode())),
    )
    events = world.app.execute(by(WANG, at(5, 1)), Reconcile())
    outcomes = [getattr(e, "outcome", "") for e in events]
    assert outcomes.count("settled") == 2
    assert world.app.payment(unapproved).reconciliation_state == "settled"
    flagged = open_exceptions(world.app)
    assert list(flagged) == [f"{unapproved} settled-unapproved"]
    # Reconciling again opens nothing twice; the exception stays open until resolved.
    assert world.app.execute(by(WANG, at(5, 2)), Reconcile()) == []
    world.app.execute(
        by(WANG, at(5, 3)),
        ResolveException(
            exception=flagged[f"{unapproved} settled-unapproved"],
            reason="approved after the fact by the director, memo 12",
        ),
    )
    assert open_exceptions(world.app) == {}


def test_a_payment_to_a_payee_barred_on_the_value_date_is_flagged() -> None:
    world = World(in_memory_ledger(), applicants=2, suppliers=2)
    barred, fine = reimbursed(world, 0, supplier=0), reimbursed(world, 1, supplier=1)
    for reference in (barred, fine):
        world.app.execute(by(WANG, at(4, 5)), ApprovePayment(payment=reference))
    bar_without_stopping(world.app, world.suppliers[0], date(2025, 4, 10))
    assert settle(world, barred) == [
        "PaymentInstruction.Settled",
        "ReconciliationException.Opened",
    ]
    assert settle(world, fine) == ["PaymentInstruction.Settled"]
    assert list(open_exceptions(world.app)) == [f"{barred} settled-to-barred-payee"]


def test_what_a_payment_by_the_bank_raises_is_decided_by_one_pure_function() -> None:
    world = World(in_memory_ledger(), applicants=1, suppliers=1)
    payment = world.app.payment(reimbursed(world, 0))
    day = date(2025, 4, 18)
    assert [k for k, _ in payment_concerns(payment, day, None)] == ["settled-unapproved"]
    assert [k for k, _ in payment_concerns(payment, day, lambda p, d: "barred")] == [
        "settled-unapproved",
        "settled-to-barred-payee",
    ]
    payment.approve(by(WANG, at(4, 5)), "ok")
    assert payment_concerns(payment, day, lambda p, d: None) == []
    payment.stop(at(4, 6), "C-1")  # paying a stopped one is a paid-after-cancel outcome
    assert payment_concerns(payment, day, lambda p, d: "barred") == []


# ---- approval in bulk ---------------------------------------------------------------------


def bulk_world() -> tuple[World, dict[str, str]]:
    """Four instructions: two by the clerk "test" at supplier 0, one by wang at supplier 0,
    one by the clerk to supplier 1 (then barred), instructed on 2 and 9 April."""
    world = World(in_memory_ledger(), applicants=4, suppliers=2)
    refs = {
        "early": reimbursed(world, 0),
        "late": reimbursed(world, 1, ctx=at(4, 9)),
        "wangs": reimbursed(world, 2, ctx=by(WANG, at(4, 2))),
        "barred": reimbursed(world, 3, supplier=1),
    }
    bar_without_stopping(world.app, world.suppliers[1], date(2025, 4, 4))
    return world, refs


def test_bulk_approval_approves_what_it_may_and_records_what_it_skipped() -> None:
    world, refs = bulk_world()
    events = world.app.execute(by(WANG, at(4, 20)), ApprovePayments(note="April reviewed"))
    assert event_names(events) == ["PaymentInstruction.Approved"] * 2 + ["BulkApproval.Run"]
    run = events[-1]
    assert isinstance(run, BulkApproval.Run)
    assert run.approved == [refs["early"], refs["late"]]
    assert {s["reference"]: s["code"] for s in run.skipped} == {
        refs["wangs"]: "approver-is-instructor",
        refs["barred"]: "entity-debarred",
    }
    assert [world.app.payment(r).approved for r in refs.values()] == [True, True, False, False]
    # Nothing left that wang may approve: a second run approves nothing and skips the same.
    again = world.app.execute(by(WANG, at(4, 21)), ApprovePayments())
    assert event_names(again) == ["BulkApproval.Run"]
    # Another person may approve wang's instruction; nobody the barred payee's.
    done = world.app.execute(by("zhao.finance", at(4, 22)), ApprovePayments())
    assert done[-1].approved == [refs["wangs"]]  # type: ignore[attr-defined]
    assert [s["code"] for s in done[-1].skipped] == ["entity-debarred"]  # type: ignore[attr-defined]


def test_bulk_approval_filters_by_programme_purpose_payee_and_instruction_date() -> None:
    world, refs = bulk_world()
    wang = by(WANG, at(4, 20))

    def planned(**filters: object) -> list[str]:
        return [a.reference for a in plan_approvals(world.app, wang, ApprovePayments(**filters))]  # type: ignore[arg-type]

    everything = [refs["early"], refs["wangs"], refs["barred"], refs["late"]]
    assert sorted(planned()) == sorted(everything)
    assert planned(up_to=date(2025, 4, 8)) == sorted(
        [refs["early"], refs["wangs"], refs["barred"]],
        key=lambda r: (world.app.payment(r).instructed_on, r),
    )
    assert planned(payee=world.suppliers[1]) == [refs["barred"]]
    assert planned(programme="CD-2026") == []
    assert planned(purpose="supplier-subsidy") == []
    assert sorted(planned(purpose="inclusive-voucher-reimbursement")) == sorted(everything)
    events = world.app.execute(wang, ApprovePayments(up_to=date(2025, 4, 8)))
    assert events[-1].approved == [refs["early"]]  # type: ignore[attr-defined]
    assert not world.app.payment(refs["late"]).approved


def test_a_preview_stores_nothing_and_says_what_would_be_approved() -> None:
    world, refs = bulk_world()
    wang = by(WANG, at(4, 20))
    before = len(list(world.app.events_of(PaymentInstruction.Approved, BulkApproval.Run)))
    assert world.app.execute(wang, ApprovePayments(preview=True)) == []
    after = len(list(world.app.events_of(PaymentInstruction.Approved, BulkApproval.Run)))
    assert before == after == 0
    plan = {a.reference: a.code for a in plan_approvals(world.app, wang, ApprovePayments())}
    assert plan == {
        refs["early"]: "",
        refs["late"]: "",
        refs["wangs"]: "approver-is-instructor",
        refs["barred"]: "entity-debarred",
    }
    # The preview's "would approve" is exactly what the run approves.
    events = world.app.execute(wang, ApprovePayments())
    assert sorted(events[-1].approved) == sorted(r for r, c in plan.items() if not c)  # type: ignore[attr-defined]


def test_the_bank_file_neutralises_cells_a_spreadsheet_would_run() -> None:
    from projections.reports import csv_safe

    for risky in ("=1+2", "+86 28", "-5", "@SUM(A1)", "\tx", "\rx"):
        assert csv_safe(risky) == "'" + risky
    for plain in ("成都智算中心", "1000.00", "PI-CD-2025-ABC", ""):
        assert csv_safe(plain) == plain

"""The inclusive voucher year (CD-1…CD-4, CD-8, CD-13, CD-14), on the in-memory store.

Given a programme year with listed suppliers, when a command, then these events or this
named rejection."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidInput
from ledger.handlers.inclusive import ApplyInclusive, ClaimReimbursement, ExpireVouchers, Reimburse
from ledger.handlers.registration import (
    OpenProgramme,
    PublishSupplierList,
    RecordAffiliation,
    RegisterApplicant,
    RegisterSupplier,
)
from tests.scenario import (
    PROGRAMME,
    YEAR,
    World,
    applicant_code,
    at,
    event_names,
    in_memory_ledger,
    rejected,
    supplier_code,
)

EVIDENCE = {
    "contract": "HT-1",
    "payment-proof": "PAY-1",
    "invoice": "INV-1",
    "service-proof": "USE-1",
}


@pytest.fixture
def world() -> World:
    return World(in_memory_ledger())


# ---- issuing: CD-1, CD-4, CD-8, CD-13, CD-15 ---------------------------------------------


def test_an_eligible_unit_gets_the_first_voucher(world: World) -> None:
    events = world.app.execute(
        at(2, 1), ApplyInclusive(programme=PROGRAMME, applicant=world.applicants[0])
    )
    assert event_names(events) == [
        "Programme.VoucherAllotted",
        "Voucher.Issued",
        "EntityRecord.Started",  # the unit's standing: what it holds, any bar (CD-11)
        "EntityRecord.VoucherReceived",
    ]
    issued = events[1]
    assert issued.number == "CD-2025-INC-0001"
    assert issued.face_value == Decimal("10000.00")
    assert issued.basis["clauses"] == ["CD-12", "CD-4", "CD-8"]
    assert events[0].basis["params"]["quota_per_year"] == 300


def test_quota_of_300_holds_when_400_apply() -> None:
    world = World(in_memory_ledger(), applicants=400)
    outcomes = []
    for n in range(400):
        try:
            world.issue(n)
            outcomes.append("issued")
        except Exception as e:
            outcomes.append(getattr(e, "code", repr(e)))
    assert outcomes[:300] == ["issued"] * 300  # first come, first served (CD-8)
    assert outcomes[300:] == ["quota-exhausted"] * 100
    programme = world.app.programme(PROGRAMME)
    assert programme.drawn["inclusive"] == 300
    assert programme.voucher_numbers()[-1] == "CD-2025-INC-0300"


def test_one_voucher_per_unit_per_year(world: World) -> None:
    world.issue(0)
    rejected("already-holds-voucher-this-year", world.issue, 0)


def test_only_units_in_the_programme_city_qualify(world: World) -> None:
    shenzhen = applicant_code(99, "440300")
    world.app.execute(
        at(1, 3),
        RegisterApplicant(
            credit_code=shenzhen, name="深圳某公司", kind="enterprise", city="Shenzhen"
        ),
    )
    rejected(
        "applicant-not-eligible",
        world.app.execute,
        at(2, 1),
        ApplyInclusive(programme=PROGRAMME, applicant=shenzhen),
    )


def test_an_application_outside_the_programme_year_is_refused(world: World) -> None:
    rejected("outside-programme-year", world.issue, 0, at(1, 2, year=YEAR + 1))


def test_a_programme_outside_the_policy_years_cannot_open(world: World) -> None:
    rejected(
        "programme-already-open",
        world.app.execute,
        at(1, 1),
        OpenProgramme(policy="chengdu", year=YEAR),
    )
    rejected(
        "unknown-policy", world.app.execute, at(1, 1), OpenProgramme(policy="atlantis", year=YEAR)
    )
    rejected(
        "programme-year-outside-policy",
        world.app.execute,
        at(1, 1, 2028),
        OpenProgramme(policy="chengdu", year=2028),
    )


def test_inclusive_and_special_are_mutually_exclusive(world: World) -> None:
    # The special round arrives with its own issue; the rule lives in the Programme and
    # reads exclusive_with from the policy, so a recorded special holding is enough here.
    programme = world.app.programme(PROGRAMME)
    programme.holdings[world.applicants[1]] = ("special",)
    special = programme.policy.instrument("special")
    assert special.exclusive_with == ["inclusive"]
    rejected(
        "instruments-mutually-exclusive",
        programme.allot_voucher,
        at(2, 1),
        programme.policy.instrument("inclusive"),
        world.applicants[1],
    )


# ---- redeeming: CD-1, CD-2, CD-3, CD-4, CD-8 ---------------------------------------------


def test_the_deduction_is_at_most_half_the_bill(world: World) -> None:
    voucher = world.issue(0)
    events = world.redeem(voucher, bill="8000.01")
    assert event_names(events) == [
        "Voucher.Redeemed",
        "Redemption.Recorded",
        "SupplierYear.Opened",  # the supplier's year of business: next year's base (CD-6)
        "SupplierYear.BillServed",
    ]
    assert events[0].deduction == Decimal("4000.00")  # 50% rounded down to the fen
    assert events[0].remaining == Decimal("6000.00")


def test_the_deduction_is_at_most_what_is_left(world: World) -> None:
    voucher = world.issue(0)
    world.redeem(voucher, bill="16000.00", invoice="A")
    events = world.redeem(voucher, bill="9000.00", invoice="B", service=date(YEAR, 3, 11))
    assert events[0].deduction == Decimal("2000.00")
    assert events[0].remaining == Decimal("0.00")
    rejected("voucher-exhausted", world.redeem, voucher, invoice="C")


def test_asking_for_more_than_half_is_refused(world: World) -> None:
    voucher = world.issue(0)
    error = rejected(
        "exceeds-deduction-limit", world.redeem, voucher, bill="1000.00", deduction="500.01"
    )
    assert error.details["limit"] == "500.00"
    assert world.redeem(voucher, bill="1000.00", deduction="500.00")[0].deduction == 500


def test_no_redemption_at_an_unlisted_supplier() -> None:
    world = World(in_memory_ledger())
    extra = supplier_code(50)
    world.app.execute(
        at(1, 2),
        RegisterSupplier(credit_code=extra, name="新中心", kind="data-centre", city="Chengdu"),
    )
    world.suppliers.append(extra)
    voucher = world.issue(0)
    error = rejected("supplier-not-listed", world.redeem, voucher, supplier=3)
    assert error.details["period"] == "2025H1"


def test_the_list_of_the_service_dates_half_year_applies() -> None:
    app = in_memory_ledger()
    world = World.__new__(World)
    world.app = app
    app.execute(at(1, 2), OpenProgramme(policy="chengdu", year=YEAR))
    world.suppliers = [supplier_code(0)]
    world.applicants = [applicant_code(0)]
    app.execute(
        at(1, 2),
        RegisterSupplier(
            credit_code=world.suppliers[0], name="中心", kind="data-centre", city="Chengdu"
        ),
    )
    app.execute(
        at(1, 2),
        RegisterApplicant(
            credit_code=world.applicants[0], name="公司", kind="enterprise", city="Chengdu"
        ),
    )
    app.execute(
        at(1, 5),
        PublishSupplierList(programme=PROGRAMME, period="2025H1", suppliers=world.suppliers),
    )
    voucher = world.issue(0)
    world.redeem(voucher, service=date(YEAR, 6, 30), invoice="H1")
    # No H2 list has been published: service in H2 gets nothing (CD-2).
    rejected("supplier-not-listed", world.redeem, voucher, service=date(YEAR, 7, 1), invoice="H2")


def test_no_redemption_between_affiliated_parties(world: World) -> None:
    world.app.execute(
        at(1, 6),
        RecordAffiliation(
            applicant=world.applicants[0], supplier=world.suppliers[1], evidence="registry"
        ),
    )
    voucher = world.issue(0)
    rejected("affiliated-parties", world.redeem, voucher, supplier=1)
    assert world.redeem(voucher, supplier=0)  # another supplier is fine


def test_storage_network_or_security_alone_is_not_compute(world: World) -> None:
    voucher = world.issue(0)
    for kind in ("storage", "network", "security"):
        rejected("service-not-eligible", world.redeem, voucher, kind=kind, invoice=kind)


def test_no_redemption_after_the_year_of_issue(world: World) -> None:
    voucher = world.issue(0)
    rejected(
        "voucher-expired",
        world.redeem,
        voucher,
        service=date(YEAR, 12, 30),
        ctx=at(1, 2, year=YEAR + 1),
    )
    rejected(
        "voucher-expired",
        world.redeem,
        voucher,
        service=date(YEAR + 1, 1, 1),
        ctx=at(1, 2, year=YEAR + 1),
    )


def test_a_service_after_the_redemption_date_is_malformed(world: World) -> None:
    voucher = world.issue(0)
    with pytest.raises(InvalidInput):
        world.redeem(voucher, service=date(YEAR, 3, 10), ctx=at(3, 9))


def test_retrying_a_redemption_with_the_same_invoice_changes_nothing(world: World) -> None:
    voucher = world.issue(0)
    first = world.redeem(voucher, invoice="INV-7")
    assert first
    assert world.redeem(voucher, invoice="INV-7") == []
    assert world.app.voucher(voucher).remaining == Decimal("6000.00")


def test_reusing_an_invoice_number_for_another_bill_is_refused(world: World) -> None:
    voucher = world.issue(0)
    world.redeem(voucher, invoice="INV-7")
    rejected("duplicate-reference", world.redeem, voucher, invoice="INV-7", bill="9000.00")


# ---- reimbursement (CD-8) and year end ---------------------------------------------------


def test_the_supplier_is_reimbursed_what_it_deducted(world: World) -> None:
    voucher = world.issue(0)
    world.redeem(voucher, invoice="INV-9", bill="3000.00")
    supplier = world.suppliers[0]
    rejected(
        "not-claimed",
        world.app.execute,
        at(4, 1),
        Reimburse(supplier=supplier, invoice_number="INV-9"),
    )
    error = rejected(
        "missing-evidence",
        world.app.execute,
        at(4, 1),
        ClaimReimbursement(supplier=supplier, invoice_number="INV-9", evidence={"contract": "HT"}),
    )
    assert error.details["missing"] == ["payment-proof", "invoice", "service-proof"]
    claimed = world.app.execute(
        at(4, 1), ClaimReimbursement(supplier=supplier, invoice_number="INV-9", evidence=EVIDENCE)
    )
    assert event_names(claimed) == ["Redemption.ReimbursementClaimed"]
    rejected(
        "already-claimed",
        world.app.execute,
        at(4, 2),
        ClaimReimbursement(supplier=supplier, invoice_number="INV-9", evidence=EVIDENCE),
    )
    paid = world.app.execute(at(4, 15), Reimburse(supplier=supplier, invoice_number="INV-9"))
    assert event_names(paid) == [
        "Redemption.Reimbursed",
        "PaymentInstruction.Instructed",
        "EntityRecord.Started",
        "EntityRecord.PaymentDue",
    ]
    instruction = paid[1]
    assert (instruction.payee, instruction.amount, instruction.funding_source) == (
        supplier,
        Decimal("1500.00"),
        "city",
    )
    assert paid[0].payment_reference == instruction.reference
    rejected(
        "already-reimbursed",
        world.app.execute,
        at(4, 16),
        Reimburse(supplier=supplier, invoice_number="INV-9"),
    )


def test_unredeemed_value_lapses_at_year_end(world: World) -> None:
    used = world.issue(0)
    untouched = world.issue(1)
    world.redeem(used, bill="4000.00")
    rejected(
        "programme-year-not-ended",
        world.app.execute,
        at(12, 31),
        ExpireVouchers(programme=PROGRAMME),
    )
    events = world.app.execute(at(1, 1, year=YEAR + 1), ExpireVouchers(programme=PROGRAMME))
    assert [(e.originator_id, e.lapsed) for e in events] == [
        (world.app.voucher(used).id, Decimal("8000.00")),
        (world.app.voucher(untouched).id, Decimal("10000.00")),
    ]
    assert world.app.execute(at(1, 2, year=YEAR + 1), ExpireVouchers(programme=PROGRAMME)) == []
    # Even back-dated into the year, a lapsed voucher is not redeemed.
    rejected(
        "voucher-expired",
        world.redeem,
        used,
        service=date(YEAR, 12, 1),
        ctx=at(12, 2),
        invoice="LATE",
    )


def test_registration_is_idempotent_but_not_rewritable(world: World) -> None:
    code = world.applicants[0]
    assert (
        world.app.execute(
            at(),
            RegisterApplicant(
                credit_code=code, name="示例科技0", kind="enterprise", city="Chengdu"
            ),
        )
        == []
    )
    rejected(
        "already-registered",
        world.app.execute,
        at(),
        RegisterApplicant(credit_code=code, name="别名", kind="enterprise", city="Chengdu"),
    )


# ---- invariants under any sequence of bills ----------------------------------------------


@given(
    st.lists(
        st.tuples(
            st.decimals(min_value=Decimal("0.01"), max_value=Decimal("30000"), places=2),
            st.one_of(
                st.none(),
                st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9000"), places=2),
            ),
        ),
        max_size=12,
    )
)
def test_balances_never_go_negative_and_deductions_respect_the_limit(
    bills: list[tuple[Decimal, Decimal | None]],
) -> None:
    world = World(in_memory_ledger(), applicants=1, suppliers=1)
    voucher = world.issue(0)
    deducted = Decimal("0.00")
    for n, (bill, asked) in enumerate(bills):
        try:
            events = world.redeem(
                voucher, bill=str(bill), invoice=f"I{n}", deduction=str(asked) if asked else None
            )
        except Exception as e:
            assert getattr(e, "code", None) in {
                "exceeds-deduction-limit",
                "exceeds-remaining-value",
                "voucher-exhausted",
            }
            continue
        deduction = events[0].deduction
        assert Decimal("0") < deduction <= bill * Decimal("0.5")
        deducted += deduction
        assert events[0].remaining == Decimal("10000.00") - deducted >= 0
    assert world.app.voucher(voucher).remaining == Decimal("10000.00") - deducted

"""Issue 16, items 1–4 and 9, on SQLite and PostgreSQL: the Chengdu notice's words decide
who is paid what, whatever the database.

* CD-6, CD-10 「根据"普惠算力券"和"特惠算力券"兑付情况」「补贴不超过20%的算力服务费用」
* CD-7 「对新获批的国家绿色数据中心一次性给予100万元」 with §六(一) 「未纳入名单的…不予支持」
* CD-3 「申领主体具备独立法人资格」
* CD-1 「租用非关联方提供的算力服务」
* CD-14 「本政策措施认定的金额不含税」"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from commands.wiring import Ledger
from ledger.handlers.inclusive import ApplyInclusive, ClaimReimbursement, Redeem, Reimburse
from ledger.handlers.registration import (
    OpenProgramme,
    PublishSupplierList,
    RecordAffiliation,
    RegisterApplicant,
)
from ledger.handlers.special import ApplySpecial
from ledger.handlers.supplier_side import (
    ApplySupplierSubsidy,
    CertifyGreenDataCentre,
    FinaliseSupplierSubsidy,
    PlanSupplierSubsidy,
    PublishSupplierSubsidyPlan,
)
from ledger.ids import make_credit_code
from ledger.supplier_subsidy import SupplierYear
from tests.scenario import PROGRAMME, World, at, pay_out, rejected

EVIDENCE = {"contract": "HT", "payment-proof": "P", "invoice": "FP", "service-proof": "U"}
Y2 = "CD-2026"


def received(events: list[object]) -> object:
    (found,) = [
        e for e in events if type(e).__qualname__ == "SupplierSubsidyRound.ApplicationReceived"
    ]
    return found


def run_round(world: World, name: str, day: int) -> list[object]:
    """A supplier-subsidy round of 2026 for supplier 0, run to its end; the finalisation."""
    world.app.execute(
        at(2, day, 2026),
        ApplySupplierSubsidy(programme=Y2, round=name, supplier=world.suppliers[0]),
    )
    world.app.execute(at(3, day, 2026), PlanSupplierSubsidy(programme=Y2, round=name))
    world.app.execute(
        at(3, day, 2026),
        PublishSupplierSubsidyPlan(
            programme=Y2,
            round=name,
            notice_from=date(2026, 3, day),
            notice_to=date(2026, 3, day + 6),
        ),
    )
    return list(
        world.app.execute(at(3, day + 7, 2026), FinaliseSupplierSubsidy(programme=Y2, round=name))
    )


def test_item1_supplier_subsidy_counts_paid_out_supported_business_once(ledger: Ledger) -> None:
    """A 10,000 voucher on a 9,990,000 bill supported 20,000 of it: 20% is 4,000, not the
    2,000,000 the whole bill would give. A bill never reimbursed counts nothing. A second
    round of the same year counts the business again not at all."""
    world = World(ledger.app, applicants=2, suppliers=1)
    big = world.issue(0)
    world.redeem(big, bill="9990000.00", invoice="BIG", service=date(2025, 3, 10))
    unpaid = world.issue(1)
    world.redeem(unpaid, bill="6000.00", invoice="UNPAID", service=date(2025, 3, 11))
    code = world.suppliers[0]
    for invoice in ("BIG", "UNPAID"):
        world.app.execute(
            at(4, 1), ClaimReimbursement(supplier=code, invoice_number=invoice, evidence=EVIDENCE)
        )
    paid = world.app.execute(at(4, 2), Reimburse(supplier=code, invoice_number="BIG"))
    pay_out(world.app, paid, at(4, 10))
    world.app.execute(at(1, 2, 2026), OpenProgramme(policy="chengdu", year=2026))

    first = run_round(world, "R1", 1)
    second = run_round(world, "R2", 12)
    grants = [
        e.granted  # type: ignore[attr-defined]
        for e in first + second
        if type(e).__qualname__ == "SupplierYear.SubsidyGranted"
    ]
    assert grants == [Decimal("4000.00"), Decimal("0.00")]
    business: SupplierYear = ledger.app.repository.get(SupplierYear.id_for("chengdu", code, 2025))
    assert business.counted == {"BIG": "R1 of CD-2026"}
    year: SupplierYear = ledger.app.repository.get(SupplierYear.id_for("chengdu", code, 2026))
    assert (year.granted, year.granted_base) == (Decimal("4000.00"), Decimal("20000.00"))


def test_item2_the_green_award_needs_a_new_certification_and_a_listed_supplier(
    ledger: Ledger,
) -> None:
    world = World(ledger.app, applicants=0, suppliers=2)
    listed, unlisted = world.suppliers
    world.app.execute(at(1, 2, 2026), OpenProgramme(policy="chengdu", year=2026))
    world.app.execute(
        at(1, 5, 2026), PublishSupplierList(programme=Y2, period="2026H1", suppliers=[listed])
    )

    def certify(supplier: str, certified: date, reference: str) -> list[object]:
        return list(
            world.app.execute(
                at(3, 16, 2026),
                CertifyGreenDataCentre(
                    programme=Y2,
                    supplier=supplier,
                    certification_date=certified,
                    reference=reference,
                ),
            )
        )

    rejected("not-newly-approved", certify, listed, date(2016, 5, 1), "GDC-2016")
    rejected("certification-in-future", certify, listed, date(2026, 4, 1), "GDC-FUTURE")
    rejected("supplier-not-listed", certify, unlisted, date(2026, 3, 15), "GDC-UNLISTED")
    granted = certify(listed, date(2026, 3, 15), "GDC-2026")
    assert [
        e.amount  # type: ignore[attr-defined]
        for e in granted
        if type(e).__qualname__ == "PaymentInstruction.Instructed"
    ] == [Decimal("1000000.00")]


def test_item3_an_individual_business_is_not_a_legal_person(ledger: Ledger) -> None:
    world = World(ledger.app, applicants=0, suppliers=1)
    individual = make_credit_code("92510100MA6000001")
    world.app.execute(
        at(1, 3),
        RegisterApplicant(credit_code=individual, name="个体户", kind="enterprise", city="Chengdu"),
    )
    refusal = rejected(
        "not-a-legal-person",
        world.app.execute,
        at(2, 1),
        ApplyInclusive(programme=PROGRAMME, applicant=individual),
    )
    assert refusal.details["category"] == "92"


def test_item4_renting_from_oneself_and_a_later_affiliation_are_refused(ledger: Ledger) -> None:
    world = World(ledger.app, applicants=1, suppliers=2)
    supplier = world.suppliers[0]
    world.app.execute(
        at(1, 3),
        RegisterApplicant(
            credit_code=supplier, name="智算中心0", kind="enterprise", city="Chengdu"
        ),
    )
    own = world.app.execute(at(2, 1), ApplyInclusive(programme=PROGRAMME, applicant=supplier))
    number = next(
        e.number  # type: ignore[attr-defined]
        for e in own
        if type(e).__qualname__ == "Voucher.Issued"
    )
    rejected("affiliated-parties", world.redeem, number, invoice="SELF", supplier=0)
    # Redeemed at another supplier, which is then found affiliated: the claim is refused.
    voucher = world.issue(0)
    world.redeem(voucher, invoice="LATER", supplier=1)
    world.app.execute(
        at(3, 20),
        RecordAffiliation(
            applicant=world.applicants[0], supplier=world.suppliers[1], evidence="registry"
        ),
    )
    rejected(
        "affiliated-parties",
        world.app.execute,
        at(4, 1),
        ClaimReimbursement(supplier=world.suppliers[1], invoice_number="LATER", evidence=EVIDENCE),
    )
    # Claimed at a third supplier, which is found affiliated before the money moves: the
    # reimbursement is refused too.
    world.redeem(voucher, invoice="CLAIMED", supplier=0, service=date(2025, 3, 11))
    world.app.execute(
        at(4, 2),
        ClaimReimbursement(supplier=supplier, invoice_number="CLAIMED", evidence=EVIDENCE),
    )
    world.app.execute(
        at(4, 3),
        RecordAffiliation(applicant=world.applicants[0], supplier=supplier, evidence="registry"),
    )
    rejected(
        "affiliated-parties",
        world.app.execute,
        at(4, 4),
        Reimburse(supplier=supplier, invoice_number="CLAIMED"),
    )


def test_item9_a_tax_inclusive_total_alone_is_refused(ledger: Ledger) -> None:
    world = World(ledger.app, applicants=1, suppliers=1)
    voucher = world.issue(0)
    redeem = Redeem(
        voucher=voucher,
        supplier=world.suppliers[0],
        invoice_number="TAX-1",
        service_kind="compute",
        service_date=date(2025, 3, 10),
        bill_amount_incl_tax=Decimal("8480.00"),
        tax_rate=Decimal("0.06"),
    )
    rejected("tax-inclusive-amount-refused", world.app.execute, at(3, 12), redeem)
    events = world.app.execute(
        at(3, 12),
        Redeem(
            voucher=voucher,
            supplier=world.suppliers[0],
            invoice_number="TAX-1",
            service_kind="compute",
            service_date=date(2025, 3, 10),
            bill_amount=Decimal("8000.00"),
            tax=Decimal("480.00"),
        ),
    )
    (recorded,) = [e for e in events if type(e).__qualname__ == "Redemption.Recorded"]
    assert (recorded.bill_amount, recorded.tax, recorded.deduction) == (  # type: ignore[attr-defined]
        Decimal("8000.00"),
        Decimal("480.00"),
        Decimal("4000.00"),
    )


def test_item9_special_spend_is_taken_without_tax(ledger: Ledger) -> None:
    """The tiers' 「上年度算力支出总额不小于1000万元」 are of the spend without tax: a
    tax-inclusive total alone is refused."""
    world = World(ledger.app, applicants=1, suppliers=0)
    rejected(
        "tax-inclusive-amount-refused",
        world.app.execute,
        at(3, 1),
        ApplySpecial(
            programme=PROGRAMME,
            applicant=world.applicants[0],
            prior_year_spend_incl_tax=Decimal("10600000.00"),
            tax_rate=Decimal("0.06"),
            evidence=EVIDENCE,
        ),
    )
    events = world.app.execute(
        at(3, 1),
        ApplySpecial(
            programme=PROGRAMME,
            applicant=world.applicants[0],
            prior_year_spend=Decimal("10000000.00"),
            evidence=EVIDENCE,
        ),
    )
    assert events[-1].spend == Decimal("10000000.00")  # type: ignore[attr-defined]

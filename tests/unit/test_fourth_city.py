"""Policies are data: a fourth city whose instruments carry other names runs a whole year with
no new code. Commands address a programme and an instrument *type*; nothing outside the
policy file names an instrument."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from importlib import resources

from ledger.handlers.inclusive import ApplyInclusive, ClaimReimbursement, Redeem, Reimburse
from ledger.handlers.registration import (
    OpenProgramme,
    PublishSupplierList,
    RegisterApplicant,
    RegisterSupplier,
)
from ledger.handlers.special import (
    ApplySpecial,
    FinaliseSpecial,
    PublishSpecialPlan,
    RankSpecial,
    ReviewSpecial,
)
from ledger.handlers.supplier_side import (
    ApplySupplierSubsidy,
    CertifyGreenDataCentre,
    FinaliseSupplierSubsidy,
    PlanSupplierSubsidy,
    PublishSupplierSubsidyPlan,
)
from ledger.ids import make_credit_code
from ledger.policy import bundled_policies, parse_policy
from tests.scenario import at, in_memory_ledger, pay_out

RENAMES = {
    "inclusive": "basic",
    "special": "premium",
    "supplier_subsidy": "operator_grant",
    "green": "eco_award",
}
EVIDENCE = {"contract": "HT", "payment-proof": "P", "invoice": "FP", "service-proof": "U"}


def nanjing_policy_text() -> str:
    """Chengdu's parameter file, as another city would write it: its own id, code, city and
    names for every instrument."""
    text = (resources.files("ledger.policy") / "chengdu.toml").read_text(encoding="utf-8")
    text = text.replace('id = "chengdu"', 'id = "nanjing"').replace('code = "CD"', 'code = "NJ"')
    text = text.replace('"Chengdu"', '"Nanjing"')
    for old, new in RENAMES.items():
        text = text.replace(f"[instruments.{old}]", f"[instruments.{new}]")
        text = text.replace(f'["{old}"]', f'["{new}"]')  # exclusive_with
    return text


def test_a_city_with_other_instrument_names_runs_a_year_from_its_file_alone() -> None:
    nanjing = parse_policy(nanjing_policy_text(), origin="nanjing.toml")
    assert set(nanjing.instruments) == set(RENAMES.values())
    assert "inclusive" not in nanjing.instruments
    app = in_memory_ledger({**bundled_policies(), "nanjing": nanjing})
    holder, ranked = make_credit_code("91320100MA1X00001"), make_credit_code("91320100MA1X00002")
    centre = make_credit_code("91320100MA1Y00001")
    app.execute(at(1, 2), OpenProgramme(policy="nanjing", year=2025))
    for code in (holder, ranked):
        app.execute(
            at(1, 2),
            RegisterApplicant(credit_code=code, name=code, kind="enterprise", city="Nanjing"),
        )
    app.execute(
        at(1, 2),
        RegisterSupplier(credit_code=centre, name="南京智算", kind="data-centre", city="Nanjing"),
    )
    for half in ("2025H1", "2025H2"):
        app.execute(
            at(1, 5), PublishSupplierList(programme="NJ-2025", period=half, suppliers=[centre])
        )

    # The deduction voucher, whatever the city calls it.
    issued = app.execute(at(2, 1), ApplyInclusive(programme="NJ-2025", applicant=holder))
    number = next(e.number for e in issued if type(e).__qualname__ == "Voucher.Issued")  # type: ignore[attr-defined]
    assert number == "NJ-2025-INC-0001"
    app.execute(
        at(3, 12),
        Redeem(
            voucher=number,
            supplier=centre,
            bill_amount=Decimal("8000.00"),
            invoice_number="NJ-INV-1",
            service_kind="compute",
            service_date=date(2025, 3, 10),
        ),
    )
    app.execute(
        at(4, 1),
        ClaimReimbursement(supplier=centre, invoice_number="NJ-INV-1", evidence=EVIDENCE),
    )
    paid = app.execute(at(4, 15), Reimburse(supplier=centre, invoice_number="NJ-INV-1"))
    pay_out(app, paid, at(4, 20))  # paid out (兑付): next year's supplier subsidy counts it
    instructed = [e for e in paid if type(e).__qualname__ == "PaymentInstruction.Instructed"]
    assert [(e.purpose, e.amount) for e in instructed] == [  # type: ignore[attr-defined]
        ("basic-voucher-reimbursement", Decimal("4000.00"))
    ]

    # The ranked-tier grant, under its own name.
    app.execute(
        at(3, 5),
        ApplySpecial(
            programme="NJ-2025",
            applicant=ranked,
            prior_year_spend=Decimal("12000000.00"),
            evidence=EVIDENCE,
        ),
    )
    app.execute(at(4, 1), RankSpecial(programme="NJ-2025"))
    app.execute(
        at(4, 2), ReviewSpecial(programme="NJ-2025", applicant=ranked, outcome="pass", reason="ok")
    )
    app.execute(
        at(4, 3),
        PublishSpecialPlan(
            programme="NJ-2025", notice_from=date(2025, 4, 3), notice_to=date(2025, 4, 9)
        ),
    )
    finalised = app.execute(at(4, 10), FinaliseSpecial(programme="NJ-2025"))
    grants = [e for e in finalised if type(e).__qualname__ == "PaymentInstruction.Instructed"]
    assert [(e.purpose, e.amount) for e in grants] == [  # type: ignore[attr-defined]
        ("premium-voucher-payment", Decimal("2000000.00"))
    ]
    assert app.special_round("NJ-2025").instrument == "premium"

    # Next year: the supplier side, from last year's business.
    app.execute(at(1, 2, 2026), OpenProgramme(policy="nanjing", year=2026))
    app.execute(
        at(1, 5, 2026),
        PublishSupplierList(programme="NJ-2026", period="2026H1", suppliers=[centre]),
    )
    app.execute(
        at(2, 10, 2026),
        ApplySupplierSubsidy(
            programme="NJ-2026",
            round="R1",
            supplier=centre,
            special_holder_spend={ranked: Decimal("5000000.00")},
        ),
    )
    app.execute(at(3, 1, 2026), PlanSupplierSubsidy(programme="NJ-2026", round="R1"))
    app.execute(
        at(3, 2, 2026),
        PublishSupplierSubsidyPlan(
            programme="NJ-2026",
            round="R1",
            notice_from=date(2026, 3, 2),
            notice_to=date(2026, 3, 8),
        ),
    )
    granted = app.execute(at(3, 10, 2026), FinaliseSupplierSubsidy(programme="NJ-2026", round="R1"))
    purposes = {
        e.purpose  # type: ignore[attr-defined]
        for e in granted
        if type(e).__qualname__ == "PaymentInstruction.Instructed"
    }
    assert purposes == {"supplier-subsidy"}
    awarded = app.execute(
        at(3, 16, 2026),
        CertifyGreenDataCentre(
            programme="NJ-2026",
            supplier=centre,
            certification_date=date(2026, 3, 15),
            reference="工信部 2026 第1号",
        ),
    )
    assert [
        e.amount  # type: ignore[attr-defined]
        for e in awarded
        if type(e).__qualname__ == "PaymentInstruction.Instructed"
    ] == [Decimal("1000000.00")]

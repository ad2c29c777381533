"""A stateful test over the command vocabulary: after every step every invariant holds and a
replay of the log equals the live read models. SQLite in the normal run; PostgreSQL with fewer
examples."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from commands.audit import rebuild_check
from commands.wiring import Ledger, open_ledger
from ledger.clock import TimeRules
from ledger.enforcement import EntityRecord
from ledger.errors import Rejected
from ledger.finance import BankStatement, StatementLine
from ledger.handlers.claims import (
    AllocateOperatorSubsidy,
    CityReview,
    DistrictPreReview,
    SubmitOperatorClaim,
)
from ledger.handlers.enforcement import (
    DemandClawback,
    EndCreditListing,
    LiftDebarment,
    OffsetClawback,
    OpenCase,
    RecordCreditListing,
    RecordFraudFinding,
    RecordRepayment,
    WriteOff,
)
from ledger.handlers.finance import ApprovePayment, CancelPayment, RecordSettlement
from ledger.handlers.inclusive import (
    ApplyInclusive,
    ClaimReimbursement,
    ExpireVouchers,
    Redeem,
    Reimburse,
)
from ledger.handlers.registration import OpenProgramme, PublishSupplierList, RegisterSupplier
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
from ledger.payment import PaymentInstruction
from ledger.pro_rata import ClaimLine
from projections import reports
from tests.pgserver import PostgresServer
from tests.scenario import PROGRAMME, World, at, listed_the_year_before

EVIDENCE = {"contract": "HT", "payment-proof": "P", "invoice": "FP", "service-proof": "U"}
M = Decimal(1_000_000)


class LedgerMachine(RuleBasedStateMachine):
    url: str = ""

    @initialize()
    def setup(self) -> None:
        self.ledger: Ledger = open_ledger(self.url)
        # 2024's lists: the year of the spend 2025's special vouchers rest on (ADR 0010).
        listed_the_year_before(self.ledger.app, suppliers=3)
        self.world = World(self.ledger.app, applicants=8, suppliers=3)
        self.app = self.ledger.app
        # The machine jumps between Qingdao's 2024, Chengdu's 2025 and 2026 at random: only
        # entries more than three years back count as late here (the rule has its own tests).
        self.app.time_rules = TimeRules(late_after=timedelta(days=1100))
        self.invoices: list[tuple[str, str]] = []
        self.payments: list[str] = []
        self.day = 1
        # The next year (supplier subsidies, green award) and Qingdao's programme.
        self.app.execute(at(1, 2, year=2026), OpenProgramme(policy="chengdu", year=2026))
        self.app.execute(  # the green award needs its half-year's list (§六(一))
            at(1, 3, year=2026),
            PublishSupplierList(
                programme="CD-2026", period="2026H1", suppliers=self.world.suppliers
            ),
        )
        self.app.execute(at(1, 2, year=2024), OpenProgramme(policy="qingdao", year=2024))
        self.operators = [make_credit_code(f"91370200MA3C{n:05d}") for n in range(3)]
        for n, code in enumerate(self.operators):
            self.app.execute(
                at(1, 3, year=2024),
                RegisterSupplier(
                    credit_code=code,
                    name=f"青岛中心{n}",
                    kind="data-centre",
                    city="Qingdao AI industrial park",
                ),
            )

    def teardown(self) -> None:
        if hasattr(self, "ledger"):
            self.ledger.close()

    def _try(self, call, *args) -> object:  # type: ignore[no-untyped-def]
        try:
            return call(*args)
        except Rejected:
            return None

    def _at(self):  # type: ignore[no-untyped-def]
        self.day = min(self.day + 1, 28)
        return at(3, self.day)

    @rule(who=st.integers(0, 7))
    def apply_inclusive(self, who: int) -> None:
        self._try(
            self.app.execute,
            at(2, 1),
            ApplyInclusive(programme=PROGRAMME, applicant=self.world.applicants[who]),
        )

    @rule(who=st.integers(0, 7), spend=st.integers(400_000, 30_000_000))
    def apply_special(self, who: int, spend: int) -> None:
        self._try(
            self.app.execute,
            at(2, 2),
            ApplySpecial(
                programme=PROGRAMME,
                applicant=self.world.applicants[who],
                prior_year_spend=Decimal(spend),
                evidence=EVIDENCE,
                other_public_funding={},
            ),
        )

    @rule()
    def run_special_round(self) -> None:
        if self._try(self.app.execute, at(4, 1), RankSpecial(programme=PROGRAMME)) is None:
            return
        instrument = self.app.programme_terms(PROGRAMME).policy.instrument("special")
        for applicant in self.app.special_round(PROGRAMME).review_set(instrument):
            self._try(
                self.app.execute,
                at(4, 2),
                ReviewSpecial(
                    programme=PROGRAMME, applicant=applicant, outcome="pass", reason="ok"
                ),
            )
        self._try(
            self.app.execute,
            at(4, 3),
            PublishSpecialPlan(
                programme=PROGRAMME, notice_from=date(2025, 4, 3), notice_to=date(2025, 4, 9)
            ),
        )
        self._try(self.app.execute, at(4, 10), FinaliseSpecial(programme=PROGRAMME))

    @rule(n=st.integers(0, 300), supplier=st.integers(0, 2), bill=st.integers(1, 30_000))
    def redeem(self, n: int, supplier: int, bill: int) -> None:
        numbers = [v for v in self.app.programme(PROGRAMME).voucher_numbers() if "-INC-" in v]
        if not numbers:
            return
        invoice = f"I{len(self.invoices)}"
        when = self._at()
        if self._try(
            self.app.execute,
            when,
            Redeem(
                voucher=numbers[n % len(numbers)],
                supplier=self.world.suppliers[supplier],
                bill_amount=Decimal(bill),
                invoice_number=invoice,
                service_kind="compute",
                service_date=when.at.date(),
            ),
        ):
            self.invoices.append((self.world.suppliers[supplier], invoice))

    @rule(n=st.integers(0, 100))
    def claim_and_reimburse(self, n: int) -> None:
        if not self.invoices:
            return
        supplier, invoice = self.invoices[n % len(self.invoices)]
        self._try(
            self.app.execute,
            at(4, 1),
            ClaimReimbursement(supplier=supplier, invoice_number=invoice, evidence=EVIDENCE),
        )
        events = self._try(
            self.app.execute, at(4, 2), Reimburse(supplier=supplier, invoice_number=invoice)
        )
        if events:
            self.payments.append(events[1].reference)  # type: ignore[index]

    @rule(n=st.integers(0, 100), days=st.integers(-60, 60))
    def reimburse_on_any_date(self, n: int, days: int) -> None:
        """Business time backwards and forwards (trust model): a claim reimbursed on a date
        before or after whatever has happened since, entered late with a reason."""
        if not self.invoices:
            return
        supplier, invoice = self.invoices[n % len(self.invoices)]
        when = replace(at(5, 12), late_reason="entered from the paper file")
        when = replace(when, at=when.at + timedelta(days=days))
        self._try(
            self.app.execute,
            when,
            ClaimReimbursement(supplier=supplier, invoice_number=invoice, evidence=EVIDENCE),
        )
        events = self._try(
            self.app.execute, when, Reimburse(supplier=supplier, invoice_number=invoice)
        )
        if events:
            self.payments.append(events[1].reference)  # type: ignore[index]

    @rule(n=st.integers(0, 100))
    def settle(self, n: int) -> None:
        if self.payments:
            ref = self.payments[n % len(self.payments)]
            self._try(
                self.app.execute,
                at(4, 5),
                RecordSettlement(
                    payment=ref,
                    amount=self.app.payment(ref).payable,
                    bank_reference=f"B{n}",
                    value_date=date(2025, 4, 5),
                ),
            )

    @rule(supplier=st.integers(0, 2), fen=st.integers(1, 500_000))
    def fraud_and_clawback(self, supplier: int, fen: int) -> None:
        code = self.world.suppliers[supplier]
        case = f"C-{code[-4:]}"
        self._try(
            self.app.execute,
            at(5, 1),
            OpenCase(case=case, programme=PROGRAMME, entity=code, description="fraud"),
        )
        self._try(
            self.app.execute,
            at(5, 2),
            RecordFraudFinding(
                case=case, finding_date=date(2025, 5, 2), finding="x", evidence=["e"]
            ),
        )
        paid = [p for p in self.payments if self.app.payment(p).payee == code]
        self._try(
            self.app.execute,
            at(5, 3),
            DemandClawback(
                case=case,
                amount=Decimal(fen) / 100,
                payments=paid,
                vouchers=[],
                due_date=date(2025, 6, 30),
            ),
        )
        self._try(
            self.app.execute,
            at(5, 4),
            RecordRepayment(
                case=case,
                amount=Decimal(fen) / 300,
                bank_reference=f"R{fen}",
                value_date=date(2025, 5, 4),
            ),
        )

    @rule(who=st.integers(0, 7), years_ago=st.integers(0, 5))
    def credit_listing(self, who: int, years_ago: int) -> None:
        code = self.world.applicants[who]
        ref = f"L-{who}-{years_ago}"
        start = date(2025 - years_ago, 1, 1)
        if self._try(
            self.app.execute,
            at(1, 5),
            RecordCreditListing(
                entity=code,
                reference=ref,
                kind="serious-dishonesty",
                source="信用中国",
                listed_from=start,
                listed_until=None,
            ),
        ):
            self._try(
                self.app.execute,
                at(1, 6),
                EndCreditListing(entity=code, reference=ref, ended_on=date(2025 - years_ago, 6, 1)),
            )

    @rule(n=st.integers(0, 100), cancel=st.booleans())
    def approve_or_cancel(self, n: int, cancel: bool) -> None:
        if self.payments:
            ref = self.payments[n % len(self.payments)]
            if cancel:
                self._try(self.app.execute, at(4, 6), CancelPayment(payment=ref, reason="error"))
            else:
                self._try(self.app.execute, at(4, 6), ApprovePayment(payment=ref, note="ok"))

    @rule(supplier=st.integers(0, 2), n=st.integers(0, 100), fen=st.integers(1, 100_000))
    def correct_a_receivable(self, supplier: int, n: int, fen: int) -> None:
        case = f"C-{self.world.suppliers[supplier][-4:]}"
        if self.payments:
            self._try(
                self.app.execute,
                at(7, 2),
                OffsetClawback(
                    case=case, payment=self.payments[n % len(self.payments)], amount=None
                ),
            )
        self._try(
            self.app.execute,
            at(7, 3),
            WriteOff(case=case, amount=Decimal(fen) / 100, reason="uncollectable", approver="dir"),
        )
        self._try(
            self.app.execute, at(7, 4), LiftDebarment(case=case, reason="appeal", authority="court")
        )

    @rule(supplier=st.integers(0, 2), holder=st.integers(0, 7), spend=st.integers(1, 9_000_000))
    def supplier_subsidy_round(self, supplier: int, holder: int, spend: int) -> None:
        name = f"R{self.day}"
        self.day = min(self.day + 1, 28)
        lines = {self.world.applicants[holder]: Decimal(spend)}
        code = self.world.suppliers[supplier]
        if (
            self._try(
                self.app.execute,
                at(2, 1, year=2026),
                ApplySupplierSubsidy(
                    programme="CD-2026", round=name, supplier=code, special_holder_spend=lines
                ),
            )
            is None
        ):
            self._try(
                self.app.execute,
                at(2, 1, year=2026),
                ApplySupplierSubsidy(
                    programme="CD-2026", round=name, supplier=code, special_holder_spend={}
                ),
            )
        self._try(
            self.app.execute,
            at(3, 1, year=2026),
            PlanSupplierSubsidy(programme="CD-2026", round=name),
        )
        self._try(
            self.app.execute,
            at(3, 1, year=2026),
            PublishSupplierSubsidyPlan(
                programme="CD-2026",
                round=name,
                notice_from=date(2026, 3, 1),
                notice_to=date(2026, 3, 7),
            ),
        )
        self._try(
            self.app.execute,
            at(3, 8, year=2026),
            FinaliseSupplierSubsidy(programme="CD-2026", round=name),
        )

    @rule(supplier=st.integers(0, 2))
    def green_certification(self, supplier: int) -> None:
        self._try(
            self.app.execute,
            at(3, 16, year=2026),
            CertifyGreenDataCentre(
                programme="CD-2026",
                supplier=self.world.suppliers[supplier],
                certification_date=date(2026, 3, 15),
                reference=f"G-{supplier}",
            ),
        )

    @rule(amounts=st.lists(st.integers(1, 30_000_000), min_size=1, max_size=3))
    def qingdao_allocation(self, amounts: list[int]) -> None:
        for n, amount in enumerate(amounts):
            line = ClaimLine(
                make_credit_code(f"91370212MA3D{n:05d}"),
                True,
                f"HT-{n}",
                Decimal(amount),
                date(2023, 3, 1),
                date(2023, 11, 30),
                "FP",
                "BR",
            )
            code = self.operators[n]
            self._try(
                self.app.execute,
                at(1, 22, year=2024),
                SubmitOperatorClaim(
                    programme="QD-2024", operator=code, audit_report="audit", lines=[line]
                ),
            )
            self._try(
                self.app.execute,
                at(2, 1, year=2024),
                DistrictPreReview(
                    programme="QD-2024",
                    operator=code,
                    outcome="pass",
                    green_threshold_met=True,
                    reason="ok",
                ),
            )
            self._try(
                self.app.execute,
                at(3, 5, year=2024),
                CityReview(
                    programme="QD-2024",
                    operator=code,
                    outcome="pass",
                    approved_amount=None,
                    assessment="panel",
                    reason="ok",
                ),
            )
        self._try(
            self.app.execute, at(3, 20, year=2024), AllocateOperatorSubsidy(programme="QD-2024")
        )

    @rule(n=st.integers(0, 100), extra=st.integers(0, 500))
    def bank_statement(self, n: int, extra: int) -> None:
        if not self.payments:
            return
        ref = self.payments[n % len(self.payments)]
        payment = self.app.payment(ref)
        lines = [
            StatementLine(
                2,
                date(2025, 4, 10),
                payment.payee_name,
                "",
                payment.payable + Decimal(extra) / 100,
                f"付款 {ref}",
            )
        ]
        self._try(self.app.import_statement, at(4, 20), f"d-{n}-{extra}", "bank.csv", lines)
        statements = [BankStatement.id_for(f"d-{n}-{extra}")]
        self._try(self.app.reconcile, at(5, 20), self.payments, statements, 15, 30)

    @rule()
    def year_end(self) -> None:
        self._try(self.app.execute, at(1, 2, year=2026), ExpireVouchers(programme=PROGRAMME))

    @invariant()
    def rules_hold_and_replay_equals_live(self) -> None:
        if not hasattr(self, "ledger"):
            return
        programme = self.app.programme(PROGRAMME)
        assert programme.drawn.get("inclusive", 0) <= 300
        assert programme.drawn.get("special", 0) <= 135
        for held in programme.holdings.values():
            assert len(held) == 1  # one voucher per unit per year; never both kinds
        self.ledger.runner.catch_up()
        for row in reports.balances(self.ledger.store).rows:
            assert row["remaining"] >= 0
            assert (
                row["deducted"] + row["lapsed"] + row["cancelled"] + row["remaining"]
                <= (row["face_value"])
            )
        for row in reports.receivables_ledger(self.ledger.store, date(2025, 12, 31)).rows:
            assert row["outstanding"] >= 0
        for row in reports.supplier_caps(self.ledger.store).rows:
            assert row["granted"] <= Decimal("2000000.00")
            assert row["granted"] <= row["base"] * Decimal("0.20") + Decimal("0.01") * row["grants"]
        allocated = reports.operator_allocation(self.ledger.store, "QD-2024")
        assert allocated.totals.get("allocated", Decimal(0)) <= 20 * M
        assert allocated.totals.get("city_share", Decimal(0)) <= 10 * M
        states = reports.disbursements(self.ledger.store, ["programme"]).totals
        assert states.get("paid", Decimal(0)) <= states.get("instructed", Decimal(0)) + states.get(
            "cancelled", Decimal(0)
        )
        assert rebuild_check(self.ledger, None) == []
        self._no_money_for_the_barred()

    def _no_money_for_the_barred(self) -> None:
        """What is known binds: once a bar is recorded, and while it stands, no payment to the
        entity is instructed or approved — whatever business date the command carried."""
        barred: dict[UUID, set[str]] = {}
        payees: dict[UUID, str] = {}
        kinds = (
            EntityRecord.Debarred,
            EntityRecord.DebarmentLifted,
            PaymentInstruction.Instructed,
            PaymentInstruction.Approved,
        )
        for e in self.app.events_of(*kinds):
            if isinstance(e, EntityRecord.Debarred):
                barred.setdefault(e.originator_id, set()).add(e.case)
            elif isinstance(e, EntityRecord.DebarmentLifted):
                barred.get(e.originator_id, set()).discard(e.case)
            else:
                if isinstance(e, PaymentInstruction.Instructed):
                    payees[e.originator_id] = e.payee
                payee = payees[e.originator_id]
                assert not barred.get(EntityRecord.id_for(payee)), (
                    f"{type(e).__qualname__} for {payee} dated {e.at} while barred"
                )


def test_the_ledger_machine_on_sqlite(tmp_path_factory: pytest.TempPathFactory) -> None:
    counter = iter(range(10**6))

    class OnSQLite(LedgerMachine):
        def __init__(self) -> None:
            self.url = str(tmp_path_factory.mktemp(f"m{next(counter)}") / "ledger.db")
            super().__init__()

    OnSQLite.TestCase.settings = settings(
        max_examples=12,
        stateful_step_count=12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    OnSQLite.TestCase().runTest()


@pytest.mark.postgres
def test_the_ledger_machine_on_postgres(pg_server: PostgresServer) -> None:
    class OnPostgres(LedgerMachine):
        def __init__(self) -> None:
            self.url = pg_server.create_database()
            super().__init__()

    OnPostgres.TestCase.settings = settings(
        max_examples=4,
        stateful_step_count=10,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    OnPostgres.TestCase().runTest()

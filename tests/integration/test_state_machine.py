"""A stateful test over the command vocabulary: after every step every invariant holds and a
replay of the log equals the live read models. SQLite in the normal run; PostgreSQL with fewer
examples."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from commands.audit import rebuild_check
from commands.wiring import Ledger, open_ledger
from ledger.errors import Rejected
from projections import reports
from tests.pgserver import PostgresServer
from tests.scenario import PROGRAMME, World, at

EVIDENCE = {"contract": "HT", "payment-proof": "P", "invoice": "FP", "service-proof": "U"}
M = Decimal(1_000_000)


class LedgerMachine(RuleBasedStateMachine):
    url: str = ""

    @initialize()
    def setup(self) -> None:
        self.ledger: Ledger = open_ledger(self.url)
        self.world = World(self.ledger.app, applicants=8, suppliers=3)
        self.app = self.ledger.app
        self.invoices: list[tuple[str, str]] = []
        self.payments: list[str] = []
        self.day = 1

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
            self.app.apply_for_voucher, at(2, 1), PROGRAMME, "inclusive", self.world.applicants[who]
        )

    @rule(who=st.integers(0, 7), spend=st.integers(400_000, 30_000_000))
    def apply_special(self, who: int, spend: int) -> None:
        self._try(
            self.app.apply_special,
            at(2, 2),
            PROGRAMME,
            self.world.applicants[who],
            Decimal(spend),
            EVIDENCE,
            {},
        )

    @rule()
    def run_special_round(self) -> None:
        if self._try(self.app.rank_special, at(4, 1), PROGRAMME) is None:
            return
        instrument = self.app.programme_terms(PROGRAMME).policy.instrument("special")
        for applicant in self.app.special_round(PROGRAMME).review_set(instrument):
            self._try(self.app.review_special, at(4, 2), PROGRAMME, applicant, True, "ok")
        self._try(
            self.app.publish_special_plan, at(4, 3), PROGRAMME, date(2025, 4, 3), date(2025, 4, 9)
        )
        self._try(self.app.finalise_special, at(4, 10), PROGRAMME)

    @rule(n=st.integers(0, 300), supplier=st.integers(0, 2), bill=st.integers(1, 30_000))
    def redeem(self, n: int, supplier: int, bill: int) -> None:
        numbers = [v for v in self.app.programme(PROGRAMME).voucher_numbers if "-INC-" in v]
        if not numbers:
            return
        invoice = f"I{len(self.invoices)}"
        when = self._at()
        if self._try(
            self.app.redeem,
            when,
            numbers[n % len(numbers)],
            self.world.suppliers[supplier],
            Decimal(bill),
            invoice,
            "compute",
            when.at.date(),
        ):
            self.invoices.append((self.world.suppliers[supplier], invoice))

    @rule(n=st.integers(0, 100))
    def claim_and_reimburse(self, n: int) -> None:
        if not self.invoices:
            return
        supplier, invoice = self.invoices[n % len(self.invoices)]
        self._try(self.app.claim_reimbursement, at(4, 1), supplier, invoice, EVIDENCE)
        events = self._try(self.app.reimburse, at(4, 2), supplier, invoice)
        if events:
            self.payments.append(events[1].reference)  # type: ignore[index]

    @rule(n=st.integers(0, 100))
    def settle(self, n: int) -> None:
        if self.payments:
            ref = self.payments[n % len(self.payments)]
            self._try(
                self.app.record_settlement,
                at(4, 5),
                ref,
                self.app.payment(ref).payable,
                f"B{n}",
                date(2025, 4, 5),
            )

    @rule(supplier=st.integers(0, 2), fen=st.integers(1, 500_000))
    def fraud_and_clawback(self, supplier: int, fen: int) -> None:
        code = self.world.suppliers[supplier]
        case = f"C-{code[-4:]}"
        self._try(self.app.open_case, at(5, 1), case, PROGRAMME, code, "fraud")
        self._try(self.app.record_fraud_finding, at(5, 2), case, date(2025, 5, 2), "x", ["e"])
        paid = [p for p in self.payments if self.app.payment(p).payee == code]
        self._try(
            self.app.demand_clawback,
            at(5, 3),
            case,
            Decimal(fen) / 100,
            paid,
            [],
            date(2025, 6, 30),
        )
        self._try(
            self.app.record_repayment,
            at(5, 4),
            case,
            Decimal(fen) / 300,
            f"R{fen}",
            date(2025, 5, 4),
        )

    @rule()
    def year_end(self) -> None:
        self._try(self.app.expire_vouchers, at(1, 2, year=2026), PROGRAMME)

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
        assert rebuild_check(self.ledger, None) == []


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

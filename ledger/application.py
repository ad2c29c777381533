"""The ledger's eventsourcing Application: one method per command.

Each method loads the aggregates a rule needs, lets each aggregate enforce the rules it owns,
and saves every touched aggregate in **one** ``save()``: all of a command's events are stored
together or not at all. Rules that span aggregates (the yearly quota, one voucher per unit per
year) hold under concurrent writers because the second writer's save collides on an aggregate
version and the event store refuses it (``eventsourcing.persistence.IntegrityError``); the
caller retries.

Every method returns the events it stored (an empty list when the command was a harmless
repeat of one already applied).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder, Transcoding
from eventsourcing.utils import Environment, EnvType

from ledger.clock import business_year, half_year, local_date, period_year
from ledger.enforcement import Case, EntityRecord
from ledger.entities import Applicant, Supplier
from ledger.errors import Rejected
from ledger.events import AccessLog, CommandRecord, Context
from ledger.finance import (
    BankStatement,
    OpenInstruction,
    ReconciliationException,
    StatementLine,
    match,
)
from ledger.ids import stable_id
from ledger.payment import PaymentInstruction
from ledger.policy import Instrument, Policy
from ledger.pro_rata import (
    ClaimLine,
    ClaimRound,
    ContractLine,
    allocate,
    pool_of,
    split_funding,
)
from ledger.programme import Programme, SupplierList
from ledger.special import SpecialRound
from ledger.supplier_subsidy import (
    GreenAward,
    SpecialSpendAttribution,
    SupplierSubsidyRound,
    SupplierYear,
)
from ledger.voucher import Redemption, Voucher

A = TypeVar("A", bound=Aggregate)
Events = list[DomainEventProtocol[UUID]]


class DateAsISO(Transcoding):
    """``date`` is not transcoded by the library; service dates need it."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class VoucherLedger(Application[UUID]):
    name = "VoucherLedger"

    def __init__(self, policies: Mapping[str, Policy], env: EnvType | None = None) -> None:
        self.policies = dict(policies)
        self._programme_policies: dict[str, Programme] = {}
        self._recording: tuple[Context, str, str] | None = None
        super().__init__(env)

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        # The library would merge os.environ in; the ledger takes its configuration only
        # from the caller, so the same inputs always mean the same ledger.
        return Environment(name, {**type(self).env, **(env or {})})

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # ---- plumbing ------------------------------------------------------------------------

    def _load(self, cls: type[A], aggregate_id: UUID, code: str, message: str) -> A:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise Rejected(code, message) from None
        assert isinstance(aggregate, cls)
        return aggregate

    def _find(self, aggregate_id: UUID) -> Any | None:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def _commit(self, *aggregates: Aggregate) -> Events:
        events: Events = [e for a in aggregates for e in a.pending_events]
        if events:
            record = self._recording
            if record is not None:  # remembered with the events, in the same transaction
                ctx, name, digest = record
                stored = [[e.originator_id.hex, e.originator_version] for e in events]
                aggregates = (
                    *aggregates,
                    CommandRecord._create(
                        CommandRecord.Executed,
                        id=stable_id("command", ctx.command_id),
                        command=name,
                        digest=digest,
                        events=stored,
                        **ctx.fields(),
                    ),
                )
            self.save(*aggregates)
        return events

    def record_refusal(
        self, ctx: Context, command: str, required_role: str, held_roles: list[str]
    ) -> Events:
        """A command refused for want of a role is itself recorded (who, what, when)."""
        log: AccessLog | None = self._find(stable_id("access-log", ctx.actor))
        if log is None:
            log = AccessLog._create(
                AccessLog.Started,
                id=stable_id("access-log", ctx.actor),
                actor_name=ctx.actor,
                **ctx.fields(),
            )
        log.trigger_event(
            AccessLog.Refused,
            command=command,
            required_role=required_role,
            held_roles=held_roles,
            **ctx.fields(),
        )
        saved: Events = list(log.pending_events)
        self.save(log)
        return saved

    def command_done(self, command_id: str) -> bool:
        return self._find(stable_id("command", command_id)) is not None

    def run_once(
        self, ctx: Context, name: str, digest: str, command: Callable[[], Events]
    ) -> Events:
        """Run a command under its caller-given id at most once: the same id with the same
        content returns the original events and stores nothing; with other content it is
        refused (``command-id-reused``)."""
        if not ctx.idempotent:
            return command()
        done: CommandRecord | None = self._find(stable_id("command", ctx.command_id))
        if done is not None:
            if (done.command, done.digest) != (name, digest):
                raise Rejected(
                    "command-id-reused",
                    f"command id {ctx.command_id} was used for a different {done.command} command",
                )
            return [
                next(iter(self.events.get(UUID(hex_id), gt=version - 1, lte=version)))
                for hex_id, version in done.events
            ]
        self._recording = (ctx, name, digest)
        try:
            return command()
        finally:
            self._recording = None

    def applicant(self, credit_code: str) -> Applicant:
        return self._load(
            Applicant,
            Applicant.id_for(credit_code),
            "applicant-not-registered",
            f"no applicant with credit code {credit_code}",
        )

    def supplier(self, credit_code: str) -> Supplier:
        return self._load(
            Supplier,
            Supplier.id_for(credit_code),
            "supplier-not-registered",
            f"no supplier with credit code {credit_code}",
        )

    def programme(self, name: str) -> Programme:
        return self._load(
            Programme, Programme.id_for(name), "programme-not-open", f"programme {name} is not open"
        )

    def programme_terms(self, name: str) -> Programme:
        """The programme as opened: its policy snapshot never changes, so it is cached."""
        if name not in self._programme_policies:
            try:
                opened: Programme = self.repository.get(Programme.id_for(name), version=1)
            except AggregateNotFoundError:
                raise Rejected("programme-not-open", f"programme {name} is not open") from None
            self._programme_policies[name] = opened
        return self._programme_policies[name]

    def voucher(self, number: str) -> Voucher:
        return self._load(
            Voucher, Voucher.id_for(number), "unknown-voucher", f"no voucher numbered {number}"
        )

    def redemption(self, supplier: str, invoice_number: str) -> Redemption:
        return self._load(
            Redemption,
            Redemption.id_for(supplier, invoice_number),
            "unknown-redemption",
            f"no redemption by {supplier} with invoice number {invoice_number}",
        )

    def payment(self, reference: str) -> PaymentInstruction:
        return self._load(
            PaymentInstruction,
            PaymentInstruction.id_for(reference),
            "unknown-payment",
            f"no payment instruction {reference}",
        )

    def case(self, reference: str) -> Case:
        return self._load(Case, Case.id_for(reference), "unknown-case", f"no case {reference}")

    def entity_record(self, credit_code: str) -> EntityRecord | None:
        found: EntityRecord | None = self._find(EntityRecord.id_for(credit_code))
        return found

    def require_standing(self, terms: Programme, credit_code: str, ctx: Context) -> None:
        """CD-3, CD-11: checked for every command that concerns an entity."""
        record = self.entity_record(credit_code)
        if record is not None:
            record.require_in_good_standing(terms.policy, local_date(ctx.at))

    def _record_for_receiving(
        self, terms: Programme, credit_code: str, ctx: Context
    ) -> EntityRecord:
        """The entity's record, checked, to note a voucher or payment on in the same save
        (so a concurrent bar collides with it)."""
        record = self.entity_record(credit_code) or EntityRecord.start(ctx, credit_code)
        record.require_in_good_standing(terms.policy, local_date(ctx.at))
        return record

    def _pay(
        self,
        ctx: Context,
        terms: Programme,
        instrument: Instrument,
        payee: Applicant | Supplier,
        record: EntityRecord,
        *,
        amount: Decimal,
        purpose: str,
        decision: str,
        basis: Sequence[str],
        funding_source: str | None = None,
    ) -> PaymentInstruction:
        """Every payment the ledger decides: one instruction per decision, noted on the
        payee's record in the same save (so a bar recorded at the same moment collides)."""
        payment = PaymentInstruction.instruct(
            ctx,
            payee=payee.credit_code,
            payee_name=payee.name,
            payee_account=payee.bank_account,
            instrument=instrument.name,
            amount=amount,
            purpose=purpose,
            programme=terms.name,
            year=terms.year,
            funding_source=funding_source or str(instrument.value("funding_source")),
            decision=decision,
            basis=instrument.basis(*basis),
        )
        record.note_payment(ctx, payment.reference)
        return payment

    # ---- registration --------------------------------------------------------------------

    def register_applicant(
        self,
        ctx: Context,
        credit_code: str,
        name: str,
        kind: str,
        city: str,
        bank_account: str = "",
    ) -> Events:
        return self._register(Applicant, ctx, credit_code, name, kind, city, bank_account)

    def register_supplier(
        self,
        ctx: Context,
        credit_code: str,
        name: str,
        kind: str,
        city: str,
        bank_account: str = "",
    ) -> Events:
        return self._register(Supplier, ctx, credit_code, name, kind, city, bank_account)

    def _register(
        self,
        cls: type[Applicant] | type[Supplier],
        ctx: Context,
        credit_code: str,
        name: str,
        kind: str,
        city: str,
        bank_account: str,
    ) -> Events:
        """One registration per credit code and role: the same details again change nothing;
        different ones are refused."""
        existing = self._find(cls.id_for(credit_code))
        if existing is not None:
            if existing.same_registration(name, kind, city):
                return []
            raise Rejected(
                "already-registered",
                f"{cls.__name__.lower()} {credit_code} is registered as {existing.name!r} "
                f"({existing.kind}, {existing.city})",
            )
        return self._commit(cls.register(ctx, credit_code, name, kind, city, bank_account))

    def record_affiliation(
        self, ctx: Context, applicant: str, supplier: str, evidence: str
    ) -> Events:
        self.applicant(applicant)
        owner = self.supplier(supplier)
        owner.record_affiliation(ctx, applicant, evidence)
        return self._commit(owner)

    # ---- programmes and supplier lists ---------------------------------------------------

    def open_programme(self, ctx: Context, policy_id: str, year: int) -> Events:
        try:
            policy = self.policies[policy_id]
        except KeyError:
            raise Rejected(
                "unknown-policy",
                f"no policy {policy_id!r}; known: {', '.join(sorted(self.policies))}",
            ) from None
        programme = Programme.open(ctx, policy, year)
        if self._find(programme.id) is not None:
            raise Rejected("programme-already-open", f"programme {programme.name} is open")
        return self._commit(programme)

    def publish_supplier_list(
        self, ctx: Context, programme_name: str, period: str, suppliers: Sequence[str]
    ) -> Events:
        programme = self.programme_terms(programme_name)
        if period_year(period) != programme.year:
            raise Rejected(
                "period-outside-programme-year",
                f"period {period} is not in programme {programme.name}'s year {programme.year}",
            )
        for code in suppliers:
            programme.require_eligible_supplier(self.supplier(code))
            self.require_standing(programme, code, ctx)
        existing = self._find(SupplierList.id_for(programme.name, period))
        if existing is not None:
            if existing.suppliers == frozenset(suppliers):
                return []
            raise Rejected(
                "supplier-list-already-published",
                f"a different {period} list of {programme.name} was published already",
            )
        return self._commit(SupplierList.publish(ctx, programme, period, list(suppliers)))

    # ---- vouchers ------------------------------------------------------------------------

    def apply_for_voucher(
        self, ctx: Context, programme_name: str, instrument_name: str, applicant_code: str
    ) -> Events:
        """First come, first served: the order in which applications are stored is the
        submission order (CD-8)."""
        programme = self.programme(programme_name)
        instrument = programme.policy.instrument(instrument_name)
        programme.require_in_year(ctx)
        applicant = self.applicant(applicant_code)
        programme.require_eligible_applicant(applicant)
        record = self._record_for_receiving(programme, applicant.credit_code, ctx)
        number = programme.allot_voucher(ctx, instrument, applicant.credit_code)
        voucher = Voucher.issue(
            ctx, number, programme.name, programme.year, instrument, applicant.credit_code
        )
        record.note_voucher(ctx, number)
        return self._commit(programme, voucher, record)

    def redeem(
        self,
        ctx: Context,
        voucher_number: str,
        supplier_code: str,
        bill_amount: Decimal,
        invoice_number: str,
        service_kind: str,
        service_date: date,
        deduction: Decimal | None = None,
    ) -> Events:
        voucher = self.voucher(voucher_number)
        previous = self._find(Redemption.id_for(supplier_code, invoice_number))
        if previous is not None:
            if previous.is_retry_of(voucher.number, bill_amount, service_kind, service_date):
                return []
            raise Rejected(
                "duplicate-reference",
                f"invoice {invoice_number} of supplier {supplier_code} was already redeemed "
                f"against voucher {previous.voucher} for {previous.bill_amount}",
            )
        terms = self.programme_terms(voucher.programme)
        voucher.require_valid(ctx, service_date)
        terms.require_eligible_service(service_kind)
        supplier = self.supplier(supplier_code)
        self.require_standing(terms, voucher.holder, ctx)
        self.require_standing(terms, supplier.credit_code, ctx)
        if terms.policy.value("suppliers.listing") == "half-yearly":
            period = half_year(service_date)
            listing = self._find(SupplierList.id_for(terms.name, period))
            if listing is None:
                raise Rejected(
                    "supplier-not-listed",
                    f"no supplier list for {period} of {terms.name} has been published (CD-2)",
                )
            listing.require_listed(supplier.credit_code)
        if terms.policy.value("suppliers.affiliated_parties_excluded"):
            supplier.require_not_affiliated_with(voucher.holder)
        amount = voucher.deduction_for(bill_amount, deduction)
        redemption = Redemption.record(
            ctx,
            voucher,
            supplier.credit_code,
            invoice_number,
            bill_amount,
            service_kind,
            service_date,
            amount,
        )
        voucher.redeem(
            ctx, redemption.id, supplier.credit_code, invoice_number, bill_amount, amount
        )
        # The supplier's year of voucher business: next year's subsidy base (CD-6).
        business = self._supplier_year(ctx, terms.policy.id, supplier.credit_code, voucher.year)
        business.note_bill(
            ctx, invoice_number, voucher.number, voucher.holder, bill_amount, service_date
        )
        return self._commit(voucher, redemption, business)

    def claim_reimbursement(
        self, ctx: Context, supplier_code: str, invoice_number: str, evidence: dict[str, str]
    ) -> Events:
        redemption = self.redemption(supplier_code, invoice_number)
        voucher = self.voucher(redemption.voucher)
        terms = self.programme_terms(redemption.programme)
        self.require_standing(terms, supplier_code, ctx)
        instrument = terms.policy.instrument(voucher.instrument)
        redemption.claim(ctx, evidence, instrument)
        return self._commit(redemption)

    def reimburse(self, ctx: Context, supplier_code: str, invoice_number: str) -> Events:
        """CD-8: after review the supplier is paid what it deducted; the payment is
        instructed to the supplier from the instrument's funding source."""
        redemption = self.redemption(supplier_code, invoice_number)
        voucher = self.voucher(redemption.voucher)
        terms = self.programme_terms(redemption.programme)
        instrument = terms.policy.instrument(voucher.instrument)
        supplier = self.supplier(supplier_code)
        record = self._record_for_receiving(terms, supplier.credit_code, ctx)
        decision = f"reimbursement:{redemption.id}"
        purpose = f"{instrument.name}-voucher-reimbursement"
        reference = PaymentInstruction.reference_for(terms.name, purpose, decision)
        amount = redemption.reimburse(ctx, reference)
        payment = self._pay(
            ctx,
            terms,
            instrument,
            supplier,
            record,
            amount=amount,
            purpose=purpose,
            decision=decision,
            basis=("funding_source", "reimbursement_evidence"),
        )
        return self._commit(redemption, payment, record)

    # ---- special vouchers (CD-5, CD-9, CD-12, CD-13) ---------------------------------------

    SPECIAL = "special"

    def special_round(self, programme_name: str) -> SpecialRound:
        return self._load(
            SpecialRound,
            SpecialRound.id_for(programme_name, self.SPECIAL),
            "no-applications",
            f"the {programme_name} special round has no applications yet",
        )

    def apply_special(
        self,
        ctx: Context,
        programme_name: str,
        applicant_code: str,
        prior_year_spend: Decimal,
        evidence: dict[str, str],
        other_public_funding: dict[str, Decimal],
    ) -> Events:
        programme = self.programme(programme_name)
        instrument = programme.policy.instrument(self.SPECIAL)
        programme.require_in_year(ctx)
        applicant = self.applicant(applicant_code)
        programme.require_eligible_applicant(applicant)
        self.require_standing(programme, applicant.credit_code, ctx)
        programme.require_may_hold(instrument, applicant.credit_code)
        existing = self._find(SpecialRound.id_for(programme.name, self.SPECIAL))
        round_ = existing or SpecialRound.open(ctx, programme.name, self.SPECIAL)
        round_.receive(
            ctx,
            instrument,
            applicant.credit_code,
            prior_year_spend,
            evidence,
            other_public_funding,
        )
        return self._commit(round_)

    def _special(self, programme_name: str) -> tuple[Programme, SpecialRound]:
        terms = self.programme_terms(programme_name)
        return terms, self.special_round(terms.name)

    def rank_special(self, ctx: Context, programme_name: str) -> Events:
        terms, round_ = self._special(programme_name)
        round_.rank_applications(ctx, terms.policy.instrument(self.SPECIAL))
        return self._commit(round_)

    def review_special(
        self, ctx: Context, programme_name: str, applicant: str, passed: bool, reason: str
    ) -> Events:
        terms, round_ = self._special(programme_name)
        round_.review(ctx, terms.policy.instrument(self.SPECIAL), applicant, passed, reason)
        return self._commit(round_)

    def publish_special_plan(
        self, ctx: Context, programme_name: str, notice_from: date, notice_to: date
    ) -> Events:
        terms, round_ = self._special(programme_name)
        round_.publish_plan(ctx, terms.policy.instrument(self.SPECIAL), notice_from, notice_to)
        return self._commit(round_)

    def raise_objection(
        self,
        ctx: Context,
        programme_name: str,
        objection: str,
        party: str,
        grounds: str,
        round_name: str = SPECIAL,
    ) -> Events:
        """Against an applicant of the special round, or a supplier of a subsidy round."""
        if round_name != self.SPECIAL:
            supplier_round = self.supplier_round(programme_name, round_name)
            supplier_round.raise_objection(ctx, objection, party, grounds)
            return self._commit(supplier_round)
        _, round_ = self._special(programme_name)
        round_.raise_objection(ctx, objection, party, grounds)
        return self._commit(round_)

    def resolve_objection(
        self,
        ctx: Context,
        programme_name: str,
        objection: str,
        upheld: bool,
        reason: str,
        round_name: str = SPECIAL,
    ) -> Events:
        if round_name != self.SPECIAL:
            supplier_round = self.supplier_round(programme_name, round_name)
            supplier_round.resolve_objection(ctx, objection, upheld, reason)
            return self._commit(supplier_round)
        terms, round_ = self._special(programme_name)
        round_.resolve_objection(
            ctx, terms.policy.instrument(self.SPECIAL), objection, upheld, reason
        )
        return self._commit(round_)

    def finalise_special(self, ctx: Context, programme_name: str) -> Events:
        """Issue the special vouchers of the published plan and instruct each amount to be
        paid to the applicant (CD-9), in one transaction with the quota (CD-5) and the
        one-voucher and exclusivity rules (CD-5, CD-13)."""
        programme = self.programme(programme_name)
        round_ = self.special_round(programme.name)
        instrument = programme.policy.instrument(self.SPECIAL)
        plan = round_.require_finalisable(ctx)
        touched: list[Aggregate] = [round_, programme]
        numbers: dict[str, str] = {}
        for allocation in plan:
            applicant = self.applicant(allocation.applicant)
            record = self._record_for_receiving(programme, applicant.credit_code, ctx)
            number = programme.allot_voucher(ctx, instrument, applicant.credit_code)
            numbers[applicant.credit_code] = number
            voucher = Voucher.issue(
                ctx,
                number,
                programme.name,
                programme.year,
                instrument,
                applicant.credit_code,
                amount=allocation.amount,
            )
            decision = f"special-voucher:{number}"
            purpose = f"{instrument.name}-voucher-payment"
            reference = PaymentInstruction.reference_for(programme.name, purpose, decision)
            amount = voucher.pay_to_holder(ctx, reference)
            record.note_voucher(ctx, number)
            payment = self._pay(
                ctx,
                programme,
                instrument,
                applicant,
                record,
                amount=amount,
                purpose=purpose,
                decision=decision,
                basis=("tiers", "max_subsidy_rate", "funding_source"),
            )
            touched += [voucher, payment, record]
        round_.finalise(ctx, numbers)
        return self._commit(*touched)

    # ---- payments --------------------------------------------------------------------------

    def record_settlement(
        self,
        ctx: Context,
        reference: str,
        amount: Decimal,
        bank_reference: str,
        value_date: date,
    ) -> Events:
        payment = self.payment(reference)
        if payment.settled is not None and payment.settled == amount:
            return []  # the same settlement again
        payment.settle(ctx, amount, bank_reference, value_date)
        return self._commit(payment)

    def approve_payment(self, ctx: Context, reference: str, note: str) -> Events:
        payment = self.payment(reference)
        payment.approve(ctx, note)
        return self._commit(payment)

    def cancel_payment(self, ctx: Context, reference: str, reason: str) -> Events:
        payment = self.payment(reference)
        payment.cancel(ctx, reason)
        return self._commit(payment)

    def import_statement(
        self, ctx: Context, content_digest: str, source: str, lines: Sequence[StatementLine]
    ) -> Events:
        """A statement's identity is its content: importing the same one again changes
        nothing."""
        if self._find(BankStatement.id_for(content_digest)) is not None:
            return []
        return self._commit(BankStatement.import_(ctx, content_digest, source, lines))

    def reconcile(
        self,
        ctx: Context,
        payment_refs: Sequence[str],
        statement_ids: Sequence[UUID],
        window_days: int,
        missing_after_days: int,
    ) -> Events:
        """Match the statements' unmatched lines with the given instructions and record every
        outcome (the caller finds the candidates; the aggregates decide)."""
        payments = {r: self.payment(r) for r in payment_refs}
        statements = [
            self._load(BankStatement, i, "unknown-statement", f"no statement {i}")
            for i in statement_ids
        ]
        by_name = {s.statement: s for s in statements}
        open_instructions = [
            OpenInstruction(
                p.reference,
                p.payee_name,
                p.payee_account,
                p.payable,
                p.instructed_on,
                p.settled is not None or p.mismatched,
                p.stopped or p.cancelled,
            )
            for p in payments.values()
        ]
        lines = [(s.statement, line) for s in statements for line in s.unmatched()]
        today = local_date(ctx.at)
        exceptions: list[Aggregate] = []
        for outcome in match(open_instructions, lines, today, window_days, missing_after_days):
            payment = payments.get(outcome.payment_reference)
            line = outcome.line
            if outcome.kind == "missing":
                assert payment is not None
                payment.report_missing(ctx, (today - payment.instructed_on).days)
                exceptions.append(
                    self._exception(ctx, "missing", payment.reference, instructed=payment.payable)
                )
                continue
            assert line is not None
            statement = by_name[outcome.statement]
            statement.mark(ctx, line.line, outcome.payment_reference, outcome.kind)
            if outcome.kind == "settled":
                assert payment is not None
                payment.settle(
                    ctx, line.amount, f"{statement.statement}:{line.line}", line.value_date
                )
                missing = self._find(
                    ReconciliationException.id_for(
                        ReconciliationException.reference_for("missing", payment.reference, "", 0)
                    )
                )
                if missing is not None and missing.open:
                    missing.resolve(ctx, f"paid on {line.value_date} ({statement.statement})")
                    exceptions.append(missing)
                continue
            if outcome.kind == "amount-mismatch":
                assert payment is not None
                payment.record_mismatch(ctx, line.amount, statement.statement, line.line)
            exceptions.append(
                self._exception(
                    ctx,
                    outcome.kind,
                    outcome.payment_reference,
                    statement.statement,
                    line.line,
                    payment.payable if payment else Decimal("0.00"),
                    line.amount,
                    " ".join([line.counterparty_name, line.counterparty_account, line.reference]),
                )
            )
        return self._commit(*statements, *payments.values(), *exceptions)

    def _exception(
        self,
        ctx: Context,
        kind: str,
        payment_reference: str = "",
        statement: str = "",
        line: int = 0,
        instructed: Decimal = Decimal("0.00"),
        paid: Decimal = Decimal("0.00"),
        detail: str = "",
    ) -> ReconciliationException:
        reference = ReconciliationException.reference_for(kind, payment_reference, statement, line)
        existing: ReconciliationException | None = self._find(
            ReconciliationException.id_for(reference)
        )
        return existing or ReconciliationException.raise_(
            ctx, kind, payment_reference, statement, line, instructed, paid, detail
        )

    def resolve_exception(self, ctx: Context, reference: str, reason: str) -> Events:
        exception = self._load(
            ReconciliationException,
            ReconciliationException.id_for(reference),
            "unknown-exception",
            f"no reconciliation exception {reference}",
        )
        exception.resolve(ctx, reason)
        return self._commit(exception)

    # ---- enforcement (CD-3, CD-11) ---------------------------------------------------------

    def _require_registered(self, credit_code: str) -> None:
        if (
            self._find(Applicant.id_for(credit_code)) is None
            and self._find(Supplier.id_for(credit_code)) is None
        ):
            raise Rejected("applicant-not-registered", f"nothing is registered under {credit_code}")

    def record_credit_listing(
        self,
        ctx: Context,
        entity: str,
        reference: str,
        kind: str,
        source: str,
        listed_from: date,
        listed_until: date | None,
    ) -> Events:
        self._require_registered(entity)
        record = self.entity_record(entity) or EntityRecord.start(ctx, entity)
        record.record_credit(ctx, reference, kind, source, listed_from, listed_until)
        return self._commit(record)

    def end_credit_listing(
        self, ctx: Context, entity: str, reference: str, ended_on: date
    ) -> Events:
        record = self.entity_record(entity)
        if record is None:
            raise Rejected("unknown-credit-record", f"{entity} has no credit records")
        record.end_credit(ctx, reference, ended_on)
        return self._commit(record)

    def open_case(
        self, ctx: Context, reference: str, programme_name: str, entity: str, description: str
    ) -> Events:
        terms = self.programme_terms(programme_name)
        self._require_registered(entity)
        if self._find(Case.id_for(reference)) is not None:
            raise Rejected("case-exists", f"case {reference} is open already")
        return self._commit(Case.open(ctx, reference, terms.name, entity, description))

    def record_fraud_finding(
        self, ctx: Context, reference: str, finding_date: date, finding: str, evidence: list[str]
    ) -> Events:
        """CD-11: bar the entity, cancel its unredeemed vouchers, stop its unsettled payments."""
        case = self.case(reference)
        terms = self.programme_terms(case.programme)
        record = self.entity_record(case.entity) or EntityRecord.start(ctx, case.entity)
        bar = record.debar(ctx, case.reference, terms.policy, finding_date)
        vouchers = [self.voucher(n) for n in record.vouchers]
        cancelled = {v.number: amount for v in vouchers if (amount := v.cancel(ctx, reference))}
        payments = [self.payment(r) for r in record.payments]
        stopped = [p.reference for p in payments if p.stop(ctx, reference)]
        case.record_finding(
            ctx, terms.policy, finding_date, finding, evidence, bar, cancelled, stopped
        )
        return self._commit(case, record, *vouchers, *payments)

    def demand_clawback(
        self,
        ctx: Context,
        reference: str,
        amount: Decimal,
        payment_refs: Sequence[str],
        voucher_numbers: Sequence[str],
        due_date: date,
    ) -> Events:
        """CD-11: recover the money paid — never more than was paid and not yet demanded."""
        case = self.case(reference)
        sources: list[PaymentInstruction | Voucher] = [self.payment(r) for r in payment_refs]
        sources += [self.voucher(n) for n in voucher_numbers]
        if not sources:
            raise Rejected("nothing-to-claw-back", "name the payments or vouchers recovered")
        for source in sources:
            owner = source.payee if isinstance(source, PaymentInstruction) else source.holder
            if owner != case.entity:
                raise Rejected(
                    "not-the-entitys", f"{owner} is not {case.entity}, the entity of the case"
                )
        available = sum((s.clawable for s in sources), start=Decimal("0.00"))
        if amount > available:
            raise Rejected(
                "clawback-exceeds-paid",
                f"{amount} is more than the {available} paid and not yet demanded back (CD-11)",
            )
        left = amount
        by_payment: dict[str, Decimal] = {}
        by_voucher: dict[str, Decimal] = {}
        for source in sources:
            take = min(left, source.clawable)
            if take > 0:
                source.claim_back(ctx, reference, take)
                if isinstance(source, PaymentInstruction):
                    by_payment[source.reference] = take
                else:
                    by_voucher[source.number] = take
                left -= take
        case.demand(ctx, amount, by_payment, by_voucher, due_date)
        return self._commit(case, *sources)

    def record_repayment(
        self, ctx: Context, reference: str, amount: Decimal, bank_reference: str, value_date: date
    ) -> Events:
        case = self.case(reference)
        case.record_repayment(ctx, amount, bank_reference, value_date)
        return self._commit(case)

    def offset_clawback(
        self, ctx: Context, reference: str, payment_ref: str, amount: Decimal | None
    ) -> Events:
        """Keep part of a later payment due to the same entity against its receivable."""
        case = self.case(reference)
        payment = self.payment(payment_ref)
        if payment.payee != case.entity:
            raise Rejected("not-the-entitys", f"payment {payment_ref} is not due to {case.entity}")
        take = amount if amount is not None else min(case.outstanding, payment.payable)
        case.record_offset(ctx, take, payment.reference)
        payment.offset_against(ctx, reference, take)
        return self._commit(case, payment)

    def write_off(
        self, ctx: Context, reference: str, amount: Decimal, reason: str, approver: str
    ) -> Events:
        case = self.case(reference)
        case.write_off(ctx, amount, reason, approver)
        return self._commit(case)

    def lift_debarment(self, ctx: Context, reference: str, reason: str, authority: str) -> Events:
        case = self.case(reference)
        record = self.entity_record(case.entity)
        if record is None:
            raise Rejected("debarment-not-found", f"no bar under case {reference}")
        record.lift(ctx, reference, local_date(ctx.at), reason, authority)
        return self._commit(record)

    # ---- supplier subsidy (CD-6, CD-10) and green award (CD-7) ----------------------------

    SUPPLIER_SUBSIDY = "supplier_subsidy"
    GREEN = "green"

    def _supplier_year(self, ctx: Context, policy: str, supplier: str, year: int) -> SupplierYear:
        found: SupplierYear | None = self._find(SupplierYear.id_for(policy, supplier, year))
        return found or SupplierYear.open(ctx, policy, supplier, year)

    def supplier_round(self, programme_name: str, round_name: str) -> SupplierSubsidyRound:
        return self._load(
            SupplierSubsidyRound,
            SupplierSubsidyRound.id_for(programme_name, round_name),
            "no-applications",
            f"round {round_name} of {programme_name} has no applications yet",
        )

    def apply_supplier_subsidy(
        self,
        ctx: Context,
        programme_name: str,
        round_name: str,
        supplier_code: str,
        special_lines: dict[str, Decimal],
    ) -> Events:
        """CD-6, CD-10: the supplier applies; its base is the previous year's business: the
        inclusive-voucher bills it served, plus special-voucher holders' evidenced spend it
        served. Unlisted (CD-2) and affiliated (CD-3) business is excluded, with reasons."""
        terms = self.programme_terms(programme_name)
        instrument = terms.policy.instrument(self.SUPPLIER_SUBSIDY)
        terms.require_in_year(ctx)
        base_name = f"{terms.policy.code}-{terms.year - int(instrument.value('base_year_offset'))}"
        if self._find(Programme.id_for(base_name)) is None:
            raise Rejected("base-programme-not-open", f"programme {base_name} was never opened")
        base = self.programme(base_name)
        supplier = self.supplier(supplier_code)
        terms.require_eligible_supplier(supplier)
        self.require_standing(terms, supplier.credit_code, ctx)
        excluded: list[dict[str, Any]] = []
        business = self._find(SupplierYear.id_for(terms.policy.id, supplier.credit_code, base.year))
        bills = business.bills if business is not None else {}
        counted = {}
        for invoice, (holder, bill) in sorted(bills.items()):
            if holder in supplier.affiliated:
                excluded.append(
                    {"invoice": invoice, "amount": bill, "reason": "affiliated-parties (CD-3)"}
                )
            else:
                counted[invoice] = bill
        listed = any(
            (listing := self._find(SupplierList.id_for(base.name, f"{base.year}H{half}")))
            is not None
            and supplier.credit_code in listing.suppliers
            for half in (1, 2)
        )
        special: dict[str, Decimal] = {}
        attributions: list[SpecialSpendAttribution] = []
        special_round = self._find(SpecialRound.id_for(base.name, self.SPECIAL))
        for holder, amount in sorted(special_lines.items()):
            reason = None
            if not listed:
                reason = f"supplier-not-listed in {base.year} (CD-2)"
            elif self.SPECIAL not in base.holdings.get(holder, ()) or special_round is None:
                reason = f"not a special-voucher holder of {base.name}"
            elif holder in supplier.affiliated:
                reason = "affiliated-parties (CD-3)"
            if reason:
                excluded.append({"holder": holder, "amount": amount, "reason": reason})
                continue
            attribution = self._find(SpecialSpendAttribution.id_for(base.name, holder))
            if attribution is None:
                assert special_round is not None
                spend = special_round.applications[holder].spend
                attribution = SpecialSpendAttribution.start(ctx, base.name, holder, spend)
            attribution.attribute(ctx, supplier.credit_code, round_name, amount)
            attributions.append(attribution)
            special[holder] = amount
        existing = self._find(SupplierSubsidyRound.id_for(terms.name, round_name))
        round_ = existing or SupplierSubsidyRound.open(ctx, terms.name, round_name, base.name)
        round_.receive(
            ctx,
            instrument,
            supplier.credit_code,
            (len(counted), sum(counted.values(), start=Decimal("0.00"))),
            special,
            excluded,
        )
        return self._commit(round_, *attributions)

    def plan_supplier_subsidy(self, ctx: Context, programme_name: str, round_name: str) -> Events:
        terms = self.programme_terms(programme_name)
        round_ = self.supplier_round(terms.name, round_name)
        instrument = terms.policy.instrument(self.SUPPLIER_SUBSIDY)
        cap: Decimal = instrument.value("cap_per_supplier_per_year")
        headrooms = {
            supplier: self._supplier_year(ctx, terms.policy.id, supplier, terms.year).headroom(cap)
            for supplier in round_.bases
        }
        round_.draw_plan(ctx, instrument, headrooms)
        return self._commit(round_)

    def publish_supplier_subsidy_plan(
        self,
        ctx: Context,
        programme_name: str,
        round_name: str,
        notice_from: date,
        notice_to: date,
    ) -> Events:
        round_ = self.supplier_round(programme_name, round_name)
        round_.publish(ctx, notice_from, notice_to)
        return self._commit(round_)

    def finalise_supplier_subsidy(
        self, ctx: Context, programme_name: str, round_name: str
    ) -> Events:
        """CD-10: pay the plan — each grant through the supplier's year, which caps it (CD-6)."""
        terms = self.programme_terms(programme_name)
        round_ = self.supplier_round(terms.name, round_name)
        instrument = terms.policy.instrument(self.SUPPLIER_SUBSIDY)
        lines = round_.require_finalisable(ctx)
        touched: list[Aggregate] = [round_]
        granted: dict[str, Decimal] = {}
        payments: dict[str, str] = {}
        for line in lines:
            supplier = self.supplier(line.supplier)
            record = self._record_for_receiving(terms, supplier.credit_code, ctx)
            year = self._supplier_year(ctx, terms.policy.id, supplier.credit_code, terms.year)
            decision = f"supplier-subsidy:{terms.name}:{round_name}:{supplier.credit_code}"
            purpose = "supplier-subsidy"
            reference = PaymentInstruction.reference_for(terms.name, purpose, decision)
            amount = year.grant(ctx, instrument, terms.name, round_name, line, reference)
            granted[supplier.credit_code] = amount
            touched.append(year)
            if amount > 0:
                payment = self._pay(
                    ctx,
                    terms,
                    instrument,
                    supplier,
                    record,
                    amount=amount,
                    purpose=purpose,
                    decision=decision,
                    basis=("max_subsidy_rate", "cap_per_supplier_per_year"),
                )
                payments[supplier.credit_code] = reference
                touched += [payment, record]
        round_.finalise(ctx, granted, payments)
        return self._commit(*touched)

    def certify_green_data_centre(
        self,
        ctx: Context,
        programme_name: str,
        supplier_code: str,
        certified_on: date,
        reference: str,
    ) -> Events:
        """CD-7 (免申即享): recording the certification grants the award, once per supplier."""
        terms = self.programme_terms(programme_name)
        terms.require_in_year(ctx)
        instrument = terms.policy.instrument(self.GREEN)
        supplier = self.supplier(supplier_code)
        if supplier.kind not in instrument.value("eligible_kinds"):
            raise Rejected("not-a-data-centre", f"{supplier.credit_code} is a {supplier.kind}")
        terms.require_eligible_supplier(supplier)
        if not supplier.certify_green(ctx, certified_on, reference):
            return []  # this certification is recorded already
        if self._find(GreenAward.id_for(supplier.credit_code)) is not None:
            return self._commit(supplier)  # certified again: the award is once, ever
        record = self._record_for_receiving(terms, supplier.credit_code, ctx)
        decision = f"green-award:{supplier.credit_code}"
        purpose = "green-award"
        payment_reference = PaymentInstruction.reference_for(terms.name, purpose, decision)
        award = GreenAward.grant(
            ctx,
            instrument,
            supplier.credit_code,
            terms.name,
            certified_on,
            reference,
            payment_reference,
        )
        payment = self._pay(
            ctx,
            terms,
            instrument,
            supplier,
            record,
            amount=instrument.value("amount"),
            purpose=purpose,
            decision=decision,
            basis=("amount", "eligible_kinds"),
        )
        return self._commit(supplier, award, payment, record)

    # ---- pro-rata claim subsidies (QD-1…QD-8) ----------------------------------------------

    def _pro_rata(self, programme_name: str) -> tuple[Programme, Instrument]:
        terms = self.programme_terms(programme_name)
        for instrument in terms.policy.instruments.values():
            if instrument.type == "pro-rata-claim-subsidy":
                return terms, instrument
        raise Rejected(
            "unknown-instrument", f"programme {terms.name} takes no claims of service contracts"
        )

    def claim_round(self, programme_name: str) -> ClaimRound:
        terms, instrument = self._pro_rata(programme_name)
        return self._load(
            ClaimRound,
            ClaimRound.id_for(terms.name, instrument.name),
            "unknown-claim",
            f"{terms.name} has no claims yet",
        )

    def submit_operator_claim(
        self,
        ctx: Context,
        programme_name: str,
        claimant_code: str,
        audit_report: str,
        lines: Sequence[ClaimLine],
    ) -> Events:
        """QD-1, QD-2, QD-5, QD-8: every line kept, eligible or excluded with its reason."""
        terms, instrument = self._pro_rata(programme_name)
        claimant = self.supplier(claimant_code)
        terms.require_eligible_supplier(claimant)
        window = (instrument.value("service_window_from"), instrument.value("service_window_to"))
        registry: list[ContractLine] = []
        seen: set[Any] = set()
        decided: list[tuple[ClaimLine, str]] = []
        for line in lines:
            key = ContractLine.id_for(line.customer, line.contract_number)
            why = ""
            if not line.customer_in_area:
                why = (
                    f"customer not in {', '.join(terms.policy.value('applicants.cities'))} "
                    f"({terms.policy.clause('applicants.cities')})"
                )
            elif not (window[0] <= line.service_from <= line.service_to <= window[1]):
                why = (
                    f"service {line.service_from}–{line.service_to} outside "
                    f"{window[0]}–{window[1]} ({instrument.clause('service_window_from')})"
                )
            elif line.funded_elsewhere:
                why = f"declared funded elsewhere ({instrument.clause('duplicate_funding_check')})"
            elif instrument.value("duplicate_funding_check") and key in seen:
                why = f"listed twice in this claim ({instrument.clause('duplicate_funding_check')})"
            elif (
                instrument.value("duplicate_funding_check")
                and (earlier := self._find(key)) is not None
            ):
                why = (
                    f"claimed by {earlier.claimant} in {earlier.programme} "
                    f"({instrument.clause('duplicate_funding_check')})"
                )
            else:
                registry.append(
                    ContractLine.claim(
                        ctx, line.customer, line.contract_number, terms.name, claimant.credit_code
                    )
                )
            seen.add(key)
            decided.append((line, why))
        existing = self._find(ClaimRound.id_for(terms.name, instrument.name))
        round_ = existing or ClaimRound.open(ctx, terms.name, instrument.name)
        round_.submit(ctx, instrument, claimant.credit_code, audit_report, decided)
        return self._commit(round_, *registry)

    def district_pre_review(
        self,
        ctx: Context,
        programme_name: str,
        claimant: str,
        passed: bool,
        green_threshold_met: bool,
        reason: str,
    ) -> Events:
        """QD-6, QD-7: an operator on a blacklist, or below the green threshold, cannot pass."""
        terms, instrument = self._pro_rata(programme_name)
        round_ = self.claim_round(terms.name)
        if passed:
            self.require_standing(terms, claimant, ctx)
        round_.pre_review(ctx, instrument, claimant, passed, green_threshold_met, reason)
        return self._commit(round_)

    def city_review(
        self,
        ctx: Context,
        programme_name: str,
        claimant: str,
        passed: bool,
        approved: Decimal | None,
        assessment: str,
        reason: str,
    ) -> Events:
        round_ = self.claim_round(programme_name)
        round_.city_review(ctx, claimant, passed, approved, assessment, reason)
        return self._commit(round_)

    def allocate_operator_subsidy(self, ctx: Context, programme_name: str) -> Events:
        """QD-2…QD-4: entitlements, scaled pro rata to the pool, split between the funding
        sources, one payment instruction per claimant and source."""
        terms, instrument = self._pro_rata(programme_name)
        round_ = self.claim_round(terms.name)
        round_.require_allocatable()
        entitlements = round_.entitlements(instrument)
        pool = pool_of(instrument)
        allocations, scale = allocate(entitlements, pool)
        shares = split_funding(allocations, instrument.value("funding_split"))
        touched: list[Aggregate] = [round_]
        payments: dict[str, dict[str, str]] = {}
        for claimant_code, by_source in shares.items():
            claimant = self.supplier(claimant_code)
            record = self._record_for_receiving(terms, claimant_code, ctx)
            payments[claimant_code] = {}
            for source, amount in by_source.items():
                if amount <= 0:
                    continue
                payment = self._pay(
                    ctx,
                    terms,
                    instrument,
                    claimant,
                    record,
                    amount=amount,
                    purpose=instrument.name.replace("_", "-"),
                    decision=f"{instrument.name}:{terms.name}:{claimant_code}:{source}",
                    basis=("rate", "funding_split", "allocation"),
                    funding_source=source,
                )
                payments[claimant_code][source] = payment.reference
                touched.append(payment)
            touched.append(record)
        round_.allocate(ctx, instrument, entitlements, pool, allocations, scale, shares, payments)
        return self._commit(*touched)

    def expire_vouchers(self, ctx: Context, programme_name: str) -> Events:
        """Year end: every voucher of the programme with value left lapses (CD-8)."""
        programme = self.programme(programme_name)
        if business_year(ctx.at) <= programme.year:
            raise Rejected(
                "programme-year-not-ended",
                f"vouchers of {programme.name} lapse only after {programme.year} has ended",
            )
        lapsing = [self.voucher(n) for n in programme.voucher_numbers()]
        return self._commit(*[v for v in lapsing if v.expire(ctx)])

"""The ledger's eventsourcing Application: the plumbing every command handler shares.

Commands are declared in ``ledger/handlers/`` (one typed declaration per command, next to the
function that handles it, grouped by policy area); :meth:`VoucherLedger.execute` runs one. A
handler loads the aggregates a rule needs, lets each aggregate enforce the rules it owns, and
saves every touched aggregate in **one** ``save()``: all of a command's events are stored
together or not at all. Rules that span aggregates (the yearly quota, one voucher per unit per
year) hold under concurrent writers because the second writer's save collides on an aggregate
version and the event store refuses it (``eventsourcing.persistence.IntegrityError``);
:meth:`execute` reloads and tries again, a bounded number of times.

``execute`` returns the events stored (an empty list when the command was a harmless repeat of
one already applied).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, OperationalError, Transcoding
from eventsourcing.utils import Environment, EnvType, get_topic

from ledger.clock import Clock, SimulatedClock, TimeRules, local_date
from ledger.enforcement import Case, EntityRecord
from ledger.entities import Applicant, Supplier
from ledger.errors import Rejected, RejectionCode
from ledger.events import CommandRecord, Context, Events, LateEntry, RefusedCommand
from ledger.finance import BankStatement
from ledger.handlers import HANDLERS
from ledger.handlers.base import Handler
from ledger.handlers.periods import ReopenPeriod
from ledger.ids import stable_id
from ledger.payment import PaymentInstruction
from ledger.periods import PERIODS_ID, AccountingPeriods
from ledger.policy import PRO_RATA_CLAIM_SUBSIDY, RANKED_TIER_GRANT, Instrument, Policy
from ledger.pro_rata import ClaimRound
from ledger.programme import Programme
from ledger.roles import RoleTable
from ledger.special import SpecialRound
from ledger.supplier_subsidy import SupplierSubsidyRound, SupplierYear
from ledger.vocabulary import Command, command_digest, plain
from ledger.voucher import Redemption, Voucher

A = TypeVar("A", bound=Aggregate)
MAX_ATTEMPTS = 40
# Refusals that are not decisions about the business: not recorded as refused commands.
_NOT_DECISIONS = ("concurrency-conflict", "command-id-reused")


@dataclass(frozen=True)
class _Running:
    """The command being run: what commit() stores with its events."""

    ctx: Context
    name: str
    digest: str
    late: bool


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

    def __init__(
        self,
        policies: Mapping[str, Policy],
        env: EnvType | None = None,
        *,
        clock: Clock | None = None,
        time_rules: TimeRules | None = None,
    ) -> None:
        self.policies = dict(policies)
        self._programme_policies: dict[str, Programme] = {}
        self._running: _Running | None = None
        # Recorded time. Without a clock given (unit tests), a simulated one that follows the
        # story's business time; the wiring gives the system clock.
        self.clock: Clock = clock or SimulatedClock(datetime(2000, 1, 1, tzinfo=UTC))
        self.time_rules = time_rules or TimeRules()
        # Set by the wiring: the read models' answer to :meth:`reconciliation_candidates`.
        self.candidates: Callable[[], tuple[list[str], list[UUID]]] | None = None
        super().__init__(env)

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        # The library would merge os.environ in; the ledger takes its configuration only
        # from the caller, so the same inputs always mean the same ledger.
        return Environment(name, {**type(self).env, **(env or {})})

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # ---- plumbing ------------------------------------------------------------------------

    def load(self, cls: type[A], aggregate_id: UUID, code: RejectionCode, message: str) -> A:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise Rejected(code, message) from None
        assert isinstance(aggregate, cls)
        return aggregate

    def find(self, aggregate_id: UUID) -> Any | None:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def commit(self, *aggregates: Aggregate) -> Events:
        events: Events = [e for a in aggregates for e in a.pending_events]
        running = self._running
        if events and running is not None:
            # Remembered with the events, in the same transaction: the command record (for a
            # caller-given id) and, for a late entry, its reason.
            ctx = running.ctx
            stored = [[e.originator_id.hex, e.originator_version] for e in events]
            if ctx.idempotent:
                aggregates = (
                    *aggregates,
                    CommandRecord._create(
                        CommandRecord.Executed,
                        id=stable_id("command", ctx.command_id),
                        command=running.name,
                        digest=running.digest,
                        events=stored,
                        **ctx.fields(),
                    ),
                )
            if running.late:
                aggregates = (
                    *aggregates,
                    LateEntry._create(
                        LateEntry.Recorded,
                        id=stable_id("late-entry", ctx.command_id),
                        command=running.name,
                        recorded_at=self.clock.now(),
                        reason=ctx.late_reason,
                        **ctx.fields(),
                    ),
                )
        if events:
            self.save(*aggregates)
        return events

    def command_done(self, command_id: str) -> bool:
        return self.find(stable_id("command", command_id)) is not None

    def execute(self, ctx: Context, command: Command) -> Events:
        """Run a declared command: its business time checked against the ledger's clock, at
        most once under a caller-given id, retried when a concurrent writer changed the same
        aggregates first. A refusal by a rule is itself recorded, then raised."""
        handler = HANDLERS[type(command)]
        self.clock.observe(ctx.at)
        digest = command_digest(command, ctx)
        for attempt in range(MAX_ATTEMPTS):
            try:
                return self._run_once(ctx, command, digest, handler)
            except (IntegrityError, OperationalError):
                # Jittered back-off keeps racing writers from colliding in lock-step.
                time.sleep(random.uniform(0, min(0.1, 0.005 * 2**attempt)))
        raise Rejected(
            "concurrency-conflict",
            f"{command.command_name}: gave up after {MAX_ATTEMPTS} attempts; nothing was stored",
        )

    def _run_once(self, ctx: Context, command: Command, digest: str, handler: Handler) -> Events:
        """A command id has one outcome. Under a caller-given id, the same command again
        returns the original events (or the original refusal) and stores nothing; other
        content is refused (``command-id-reused``)."""
        if ctx.idempotent:
            done = self.find(stable_id("command", ctx.command_id))
            if done is not None:
                if (done.command, done.digest) != (command.command_name, digest):
                    raise Rejected(
                        "command-id-reused",
                        f"command id {ctx.command_id} was used for a different {done.command} "
                        "command",
                    )
                if isinstance(done, RefusedCommand):
                    raise Rejected(done.code, done.message)  # type: ignore[arg-type]
                return [
                    next(iter(self.events.get(UUID(hex_id), gt=version - 1, lte=version)))
                    for hex_id, version in done.events
                ]
        self._running = _Running(ctx, command.command_name, digest, self._is_late(ctx))
        try:
            self._authorise(ctx, command)
            self._check_business_time(ctx)
            self._require_open_period(ctx, command)
            return handler(self, ctx, command)
        except Rejected as refusal:
            if refusal.code not in _NOT_DECISIONS:
                self._record_refused(ctx, command, digest, refusal)
            raise
        finally:
            self._running = None

    def roles(self) -> RoleTable | None:
        found: RoleTable | None = self.find(stable_id("role-table"))
        return found

    def _authorise(self, ctx: Context, command: Command) -> None:
        """The role table decides who may give the command (in its programme, where it names
        one); an identity acting on someone's behalf must be an administrator."""
        table = self.roles()
        if table is None or not table.configured:
            return  # no roles granted yet: a single-user ledger
        if ctx.identity != ctx.actor and not table.is_administrator(ctx.identity):
            raise Rejected(
                "not-permitted",
                f"{ctx.identity} may not act on behalf of {ctx.actor}: only an administrator "
                "may; the refusal is recorded",
            )
        programme = getattr(command, "programme", None)
        if not table.permits(ctx.actor, command.needs_role, programme):
            held = ", ".join(f"{r} in {s}" for r, s in sorted(table.held(ctx.actor)))
            where = f" in {programme}" if programme else ""
            raise Rejected(
                "not-permitted",
                f"{ctx.actor} ({held or 'no role'}) may not {command.command_name}{where}: it "
                f"needs the {command.needs_role} role; the refusal is recorded",
            )

    def _require_open_period(self, ctx: Context, command: Command) -> None:
        """An entry dated in a closed month is refused; reopening one is how to enter it."""
        if isinstance(command, ReopenPeriod):
            return
        periods: AccountingPeriods | None = self.find(PERIODS_ID)
        if periods is not None:
            periods.require_open(ctx.at)

    def _is_late(self, ctx: Context) -> bool:
        return self.clock.now() - ctx.at > self.time_rules.late_after

    def _check_business_time(self, ctx: Context) -> None:
        """Business time may not run ahead of recorded time; a late entry needs a reason."""
        now = self.clock.now()
        if ctx.at > now + self.time_rules.future_tolerance:
            raise Rejected(
                "business-time-in-future",
                f"business time {ctx.at.isoformat()} is ahead of the ledger's clock "
                f"({now.isoformat(timespec='seconds')})",
            )
        if self._is_late(ctx) and not ctx.late_reason.strip():
            raise Rejected(
                "late-entry-needs-reason",
                f"business time {ctx.at.isoformat()} is more than "
                f"{self.time_rules.late_after.days} days before the ledger's clock "
                f"({now.isoformat(timespec='seconds')}): give the reason for the late entry",
            )

    def _record_refused(
        self, ctx: Context, command: Command, digest: str, refusal: Rejected
    ) -> None:
        """Every refusal of a business command is kept: what was asked, by whom, the rule."""
        self.save(
            RefusedCommand._create(
                RefusedCommand.Refused,
                # Under a caller's id the refusal is that id's one outcome; without one, each
                # refusal is its own record.
                id=stable_id("command", ctx.command_id) if ctx.idempotent else uuid4(),
                command=command.command_name,
                digest=digest,
                code=refusal.code,
                message=refusal.message,
                content=plain(command.content()),
                **ctx.fields(),
            )
        )

    def reconciliation_candidates(self) -> tuple[list[str], list[UUID]]:
        """The payment instructions and the statements with unmatched lines that a
        reconciliation looks at. The wiring answers from the read models; without them, the
        log is read (the same answer, more slowly)."""
        if self.candidates is not None:
            return self.candidates()
        payments: list[str] = []
        statements: dict[UUID, bool] = {}
        for event in self.events_of(PaymentInstruction.Instructed, BankStatement.Imported):
            if isinstance(event, PaymentInstruction.Instructed):
                payments.append(event.reference)
            else:
                statements[event.originator_id] = True
        unmatched = [i for i in statements if self.repository.get(i).unmatched()]
        return payments, unmatched

    def events_of(self, *classes: type[Any]) -> Iterator[Any]:
        topics = [get_topic(cls) for cls in classes]
        position = 1
        while True:
            page = self.recorder.select_notifications(position, 1000, topics=topics)
            if not page:
                return
            for notification in page:
                yield self.mapper.to_domain_event(notification)
            position = page[-1].id + 1

    def applicant(self, credit_code: str) -> Applicant:
        return self.load(
            Applicant,
            Applicant.id_for(credit_code),
            "applicant-not-registered",
            f"no applicant with credit code {credit_code}",
        )

    def supplier(self, credit_code: str) -> Supplier:
        return self.load(
            Supplier,
            Supplier.id_for(credit_code),
            "supplier-not-registered",
            f"no supplier with credit code {credit_code}",
        )

    def programme(self, name: str) -> Programme:
        return self.load(
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
        return self.load(
            Voucher, Voucher.id_for(number), "unknown-voucher", f"no voucher numbered {number}"
        )

    def redemption(self, supplier: str, invoice_number: str) -> Redemption:
        return self.load(
            Redemption,
            Redemption.id_for(supplier, invoice_number),
            "unknown-redemption",
            f"no redemption by {supplier} with invoice number {invoice_number}",
        )

    def payment(self, reference: str) -> PaymentInstruction:
        return self.load(
            PaymentInstruction,
            PaymentInstruction.id_for(reference),
            "unknown-payment",
            f"no payment instruction {reference}",
        )

    def case(self, reference: str) -> Case:
        return self.load(Case, Case.id_for(reference), "unknown-case", f"no case {reference}")

    def entity_record(self, credit_code: str) -> EntityRecord | None:
        found: EntityRecord | None = self.find(EntityRecord.id_for(credit_code))
        return found

    def require_standing(self, terms: Programme, credit_code: str, ctx: Context) -> None:
        """CD-3, CD-11: checked for every command that concerns an entity."""
        record = self.entity_record(credit_code)
        if record is not None:
            self._require_good_standing(terms, record, ctx)

    def standing_refusal(self, terms: Programme, credit_code: str, ctx: Context) -> Rejected | None:
        """What :meth:`require_standing` would refuse, as a value (QD-7 re-reviews)."""
        try:
            self.require_standing(terms, credit_code, ctx)
        except Rejected as refusal:
            return refusal
        return None

    def _require_good_standing(self, terms: Programme, record: EntityRecord, ctx: Context) -> None:
        """Standing on the command's business date *and* as far as the ledger knows today:
        a bar, finding or listing already recorded binds a command whatever date it
        carries, so back-dating cannot escape it (trust model)."""
        business, today = local_date(ctx.at), local_date(self.clock.now())
        # A bar (not lifted) or listing that began between the business date and today is
        # known: it binds.
        starts = [b.start for b in record.bars.values() if b.lifted_on is None] + [
            c.listed_from for c in record.credit_records.values()
        ]
        days = {business, today, *(d for d in starts if business < d <= today)}
        for day in sorted(days):
            record.require_in_good_standing(terms.policy, day)

    def record_for_receiving(
        self, terms: Programme, credit_code: str, ctx: Context
    ) -> EntityRecord:
        """The entity's record, checked, to note a voucher or payment on in the same save
        (so a concurrent bar collides with it)."""
        record = self.entity_record(credit_code) or EntityRecord.start(ctx, credit_code)
        self._require_good_standing(terms, record, ctx)
        return record

    def pay(
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

    # ---- programmes and supplier lists ---------------------------------------------------

    # ---- vouchers ------------------------------------------------------------------------

    # ---- special vouchers (CD-5, CD-9, CD-12, CD-13) ---------------------------------------

    def special_round(self, programme_name: str) -> SpecialRound:
        """The programme's ranked round (CD-5, CD-9), under its instrument's name."""
        terms = self.programme_terms(programme_name)
        instrument = terms.policy.instrument_of_type(RANKED_TIER_GRANT)
        return self.load(
            SpecialRound,
            SpecialRound.id_for(terms.name, instrument.name),
            "no-applications",
            f"the {programme_name} {instrument.name} round has no applications yet",
        )

    # ---- supplier subsidy (CD-6, CD-10) and green award (CD-7) ----------------------------

    def supplier_year(self, ctx: Context, policy: str, supplier: str, year: int) -> SupplierYear:
        found: SupplierYear | None = self.find(SupplierYear.id_for(policy, supplier, year))
        return found or SupplierYear.open(ctx, policy, supplier, year)

    def supplier_round(self, programme_name: str, round_name: str) -> SupplierSubsidyRound:
        return self.load(
            SupplierSubsidyRound,
            SupplierSubsidyRound.id_for(programme_name, round_name),
            "no-applications",
            f"round {round_name} of {programme_name} has no applications yet",
        )

    # ---- pro-rata claim subsidies (QD-1…QD-8) ----------------------------------------------

    def pro_rata_terms(self, programme_name: str) -> tuple[Programme, Instrument]:
        terms = self.programme_terms(programme_name)
        return terms, terms.policy.instrument_of_type(PRO_RATA_CLAIM_SUBSIDY)

    def claim_round(self, programme_name: str) -> ClaimRound:
        terms, instrument = self.pro_rata_terms(programme_name)
        return self.load(
            ClaimRound,
            ClaimRound.id_for(terms.name, instrument.name),
            "unknown-claim",
            f"{terms.name} has no claims yet",
        )

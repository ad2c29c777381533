"""Why the ledger decided what it did, in plain language, from the recorded events alone:
each decision event carries the clause ids and the parameter values it applied (``basis``),
so an explanation never consults today's policy file."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from ledger.clock import local_date
from ledger.enforcement import Case, EntityRecord
from ledger.pro_rata import ClaimRound
from ledger.special import SpecialRound
from ledger.supplier_subsidy import GreenAward, SupplierYear
from ledger.voucher import Voucher


def _cny(amount: Any) -> str:
    return f"{Decimal(str(amount)):,.2f} CNY"


def _clauses(basis: dict[str, Any]) -> str:
    return ", ".join(basis.get("clauses", []))


def _day(event: Any) -> str:
    return str(local_date(event.at))


def explain_voucher(events: Sequence[Any]) -> str:
    """A voucher's story: issue, each redemption, payment or lapse."""
    issued = events[0]
    assert isinstance(issued, Voucher.Issued)
    params = issued.basis.get("params", {})
    parts = [
        f"Voucher {issued.number} ({issued.instrument}) was issued to {issued.holder} on "
        f"{_day(issued)} for {_cny(issued.face_value)}, under policy "
        f"{issued.basis.get('policy')} ({_clauses(issued.basis)})."
    ]
    if issued.kind == "deduction-voucher":
        parts.append(
            f"It deducts at most {Decimal(params['max_deduction_rate']):.0%} of each bill at a "
            f"listed supplier and is valid only in {issued.year} ({params.get('validity')})."
        )
    for e in events[1:]:
        if isinstance(e, Voucher.Redeemed):
            parts.append(
                f"On {_day(e)} supplier {e.supplier} deducted {_cny(e.deduction)} from a bill "
                f"of {_cny(e.bill_amount)} (invoice {e.invoice_number}), at most "
                f"{Decimal(e.basis['params']['max_deduction_rate']):.0%} of the bill "
                f"({_clauses(e.basis)}); {_cny(e.remaining)} was left."
            )
        elif isinstance(e, Voucher.PaidToHolder):
            parts.append(
                f"On {_day(e)} its amount {_cny(e.amount)} was instructed to be paid to the "
                f"holder (payment {e.payment_reference})."
            )
        elif isinstance(e, Voucher.Expired):
            parts.append(
                f"On {_day(e)} its unredeemed {_cny(e.lapsed)} lapsed: valid only in the year "
                f"of issue ({_clauses(e.basis)})."
            )
    return " ".join(parts)


def _tier_text(tiers: list[dict[str, Any]], index: int) -> str:
    t = tiers[index]
    return f"{_cny(t['amount'])} (spend ≥ {_cny(t['min_spend'])}, {t['places']} places)"


def explain_special_application(events: Sequence[Any], applicant: str) -> str | None:
    """One applicant's way through a special round, or None if it did not apply."""
    received = next(
        (
            e
            for e in events
            if isinstance(e, SpecialRound.ApplicationReceived) and e.applicant == applicant
        ),
        None,
    )
    if received is None:
        return None
    opened = events[0]
    tiers: list[dict[str, Any]] = received.basis["params"]["tiers"]
    parts = [
        f"In the {opened.programme} special round, {applicant} applied on {_day(received)} "
        f"(application {received.sequence}) with prior-year compute spend of "
        f"{_cny(received.spend)}, in bracket {received.bracket + 1}: "
        f"{_tier_text(tiers, received.bracket)} ({_clauses(received.basis)})."
    ]
    declared = {k: v for k, v in received.other_public_funding.items() if v}
    if declared:
        parts.append(
            "Other public funding declared: "
            + ", ".join(f"{k} {_cny(v)}" for k, v in declared.items())
            + " (CD-12)."
        )
    for e in events:
        if isinstance(e, SpecialRound.Ranked) and applicant in e.ranking:
            position = e.ranking.index(applicant) + 1
            places = e.basis["params"]["review_places"]
            parts.append(
                f"On {_day(e)} it was ranked {position} of {len(e.ranking)} — by spend bracket, "
                f"then by submission time within the bracket ({_clauses(e.basis)}); the top "
                f"{places} were reviewed"
                + (", and it was among them." if applicant in e.review_set else ".")
            )
        elif isinstance(e, SpecialRound.ReplacementDrawn) and e.applicant == applicant:
            parts.append(
                f"On {_day(e)} it moved up for review in place of {e.replaces} (递补, "
                f"{_clauses(e.basis)})."
            )
        elif isinstance(e, SpecialRound.Reviewed) and e.applicant == applicant:
            outcome = "passed" if e.passed else "failed"
            parts.append(f"On {_day(e)} it {outcome} review: {e.reason}.")
        elif isinstance(e, SpecialRound.PlanPublished):
            mine = next((a for a in e.allocations if a["applicant"] == applicant), None)
            rate = Decimal(e.basis["params"]["max_subsidy_rate"])
            if mine is not None:
                fell = (
                    f" The higher tiers its spend qualified for had no place left, so it got "
                    f"the highest tier with a place: {_tier_text(tiers, mine['tier'])}."
                    if mine["tier"] > mine["bracket"]
                    else f" It got the tier of its bracket: {_tier_text(tiers, mine['tier'])}."
                )
                parts.append(
                    f"Plan {e.version} (published {_day(e)}, notice {e.notice_from} to "
                    f"{e.notice_to}) allocated {_cny(mine['amount'])}, not more than "
                    f"{rate:.0%} of its spend ({_clauses(e.basis)})." + fell
                )
            elif applicant in e.unplaced:
                parts.append(
                    f"Plan {e.version} (published {_day(e)}) had no place left in any tier "
                    f"its spend qualified for ({_clauses(e.basis)}): no voucher."
                )
        elif isinstance(e, SpecialRound.ObjectionRaised) and e.applicant == applicant:
            parts.append(f"On {_day(e)} objection {e.objection} was raised: {e.grounds}.")
        elif isinstance(e, SpecialRound.ObjectionResolved) and e.applicant == applicant:
            verdict = "upheld — it left the plan" if e.upheld else "dismissed"
            parts.append(f"On {_day(e)} objection {e.objection} was {verdict}: {e.reason}.")
        elif isinstance(e, SpecialRound.Finalised) and applicant in e.vouchers:
            parts.append(
                f"On {_day(e)}, after the notice period with no objection standing, plan "
                f"{e.plan_version} became final: voucher {e.vouchers[applicant]}, paid to the "
                "applicant (CD-9)."
            )
    return " ".join(parts)


def explain_standing(events: Sequence[Any]) -> str | None:
    """An entity's credit records and bars (CD-3, CD-11), with their cases."""
    parts = []
    for e in events:
        if isinstance(e, EntityRecord.CreditRecorded):
            until = f" to {e.listed_until}" if e.listed_until else ""
            parts.append(
                f"A {e.kind} record ({e.reference}, {e.source}) lists it from "
                f"{e.listed_from}{until}; while such a record falls within the credit lookback "
                "window, its applications, redemptions and claims are refused (CD-3)."
            )
        elif isinstance(e, EntityRecord.CreditRecordEnded):
            parts.append(f"Record {e.reference} ended on {e.ended_on}.")
        elif isinstance(e, EntityRecord.Debarred):
            parts.append(
                f"Case {e.case} barred it under policy {e.policy} from {e.start} until "
                f"{e.until} — free again from that day ({_clauses(e.basis)}: "
                f"{e.basis['params']['enforcement.debarment_years']} years)."
            )
        elif isinstance(e, EntityRecord.DebarmentLifted):
            parts.append(
                f"On {e.lifted_on} the bar of case {e.case} was lifted by {e.authority}: "
                f"{e.reason}."
            )
    return " ".join(parts) or None


def explain_case(events: Sequence[Any]) -> str:
    opened = events[0]
    assert isinstance(opened, Case.Opened)
    parts = [
        f"Case {opened.reference} ({opened.programme}) was opened on {_day(opened)} against "
        f"{opened.entity}: {opened.description}."
    ]
    outstanding = Decimal("0.00")
    for e in events[1:]:
        if isinstance(e, Case.FraudFound):
            parts.append(
                f"Fraud was found on {e.finding_date}: {e.finding} (evidence "
                f"{', '.join(e.evidence)}). The entity is barred until {e.bar_until}; "
                f"{len(e.cancelled_vouchers)} unredeemed vouchers were cancelled and "
                f"{len(e.stopped_payments)} unsettled payments stopped (CD-11)."
            )
        elif isinstance(e, Case.ClawbackDemanded):
            outstanding += e.amount
            parts.append(
                f"On {_day(e)} repayment of {_cny(e.amount)} was demanded, due {e.due_date} "
                f"(CD-11: recover the money paid)."
            )
        elif isinstance(e, Case.RepaymentRecorded):
            outstanding -= e.amount
            parts.append(f"{_cny(e.amount)} was repaid on {e.value_date} ({e.bank_reference}).")
        elif isinstance(e, Case.OffsetAgainstPayment):
            outstanding -= e.amount
            parts.append(
                f"{_cny(e.amount)} was offset against payment {e.payment_reference} on {_day(e)}."
            )
        elif isinstance(e, Case.WrittenOff):
            outstanding -= e.amount
            parts.append(
                f"{_cny(e.amount)} was written off on {_day(e)}, approved by {e.approver}: "
                f"{e.reason}."
            )
    parts.append(f"Outstanding: {_cny(outstanding)}.")
    return " ".join(parts)


def explain_supplier_year(events: Sequence[Any]) -> str | None:
    """A supplier's year: its voucher business and the subsidies granted against the cap."""
    opened = events[0]
    assert isinstance(opened, SupplierYear.Opened)
    bills = [e for e in events if isinstance(e, SupplierYear.BillServed)]
    parts = []
    if bills:
        total = sum((e.bill_amount for e in bills), start=Decimal("0.00"))
        parts.append(
            f"In {opened.year} {opened.supplier} served {len(bills)} inclusive-voucher bills "
            f"worth {_cny(total)}: those paid out count towards its {opened.year + 1} subsidy "
            "base, each for at most the part its voucher supported (CD-6, CD-10)."
        )
    for e in events:
        if isinstance(e, SupplierYear.BusinessCounted):
            parts.append(
                f"Round {e.round} of {e.programme} counted {len(e.invoices)} of these bills "
                "(no later round counts them again)."
            )
        if isinstance(e, SupplierYear.SubsidyGranted):
            rate = Decimal(e.basis["params"]["max_subsidy_rate"])
            capped = (
                f"; {_cny(e.capped_off)} was capped off by the limit of {_cny(e.cap)} per "
                f"supplier per year"
                if e.capped_off
                else ""
            )
            parts.append(
                f"Round {e.round} of {e.programme} (on {_day(e)}): base {_cny(e.base)}, "
                f"{rate:.0%} of it is {_cny(e.computed)}; granted {_cny(e.granted)}"
                f"{capped} ({_clauses(e.basis)}); payment {e.payment_reference or 'none'}."
            )
    return " ".join(parts) or None


def explain_green_award(award: GreenAward.Granted) -> str:
    return (
        f"Approved as a national green data centre on {award.certification_date} "
        f"({award.certification_reference}): the one-off green award of {_cny(award.amount)} "
        f"was granted without application in {award.programme}, once for good "
        f"({_clauses(award.basis)}); payment {award.payment_reference}."
    )


def explain_claim(events: Sequence[Any], claimant: str) -> str | None:
    """An operator's claim: eligible lines, exclusions with reasons, reviews, entitlement,
    scaling and each funding source's share (QD-2…QD-8)."""
    submitted = next(
        (e for e in events if isinstance(e, ClaimRound.ClaimSubmitted) and e.claimant == claimant),
        None,
    )
    if submitted is None:
        return None
    opened = events[0]
    eligible = [line for line in submitted.lines if not line["excluded"]]
    parts = [
        f"In {opened.programme}, {claimant} claimed {len(submitted.lines)} contract lines on "
        f"{_day(submitted)} (audit report {submitted.audit_report}): {len(eligible)} eligible, "
        f"worth {_cny(submitted.eligible_amount)} ({_clauses(submitted.basis)})."
    ]
    for line in submitted.lines:
        if line["excluded"]:
            parts.append(
                f"Contract {line['contract_number']} with {line['customer']} "
                f"({_cny(line['amount'])}) was excluded: {line['excluded']}."
            )
        elif line.get("counted") is not None and line["counted"] != line["amount"]:
            parts.append(
                f"Contract {line['contract_number']} with {line['customer']} counts "
                f"{_cny(line['counted'])} of {_cny(line['amount'])}: "
                f"{'; '.join(n for n in line.get('notes', []) if n)}."
            )
    for e in events:
        if isinstance(e, ClaimRound.PreReviewed) and e.claimant == claimant:
            parts.append(
                f"District pre-review on {_day(e)}: {'passed' if e.passed else 'failed'} "
                f"(green threshold {'met' if e.green_threshold_met else 'not met'}): {e.reason}."
            )
        elif isinstance(e, ClaimRound.CityReviewed) and e.claimant == claimant:
            parts.append(
                f"City review on {_day(e)}: {'passed' if e.passed else 'failed'}, approved "
                f"{_cny(e.approved_eligible)} ({e.assessment})."
            )
        elif isinstance(e, ClaimRound.ReReviewed) and e.claimant == claimant:
            parts.append(
                f"City re-review on {_day(e)}: excluded ({e.ground}"
                f"{', listing ' + e.listing if e.listing else ''}; {e.assessment}): {e.reason}; "
                f"the pool went to the others ({_clauses(e.basis)})."
            )
        elif isinstance(e, ClaimRound.Allocated) and claimant in e.allocations:
            rate = Decimal(e.basis["params"]["rate"])
            shares = ", ".join(f"{s} {_cny(a)}" for s, a in e.shares[claimant].items())
            scaled = (
                f"; the entitlements exceeded the pool of {_cny(e.pool)}, so every operator was "
                f"scaled by {e.scale}"
                if e.scale < 1
                else ""
            )
            if e.scale < 1 and claimant in e.contract_amounts:
                scaled += (
                    f", the pool shared in proportion to the approved contract amounts "
                    f"({_cny(e.contract_amounts[claimant])} of "
                    f"{_cny(sum(e.contract_amounts.values(), start=Decimal(0)))})"
                )
            parts.append(
                f"Allocated on {_day(e)}: entitlement {rate:.0%} of the approved amount = "
                f"{_cny(e.entitlements[claimant])}{scaled}; allocated "
                f"{_cny(e.allocations[claimant])}, paid as {shares} ({_clauses(e.basis)})."
            )
    return " ".join(parts)

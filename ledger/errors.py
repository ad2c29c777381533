"""Every refusal the ledger can give, by stable name.

Two families, because callers treat them differently (the batch runner's exit codes 2 and 1):

* :class:`InvalidInput` — the input itself is malformed (a bad amount, an unknown field, a
  credit code with the wrong check character). Nothing was attempted.
* :class:`Rejected` — well-formed, but a policy rule or the ledger's state refuses it
  (quota exhausted, supplier not listed ...). Nothing was stored.

The codes are part of the public contract (docs/errors.md lists them, and a test checks that
every code below is documented there).
"""

from __future__ import annotations

from typing import Any

INPUT_ERRORS: dict[str, str] = {
    "malformed-json": "The line is not a JSON object.",
    "unknown-command": "No command of that name.",
    "missing-field": "A required field is absent.",
    "unknown-field": "A field the command does not take (typos are refused, not ignored).",
    "invalid-value": "A field has the wrong type or an impossible value.",
    "invalid-amount": (
        "An amount that is not an exact decimal with at most two places, is negative or zero "
        "where a charge is meant, is NaN/Infinity, a binary float, or absurdly large."
    ),
    "invalid-credit-code": (
        "Not an 18-character unified social credit code with a valid GB 32100-2015 check "
        "character; the message names the expected character."
    ),
    "invalid-time": "A business time without a time zone, or not ISO 8601.",
    "invalid-date": "A date that is not YYYY-MM-DD.",
    "invalid-period": "A supplier-list period that is not YYYYH1 or YYYYH2.",
}

RULE_REJECTIONS: dict[str, str] = {
    # registration
    "already-registered": "The credit code is registered already with different details.",
    "applicant-not-registered": "No applicant with that credit code.",
    "supplier-not-registered": "No supplier with that credit code.",
    # programmes
    "unknown-policy": "No policy parameter file with that id.",
    "programme-year-outside-policy": "The policy is not valid in that year (CD-15).",
    "programme-already-open": "The programme for that policy and year is open already.",
    "programme-not-open": "No programme with that id has been opened.",
    "outside-programme-year": "The command's business date is not in the programme's year.",
    "unknown-instrument": "The programme's policy has no such voucher instrument.",
    # eligibility
    "applicant-not-eligible": (
        "The applicant's kind or city is not eligible for this programme (CD-1)."
    ),
    "supplier-not-eligible": (
        "The supplier's kind or city is not eligible for the supplier list (CD-2)."
    ),
    "supplier-list-already-published": (
        "A different supplier list for that programme and period was published already."
    ),
    "period-outside-programme-year": "The supplier-list period is not in the programme's year.",
    # issuing
    "quota-exhausted": "Every voucher of this kind for the year has been issued (CD-4, CD-8).",
    "already-holds-voucher-this-year": "One voucher of a kind per unit per year (CD-4).",
    "instruments-mutually-exclusive": (
        "The unit holds a voucher of a mutually exclusive kind this year (CD-13)."
    ),
    # redeeming
    "unknown-voucher": "No voucher with that number.",
    "voucher-expired": (
        "The voucher is valid only in the calendar year of issue, or has lapsed (CD-8)."
    ),
    "voucher-exhausted": "The voucher has no value left.",
    "service-not-eligible": ("Storage, network or security services alone are not compute (CD-1)."),
    "supplier-not-listed": (
        "The supplier is not on the published list for the service date's period (CD-2)."
    ),
    "affiliated-parties": "Holder and supplier are affiliated (CD-3).",
    "exceeds-deduction-limit": (
        "The requested deduction is more than the policy's share of the bill (CD-4, CD-8)."
    ),
    "exceeds-remaining-value": "The requested deduction is more than the voucher has left.",
    "duplicate-reference": (
        "A business reference (invoice number) already used for a different transaction."
    ),
    # reimbursing
    "unknown-redemption": "No redemption with that supplier and invoice number.",
    "missing-evidence": "A reimbursement claim lacks evidence the policy requires (CD-8).",
    "already-claimed": "Reimbursement of that redemption was claimed already.",
    "not-claimed": "Reimbursement cannot be paid before it is claimed.",
    "already-reimbursed": "That redemption was reimbursed already.",
    "voucher-not-redeemable": (
        "The voucher is a grant paid to its holder, not a voucher suppliers deduct from."
    ),
    # special-voucher round (CD-5, CD-9, CD-12)
    "already-applied": "One special-voucher application per unit per year (CD-5).",
    "spend-below-lowest-tier": "Prior-year spend is below the lowest tier's threshold (CD-5).",
    "duplicate-funding": ("The spend is declared as funded by municipal money already (CD-12)."),
    "round-closed": "The round has been ranked; no more applications (CD-9).",
    "no-applications": "The round has no applications to rank.",
    "already-ranked": "The round has been ranked already.",
    "not-ranked": "The round must be ranked first.",
    "not-in-review": "The applicant is not among the applications under review (CD-9).",
    "already-reviewed": "The applicant has passed review already.",
    "review-incomplete": "Applications under review still lack an outcome.",
    "invalid-notice-period": "The notice period starts in the past or ends before it starts.",
    "no-plan-in-notice": "No current allocation plan is published.",
    "outside-notice-period": "Objections are taken only during the notice period (CD-9).",
    "not-in-plan": "The applicant has no place in the published plan.",
    "unknown-objection": "No open objection with that reference.",
    "objection-open": "An objection is still open (CD-9: paid once no objection stands).",
    "notice-period-running": "The notice period has not ended yet (CD-9).",
    "round-finalised": "The round is final; corrections are new events (clawbacks).",
    # enforcement (CD-3, CD-11)
    "entity-debarred": (
        "The entity is barred under a fraud case; the message gives the case and the first "
        "day it is free again (CD-11)."
    ),
    "credit-record-in-lookback": (
        "A serious-dishonesty listing or major safety accident falls within the credit lookback "
        "window (CD-3)."
    ),
    "voucher-cancelled": "The voucher was cancelled by a fraud finding (CD-11).",
    "unknown-credit-record": "No credit record with that reference for the entity.",
    "case-exists": "A case with that reference was opened already.",
    "unknown-case": "No case with that reference.",
    "finding-exists": "The case has a fraud finding already.",
    "no-finding": "A clawback needs a fraud finding on the case first (CD-11).",
    "clawback-exceeds-paid": "A clawback may not exceed what was paid and not yet demanded.",
    "nothing-to-claw-back": "A clawback must name the payments or vouchers it recovers.",
    "not-the-entitys": "The payment or voucher does not belong to the case's entity.",
    "exceeds-outstanding": (
        "More than the receivable's outstanding amount; over-payments are refused, not "
        "recorded as credits."
    ),
    "debarment-not-found": "No active bar under that case to lift.",
    # payments
    "unknown-payment": "No payment instruction with that reference.",
    "payment-stopped": "The payment instruction was stopped.",
    "payment-settled": "The payment instruction is settled already.",
    "settlement-amount-mismatch": "The bank paid a different amount than instructed.",
    "exceeds-payable": "More than the payment instruction has left to pay.",
    # supplier subsidy and green award (CD-6, CD-7, CD-10)
    "exceeds-evidenced-spend": (
        "Suppliers may not attribute more of a special-voucher holder's spend than the holder "
        "evidenced (CD-6)."
    ),
    "base-programme-not-open": (
        "The previous year's programme, whose business is the base, was never opened."
    ),
    "not-a-data-centre": "The green award is for data centres (CD-7).",
    # pro-rata claim subsidies (QD-1…QD-8)
    "outside-application-window": "Claims are taken only in the application window (QD-6).",
    "unknown-claim": "No claim by that claimant in the programme.",
    "not-pre-reviewed": "The claim must pass the district pre-review first (QD-6).",
    "green-threshold-not-met": "An operator failing the green threshold cannot pass (QD-7).",
    "exceeds-eligible": "The approved amount is more than the claim's eligible amount.",
    # finance
    "payment-cancelled": "The payment instruction was cancelled.",
    "unknown-statement": "No imported statement with that identity.",
    "unknown-exception": "No reconciliation exception with that reference.",
    "exception-resolved": "The reconciliation exception is resolved already.",
    # year end
    "programme-year-not-ended": "Vouchers lapse only after the programme's calendar year.",
    # reliability
    "command-id-reused": "The command id was used before for a different command.",
    "not-permitted": "The actor's role does not allow this command (the refusal is logged).",
    # concurrency
    "concurrency-conflict": (
        "Other writers kept changing the same records; retried and gave up. Nothing stored."
    ),
}

ALL_CODES: dict[str, str] = {**INPUT_ERRORS, **RULE_REJECTIONS}


class LedgerError(Exception):
    """A named refusal. ``code`` is stable; ``message`` is for people; ``details`` for machines."""

    registry: dict[str, str] = ALL_CODES

    def __init__(self, code: str, message: str, **details: Any) -> None:
        if code not in self.registry:
            raise ValueError(f"unregistered error code {code!r} for {type(self).__name__}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class InvalidInput(LedgerError):
    """The input is malformed; ``field`` names the offending field when there is one."""

    registry = INPUT_ERRORS

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(code, message)
        self.field = field


class Rejected(LedgerError):
    """A well-formed command that a rule refuses. Nothing was stored."""

    registry = RULE_REJECTIONS

"""Values the commands' examples share (docs/commands.md prints the examples; a test runs
them in order against a fresh ledger)."""

from __future__ import annotations

from ledger.ids import make_credit_code
from ledger.payment import PaymentInstruction
from ledger.voucher import Redemption

AT = "2025-03-01T09:00:00+08:00"
SUPPLIER = "91510100MA6CJ8UQ10"
QD_OPERATOR = make_credit_code("91370200MA3C00001")
QD_LATE_LISTED = make_credit_code("91370200MA3C00006")  # blacklisted after the city review
SPECIAL_EVIDENCE = {
    "contract": "HT-2024-088",
    "payment-proof": "BANK-2024-1290",
    "invoice": "FP-2024-55120",
    "service-proof": "USAGE-2024",
}


def reimbursement_reference(invoice: str) -> str:
    """The payment reference the ledger gives the reimbursement of an example invoice."""
    decision = f"reimbursement:{Redemption.id_for(SUPPLIER, invoice)}"
    return PaymentInstruction.reference_for("CD-2025", "inclusive-voucher-reimbursement", decision)

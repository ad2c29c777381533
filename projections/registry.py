"""The one list of read models. Whatever builds a read-model store — the live ledger, a replay
into a scratch store, the benchmark — takes them from here; nothing else lists them.

Imports flow one way: ``store`` ← ``read_model`` ← each ``*_views`` module ← ``registry``; no
view imports another, and the runner imports no view (it applies what the store holds)."""

from __future__ import annotations

from projections.audit_views import AuditTrail
from projections.claim_views import Claims
from projections.enforcement_views import Enforcement
from projections.finance_views import Reconciliation
from projections.ledger_views import Entities, Payments, Vouchers
from projections.read_model import EventDrivenReadModel
from projections.special_views import SpecialRounds
from projections.supplier_views import SupplierSide

# In the order they are applied to each page (each read model has its own tables, so the
# order changes nothing but the order of the writes).
READ_MODELS: tuple[type[EventDrivenReadModel], ...] = (
    Entities,
    Vouchers,
    Payments,
    SpecialRounds,
    Enforcement,
    SupplierSide,
    Reconciliation,
    Claims,
    AuditTrail,
)


def all_read_models() -> list[EventDrivenReadModel]:
    """A fresh instance of every read model."""
    return [cls() for cls in READ_MODELS]

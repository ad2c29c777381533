"""Applicants (demand side, CD-1) and suppliers (supply side, CD-2), by credit code."""

from __future__ import annotations

from datetime import date
from typing import Any, Self

from ledger.aggregate import LedgerAggregate
from ledger.errors import Rejected
from ledger.events import Context, LedgerCreated, LedgerEvent
from ledger.ids import stable_id


class Registration(LedgerCreated):
    """What registering an entity records (both roles)."""

    credit_code: str
    name: str
    kind: str
    city: str
    bank_account: str  # where known; payments to the entity quote it

    # Version 1 (the first releases) had no bank account: old history stays replayable.
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["bank_account"] = ""


class RegisteredEntity(LedgerAggregate):
    """An entity registered under its credit code, in one role."""

    ROLE = ""

    class Registered(Registration):
        pass

    def __init__(
        self, credit_code: str, name: str, kind: str, city: str, bank_account: str
    ) -> None:
        self.credit_code = credit_code
        self.name = name
        self.kind = kind
        self.city = city
        self.bank_account = bank_account

    @classmethod
    def id_for(cls, credit_code: str) -> Any:
        return stable_id(cls.ROLE, credit_code)

    @classmethod
    def register(
        cls, ctx: Context, credit_code: str, name: str, kind: str, city: str, bank_account: str = ""
    ) -> Self:
        return cls._create(
            cls.Registered,
            id=cls.id_for(credit_code),
            credit_code=credit_code,
            name=name,
            kind=kind,
            city=city,
            bank_account=bank_account,
            **ctx.fields(),
        )

    def same_registration(self, name: str, kind: str, city: str) -> bool:
        return (self.name, self.kind, self.city) == (name, kind, city)


class Applicant(RegisteredEntity):
    """An enterprise, research institute or university that may hold vouchers."""

    ROLE = "applicant"

    class Registered(Registration):
        pass


class Supplier(RegisteredEntity):
    """A data centre or compute-scheduling platform. Owns its affiliations (CD-3)."""

    ROLE = "supplier"

    class Registered(Registration):
        pass

    class AffiliationRecorded(LedgerEvent):
        applicant: str
        evidence: str

        def apply(self, aggregate: Supplier) -> None:
            aggregate.affiliated.add(self.applicant)

    class CertifiedGreen(LedgerEvent):
        """Approved as a national green data centre (CD-7)."""

        certification_date: date
        reference: str

        def apply(self, aggregate: Supplier) -> None:
            aggregate.green_certifications[self.reference] = self.certification_date

    def __init__(
        self, credit_code: str, name: str, kind: str, city: str, bank_account: str
    ) -> None:
        super().__init__(credit_code, name, kind, city, bank_account)
        self.affiliated: set[str] = set()
        self.green_certifications: dict[str, date] = {}

    def record_affiliation(self, ctx: Context, applicant: str, evidence: str) -> None:
        if applicant not in self.affiliated:
            self.trigger_event(
                self.AffiliationRecorded, applicant=applicant, evidence=evidence, **ctx.fields()
            )

    def certify_green(self, ctx: Context, certification_date: date, reference: str) -> bool:
        """Record a certification; False if this one was recorded already."""
        if reference in self.green_certifications:
            return False
        self.trigger_event(
            self.CertifiedGreen,
            certification_date=certification_date,
            reference=reference,
            **ctx.fields(),
        )
        return True

    def is_affiliated_with(self, holder: str) -> bool:
        """CD-1 「租用非关联方提供的算力服务」, CD-3 「算力供给方和需求方无关联关系」: a recorded
        affiliation, or the holder being the supplier itself — renting from oneself is the
        plainest affiliation."""
        return holder == self.credit_code or holder in self.affiliated

    def require_not_affiliated_with(self, holder: str) -> None:
        """CD-1, CD-3: supplier and applicant must not be affiliated, nor the same entity."""
        if self.is_affiliated_with(holder):
            how = "is the holder itself" if holder == self.credit_code else "is affiliated with"
            raise Rejected(
                "affiliated-parties",
                f"supplier {self.credit_code} {how} holder {holder} (CD-1, CD-3)",
                supplier=self.credit_code,
                holder=holder,
            )

"""A programme is one policy in one year: it owns the yearly quota, who holds what that year,
and the supplier lists published for it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any
from uuid import UUID

from ledger.aggregate import LedgerAggregate
from ledger.clock import business_year, half_year, period_year
from ledger.entities import Applicant, Supplier
from ledger.errors import InvalidInput, Rejected, RejectionCode
from ledger.events import Context, LedgerCreated, LedgerEvent
from ledger.ids import stable_id
from ledger.policy import Instrument, Policy, policy_from_mapping

_PROGRAMME_NAME = re.compile(r"^([A-Z0-9]+)-(\d{4})$")


def programme_name(policy_code: str, year: int) -> str:
    return f"{policy_code}-{year}"


def parse_programme_name(value: object, *, field: str = "programme") -> str:
    if isinstance(value, str) and _PROGRAMME_NAME.match(value.strip().upper()):
        return value.strip().upper()
    raise InvalidInput(
        "invalid-value", f"{field}: {value!r} is not a programme such as CD-2025", field=field
    )


# Registration categories (GB 32100-2015, characters 1–2 of a credit code) named in refusals.
REGISTRATION_CATEGORIES = {
    "11": "机关 organ",
    "12": "事业单位 public institution",
    "51": "社会团体 social organisation",
    "52": "民办非企业单位 private non-enterprise unit",
    "53": "基金会 foundation",
    "91": "企业 enterprise",
    "92": "个体工商户 individual business",
    "93": "农民专业合作社 farmers' cooperative",
}


def require_legal_person(credit_code: str, categories: list[str] | None) -> None:
    """CD-3 「申领主体具备独立法人资格」: the credit code's registration category (characters
    1–2) must be one of the policy's legal-person ``categories`` (None: the policy has no such
    rule). An individual business, category 92, is not a legal person."""
    if categories is None:
        return
    category = credit_code[:2]
    if category not in categories:
        name = REGISTRATION_CATEGORIES.get(category, "unlisted category")
        raise Rejected(
            "not-a-legal-person",
            f"{credit_code} is registered in category {category} ({name}), not a legal person "
            f"the policy accepts ({', '.join(categories)}) (CD-3: 具备独立法人资格)",
            credit_code=credit_code,
            category=category,
        )


class Programme(LedgerAggregate):
    """Policy ``policy_id`` in calendar ``year``. The parameters are snapshotted at opening."""

    class Opened(LedgerCreated):
        name: str
        policy_id: str
        policy_code: str
        year: int
        parameters: dict[str, Any]
        basis: dict[str, Any]

    class VoucherAllotted(LedgerEvent):
        """A place of the yearly quota went to ``holder`` (CD-4, CD-8: first come, first served)."""

        instrument: str
        voucher_number: str
        holder: str
        drawn: int
        basis: dict[str, Any]

        def apply(self, aggregate: Programme) -> None:
            aggregate.drawn[self.instrument] = self.drawn
            held = aggregate.holdings.get(self.holder, ())
            aggregate.holdings[self.holder] = (*held, self.instrument)

    def __init__(
        self,
        name: str,
        policy_id: str,
        policy_code: str,
        year: int,
        parameters: dict[str, Any],
        basis: dict[str, Any],
    ) -> None:
        self.name = name
        self.policy_id = policy_id
        self.year = year
        self.policy: Policy = policy_from_mapping(parameters)
        self.drawn: dict[str, int] = {}
        self.holdings: dict[str, tuple[str, ...]] = {}

    @staticmethod
    def id_for(name: str) -> UUID:
        return stable_id("programme", name)

    @classmethod
    def open(cls, ctx: Context, policy: Policy, year: int) -> Programme:
        if not policy.valid_in(year):
            raise Rejected(
                "programme-year-outside-policy",
                f"policy {policy.id} is valid {policy.value('validity.first_year')}–"
                f"{policy.value('validity.last_year')}, not {year} (CD-15)",
            )
        name = programme_name(policy.code, year)
        return cls._create(
            cls.Opened,
            id=cls.id_for(name),
            name=name,
            policy_id=policy.id,
            policy_code=policy.code,
            year=year,
            parameters=policy.raw,
            basis=policy.basis("validity.first_year", "validity.last_year"),
            **ctx.fields(),
        )

    # ---- rules this programme owns -------------------------------------------------------

    def require_in_year(self, ctx: Context) -> None:
        if business_year(ctx.at) != self.year:
            raise Rejected(
                "outside-programme-year",
                f"{ctx.at.isoformat()} is not in programme {self.name}'s year {self.year}",
            )

    def require_year_ended(self, ctx: Context) -> None:
        """CD-8: vouchers are valid only in the calendar year issued; they lapse after it."""
        if business_year(ctx.at) <= self.year:
            raise Rejected(
                "programme-year-not-ended",
                f"vouchers of {self.name} lapse only after {self.year} has ended",
            )

    def require_eligible_applicant(self, applicant: Applicant) -> None:
        """CD-1 (QD-2): the kinds of unit, in the cities, the policy names."""
        self._require_eligible(applicant, "applicants", "applicant-not-eligible")

    def require_eligible_supplier(self, supplier: Supplier) -> None:
        """CD-2 (QD-1): the kinds of supplier, in the cities, the policy names."""
        self._require_eligible(supplier, "suppliers", "supplier-not-eligible")

    def _require_eligible(
        self, entity: Applicant | Supplier, section: str, code: RejectionCode
    ) -> None:
        require_legal_person(
            entity.credit_code, self.policy.get(f"{section}.legal_person_categories")
        )
        cities = self.policy.value(f"{section}.cities")
        kinds = self.policy.value(f"{section}.kinds")
        if entity.city not in cities or entity.kind not in kinds:
            raise Rejected(
                code,
                f"{entity.credit_code} is a {entity.kind} in {entity.city}; programme "
                f"{self.name} takes {section} that are {', '.join(kinds)} in "
                f"{', '.join(cities)} ({self.policy.clause(f'{section}.cities')})",
            )

    def require_eligible_service(self, service_kind: str) -> None:
        """CD-1: renting only storage, network or security services does not count."""
        eligible = self.policy.value("services.eligible")
        if service_kind not in eligible:
            raise Rejected(
                "service-not-eligible",
                f"a {service_kind} service is not eligible; only {', '.join(eligible)} counts "
                f"({self.policy.clause('services.eligible')})",
            )

    def require_period_in_year(self, period: str) -> None:
        """CD-2, §六(一): a programme's supplier lists are its own year's half-years."""
        if period_year(period) != self.year:
            raise Rejected(
                "period-outside-programme-year",
                f"period {period} is not in programme {self.name}'s year {self.year}",
            )

    @property
    def publishes_supplier_lists(self) -> bool:
        """CD-2: whether the policy has the bureau publish lists of suppliers."""
        return bool(self.policy.value("suppliers.listing") == "half-yearly")

    def listing_periods(self, service_date: date | None = None) -> tuple[str, ...]:
        """The lists that decide whether a supplier is listed (CD-2: on the list at the time
        of service; lists are collected every half year, §六(一)): the half-year of
        ``service_date``, or without one, either half-year of the programme year. None when
        the policy publishes no lists."""
        if not self.publishes_supplier_lists:
            return ()
        if service_date is not None:
            return (half_year(service_date),)
        return (f"{self.year}H1", f"{self.year}H2")

    def listing_refusal(
        self, supplier: str, listings: Mapping[str, SupplierList | None]
    ) -> Rejected | None:
        """CD-2 — the one supplier-list check: a supplier is listed when it is on the
        published list of any of ``listings``' periods (see :meth:`listing_periods`);
        otherwise the refusal, ``supplier-not-listed``, is returned (not raised), so that a
        caller may exclude rather than refuse. A policy without lists lists every supplier."""
        if not self.publishes_supplier_lists:
            return None
        published = [listing for listing in listings.values() if listing is not None]
        if any(supplier in listing.suppliers for listing in published):
            return None
        if not published:
            return Rejected(
                "supplier-not-listed",
                f"no supplier list for {' or '.join(listings)} of {self.name} has been "
                "published (CD-2)",
            )
        period = published[0].period
        return Rejected(
            "supplier-not-listed",
            f"supplier {supplier} is not on the {period} list of {self.name} (CD-2)",
            supplier=supplier,
            period=period,
        )

    def require_listed(self, supplier: str, listings: Mapping[str, SupplierList | None]) -> None:
        """CD-2: refuse a supplier not on the list (see :meth:`listing_refusal`)."""
        refusal = self.listing_refusal(supplier, listings)
        if refusal is not None:
            raise refusal

    def require_may_hold(self, instrument: Instrument, holder: str) -> None:
        """One of a kind per unit per year (CD-4, CD-5); mutually exclusive kinds (CD-13)."""
        held = self.holdings.get(holder, ())
        if held.count(instrument.name) >= int(instrument.value("per_holder_per_year")):
            raise Rejected(
                "already-holds-voucher-this-year",
                f"{holder} already holds its {instrument.name} voucher for {self.year} "
                f"({instrument.clause('per_holder_per_year')})",
            )
        clash = sorted(set(held) & set(instrument.exclusive_with))
        if clash:
            raise Rejected(
                "instruments-mutually-exclusive",
                f"{holder} holds a {clash[0]} voucher in {self.year}; {instrument.name} and "
                f"{clash[0]} are mutually exclusive ({instrument.clause('exclusive_with')})",
            )

    def holders_of(self, instrument: str) -> frozenset[str]:
        """The units holding an ``instrument`` voucher of this programme."""
        return frozenset(h for h, held in self.holdings.items() if instrument in held)

    def allot_voucher(self, ctx: Context, instrument: Instrument, holder: str) -> str:
        """Take the next place of ``instrument``'s yearly quota for ``holder``; return the
        voucher number. One per unit per year (CD-4), mutual exclusion (CD-13), quota (CD-4),
        first come first served in submission order (CD-8)."""
        self.require_may_hold(instrument, holder)
        quota = int(instrument.value("quota_per_year"))
        drawn = self.drawn.get(instrument.name, 0)
        if drawn >= quota:
            raise Rejected(
                "quota-exhausted",
                f"all {quota} {instrument.name} vouchers of {self.name} have been issued "
                f"({instrument.clause('quota_per_year')})",
            )
        number = self._voucher_number(instrument, drawn + 1)
        self.trigger_event(
            self.VoucherAllotted,
            instrument=instrument.name,
            voucher_number=number,
            holder=holder,
            drawn=drawn + 1,
            basis=instrument.basis(
                "quota_per_year",
                "per_holder_per_year",
                "allocation",
                "exclusive_with",
            ),
            **ctx.fields(),
        )
        return number

    def _voucher_number(self, instrument: Instrument, place: int) -> str:
        return f"{self.policy.code}-{self.year}-{instrument.code}-{place:04d}"

    def voucher_numbers(self) -> list[str]:
        """Every voucher issued under this programme, instrument by instrument."""
        return [
            self._voucher_number(self.policy.instrument(name), place)
            for name, drawn in self.drawn.items()
            for place in range(1, drawn + 1)
        ]


class SupplierList(LedgerAggregate):
    """The bureau's list of suppliers for one half-year of a programme (CD-2)."""

    class Published(LedgerCreated):
        programme: str
        period: str
        suppliers: list[str]
        basis: dict[str, Any]

    def __init__(
        self, programme: str, period: str, suppliers: list[str], basis: dict[str, Any]
    ) -> None:
        self.programme = programme
        self.period = period
        self.suppliers = frozenset(suppliers)

    @staticmethod
    def id_for(programme: str, period: str) -> UUID:
        return stable_id("supplier-list", programme, period)

    @classmethod
    def publish(
        cls, ctx: Context, programme: Programme, period: str, suppliers: list[str]
    ) -> SupplierList:
        return cls._create(
            cls.Published,
            id=cls.id_for(programme.name, period),
            programme=programme.name,
            period=period,
            suppliers=sorted(set(suppliers)),
            basis=programme.policy.basis("suppliers.listing"),
            **ctx.fields(),
        )

    def republishes(self, suppliers: list[str]) -> bool:
        """A list is published once per period (CD-2): the same list again changes nothing
        (``True``); a different one is refused."""
        if self.suppliers == frozenset(suppliers):
            return True
        raise Rejected(
            "supplier-list-already-published",
            f"a different {self.period} list of {self.programme} was published already",
        )

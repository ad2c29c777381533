"""Policies as data: one TOML parameter file per programme, every value citing its clause.

A parameter is written ``name = { value = ..., clause = "CD-4" }``. The loader validates types,
units and references and refuses an invalid file with a message naming the field. A
programme snapshots its policy's raw parameters in its ``Opened`` event, so history is replayed
with the numbers that applied then, whatever the file says later.

Instrument building blocks (``type``):

* ``deduction-voucher`` — a voucher of fixed face value, deducting at most a share of each
  bill at a listed supplier, allocated first come first served under a yearly quota.
* ``supplier-subsidy`` — a share of the previous year's voucher business at each supplier,
  capped per supplier per year, planned from suppliers' applications, published for notice
  of at least ``min_notice_days``, then paid (CD-6, CD-10).
* ``one-off-award`` — a fixed award granted on a recorded event, once per supplier (CD-7).
* ``pro-rata-claim-subsidy`` — claimants submit audited lines of service; eligible lines (in
  the service window, for customers in the area, not funded elsewhere) earn ``rate`` of their
  amount, capped per claimant; reviewed; shared pro rata when the pool is short; paid in the
  funding split (QD-1…QD-8).
* ``ranked-tier-grant`` — a grant paid to the applicant: applications ranked by spend bracket
  then submission time, the top ``review_places`` reviewed (failures replaced by the next in
  line), amounts matched to tiers by spend, published for notice of at least
  ``min_notice_days``, then paid.

``min_notice_days`` (both plan-and-notice blocks) may be left out: the Chengdu draft names no
length for its public notices (公示), so a file that says nothing gets
:data:`DEFAULT_MIN_NOTICE_DAYS`, recorded with the clause ``default``.
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any

from ledger.aggregate import Value
from ledger.errors import InvalidInput, Rejected
from ledger.money import parse_amount

KNOWN_SERVICES = ("compute", "storage", "network", "security")
# "innovation-platform": 创新平台, a kind the Qingdao guide names beside enterprises and institutes.
APPLICANT_KINDS = ("enterprise", "research-institute", "university", "innovation-platform")
SUPPLIER_KINDS = ("data-centre", "scheduling-platform")
FUNDING_SOURCES = ("city", "district", "province")
EVIDENCE_KINDS = ("contract", "payment-proof", "invoice", "service-proof")
CLAIM_EVIDENCE = ("audit-report", "contract", "invoice", "bank-receipt")
CREDIT_RECORD_KINDS = (
    "serious-dishonesty",
    "major-safety-accident",
    "safety-production-blacklist",
    "environmental-credit-blacklist",
)


class PolicyFileError(ValueError):
    """An invalid parameter file; the message names the field."""


@dataclass(frozen=True)
class Param(Value):
    """A parameter value with the clause it comes from."""

    value: Any
    clause: str


@dataclass(frozen=True)
class Tier(Value):
    amount: Decimal
    places: int
    min_spend: Decimal


@dataclass(frozen=True)
class Instrument(Value):
    policy_id: str
    name: str
    type: str
    label: str
    params: dict[str, Param]

    def value(self, key: str) -> Any:
        return self.params[key].value

    def clause(self, key: str) -> str:
        return self.params[key].clause

    @property
    def code(self) -> str:
        return str(self.value("code"))

    @property
    def exclusive_with(self) -> list[str]:
        return list(self.value("exclusive_with")) if "exclusive_with" in self.params else []

    def basis(self, *keys: str) -> dict[str, Any]:
        """What a decision records of *why*: the policy, the clauses and the values applied."""
        return {
            "policy": self.policy_id,
            "instrument": self.name,
            "clauses": sorted({self.clause(k) for k in keys}),
            "params": {k: _jsonable(self.value(k)) for k in keys},
        }


@dataclass(frozen=True)
class Policy(Value):
    id: str
    code: str
    name: str
    source: str
    params: dict[str, Param]
    instruments: dict[str, Instrument]
    raw: dict[str, Any] = field(repr=False, compare=False)

    def value(self, key: str) -> Any:
        return self.params[key].value

    def clause(self, key: str) -> str:
        return self.params[key].clause

    def basis(self, *keys: str) -> dict[str, Any]:
        return {
            "policy": self.id,
            "clauses": sorted({self.clause(k) for k in keys}),
            "params": {k: _jsonable(self.value(k)) for k in keys},
        }

    def instrument_of_type(self, kind: str) -> Instrument:
        """Commands address an instrument by its building block, never by the name a policy
        file gives it: a city's deduction voucher may be called anything."""
        found = [i for i in self.instruments.values() if i.type == kind]
        if len(found) != 1:
            raise Rejected(
                "unknown-instrument",
                f"policy {self.id} has {'no' if not found else 'more than one'} {kind} instrument",
            )
        return found[0]

    def instrument(self, name: str) -> Instrument:
        try:
            return self.instruments[name]
        except KeyError:
            raise Rejected(
                "unknown-instrument", f"policy {self.id} has no instrument {name!r}"
            ) from None

    def get(self, key: str) -> Any | None:
        """An optional parameter's value, ``None`` when the policy does not name it."""
        return self.params[key].value if key in self.params else None

    def valid_in(self, year: int) -> bool:
        return (
            int(self.value("validity.first_year")) <= year <= int(self.value("validity.last_year"))
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal | date):
        return str(value)
    if isinstance(value, FundingShare):
        return {
            "source": value.source,
            "share": value.share,
            "cap": str(value.cap) if value.cap is not None else None,
        }
    if isinstance(value, Tier):
        return {
            "amount": str(value.amount),
            "places": value.places,
            "min_spend": str(value.min_spend),
        }
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


# ---- validation ---------------------------------------------------------------------------


def _param(table: dict[str, Any], key: str, where: str) -> Param:
    path = f"{where}.{key}" if where else key
    if key not in table:
        raise PolicyFileError(f"{path}: missing")
    entry = table[key]
    if not isinstance(entry, dict) or set(entry) != {"value", "clause"}:
        raise PolicyFileError(f'{path}: write it as {{ value = ..., clause = "CD-n" }}')
    clause = entry["clause"]
    if not isinstance(clause, str) or not clause.strip():
        raise PolicyFileError(f"{path}.clause: must name the clause the value comes from")
    return Param(entry["value"], clause)


def _int(p: Param, path: str, *, minimum: int = 0) -> Param:
    if isinstance(p.value, bool) or not isinstance(p.value, int) or p.value < minimum:
        raise PolicyFileError(f"{path}: expected a whole number ≥ {minimum}, got {p.value!r}")
    return p


def _amount(p: Param, path: str) -> Param:
    if not isinstance(p.value, str):
        raise PolicyFileError(f'{path}: write amounts as decimal strings, e.g. "10000.00"')
    try:
        return Param(parse_amount(p.value, field=path), p.clause)
    except InvalidInput as e:
        raise PolicyFileError(e.message) from None


def _rate(p: Param, path: str) -> Param:
    if not isinstance(p.value, str):
        raise PolicyFileError(f'{path}: write rates as decimal strings, e.g. "0.50"')
    try:
        rate = Decimal(p.value)
    except ArithmeticError:
        raise PolicyFileError(f"{path}: {p.value!r} is not a decimal rate") from None
    if not rate.is_finite() or not Decimal(0) < rate <= Decimal(1):
        raise PolicyFileError(f"{path}: a rate must be in (0, 1], got {p.value!r}")
    return Param(rate, p.clause)


def _choice(p: Param, path: str, choices: tuple[str, ...]) -> Param:
    if p.value not in choices:
        raise PolicyFileError(f"{path}: {p.value!r} is not one of {', '.join(choices)}")
    return p


def _strings(p: Param, path: str, choices: tuple[str, ...] | None = None) -> Param:
    if not isinstance(p.value, list) or not all(isinstance(v, str) for v in p.value):
        raise PolicyFileError(f"{path}: expected a list of strings")
    if choices is not None:
        for v in p.value:
            if v not in choices:
                raise PolicyFileError(f"{path}: {v!r} is not one of {', '.join(choices)}")
    return Param(list(p.value), p.clause)


def _bool(p: Param, path: str) -> Param:
    if not isinstance(p.value, bool):
        raise PolicyFileError(f"{path}: expected true or false")
    return p


@dataclass(frozen=True)
class FundingShare(Value):
    source: str
    share: int
    cap: Decimal | None


def _iso_date(p: Param, path: str) -> Param:
    try:
        return Param(date.fromisoformat(str(p.value)), p.clause)
    except ValueError:
        raise PolicyFileError(f"{path}: {p.value!r} is not a YYYY-MM-DD date") from None


def _division_prefixes(p: Param, path: str) -> Param:
    """Leading digits of administrative division codes (GB/T 2260), e.g. "3702" for Qingdao."""
    checked = _strings(p, path)
    for v in checked.value:
        if not (v.isascii() and v.isdigit() and 2 <= len(v) <= 6):
            raise PolicyFileError(f"{path}: {v!r} is not 2 to 6 digits of a division code")
    return checked


def _funding_split(p: Param, path: str) -> Param:
    if not isinstance(p.value, list) or not p.value:
        raise PolicyFileError(f"{path}: expected a list of {{ source, share, cap? }}")
    shares = []
    for i, item in enumerate(p.value):
        where = f"{path}[{i}]"
        if (
            not isinstance(item, dict)
            or not {"source", "share"} <= set(item)
            or set(item) - {"source", "share", "cap"}
        ):
            raise PolicyFileError(f"{where}: a share is {{ source, share, cap? }}")
        source = _choice(Param(item["source"], p.clause), f"{where}.source", FUNDING_SOURCES)
        share = _int(Param(item["share"], p.clause), f"{where}.share", minimum=1)
        cap = _amount(Param(item["cap"], p.clause), f"{where}.cap").value if "cap" in item else None
        shares.append(FundingShare(source.value, share.value, cap))
    if len({s.source for s in shares}) != len(shares):
        raise PolicyFileError(f"{path}: a source appears twice")
    return Param(shares, p.clause)


def _code(p: Param, path: str) -> Param:
    if not isinstance(p.value, str) or not p.value.isalnum() or not p.value.isupper():
        raise PolicyFileError(f"{path}: expected a short upper-case code such as INC")
    return p


def _tiers(p: Param, path: str) -> Param:
    if not isinstance(p.value, list) or not p.value:
        raise PolicyFileError(f"{path}: expected a non-empty list of tiers")
    tiers: list[Tier] = []
    for i, t in enumerate(p.value):
        where = f"{path}[{i}]"
        if not isinstance(t, dict) or set(t) != {"amount", "places", "min_spend"}:
            raise PolicyFileError(f"{where}: a tier is {{ amount, places, min_spend }}")
        amount = _amount(Param(t["amount"], p.clause), f"{where}.amount").value
        places = _int(Param(t["places"], p.clause), f"{where}.places", minimum=1).value
        min_spend = _amount(Param(t["min_spend"], p.clause), f"{where}.min_spend").value
        tiers.append(Tier(amount, places, min_spend))
    for higher, lower in itertools.pairwise(tiers):
        if not (higher.amount > lower.amount and higher.min_spend > lower.min_spend):
            raise PolicyFileError(f"{path}: tiers must be listed from the highest down")
    return Param(tiers, p.clause)


_COMMON_INSTRUMENT_KEYS = (
    "code",
    "quota_per_year",
    "per_holder_per_year",
    "allocation",
    "exclusive_with",
    "funding_source",
)
# The building blocks an instrument can be (see the module's docstring); commands name these.
DEDUCTION_VOUCHER = "deduction-voucher"
RANKED_TIER_GRANT = "ranked-tier-grant"
SUPPLIER_SUBSIDY = "supplier-subsidy"
ONE_OFF_AWARD = "one-off-award"
PRO_RATA_CLAIM_SUBSIDY = "pro-rata-claim-subsidy"

_INSTRUMENT_TYPES: dict[str, tuple[str, ...]] = {
    "deduction-voucher": (
        *_COMMON_INSTRUMENT_KEYS,
        "face_value",
        "max_deduction_rate",
        "validity",
        "reimbursement_evidence",
    ),
    "supplier-subsidy": (
        "code",
        "base_year_offset",
        "max_subsidy_rate",
        "cap_per_supplier_per_year",
        "allocation",
        "funding_source",
    ),
    "one-off-award": ("code", "amount", "eligible_kinds", "funding_source"),
    "pro-rata-claim-subsidy": (
        "code",
        "rate",
        "service_window_from",
        "service_window_to",
        "application_window_from",
        "application_window_to",
        "claim_evidence",
        "funding_split",
        "allocation",
        "green_threshold_required",
        "duplicate_funding_check",
    ),
    "ranked-tier-grant": (
        *_COMMON_INSTRUMENT_KEYS,
        "max_subsidy_rate",
        "tiers",
        "review_places",
        "application_evidence",
        "unused_places_cascade",
    ),
}
# Parameters a building block may leave out.
_OPTIONAL_KEYS: dict[str, tuple[str, ...]] = {
    "pro-rata-claim-subsidy": (
        "per_claimant_cap",
        "pool_cap",
        "contract_amount_tax",
        "service_window_basis",
        "customer_division_prefixes",
    ),
    "ranked-tier-grant": ("min_notice_days",),
    "supplier-subsidy": ("min_notice_days", "business_counted"),
    "one-off-award": ("newly_approved_within_days",),
}
# The shortest public notice (公示) of a plan, in calendar days counting the first and the last,
# when a policy file does not say: 7 days, which hold 5 working days unless a holiday falls in
# them (CD-9 and CD-10 name no length; see chengdu.toml).
DEFAULT_MIN_NOTICE_DAYS = 7
# Optional parameters that take a value when left out; the clause says it is the default.
_DEFAULTS: dict[str, Param] = {
    "min_notice_days": Param(DEFAULT_MIN_NOTICE_DAYS, "default"),
    # Pro-rata claims (ADR 0030-0033): the contract amount as the contract states it, and the
    # part of a line's service days inside the service window.
    "contract_amount_tax": Param("as-contracted", "default"),
    "service_window_basis": Param("service-days", "default"),
    # CD-6, CD-10 (ADR 0010): a bill counts at most the part of it the voucher supported.
    "business_counted": Param("supported-part", "default"),
    # CD-7 (ADR 0011): "newly approved" means certified at most a year before the award.
    "newly_approved_within_days": Param(365, "default"),
}
# What of each voucher-supported bill counts towards a supplier's subsidy base (CD-6, ADR 0010):
# the part the voucher supported (deduction ÷ deduction rate, or a special voucher's amount ÷
# its subsidy rate, never more than the bill or spend), the whole bill, or only the deduction.
BUSINESS_COUNTED = ("supported-part", "whole-bill", "deduction")
# CD-14 (ADR 0014): an input that gives only a tax-inclusive total is refused, or converted to
# the tax-exclusive amount with the tax rate it declares.
TAX_INCLUSIVE_INPUT = ("refuse", "convert")
# How a pro-rata claim line's amount is read for tax, and which dates place it in the window.
CONTRACT_AMOUNT_TAX = ("as-contracted", "tax-exclusive")
SERVICE_WINDOW_BASES = ("service-days", "invoice-dates")


def _instrument(policy_id: str, name: str, table: Any) -> Instrument:
    where = f"instruments.{name}"
    if not isinstance(table, dict):
        raise PolicyFileError(f"{where}: expected a table")
    kind = table.get("type")
    if kind not in _INSTRUMENT_TYPES:
        raise PolicyFileError(
            f"{where}.type: {kind!r} is not one of {', '.join(_INSTRUMENT_TYPES)}"
        )
    label = table.get("label", name)
    if not isinstance(label, str):
        raise PolicyFileError(f"{where}.label: expected a string")
    optional = _OPTIONAL_KEYS.get(kind, ())
    expected = set(_INSTRUMENT_TYPES[kind]) | set(optional) | {"type", "label"}
    unknown = sorted(set(table) - expected)
    if unknown:
        raise PolicyFileError(f"{where}.{unknown[0]}: not a parameter of a {kind}")
    checks: dict[str, Callable[[Param, str], Param]] = {
        "code": _code,
        "quota_per_year": lambda p, w: _int(p, w, minimum=1),
        "per_holder_per_year": lambda p, w: _int(p, w, minimum=1),
        "allocation": lambda p, w: _choice(
            p,
            w,
            ("first-come-first-served", "ranked-tiers", "supplier-application-plan", "pro-rata"),
        ),
        "exclusive_with": _strings,
        "funding_source": lambda p, w: _choice(p, w, FUNDING_SOURCES),
        "face_value": _amount,
        "max_deduction_rate": _rate,
        "max_subsidy_rate": _rate,
        "validity": lambda p, w: _choice(p, w, ("calendar-year-of-issue",)),
        "reimbursement_evidence": lambda p, w: _strings(p, w, EVIDENCE_KINDS),
        "tiers": _tiers,
        "review_places": lambda p, w: _int(p, w, minimum=1),
        "application_evidence": lambda p, w: _strings(p, w, EVIDENCE_KINDS),
        "unused_places_cascade": _bool,
        "base_year_offset": lambda p, w: _int(p, w, minimum=1),
        "cap_per_supplier_per_year": _amount,
        "amount": _amount,
        "eligible_kinds": lambda p, w: _strings(p, w, SUPPLIER_KINDS),
        "rate": _rate,
        "service_window_from": _iso_date,
        "service_window_to": _iso_date,
        "application_window_from": _iso_date,
        "application_window_to": _iso_date,
        "claim_evidence": lambda p, w: _strings(p, w, CLAIM_EVIDENCE),
        "funding_split": _funding_split,
        "green_threshold_required": _bool,
        "duplicate_funding_check": _bool,
        "per_claimant_cap": _amount,
        "pool_cap": _amount,
        "min_notice_days": lambda p, w: _int(p, w, minimum=1),
        "contract_amount_tax": lambda p, w: _choice(p, w, CONTRACT_AMOUNT_TAX),
        "service_window_basis": lambda p, w: _choice(p, w, SERVICE_WINDOW_BASES),
        "customer_division_prefixes": _division_prefixes,
        "business_counted": lambda p, w: _choice(p, w, BUSINESS_COUNTED),
        "newly_approved_within_days": lambda p, w: _int(p, w, minimum=1),
    }
    keys = [*_INSTRUMENT_TYPES[kind], *[k for k in optional if k in table]]
    params = {key: checks[key](_param(table, key, where), f"{where}.{key}") for key in keys}
    for key in optional:
        if key not in params and key in _DEFAULTS:
            params[key] = _DEFAULTS[key]
    return Instrument(policy_id=policy_id, name=name, type=kind, label=label, params=params)


_POLICY_PARAMS: dict[str, Any] = {
    "validity.first_year": lambda p, w: _int(p, w, minimum=2000),
    "validity.last_year": lambda p, w: _int(p, w, minimum=2000),
    "validity.amounts_exclude_tax": _bool,
    "applicants.cities": _strings,
    "applicants.kinds": lambda p, w: _strings(p, w, APPLICANT_KINDS),
    "suppliers.cities": _strings,
    "suppliers.kinds": lambda p, w: _strings(p, w, SUPPLIER_KINDS),
    "suppliers.listing": lambda p, w: _choice(p, w, ("half-yearly", "none")),
    "suppliers.affiliated_parties_excluded": _bool,
    "services.eligible": lambda p, w: _strings(p, w, KNOWN_SERVICES),
    "enforcement.debarment_years": lambda p, w: _int(p, w, minimum=0),
    "enforcement.credit_lookback_years": lambda p, w: _int(p, w, minimum=0),
    "enforcement.disqualifying_records": lambda p, w: _strings(p, w, CREDIT_RECORD_KINDS),
}


def _categories(p: Param, path: str) -> Param:
    checked = _strings(p, path)
    for v in checked.value:
        if len(v) != 2 or not v.isalnum():
            raise PolicyFileError(f"{path}: {v!r} is not a two-character registration category")
    return checked


# Policy parameters a file may leave out (a policy that does not name them does not apply the
# rule; CD-14's conversion is then refused).
_OPTIONAL_POLICY_PARAMS: dict[str, Any] = {
    # CD-3 (ADR 0012): the registration categories (credit code characters 1–2) of legal persons.
    "applicants.legal_person_categories": _categories,
    "suppliers.legal_person_categories": _categories,
    "validity.tax_inclusive_input": lambda p, w: _choice(p, w, TAX_INCLUSIVE_INPUT),
}


def _check_tiers_fit(inst: Instrument) -> None:
    where = f"instruments.{inst.name}"
    tiers: list[Tier] = inst.value("tiers")
    if sum(t.places for t in tiers) != inst.value("quota_per_year"):
        raise PolicyFileError(f"{where}.tiers: places must add up to quota_per_year")
    rate: Decimal = inst.value("max_subsidy_rate")
    for i, t in enumerate(tiers):
        if t.amount > t.min_spend * rate:
            raise PolicyFileError(
                f"{where}.tiers[{i}]: amount exceeds max_subsidy_rate of its min_spend"
            )


def policy_from_mapping(raw: dict[str, Any]) -> Policy:
    """Validate a parsed parameter file (or a programme's recorded snapshot of one)."""
    for key in ("id", "code", "name", "source"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise PolicyFileError(f"{key}: missing or not a string")
    sections = {
        "id",
        "code",
        "name",
        "source",
        "validity",
        "applicants",
        "suppliers",
        "services",
        "instruments",
        "enforcement",
    }
    unknown = sorted(set(raw) - sections)
    if unknown:
        raise PolicyFileError(f"{unknown[0]}: not a section of a policy file")
    params: dict[str, Param] = {}
    for path, check in _POLICY_PARAMS.items():
        section, key = path.split(".")
        table = raw.get(section)
        if not isinstance(table, dict):
            raise PolicyFileError(f"{section}: missing table")
        params[path] = check(_param(table, key, section), path)
    for path, check in _OPTIONAL_POLICY_PARAMS.items():
        section, key = path.split(".")
        if key in raw[section]:
            params[path] = check(_param(raw[section], key, section), path)
    for section in ("validity", "applicants", "suppliers", "services", "enforcement"):
        for key in raw[section]:
            if f"{section}.{key}" not in _POLICY_PARAMS | _OPTIONAL_POLICY_PARAMS:
                raise PolicyFileError(f"{section}.{key}: not a parameter this engine knows")
    if params["validity.last_year"].value < params["validity.first_year"].value:
        raise PolicyFileError("validity.last_year: before validity.first_year")
    instruments_raw = raw.get("instruments")
    if not isinstance(instruments_raw, dict) or not instruments_raw:
        raise PolicyFileError("instruments: at least one instrument is required")
    instruments = {
        name: _instrument(raw["id"], name, table) for name, table in instruments_raw.items()
    }
    for inst in instruments.values():
        if inst.type == "ranked-tier-grant":
            _check_tiers_fit(inst)
    codes = [i.code for i in instruments.values()]
    if len(set(codes)) != len(codes):
        raise PolicyFileError("instruments: two instruments share a code")
    for inst in instruments.values():
        for other in inst.exclusive_with:
            if other not in instruments or other == inst.name:
                raise PolicyFileError(
                    f"instruments.{inst.name}.exclusive_with: {other!r} is not another "
                    "instrument of this policy"
                )
    return Policy(
        id=raw["id"],
        code=raw["code"],
        name=raw["name"],
        source=raw["source"],
        params=params,
        instruments=instruments,
        raw=raw,
    )


def parse_policy(text: str, *, origin: str = "<policy>") -> Policy:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PolicyFileError(f"{origin}: not valid TOML: {e}") from None
    try:
        return policy_from_mapping(raw)
    except PolicyFileError as e:
        raise PolicyFileError(f"{origin}: {e}") from None


def bundled_policies() -> dict[str, Policy]:
    """The parameter files shipped in this package, by policy id."""
    found: dict[str, Policy] = {}
    for entry in resources.files(__name__).iterdir():
        if entry.name.endswith(".toml"):
            policy = parse_policy(entry.read_text(encoding="utf-8"), origin=entry.name)
            found[policy.id] = policy
    return found

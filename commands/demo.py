"""``voucher-ledger demo``: a fresh SQLite ledger running a realistic programme year: the
inclusive vouchers first come first served, and a ranked special-voucher round.

The year is generated (fixed seed, so every run tells the same story), written as a JSON Lines
file beside the database, and run through the same batch runner users use; then the reports
are printed. Files: ``<db>``, ``<db>.commands.jsonl`` (the input) and
``<db>.results.jsonl`` (one result per line).
"""

from __future__ import annotations

import io
import json
import random
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from commands import render as r
from commands.batch import run_batch
from commands.wiring import Ledger, open_ledger
from ledger.clock import PROGRAMME_TZ
from ledger.ids import make_credit_code
from ledger.money import FEN
from ledger.supplier_subsidy import SupplierSubsidyRound
from projections import reports
from projections.store import ReadModelStore

# The fraud case: supplier no. 6 is found to have forged proofs of service (CD-11).
FRAUD_SUPPLIER = 5
EVIDENCE_KINDS = ("contract", "payment-proof", "invoice", "service-proof")


@dataclass(frozen=True)
class Site:
    """Where and when a generated programme year plays. The demo plays Chengdu 2025; the
    benchmark plays many sites (copies of the Chengdu policy under other codes and cities,
    in other years), each with its own units."""

    policy: str = "chengdu"
    code: str = "CD"
    city: str = "Chengdu"
    year: int = 2025
    # The first two characters of every generated unit's organisation code (GB 32100).
    serial: str = "MA"
    seed: int = 2025  # of the random choices: who applies when, what is billed

    @property
    def programme(self) -> str:
        return f"{self.code}-{self.year}"

    @property
    def next_programme(self) -> str:
        return f"{self.code}-{self.year + 1}"

    @property
    def case(self) -> str:
        return f"CASE-{self.programme}-001"

    @property
    def case_opened(self) -> date:
        return date(self.year, 10, 1)

    @property
    def finding(self) -> date:
        return date(self.year, 10, 15)

    def unit(self, division: str, group: int, n: int) -> str:
        """The credit code of generated unit ``n`` of a group (5 special applicants,
        6 inclusive applicants, 7 suppliers) registered in an administrative division."""
        return make_credit_code(f"91{division}{self.serial}{group}{n:06d}")

    def supplier(self, n: int) -> str:
        return self.unit(LOCAL, 7, n)


DEMO = Site()
LOCAL = "510100"  # the administrative division of every site's local units


def _at(day: date, minute: int = 0) -> str:
    moment = datetime(day.year, day.month, day.day, 9, 0, tzinfo=PROGRAMME_TZ)
    return (moment + timedelta(minutes=minute)).isoformat()


def generate_year(site: Site = DEMO) -> list[dict[str, Any]]:
    """Commands of one programme year, in business-time order."""
    rng = random.Random(site.seed)
    timed: list[tuple[str, int, dict[str, Any]]] = []
    seq = 0

    def add(day: date, command: dict[str, Any], minute: int = 0) -> None:
        nonlocal seq
        seq += 1
        timed.append((_at(day, minute), seq, {**command, "at": _at(day, minute)}))

    start = date(site.year, 1, 2)
    add(start, {"command": "open-programme", "policy": site.policy, "year": site.year})

    suppliers = [site.supplier(i) for i in range(12)]
    for i, code in enumerate(suppliers):
        add(
            start,
            {
                "command": "register-supplier",
                "credit_code": code,
                "name": f"成都智算中心{i + 1:02d}号",
                "kind": "data-centre" if i % 3 else "scheduling-platform",
                "city": site.city,
            },
            minute=1 + i,
        )
    outsider = site.unit("500000", 7, 99)
    add(
        start,
        {
            "command": "register-supplier",
            "credit_code": outsider,
            "name": "重庆算力有限公司",
            "kind": "data-centre",
            "city": "Chongqing",
        },
        minute=20,
    )

    applicants: list[str] = []
    kinds = ("enterprise", "enterprise", "enterprise", "research-institute", "university")
    for i in range(420):
        local = i % 21 != 20  # one in 21 is from elsewhere and will be refused (CD-1)
        code = site.unit(LOCAL if local else "440300", 6, i)
        applicants.append(code)
        add(
            start + timedelta(days=1),
            {
                "command": "register-applicant",
                "credit_code": code,
                "name": f"{'成都' if local else '深圳'}示例科技{i + 1:03d}",
                "kind": kinds[i % len(kinds)],
                "city": site.city if local else "Shenzhen",
            },
            minute=i,
        )

    add(
        date(site.year, 1, 5),
        {
            "command": "publish-supplier-list",
            "programme": site.programme,
            "period": f"{site.year}H1",
            "suppliers": suppliers,
        },
    )
    # The H2 list drops two suppliers: their H2 business gets nothing (CD-2).
    add(
        date(site.year, 1, 5),
        {
            "command": "publish-supplier-list",
            "programme": site.programme,
            "period": f"{site.year}H1",
            "suppliers": [*suppliers, outsider],
        },
        minute=1,
    )
    add(
        date(site.year, 6, 25),
        {
            "command": "publish-supplier-list",
            "programme": site.programme,
            "period": f"{site.year}H2",
            "suppliers": suppliers[:10],
        },
    )
    # Applications in submission order over six weeks; the first 300 eligible get vouchers.
    order = applicants[:]
    rng.shuffle(order)
    holders: list[str] = []
    for n, code in enumerate(order):
        day = date(site.year, 1, 10) + timedelta(days=n // 10)
        add(
            day,
            {"command": "apply-inclusive", "programme": site.programme, "applicant": code},
            minute=n % 10,
        )
        if code[2:8] == LOCAL and len(holders) < 300:
            holders.append(code)
    add(
        date(site.year, 3, 1),
        {"command": "apply-inclusive", "programme": site.programme, "applicant": holders[0]},
    )  # twice: one per unit per year (CD-4)

    add(
        date(site.year, 1, 6),
        {
            "command": "record-affiliation",
            "applicant": holders[4],
            "supplier": suppliers[2],
            "evidence": "common shareholder",
        },
    )

    invoice = 0
    unlisted_in_h2 = set(suppliers[10:])
    for number, holder in enumerate(holders, start=1):
        voucher = f"{site.programme}-INC-{number:04d}"
        billed = 0
        # Holders stop presenting a voucher once bills worth twice its face value have
        # been settled with it (it is used up by then).
        service = date(site.year, 2, 20) + timedelta(days=rng.randrange(120))
        while billed < 20000 and rng.random() < 0.75:
            invoice += 1
            service += timedelta(days=rng.randrange(10, 60))
            day = service + timedelta(days=rng.randrange(1, 5))
            if day.year != site.year:
                break
            affiliated_try = holder == holders[4]
            # The affiliated pair tries (CD-3).
            supplier = suppliers[2] if affiliated_try else rng.choice(suppliers)
            storage = rng.random() < 0.04
            bill = rng.randrange(2000, 16000)
            redeem = {
                "command": "redeem",
                "voucher": voucher,
                "supplier": supplier,
                "bill_amount": f"{bill}.{rng.randrange(100):02d}",
                "invoice_number": f"INV-{site.year}-{invoice:06d}",
                "service_kind": "storage" if storage else "compute",
                "service_date": service.isoformat(),
            }
            add(day, redeem)
            if rng.random() < 0.02:
                add(day, redeem, minute=5)  # a retry with the same invoice: changes nothing
            if storage or affiliated_try or (service.month > 6 and supplier in unlisted_in_h2):
                continue  # refused at the counter: nothing to claim
            if supplier == suppliers[FRAUD_SUPPLIER] and day >= site.finding:
                continue  # refused: the supplier is barred (CD-11)
            billed += bill
            claim_day = day + timedelta(days=rng.randrange(3, 20))
            evidence = {k: f"{k.upper()}-{invoice:06d}" for k in EVIDENCE_KINDS}
            if rng.random() < 0.03:
                evidence.pop("service-proof")  # refused: CD-8 needs proof of service
            claim = {"supplier": supplier, "invoice_number": redeem["invoice_number"]}
            add(claim_day, {"command": "claim-reimbursement", **claim, "evidence": evidence})
            if rng.random() < 0.9 and "service-proof" in evidence:
                paid = claim_day + timedelta(days=rng.randrange(5, 30))
                add(paid, {"command": "reimburse", **claim})
    add(
        date(site.year, 5, 5),
        {
            "command": "redeem",
            "voucher": f"{site.programme}-INC-0007",
            "supplier": suppliers[0],
            "bill_amount": "1000.00",
            "invoice_number": "INV-OVER-LIMIT",
            "service_kind": "compute",
            "service_date": f"{site.year}-05-04",
            "deduction": "900.00",
        },
    )
    add(
        date(site.year, 11, 5),
        {
            "command": "redeem",
            "voucher": f"{site.programme}-INC-0001",
            "supplier": suppliers[FRAUD_SUPPLIER],
            "bill_amount": "6000.00",
            "invoice_number": "INV-AFTER-BAR",
            "service_kind": "compute",
            "service_date": f"{site.year}-11-03",
        },
    )  # refused: the supplier is barred since the finding (CD-11)
    add(date(site.year + 1, 1, 1), {"command": "expire-vouchers", "programme": site.programme})
    add(
        date(site.year + 1, 1, 3),
        {
            "command": "redeem",
            "voucher": f"{site.programme}-INC-0001",
            "supplier": suppliers[0],
            "bill_amount": "5000.00",
            "invoice_number": "INV-AFTER-site.year",
            "service_kind": "compute",
            "service_date": f"{site.year + 1}-01-02",
        },
    )
    _special_round(site, rng, add, holders)
    timed.sort(key=lambda t: (t[0], t[1]))
    return [command for _, _, command in timed]


# Applications per spend bracket (≥10M, 5–10M, 2.5–5M, 1.5–2.5M, 0.5–1.5M).
SPECIAL_BRACKETS = (
    (8, 10_000_000, 40_000_000),
    (14, 5_000_000, 10_000_000),
    (30, 2_500_000, 5_000_000),
    (78, 1_500_000, 2_500_000),
    (120, 500_000, 1_500_000),
)
REVIEW_PLACES = 135


def _special_round(site: Site, rng: random.Random, add: Any, inclusive_holders: list[str]) -> None:
    """A ranked special round: ~250 applications, review failures replaced by the next in
    line, one upheld objection, a republished plan, then payment (CD-5, CD-9)."""
    evidence = {k: f"{k.upper()}-2024" for k in EVIDENCE_KINDS}
    spends: list[int] = []
    for count, low, high in SPECIAL_BRACKETS:
        spends += [rng.randrange(low, high) for _ in range(count)]
    rng.shuffle(spends)
    applicants: list[tuple[str, int]] = []
    for i, spend in enumerate(spends):
        code = site.unit(LOCAL, 5, i)
        applicants.append((code, spend))
        add(
            date(site.year, 1, 3),
            {
                "command": "register-applicant",
                "credit_code": code,
                "name": f"成都算力用户{i + 1:03d}",
                "kind": "enterprise" if i % 4 else "research-institute",
                "city": site.city,
            },
            minute=i,
        )
    for n, (code, spend) in enumerate(applicants):
        add(
            date(site.year, 3, 1 + n // 15),
            {
                "command": "apply-special",
                "programme": site.programme,
                "applicant": code,
                "prior_year_spend": f"{spend}.00",
                "evidence": evidence,
                "other_public_funding": {"province": "200000.00"} if n % 17 == 0 else {},
            },
            minute=n % 15,
        )
    # Refused: an inclusive holder (CD-13) and spend under the lowest threshold (CD-5).
    add(
        date(site.year, 3, 2),
        {
            "command": "apply-special",
            "programme": site.programme,
            "applicant": inclusive_holders[0],
            "prior_year_spend": "3000000.00",
            "evidence": evidence,
        },
    )
    small = site.unit(LOCAL, 5, 999999)
    add(
        date(site.year, 1, 3),
        {
            "command": "register-applicant",
            "credit_code": small,
            "name": "成都小型算力用户",
            "kind": "enterprise",
            "city": site.city,
        },
    )
    add(
        date(site.year, 3, 2),
        {
            "command": "apply-special",
            "programme": site.programme,
            "applicant": small,
            "prior_year_spend": "480000.00",
            "evidence": evidence,
        },
        minute=1,
    )
    add(date(site.year, 4, 1), {"command": "rank-special", "programme": site.programme})

    from commands.wiring import policies
    from ledger.special import Candidate, rank

    tiers = policies()[site.policy].instrument("special").value("tiers")
    ranking = [
        c.applicant
        for c in rank(
            [
                Candidate(
                    code,
                    Decimal(spend),
                    n,
                    datetime.fromisoformat(_at(date(site.year, 3, 1 + n // 15), n % 15)),
                )
                for n, (code, spend) in enumerate(applicants)
            ],
            tiers,
        )
    ]
    failed = set(rng.sample(ranking[:REVIEW_PLACES], 8))
    reviewed: list[str] = []

    def review_set(out: set[str]) -> list[str]:
        return [a for a in ranking if a not in out][:REVIEW_PLACES]

    def review(day: date, applicant: str, minute: int) -> None:
        ok = applicant not in failed
        add(
            day,
            {
                "command": "review-special",
                "programme": site.programme,
                "applicant": applicant,
                "outcome": "pass" if ok else "fail",
                "reason": "materials complete" if ok else "invoices do not match payments",
            },
            minute=minute,
        )
        reviewed.append(applicant)

    for n, applicant in enumerate(ranking[:REVIEW_PLACES]):
        review(date(site.year, 4, 2 + n // 20), applicant, n % 20)
    for n, applicant in enumerate(a for a in review_set(failed) if a not in reviewed):
        review(date(site.year, 4, 11), applicant, n)  # the replacements (递补)
    notice = {"programme": site.programme}
    add(
        date(site.year, 4, 20),
        {
            "command": "publish-special-plan",
            **notice,
            "notice_from": f"{site.year}-04-20",
            "notice_to": f"{site.year}-04-26",
        },
    )
    objected = review_set(failed)[2]
    add(
        date(site.year, 4, 22),
        {
            "command": "raise-objection",
            **notice,
            "objection": "OBJ-2025-01",
            "applicant": objected,
            "grounds": "the same invoices were filed by an affiliate",
        },
    )
    add(
        date(site.year, 4, 24),
        {
            "command": "resolve-objection",
            **notice,
            "objection": "OBJ-2025-01",
            "outcome": "upheld",
            "reason": "tax bureau confirms duplicated invoices",
        },
    )
    (newcomer,) = [a for a in review_set(failed | {objected}) if a not in reviewed]
    review(date(site.year, 4, 25), newcomer, 0)
    add(
        date(site.year, 4, 27),
        {
            "command": "publish-special-plan",
            **notice,
            "notice_from": f"{site.year}-04-27",
            "notice_to": f"{site.year}-05-03",
        },
    )
    add(date(site.year, 5, 6), {"command": "finalise-special", **notice})


def finance_and_enforcement(
    store: ReadModelStore, until: date, site: Site = DEMO
) -> list[dict[str, Any]]:
    """Finance records the bank's payments of the instructions issued so far; enforcement
    opens the fraud case, finds, demands back what the supplier was paid, and records a
    partial repayment. Built from the ledger's own read models, as the staff would."""
    timed: list[tuple[str, dict[str, Any]]] = []
    fraud = site.supplier(FRAUD_SUPPLIER)
    paid_to_fraud: list[tuple[str, Decimal]] = []
    for n, row in enumerate(reports.payment_instructions(store).rows):
        value_date = date.fromisoformat(row["instructed_at"][:10]) + timedelta(days=7)
        if row["programme"] != site.programme or row["status"] != "instructed":
            continue
        if value_date >= until:
            continue
        amount = row["amount"] - row["offset"]
        approved_on = date.fromisoformat(row["instructed_at"][:10]) + timedelta(days=1)
        timed.append(
            (
                _at(approved_on),
                {
                    # Four eyes: finance (not the clerk who instructed it) approves it first.
                    "command": "approve-payment",
                    "payment": row["reference"],
                    "note": "claim and evidence reviewed",
                    "at": _at(approved_on),
                    "late_reason": "entered from the approval register when finance caught up",
                },
            )
        )
        timed.append(
            (
                _at(value_date),
                {
                    "command": "record-settlement",
                    "payment": row["reference"],
                    "amount": str(amount),
                    "bank_reference": f"ICBC-{value_date:%Y%m%d}-{n:05d}",
                    "value_date": value_date.isoformat(),
                    "at": _at(value_date),
                    # Finance enters the year's settlements in October, from the bank's
                    # statements: late entries, each with its reason (audit late-entries).
                    "late_reason": "entered from the bank's statements when finance caught up",
                },
            )
        )
        if row["payee"] == fraud:
            paid_to_fraud.append((row["reference"], amount))
    demanded = sum((a for _, a in paid_to_fraud), start=Decimal("0.00"))
    case = {"case": site.case}
    timed += [
        (
            _at(site.case_opened),
            {
                "command": "open-case",
                **case,
                "programme": site.programme,
                "entity": fraud,
                "at": _at(site.case_opened),
                "description": "proofs of service for GPU hours never delivered",
            },
        ),
        (
            _at(site.finding),
            {
                "command": "record-fraud-finding",
                **case,
                "finding_date": site.finding.isoformat(),
                "at": _at(site.finding),
                "finding": "usage logs forged for 2025 invoices",
                "evidence": ["AUDIT-2025-031", "POLICE-REFERRAL-77"],
            },
        ),
        (
            _at(site.finding, 60),
            {
                "command": "demand-clawback",
                **case,
                "amount": str(demanded),
                "payments": [ref for ref, _ in paid_to_fraud],
                "due_date": f"{site.year}-11-30",
                "at": _at(site.finding, 60),
            },
        ),
        (
            _at(date(site.year, 11, 20)),
            {
                "command": "record-repayment",
                **case,
                "amount": str((demanded * Decimal("0.4")).quantize(Decimal("0.01"))),
                "bank_reference": "CCB-20251120-0091",
                "value_date": f"{site.year}-11-20",
                "at": _at(date(site.year, 11, 20)),
            },
        ),
    ]
    timed.sort(key=lambda t: t[0])
    return [command for _, command in timed]


def next_year_supplier_round(store: ReadModelStore, site: Site = DEMO) -> list[dict[str, Any]]:
    """2026: the supplier subsidy round on 2025's business (CD-6, CD-10), and one data centre
    approved as a national green data centre (CD-7). Suppliers attribute to themselves the
    special-voucher holders' spend they served, as the holders' evidence shows."""
    suppliers = [site.supplier(i) for i in range(12)]
    served: dict[str, dict[str, str]] = {code: {} for code in suppliers}
    for row in reports.special_round(store, site.programme).rows:
        if row["status"] == "paid":
            # The five top-ranked holders bought 60% of their compute from supplier no. 1;
            # the others bought a little from each supplier.
            top = row["rank"] <= 5
            supplier = suppliers[0] if top else suppliers[row["rank"] % 12]
            share = Decimal("0.6") if top else Decimal("0.05")
            served[supplier][row["applicant"]] = str((row["spend"] * share).quantize(FEN))
    nxt = site.next_programme
    r1 = {"programme": nxt, "round": "R1"}
    commands: list[dict[str, Any]] = [
        {
            "command": "open-programme",
            "policy": site.policy,
            "year": site.year + 1,
            # After the last of the year's reimbursements, which run into January.
            "at": _at(date(site.year + 1, 2, 1)),
        },
    ]
    # ---- issue 16, item 1: the special vouchers of the base year rest on the holders' spend
    # of the year before (CD-5 上年度算力支出), so a supplier's special business counts only if
    # it was on that year's list (CD-2, ADR 0010): the bureau's lists of that year, entered from
    # its archive. (Supplier no. 6, barred since, is not entered.)
    earlier = site.year - 1
    commands.append(
        {
            "command": "open-programme",
            "policy": site.policy,
            "year": earlier,
            "at": _at(date(site.year + 1, 2, 2)),
        }
    )
    for half in ("H1", "H2"):
        commands.append(
            {
                "command": "publish-supplier-list",
                "programme": f"{site.code}-{earlier}",
                "period": f"{earlier}{half}",
                "suppliers": [c for n, c in enumerate(suppliers) if n != FRAUD_SUPPLIER],
                "at": _at(date(site.year + 1, 2, 2), 1),
            }
        )
    # ---- end of issue 16's section ------------------------------------------------------------
    for n, code in enumerate(suppliers):
        commands.append(
            {
                "command": "apply-supplier-subsidy",
                **r1,
                "supplier": code,
                "special_holder_spend": served[code],
                "at": _at(date(site.year + 1, 2, 10), n),
            }
        )
    commands += [
        {"command": "plan-supplier-subsidy", **r1, "at": _at(date(site.year + 1, 3, 1))},
        {
            "command": "publish-supplier-subsidy-plan",
            **r1,
            "notice_from": f"{site.year + 1}-03-02",
            "notice_to": f"{site.year + 1}-03-08",
            "at": _at(date(site.year + 1, 3, 2)),
        },
        {"command": "finalise-supplier-subsidy", **r1, "at": _at(date(site.year + 1, 3, 10))},
    ]
    # ---- issue 16, items 1 and 2 (CD-6/CD-10, CD-7 with §六(一)) ----------------------------
    # Item 1: a second round the same year counts supplier no. 1's business not again.
    # Item 2: the green award needs a listed supplier and a newly approved certification: a
    # 2016 certification is refused, this year's is awarded.
    r2 = {"programme": nxt, "round": "R2"}
    commands += [
        {
            "command": "apply-supplier-subsidy",
            **r2,
            "supplier": suppliers[0],
            "at": _at(date(site.year + 1, 3, 11)),
        },
        {
            "command": "publish-supplier-list",
            "programme": nxt,
            "period": f"{site.year + 1}H1",
            "suppliers": [code for n, code in enumerate(suppliers) if n != FRAUD_SUPPLIER],
            "at": _at(date(site.year + 1, 3, 12)),
        },
        {
            "command": "certify-green-data-centre",
            "programme": nxt,
            "supplier": suppliers[2],
            "certification_date": "2016-06-01",
            "reference": "工信部 国家绿色数据中心 2016-3",
            "at": _at(date(site.year + 1, 3, 16)),
        },
    ]
    # ---- end of issue 16's section ------------------------------------------------------------
    commands += [
        {
            "command": "certify-green-data-centre",
            "programme": nxt,
            "supplier": suppliers[1],
            "certification_date": f"{site.year + 1}-03-15",
            "reference": "工信部 国家绿色数据中心 2026-12",
            "at": _at(date(site.year + 1, 3, 16)),
        },
    ]
    return commands


def _run_phase(
    ledger: Ledger, commands: list[dict[str, Any]], workdir: Path, name: str, year: int
) -> list[dict[str, Any]]:
    source = workdir / f"{name}.jsonl"
    source.write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in commands), encoding="utf-8"
    )
    out = io.StringIO()
    run_batch(
        ledger,
        source,
        out,
        identity=f"demo-{name}",
        now=lambda: datetime(year, 1, 1, tzinfo=PROGRAMME_TZ),
    )
    return [json.loads(line) for line in out.getvalue().splitlines()]


def play_year(
    ledger: Ledger, site: Site = DEMO
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run the demo year: the clerks until October; finance and enforcement catch up; the rest
    of the year; then the next year's supplier subsidy round and a green award. Returns the
    commands in the order run, and their results."""
    year = generate_year(site)
    split = _at(site.case_opened)
    before = [c for c in year if c["at"] < split]
    after = [c for c in year if c["at"] >= split]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        results = _run_phase(ledger, before, workdir, "clerks-jan-sep", site.year)
        caught_up = finance_and_enforcement(ledger.store, site.case_opened, site)
        # What finance and enforcement record later in the year joins the clerks' last
        # quarter in business-time order: the simulated clock follows the story.
        middle = [c for c in caught_up if c["at"] < after[0]["at"]]
        later = [c for c in caught_up if c["at"] >= after[0]["at"]]
        after = sorted(after + later, key=lambda c: c["at"])
        results += _run_phase(ledger, middle, workdir, "finance-enforcement", site.year)
        results += _run_phase(ledger, after, workdir, "clerks-oct-dec", site.year)
        following = next_year_supplier_round(ledger.store, site)
        results += _run_phase(ledger, following, workdir, "next-year-suppliers", site.year)
    return before + middle + after + following, results


def _policy_fidelity(
    ledger: Ledger, commands: list[dict[str, Any]], results: list[dict[str, Any]], out: TextIO
) -> None:
    """Issue 16, items 1 and 2: what the supplier-subsidy base counted and excluded, and why
    (CD-6, CD-10); the green award's outcomes (CD-7, §六(一))."""
    counted = Decimal("0.00")
    excluded: dict[str, Decimal] = {}
    for event in ledger.app.events_of(SupplierSubsidyRound.ApplicationReceived):
        counted += event.inclusive_base + event.special_base
        for line in event.excluded:
            reason = str(line["reason"]).split(":")[0].split(" (")[0]
            excluded[reason] = excluded.get(reason, Decimal("0.00")) + Decimal(line["amount"])
    out.write("\nPolicy fidelity (issue 16, items 1 and 2):\n")
    out.write(f"  supplier-subsidy base counted (CD-6, CD-10): {counted}\n")
    for reason, amount in sorted(excluded.items()):
        out.write(f"  excluded — {reason:<52} {amount:>16}\n")
    for command, result in zip(commands, results, strict=True):
        if command["command"] in ("certify-green-data-centre", "apply-supplier-subsidy") and (
            command.get("round") == "R2" or command["command"] == "certify-green-data-centre"
        ):
            outcome = "accepted" if result["ok"] else result["error"]
            subject = command.get("certification_date") or command.get("round")
            out.write(f"  {command['command']:<27} {subject:<11} {outcome}\n")


def run_demo(db: Path, out: TextIO) -> int:
    for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        stale.unlink(missing_ok=True)
    commands_file = Path(f"{db}.commands.jsonl")
    results_file = Path(f"{db}.results.jsonl")
    site = DEMO
    ledger = open_ledger(str(db), simulated_if_new=True)
    try:
        commands, results = play_year(ledger, site)
        commands_file.write_text(
            "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in commands),
            encoding="utf-8",
        )
        results_file.write_text(
            "".join(r.dumps({**res, "line": n}) + "\n" for n, res in enumerate(results, 1)),
            encoding="utf-8",
        )
        out.write(
            f"Demo: the {site.programme} programme year, {len(commands)} commands "
            f"(input: {commands_file}, results: {results_file}).\n"
            "This ledger runs on a simulated clock that follows the story's business time "
            "(recorded in the ledger; its reports say so).\n\n"
        )
        outcomes: Counter[tuple[str, str]] = Counter()
        for result, command in zip(results, commands, strict=True):
            outcomes[(command["command"], "accepted" if result["ok"] else result["error"])] += 1
        out.write("Outcomes (command, result, count):\n")
        for (name, outcome), count in sorted(outcomes.items()):
            out.write(f"  {name:<22} {outcome:<32} {count:>5}\n")
        end_of_year = date(site.year, 12, 31)
        for report, limit in (
            (reports.quota(ledger.store), None),
            (reports.balances(ledger.store), 10),
            (reports.special_round(ledger.store, site.programme), 12),
            (reports.payment_instructions(ledger.store), 5),
            (reports.debarment_register(ledger.store, end_of_year), None),
            (reports.receivables_ledger(ledger.store, end_of_year), None),
            (
                reports.supplier_subsidy_round(ledger.store, site.next_programme, "R1"),
                None,
            ),
        ):
            out.write("\n")
            r.render_table(report, out, limit=limit)
        _policy_fidelity(ledger, commands, results, out)
    finally:
        ledger.close()
    out.write(
        f"\nLedger: {db}. Try: voucher-ledger --db {db} explain CD-2025-SPC-0006\n"
        f"                     voucher-ledger --db {db} explain "
        f"{site.supplier(FRAUD_SUPPLIER)}\n"
    )
    return 0

"""Issue 16, items 11-15, end to end on SQLite and PostgreSQL: the Qingdao guide's words decide
the figures the read models, the reports and `explain` show.

* QD-4 「按照算力服务合同金额比例予以分配补助」 — the pool shared by approved contract amounts,
  city and district halves equal to the fen;
* QD-2 silent on tax — the contract amount counts as the contract states it (the parameter);
* QD-5 「相关证明材料时间限定为2023年2月22日至12月31日期间内」 — the part inside the window counts;
* QD-7 「取消政策性资金扶持」 — a listing after the city review: a re-review, the others paid;
* QD-2 「为青岛市企业、科研机构、创新平台提供」 — the customer's place from its credit code."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from commands.explaining import explain
from commands.wiring import Ledger
from ledger.clock import PROGRAMME_TZ
from ledger.events import Context
from ledger.handlers.claims import (
    AllocateOperatorSubsidy,
    CityReReview,
    CityReview,
    DistrictPreReview,
    SubmitOperatorClaim,
)
from ledger.handlers.enforcement import RecordCreditListing
from ledger.handlers.registration import OpenProgramme, RegisterSupplier
from ledger.ids import make_credit_code
from ledger.pro_rata import ClaimLine
from projections import reports
from tests.scenario import rejected

QD = "QD-2024"
M = Decimal(1_000_000)


def day(month: int, d: int) -> Context:
    return Context(datetime(2024, month, d, 10, tzinfo=PROGRAMME_TZ), "test", "t")


def operator(n: int) -> str:
    return make_credit_code(f"91370200MA3C{n:05d}")


def customer(n: int, division: str = "370212") -> str:
    return make_credit_code(f"91{division}MA3D{n:05d}")


def line(n: int, amount: Decimal, **changes: Any) -> ClaimLine:
    values: dict[str, Any] = {
        "customer": customer(n),
        "customer_in_area": None,  # the credit code says where the customer is
        "contract_number": f"HT-{n}",
        "amount": amount,
        "service_from": date(2023, 3, 1),
        "service_to": date(2023, 11, 30),
        "invoice": f"FP-{n}",
        "bank_receipt": f"BR-{n}",
    }
    return ClaimLine(**{**values, **changes})


def claim_and_approve(ledger: Ledger, n: int, *lines: ClaimLine) -> None:
    app = ledger.app
    app.execute(
        day(1, 22),
        SubmitOperatorClaim(
            programme=QD, operator=operator(n), audit_report="审计", lines=[*lines]
        ),
    )
    app.execute(
        day(2, 1),
        DistrictPreReview(
            programme=QD,
            operator=operator(n),
            outcome="pass",
            green_threshold_met=True,
            reason="ok",
        ),
    )
    app.execute(
        day(3, 5),
        CityReview(
            programme=QD,
            operator=operator(n),
            outcome="pass",
            approved_amount=None,
            assessment="专家评审",
            reason="verified",
        ),
    )


def open_qingdao(ledger: Ledger, operators: int) -> None:
    ledger.app.execute(day(1, 2), OpenProgramme(policy="qingdao", year=2024))
    for n in range(1, operators + 1):
        ledger.app.execute(
            day(1, 3),
            RegisterSupplier(
                credit_code=operator(n),
                name=f"算力中心{n}",
                kind="data-centre",
                city="Qingdao AI industrial park",
            ),
        )


def allocation_rows(ledger: Ledger) -> dict[str, dict[str, Any]]:
    ledger.runner.catch_up()
    return {r["claimant"]: r for r in reports.operator_allocation(ledger.store, QD).rows}


def test_qd4_the_pool_is_shared_by_contract_amounts_with_equal_halves(ledger: Ledger) -> None:
    """Contracts 12,800,808.20 / 17,944,726.58 / 29,669,765.06: each level's 10,000,000 in
    proportion, to the fen — 2,118,802.39 / 2,970,228.84 / 4,910,968.77 from city and district
    alike (sharing the rounded entitlements gave the first a fen of the second's)."""
    open_qingdao(ledger, 3)
    amounts = (Decimal("12800808.20"), Decimal("17944726.58"), Decimal("29669765.06"))
    for n, amount in enumerate(amounts, start=1):
        claim_and_approve(ledger, n, line(n, amount))
    ledger.app.execute(day(3, 20), AllocateOperatorSubsidy(programme=QD))
    rows = allocation_rows(ledger)
    halves = (Decimal("2118802.39"), Decimal("2970228.84"), Decimal("4910968.77"))
    for n, half in enumerate(halves, start=1):
        row = rows[operator(n)]
        assert (row["city_share"], row["district_share"], row["allocated"]) == (
            half,
            half,
            2 * half,
        )
    assert sum(r["city_share"] for r in rows.values()) == 10 * M
    assert sum(r["district_share"] for r in rows.values()) == 10 * M
    text = " ".join(explain(ledger, operator(1)))
    assert "in proportion to the approved contract amounts (12,800,808.20" in text


def test_qd2_tax_the_contract_amount_counts_as_stated(ledger: Ledger) -> None:
    """The guide is silent on tax: a 1,060,000.00 contract (60,000.00 tax stated) counts
    1,060,000.00 — and 50% of it, 530,000.00, is paid, city and district 265,000.00 each."""
    open_qingdao(ledger, 1)
    claim_and_approve(ledger, 1, line(1, Decimal("1060000.00"), tax=Decimal("60000.00")))
    ledger.app.execute(day(3, 20), AllocateOperatorSubsidy(programme=QD))
    row = allocation_rows(ledger)[operator(1)]
    assert (row["eligible"], row["allocated"]) == (Decimal("1060000.00"), Decimal("530000.00"))
    assert row["city_share"] == row["district_share"] == Decimal("265000.00")


def test_qd5_the_part_of_a_contract_inside_the_window_counts(ledger: Ledger) -> None:
    """A 3,340,000.00 contract served 2023-02-01 … 12-31 (334 days; 313 inside 2023-02-22 …
    12-31) counts 3,130,000.00; a contract served only in January 2024 counts nothing."""
    open_qingdao(ledger, 1)
    claim_and_approve(
        ledger,
        1,
        line(
            1, Decimal("3340000.00"), service_from=date(2023, 2, 1), service_to=date(2023, 12, 31)
        ),
        line(2, Decimal("500000.00"), service_from=date(2024, 1, 2), service_to=date(2024, 1, 20)),
    )
    row = allocation_rows(ledger)[operator(1)]
    assert (row["lines"], row["excluded_lines"]) == (2, 1)
    assert row["eligible"] == Decimal("3130000.00")
    assert row["excluded"] == Decimal("710000.00")  # 210,000.00 before the window + 500,000.00
    text = " ".join(explain(ledger, operator(1)))
    assert "counts 3,130,000.00 CNY of 3,340,000.00 CNY" in text
    assert "313 of 334 service days inside 2023-02-22–2023-12-31 (QD-5)" in text


def test_qd7_a_late_listing_excludes_that_operator_and_the_others_share_the_pool(
    ledger: Ledger,
) -> None:
    """Operator 2 is blacklisted on 2024-03-10, after the city review: the allocation asks for a
    re-review; after it, operators 1 and 3 (24M and 16M) are paid 12,000,000 and 8,000,000."""
    open_qingdao(ledger, 3)
    for n, amount in ((1, 24 * M), (2, 20 * M), (3, 16 * M)):
        claim_and_approve(ledger, n, line(n, amount))
    ledger.app.execute(
        day(3, 10),
        RecordCreditListing(
            entity=operator(2),
            reference="QD-ENV-2024-031",
            kind="environmental-credit-blacklist",
            source="青岛市生态环境局 环境信用黑名单",
            listed_from=date(2024, 3, 10),
            listed_until=None,
        ),
    )
    rejected(
        "re-review-required", ledger.app.execute, day(3, 20), AllocateOperatorSubsidy(programme=QD)
    )
    ledger.app.execute(
        day(3, 18),
        CityReReview(
            programme=QD,
            operator=operator(2),
            ground="blacklist",
            assessment="复核意见 2024-03-18",
            reason="listed after the city review",
        ),
    )
    ledger.app.execute(day(3, 20), AllocateOperatorSubsidy(programme=QD))
    rows = allocation_rows(ledger)
    assert rows[operator(1)]["allocated"] == 12 * M
    assert rows[operator(3)]["allocated"] == 8 * M
    assert rows[operator(2)]["allocated"] == 0
    assert rows[operator(2)]["status"] == "excluded: blacklist"
    payments = reports.payment_instructions(ledger.store, QD).rows
    assert {p["payee"] for p in payments} == {operator(1), operator(3)}
    text = " ".join(explain(ledger, operator(2)))
    assert "City re-review on 2024-03-18: excluded (blacklist, listing QD-ENV-2024-031" in text


def test_qd2_the_customers_place_comes_from_its_credit_code(ledger: Ledger) -> None:
    """A Jinan customer (division 370102) is excluded whatever the operator declares; a
    customer registered at province level (370000) is placed by the declaration; a university
    is not among 「企业、科研机构、创新平台」."""
    open_qingdao(ledger, 1)
    claim_and_approve(
        ledger,
        1,
        line(1, 1 * M),
        line(2, 1 * M, customer=customer(2, "370102"), customer_in_area=True),
        line(3, 1 * M, customer=customer(3, "370000"), customer_in_area=True),
        line(4, 1 * M, customer_kind="university"),
        line(5, 1 * M, customer_kind="innovation-platform"),
    )
    row = allocation_rows(ledger)[operator(1)]
    assert (row["eligible"], row["excluded_lines"]) == (3 * M, 2)
    text = " ".join(explain(ledger, operator(1)))
    assert "customer not in Qingdao: credit code division 370102 (QD-2)" in text
    assert "customer kind university is not one of" in text

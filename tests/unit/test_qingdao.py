"""The Qingdao compute-centre operation subsidy (QD-1…QD-8), with the guide's own numbers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

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
from ledger.policy import FundingShare, bundled_policies
from ledger.pro_rata import ClaimLine, allocate_by_contract, largest_remainder, pool_of
from tests.scenario import event_names, in_memory_ledger, rejected

QD = "QD-2024"
PARK = "Qingdao AI industrial park"
INSTRUMENT = bundled_policies()["qingdao"].instrument("operator_subsidy")
M = Decimal(1_000_000)


def day(month: int, d: int, year: int = 2024) -> Context:
    from datetime import datetime

    return Context(datetime(year, month, d, 10, tzinfo=PROGRAMME_TZ), "test", "t")


def operator(n: int) -> str:
    return make_credit_code(f"91370200MA3C{n:05d}")


def line(n: int, amount: Decimal, **changes: object) -> ClaimLine:
    values: dict[str, object] = {
        "customer": make_credit_code(f"91370212MA3D{n:05d}"),
        "customer_in_area": True,
        "contract_number": f"HT-{n}",
        "amount": amount,
        "service_from": date(2023, 3, 1),
        "service_to": date(2023, 11, 30),
        "invoice": f"FP-{n}",
        "bank_receipt": f"BR-{n}",
    }
    values.update(changes)
    return ClaimLine(**values)  # type: ignore[arg-type]


def qingdao(operators: int = 3):  # type: ignore[no-untyped-def]
    app = in_memory_ledger()
    app.execute(day(1, 2), OpenProgramme(policy="qingdao", year=2024))
    for n in range(1, operators + 1):
        app.execute(
            day(1, 3),
            RegisterSupplier(
                credit_code=operator(n), name=f"算力中心{n}", kind="data-centre", city=PARK
            ),
        )
    return app


def approve(app, n: int) -> None:  # type: ignore[no-untyped-def]
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
            assessment="expert panel",
            reason="verified",
        ),
    )


def test_thirty_million_of_entitlements_are_scaled_to_twenty_city_and_district_ten_each() -> None:
    app = qingdao()
    for n, amount in ((1, 24 * M), (2, 20 * M), (3, 16 * M)):  # 50% = 12 + 10 + 8 = 30M
        app.execute(
            day(1, 22),
            SubmitOperatorClaim(
                programme=QD, operator=operator(n), audit_report="audit", lines=[line(n, amount)]
            ),
        )
        approve(app, n)
    events = app.execute(day(3, 20), AllocateOperatorSubsidy(programme=QD))
    (allocated,) = [e for e in events if type(e).__qualname__ == "ClaimRound.Allocated"]
    a = allocated.allocations  # type: ignore[attr-defined]
    assert sum(a.values()) == 20 * M
    # 「按照算力服务合同金额比例予以分配」 and 「市、区两级按照1:1比例负担」: each level shares its
    # 10,000,000 by the contract amounts 24 : 20 : 16 (M), to the fen by largest remainder —
    # 4,000,000 / 3,333,333.33 / 2,666,666.67 — so city and district pay the same to each.
    halves = [4 * M, Decimal("3333333.33"), Decimal("2666666.67")]
    shares = allocated.shares  # type: ignore[attr-defined]
    for n, half in zip((1, 2, 3), halves, strict=True):
        assert shares[operator(n)] == {"city": half, "district": half}
        assert a[operator(n)] == 2 * half
    assert allocated.contract_amounts == {  # type: ignore[attr-defined]
        operator(1): 24 * M,
        operator(2): 20 * M,
        operator(3): 16 * M,
    }
    payments = [e for e in events if type(e).__qualname__ == "PaymentInstruction.Instructed"]
    assert {(p.payee, p.funding_source) for p in payments} == {  # type: ignore[attr-defined]
        (operator(n), source) for n in (1, 2, 3) for source in ("city", "district")
    }


def test_out_of_window_non_qingdao_funded_and_twice_claimed_lines_are_excluded_and_kept() -> None:
    app = qingdao()
    app.execute(
        day(1, 22),
        SubmitOperatorClaim(
            programme=QD, operator=operator(1), audit_report="audit", lines=[line(1, 5 * M)]
        ),
    )
    events = app.execute(
        day(1, 23),
        SubmitOperatorClaim(
            programme=QD,
            operator=operator(2),
            audit_report="audit",
            lines=[
                line(2, 3 * M),
                line(3, 1 * M, customer=make_credit_code("91370102MA3D00003")),  # Jinan
                line(4, 1 * M, service_from=date(2023, 2, 1)),  # 282 of 303 days inside
                line(5, 1 * M, service_from=date(2024, 1, 2), service_to=date(2024, 1, 5)),
                line(6, 1 * M, funded_elsewhere=True),
                line(1, 5 * M),  # operator 1's contract (QD-8)
                line(2, 3 * M),  # twice in the same claim
            ],
        ),
    )
    (submitted,) = [e for e in events if type(e).__qualname__ == "ClaimRound.ClaimSubmitted"]
    reasons = [x["excluded"] for x in submitted.lines]  # type: ignore[attr-defined]
    assert reasons[0] == ""
    assert reasons[1] == "customer not in Qingdao: credit code division 370102 (QD-2)"
    assert reasons[2] == ""  # the part inside the window counts (QD-5)
    assert submitted.lines[2]["counted"] == Decimal("930693.06")  # type: ignore[attr-defined]
    assert "outside 2023-02-22–2023-12-31 (QD-5)" in reasons[3]
    assert "declared funded elsewhere (QD-8)" in reasons[4]
    assert f"claimed by {operator(1)} in QD-2024 (QD-8)" in reasons[5]
    assert "listed twice in this claim (QD-8)" in reasons[6]
    eligible = 3 * M + Decimal("930693.06")
    assert submitted.eligible_amount == eligible  # type: ignore[attr-defined]
    assert submitted.excluded_amount == 15 * M - eligible  # type: ignore[attr-defined]


def test_a_blacklisted_operator_gets_nothing() -> None:
    app = qingdao()
    app.execute(
        day(1, 10),
        RecordCreditListing(
            entity=operator(2),
            reference="ENV-1",
            kind="environmental-credit-blacklist",
            source="青岛市生态环境局",
            listed_from=date(2023, 6, 1),
            listed_until=None,
        ),
    )
    for n in (1, 2):
        app.execute(
            day(1, 22),
            SubmitOperatorClaim(
                programme=QD, operator=operator(n), audit_report="audit", lines=[line(n, 4 * M)]
            ),
        )
    rejected(
        "credit-record-in-lookback",
        app.execute,
        day(2, 1),
        DistrictPreReview(
            programme=QD,
            operator=operator(2),
            outcome="pass",
            green_threshold_met=True,
            reason="ok",
        ),
    )
    app.execute(
        day(2, 1),
        DistrictPreReview(
            programme=QD,
            operator=operator(2),
            outcome="fail",
            green_threshold_met=True,
            reason="blacklisted (QD-7)",
        ),
    )
    approve(app, 1)
    events = app.execute(day(3, 20), AllocateOperatorSubsidy(programme=QD))
    payees = {
        e.payee
        for e in events  # type: ignore[attr-defined]
        if type(e).__qualname__ == "PaymentInstruction.Instructed"
    }
    assert payees == {operator(1)}


def test_reviews_windows_and_the_green_threshold() -> None:
    app = qingdao()
    rejected(
        "outside-application-window",
        app.execute,
        day(1, 30),
        SubmitOperatorClaim(
            programme=QD, operator=operator(1), audit_report="audit", lines=[line(1, M)]
        ),
    )
    app.execute(
        day(1, 29),
        SubmitOperatorClaim(
            programme=QD, operator=operator(1), audit_report="audit", lines=[line(1, M)]
        ),
    )
    rejected(
        "green-threshold-not-met",
        app.execute,
        day(2, 1),
        DistrictPreReview(
            programme=QD,
            operator=operator(1),
            outcome="pass",
            green_threshold_met=False,
            reason="fails",
        ),
    )
    rejected(
        "not-pre-reviewed",
        app.execute,
        day(3, 5),
        CityReview(
            programme=QD,
            operator=operator(1),
            outcome="pass",
            approved_amount=None,
            assessment="e",
            reason="r",
        ),
    )
    rejected("review-incomplete", app.execute, day(3, 20), AllocateOperatorSubsidy(programme=QD))
    app.execute(
        day(2, 1),
        DistrictPreReview(
            programme=QD,
            operator=operator(1),
            outcome="pass",
            green_threshold_met=True,
            reason="ok",
        ),
    )
    rejected(
        "exceeds-eligible",
        app.execute,
        day(3, 5),
        CityReview(
            programme=QD,
            operator=operator(1),
            outcome="pass",
            approved_amount=M + Decimal("0.01"),
            assessment="e",
            reason="r",
        ),
    )
    app.execute(
        day(3, 5),
        CityReview(
            programme=QD,
            operator=operator(1),
            outcome="pass",
            approved_amount=Decimal("800000.00"),
            assessment="e",
            reason="r",
        ),
    )
    events = app.execute(day(3, 20), AllocateOperatorSubsidy(programme=QD))
    assert "ClaimRound.Allocated" in event_names(events)
    (allocated,) = [e for e in events if type(e).__qualname__ == "ClaimRound.Allocated"]
    assert allocated.allocations == {operator(1): Decimal("400000.00")}  # type: ignore[attr-defined]
    rejected("round-finalised", app.execute, day(3, 21), AllocateOperatorSubsidy(programme=QD))


def test_outside_the_park_is_not_a_claimant() -> None:
    app = qingdao()
    app.execute(
        day(1, 3),
        RegisterSupplier(
            credit_code=operator(9), name="市区中心", kind="data-centre", city="Qingdao"
        ),
    )
    rejected(
        "supplier-not-eligible",
        app.execute,
        day(1, 22),
        SubmitOperatorClaim(
            programme=QD, operator=operator(9), audit_report="audit", lines=[line(9, M)]
        ),
    )


def test_the_pool_is_what_the_city_cap_allows() -> None:
    assert pool_of(INSTRUMENT) == 20 * M


@settings(max_examples=200)
@given(
    st.dictionaries(
        st.text("ABCDEFGH", min_size=1, max_size=3),
        st.integers(1, 80_000_000_00),
        min_size=1,
        max_size=12,
    )
)
def test_allocations_never_exceed_the_cap_are_proportional_and_split_evenly(
    fen: dict[str, int],
) -> None:
    """QD-2…QD-4: at most 50% of each contract amount; the pool shared in proportion to the
    contract amounts; city and district exactly half each; the city within its 10,000,000."""
    contracts = {k: Decimal(v) / 100 for k, v in fen.items()}
    pool = pool_of(INSTRUMENT)
    assert pool is not None
    allocation = allocate_by_contract(
        contracts, Decimal("0.50"), INSTRUMENT.value("funding_split"), pool
    )
    allocations = allocation.allocations
    total = sum(allocations.values(), start=Decimal(0))
    assert total <= pool
    whole = sum(contracts.values(), start=Decimal(0))
    for k, amount in allocations.items():
        assert amount <= contracts[k] * Decimal("0.50")  # 不超过50%
        if allocation.scale < 1:
            assert abs(amount - pool * contracts[k] / whole) <= Decimal("0.02")
    if allocation.scale < 1:
        assert total == pool  # largest remainder: to the fen
    for s in allocation.shares.values():
        assert s["city"] == s["district"]  # 1:1, to the fen
    assert sum(s["city"] for s in allocation.shares.values()) <= 10 * M


def test_largest_remainder_adds_up_exactly() -> None:
    split = largest_remainder({"a": Decimal(1), "b": Decimal(1), "c": Decimal(1)}, Decimal("1.00"))
    assert sorted(split.values()) == [Decimal("0.33"), Decimal("0.33"), Decimal("0.34")]
    three = allocate_by_contract(
        {"a": Decimal("0.18")},
        Decimal("0.50"),
        [FundingShare("province", 1, None), FundingShare("city", 2, None)],
        None,
    )
    assert three.shares == {"a": {"province": Decimal("0.03"), "city": Decimal("0.06")}}


def test_a_listing_recorded_after_the_city_review_excludes_that_operator_by_a_re_review() -> None:
    """QD-7 「对列入青岛市安全生产黑名单、青岛市环境信用黑名单等失信惩戒对象目录…的，
    取消政策性资金扶持」:
    operator 2 is listed on 2024-03-10, after the city review. The allocation names it and
    asks for a re-review, the re-review records the listing, and operators 1 and 3 (24M and
    16M: 50% = 20M) share the 20,000,000 pool: 12,000,000 and 8,000,000."""
    app = qingdao()
    for n, amount in ((1, 24 * M), (2, 20 * M), (3, 16 * M)):
        app.execute(
            day(1, 22),
            SubmitOperatorClaim(
                programme=QD, operator=operator(n), audit_report="audit", lines=[line(n, amount)]
            ),
        )
        approve(app, n)
    re_review = CityReReview(
        programme=QD,
        operator=operator(2),
        ground="blacklist",
        assessment="复核意见 2024-03-18",
        reason="listed after the city review",
    )
    rejected("no-listing-recorded", app.execute, day(3, 18), re_review)
    app.execute(
        day(3, 10),
        RecordCreditListing(
            entity=operator(2),
            reference="QD-SAFE-2024-007",
            kind="safety-production-blacklist",
            source="青岛市应急管理局 安全生产黑名单",
            listed_from=date(2024, 3, 10),
            listed_until=None,
        ),
    )
    refusal = rejected(
        "re-review-required", app.execute, day(3, 20), AllocateOperatorSubsidy(programme=QD)
    )
    assert refusal.details["operator"] == operator(2)
    (reviewed,) = app.execute(day(3, 18), re_review)
    assert reviewed.listing == "QD-SAFE-2024-007"  # type: ignore[attr-defined]
    events = app.execute(day(3, 20), AllocateOperatorSubsidy(programme=QD))
    (allocated,) = [e for e in events if type(e).__qualname__ == "ClaimRound.Allocated"]
    assert allocated.allocations == {  # type: ignore[attr-defined]
        operator(1): 12 * M,
        operator(3): 8 * M,
    }
    payees = {e.payee for e in events if type(e).__qualname__ == "PaymentInstruction.Instructed"}  # type: ignore[attr-defined]
    assert payees == {operator(1), operator(3)}
    rejected("round-finalised", app.execute, day(3, 21), re_review)


def test_an_operator_listed_after_its_pre_review_cannot_pass_the_city_review() -> None:
    """QD-7: a listing recorded on 2024-02-20, between the pre-review (02-01) and the city
    review (03-05), refuses the pass; the city records the failure and the operator gets 0."""
    app = qingdao(operators=1)
    app.execute(
        day(1, 22),
        SubmitOperatorClaim(
            programme=QD, operator=operator(1), audit_report="audit", lines=[line(1, 4 * M)]
        ),
    )
    app.execute(
        day(2, 1),
        DistrictPreReview(
            programme=QD,
            operator=operator(1),
            outcome="pass",
            green_threshold_met=True,
            reason="ok",
        ),
    )
    app.execute(
        day(2, 20),
        RecordCreditListing(
            entity=operator(1),
            reference="ENV-2",
            kind="environmental-credit-blacklist",
            source="青岛市生态环境局",
            listed_from=date(2024, 2, 20),
            listed_until=None,
        ),
    )
    review = {"programme": QD, "operator": operator(1), "approved_amount": None}
    passing = CityReview(**review, outcome="pass", assessment="panel", reason="verified")
    rejected("credit-record-in-lookback", app.execute, day(3, 5), passing)
    failing = CityReview(**review, outcome="fail", assessment="panel", reason="listed (QD-7)")
    (reviewed,) = app.execute(day(3, 5), failing)
    assert reviewed.approved_eligible == 0  # type: ignore[attr-defined]

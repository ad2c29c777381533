"""Audit on SQLite and PostgreSQL: tamper evidence, as it stood, replay equals live, the pack."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.audit import AsOf, export_pack, history, rebuild_check, replay, verify_pack
from commands.wiring import Ledger, create_auditor_role, events_table, open_ledger
from ledger.errors import Rejected
from ledger.handlers.enforcement import DemandClawback, OpenCase, RecordFraudFinding
from ledger.handlers.finance import RecordSettlement
from ledger.handlers.inclusive import ClaimReimbursement, ExpireVouchers, Reimburse
from ledger.handlers.registration import RegisterApplicant
from projections import reports
from projections.chain import audit_chain, digest_of, extend, log_pages, verify
from tests.pgserver import PostgresServer
from tests.scenario import PROGRAMME, World, at

EVIDENCE = {"contract": "HT", "payment-proof": "P", "invoice": "FP", "service-proof": "U"}


def small_history(ledger: Ledger) -> World:
    world = World(ledger.app, applicants=4, suppliers=2)
    for n in range(4):
        voucher = world.issue(n)
        world.redeem(voucher, bill="3000.00", invoice=f"I-{n}")
    ledger.runner.catch_up()
    return world


# ---- tampering ---------------------------------------------------------------------------


class Tamper:
    """Changes stored rows behind the ledger's back, as someone with database access could."""

    def __init__(self, ledger: Ledger, db_url: str) -> None:
        self.sqlite = not db_url.startswith("postgresql")
        self.url = db_url
        self.table = events_table(ledger.app)

    def _sql(self, *statements: tuple[str, tuple[object, ...]]) -> None:
        if self.sqlite:
            with sqlite3.connect(self.url) as conn:
                for sql, params in statements:
                    conn.execute(sql.replace("%s", "?"), params)
        else:
            with psycopg.connect(self.url, autocommit=False) as conn:
                # A superuser can switch the append-only trigger off: the chain still tells.
                conn.execute(f"ALTER TABLE {self.table} DISABLE TRIGGER USER")
                for sql, params in statements:
                    conn.execute(sql, params)
                conn.execute(f"ALTER TABLE {self.table} ENABLE TRIGGER USER")

    @property
    def _table(self) -> str:
        return "stored_events" if self.sqlite else self.table

    @property
    def _position(self) -> str:
        return "rowid" if self.sqlite else "notification_id"

    def change(self, k: int) -> None:
        self._sql(
            (
                f"UPDATE {self._table} SET state = %s WHERE {self._position} = %s",
                (b'{"forged":true}', k),
            )
        )

    def delete(self, k: int) -> None:
        self._sql((f"DELETE FROM {self._table} WHERE {self._position} = %s", (k,)))

    def insert(self, k: int) -> None:
        """Renumber k… up by one and slip a forged event in at k."""
        p, t = self._position, self._table
        originator = uuid.uuid4().hex if self.sqlite else str(uuid.uuid4())
        self._sql(
            (f"UPDATE {t} SET {p} = {p} + 1000000 WHERE {p} >= %s", (k,)),
            (f"UPDATE {t} SET {p} = {p} - 999999 WHERE {p} >= 1000000", ()),
            (
                f"INSERT INTO {t} (originator_id, originator_version, topic, state, {p}) "
                "VALUES (%s, 1, %s, %s, %s)",
                (originator, "forged:Event", b"{}", k),
            ),
        )

    def reorder(self, k: int) -> None:
        p, t = self._position, self._table
        self._sql(
            (f"UPDATE {t} SET {p} = 9999999 WHERE {p} = %s", (k,)),
            (f"UPDATE {t} SET {p} = %s WHERE {p} = %s", (k, k + 1)),
            (f"UPDATE {t} SET {p} = %s WHERE {p} = 9999999", (k + 1,)),
        )


@pytest.mark.parametrize("kind", ["change", "delete", "insert", "reorder"])
def test_each_kind_of_tampering_is_detected_at_its_position(
    ledger: Ledger, db_url: str, kind: str
) -> None:
    small_history(ledger)
    kept = digest_of(ledger.app.recorder)
    clean = verify(ledger.app.recorder, ledger.store.engine, kept)
    assert clean.ok and clean.events == kept.events and clean.head == (kept.position, kept.link)
    target = kept.position // 2
    getattr(Tamper(ledger, db_url), kind)(target)
    verdict = verify(ledger.app.recorder, ledger.store.engine, kept)
    assert not verdict.ok
    assert verdict.first_bad_position == target, verdict.problems


def test_a_kept_digest_catches_what_a_rewritten_chain_hides(ledger: Ledger, db_url: str) -> None:
    small_history(ledger)
    kept = digest_of(ledger.app.recorder)
    Tamper(ledger, db_url).change(5)
    # The attacker also recomputes the stored chain from the altered log.
    with ledger.store.engine.begin() as conn:
        conn.execute(audit_chain.delete())
        for page in log_pages(ledger.app.recorder):
            extend(conn, page)
    assert verify(ledger.app.recorder, ledger.store.engine, None).ok
    verdict = verify(ledger.app.recorder, ledger.store.engine, kept)
    assert not verdict.ok and verdict.first_bad_position == kept.position


def test_postgres_refuses_update_and_delete_of_events(pg_server: PostgresServer) -> None:
    # On SQLite the file's permissions and the hash chain are the protection.
    db_url = pg_server.create_database()
    ledger = open_ledger(db_url)
    try:
        small_history(ledger)
    finally:
        ledger.close()
    table = "voucherledger_events"
    for statement in (
        f"UPDATE {table} SET topic = 'x'",
        f"DELETE FROM {table}",
        f"TRUNCATE {table}",
    ):
        with (
            psycopg.connect(db_url) as conn,
            pytest.raises(psycopg.errors.RaiseException, match="append-only"),
        ):
            conn.execute(statement)


def test_the_auditor_role_reads_everything_and_writes_nothing(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    url = pg_server.create_database()
    ledger = open_ledger(url)
    try:
        small_history(ledger)
        create_auditor_role(ledger, "auditor_jane")
    finally:
        ledger.close()
    auditor_url = url.replace("postgresql://postgres@", "postgresql://auditor_jane@")
    with psycopg.connect(auditor_url) as conn:
        tables = [
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        assert "voucherledger_events" in tables and "rm_vouchers" in tables
        for t in tables:
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()
    for statement in (
        "INSERT INTO rm_vouchers (voucher_id) VALUES ('x')",
        "UPDATE voucherledger_events SET topic = 'x'",
        "DELETE FROM rm_tracking",
        "CREATE TABLE mine (x int)",
    ):
        with (
            psycopg.connect(auditor_url) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute(statement)
    # The auditor's commands run read-only.
    audit = open_ledger(auditor_url, read_only=True)
    try:
        assert verify(audit.app.recorder, audit.store.engine, None).ok
        assert rebuild_check(audit, None) == []
        with pytest.raises(Exception, match="permission denied"):
            audit.app.execute(
                at(),
                RegisterApplicant(
                    credit_code="91510100MA61R0BQ4E", name="X", kind="enterprise", city="Chengdu"
                ),
            )
    finally:
        audit.close()


# ---- as it stood ---------------------------------------------------------------------------


def test_as_of_a_position_before_a_clawback_shows_the_figures_of_then(ledger: Ledger) -> None:
    world = small_history(ledger)
    supplier = world.suppliers[0]
    ledger.app.execute(
        at(4, 1), ClaimReimbursement(supplier=supplier, invoice_number="I-0", evidence=EVIDENCE)
    )
    payment = ledger.app.execute(at(4, 2), Reimburse(supplier=supplier, invoice_number="I-0"))[
        1
    ].reference  # type: ignore[attr-defined]
    ledger.app.execute(
        at(4, 3),
        RecordSettlement(
            payment=payment,
            amount=Decimal("1500.00"),
            bank_reference="B-1",
            value_date=date(2025, 4, 3),
        ),
    )
    ledger.app.execute(
        at(5, 1), OpenCase(case="C-1", programme=PROGRAMME, entity=supplier, description="fake")
    )
    ledger.app.execute(
        at(5, 2),
        RecordFraudFinding(
            case="C-1", finding_date=date(2025, 5, 2), finding="forged", evidence=["E"]
        ),
    )
    before_clawback = ledger.app.recorder.max_notification_id()
    ledger.app.execute(
        at(5, 3),
        DemandClawback(
            case="C-1",
            amount=Decimal("1500.00"),
            payments=[payment],
            vouchers=[],
            due_date=date(2025, 6, 30),
        ),
    )
    ledger.runner.catch_up()
    day = date(2025, 7, 1)
    (live,) = reports.receivables_ledger(ledger.store, day).rows
    assert live["demanded"] == Decimal("1500.00") and live["days_overdue"] == 1
    then = replay(ledger, AsOf(position=before_clawback))
    (past,) = reports.receivables_ledger(then, day).rows
    assert past["demanded"] == Decimal("0.00") and past["ageing"] == "settled"
    # The live read models were not touched by the replay.
    assert reports.receivables_ledger(ledger.store, day).rows == [live]


def test_as_of_a_recorded_time(ledger: Ledger) -> None:
    small_history(ledger)
    events = [
        ledger.app.mapper.to_domain_event(n) for p in log_pages(ledger.app.recorder) for n in p
    ]
    cut = events[len(events) // 2].timestamp
    # The replay runs in log order up to the first event recorded after the cut.
    expected = next(n for n, e in enumerate(events) if e.timestamp > cut)
    then = replay(ledger, AsOf(recorded=cut))
    assert sum(len(rows) for rows in then.dump().values()) > 0
    assert AsOf.parse(cut.isoformat()) == AsOf(recorded=cut)
    assert AsOf.parse("42") == AsOf(position=42)
    with then.engine.connect() as conn:
        from projections.store import tracking

        positions = [r.position for r in conn.execute(tracking.select())]
    assert max(positions) == expected  # positions are 1-based and dense here


def test_history_of_a_voucher_follows_its_redemptions_to_payment(ledger: Ledger) -> None:
    world = small_history(ledger)
    ledger.app.execute(
        at(4, 1),
        ClaimReimbursement(supplier=world.suppliers[0], invoice_number="I-1", evidence=EVIDENCE),
    )
    ledger.app.execute(at(4, 2), Reimburse(supplier=world.suppliers[0], invoice_number="I-1"))
    names = [r["event"] for r in history(ledger, "CD-2025-INC-0002").rows]
    assert names[:2] == ["Programme.VoucherAllotted", "Voucher.Issued"]
    assert "Voucher.Redeemed" in names and "Redemption.ReimbursementClaimed" in names
    assert "PaymentInstruction.Instructed" in names
    assert not any(
        r["event"] == "Voucher.Issued" and "0001" in r["amounts"]
        for r in history(ledger, "CD-2025-INC-0002").rows
    )


# ---- the audit pack ------------------------------------------------------------------------


def test_an_exported_pack_verifies_and_one_changed_byte_does_not(
    ledger: Ledger, tmp_path: Path
) -> None:
    small_history(ledger)
    pack = tmp_path / "pack"
    manifest = export_pack(ledger, pack)
    assert manifest["head"]["hash"] == digest_of(ledger.app.recorder).link
    assert verify_pack(pack) == []
    for name in ("events.jsonl", "rm_vouchers.csv"):
        target = pack / name
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0x01
        target.write_bytes(bytes(data))
        problems = verify_pack(pack)
        assert any(name in p for p in problems), problems
        data[len(data) // 2] ^= 0x01
        target.write_bytes(bytes(data))
    assert verify_pack(pack) == []


# ---- replay equals live, for any history ----------------------------------------------------

STEP = st.tuples(
    st.sampled_from(["apply", "redeem", "claim", "reimburse", "expire"]),
    st.integers(0, 5),
    st.integers(1, 20000),
)


def _replay_equals_live(url: str, steps: list[tuple[str, int, int]]) -> None:
    ledger = open_ledger(url)
    try:
        run_steps(ledger, steps)
        ledger.runner.catch_up()
        assert rebuild_check(ledger, None) == []
    finally:
        ledger.close()


@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, max_size=25))
def test_replay_equals_live_after_any_history_on_sqlite(
    steps: list[tuple[str, int, int]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    _replay_equals_live(str(tmp_path_factory.mktemp("h") / "ledger.db"), steps)


@pytest.mark.postgres
@settings(max_examples=5, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, max_size=25))
def test_replay_equals_live_after_any_history_on_postgres(
    steps: list[tuple[str, int, int]], pg_server: PostgresServer
) -> None:
    _replay_equals_live(pg_server.create_database(), steps)


def run_steps(ledger: Ledger, steps: list[tuple[str, int, int]]) -> None:
    world = World(ledger.app, applicants=6, suppliers=2)
    issued: list[str] = []
    actions: dict[str, Callable[[int, int, int], object]] = {
        "apply": lambda n, who, v: issued.append(world.issue(who)),
        "redeem": lambda n, who, v: world.redeem(
            issued[who % len(issued)], bill=f"{v}.00", invoice=f"I{n}", supplier=who % 2
        ),
        "claim": lambda n, who, v: ledger.app.execute(
            at(4, 1),
            ClaimReimbursement(
                supplier=world.suppliers[who % 2],
                invoice_number=f"I{v % max(n, 1)}",
                evidence=EVIDENCE,
            ),
        ),
        "reimburse": lambda n, who, v: ledger.app.execute(
            at(4, 2),
            Reimburse(supplier=world.suppliers[who % 2], invoice_number=f"I{v % max(n, 1)}"),
        ),
        "expire": lambda n, who, v: ledger.app.execute(
            at(1, 2, year=2026), ExpireVouchers(programme=PROGRAMME)
        ),
    }
    for n, (op, who, value) in enumerate(steps):
        try:
            if op != "apply" and not issued:
                continue
            actions[op](n, who, value)
        except Rejected:
            pass


def test_the_writer_role_runs_commands_but_cannot_change_events_or_schema(
    pg_server: PostgresServer,
) -> None:
    from commands.wiring import create_writer_role

    url = pg_server.create_database()
    ledger = open_ledger(url)
    try:
        small_history(ledger)
        create_writer_role(ledger, "clerk_li")
    finally:
        ledger.close()
    writer_url = url.replace("postgresql://postgres@", "postgresql://clerk_li@")
    writer = open_ledger(writer_url)
    try:
        world = World.__new__(World)
        writer.app.execute(
            at(1, 4),
            RegisterApplicant(
                credit_code="91510100MA61R0BQ4E", name="新单位", kind="enterprise", city="Chengdu"
            ),
        )
        writer.runner.catch_up()
        assert world is not None
    finally:
        writer.close()
    for statement in (
        "UPDATE voucherledger_events SET topic = 'x'",
        "DELETE FROM voucherledger_events",
        "DROP TABLE rm_vouchers",
        "CREATE TABLE mine (x int)",
    ):
        with (
            psycopg.connect(writer_url) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute(statement)

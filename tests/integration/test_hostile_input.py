"""Hostile input and secrets, written as attacks (issue 21, items 4 and 9).

* Control, invisible and bidirectional characters are refused at the boundary — through the
  JSON Lines reader and through the command line — with a named error (exit 2), and nothing is
  stored; a bank statement holding one is refused whole, naming the line.
* An event a read model cannot apply (a NUL in a name, which PostgreSQL's text columns cannot
  hold) stops the catch-up with :class:`ReadModelFailed` naming the log position, its page
  rolled back, and the ledger still takes commands.
* Secrets: a database URL holding a password is refused; the role-creation SQL never shows the
  password; a refused login is named at once.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from commands.batch import parse_line
from commands.cli import main
from commands.wiring import (
    AuthenticationFailed,
    Ledger,
    check_login,
    create_writer_role,
    open_ledger,
)
from ledger.errors import InvalidInput
from ledger.parsers import text
from ledger.statements import read_statement
from projections.runner import ReadModelFailed
from tests.pgserver import PostgresServer
from tests.scenario import PROGRAMME, World, applicant_code, at

HOSTILE = {
    "NUL": "\x00",
    "escape (terminal colours)": "\x1b[31m",
    "line feed": "\n",
    "DEL": "\x7f",
    "C1 next line": "\x85",
    "C1 CSI": "\x9b",
    "lone surrogate": "\ud800",
    "zero-width space": "\u200b",
    "left-to-right mark": "\u200e",
    "right-to-left override": "\u202e",
    "left-to-right isolate": "\u2066",
    "pop directional isolate": "\u2069",
    "line separator": "\u2028",
    "word joiner": "\u2060",
    "byte-order mark inside": "\ufeff",
    "Arabic letter mark": "\u061c",
}
CASES = [pytest.param(v, id=k) for k, v in HOSTILE.items()]
AT = "2025-03-01T09:00:00+08:00"
CODE = applicant_code(1)


def _now() -> datetime:
    return datetime.now(UTC)


def _line(**fields: object) -> str:
    command = {
        "command": "register-applicant",
        "credit_code": CODE,
        "name": "成都示例科技",
        "kind": "enterprise",
        "city": "Chengdu",
        "at": AT,
        **fields,
    }
    return json.dumps(command)  # ASCII escapes: a lone surrogate survives as \ud800


@pytest.mark.parametrize("bad", CASES)
@pytest.mark.parametrize("field", ["name", "city", "command_id"])
def test_a_control_or_invisible_character_is_refused_by_the_batch_reader(
    bad: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_line(_line(**{field: f"成都{bad}科技"}), identity="test", now=_now)
    assert refused.value.code == "invalid-value"
    assert refused.value.field == field
    assert f"U+{ord(bad[0]):04X}" in refused.value.message


@pytest.mark.parametrize("bad", CASES)
def test_the_text_parser_refuses_it_anywhere_in_the_value(bad: str) -> None:
    for value in (bad + "x", "x" + bad, "x" + bad + "y"):
        with pytest.raises(InvalidInput):
            text()(value, "name")


def test_ordinary_chinese_and_latin_names_pass() -> None:
    for value in ("成都示例科技有限公司", "Café Zürich (成都) Ltd.", "Ａ＆Ｂ・科技"):
        assert text()(value, "name") == value


def _count(db: Path) -> int:
    ledger = open_ledger(str(db))
    try:
        return int(ledger.app.recorder.max_notification_id() or 0)
    finally:
        ledger.close()


@pytest.fixture
def opened(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    db = tmp_path / "ledger.db"
    code = main(
        [
            "--db",
            str(db),
            "open-programme",
            "--policy",
            "chengdu",
            "--year",
            "2025",
            "--at",
            "2025-01-02T09:00:00+08:00",
        ]
    )
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    return db


@pytest.mark.parametrize("bad", CASES)
def test_a_control_or_invisible_character_is_refused_on_the_command_line(
    bad: str, opened: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _count(opened)
    code = main(
        [
            "--db",
            str(opened),
            "register-applicant",
            "--credit-code",
            CODE,
            "--name",
            f"成都{bad}科技",
            "--kind",
            "enterprise",
            "--city",
            "Chengdu",
            "--at",
            AT,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2, err
    assert "invalid input (invalid-value): name:" in err and f"U+{ord(bad[0]):04X}" in err
    assert _count(opened) == before


def _statement(tmp_path: Path, cell: str) -> Path:
    path = tmp_path / "statement.csv"
    path.write_bytes(
        (
            "交易日期,对方户名,对方账号,金额,摘要\n"
            "2025-04-18,成都智算中心,6222001,4000.00,算力券补贴\n"
            f"2025-04-19,{cell},6222999,12.00,转账\n"
        ).encode()
    )
    return path


# A lone surrogate cannot be written to a file at all (a file holding one is not UTF-8, which
# the reader refuses by its own test); every other character goes into the statement.
@pytest.mark.parametrize("bad", [c for c in CASES if c.id != "lone surrogate"])
def test_a_statement_with_a_control_character_is_refused_whole_naming_the_line(bad: str) -> None:
    data = (
        "交易日期,对方户名,金额\n2025-04-18,成都智算中心,4000.00\n"
        f'2025-04-19,"不认识{bad}的公司",12.00\n'
    ).encode()
    with pytest.raises(InvalidInput) as refused:
        read_statement(data)
    assert "nothing imported" in refused.value.message
    assert f"line 3, column 2: U+{ord(bad[0]):04X}" in refused.value.message


def test_padding_around_a_statement_cell_is_trimmed_not_refused() -> None:
    data = (
        "交易日期,对方户名,对方账号,金额\n2025-04-18,成都智算中心,\t6222001\t,4000.00\r\n".encode()
    )
    _, (line,) = read_statement(data)
    assert line.counterparty_account == "6222001"


def test_a_statement_with_a_nul_is_refused_by_the_command_and_nothing_is_stored(
    opened: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _count(opened)
    statement = _statement(tmp_path, "不认识的\x00公司")
    code = main(["--db", str(opened), "finance", "import-statement", str(statement), "--at", AT])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "statement refused, nothing imported: line 3, column 2: U+0000" in err
    assert _count(opened) == before


# ---- an event no read model can apply -----------------------------------------------------


def test_an_event_a_read_model_cannot_apply_stops_it_by_name_and_the_ledger_stays_writable(
    ledger: Ledger, db_url: str
) -> None:
    """The original attack: a NUL inside a stored event (written past the boundary, as by an
    old version or a direct writer). PostgreSQL's text columns cannot hold it; SQLite's can."""
    world = World(ledger.app, applicants=1, suppliers=1)
    ledger.runner.catch_up()
    before_rows, before_positions = ledger.store.dump(), ledger.store.positions()
    from ledger.handlers.registration import RegisterApplicant

    ledger.app.execute(
        at(3, 2),
        RegisterApplicant(
            credit_code=applicant_code(99), name="毒\x00名", kind="enterprise", city="Chengdu"
        ),
    )
    poisoned = ledger.app.recorder.max_notification_id()
    if not db_url.startswith("postgresql"):
        ledger.runner.catch_up()  # SQLite stores the NUL: nothing fails
        return
    with pytest.raises(ReadModelFailed) as stopped:
        ledger.runner.catch_up()
    assert stopped.value.position == poisoned
    assert f"log position {poisoned}" in str(stopped.value)
    assert "nothing of positions" in str(stopped.value)
    # The page was rolled back whole: no rows, no positions moved.
    assert ledger.store.dump() == before_rows
    assert ledger.store.positions() == before_positions
    # The ledger still takes commands (the log is not the read models).
    world.issue(0)
    assert ledger.app.recorder.max_notification_id() > poisoned
    with pytest.raises(ReadModelFailed):
        ledger.runner.catch_up()
    assert ledger.app.programme(PROGRAMME).year == 2025


def test_a_read_model_failure_names_the_event_within_a_page(ledger: Ledger) -> None:
    World(ledger.app, applicants=2, suppliers=1).issue(0)
    positions = ledger.store.positions()
    issued = next(
        n.id
        for n in ledger.app.recorder.select_notifications(1, 10_000)
        if n.topic.endswith("Voucher.Issued")
    )

    class Exploding:
        name = "exploding"
        tables = ()
        topics = frozenset({"ledger.voucher:Voucher.Issued"})

        def apply(self, page, events):  # type: ignore[no-untyped-def]
            raise ValueError("cannot")

    ledger.store.read_models.append(Exploding())
    try:
        with pytest.raises(ReadModelFailed) as stopped:
            ledger.runner.catch_up()
    finally:
        ledger.store.read_models.pop()
    assert stopped.value.read_model == "exploding" and stopped.value.position == issued
    assert "ValueError: cannot" in str(stopped.value)
    assert ledger.store.positions() == positions


# ---- secrets --------------------------------------------------------------------------------


def test_a_database_url_with_a_password_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--db", "postgresql://u:s3cr%27et@127.0.0.1:1/db", "balances"])
    err = capsys.readouterr().err
    assert code == 2
    assert "invalid input (invalid-value)" in err and "VOUCHER_LEDGER_DB_PASSWORD" in err
    assert "s3cr" not in err


def test_a_refused_login_is_named_as_such() -> None:
    """The message mapping, at function level (the suite's server trusts every login; the
    test below makes one login need a password)."""
    error = psycopg.OperationalError(
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
        'password authentication failed for user "clerk"'
    )
    with pytest.raises(AuthenticationFailed, match="authentication failed for user 'clerk'"):
        check_login(error, "clerk", "PostgreSQL clerk@127.0.0.1:5432/ledger")
    check_login(psycopg.OperationalError("connection refused"), "clerk", "x")  # not a login


@pytest.fixture
def password_login(pg_server: PostgresServer) -> Iterator[tuple[str, str]]:
    """A database and a login that must give its password (SCRAM): a line for that login
    alone put first in the throwaway server's pg_hba.conf, taken out again afterwards."""
    login = "pw_" + uuid.uuid4().hex[:10]
    url = pg_server.create_database()
    with psycopg.connect(pg_server.admin_url(), autocommit=True) as conn:
        hba = Path(str(conn.execute("SHOW hba_file").fetchone()[0]))  # type: ignore[index]
        original = hba.read_text()
        hba.write_text(f"host all {login} 127.0.0.1/32 scram-sha-256\n" + original)
        conn.execute("SELECT pg_reload_conf()")
    try:
        yield url, login
    finally:
        hba.write_text(original)
        with psycopg.connect(pg_server.admin_url(), autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")


def test_role_sql_never_shows_the_password_and_a_wrong_one_is_named_at_once(
    password_login: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, login = password_login
    password = "it's$$a'; DROP ROLE x; --\"pw"
    monkeypatch.setenv("VOUCHER_LEDGER_NEW_ROLE_PASSWORD", password)
    owner = open_ledger(url)
    try:
        shown = "\n".join(create_writer_role(owner, login))
    finally:
        owner.close()
    assert "PASSWORD '<from VOUCHER_LEDGER_NEW_ROLE_PASSWORD>'" in shown
    for piece in (password, "it's", "DROP ROLE", "***", "SCRAM"):
        assert piece not in shown
    login_url = url.replace("postgresql://postgres@", f"postgresql://{login}@")
    # The right password opens the ledger (the server checks it: pg_hba asks for SCRAM).
    deadline = time.monotonic() + 10
    monkeypatch.setenv("VOUCHER_LEDGER_DB_PASSWORD", password)
    while True:
        try:
            opened = open_ledger(login_url)
            break
        except AuthenticationFailed:  # pragma: no cover - the reload has not landed yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    opened.close()
    # A wrong one is named at once: no pool time-out, exit 3, the user, never the password.
    monkeypatch.setenv("VOUCHER_LEDGER_DB_PASSWORD", "wrong-Pa55")
    started = time.monotonic()
    code = main(["--db", login_url, "balances"])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 3, err
    assert f"authentication failed for user '{login}'" in err
    assert "wrong-Pa55" not in err and password not in err
    assert elapsed < 3, elapsed

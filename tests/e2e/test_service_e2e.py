"""``voucher-ledger serve`` as an operator starts it: a real server process on a free loopback
port (on PostgreSQL with two worker processes), driven over HTTP — every documented command
once, an idempotent repeat, a refusal by name, read-your-write, a verify job to completion,
and a graceful stop."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from commands.wiring import open_ledger
from tests.integration.test_documented_examples import _identity, example_lines
from tests.scenario import PROGRAMME, World, at

CLI = str(Path(sys.executable).with_name("voucher-ledger"))
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _token(db: str, identity: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [CLI, "admin", "issue-token", "--db", db, "--identity", identity],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    return done.stdout.splitlines()[1]


class Server:
    def __init__(
        self, base: str, tokens: dict[str, str], process: subprocess.Popen[str], log: Path
    ) -> None:
        self.base, self.tokens, self.process, self.log = base, tokens, process, log

    def client(self, who: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {self.tokens[who]}"}, timeout=60
        )


@contextmanager
def running(db_url: str, tmp_path: Path, workers: int, *identities: str) -> Iterator[Server]:
    """`voucher-ledger serve` on a free loopback port, with a token for each identity."""
    env = {**os.environ, "VOUCHER_LEDGER_POLL_SECONDS": "0.1"}
    tokens = {who: _token(db_url, who, env) for who in identities}
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    args = [CLI, "serve", "--db", db_url, "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [*args, "--workers", str(workers)],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            time.sleep(0.1)
        else:
            pytest.fail("the server did not become ready")
        yield Server(base, tokens, process, tmp_path / "server.log")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    workers = 2 if db_url.startswith("postgresql") else 1
    with running(db_url, tmp_path, workers, "docs", "wang.finance") as started:
        yield started


def _over_http(line: dict[str, Any]) -> dict[str, Any]:
    """A file-shaped field is sent inline over HTTP, never as a path on the server."""
    if line["command"] == "import-statement":
        path = ROOT / line["file"]
        content = base64.b64encode(path.read_bytes()).decode()
        return {**line, "file": {"filename": path.name, "content_base64": content}}
    return line


def test_every_documented_command_over_http(server: Server, tmp_path: Path) -> None:
    statuses: list[tuple[str, int, str | None]] = []
    last = 0
    clients = {who: server.client(who) for who in server.tokens}
    for number, line in enumerate(example_lines(), start=1):
        body = {k: v for k, v in _over_http(line).items() if k != "command"}
        answer = clients[_identity(line)].post(
            f"/v1/commands/{line['command']}",
            json=body,
            headers={"Idempotency-Key": f"e2e-{number}"},
        )
        code = answer.json().get("code") if answer.status_code != 200 else None
        statuses.append((line["command"], answer.status_code, code))
        if answer.status_code == 200 and answer.json()["position"]:
            last = max(last, answer.json()["position"])
    refused = [s for s in statuses if s[1] != 200]
    # As in the batch of the same examples: only the exception that no reconciliation made.
    assert refused == [("resolve-exception", 422, "unknown-exception")]
    docs = clients["docs"]
    # An idempotent repeat: the original result, nothing stored again.
    lines = example_lines()
    first = lines[0]
    repeat = docs.post(
        f"/v1/commands/{first['command']}",
        json={k: v for k, v in first.items() if k != "command"},
        headers={"Idempotency-Key": "e2e-1"},
    )
    assert repeat.status_code == 200 and repeat.json()["positions"]
    assert docs.get("/v1/position").json()["head"] >= last
    # Read your own write: the last command's position, reflected.
    payments = docs.get("/v1/reports/payments", params={"min_position": last})
    assert payments.status_code == 200, payments.text
    assert int(payments.headers["x-ledger-position"]) >= last and payments.json()["rows"]
    csv = docs.get("/v1/reports/payments", params={"format": "csv"})
    assert csv.text.startswith("\ufeff")
    # The OpenAPI document at its documented path.
    assert "/v1/commands/redeem" in docs.get("/v1/openapi.json").json()["paths"]
    # A verify job to completion.
    started = docs.post("/v1/audit/verify")
    assert started.status_code == 202
    job = started.json()
    for _ in range(600):
        if job["state"] != "running":
            break
        time.sleep(0.1)
        polled = docs.get(started.headers["location"])  # any worker answers
        assert polled.status_code == 200, polled.text
        job = polled.json()
    assert job["state"] == "done" and job["result"]["ok"], job
    # Without a token: nothing.
    assert httpx.get(f"{server.base}/v1/reports/payments").status_code == 401
    # A graceful stop: uvicorn finishes in-flight requests, runs the shutdown (worker
    # stopped, ledger closed), then exits by the signal it was sent.
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=60) in (0, -signal.SIGTERM)
    log = server.log.read_text()
    assert "Application shutdown complete" in log
    assert server.tokens["docs"] not in log  # the access log holds no secret
    assert '"path": "/v1/commands/redeem"' in log


# ---- the race tests of tests/integration/test_races.py, through HTTP ------------------------

CLIENTS = 8


def _apply_over_http(server: Server, applicants: list[str]) -> list[str]:
    with server.client("clerk") as client:
        outcomes = []
        for code in applicants:
            answer = client.post(
                "/v1/commands/apply-inclusive",
                json={"programme": PROGRAMME, "applicant": code, "at": at(2, 1).at.isoformat()},
            )
            if answer.status_code == 200:
                outcomes.append(next(e["number"] for e in answer.json()["events"] if "number" in e))
            else:
                assert answer.status_code == 422, answer.text
                outcomes.append(answer.json()["code"])
        return outcomes


def _race(server: Server, shares: list[list[str]]) -> Counter[str]:
    with ThreadPoolExecutor(len(shares)) as pool:
        results = pool.map(lambda share: _apply_over_http(server, share), shares)
    return Counter(o for share in results for o in share)


@pytest.mark.postgres
def test_racing_clients_through_three_workers_never_issue_voucher_301(
    pg_server: Any, tmp_path: Path
) -> None:
    db_url = pg_server.create_database()
    ledger = open_ledger(db_url)
    world = World(ledger.app, applicants=341, suppliers=1)
    ledger.close()
    last, many = world.applicants[-1], world.applicants[:-1]
    with running(db_url, tmp_path, 3, "clerk") as server:
        # One unit from every client at once: one voucher.
        one = _race(server, [[last]] * CLIENTS)
        assert one["already-holds-voucher-this-year"] == CLIENTS - 1
        assert [o for o in one if o.startswith("CD-")] == [f"{PROGRAMME}-INC-0001"]
        # 340 more for the 299 places left: never voucher 301.
        outcomes = _race(server, [many[i::CLIENTS] for i in range(CLIENTS)])
        issued = sorted(o for o in outcomes if o.startswith("CD-"))
        assert issued == [f"{PROGRAMME}-INC-{n:04d}" for n in range(2, 301)]
        assert outcomes["quota-exhausted"] == 41
        assert set(outcomes) - set(issued) == {"quota-exhausted"}, outcomes
        # The read models, kept by three workers' projection workers, agree.
        with server.client("clerk") as client:
            head = client.get("/v1/position").json()["head"]
            balances = client.get(
                "/v1/reports/balances", params={"programme": PROGRAMME, "min_position": head}
            ).json()
            assert len(balances["rows"]) == 300
            assert len({row["holder"] for row in balances["rows"]}) == 300
            quota = client.get("/v1/reports/quota", params={"programme": PROGRAMME}).json()
            assert [row["issued"] for row in quota["rows"] if row["instrument"] == "inclusive"] == [
                300
            ]

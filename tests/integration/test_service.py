"""The HTTP service in-process (FastAPI's test client), on SQLite and on PostgreSQL: tokens
and roles, commands with idempotency, batches, every report, read-your-write, audit."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import text

from commands.report_catalog import REPORTS
from commands.service import create_app
from commands.service.server import issue_token
from commands.wiring import open_ledger
from ledger.vocabulary import DECLARATIONS

EX = {name: {"command": name, **d.example} for name, d in DECLARATIONS.items()}
APPLICANT = EX["register-applicant"]["credit_code"]
IDENTITIES = {
    "boss": "administrator",
    "li.clerk": "clerk",
    "wang.finance": "finance",
    "zhao.audit": "auditor",
}


class Api:
    def __init__(self, client: TestClient, tokens: dict[str, str], db_url: str) -> None:
        self.client = client
        self.tokens = tokens
        self.db_url = db_url

    def auth(self, who: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}", **extra}

    def command(self, who: str, line: dict[str, Any], key: str | None = None) -> Any:
        headers = self.auth(who, **({"Idempotency-Key": key} if key else {}))
        name = line["command"]
        body = {k: v for k, v in line.items() if k != "command"}
        return self.client.post(f"/v1/commands/{name}", json=body, headers=headers)

    def get(self, who: str, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.auth(who))


def _token(db_url: str, identity: str) -> str:
    out = io.StringIO()
    issue_token(db_url, "setup", for_identity=identity, token_id=None, label="test", out=out)
    return out.getvalue().splitlines()[1]


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    tokens = {who: _token(db_url, who) for who in IDENTITIES}
    app = create_app(lambda: open_ledger(db_url), poll_interval=0.05)
    with TestClient(app) as client:
        made = Api(client, tokens, db_url)
        # The first grant makes the administrator; then each identity its role.
        for who, role in IDENTITIES.items():
            line = {"command": "grant-role", "identity": who, "role": role}
            assert made.command("boss", line).status_code == 200
        yield made


def _setup_programme(api: Api) -> int:
    for name in ("open-programme", "register-supplier", "publish-supplier-list"):
        assert api.command("li.clerk", EX[name]).status_code == 200, name
    result = api.command("li.clerk", EX["register-applicant"], key="reg-1")
    assert result.status_code == 200, result.text
    return int(result.json()["position"])


def test_no_path_but_health_answers_without_a_valid_token(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"ok": True}
    assert api.client.get("/readyz").status_code in (200, 503)
    routes = [r for r in api.client.app.routes if isinstance(r, APIRoute)]  # type: ignore[attr-defined]
    checked = 0
    for route in routes:
        if route.path in ("/healthz", "/readyz"):
            continue
        path = route.path.replace("{name}", "balances").replace("{", "").replace("}", "")
        for method in route.methods:
            for headers in ({}, {"Authorization": "Bearer vlt_nope_nope"}, {"Authorization": "x"}):
                answer = api.client.request(method, path, headers=headers)
                assert answer.status_code == 401, (method, path, answer.text)
                assert answer.headers["content-type"] == "application/problem+json"
                assert answer.json()["code"] == "not-authenticated"
                assert answer.headers["www-authenticate"] == "Bearer"
                checked += 1
    assert checked == 3 * sum(len(r.methods) for r in routes if not r.path.endswith("z"))
    assert {"/v1/commands/{name}", "/v1/batch", "/v1/reports/{name}", "/v1/audit/pack"} <= {
        r.path for r in routes
    }


def test_a_token_is_kept_only_as_its_digest_and_revoking_it_locks_it_out(api: Api) -> None:
    made = api.client.post(
        "/v1/tokens", json={"identity": "li.clerk", "label": "desk"}, headers=api.auth("boss")
    )
    assert made.status_code == 200, made.text
    token, token_id = made.json()["token"], made.json()["token_id"]
    assert api.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).json() == {
        "identity": "li.clerk",
        "token_id": token_id,
        "roles": [["clerk", "*"]],
    }
    ledger = open_ledger(api.db_url)
    try:
        table = getattr(ledger.app.recorder, "events_table_name", "stored_events")
        with ledger.store.engine.connect() as conn:
            states = b"".join(bytes(s) for (s,) in conn.execute(text(f"SELECT state FROM {table}")))
    finally:
        ledger.close()
    assert token.encode() not in states
    assert token.split("_")[-1].encode() not in states
    assert made.json()["events"][0]["token_digest"].encode() in states
    # Only an administrator may issue one.
    refused = api.client.post(
        "/v1/tokens", json={"identity": "li.clerk"}, headers=api.auth("li.clerk")
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "not-permitted")
    revoked = api.client.delete(f"/v1/tokens/{token_id}?reason=lost", headers=api.auth("boss"))
    assert revoked.status_code == 200, revoked.text
    after = api.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert (after.status_code, after.json()["code"]) == (401, "not-authenticated")


def test_roles_come_from_the_role_table(api: Api) -> None:
    _setup_programme(api)
    # An auditor reads and verifies, never writes.
    assert api.get("zhao.audit", "/v1/reports/balances").status_code == 200
    verify = api.client.post("/v1/audit/verify", headers=api.auth("zhao.audit"))
    assert verify.status_code == 202
    written = api.command("zhao.audit", EX["apply-inclusive"])
    assert (written.status_code, written.json()["code"]) == (403, "not-permitted")
    # The token's identity is the actor; acting on someone's behalf is an administrator's.
    behalf = api.command("li.clerk", {**EX["apply-inclusive"], "actor": "wang.finance"})
    assert (behalf.status_code, behalf.json()["code"]) == (403, "not-permitted")
    issued = api.command("li.clerk", EX["apply-inclusive"])
    assert issued.status_code == 200, issued.text
    assert {e["actor"] for e in issued.json()["events"]} == {"li.clerk"}
    # An identity with no role may not read.
    stranger = api.client.post(
        "/v1/tokens", json={"identity": "nobody"}, headers=api.auth("boss")
    ).json()["token"]
    answer = api.client.get("/v1/reports/balances", headers={"Authorization": f"Bearer {stranger}"})
    assert (answer.status_code, answer.json()["code"]) == (403, "not-permitted")


def test_idempotency_key_is_the_command_id(api: Api) -> None:
    _setup_programme(api)
    first = api.command("li.clerk", EX["apply-inclusive"], key="apply-1")
    again = api.command("li.clerk", EX["apply-inclusive"], key="apply-1")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["command_id"] == "apply-1"
    assert first.json()["position"] == max(first.json()["positions"]) > 0
    other = api.command(
        "li.clerk", {**EX["apply-inclusive"], "at": "2025-03-02T09:00:00+08:00"}, key="apply-1"
    )
    assert (other.status_code, other.json()["code"]) == (409, "command-id-reused")
    clash = api.command("li.clerk", {**EX["apply-inclusive"], "command_id": "x"}, key="apply-1")
    assert (clash.status_code, clash.json()["code"]) == (400, "invalid-value")


def test_each_error_class_as_problem_json(api: Api) -> None:
    _setup_programme(api)
    head = api.get("boss", "/v1/position").json()["head"]
    broken = api.client.post(
        "/v1/commands/register-applicant", content=b"{not json", headers=api.auth("li.clerk")
    )
    assert (broken.status_code, broken.json()["code"]) == (400, "malformed-json")
    unknown = api.command("li.clerk", {"command": "no-such-command"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown-command")
    field = api.command("li.clerk", {**EX["register-applicant"], "colour": "red"})
    assert (field.status_code, field.json()["code"], field.json()["field"]) == (
        400,
        "unknown-field",
        "colour",
    )
    path = api.command("li.clerk", {**EX["import-statement"]})
    assert (path.status_code, path.json()["code"]) == (400, "invalid-value")  # no server paths
    assert api.get("boss", "/v1/position").json()["head"] == head  # nothing stored
    again = api.command("li.clerk", {**EX["register-applicant"], "name": "另一家"}, key="reg-2")
    assert (again.status_code, again.json()["code"]) == (422, "already-registered")
    assert again.headers["content-type"] == "application/problem+json"
    missing = api.get("boss", "/v1/reports/no-such-report")
    assert (missing.status_code, missing.json()["code"]) == (404, "not-found")


def test_a_batch_streams_one_result_per_line_and_a_malformed_one_stores_nothing(api: Api) -> None:
    lines = [EX[n] for n in ("open-programme", "register-supplier", "publish-supplier-list")]
    lines += [EX["register-applicant"], {**EX["register-applicant"], "name": "另一家"}]
    body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
    bad = body + b'{"command": "register-applicant"}\n'
    head = api.get("boss", "/v1/position").json()["head"]
    refused = api.client.post("/v1/batch", content=bad, headers=api.auth("li.clerk"))
    assert refused.status_code == 400
    assert [x["line"] for x in refused.json()["lines"]] == [6]
    assert api.get("boss", "/v1/position").json()["head"] == head
    with api.client.stream("POST", "/v1/batch", content=body, headers=api.auth("li.clerk")) as s:
        assert s.headers["content-type"] == "application/x-ndjson"
        results = [json.loads(x) for x in s.iter_lines() if x]
    assert [(r["line"], r["ok"]) for r in results] == [(1, 1), (2, 1), (3, 1), (4, 1), (5, 0)]
    assert results[4]["error"] == "already-registered"
    assert all(r["position"] > head for r in results[:4])
    # The same body again: every line is applied at most once.
    repeat = api.client.post("/v1/batch", content=body, headers=api.auth("li.clerk"))
    assert [json.loads(x) for x in repeat.text.splitlines()] == results


def test_read_your_write_and_the_position_a_read_reflects(api: Api) -> None:
    position = _setup_programme(api)
    issued = api.command("li.clerk", EX["apply-inclusive"]).json()
    answer = api.get("zhao.audit", "/v1/reports/balances", min_position=issued["position"])
    assert answer.status_code == 200
    assert int(answer.headers["x-ledger-position"]) >= issued["position"]
    assert answer.json()["position"] >= issued["position"]
    assert [row["holder"] for row in answer.json()["rows"]] == [APPLICANT]
    # As it stood before the voucher: replayed, the live read models untouched.
    before = api.get("zhao.audit", "/v1/reports/balances", as_of=str(position))
    assert (before.json()["rows"], before.json()["position"]) == ([], position)
    # A position the log has not reached: refused after the wait, by name.
    behind = api.get("zhao.audit", "/v1/reports/quota", min_position=10**9, wait=0.2)
    assert (behind.status_code, behind.json()["code"]) == (503, "read-models-behind")


def test_every_report_answers_in_json_and_csv(api: Api) -> None:
    _setup_programme(api)
    api.command("li.clerk", EX["apply-inclusive"])
    required = {
        "programme": "CD-2025",
        "entity": APPLICANT,
        "round": "R1",
    }
    for name, definition in REPORTS.items():
        params = {f.name: required[f.name] for f in definition.filters if f.required}
        if name == "operator-subsidy":
            params["programme"] = "CD-2025"
        as_json = api.get("wang.finance", f"/v1/reports/{name}", **params)
        assert as_json.status_code == 200, (name, as_json.text)
        assert set(as_json.json()) >= {"report", "position", "rows", "columns", "totals"}
        as_csv = api.client.get(
            f"/v1/reports/{name}",
            params=params,
            headers=api.auth("wang.finance", Accept="text/csv"),
        )
        assert as_csv.status_code == 200, name
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert as_csv.text.startswith("\ufeff")
    quota = api.get("wang.finance", "/v1/reports/quota", format="csv").text
    assert "CD-2025" in quota
    refused = api.get("wang.finance", "/v1/reports/debarments", on="yesterday")
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid-date")


def test_explain_history_digest_verify_job_and_audit_pack(api: Api) -> None:
    _setup_programme(api)
    issued = api.command("li.clerk", EX["apply-inclusive"])
    assert issued.status_code == 200, issued.text
    voucher = next(e["number"] for e in issued.json()["events"] if "number" in e)
    explained = api.get("zhao.audit", f"/v1/explain/{voucher}")
    assert explained.status_code == 200 and explained.json()["explanation"]
    history = api.get("zhao.audit", f"/v1/audit/history/{APPLICANT}")
    assert history.status_code == 200 and history.json()["rows"]
    digest = api.get("zhao.audit", "/v1/audit/digest").json()
    started = api.client.post("/v1/audit/verify", json=digest, headers=api.auth("zhao.audit"))
    assert started.status_code == 202
    job = started.json()
    for _ in range(200):
        job = api.get("zhao.audit", started.headers["location"]).json()
        if job["state"] != "running":
            break
        time.sleep(0.05)
    assert job["state"] == "done", job
    assert job["result"]["ok"] and job["result"]["matches_kept_digest"]
    assert job["progress"]["events"] == job["result"]["events"] >= digest["events"]
    pack = api.get("zhao.audit", "/v1/audit/pack")
    assert pack.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(pack.content)).namelist()
    assert "audit-pack/manifest.json" in names and "audit-pack/events.jsonl" in names


def test_the_worker_keeps_read_models_live_for_writes_from_elsewhere(api: Api) -> None:
    """A command stored by another process (here: the ledger opened beside the service) reaches
    the read models without any request catching up."""
    from commands.envelope import execute, parse_command

    other = open_ledger(api.db_url)
    try:
        line = {**EX["open-programme"], "year": 2026, "at": "2026-01-02T09:00:00+08:00"}
        given = parse_command(line, identity="boss", now=other.app.clock.now)
        execute(other.app, given)
        head = int(other.app.recorder.max_notification_id() or 0)
    finally:
        other.close()
    status: dict[str, Any] = {}
    for _ in range(400):
        status = api.client.get("/readyz").json()
        if status["position"] >= head:
            break
        time.sleep(0.05)
    assert status["position"] >= head and status["lag"] == 0, status
    quota = api.get("zhao.audit", "/v1/reports/quota").json()
    assert "CD-2026" in {row["programme"] for row in quota["rows"]}


def test_the_worker_reports_a_failure_and_recovers(api: Api, monkeypatch: Any) -> None:
    worker = api.client.app.state.service.worker  # type: ignore[attr-defined]
    runner = worker.ledger.runner
    real = runner.catch_up
    failing = {"on": True}  # until the test has seen the failure reported

    def flaky(*args: Any, **kwargs: Any) -> int:
        if failing["on"]:
            raise ConnectionError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "catch_up", flaky)
    worker.poke()
    ready = api.client.get("/readyz")
    for _ in range(400):
        if ready.status_code == 503:
            break
        time.sleep(0.05)
        ready = api.client.get("/readyz")
    assert ready.status_code == 503 and "ConnectionError" in ready.json()["error"]
    failing["on"] = False  # the database is back
    position = _setup_programme(api)
    assert api.get("li.clerk", "/v1/reports/quota", min_position=position).status_code == 200
    assert api.client.get("/readyz").json()["error"] is None

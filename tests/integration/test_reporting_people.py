"""Accounts end to end: the login form and its cookie, throttling, deactivation, personal API tokens, the `users`
command as a real process, and request logs without personal data."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
import structlog
from aiohttp.test_utils import TestClient, TestServer

from schemas.actions import ACTION_ADAPTER, UpsertManager
from schemas.topics import ACTIONS
from services.reporting.accounts import issue_api_token
from services.reporting.app import build_app
from tests.integration.helpers import REPO, read_topic
from tests.integration.reporting_world import ACCOUNTS, BOB_EMAIL, PASSWORD, Reporting, bearer, log_in, make_deps

pytestmark = pytest.mark.integration
ANN = ACCOUNTS["manager"][0]


async def test_login_sets_a_safe_session_cookie_and_logout_ends_it(reporting: Reporting) -> None:
    response = await reporting.client.post(
        "/login", data={"email": ANN.upper(), "password": PASSWORD, "next": "//evil.test/"}, allow_redirects=False
    )
    assert response.status == 303
    assert response.headers["Location"] == "/queue", "an off-site next is ignored"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie, "plain http in development"
    assert (await reporting.client.get("/queue")).status == 200
    stored = await reporting.pool.fetchval("SELECT token_hash FROM sessions")
    assert stored not in cookie, "the table keeps only a hash of the cookie"
    await reporting.client.post("/logout")
    assert (await reporting.client.get("/queue", allow_redirects=False)).status == 303


async def test_behind_tls_the_cookie_is_secure(reporting: Reporting) -> None:
    deps = make_deps(reporting.pool, reporting.kafka, public_url="https://crm.example.com")
    client: TestClient[Any, Any] = TestClient(TestServer(build_app(deps)))
    await client.start_server()
    try:
        response = await client.post("/login", data={"email": ANN, "password": PASSWORD}, allow_redirects=False)
        assert "Secure" in response.headers["Set-Cookie"]
    finally:
        await client.close()


async def test_wrong_passwords_are_throttled_even_for_the_right_one_then(reporting: Reporting) -> None:
    for _ in range(5):
        response = await reporting.client.post("/login", data={"email": ANN, "password": "wrong-password"})
        assert response.status == 422
        assert "wrong email or password" in await response.text()
    response = await reporting.client.post("/login", data={"email": ANN, "password": PASSWORD}, allow_redirects=False)
    assert response.status == 429
    assert int(response.headers["Retry-After"]) > 0
    other = await reporting.client.post(
        "/login", data={"email": ACCOUNTS["operator"][0], "password": PASSWORD}, allow_redirects=False
    )
    assert other.status == 303, "another account from the same place is not locked by a few failures"


async def test_a_login_form_posted_from_another_site_is_refused(reporting: Reporting) -> None:
    response = await reporting.client.post(
        "/login",
        data={"email": ANN, "password": PASSWORD},
        headers={"Origin": "https://evil.test"},
        allow_redirects=False,
    )
    assert response.status == 403


async def test_a_deactivated_account_loses_its_sessions_tokens_and_login(reporting: Reporting) -> None:
    csrf = await log_in(reporting.client, ANN)
    token = await issue_api_token(reporting.pool, ANN)
    assert (await reporting.client.get("/api/queue", headers=bearer(token))).status == 200
    admin = bearer(await issue_api_token(reporting.pool, ACCOUNTS["admin"][0]))
    users = await (await reporting.client.get("/api/users", headers=admin)).json()
    ann_id = next(u["id"] for u in users["users"] if u["email"] == ANN)
    deactivated = await reporting.client.post(f"/api/users/{ann_id}/deactivate", headers=admin)
    assert deactivated.status == 200
    assert (await reporting.client.get("/api/queue", headers=bearer(token))).status == 401
    assert (await reporting.client.get("/api/queue", headers={"X-CSRF-Token": csrf})).status == 401
    response = await reporting.client.post("/login", data={"email": ANN, "password": PASSWORD}, allow_redirects=False)
    assert response.status == 422


async def test_request_logs_carry_no_personal_data(reporting: Reporting) -> None:
    token = await issue_api_token(reporting.pool, ANN)
    with structlog.testing.capture_logs() as logs:
        await reporting.client.get("/api/contacts?q=%2B1%20415%20555%200201", headers=bearer(token))
        await reporting.client.get("/api/queue", headers=bearer(token))
        await reporting.client.post("/login", data={"email": ANN, "password": "wrong-password"})
    text = repr(logs)
    assert any(entry["event"] == "reporting.request" for entry in logs)
    for secret in ("+1415", "4155550201", "Jane", "ann@example.com", "wrong-password", token):
        assert secret not in text


def users_cli(
    database_url: str, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "services.reporting", "users", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environ | (env or {}),
        cwd=REPO,
        timeout=60,
        check=False,
    )


async def test_the_users_command_adds_lists_issues_tokens_and_deactivates(
    reporting: Reporting, database_url: str
) -> None:
    added = users_cli(
        database_url, "add", "Dee@Example.com", "--role", "manager", "--manager-id", "m-dee", "--team", "east",
        "--name", "Dee", stdin="a long password\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert users_cli(database_url, "add", "x@example.com", "--role", "manager", stdin="long enough\n").returncode == 1
    assert users_cli(database_url, "add", "y@example.com", "--role", "analyst", stdin="short\n").returncode == 1
    listed = users_cli(database_url, "list")
    assert "dee@example.com" in listed.stdout
    assert "manager_id=m-dee" in listed.stdout
    token = users_cli(database_url, "token", "dee@example.com").stdout.strip()
    assert token.startswith("tp_")
    assert (await reporting.client.get("/api/queue", headers=bearer(token))).status == 200
    login = await reporting.client.post(
        "/login", data={"email": "dee@example.com", "password": "a long password"}, allow_redirects=False
    )
    assert login.status == 303
    assert users_cli(database_url, "deactivate", "dee@example.com").returncode == 0
    assert (await reporting.client.get("/api/queue", headers=bearer(token))).status == 401
    assert "deactivated" in users_cli(database_url, "list").stdout


async def test_deactivating_a_manager_also_tells_the_classifier_to_give_them_no_work(
    reporting: Reporting, database_url: str
) -> None:
    kafka = reporting.kafka
    await reporting.pool.execute("INSERT INTO manager_extensions (extension, manager_id) VALUES ('101', 'm-ann')")
    down = users_cli(database_url, "deactivate", ANN, env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert down.returncode == 1
    assert "nothing changed" in down.stderr
    assert await reporting.pool.fetchval("SELECT active FROM users WHERE email = $1", ANN), "Kafka down: no change"

    up = {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "TOUCHPOINT_TOPIC_NAMESPACE": kafka.topic_namespace}
    done = users_cli(database_url, "deactivate", ANN, env=up)
    assert done.returncode == 0, done.stderr
    [record] = await read_topic(kafka, kafka.topics(ACTIONS), expect=1)
    action = ACTION_ADAPTER.validate_json(record.value)
    assert isinstance(action, UpsertManager)
    assert (action.manager_id, action.active, action.team, action.extensions) == ("m-ann", False, "east", ("101",))
    assert action.actor_id == "users-command"
    assert not await reporting.pool.fetchval("SELECT active FROM users WHERE email = $1", ANN)

    admin = bearer(await issue_api_token(reporting.pool, ACCOUNTS["admin"][0]))
    bob_id = await reporting.pool.fetchval("SELECT id FROM users WHERE email = $1", BOB_EMAIL)
    assert (await reporting.client.post(f"/api/users/{bob_id}/deactivate", headers=admin)).status == 200
    records = await read_topic(kafka, kafka.topics(ACTIONS), expect=2)
    [bob] = [a for a in (ACTION_ADAPTER.validate_json(r.value) for r in records[1:]) if isinstance(a, UpsertManager)]
    assert (bob.manager_id, bob.active, bob.actor_id) == ("m-bob", False, ACCOUNTS["admin"][0])
    operator_id = await reporting.pool.fetchval("SELECT id FROM users WHERE email = $1", ACCOUNTS["operator"][0])
    assert (await reporting.client.post(f"/api/users/{operator_id}/deactivate", headers=admin)).status == 200
    assert len(await read_topic(kafka, kafka.topics(ACTIONS), timeout=2)) == 2, "no manager behind an operator"

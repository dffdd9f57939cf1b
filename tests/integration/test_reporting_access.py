"""Access rules walked over the app's own route table: every route of the running app has a rule (or is one of the
public ones), and every role gets exactly what the permission table says: anonymous API → 401 (pages → the login
page), forbidden → 403, allowed → never 401/403. Another manager's record is 404; personal data is masked."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from services.reporting.accounts import issue_api_token
from services.reporting.app import HEALTH_PATHS
from services.reporting.permissions import ROLES, Role, reach
from services.reporting.routes import ROUTES
from services.reporting.views import Route
from tests.integration.reporting_world import ACCOUNTS, Reporting, bearer, log_in, problem_of

pytestmark = pytest.mark.integration


LOGIN_REDIRECT = -1  # a page asked for anonymously sends the browser to the login form


def spec_of(method: str, path: str) -> tuple[Route, bool] | None:
    for route in ROUTES:
        if route.method == method and path in (route.page, route.api):
            return route, path == route.api
    return None


def concrete(path: str) -> str:
    return path.replace("{id}", str(uuid.uuid4())).replace("{name}", "app.css")


def app_routes(reporting: Reporting) -> list[tuple[str, str]]:
    server = reporting.client.server
    assert isinstance(server, TestServer)
    app = server.app
    assert app is not None
    return sorted(
        {(r.method, r.resource.canonical) for r in app.router.routes() if r.method != "HEAD" and r.resource is not None}
    )


async def test_every_route_of_the_app_has_a_rule_or_is_public_by_name(reporting: Reporting) -> None:
    for method, path in app_routes(reporting):
        if path in HEALTH_PATHS:
            continue
        found = spec_of(method, path)
        assert found is not None, f"{method} {path} is served but not in the route table"
        route, _ = found
        if not route.public:
            assert route.verb is not None
            assert route.kind is not None
            # at least one role may use it, else it is dead
            assert any(reach(role, route.verb, route.kind) for role in ROLES), f"{method} {path}: nobody may use it"


async def _ask(reporting: Reporting, method: str, path: str, api: bool, headers: dict[str, str]) -> int:
    kwargs: dict[str, Any] = {"headers": headers, "allow_redirects": False}
    if method == "POST":
        kwargs["json" if api else "data"] = {} if api else {"csrf": headers.pop("X-CSRF-Token", "")}
    async with reporting.client.request(method, concrete(path), **kwargs) as response:
        if response.status in (401, 403) and api:
            await problem_of(response)  # errors are problem+json
        if response.status == 303 and not api and response.headers["Location"].startswith("/login"):
            return LOGIN_REDIRECT
        return response.status


async def test_the_whole_matrix_of_roles_and_routes(reporting: Reporting) -> None:
    tokens = {name: await issue_api_token(reporting.pool, email) for name, (email, _) in ACCOUNTS.items()}
    csrf = {}
    cookies = {}
    for name, (email, _) in ACCOUNTS.items():
        csrf[name] = await log_in(reporting.client, email)
        cookies[name] = {c.key: c.value for c in reporting.client.session.cookie_jar}
    reporting.client.session.cookie_jar.clear()
    checked = 0
    for method, path in app_routes(reporting):
        found = spec_of(method, path)
        if found is None or path == "/logout":
            continue
        route, api = found
        roles: tuple[Role | None, ...] = (None, *ROLES)
        for role in roles:
            headers: dict[str, str] = {}
            reporting.client.session.cookie_jar.clear()
            if role is not None and api:
                headers = bearer(tokens[role])
            elif role is not None:
                reporting.client.session.cookie_jar.update_cookies(cookies[role])
                headers = {"X-CSRF-Token": csrf[role]}
            status = await _ask(reporting, method, path, api, headers)
            where = f"{method} {path} as {role or 'anonymous'}"
            if role is not None:
                assert status != LOGIN_REDIRECT, f"{where}: a logged-in session is sent to log in"
            if route.public:
                assert status not in (401, 403), where
            elif role is None:
                assert status == (401 if api else LOGIN_REDIRECT), where
            elif route.verb is not None and route.kind is not None and reach(role, route.verb, route.kind) is None:
                assert status == 403, where
            else:
                assert status not in (401, 403), f"{where}: {status}"
            assert status < 500, f"{where}: {status}"
            checked += 1
    assert checked > 100


async def test_another_managers_records_are_not_found_and_the_team_sees_them(reporting: Reporting) -> None:
    office = reporting.office
    ann = bearer(await issue_api_token(reporting.pool, ACCOUNTS["manager"][0]))
    sue = bearer(await issue_api_token(reporting.pool, ACCOUNTS["supervisor"][0]))
    for path in (f"/api/contacts/{office.bob_contact}", f"/api/interactions/{office.bob_missed}"):
        async with reporting.client.get(path, headers=ann) as response:
            assert response.status == 404
            assert (await problem_of(response))["status"] == 404
        async with reporting.client.get(path, headers=sue) as response:
            assert response.status == 200, "Bob is in Sue's team"
    async with reporting.client.get(f"/api/interactions/{office.cid_answered}", headers=sue) as response:
        assert response.status == 404, "Cid is in another team"
    async with reporting.client.post(
        f"/api/interactions/{office.bob_missed}/outcome", json={"outcome": "busy"}, headers=ann
    ) as response:
        assert response.status == 404, "confirming another manager's call reveals nothing either"


async def test_the_analyst_sees_figures_without_any_personal_data(reporting: Reporting) -> None:
    ada = bearer(await issue_api_token(reporting.pool, ACCOUNTS["analyst"][0]))
    async with reporting.client.get("/api/interactions", headers=ada) as response:
        listed = await response.json()
        text = await response.text()
    assert len(listed["items"]) == 6
    assert "+1415" not in text
    assert "@client.test" not in text
    assert {i["counterpart"] for i in listed["items"]} == {"•••"}
    async with reporting.client.get("/api/contacts?q=Jane", headers=ada) as response:
        assert response.status == 403


async def test_interactions_need_a_login_now(reporting: Reporting) -> None:
    async with reporting.client.get("/api/interactions") as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "+1415" not in await response.text()

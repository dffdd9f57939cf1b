"""One handler, two renderings: every route is a `Route` whose handler returns a `Result`; the same check runs
before it (who is asking, what the permission table allows, CSRF for cookie-authenticated changes) and only the
last step differs: JSON for `/api/...`, a server-rendered page (or a redirect after a form) for the page path."""

from __future__ import annotations

import hmac
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import asyncpg
import jinja2
import orjson
import structlog
from aiohttp import web
from pydantic import BaseModel

from schemas.actions import Action
from schemas.topics import ACTIONS
from services.reporting.accounts import Principal, principal_for_session, principal_for_token
from services.reporting.permissions import Kind, Reach, Verb, reach
from services.reporting.problems import FieldError, Problem, forbidden, try_later, unauthenticated
from services.reporting.settings import ReportingSettings
from services.runtime.errors import KafkaUnavailable
from services.runtime.health import CachedReadiness
from services.runtime.kafka import DurableProducer
from services.runtime.settings import KafkaSettings

log = structlog.get_logger("services.reporting")

SESSION_COOKIE = "tp_session"
_FLASH = re.compile(r"[a-z0-9_-]{1,40}")
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"


@dataclass(frozen=True, slots=True)
class ReportingDeps:
    settings: ReportingSettings
    kafka: KafkaSettings
    pool: asyncpg.Pool
    producer: DurableProducer
    ready: CachedReadiness
    templates: jinja2.Environment
    default_region: str = "US"
    timezone: str = "UTC"
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


DEPS = web.AppKey("deps", ReportingDeps)


@dataclass(frozen=True, slots=True)
class Result:
    """What a handler found or did. `redirect`: where a page form goes after success (303, see-other)."""

    data: Mapping[str, Any]
    status: int = 200
    redirect: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a file as it is (the page script and style), with `content_type`
    content_type: str = "application/json"
    stream: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = None  # server-sent events


@dataclass
class Ctx:
    """One request as handlers see it: who asks, how far their grant reaches, the input, the dependencies."""

    request: web.Request
    deps: ReportingDeps
    principal: Principal | None
    reach: Reach | None
    csrf_token: str | None
    api: bool
    _managers: list[str] | None = None
    _managers_known: bool = False

    @property
    def user(self) -> Principal:
        assert self.principal is not None, "only public routes run without a principal"
        return self.principal

    @property
    def now(self) -> datetime:
        return self.deps.clock()

    def can(self, verb: Verb, kind: Kind) -> bool:
        return self.principal is not None and reach(self.principal.role, verb, kind) is not None

    @property
    def sees_personal_data(self) -> bool:
        """Every role's records lie within its personal-data reach (a unit test holds the table to it), so a
        role holding the grant may see the personal data of whatever record it is shown."""
        return self.can("read", "personal_data")

    async def managers(self) -> list[str] | None:
        """The manager ids within the grant's reach; None means every manager (and records of none)."""
        if not self._managers_known:
            self._managers = await managers_within(self.deps.pool, self.user, self.reach)
            self._managers_known = True
        return self._managers

    async def managers_of(self, team: str | None) -> list[str] | None:
        """The managers a view of `team` may show. A team's reader (its supervisor, or a grant over all) sees everyone
        who was in it, also those who left since (figures.py narrows to the days they were in it); anyone else, and
        any view without a team, the managers within reach."""
        if team is not None and (self.reach == "all" or (self.reach == "team" and team == self.user.team)):
            return None
        return await self.managers()

    async def input(self) -> dict[str, Any]:
        """The JSON object of an API call, or the fields of a form (a field given twice becomes a list)."""
        if self.api:
            raw = await self.request.read()
            if not raw.strip():
                return {}
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise Problem(400, "Invalid JSON", f"the body is not JSON: {exc}") from exc
            if not isinstance(value, dict):
                raise Problem(400, "Invalid JSON", "the body must be a JSON object")
            return value
        form = await self.request.post()
        out: dict[str, Any] = {}
        for key in form:
            if key == CSRF_FIELD or key in out:
                continue
            values = [str(v) for v in form.getall(key)]
            out[key] = values if len(values) > 1 else values[0]
        return out

    async def send(self, action: Action) -> None:
        """Produces the action and returns once the broker acknowledged it; 503 + Retry-After when it cannot."""
        topic = self.deps.kafka.topics(ACTIONS)
        try:
            await self.deps.producer.send(topic, action.kafka_key(), action.model_dump_json(by_alias=True).encode())
        except KafkaUnavailable as exc:
            log.warning("reporting.action_not_sent", kind=action.kind, error=str(exc))
            raise try_later("the action could not be handed to Kafka; nothing was changed") from exc
        log.info("reporting.action_sent", kind=action.kind, event_id=action.event_id)


async def managers_within(pool: asyncpg.Pool, who: Principal, grant: Reach | None) -> list[str] | None:
    if grant == "all":
        return None
    if grant == "own":
        return [who.manager_id] if who.manager_id else []
    if grant == "team" and who.team:
        rows = await pool.fetch(
            """SELECT manager_id AS id FROM users WHERE role = 'manager' AND team = $1
               UNION SELECT id FROM managers WHERE team = $1""",
            who.team,
        )
        return sorted(r["id"] for r in rows if r["id"])
    return []


Handler = Callable[[Ctx], Awaitable[Result]]


@dataclass(frozen=True, slots=True)
class Route:
    """One capability: its handler, the page and/or API path it answers on, and the permission it needs
    (`verb`/`kind` None: public). `form_template` re-renders a page form with the fields named on a 422."""

    method: str
    handler: Handler
    summary: str
    verb: Verb | None
    kind: Kind | None
    page: str | None = None
    api: str | None = None
    template: str | None = None
    form_template: str | None = None
    body: type[BaseModel] | None = None
    query: tuple[str, ...] = ()

    @property
    def public(self) -> bool:
        return self.verb is None


def _json(data: Any, status: int, headers: Mapping[str, str] | None = None, problem: bool = False) -> web.Response:
    return web.Response(
        body=orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),
        status=status,
        headers=dict(headers or {}),
        content_type="application/problem+json" if problem else "application/json",
    )


def _same_origin(request: web.Request) -> bool:
    """A browser names the page a request comes from; one from another site is refused (CSRF defence in depth)."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if origin is None:  # not a browser, or one that sends neither: the token decides
        return True
    return origin != "null" and urlsplit(origin).netloc == request.host


async def authenticate(request: web.Request, deps: ReportingDeps) -> tuple[Principal | None, str | None, bool]:
    """(principal, the session's CSRF token, whether it came by cookie)."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return await principal_for_token(deps.pool, header[7:].strip()), None, False
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        session = await principal_for_session(deps.pool, cookie, deps.clock())
        if session is not None:
            return session.principal, session.csrf_token, True
    return None, None, False


async def _csrf_ok(request: web.Request, expected: str | None) -> bool:
    if not _same_origin(request):
        return False
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    return expected is not None and given is not None and hmac.compare_digest(given, expected)


async def authorize(request: web.Request, deps: ReportingDeps, route: Route, api: bool) -> Ctx:
    """Who asks and how far their grant reaches, checked before any query of the handler runs: anonymous → 401,
    a role the table does not allow → 403, a cookie-authenticated change without the session's CSRF token → 403."""
    principal, csrf, by_cookie = await authenticate(request, deps)
    if route.verb is None or route.kind is None:
        return Ctx(request, deps, principal, None, csrf, api)
    if principal is None:
        raise unauthenticated()
    structlog.contextvars.bind_contextvars(user_id=str(principal.user_id), role=principal.role)
    grant = reach(principal.role, route.verb, route.kind)
    if grant is None:
        raise forbidden()
    if request.method not in ("GET", "HEAD") and by_cookie and not await _csrf_ok(request, csrf):
        raise forbidden("the form is stale or came from another site (CSRF check); reload the page")
    return Ctx(request, deps, principal, grant, csrf, api)


async def _run(ctx: Ctx, route: Route) -> web.StreamResponse:
    try:
        result = await route.handler(ctx)
    except Problem as problem:
        if ctx.api or problem.status != 422 or route.form_template is None:
            raise
        return render_page(ctx, route.form_template, {"errors": problem.errors, "form": await ctx.input()}, 422)
    if result.stream is not None:
        return await result.stream(ctx.request)
    if result.raw is not None:
        return web.Response(body=result.raw, content_type=result.content_type, headers=result.headers)
    if ctx.api:
        return _json(result.data, result.status, result.headers)
    if result.redirect is not None:
        raise web.HTTPSeeOther(result.redirect, headers=result.headers)
    assert route.template is not None, "a page route without a redirect renders a template"
    return render_page(ctx, route.template, result.data, result.status, result.headers)


def make_view(route: Route, api: bool) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def view(request: web.Request) -> web.StreamResponse:
        deps = request.app[DEPS]
        started = time.perf_counter()
        structlog.contextvars.bind_contextvars(
            request_id=str(uuid.uuid4()), route=f"{route.method} {route.page or route.api}"
        )
        status = 500
        ctx: Ctx | None = None
        try:
            ctx = await authorize(request, deps, route, api)
            response = await _run(ctx, route)
            status = response.status
            return response
        except Problem as problem:
            status = problem.status
            if api:
                return _json(problem.body(), problem.status, problem.headers, problem=True)
            if problem.status == 401:
                raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs)}") from None
            page_ctx = Ctx(request, deps, ctx.principal if ctx else None, None, ctx.csrf_token if ctx else None, False)
            return render_page(page_ctx, "problem.html", {"problem": problem}, problem.status, problem.headers)
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            log.info("reporting.request", status=status, ms=round((time.perf_counter() - started) * 1000, 1))
            structlog.contextvars.unbind_contextvars("request_id", "route", "user_id", "role")

    return view


def render_page(
    ctx: Ctx, template: str, data: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    sent = ctx.request.query.get("sent", "")
    page = ctx.deps.templates.get_template(template).render(
        **data,
        user=ctx.principal,
        csrf=ctx.csrf_token,
        path=ctx.request.path,
        query=ctx.request.query,
        # Only words we put there ourselves: a link cannot make the page say something of its own.
        flash=sent.replace("_", " ") if _FLASH.fullmatch(sent) else None,
    )
    return web.Response(text=page, status=status, headers=dict(headers or {}), content_type="text/html")


def field_errors(exc: Exception) -> list[FieldError]:
    """pydantic's errors as named fields."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return [FieldError("body", str(exc))]
    return [
        FieldError(".".join(str(p) for p in err["loc"]) or "body", err["msg"]) for err in exc.errors(include_url=False)
    ]

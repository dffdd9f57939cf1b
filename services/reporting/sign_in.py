"""Logging in and out (session cookies: HttpOnly, SameSite=Lax, Secure behind TLS; throttled), the home page that
sends each role to its work, and the audit trail."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from services.reporting.accounts import LoginLimits, close_session, log_in, login_throttled, open_session
from services.reporting.confirm_outcomes import shown
from services.reporting.problems import FieldError, Problem
from services.reporting.queries import audit_trail
from services.reporting.views import SESSION_COOKIE, Ctx, Result, _same_origin

HOME = {
    "manager": "/queue",
    "supervisor": "/queue",
    "operator": "/desk",
    "analyst": "/interactions",
    "admin": "/admin/users",
}


def safe_next(raw: str | None) -> str:
    """Only a path on this site: `//evil.example` and absolute URLs are open redirects."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return "/"
    return raw


async def home(ctx: Ctx) -> Result:
    if ctx.principal is None:
        return Result({}, redirect="/login")
    return Result({"home": HOME[ctx.principal.role]}, redirect=HOME[ctx.principal.role])


async def login_page(ctx: Ctx) -> Result:
    return Result({"next": safe_next(ctx.request.query.get("next")), "error": None, "email": ""})


def _limits(ctx: Ctx) -> LoginLimits:
    s = ctx.deps.settings
    return LoginLimits(
        s.login_failures_per_email, s.login_failures_per_client, timedelta(minutes=s.login_window_minutes)
    )


async def login(ctx: Ctx) -> Result:
    if not _same_origin(ctx.request):
        raise Problem(403, "Forbidden", "the login form came from another site")
    data = await ctx.input()
    email = str(data.get("email", "")).strip().lower()
    password = str(data.get("password", ""))
    client = ctx.request.remote or "unknown"
    limits = _limits(ctx)
    if await login_throttled(ctx.deps.pool, email, client, ctx.now, limits):
        minutes = int(limits.window.total_seconds() // 60)
        raise Problem(
            429,
            "Too many attempts",
            f"too many failed logins; try again in {minutes} minutes",
            headers={"Retry-After": str(int(limits.window.total_seconds()))},
        )
    principal = await log_in(ctx.deps.pool, email, password, client, ctx.now, limits)
    if principal is None:
        raise Problem(
            422, "Login failed", "wrong email or password", [FieldError("password", "wrong email or password")]
        )
    token = await open_session(
        ctx.deps.pool, principal.user_id, ctx.now, timedelta(hours=ctx.deps.settings.session_hours)
    )
    target = safe_next(str(data.get("next") or ""))
    if target == "/":
        target = HOME[principal.role]
    response = web.HTTPSeeOther(target)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=ctx.deps.settings.behind_tls or ctx.request.secure,
        path="/",
        max_age=int(ctx.deps.settings.session_hours * 3600),
    )
    raise response


async def logout(ctx: Ctx) -> Result:
    if cookie := ctx.request.cookies.get(SESSION_COOKIE):
        await close_session(ctx.deps.pool, cookie)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def audit(ctx: Ctx) -> Result:
    entries = await audit_trail(ctx.deps.pool, await ctx.managers(), 200)
    if not ctx.sees_personal_data:
        entries = [{**e, "before": None, "after": None} for e in entries]
    return Result({"entries": [shown(ctx, e) for e in entries]})

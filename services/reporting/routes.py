"""The route table: every capability of reporting with the permission it needs, its page path and its API path.
The app is built from this table alone (plus the shared health routes), the permission matrix test walks it, and
docs/openapi/reporting.json is generated from it."""

from __future__ import annotations

from importlib import resources

from services.reporting import build_audiences as audiences
from services.reporting import confirm_outcomes as q
from services.reporting import export_reports as exports
from services.reporting import keep_base as base
from services.reporting import keep_contacts as contacts
from services.reporting import keep_deals as deals
from services.reporting import plan_targets as plans
from services.reporting import sign_in
from services.reporting import watch_dashboard as board
from services.reporting.problems import not_found
from services.reporting.report_managers import managers_report
from services.reporting.report_records import figure_records
from services.reporting.serve_assets import vendor
from services.reporting.views import Ctx, Result, Route

STATIC_TYPES = {".js": "text/javascript", ".css": "text/css"}


async def static(ctx: Ctx) -> Result:
    """The page script and style, shipped in the package (nothing from a CDN, nothing vendored)."""
    name = ctx.request.match_info["name"]
    folder = resources.files("services.reporting") / "static"
    suffix = name[name.rfind(".") :] if "." in name else ""
    if "/" in name or suffix not in STATIC_TYPES or not (folder / name).is_file():
        raise not_found("file")
    return Result(
        {},
        raw=(folder / name).read_bytes(),
        content_type=STATIC_TYPES[suffix],
        headers={"Cache-Control": "public, max-age=300"},
    )


ROUTES: tuple[Route, ...] = (
    # Public: signing in, the script and style.
    Route("GET", sign_in.home, "Sends each role to its work (or to the login page)", None, None, page="/"),
    Route("GET", sign_in.login_page, "The login form", None, None, page="/login", template="login.html"),
    Route("POST", sign_in.login, "Logs in: a session cookie", None, None, page="/login", form_template="login.html"),
    Route("POST", sign_in.logout, "Logs out", None, None, page="/logout"),
    Route("GET", static, "Page script and style", None, None, page="/static/{name}"),
    Route("GET", vendor, "Browser libraries from npm (chart.js)", None, None, page="/vendor/{name}"),
    # The manager's queue.
    Route(
        "GET",
        q.queue,
        "The caller's interactions awaiting confirmation (newest first, each with a suggested outcome and why), "
        "open tasks (overdue marked) and plan progress",
        "read",
        "interaction",
        page="/queue",
        api="/api/queue",
        template="queue.html",
    ),
    Route(
        "GET",
        q.queue_events,
        "Server-sent events: `queue` with the counts of the caller's queue whenever they change",
        "read",
        "interaction",
        api="/api/queue/events",
    ),
    Route(
        "POST",
        q.set_outcome,
        "Confirms an interaction's outcome: {} accepts the suggestion; 202 once the set_outcome action is on "
        "touchpoint.actions.v1",
        "change",
        "interaction",
        page="/interactions/{id}/outcome",
        api="/api/interactions/{id}/outcome",
        body=q.OutcomeBody,
    ),
    Route(
        "POST",
        q.confirm_selection,
        "Confirms a selection at once (each with its suggestion, or all with one outcome)",
        "change",
        "interaction",
        page="/queue/confirm",
        api="/api/queue/confirm",
        body=q.BulkBody,
    ),
    Route(
        "GET",
        q.interactions,
        "Interactions within reach, newest change first (personal data masked for roles without it)",
        "read",
        "interaction",
        page="/interactions",
        api="/api/interactions",
        template="interactions.html",
        query=("limit", "cursor", "counterpart", "manager_id", "period"),
    ),
    Route("GET", q.interaction, "One interaction", "read", "interaction", api="/api/interactions/{id}"),
    # Clients: the contact page, meetings, the operators' desk.
    Route(
        "GET",
        contacts.contact,
        "One contact: addresses, recent interactions, meetings",
        "read",
        "contact",
        page="/contacts/{id}",
        api="/api/contacts/{id}",
        template="contact.html",
    ),
    Route(
        "GET",
        contacts.meeting_form,
        "The meeting form, prefilled from the contact",
        "change",
        "meeting",
        page="/contacts/{id}/meetings/new",
        template="meeting.html",
    ),
    Route(
        "POST",
        contacts.record_meeting,
        "Records a meeting with the minimum data set (date, client's last and first name, contact details, topic, "
        "result); 422 names every missing field before anything is produced",
        "change",
        "meeting",
        page="/contacts/{id}/meetings",
        api="/api/contacts/{id}/meetings",
        form_template="meeting.html",
    ),
    Route(
        "GET",
        contacts.desk,
        "Searches contacts by name, by a phone number in any format, or by email (q=...)",
        "read",
        "contact",
        page="/desk",
        api="/api/contacts",
        template="desk.html",
        query=("q",),
    ),
    Route(
        "POST",
        contacts.edit_contact,
        "Edits a client's personal data (edit_contact action)",
        "change",
        "contact",
        page="/contacts/{id}/edit",
        api="/api/contacts/{id}",
    ),
    Route(
        "POST",
        contacts.merge_contacts,
        "Merges a duplicate into this contact, keeping every interaction (merge_contacts action)",
        "change",
        "contact",
        page="/contacts/{id}/merge",
        api="/api/contacts/{id}/merge",
    ),
    Route(
        "POST",
        contacts.record_consent,
        "Records consent to campaigns on one channel (record_consent action)",
        "change",
        "contact",
        page="/contacts/{id}/consent",
        api="/api/contacts/{id}/consent",
    ),
    # Deals.
    Route(
        "POST",
        deals.open_deal,
        "Takes the client into work: a deal opens for the contact (open_deal action); 202 once it is on "
        "touchpoint.actions.v1",
        "change",
        "deal",
        page="/contacts/{id}/deals",
        api="/api/contacts/{id}/deals",
    ),
    Route(
        "POST",
        deals.close_deal,
        'Closes a deal: {"result": "won" | "lost", "amount": "1200.00"} (close_deal action); 202',
        "change",
        "deal",
        page="/deals/{id}/close",
        api="/api/deals/{id}/close",
    ),
    # Figures.
    Route(
        "GET",
        managers_report,
        "Figures per manager for a period (2026-11-30, 2026-W49 or 2026-11), each with a link to its records",
        "read",
        "report",
        page="/reports",
        api="/api/reports/managers",
        template="reports.html",
        query=("period", "team"),
    ),
    Route(
        "GET",
        figure_records,
        "The records a figure counts (figure, period, and manager_id or team): ids, times and statuses, each with "
        "its link",
        "read",
        "interaction",
        page="/reports/records",
        api="/api/reports/records",
        template="records.html",
        query=("figure", "period", "manager_id", "team"),
    ),
    Route(
        "GET",
        exports.export_managers,
        "The managers report as a download (format=csv or xlsx), the same figures as the page, streamed",
        "read",
        "report",
        page="/reports/export",
        api="/api/reports/managers/export",
        query=("period", "team", "format"),
    ),
    Route(
        "GET",
        board.dashboard,
        "The live dashboard: plan progress, key figures, figures per manager, daily charts and alerts (a "
        "supervisor's team, a manager's own)",
        "read",
        "report",
        page="/dashboard",
        api="/api/dashboard",
        template="dashboard.html",
        query=("period", "team"),
    ),
    Route(
        "GET",
        board.dashboard_events,
        "Server-sent events: `figures` with the dashboard's live part whenever a figure changes",
        "read",
        "report",
        api="/api/dashboard/events",
        query=("period", "team"),
    ),
    Route(
        "GET",
        exports.export_dashboard,
        "The dashboard's daily figures over its chart window for its team (team=) as a download (format=csv or "
        "xlsx), streamed",
        "read",
        "report",
        page="/dashboard/export",
        api="/api/dashboard/export",
        query=("team", "format"),
    ),
    # Plans.
    Route(
        "GET",
        plans.plans,
        "Plans within reach (those covering today, or of `period`), each with progress and the pace needed",
        "read",
        "plan",
        page="/plans",
        api="/api/plans",
        template="plans.html",
        query=("period",),
    ),
    Route(
        "POST",
        plans.set_plan,
        "Sets a target for a manager of the team, a metric and a period (set_plan action); 202 once produced",
        "change",
        "plan",
        page="/plans",
        api="/api/plans",
        form_template="plans.html",
    ),
    # Campaign audiences.
    Route(
        "GET",
        audiences.audience,
        "A campaign audience's preview: contacts with consent and a usable address on the channel, how many "
        "were left out and why",
        "read",
        "audience",
        page="/audiences",
        api="/api/audiences",
        template="audience.html",
        query=("channel", "owner", "team", "status", "contacted_from", "contacted_until"),
    ),
    Route(
        "GET",
        audiences.download_audience,
        "The audience as CSV, streamed",
        "read",
        "audience",
        page="/audiences/download",
        api="/api/audiences/download",
        query=("channel", "owner", "team", "status", "contacted_from", "contacted_until"),
    ),
    # Audit.
    Route(
        "GET",
        sign_in.audit,
        "The audit trail of records within reach (who, when, what, before, after)",
        "read",
        "audit",
        page="/audit",
        api="/api/audit",
        template="audit.html",
    ),
    # Admin: accounts and the base.
    Route("GET", base.users, "Accounts", "read", "user", page="/admin/users", api="/api/users", template="users.html"),
    Route(
        "POST",
        base.add_account,
        "Adds an account",
        "change",
        "user",
        page="/admin/users",
        api="/api/users",
        form_template="users.html",
    ),
    Route(
        "POST",
        base.deactivate_account,
        "Deactivates an account: no login, no session, no token; a manager is given no new work",
        "change",
        "user",
        page="/admin/users/{id}/deactivate",
        api="/api/users/{id}/deactivate",
    ),
    Route(
        "GET",
        base.handover_preview,
        "Preview of a departing manager's hand-over (manager_id, and to=<manager> or team=<team>)",
        "read",
        "base",
        page="/admin/handover",
        api="/api/handover",
        template="handover.html",
        query=("manager_id", "to", "team"),
    ),
    Route(
        "POST",
        base.hand_over,
        "Hands a departing manager's contacts and open tasks over and deactivates them",
        "change",
        "base",
        page="/admin/handover",
        api="/api/handover",
    ),
)

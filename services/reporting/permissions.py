"""Who may do what, as data: one table of role x action x record kind → how far the grant reaches.

Every route names its action and record kind (services/reporting/routes.py); the middleware consults this table
before the handler runs any query, and the handler narrows its query to the grant's reach. A pair not in the table
is forbidden. A test walks every route of the app against every role, so a route without a rule fails it."""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["manager", "operator", "supervisor", "analyst", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
Verb = Literal["read", "change"]
# What a route acts on. `personal_data` is not a route's kind but a field-level grant: names, numbers and email
# addresses are shown only to roles holding it, masked for everyone else.
Kind = Literal[
    "interaction",
    "task",
    "contact",
    "personal_data",
    "meeting",
    "deal",
    "audit",
    "report",
    "plan",
    "audience",
    "user",
    "base",
]
# How far a grant reaches: a manager's own records, a supervisor's team's, or all of them.
Reach = Literal["own", "team", "all"]

RULES: dict[tuple[Role, Verb, Kind], Reach] = {
    # A manager sees and confirms their own interactions and tasks, records meetings with their own clients.
    ("manager", "read", "interaction"): "own",
    ("manager", "change", "interaction"): "own",
    ("manager", "read", "task"): "own",
    ("manager", "read", "contact"): "own",
    ("manager", "read", "personal_data"): "own",
    ("manager", "change", "meeting"): "own",
    ("manager", "change", "deal"): "own",
    ("manager", "read", "audit"): "own",
    # ...and their own figures, dashboard and plans, and campaign lists of their own clients.
    ("manager", "read", "report"): "own",
    ("manager", "read", "plan"): "own",
    ("manager", "read", "audience"): "own",
    # A supervisor the same for their team, and the team's trail and figures.
    ("supervisor", "read", "interaction"): "team",
    ("supervisor", "change", "interaction"): "team",
    ("supervisor", "read", "task"): "team",
    ("supervisor", "read", "contact"): "team",
    ("supervisor", "read", "personal_data"): "team",
    ("supervisor", "change", "meeting"): "team",
    ("supervisor", "change", "deal"): "team",
    ("supervisor", "read", "audit"): "team",
    ("supervisor", "read", "report"): "team",
    # A supervisor sets the team's plans (set_plan) and builds campaign lists of the team's clients.
    ("supervisor", "read", "plan"): "team",
    ("supervisor", "change", "plan"): "team",
    ("supervisor", "read", "audience"): "team",
    # An operator keeps clients' personal data (names, numbers, emails, consent); never outcomes.
    ("operator", "read", "contact"): "all",
    ("operator", "change", "contact"): "all",
    ("operator", "read", "personal_data"): "all",
    # ...and so builds campaign lists (names, numbers, consent): personal data, never an analyst's.
    ("operator", "read", "audience"): "all",
    # An analyst reads figures and PII-free records only.
    ("analyst", "read", "interaction"): "all",
    ("analyst", "read", "report"): "all",
    ("analyst", "read", "plan"): "all",
    # An admin keeps the accounts and the base (hand-overs), and may read everything to do so.
    ("admin", "read", "user"): "all",
    ("admin", "change", "user"): "all",
    ("admin", "read", "base"): "all",
    ("admin", "change", "base"): "all",
    ("admin", "read", "interaction"): "all",
    ("admin", "read", "task"): "all",
    ("admin", "read", "contact"): "all",
    ("admin", "read", "personal_data"): "all",
    ("admin", "read", "audit"): "all",
    ("admin", "read", "report"): "all",
    ("admin", "read", "plan"): "all",
    ("admin", "read", "audience"): "all",
}


def reach(role: Role, verb: Verb, kind: Kind) -> Reach | None:
    """None: forbidden."""
    return RULES.get((role, verb, kind))

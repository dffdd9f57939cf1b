"""The OpenAPI document of reporting's JSON API, generated from the route table so it cannot drift:
`python -m services.reporting.openapi > docs/openapi/reporting.json` (`make schemas`; a test keeps it in sync)."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from services.reporting.permissions import ROLES, reach
from services.reporting.routes import ROUTES

_PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _PROBLEM}}}


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details; `errors` names each offending field",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                        "required": ["field", "message"],
                    },
                },
            },
            "required": ["type", "title", "status", "detail"],
        }
    }
    for route in ROUTES:
        if route.api is None:
            continue
        roles = [r for r in ROLES if route.verb and route.kind and reach(r, route.verb, route.kind)]
        grants = ", ".join(f"{r} ({reach(r, route.verb, route.kind)})" for r in roles if route.verb and route.kind)
        op: dict[str, Any] = {
            "summary": route.summary,
            "description": f"Allowed: {grants}. Records outside the caller's reach answer 404.",
            "operationId": f"{route.method.lower()}_{route.handler.__name__}",
            "security": [{"bearer": []}, {"session": []}],
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in re.findall(r"{(\w+)}", route.api)
            ]
            + [{"name": name, "in": "query", "required": False, "schema": {"type": "string"}} for name in route.query],
            "responses": {
                "202" if route.method == "POST" else "200": {
                    "description": "accepted: the action is on touchpoint.actions.v1; the classifier applies it"
                    if route.method == "POST"
                    else "found",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "401": _problem("no session and no valid bearer token"),
                "403": _problem("the caller's role may not do this, or a cookie session sent no CSRF token"),
                "404": _problem("no such record within the caller's reach"),
            },
        }
        if route.method == "POST":
            op["responses"]["422"] = _problem("invalid input; every offending field is named")
            op["responses"]["503"] = _problem("Kafka did not take the action; retry after Retry-After seconds")
            schema: dict[str, Any] = {"type": "object"}
            if route.body is not None:
                schemas[route.body.__name__] = route.body.model_json_schema(ref_template="#/components/schemas/{model}")
                schema = {"$ref": f"#/components/schemas/{route.body.__name__}"}
            op["requestBody"] = {"required": False, "content": {"application/json": {"schema": schema}}}
        paths.setdefault(route.api, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Touchpoint reporting API",
            "version": "1",
            "description": "Where people work: the manager's queue, meetings, the operators' desk, accounts and "
            "the base. Pages at the same paths without /api/ run the same handlers. See docs/people.md.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`python -m services.reporting users token`",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "tp_session",
                    "description": "from POST /login; changes also need the X-CSRF-Token header",
                },
            },
        },
    }


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())

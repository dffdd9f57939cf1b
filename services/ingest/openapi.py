"""The OpenAPI 3.1 description of ingest, built from the same pydantic models the handlers use.
Served at GET /openapi.json and checked in as docs/openapi/ingest.json (a test keeps them equal)."""

from __future__ import annotations

from typing import Any

from services.ingest.normalize_generic import GenericCallPayload
from services.ingest.postmark import PostmarkInbound

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "/problems/<slug>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def _problem(description: str, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if retry_after:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    return response


def _webhook_errors() -> dict[str, Any]:
    return {
        "400": _problem("Malformed body (not JSON, wrong charset, undecodable form)"),
        "401": _problem("Missing, wrong or stale signature / credentials"),
        "403": _problem("The source has no secret configured and is refused"),
        "413": _problem("Body larger than the configured limit"),
        "415": _problem("Unsupported Content-Type"),
        "422": _problem("Body is well-formed but not a valid event; `errors` names the fields"),
        "503": _problem("Kafka did not acknowledge in time; retry after Retry-After seconds", retry_after=True),
    }


def _schema_of(model: Any) -> dict[str, Any]:
    schema: dict[str, Any] = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    return schema


_MAILGUN_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["timestamp", "token", "signature", "recipient"],
    "properties": {
        "timestamp": {"type": "string", "pattern": "^[0-9]{1,12}$", "description": "unix seconds"},
        "token": {"type": "string", "maxLength": 500, "description": "random, used once"},
        "signature": {"type": "string", "description": 'hex HMAC-SHA256(signing key, "<timestamp><token>")'},
        "recipient": {"type": "string", "description": "RCPT TO, comma-separated"},
        "sender": {"type": "string", "description": "MAIL FROM"},
        "from": {"type": "string"},
        "subject": {"type": "string"},
        "body-plain": {"type": "string"},
        "message-headers": {"type": "string", "description": "JSON list of [name, value], order kept"},
        "body-mime": {"type": "string", "description": "the raw message, for route URLs ending in `mime`"},
    },
}


def _email_paths(accepted: dict[str, Any]) -> dict[str, Any]:
    ok = {**accepted, "description": "Durably written to Kafka (the providers retry anything but 200)"}
    errors = _webhook_errors()
    mailgun_errors = {code: errors[code] for code in ("401", "403", "503")}
    mailgun_errors["406"] = _problem(
        "Permanently unacceptable (malformed, invalid, too large, wrong type): Mailgun does not retry a 406; "
        "the problem's type and `errors` tell which"
    )
    multipart = {**_MAILGUN_FORM, "properties": {**_MAILGUN_FORM["properties"]}}
    multipart["properties"]["attachment-1"] = {
        "type": "string",
        "format": "binary",
        "description": "attachment-1..N: only name, type, size and sha256 are kept",
    }
    return {
        "/webhooks/mailgun": {
            "post": {
                "operationId": "mailgunInbound",
                "summary": "Mailgun routes forward(): an inbound message (signed form fields)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {"schema": _MAILGUN_FORM},
                        "multipart/form-data": {"schema": multipart},
                    },
                },
                "responses": {"200": ok, **mailgun_errors},
            }
        },
        "/webhooks/postmark": {
            "post": {
                "operationId": "postmarkInbound",
                "summary": "Postmark inbound webhook (HTTP Basic auth)",
                "security": [{"postmarkBasic": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PostmarkInbound"}}},
                },
                "responses": {"200": ok, **errors},
            }
        },
    }


def build_openapi() -> dict[str, Any]:
    generic = _schema_of(GenericCallPayload)
    defs = generic.pop("$defs", {})
    postmark = _schema_of(PostmarkInbound)
    defs.update(postmark.pop("$defs", {}))
    accepted = {
        "description": "Durably written to Kafka",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["event_id", "status"],
                    "properties": {"event_id": {"type": "string"}, "status": {"const": "accepted"}},
                }
            }
        },
    }
    health = {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Touchpoint ingest",
            "version": "1",
            "description": "Webhooks in, verified and normalized, out to Kafka. 2xx only after the ack.",
        },
        "paths": {
            "/webhooks/generic": {
                "post": {
                    "operationId": "genericCallEvent",
                    "summary": "Signed generic call event (any PBX)",
                    "parameters": [
                        {
                            "name": "X-Touchpoint-Signature",
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string"},
                            "description": 't=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>',
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/GenericCallPayload"}}
                        },
                    },
                    "responses": {"202": accepted, **_webhook_errors()},
                }
            },
            **_email_paths(accepted),
            "/healthz": {"get": {"operationId": "healthz", "summary": "Process is alive", "responses": health}},
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "summary": "Kafka reachable",
                    "responses": {
                        **health,
                        "503": {
                            "description": "Kafka unreachable",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics",
                    "responses": {
                        "200": {
                            "description": "Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/openapi.json": {"get": {"operationId": "openapi", "summary": "This document", "responses": health}},
        },
        "components": {
            "schemas": {"GenericCallPayload": generic, **defs, "Problem": PROBLEM_SCHEMA, "PostmarkInbound": postmark},
            "securitySchemes": {"postmarkBasic": {"type": "http", "scheme": "basic"}},
        },
    }


if __name__ == "__main__":
    import json
    import sys

    sys.stdout.write(json.dumps(build_openapi(), indent=2, sort_keys=True) + "\n")

"""The OpenAPI 3.1 description of ingest, built from the same pydantic models the handlers use.
Served at GET /openapi.json and checked in as docs/openapi/ingest.json (a test keeps them equal)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.ingest.freeswitch import BASE64_TYPE, FORM_TYPE, JSON_TYPES, JsonCdr
from services.ingest.normalize_generic import GenericCallPayload
from services.ingest.postmark import PostmarkInbound
from services.ingest.twilio import TwilioCallback
from services.ingest.zadarma import MODELS as ZADARMA_MODELS

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


def _form_schema(models: list[type[BaseModel]], required: list[str], description: str) -> dict[str, Any]:
    """A form body: every value is a string on the wire; enums and patterns of the model are kept."""
    properties: dict[str, Any] = {}
    for model in models:
        for name, prop in model.model_json_schema(by_alias=True)["properties"].items():
            options = prop.get("anyOf", [prop])
            plain: dict[str, Any] = next((o for o in options if o.get("type") != "null"), {})
            schema: dict[str, Any] = {"type": "string"}
            for keyword in ("enum", "pattern", "maxLength"):
                if keyword in plain:
                    schema[keyword] = plain[keyword]
            if "const" in plain:
                schema["enum"] = [plain["const"]]
            properties.setdefault(name, schema)
    return {"type": "object", "description": description, "required": required, "properties": properties}


def _call_sources(accepted: dict[str, Any]) -> dict[str, Any]:
    """The PBX webhooks: their wire formats are the providers', so bodies are described as sent."""
    errors = _webhook_errors()
    form = "application/x-www-form-urlencoded"
    zadarma_events = sorted(ZADARMA_MODELS)
    return {
        "/webhooks/twilio": {
            "post": {
                "operationId": "twilioStatusCallback",
                "summary": "Twilio Voice status / recording status callback (form-encoded)",
                "parameters": [
                    {
                        "name": "X-Twilio-Signature",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "base64 HMAC-SHA1(auth token, public URL + sorted form names and values)",
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        form: {
                            "schema": _form_schema(
                                [TwilioCallback], ["CallSid", "AccountSid"], "Twilio's status callback parameters"
                            )
                        }
                    },
                },
                "responses": {"202": accepted, **errors},
            }
        },
        "/webhooks/mango/events/{kind}": {
            "post": {
                "operationId": "mangoEvent",
                "summary": "Mango Office VPBX notification: events/call, events/summary, events/recording",
                "parameters": [
                    {
                        "name": "kind",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["call", "summary", "recording"]},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        form: {
                            "schema": {
                                "type": "object",
                                "required": ["vpbx_api_key", "sign", "json"],
                                "properties": {
                                    "vpbx_api_key": {"type": "string"},
                                    "sign": {"type": "string", "description": "hex sha256(key + json + salt)"},
                                    "json": {"type": "string", "description": "the event as JSON text"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "Durably written to Kafka; the empty object Mango expects",
                        "content": {"application/json": {"schema": {"type": "object", "maxProperties": 0}}},
                    },
                    **errors,
                },
            }
        },
        "/webhooks/zadarma": {
            "get": {
                "operationId": "zadarmaEcho",
                "summary": "Zadarma URL check: answers the zd_echo value",
                "parameters": [
                    {
                        "name": "zd_echo",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.\\-]{1,128}$"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "the zd_echo value",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "400": errors["400"],
                    "403": errors["403"],
                },
            },
            "post": {
                "operationId": "zadarmaNotify",
                "summary": "Zadarma NOTIFY_* call notification (form-encoded)",
                "parameters": [
                    {
                        "name": "Signature",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "base64(hex HMAC-SHA1(api secret, the event's signed fields))",
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        form: {
                            "schema": _form_schema(
                                [ZADARMA_MODELS[name] for name in zadarma_events],
                                ["event", "pbx_call_id"],
                                "fields by event: see docs/sources.md#zadarma",
                            )
                        }
                    },
                },
                "responses": {"200": {"description": "Durably written to Kafka (empty body)"}, **errors},
            },
        },
        "/webhooks/freeswitch": {
            "post": {
                "operationId": "freeswitchCdr",
                "summary": "FreeSWITCH mod_json_cdr call detail record (one per leg)",
                "security": [{"freeswitchBasic": []}],
                "parameters": [
                    {"name": "uuid", "in": "query", "required": False, "schema": {"type": "string"}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        **{t: {"schema": {"$ref": "#/components/schemas/JsonCdr"}} for t in JSON_TYPES},
                        FORM_TYPE: {
                            "schema": {
                                "type": "object",
                                "required": ["cdr"],
                                "properties": {"cdr": {"type": "string", "description": "the CDR JSON"}},
                            }
                        },
                        BASE64_TYPE: {"schema": {"type": "string", "description": "cdr=<base64 of the CDR JSON>"}},
                    },
                },
                "responses": {"202": accepted, **errors},
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
            **_call_sources(accepted),
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
            "schemas": {
                "GenericCallPayload": generic,
                **defs,
                "JsonCdr": _schema_of(JsonCdr),
                "PostmarkInbound": postmark,
                "Problem": PROBLEM_SCHEMA,
            },
            "securitySchemes": {
                "freeswitchBasic": {"type": "http", "scheme": "basic"},
                "postmarkBasic": {"type": "http", "scheme": "basic"},
            },
        },
    }


if __name__ == "__main__":
    import json
    import sys

    sys.stdout.write(json.dumps(build_openapi(), indent=2, sort_keys=True) + "\n")

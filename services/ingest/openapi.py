"""The OpenAPI 3.1 document of ingest, built from the source registry and the models the handlers validate with.
Served at GET /openapi.json and checked in as docs/openapi/ingest.json (a test keeps them equal)."""

from __future__ import annotations

from typing import Any

from services.ingest.http.webhook import PROBLEM_SCHEMA
from services.ingest.sources import SOURCES

_JSON_OBJECT = {"application/json": {"schema": {"type": "object"}}}
_HEALTH: dict[str, Any] = {"200": {"description": "OK", "content": _JSON_OBJECT}}
_SERVICE_PATHS: dict[str, Any] = {
    "/healthz": {"get": {"operationId": "healthz", "summary": "Process is alive", "responses": _HEALTH}},
    "/readyz": {
        "get": {
            "operationId": "readyz",
            "summary": "Kafka reachable",
            "responses": {**_HEALTH, "503": {"description": "Kafka unreachable", "content": _JSON_OBJECT}},
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
    "/openapi.json": {"get": {"operationId": "openapi", "summary": "This document", "responses": _HEALTH}},
}


def _component_schemas() -> dict[str, Any]:
    """The models request bodies refer to, with their nested models lifted next to them."""
    schemas: dict[str, Any] = {}
    for source in SOURCES:
        for model in source.schemas:
            schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
    return schemas


def build_openapi() -> dict[str, Any]:
    paths: dict[str, Any] = {source.path: dict(source.operations) for source in SOURCES}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Touchpoint ingest",
            "version": "1",
            "description": "Webhooks in, verified and normalized, out to Kafka. 2xx only after the ack.",
        },
        "paths": {**paths, **_SERVICE_PATHS},
        "components": {
            "schemas": {**_component_schemas(), "Problem": PROBLEM_SCHEMA},
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

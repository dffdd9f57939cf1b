"""Schemathesis against GET /openapi.json of an in-process ingest app on the real broker: whatever it
generates from the document (valid and invalid requests), the app answers no 5xx but 503, and every
answer fits the document. Bounded: a fixed number of examples per operation and mode."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from twilio.request_validator import RequestValidator

from services.ingest.calls.mango import mango_sign
from services.ingest.calls.zadarma import SIGNED_FIELDS
from services.runtime.settings import KafkaSettings
from tests.integration.call_sources import (
    MANGO_KEY,
    MANGO_SALT,
    PUBLIC_BASE_URL,
    TWILIO_TOKEN,
    basic_auth,
    call_settings,
    ingest_client,
    zadarma_request,
)
from tests.integration.helpers import GENERIC_SECRET

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 25  # x 9 operations x 2 modes: ~450 requests, a few seconds each mode


def no_5xx_but_503(ctx: Any, response: Any, case: Any) -> bool | None:
    """Kafka trouble (503 + Retry-After) is the only server error ingest may answer."""
    if response.status_code >= 500 and response.status_code != 503:
        raise AssertionError(f"{case.method} {case.path} answered {response.status_code}: {response.text[:300]}")
    return None


def authenticate(case: Any) -> None:
    """Signs generated form bodies as the provider would, so generated data also reaches the parsers and
    normalizers behind the signature checks instead of stopping at 401."""
    headers = dict(case.headers or {})
    body = case.body if isinstance(case.body, dict) else None
    if case.path == "/webhooks/freeswitch":
        headers.update(basic_auth())
    elif body is not None and all(isinstance(v, str) for v in body.values()):
        if case.path == "/webhooks/twilio":
            headers["X-Twilio-Signature"] = RequestValidator(TWILIO_TOKEN).compute_signature(
                PUBLIC_BASE_URL + case.path, body
            )
        elif case.path == "/webhooks/zadarma" and body.get("event") in SIGNED_FIELDS:
            headers["Signature"] = zadarma_request(body)[1]["Signature"]
        elif case.path.startswith("/webhooks/mango/") and "json" in body:
            body["vpbx_api_key"] = MANGO_KEY
            body["sign"] = mango_sign(MANGO_KEY, body["json"], MANGO_SALT)
    case.headers = headers


def exercise(operation: Any, mode: GenerationMode, base_url: str, session: requests.Session) -> None:
    checks: list[Any] = [no_5xx_but_503, response_schema_conformance, content_type_conformance]
    if mode is GenerationMode.POSITIVE:  # invalid requests may get any documented-or-not 4xx
        checks.append(status_code_conformance)

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        authenticate(case)
        response = case.call(base_url=base_url, session=session, timeout=30)
        case.validate_response(response, checks=checks)

    try:
        check()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # An operation without parameters or body has no invalid variant to generate.


def fuzz(spec: dict[str, Any], base_url: str) -> list[str]:
    """Runs in a worker thread: schemathesis sends with `requests` while the app serves on the event loop."""
    schema = schemathesis.openapi.from_dict(spec)
    failures: list[str] = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            if isinstance(result, Err):
                failures.append(f"the document has an invalid operation: {result.err()}")
                continue
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    exercise(operation, mode, base_url, session)
                except Exception as exc:
                    failures.append(f"{operation.label} [{mode.value}]: {exc}")
    return failures


async def test_generated_requests_get_no_5xx_and_documented_answers(kafka: KafkaSettings) -> None:
    app_settings = call_settings(generic_secret=SecretStr(GENERIC_SECRET))
    async with ingest_client(kafka, app_settings) as client:
        spec = await (await client.get("/openapi.json")).json()
        failures = await asyncio.to_thread(fuzz, spec, f"http://127.0.0.1:{client.port}")
    assert failures == [], "\n\n".join(failures)

"""Control characters through every source's real route: a 422 (Mailgun: 406, SMTP: 554) naming the provider's
field, and nothing in Kafka, so a NUL can never reach the classifier's database (issue 8, item 1)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage

import aiosmtplib
import pytest
from pydantic import SecretStr

from schemas.topics import CALLS, EMAILS
from services.runtime.settings import KafkaSettings
from tests.fixtures.freeswitch_cdr import as_json, as_urlencoded, cdr
from tests.integration.call_sources import (
    FORM,
    Client,
    basic_auth,
    call_settings,
    ingest_client,
    mango_form,
    twilio_request,
    zadarma_call_start,
    zadarma_request,
)
from tests.integration.helpers import GENERIC_SECRET, call_body, read_topic, signed_headers
from tests.integration.test_ingest_email import (
    Ingest,
    basic,
    email_settings,
    mailgun_form,
    postmark_body,
    running_ingest,
)

pytestmark = pytest.mark.integration

_TWILIO = {
    "AccountSid": "AC" + "0" * 32,
    "CallSid": "CA" + "1" * 32,
    "CallStatus": "ringing",
    "Direction": "inbound",
    "From": "+14155550123",
    "To": "+14155550100",
}
_ZADARMA_START = {
    "event": "NOTIFY_START",
    "call_start": zadarma_call_start(),
    "pbx_call_id": "in_x",
    "caller_id": "+79001234567",
    "called_did": "+74951234567",
}
_ZADARMA_END = {
    **_ZADARMA_START,
    "event": "NOTIFY_END",
    "duration": "0",
    "disposition": "no answer",
    "status_code": "19",
}
_NOW = int(time.time())
_MANGO_SUMMARY = {
    "entry_id": "e",
    "from": {"number": "1"},
    "to": {"extension": "101"},
    "create_time": _NOW,
    "end_time": _NOW,
}
_JSON = {"Content-Type": "application/json"}

CALL_CASES = [
    pytest.param(
        "/webhooks/generic",
        None,  # signed when sent: the signature is only valid for 300 s
        call_body("a\u0000b"),
        "call_id",
        id="generic-nul-call-id",
    ),
    pytest.param(
        "/webhooks/generic",
        None,  # signed when sent: the signature is only valid for 300 s
        call_body("c1", **{"from": "+1415\u00075550123"}),
        "from",
        id="generic-bell-in-number",
    ),
    pytest.param(
        "/webhooks/generic",
        None,  # signed when sent: the signature is only valid for 300 s
        call_body("c1", agent="ann\u007f"),
        "agent",
        id="generic-del-in-agent",
    ),
    pytest.param(
        "/webhooks/twilio",
        twilio_request(params := {**_TWILIO, "From": "+14155550123\x00"})[1],
        twilio_request(params)[0],
        "From",
        id="twilio-nul-in-from",
    ),
    pytest.param(
        "/webhooks/mango/events/summary",
        FORM,
        mango_form(json.dumps({**_MANGO_SUMMARY, "entry_id": "e\u0000"})),
        "json.entry_id",
        id="mango-nul-in-entry-id",
    ),
    pytest.param(
        "/webhooks/mango/events/summary",
        FORM,
        mango_form(json.dumps({**_MANGO_SUMMARY, "from": {"number": "7916\u001b1234567"}})),
        "json.from.number",
        id="mango-escape-in-number",
    ),
    # pbx_call_id, disposition and status_code are outside Zadarma's signature: anyone can put a NUL there.
    pytest.param(
        "/webhooks/zadarma",
        zadarma_request(fields := {**_ZADARMA_START, "pbx_call_id": "in_\x00x"})[1],
        zadarma_request(fields)[0],
        "pbx_call_id",
        id="zadarma-unsigned-call-id",
    ),
    pytest.param(
        "/webhooks/zadarma",
        zadarma_request(fields := {**_ZADARMA_END, "disposition": "no\x00answer"})[1],
        zadarma_request(fields)[0],
        "disposition",
        id="zadarma-unsigned-disposition",
    ),
    pytest.param(
        "/webhooks/freeswitch",
        {**_JSON, **basic_auth()},
        as_json(cdr(caller="%2B14155550123%00")),
        "callflow.caller_profile.caller_id_number",
        id="freeswitch-percent-00-variable",
    ),
    pytest.param(
        "/webhooks/freeswitch",
        {**FORM, **basic_auth()},
        as_urlencoded(cdr(extra={"hangup_cause": "NORMAL\x00CLEARING"})),  # the CDR writer url-encodes it as %00
        "variables.hangup_cause",
        id="freeswitch-form-percent-00",
    ),
]


@pytest.fixture
async def client(kafka: KafkaSettings) -> AsyncIterator[Client]:
    async with ingest_client(kafka, call_settings(generic_secret=SecretStr(GENERIC_SECRET))) as test_client:
        yield test_client


@pytest.mark.parametrize(("path", "headers", "body", "field"), CALL_CASES)
async def test_call_sources_refuse_control_characters_naming_the_field(
    client: Client, kafka: KafkaSettings, path: str, headers: dict[str, str] | None, body: bytes, field: str
) -> None:
    response = await client.post(path, data=body, headers=headers or signed_headers(body))
    assert response.status == 422, await response.text()
    problem = await response.json()
    assert field in [e["field"] for e in problem["errors"]], problem
    assert await read_topic(kafka, kafka.topics(CALLS)) == []


@pytest.fixture
async def ingest(kafka: KafkaSettings) -> AsyncIterator[Ingest]:
    async with running_ingest(kafka, email_settings()) as running:
        yield running


async def test_email_sources_refuse_control_characters_in_ids_and_addresses(
    ingest: Ingest, kafka: KafkaSettings
) -> None:
    form = mailgun_form("<mg\x01@client.org>")
    response = await ingest.client.post("/webhooks/mailgun", data=form)
    assert response.status == 406, await response.text()  # Mailgun's "do not retry"
    assert "message-headers.Message-ID" in [e["field"] for e in (await response.json())["errors"]]

    headers = json.loads(mailgun_form("<mg2@client.org>")["message-headers"])
    headers[1] = ["From", "Ann\x1b Client <ann@client.org>"]
    form = {**mailgun_form("<mg2@client.org>"), "message-headers": json.dumps(headers)}
    response = await ingest.client.post("/webhooks/mailgun", data=form)
    assert response.status == 406, await response.text()
    assert "message-headers.From" in [e["field"] for e in (await response.json())["errors"]]

    body = postmark_body(Headers=[{"Name": "Message-ID", "Value": "<pm\x07@client.org>"}])
    response = await ingest.client.post("/webhooks/postmark", data=body, headers=basic())
    assert response.status == 422, await response.text()
    assert "Message-ID" in [e["field"] for e in (await response.json())["errors"]]

    msg = EmailMessage()
    msg["From"] = "ann@client.org"
    msg["To"] = "sales@example.com"
    msg["Message-ID"] = "<smtp\x01@client.org>"
    msg.set_content("hello")
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await aiosmtplib.send(
            msg, hostname="127.0.0.1", port=ingest.smtp.port, sender="ann@client.org", recipients=["sales@example.com"]
        )
    assert refused.value.code == 554 and "Message-ID" in refused.value.message
    assert await read_topic(kafka, kafka.topics(EMAILS)) == []

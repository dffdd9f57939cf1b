"""The PBX call sources end to end: requests signed as each provider signs them go through the real ingest
app into touchpoint.calls.v1 on the real broker; forged, replayed-with-changes and malformed requests are
refused with a problem naming the field, and nothing reaches Kafka."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import mangoapi
import pytest

from deploy.local.procs import free_port
from schemas.events import CallEvent
from schemas.topics import CALLS
from services.runtime.kafka import ProducerLimits
from services.runtime.settings import KafkaSettings
from tests.fixtures.freeswitch_cdr import as_base64, as_json, as_urlencoded, cdr
from tests.integration.call_sources import (
    FORM,
    MANGO_KEY,
    MANGO_SALT,
    Client,
    basic_auth,
    call_settings,
    ingest_client,
    mango_form,
    twilio_request,
    zadarma_call_start,
    zadarma_request,
)
from tests.integration.helpers import read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(kafka: KafkaSettings) -> AsyncIterator[Client]:
    async with ingest_client(kafka, call_settings()) as test_client:
        yield test_client


async def events_in(kafka: KafkaSettings, expect: int) -> list[tuple[bytes, CallEvent]]:
    records = await read_topic(kafka, kafka.topics(CALLS), expect=expect)
    return [(r.key, CallEvent.model_validate_json(r.value)) for r in records]


def sid(prefix: str = "CA") -> str:
    return prefix + uuid.uuid4().hex


def twilio_params(call_sid: str, status: str, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": call_sid,
        "CallStatus": status,
        "Direction": "inbound",
        "From": "+14155550123",
        "To": "+14155550100",
        "ApiVersion": "2010-04-01",
        "CallbackSource": "call-progress-events",
        "Timestamp": format_datetime(datetime.now(UTC).replace(microsecond=0), usegmt=True),
        **extra,
    }


async def test_twilio_parent_and_child_legs_land_as_one_call(client: Client, kafka: KafkaSettings) -> None:
    parent, child = sid(), sid()
    child_leg = twilio_params(
        child, "completed", ParentCallSid=parent, Direction="outbound-dial", To="client:alice", CallDuration="37"
    )
    for params in (twilio_params(parent, "ringing"), child_leg, twilio_params(parent, "completed", CallDuration="42")):
        body, headers = twilio_request(params)
        response = await client.post("/webhooks/twilio", data=body, headers=headers)
        assert response.status == 202, await response.text()
    events = await events_in(kafka, 3)
    assert {key for key, _ in events} == {b"+14155550123"}
    assert {e.call_id for _, e in events} == {parent}
    answered = next(e for _, e in events if e.leg_id == child)
    assert (answered.status, answered.agent, answered.talk_s, answered.parent_leg_id) == (
        "answered",
        "alice",
        37,
        parent,
    )


async def test_twilio_duplicate_completed_callbacks_get_one_event_id(client: Client, kafka: KafkaSettings) -> None:
    call_sid = sid()
    answers = []
    for sequence in ("3", "4"):  # Twilio may send "completed" twice, e.g. from the number and from <Dial>
        body, headers = twilio_request(twilio_params(call_sid, "completed", SequenceNumber=sequence))
        answers.append(await (await client.post("/webhooks/twilio", data=body, headers=headers)).json())
    assert answers[0]["event_id"] == answers[1]["event_id"] == f"twilio:{call_sid}:ended"
    assert {e.event_id for _, e in await events_in(kafka, 2)} == {answers[0]["event_id"]}


async def test_mango_notifications_sent_by_the_mango_client(client: Client, kafka: KafkaSettings) -> None:
    """python-mango-office-api posts vpbx_api_key/sign/json as form data and json.loads our answer."""
    mango = mangoapi.MangoAPI(f"http://127.0.0.1:{client.port}/webhooks/mango/", MANGO_KEY, MANGO_SALT)
    entry = f"entry-{uuid.uuid4().hex[:12]}"
    t0 = int(time.time()) - 300  # Mango's signed event times must be recent (TOUCHPOINT_EVENT_TIME_WINDOW_S)
    leg = {"from": {"number": "79161234567"}, "to": {"extension": "101", "line_number": "74951234567"}}
    notifications: list[tuple[str, dict[str, Any]]] = [
        (
            "events/call",
            {
                "entry_id": entry,
                "call_id": "c1",
                "timestamp": t0,
                "seq": 1,
                "call_state": "Appeared",
                "location": "abonent",
                **leg,
            },
        ),
        (
            "events/call",
            {
                "entry_id": entry,
                "call_id": "c1",
                "timestamp": t0 + 5,
                "seq": 2,
                "call_state": "Connected",
                "location": "abonent",
                **leg,
            },
        ),
        (
            "events/summary",
            {
                "entry_id": entry,
                "call_direction": 1,
                **leg,
                "line_number": "74951234567",
                "create_time": t0,
                "forward_time": t0 + 1,
                "talk_time": t0 + 5,
                "end_time": t0 + 65,
                "entry_result": 1,
                "disconnect_reason": 1110,
            },
        ),
        (
            "events/recording",
            {
                "entry_id": entry,
                "call_id": "c1",
                "recording_id": "rec-1",
                "recording_state": "Completed",
                "extension": "101",
                "timestamp": t0 + 70,
            },
        ),
    ]
    for command, data in notifications:
        assert await asyncio.to_thread(mango.request, data, command) == {}
    events = [e for _, e in await events_in(kafka, 4)]
    assert {e.call_id for e in events} == {entry}
    summary = next(e for e in events if e.leg_id is None and e.phase == "ended")
    assert (summary.status, summary.talk_s, summary.direction, summary.agent) == ("answered", 60, "inbound", "101")
    assert summary.counterpart is not None and summary.counterpart.e164 == "+79161234567"
    assert any(e.recording_ref == "mango:recording:rec-1" for e in events)


async def test_zadarma_echo_and_notifications(client: Client, kafka: KafkaSettings) -> None:
    echo = await client.get("/webhooks/zadarma", params={"zd_echo": "a1B2c3"})
    assert echo.status == 200 and await echo.text() == "a1B2c3"
    call = f"in_{uuid.uuid4().hex[:10]}"
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    start = {
        "event": "NOTIFY_START",
        "call_start": zadarma_call_start(started),
        "pbx_call_id": call,
        "caller_id": "+79001234567",
        "called_did": "+74951234567",
    }
    end = {
        **start,
        "event": "NOTIFY_END",
        "internal": "100",
        "duration": "0",
        "disposition": "no answer",
        "status_code": "19",
        "is_recorded": "0",
        "call_id_with_rec": "",
    }
    for fields in (start, end):
        body, headers = zadarma_request(fields)
        response = await client.post("/webhooks/zadarma", data=body, headers=headers)
        assert response.status == 200, await response.text()
        assert await response.read() == b""  # a body would be read as routing commands
    events = await events_in(kafka, 2)
    assert {key for key, _ in events} == {b"+79001234567"}
    ended = next(e for _, e in events if e.phase == "ended")
    assert (ended.status, ended.agent, ended.call_id) == ("missed", "100", call)
    assert ended.started_at == started


@pytest.mark.parametrize(
    ("content_type", "encode"),
    [
        ("application/json", as_json),
        ("application/x-www-form-urlencoded", as_urlencoded),
        ("application/x-www-form-base64-encoded", as_base64),
    ],
    ids=["raw-json", "urlencoded", "base64"],
)
async def test_freeswitch_a_and_b_legs_in_every_encoding(
    client: Client, kafka: KafkaSettings, content_type: str, encode: Any
) -> None:
    a_uuid, b_uuid = str(uuid.uuid4()), str(uuid.uuid4())
    for record in (cdr(a_uuid, extra={"bridge_uuid": b_uuid}), cdr(b_uuid, b_leg_of=a_uuid)):
        response = await client.post(
            f"/webhooks/freeswitch?uuid={record['variables']['uuid']}",
            data=encode(record),
            headers={"Content-Type": content_type, "User-Agent": "freeswitch-json/1.0", **basic_auth()},
        )
        assert response.status == 202, await response.text()
    events = [e for _, e in await events_in(kafka, 2)]
    assert {e.call_id for e in events} == {a_uuid}
    assert {e.leg_id for e in events} == {a_uuid, b_uuid}
    assert {e.status for e in events} == {"answered"}


async def test_zadarma_replays_reuse_the_signed_event_id_and_stale_ones_are_refused(
    client: Client, kafka: KafkaSettings
) -> None:
    """pbx_call_id, event, disposition and duration are outside Zadarma's signature: a captured NOTIFY_START sent
    again with another pbx_call_id, or turned into a NOTIFY_END, has the id of the genuine notification of that
    type and is applied once; once call_start is older than the window it is refused."""
    start = {**_ZD_START, "call_start": zadarma_call_start(), "pbx_call_id": f"in_{uuid.uuid4().hex[:10]}"}
    forged_end = {**start, "event": "NOTIFY_END", "pbx_call_id": "in_victim", "duration": "999", "disposition": "busy"}
    genuine_end = {**start, "event": "NOTIFY_END", "duration": "30", "disposition": "answered"}
    _, signature = zadarma_request(start)
    for fields in (start, {**start, "pbx_call_id": "in_other"}, forged_end, genuine_end):
        response = await client.post("/webhooks/zadarma", data=zadarma_request(fields)[0], headers=signature)
        assert response.status == 200, await response.text()
    events = [e for _, e in await events_in(kafka, 4)]
    assert len({e.event_id for e in events if e.phase == "initiated"}) == 1
    assert len({e.event_id for e in events if e.phase == "ended"}) == 1

    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    stale = {**start, "call_start": zadarma_call_start(two_days_ago)}
    response = await client.post("/webhooks/zadarma", data=zadarma_request(stale)[0], headers=zadarma_request(stale)[1])
    assert response.status == 401, await response.text()
    assert "call_start" in [e["field"] for e in (await response.json())["errors"]]
    assert len(await read_topic(kafka, kafka.topics(CALLS))) == 4


_NOW = int(time.time())
_SUMMARY = json.dumps(
    {"entry_id": "e", "from": {"number": "1"}, "to": {"extension": "101"}, "create_time": _NOW, "end_time": _NOW},
    separators=(",", ":"),
)
_STALE_SUMMARY = json.dumps(
    {"entry_id": "e", "from": {"number": "1"}, "to": {"extension": "101"}, "create_time": 1, "end_time": 2},
    separators=(",", ":"),
)
_STALE_TWILIO = {**twilio_params("CA" + "2" * 32, "busy"), "Timestamp": "Thu, 26 Nov 2026 10:00:42 +0000"}
_ZD_START = {
    "event": "NOTIFY_START",
    "call_start": zadarma_call_start(),
    "pbx_call_id": "in_x",
    "caller_id": "+79001234567",
    "called_did": "+74951234567",
}
_FS_JSON = {"Content-Type": "application/json"}

BAD_REQUESTS = [
    # Twilio
    pytest.param(
        "/webhooks/twilio",
        {**FORM},
        twilio_request(twilio_params(sid(), "busy"))[0],
        401,
        "X-Twilio-Signature",
        id="twilio-unsigned",
    ),
    pytest.param(
        "/webhooks/twilio",
        twilio_request(twilio_params(sid(), "busy"))[1],
        twilio_request(twilio_params(sid(), "completed"))[0],
        401,
        "X-Twilio-Signature",
        id="twilio-signature-of-another-body",
    ),
    pytest.param(
        "/webhooks/twilio",
        twilio_request({"CallSid": "x"}, path="/other")[1],
        twilio_request({"CallSid": "x"})[0],
        401,
        "X-Twilio-Signature",
        id="twilio-signed-for-another-url",
    ),
    pytest.param(
        "/webhooks/twilio",
        twilio_request({"CallSid": "nope", "AccountSid": "AC"})[1],
        twilio_request({"CallSid": "nope", "AccountSid": "AC"})[0],
        422,
        "CallSid",
        id="twilio-invalid-sid",
    ),
    pytest.param(
        "/webhooks/twilio",
        {**twilio_request({"a": "b"})[1], "Content-Type": "application/json"},
        b'{"a":"b"}',
        415,
        "Content-Type",
        id="twilio-json",
    ),
    pytest.param(
        "/webhooks/twilio",
        {**twilio_request({"a": "b"})[1], "Content-Type": "application/x-www-form-urlencoded; charset=windows-1251"},
        b"a=b",
        415,
        "Content-Type",
        id="twilio-wrong-charset",
    ),
    pytest.param(
        "/webhooks/twilio",
        twilio_request(_STALE_TWILIO)[1],
        twilio_request(_STALE_TWILIO)[0],
        401,
        "Timestamp",
        id="twilio-replayed-after-the-window",
    ),
    pytest.param(
        "/webhooks/mango/events/summary",
        {**FORM},
        mango_form(_STALE_SUMMARY),
        401,
        "json.end_time",
        id="mango-replayed-after-the-window",
    ),
    pytest.param("/webhooks/twilio", {**FORM}, b"a=%FF%FE", 400, "body", id="twilio-undecodable-form"),
    pytest.param("/webhooks/twilio", {**FORM}, b"a=" + b"x" * 20000, 413, "body", id="twilio-too-large"),
    # Mango
    pytest.param(
        "/webhooks/mango/events/summary",
        {**FORM},
        mango_form(_SUMMARY, sign="0" * 64),
        401,
        "sign",
        id="mango-forged-sign",
    ),
    pytest.param(
        "/webhooks/mango/events/summary",
        {**FORM},
        mango_form(_SUMMARY).replace(b"sign=", b"x=", 1),
        401,
        "sign",
        id="mango-unsigned",
    ),
    pytest.param("/webhooks/mango/events/summary", {**FORM}, mango_form("{not json"), 400, "json", id="mango-not-json"),
    pytest.param(
        "/webhooks/mango/events/summary",
        {**FORM},
        mango_form('{"entry_id":"e"}'),
        422,
        "json.create_time",
        id="mango-missing-field",
    ),
    pytest.param(
        "/webhooks/mango/events/summary",
        {**FORM},
        mango_form("[" * 1500 + "]" * 1500),
        400,
        "json",
        id="mango-deeply-nested",
    ),
    pytest.param(
        "/webhooks/mango/events/call",
        {**FORM},
        mango_form(_SUMMARY),
        422,
        "json.call_id",
        id="mango-summary-sent-as-call",
    ),
    # Zadarma
    pytest.param("/webhooks/zadarma", {**FORM}, zadarma_request(_ZD_START)[0], 401, "Signature", id="zadarma-unsigned"),
    pytest.param(
        "/webhooks/zadarma",
        zadarma_request(_ZD_START, secret="other")[1],
        zadarma_request(_ZD_START)[0],
        401,
        "Signature",
        id="zadarma-wrong-secret",
    ),
    pytest.param(
        "/webhooks/zadarma",
        zadarma_request(_ZD_START)[1],
        zadarma_request({**_ZD_START, "caller_id": "+79990000000"})[0],
        401,
        "Signature",
        id="zadarma-replayed-with-another-caller",
    ),
    pytest.param(
        "/webhooks/zadarma",
        zadarma_request(_ZD_START)[1],
        zadarma_request(_ZD_START)[0].replace(b"NOTIFY_START", b"NOTIFY_IVR"),
        422,
        "event",
        id="zadarma-unsupported-event",
    ),
    pytest.param(
        "/webhooks/zadarma",
        zadarma_request({**_ZD_START, "call_start": "yesterday"})[1],
        zadarma_request({**_ZD_START, "call_start": "yesterday"})[0],
        422,
        "call_start",
        id="zadarma-bad-time",
    ),
    # FreeSWITCH
    pytest.param("/webhooks/freeswitch", _FS_JSON, as_json(cdr()), 401, "Authorization", id="freeswitch-no-auth"),
    pytest.param(
        "/webhooks/freeswitch",
        {**_FS_JSON, **basic_auth(password="wrong")},
        as_json(cdr()),
        401,
        "Authorization",
        id="freeswitch-wrong-password",
    ),
    pytest.param(
        "/webhooks/freeswitch", {**_FS_JSON, **basic_auth()}, b"{not json", 400, "body", id="freeswitch-not-json"
    ),
    pytest.param(
        "/webhooks/freeswitch",
        {**_FS_JSON, **basic_auth()},
        b'{"variables":{}}',
        422,
        "variables.uuid",
        id="freeswitch-no-uuid",
    ),
    pytest.param(
        "/webhooks/freeswitch",
        {"Content-Type": "application/x-www-form-base64-encoded", **basic_auth()},
        b"cdr=%%%",
        400,
        "cdr",
        id="freeswitch-bad-base64",
    ),
    pytest.param(
        "/webhooks/freeswitch",
        {"Content-Type": "text/xml", **basic_auth()},
        b"<cdr/>",
        415,
        "Content-Type",
        id="freeswitch-xml-cdr",
    ),
]


@pytest.mark.parametrize(("path", "headers", "body", "status", "field"), BAD_REQUESTS)
async def test_bad_input_gets_a_problem_naming_the_field_and_writes_nothing(
    client: Client, kafka: KafkaSettings, path: str, headers: dict[str, str], body: bytes, status: int, field: str
) -> None:
    response = await client.post(path, data=body, headers=headers)
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["status"] == status and problem["detail"]
    assert field in [e["field"] for e in problem.get("errors", [])], problem
    if status == 401 and path == "/webhooks/freeswitch":
        assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert await read_topic(kafka, kafka.topics(CALLS)) == []


@pytest.mark.parametrize("query", ["", "?zd_echo=", "?zd_echo=%3Cscript%3E"])
async def test_zadarma_echo_only_echoes_plain_tokens(client: Client, query: str) -> None:
    response = await client.get("/webhooks/zadarma" + query)
    assert response.status == 400
    assert (await response.json())["errors"][0]["field"] == "zd_echo"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/webhooks/twilio", "POST"),
        ("PUT", "/webhooks/zadarma", "GET,POST"),
        ("GET", "/webhooks/mango/events/call", "POST"),
        ("DELETE", "/webhooks/freeswitch", "POST"),
    ],
)
async def test_wrong_method_is_405_with_allow(client: Client, method: str, path: str, allow: str) -> None:
    response = await client.request(method, path)
    assert response.status == 405
    assert response.content_type == "application/problem+json"
    assert set(response.headers["Allow"].split(",")) == set(allow.split(","))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/webhooks/twilio"),
        ("POST", "/webhooks/mango/events/call"),
        ("GET", "/webhooks/zadarma?zd_echo=x"),
        ("POST", "/webhooks/zadarma"),
        ("POST", "/webhooks/freeswitch"),
    ],
)
async def test_unconfigured_sources_are_refused(kafka: KafkaSettings, method: str, path: str) -> None:
    settings = call_settings(
        twilio_auth_token=None, mango_api_key=None, zadarma_api_secret=None, freeswitch_password=None
    )
    async with ingest_client(kafka, settings) as client:
        response = await client.request(method, path, data=b"a=b", headers={**FORM, **basic_auth()})
        assert response.status == 403
        assert (await response.json())["type"] == "/problems/source-not-configured"


def test_blank_secrets_do_not_configure_a_source() -> None:
    settings = call_settings(twilio_auth_token="", zadarma_api_secret="  ", freeswitch_user="")
    assert settings.twilio_auth_token is None
    assert settings.zadarma_api_secret is None
    assert settings.freeswitch_user is None


async def test_no_broker_means_503_with_retry_after_for_every_source() -> None:
    nowhere = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}", request_timeout_ms=1000)
    async with ingest_client(nowhere, call_settings(retry_after_s=9), ProducerLimits(send_timeout_s=1)) as client:
        twilio = twilio_request(twilio_params(sid(), "busy"))
        zadarma = zadarma_request(_ZD_START)
        requests = [
            ("/webhooks/twilio", twilio[0], twilio[1]),
            ("/webhooks/mango/events/summary", mango_form(_SUMMARY), FORM),
            ("/webhooks/zadarma", zadarma[0], zadarma[1]),
            ("/webhooks/freeswitch", as_json(cdr()), {**_FS_JSON, **basic_auth()}),
        ]
        for path, body, headers in requests:
            response = await client.post(path, data=body, headers=headers)
            assert response.status == 503, (path, await response.text())
            assert response.headers["Retry-After"] == "9"
            assert (await response.json())["type"] == "/problems/kafka-unavailable"


async def test_metrics_are_labelled_by_source(client: Client) -> None:
    body, headers = twilio_request(twilio_params(sid(), "ringing"))
    assert (await client.post("/webhooks/twilio", data=body, headers=headers)).status == 202
    assert (await client.post("/webhooks/freeswitch", data=b"{}", headers=_FS_JSON)).status == 401
    metrics = await (await client.get("/metrics")).text()
    assert 'touchpoint_ingest_requests_total{source="twilio",status="202"} 1.0' in metrics
    assert 'touchpoint_ingest_requests_total{source="freeswitch",status="401"} 1.0' in metrics

#!/usr/bin/env python3
"""Sends one signed call event to Touchpoint's generic feed. Standard library only: copy it into your PBX
integration as a starting point.

    python3 send_generic_call.py --url http://127.0.0.1:8080/webhooks/generic --secret dev-generic-secret \\
        --call-id demo-1 --event ended --from +14155550123 --to +14155550100 --status missed

Signature (docs/generic-feed.md): X-Touchpoint-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
Retry on 503 after the Retry-After seconds, on network errors too; the same event is never counted twice."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8080/webhooks/generic")
    parser.add_argument("--secret", default="dev-generic-secret")
    parser.add_argument("--call-id", default=f"demo-{int(time.time())}")
    parser.add_argument("--event", default="ended", choices=["initiated", "ringing", "answered", "ended"])
    parser.add_argument("--direction", default="inbound", choices=["inbound", "outbound", "internal"])
    parser.add_argument("--from", dest="from_", default="+14155550123")
    parser.add_argument("--to", default="+14155550100")
    parser.add_argument("--status", default=None)
    parser.add_argument("--duration", type=int, default=None)
    parser.add_argument("--agent", default=None)
    args = parser.parse_args()

    event = {
        "call_id": args.call_id,
        "event": args.event,
        "direction": args.direction,
        "occurred_at": datetime.now(UTC).isoformat(),
        "from": args.from_,
        "to": args.to,
    }
    if args.status:
        event["status"] = args.status
    if args.duration is not None:
        event["duration_s"] = args.duration
    if args.agent:
        event["agent"] = args.agent
    body = json.dumps(event).encode()
    request = urllib.request.Request(
        args.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Touchpoint-Signature": sign(args.secret, int(time.time()), body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            print(response.status, response.read().decode())
            return 0
    except urllib.error.HTTPError as exc:
        print(exc.code, exc.read().decode(), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

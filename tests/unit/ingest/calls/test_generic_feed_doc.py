"""The worked example of docs/generic-feed.md verifies with the documented secret, so the doc stays true."""

from __future__ import annotations

import re
from pathlib import Path

from services.ingest.calls.generic import GenericCallPayload, generic_event_id, verify_generic

DOC = Path(__file__).resolve().parents[4] / "docs" / "generic-feed.md"


def _block_after(marker: str, text: str) -> str:
    match = re.search(re.escape(marker) + r"\n```[a-z]*\n(.*?)\n```", text, re.DOTALL)
    assert match, f"{marker} block missing from {DOC.name}"
    return match.group(1)


def test_worked_example_signature_verifies() -> None:
    text = DOC.read_text()
    body = _block_after("<!-- example-body -->", text).encode()
    header = _block_after("<!-- example-signature -->", text).removeprefix("X-Touchpoint-Signature: ")
    timestamp = verify_generic(b"dev-generic-secret", header, body, now=1795687200, tolerance_s=300)
    assert timestamp == 1795687200
    assert generic_event_id(GenericCallPayload.model_validate_json(body)) == "generic:pbx1-7731"

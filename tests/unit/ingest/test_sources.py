"""The source registry is the one description of each webhook: its secrets are real settings, and the OpenAPI
document shows exactly its routes, methods and content types."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from services.ingest.http.webhook import Webhook
from services.ingest.openapi import build_openapi
from services.ingest.settings import IngestSettings
from services.ingest.sources import SOURCES

WEBHOOKS = {path: item for path, item in build_openapi()["paths"].items() if path.startswith("/webhooks/")}


def test_names_and_routes_are_unique() -> None:
    assert len({s.name for s in SOURCES}) == len({s.route for s in SOURCES}) == len(SOURCES)


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
def test_the_403_names_the_variables_that_configure_the_source(
    source: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    detail = source.not_configured().detail
    for field in source.secrets:
        variable = f"TOUCHPOINT_{field.upper()}"
        assert variable in detail
        monkeypatch.setenv(variable, "configured-by-the-operator")
        value = getattr(IngestSettings(), field)
        assert (value.get_secret_value() if isinstance(value, SecretStr) else value) == "configured-by-the-operator"


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
def test_the_document_shows_the_registry(source: Webhook) -> None:
    item = WEBHOOKS[source.path]
    assert {m.upper() for m in item} == set(source.methods)
    for operation in item.values():
        if "requestBody" in operation:
            assert set(operation["requestBody"]["content"]) == set(source.content_types)
    assert set(WEBHOOKS) == {s.path for s in SOURCES}

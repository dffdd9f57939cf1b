"""The company facts are read once, the same way, by ingest and the classifier."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.classifier.settings import PolicySettings
from services.ingest.settings import IngestSettings
from services.runtime.company import CompanySettings, is_our_address


def test_own_numbers_are_stored_in_e164_whatever_way_they_were_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_DEFAULT_REGION", "de")
    monkeypatch.setenv("TOUCHPOINT_OWN_NUMBERS", " 030 123456, +49 30 123456 ,,+1 (415) 555-0100")
    settings = CompanySettings()
    assert settings.default_region == "DE"
    assert settings.own_numbers == ("+4930123456", "+14155550100")


def test_an_unreadable_own_number_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_OWN_NUMBERS", "+14155550100,reception")
    with pytest.raises(ValidationError, match="reception"):
        CompanySettings()


def test_mail_domains_are_lower_cased_without_at(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_MAIL_DOMAINS", "@Example.com, sales.example.org")
    assert CompanySettings().mail_domains == ("example.com", "sales.example.org")


def test_ingest_and_classifier_agree_on_what_is_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_OWN_NUMBERS", "415 555 0100")
    monkeypatch.setenv("TOUCHPOINT_MAIL_DOMAINS", "example.com")
    monkeypatch.setenv("TOUCHPOINT_ID_KEY", "test-touchpoint-id-key")
    ingest, policy = IngestSettings(), PolicySettings().policy()
    assert set(ingest.own_numbers) == policy.own_numbers == {"+14155550100"}
    for address in ("ann@example.com", "ann@Mail.Example.com", "x@other.org", "x@notexample.com"):
        assert is_our_address(address, ingest.mail_domains) == policy.is_own_mail(address), address
    assert policy.is_own_mail("ann@mail.example.com")
    assert not policy.is_own_mail("x@notexample.com")


def test_an_unknown_time_zone_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValidationError):
        CompanySettings()

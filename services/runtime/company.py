"""The company's facts every service reads the same way (`TOUCHPOINT_*`): its own numbers and DIDs, its mail
domains, the region for numbers written without a country code, and its time zone. One settings class, so ingest
and the classifier cannot disagree about what is "ours"."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def split_csv(value: object) -> object:
    """`a, b,,c` → `("a", "b", "c")`; lists and tuples pass through."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def is_our_address(address: str, domains: Collection[str]) -> bool:
    """Our domain, or a subdomain of it (mail.example.com is ours when example.com is)."""
    domain = domain_of(address)
    return any(domain == own or domain.endswith("." + own) for own in domains)


class CompanySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_", extra="ignore")

    default_region: str = "US"
    timezone: str = "UTC"
    own_numbers: Annotated[tuple[str, ...], NoDecode] = ()
    mail_domains: Annotated[tuple[str, ...], NoDecode] = ()

    @field_validator("own_numbers", mode="before")
    @classmethod
    def _split_numbers(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("mail_domains", mode="before")
    @classmethod
    def _split_domains(cls, value: object) -> object:
        value = split_csv(value)
        if isinstance(value, list | tuple):
            return tuple(str(part).strip().lstrip("@").lower() for part in value if str(part).strip())
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)  # at start-up, not on the first event
        except (ZoneInfoNotFoundError, ValueError) as exc:  # the former is a KeyError: pydantic would not catch it
            raise ValueError(f"unknown time zone {value!r}: use an IANA name such as Europe/Berlin") from exc
        return value

    @field_validator("default_region")
    @classmethod
    def _upper_region(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _own_numbers_in_e164(self) -> Self:
        """Own numbers compare with normalized counterparts, so they are stored in E.164; one that cannot be read
        stops start-up instead of silently never matching."""
        normalized = []
        for raw in self.own_numbers:
            try:
                number = phonenumbers.parse(raw, self.default_region)
            except phonenumbers.NumberParseException as exc:
                raise ValueError(f"TOUCHPOINT_OWN_NUMBERS: {raw!r} is not a phone number ({exc})") from exc
            if not phonenumbers.is_possible_number(number):
                raise ValueError(f"TOUCHPOINT_OWN_NUMBERS: {raw!r} is not a possible phone number")
            normalized.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        self.own_numbers = tuple(dict.fromkeys(normalized))
        return self

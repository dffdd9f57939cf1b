"""Phone number normalization (pure): raw provider values to E.164 with `phonenumbers`, extensions apart."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from schemas.events import PhoneAddress

_EXTENSION_ONLY = re.compile(r"^\d{1,6}$")
_SIP_URI = re.compile(r"^(?:sips?|tel):([^@;]+)(?:@.*)?$", re.IGNORECASE)
MAX_RAW = 200


def is_extension(raw: str) -> bool:
    return bool(_EXTENSION_ONLY.match(raw.strip()))


@lru_cache(maxsize=65_536)  # pure and called for every party of every event; the same numbers recur all day
def normalize_phone(raw: str | None, default_region: str) -> PhoneAddress | None:
    """Up to 6 digits is an internal extension, not a number; a number without a country code is read in
    `default_region`. The raw value is always kept."""
    if raw is None:
        return None
    value = raw.strip()[:MAX_RAW]
    if not value:
        return None
    if is_extension(value):
        return PhoneAddress(raw=value, extension=value)
    candidate = value
    sip = _SIP_URI.match(candidate)
    if sip:
        candidate = sip.group(1)
        if is_extension(candidate):
            return PhoneAddress(raw=value, extension=candidate)
    # Providers often send international numbers without the plus (e.g. Mango, Zadarma: 79161234567).
    digits = re.sub(r"[^\d+]", "", candidate)
    try:
        parsed = phonenumbers.parse(candidate, default_region)
        if not phonenumbers.is_possible_number(parsed) and digits.isdigit() and len(digits) > 10:
            parsed = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return PhoneAddress(raw=value)
    if not phonenumbers.is_possible_number(parsed):
        return PhoneAddress(raw=value)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    extension = parsed.extension or None
    return PhoneAddress(raw=value, e164=e164, extension=extension[:20] if extension else None)

"""One rule for every secret a source is verified with: blank is unset, a secret has at least `MIN_SECRET_LENGTH`
characters, and the public development values (deploy/dev.env) and placeholders are refused outside development."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import SecretStr

from services.runtime.errors import StartupRefused

# Providers' own secrets are longer (Twilio auth tokens and Mailgun signing keys 32 hex characters, Mango Office
# keys and salts 32, Zadarma secrets 20); a shared secret we choose (generic feed, basic-auth passwords) should be
# as hard to guess. User names of basic auth (FreeSWITCH, Postmark) are not secrets and not held to this.
MIN_SECRET_LENGTH = 16

# The secrets of deploy/dev.env: public, in the repository. A test keeps this set equal to the file's.
DEVELOPMENT_SECRETS = frozenset(
    {
        "dev-generic-secret",
        "dev-twilio-auth-token",
        "dev-mango-api-key",
        "dev-mango-api-salt",
        "dev-zadarma-secret",
        "dev-freeswitch-password",
        "dev-mailgun-signing-key",
        "dev-postmark-password",
        "dev-touchpoint-id-key",
    }
)

# What manifests and examples put where a secret goes: CHANGE-ME (deploy/k8s), replace-me, <secret>, ${SECRET},
# and one character repeated (xxxx…, ****…).
_PLACEHOLDER = re.compile(r"change[-_ .]?me|replace[-_ .]?me|placeholder|^<.*>$|^\$\{.*\}$|^(.)\1*$", re.IGNORECASE)


class SecretRefused(StartupRefused, ValueError):
    """A configured secret must not be used; the message names the variable and why, never the value. A
    ValueError too, so a settings model's validator reports it like any other bad setting."""


def blank_is_unset(value: object) -> object:
    """`TOUCHPOINT_X=` (empty or spaces) leaves the source unconfigured (refused, 403), never open to an empty key."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str) and not value.strip():
        return None
    return value


def secret_problem(value: str, *, development: bool) -> str | None:
    """Why `value` may not be used as a secret, or None when it may."""
    if len(value) < MIN_SECRET_LENGTH:
        return f"has {len(value)} characters; a secret needs at least {MIN_SECRET_LENGTH}"
    if development:
        return None
    if value in DEVELOPMENT_SECRETS:
        return (
            "is the public development value of deploy/dev.env; set a secret of your own"
            " (only a process marked TOUCHPOINT_ENV=development, as `make run` does, accepts it)"
        )
    if _PLACEHOLDER.search(value):
        return "is a placeholder (like CHANGE-ME in deploy/k8s); set the real secret"
    return None


def refuse_unusable_secrets(secrets: Mapping[str, SecretStr | None], *, development: bool) -> None:
    """Raises one SecretRefused naming every variable in `secrets` (variable name → value, None when unset) that
    may not be used, with the reason; unset ones are fine (their source answers 403)."""
    problems = [
        f"{name} {problem}"
        for name, secret in secrets.items()
        if secret is not None and (problem := secret_problem(secret.get_secret_value(), development=development))
    ]
    if problems:
        raise SecretRefused("; ".join(problems))

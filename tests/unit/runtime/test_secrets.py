"""One secret rule for every source, read from the environment as a process reads it: blank is unset, short is
refused, deploy/dev.env's values and deploy/k8s's placeholders are refused unless the process is development,
and no error repeats the value."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from services.ingest.settings import SECRET_FIELDS, IngestSettings
from services.runtime.secrets import DEVELOPMENT_SECRETS, MIN_SECRET_LENGTH, secret_problem

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
SECRET_VARS = [f"TOUCHPOINT_{name.upper()}" for name in SECRET_FIELDS]
# The provider formats of /work/shared/reference/webhook_formats.md: real secrets must pass.
REAL_SECRETS = {
    "twilio auth token (32 hex)": "9f86d081884c7d659a2feaa0c55ad015",
    "mailgun signing key (legacy key-)": "key-3ax6xnjp29jd6fds4gc373sgvjxteol0",
    "mailgun signing key (32 hex)": "a4e5c8e3f2b14d0e9c7b6a5f4e3d2c1b",
    "mango api key (32)": "8v7l5fuqobzckxdj2ks0gq9bp1q3w4tn",
    "zadarma api secret (20)": "8a8e91d214fb728889c7",
    "a chosen password": "correct horse battery staple",
}


def dev_env() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / "dev.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in [*SECRET_VARS, "TOUCHPOINT_ENV", "TOUCHPOINT_FREESWITCH_USER", "TOUCHPOINT_POSTMARK_USER"]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def refusal(env: pytest.MonkeyPatch, name: str, value: str) -> str:
    env.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        IngestSettings()
    message = str(refused.value)
    assert value not in message, "an error must never repeat the secret"
    return message


@pytest.mark.parametrize("name", SECRET_VARS)
@pytest.mark.parametrize("blank", ["", "   "], ids=["empty", "spaces"])
def test_a_blank_secret_leaves_its_source_unset(clean_env: pytest.MonkeyPatch, name: str, blank: str) -> None:
    clean_env.setenv(name, blank)
    assert getattr(IngestSettings(), name.removeprefix("TOUCHPOINT_").lower()) is None


@pytest.mark.parametrize("name", SECRET_VARS)
@pytest.mark.parametrize("development", [False, True], ids=["production", "development"])
def test_a_short_secret_is_refused_everywhere(clean_env: pytest.MonkeyPatch, name: str, development: bool) -> None:
    if development:
        clean_env.setenv("TOUCHPOINT_ENV", "development")
    message = refusal(clean_env, name, "s3cret-too-shrt")
    assert f"{name} has 15 characters; a secret needs at least 16" in message


@pytest.mark.parametrize("name", SECRET_VARS)
def test_a_development_value_is_refused_in_production_and_accepted_in_development(
    clean_env: pytest.MonkeyPatch, name: str
) -> None:
    value = dev_env()[name]
    message = refusal(clean_env, name, value)
    assert f"{name} is the public development value of deploy/dev.env" in message
    clean_env.setenv("TOUCHPOINT_ENV", "development")
    assert getattr(IngestSettings(), name.removeprefix("TOUCHPOINT_").lower()).get_secret_value() == value


@pytest.mark.parametrize("name", SECRET_VARS)
@pytest.mark.parametrize("placeholder", ["CHANGE-ME", "please-change-me-before-deploying", "x" * 32])
def test_a_placeholder_is_refused(clean_env: pytest.MonkeyPatch, name: str, placeholder: str) -> None:
    message = refusal(clean_env, name, placeholder)
    assert name in message


@pytest.mark.parametrize("name", SECRET_VARS)
@pytest.mark.parametrize("value", list(REAL_SECRETS.values()), ids=list(REAL_SECRETS))
def test_real_provider_secrets_pass(clean_env: pytest.MonkeyPatch, name: str, value: str) -> None:
    clean_env.setenv(name, value)
    assert getattr(IngestSettings(), name.removeprefix("TOUCHPOINT_").lower()).get_secret_value() == value


def test_basic_auth_user_names_are_not_secrets(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("TOUCHPOINT_FREESWITCH_USER", "fs")
    clean_env.setenv("TOUCHPOINT_POSTMARK_USER", "")
    settings = IngestSettings()
    assert (settings.freeswitch_user, settings.postmark_user) == ("fs", None)


def test_every_refused_secret_is_named_at_once(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("TOUCHPOINT_GENERIC_SECRET", "short")
    message = refusal(clean_env, "TOUCHPOINT_POSTMARK_PASSWORD", "dev-postmark-password")
    assert "TOUCHPOINT_GENERIC_SECRET has 5 characters" in message
    assert "TOUCHPOINT_POSTMARK_PASSWORD is the public development value" in message


def test_the_development_values_are_those_of_dev_env() -> None:
    values = dev_env()
    # The sources' secrets and the classifier's id key (services/classifier/settings.py).
    assert {values[name] for name in [*SECRET_VARS, "TOUCHPOINT_ID_KEY"]} == DEVELOPMENT_SECRETS
    assert "TOUCHPOINT_ENV" not in values  # make run marks development itself; the file may be copied elsewhere


def test_the_kubernetes_secret_placeholders_are_refused() -> None:
    docs = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / "touchpoint.yaml").read_text()) if d]
    data = next(d for d in docs if d["kind"] == "Secret")["stringData"]
    placeholders = {k: v for k, v in data.items() if k in SECRET_VARS}
    assert placeholders, "the manifest shows where each secret goes"
    for name, value in placeholders.items():
        assert secret_problem(value, development=False), name


def test_the_minimum_is_sixteen_characters() -> None:
    assert MIN_SECRET_LENGTH == 16
    assert secret_problem("a" * 15 + "b", development=False) is None
    assert secret_problem("ab" * 7 + "c", development=False) == "has 15 characters; a secret needs at least 16"

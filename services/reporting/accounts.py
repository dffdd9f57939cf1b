"""Accounts, sessions and personal API tokens: reporting's own tables (the one thing it writes).

Passwords are argon2id hashes (argon2-cffi); session and API tokens are random, handed out once and stored only as
SHA-256, so a copy of the tables opens nothing. A deactivated account cannot log in, and its sessions and tokens
are deleted (and ignored if any were left: every lookup joins on `active`)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.reporting.permissions import ROLES, Role
from services.runtime.errors import TouchpointError
from services.runtime.postgres import Connection

_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the login name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
MIN_PASSWORD_LENGTH = 8


class AccountError(TouchpointError):
    """An account cannot be created or changed as asked (the message says why, without secrets)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: an active account."""

    user_id: uuid.UUID
    email: str
    name: str | None
    role: Role
    manager_id: str | None
    team: str | None

    @property
    def actor_id(self) -> str:
        """Who the audit trail names: a manager by their manager id, anyone else by their login name."""
        return self.manager_id or self.email


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


_PRINCIPAL = "u.id AS user_id, u.email, u.name, u.role, u.manager_id, u.team"


def _principal(row: asyncpg.Record) -> Principal:
    return Principal(row["user_id"], row["email"], row["name"], row["role"], row["manager_id"], row["team"])


def check_new_user(role: str, manager_id: str | None, team: str | None) -> Role:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if role == "manager" and not manager_id:
        raise AccountError("a manager account needs --manager-id (the manager it works as)")
    if role == "supervisor" and not team:
        raise AccountError("a supervisor account needs --team (the team it supervises)")
    if role not in ("manager", "supervisor") and manager_id:
        raise AccountError("only a manager account has a manager id")
    return role


async def add_user(
    db: Connection | asyncpg.Pool,
    email: str,
    role: str,
    password: str,
    *,
    manager_id: str | None = None,
    team: str | None = None,
    name: str | None = None,
) -> Principal:
    checked = check_new_user(role, manager_id, team)
    address = email.strip().lower()
    if "@" not in address or len(address) > 320:
        raise AccountError("the login name must be an email address")
    try:
        row = await db.fetchrow(
            f"""INSERT INTO users AS u (id, email, name, role, manager_id, team, password_hash)
                VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_PRINCIPAL}""",  # noqa: S608 - fixed column list
            uuid.uuid4(),
            address,
            name,
            checked,
            manager_id,
            team,
            hash_password(password),
        )
    except asyncpg.UniqueViolationError as exc:
        what = "an active account for that manager id" if "manager" in str(exc) else "an account with that email"
        raise AccountError(f"there is already {what}") from exc
    assert row is not None
    return _principal(row)


async def deactivate_user(db: Connection | asyncpg.Pool, email: str) -> bool:
    """False if there is no such active account. Its sessions and tokens go with it."""
    row = await db.fetchrow(
        "UPDATE users SET active = false, deactivated_at = now() WHERE email = $1 AND active RETURNING id",
        email.strip().lower(),
    )
    if row is None:
        return False
    await db.execute("DELETE FROM sessions WHERE user_id = $1", row["id"])
    await db.execute("DELETE FROM api_tokens WHERE user_id = $1", row["id"])
    return True


async def list_users(db: Connection | asyncpg.Pool) -> list[asyncpg.Record]:
    return await db.fetch(
        """SELECT id, email, name, role, manager_id, team, active, created_at, deactivated_at
           FROM users ORDER BY active DESC, role, email"""
    )


async def issue_api_token(db: Connection | asyncpg.Pool, email: str) -> str:
    row = await db.fetchrow("SELECT id FROM users WHERE email = $1 AND active", email.strip().lower())
    if row is None:
        raise AccountError("no active account with that email")
    token = "tp_" + secrets.token_urlsafe(32)
    await db.execute("INSERT INTO api_tokens (token_hash, user_id) VALUES ($1, $2)", hash_token(token), row["id"])
    return token


async def principal_for_token(db: Connection | asyncpg.Pool, token: str) -> Principal | None:
    row = await db.fetchrow(
        f"""UPDATE api_tokens t SET last_used_at = now() FROM users u
            WHERE t.token_hash = $1 AND u.id = t.user_id AND u.active
            RETURNING {_PRINCIPAL}""",  # noqa: S608 - fixed column list
        hash_token(token),
    )
    return _principal(row) if row is not None else None


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    csrf_token: str


async def principal_for_session(db: Connection | asyncpg.Pool, token: str, now: datetime) -> Session | None:
    row = await db.fetchrow(
        f"""SELECT {_PRINCIPAL}, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id
            WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active""",  # noqa: S608 - fixed column list
        hash_token(token),
        now,
    )
    return Session(_principal(row), row["csrf_token"]) if row is not None else None


async def open_session(db: Connection | asyncpg.Pool, user_id: uuid.UUID, now: datetime, ttl: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    await db.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4)",
        hash_token(token),
        user_id,
        secrets.token_urlsafe(24),
        now + ttl,
    )
    await db.execute("DELETE FROM sessions WHERE expires_at < $1", now)
    return token


async def close_session(db: Connection | asyncpg.Pool, token: str) -> None:
    await db.execute("DELETE FROM sessions WHERE token_hash = $1", hash_token(token))


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """At most `per_email` failures for one login name and `per_client` from one address within `window`."""

    per_email: int = 5
    per_client: int = 30
    window: timedelta = timedelta(minutes=15)


async def login_throttled(
    db: Connection | asyncpg.Pool, email: str, client: str, now: datetime, limits: LoginLimits
) -> bool:
    row = await db.fetchrow(
        """SELECT count(*) FILTER (WHERE email = $1) AS by_email, count(*) FILTER (WHERE client = $2) AS by_client
           FROM login_failures WHERE failed_at > $3 AND (email = $1 OR client = $2)""",
        email,
        client,
        now - limits.window,
    )
    assert row is not None
    return bool(row["by_email"] >= limits.per_email or row["by_client"] >= limits.per_client)


async def log_in(
    db: Connection | asyncpg.Pool, email: str, password: str, client: str, now: datetime, limits: LoginLimits
) -> Principal | None:
    """The account if the password is right (failures are recorded for throttling); the caller checks
    `login_throttled` first."""
    address = email.strip().lower()
    row = await db.fetchrow(
        f"SELECT {_PRINCIPAL}, u.password_hash FROM users u WHERE u.email = $1 AND u.active",  # noqa: S608
        address,
    )
    if password_matches(row["password_hash"] if row else None, password):
        assert row is not None
        await db.execute("DELETE FROM login_failures WHERE email = $1", address)
        return _principal(row)
    await db.execute("INSERT INTO login_failures (email, client, failed_at) VALUES ($1, $2, $3)", address, client, now)
    await db.execute("DELETE FROM login_failures WHERE failed_at < $1", now - limits.window)
    return None

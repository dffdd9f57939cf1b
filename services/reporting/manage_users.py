"""`python -m services.reporting users ...`: accounts from the command line.

    users add EMAIL --role ROLE [--manager-id ID] [--team TEAM] [--name NAME]   (password on standard input)
    users token EMAIL        prints a new personal API token, once
    users deactivate EMAIL   no login, no session, no token from now on; a manager is given no new work
    users list
    users seed FILE          adds the accounts of a JSON file that are missing (password on standard input)

Without DATABASE_URL it reaches the database of `make run` (embedded PostgreSQL on 127.0.0.1:55432, or
TOUCHPOINT_PG_PORT); deactivating a manager produces to its Kafka (KAFKA_BOOTSTRAP_SERVERS, else 127.0.0.1:9092)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from schemas.actions import Action
from schemas.topics import ACTIONS
from services.reporting.accounts import AccountError, add_user, issue_api_token, list_users
from services.reporting.permissions import ROLES
from services.reporting.retire_managers import deactivate
from services.runtime.errors import KafkaUnavailable
from services.runtime.kafka import DurableProducer, ProducerLimits
from services.runtime.postgres import open_migrated_pool
from services.runtime.settings import DatabaseSettings, KafkaSettings

ACTOR = "users-command"  # the audit's actor for changes made with this command


def database_settings(environ: dict[str, str]) -> DatabaseSettings:
    if "DATABASE_URL" in environ:
        return DatabaseSettings()
    port = environ.get("TOUCHPOINT_PG_PORT", "55432")
    return DatabaseSettings(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/touchpoint", TOUCHPOINT_DB_POOL_MIN=0)


def read_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("password: ")
    return sys.stdin.readline().rstrip("\r\n")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m services.reporting users", description="Touchpoint accounts")
    sub = p.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add an account (password read from standard input)")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--manager-id")
    add.add_argument("--team")
    add.add_argument("--name")
    sub.add_parser("token", help="print a new personal API token").add_argument("email")
    sub.add_parser("deactivate", help="deactivate an account").add_argument("email")
    sub.add_parser("list", help="list accounts")
    sub.add_parser("seed", help="add the missing accounts of a JSON file").add_argument("file", type=Path)
    return p


async def _seed(pool: asyncpg.Pool, entries: Any, password: str) -> list[str]:
    if not isinstance(entries, list):
        raise AccountError("the accounts file must be a JSON list")
    added = []
    for entry in entries:
        if await pool.fetchval("SELECT 1 FROM users WHERE email = $1", str(entry.get("email", "")).lower()):
            continue
        await add_user(
            pool,
            entry["email"],
            entry["role"],
            password,
            manager_id=entry.get("manager_id"),
            team=entry.get("team"),
            name=entry.get("name"),
        )
        added.append(entry["email"])
    return added


async def _deactivate(pool: asyncpg.Pool, email: str, kafka: KafkaSettings) -> bool:
    """The producer is built only here: the other commands need no Kafka."""
    producer = DurableProducer(kafka, ProducerLimits(), client_id=f"{kafka.client_id_prefix}-users-command")

    async def send(action: Action) -> None:
        await producer.send(kafka.topics(ACTIONS), action.kafka_key(), action.model_dump_json(by_alias=True).encode())

    stamp = {"event_id": f"reporting:{uuid.uuid4()}", "actor_id": ACTOR, "occurred_at": datetime.now(UTC)}
    try:
        return await deactivate(pool, email, send, stamp)
    finally:
        await producer.stop()


async def run(args: argparse.Namespace, settings: DatabaseSettings, kafka: KafkaSettings) -> int:
    out = sys.stdout.write
    pool = await open_migrated_pool(settings)
    try:
        match args.command:
            case "add":
                user = await add_user(
                    pool,
                    args.email,
                    args.role,
                    read_password(),
                    manager_id=args.manager_id,
                    team=args.team,
                    name=args.name,
                )
                out(f"added {user.email} ({user.role})\n")
            case "token":
                out(await issue_api_token(pool, args.email) + "\n")
            case "deactivate":
                if not await _deactivate(pool, args.email, kafka):
                    sys.stderr.write(f"no active account {args.email}\n")
                    return 1
                out(f"deactivated {args.email.lower()}\n")
            case "list":
                for row in await list_users(pool):
                    extra = " ".join(f"{k}={row[k]}" for k in ("manager_id", "team") if row[k] is not None)
                    state = "active" if row["active"] else "deactivated"
                    out(f"{row['email']:32} {row['role']:10} {state:11} {extra}\n")
            case "seed":
                added = await _seed(pool, json.loads(args.file.read_text()), read_password())
                out(f"added {len(added)} accounts from {args.file}\n")
    finally:
        await pool.close()
    return 0


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        return asyncio.run(run(args, database_settings(dict(os.environ)), KafkaSettings()))
    except AccountError as exc:
        sys.stderr.write(f"cannot {args.command}: {exc}\n")
        return 1
    except KafkaUnavailable as exc:
        sys.stderr.write(
            f"cannot {args.command}: Kafka did not take the manager's deactivation, nothing changed: {exc}\n"
        )
        return 1
    except (OSError, asyncpg.PostgresError, json.JSONDecodeError) as exc:
        sys.stderr.write(f"cannot {args.command}: {exc}\n")
        return 1

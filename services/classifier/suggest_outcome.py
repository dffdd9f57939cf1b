"""The outcome a person most likely confirms for an interaction, with the reasons in words (pure).

The classifier stores the suggestion with the interaction; the manager's queue offers it as the one-click
answer. A suggestion is never applied by itself: only a person's `set_outcome` sets the outcome."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.actions import Outcome
from services.classifier.batch_state import Interaction

# A possible wrong number or spam call waits for a person's verdict (flag "pending"), or is known (confirmed).
_FLAGGED = frozenset({"pending", "confirmed"})


@dataclass(frozen=True, slots=True)
class InteractionFacts:
    """What the suggestion depends on: the interaction's kind and automatic status, the flag, and a few facts."""

    kind: str  # call | email
    auto_status: str | None
    direction: str | None = None
    flag: str | None = None
    talk_s: int | None = None
    spam_reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Suggestion:
    outcome: Outcome
    reasons: tuple[str, ...]


def _talked(seconds: int | None) -> str:
    if seconds is None:
        return "the call was answered"
    minutes, rest = divmod(max(seconds, 0), 60)
    if minutes:
        return f"the call was answered; talked {minutes} min {rest:02d} s"
    return f"the call was answered; talked {rest} s"


def suggest_outcome(facts: InteractionFacts) -> Suggestion | None:
    """None while there is nothing to suggest (a call still ringing, an unknown status)."""
    if facts.kind == "call":
        return _suggest_call(facts)
    if facts.kind == "email":
        return _suggest_email(facts)
    return None


def refresh_suggestion(ix: Interaction) -> None:
    """Stores on the interaction the suggestion its current state implies: run on every interaction a batch
    loaded, after its events and actions, so a later change (a flag, a verdict, a refold) moves it too."""
    suggestion = None
    if not ix.internal and (ix.kind == "email" or ix.phase == "ended"):
        facts = InteractionFacts(ix.kind, ix.auto_status, ix.direction, ix.flag, ix.talk_s, ix.spam_reasons)
        suggestion = suggest_outcome(facts)
    ix.suggested_outcome = suggestion.outcome if suggestion else None
    ix.suggestion_reasons = suggestion.reasons if suggestion else ()


def _suggest_call(facts: InteractionFacts) -> Suggestion | None:
    if facts.flag in _FLAGGED:
        evidence = facts.spam_reasons or ("the number looks like a wrong number or spam",)
        return Suggestion("wrong_number", ("flagged as a possible wrong number", *evidence))
    inbound = facts.direction == "inbound"
    match facts.auto_status:
        case "answered":
            return Suggestion("connected", (_talked(facts.talk_s),))
        case "missed":
            why = "missed inbound call; a callback task is open" if inbound else "nobody picked up"
            return Suggestion("no_answer", (why,))
        case "abandoned":
            return Suggestion("no_answer", ("the caller hung up before anyone answered",))
        case "voicemail":
            why = "the caller left a voicemail" if inbound else "the call went to voicemail"
            return Suggestion("left_voicemail", (why,))
        case "busy":
            return Suggestion("busy", ("the line was busy",))
        case "failed":
            return Suggestion("no_answer", ("the call failed to connect",))
    return None


def _suggest_email(facts: InteractionFacts) -> Suggestion | None:
    match facts.auto_status:
        case "received":
            return Suggestion("done", ("an email from the client arrived",))
        case "sent":
            return Suggestion("done", ("an email was sent to the client",))
        case "auto_reply":
            return Suggestion("done", ("an automatic reply (out of office); nothing to do",))
        case "bulk":
            return Suggestion("done", ("bulk or list mail; nothing to do",))
        case "bounce":
            return Suggestion("wrong_number", ("the mail bounced: the address does not work",))
    return None

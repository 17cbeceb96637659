"""Who gave feedback, as far as the feedback service may know it.

Anonymous feedback keeps no staff id. What links it to a person are keyed hashes (HMAC-SHA256
with ``ONRAMP_RESPONDENT_KEY_SECRET``): whoever holds the secret and a staff id can recompute
them (that is how a newer answer replaces an older one, and how submitters find their own
feedback), nobody else can invert them.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from dataclasses import dataclass

from services.feedback.domain.submission import Kind


@dataclass(frozen=True, slots=True)
class Staff:
    """A respondent known by staff id (HTTP submitters, named survey-tool answers)."""

    staff_id: str


@dataclass(frozen=True, slots=True)
class ToolRespondent:
    """A respondent known only by a survey tool's own pseudonym (``source`` is the tool)."""

    source: str
    key: str


@dataclass(frozen=True, slots=True)
class UnknownRespondent:
    """A survey tool named nobody: the answer stands alone (``external_id`` is the tool's id
    for it), so it never replaces, and is never replaced by, another answer."""

    source: str
    external_id: str


Respondent = Staff | ToolRespondent | UnknownRespondent


@dataclass(frozen=True, slots=True)
class Author:
    """What stored feedback says about who gave it."""

    staff_id: str | None
    respondent_key: str
    rollout_id: str
    kind: Kind
    anonymous: bool


@functools.lru_cache(maxsize=4096)  # a request asks for the same person's keys several times
def _digest(secret: bytes, *parts: str) -> str:
    # A JSON array is an unambiguous encoding: no choice of parts collides with another choice.
    message = json.dumps(parts, separators=(",", ":")).encode()  # ASCII: always encodable
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def person_key(secret: bytes, staff_id: str) -> str:
    """A pseudonym of a person across rollouts, used where the service must recognise someone
    without storing who they are (its directory projection, rate limits, idempotency keys)."""
    return _digest(secret, "person", staff_id)


def respondent_key(
    secret: bytes, respondent: Respondent, rollout_id: str, *, kind: Kind, anonymous: bool
) -> str:
    """Stable per respondent and rollout, and different for every rollout.

    Survey answers share one key whether named or anonymous, because a newer answer must replace
    the older one. Issues and comments get keys of their own, one for named and one for anonymous
    ones: otherwise an anonymous issue would carry the same key as the person's named feedback,
    and anyone reading both would know who wrote it.
    """
    scope = "survey" if kind == "survey" else ("case-anonymous" if anonymous else "case-named")
    match respondent:
        case Staff(staff_id):
            who: tuple[str, ...] = ("staff", staff_id)
        case ToolRespondent(source, key):
            who = ("tool", source, key)
        case UnknownRespondent(source, external_id):
            who = ("tool-answer", source, external_id)
    return _digest(secret, scope, rollout_id, *who)


def intake_respondent(
    source: str, *, staff_id: str | None, tool_key: str | None, external_id: str
) -> Respondent:
    """Who answered, from a survey tool's record: a staff id (named answers) links the answer to
    the same person's HTTP answers; otherwise the tool's own respondent key, if it sent one."""
    if staff_id is not None:
        return Staff(staff_id)
    if tool_key is not None:
        return ToolRespondent(source, tool_key)
    return UnknownRespondent(source, external_id)


def stored_staff_id(respondent: Respondent, *, anonymous: bool) -> str | None:
    """Anonymous feedback keeps no staff id anywhere."""
    if anonymous or not isinstance(respondent, Staff):
        return None
    return respondent.staff_id


def is_submitter(secret: bytes, staff_id: str, author: Author) -> bool:
    """Whether ``staff_id`` gave the feedback; for anonymous feedback, by recomputing its key."""
    if author.staff_id is not None:
        return hmac.compare_digest(author.staff_id, staff_id)
    if not author.anonymous:
        return False  # a named survey-tool answer without a staff id belongs to nobody here
    expected = respondent_key(
        secret, Staff(staff_id), author.rollout_id, kind=author.kind, anonymous=True
    )
    return hmac.compare_digest(expected, author.respondent_key)

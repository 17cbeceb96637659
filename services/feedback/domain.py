"""Feedback rules: pure functions, no I/O."""

from __future__ import annotations

import hashlib
import hmac


def respondent_key(secret: bytes, staff_id: str, rollout_id: str) -> str:
    """A stable per-person, per-rollout pseudonym that reveals no identity without the secret."""
    message = f"{rollout_id}\x1f{staff_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def stored_staff_id(staff_id: str, *, anonymous: bool) -> str | None:
    """Anonymous feedback keeps no staff id anywhere."""
    return None if anonymous else staff_id

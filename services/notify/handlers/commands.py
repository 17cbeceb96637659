"""What the API's commands and queries do, beyond parsing and formatting."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from services.notify.domain import escalation, webhooks
from services.notify.handlers import case_status
from services.notify.repository import cases as case_repo
from services.notify.repository import directory, inbox
from services.notify.schemas import PolicyIn, PreferencesDoc
from services.notify.settings import Deps
from shared.auth import Principal
from shared.db import Conn

CASE_ROLES = ("admin", "approver", "it_support")


class Invalid(ValueError):
    """A command the rules refuse; ``problems`` say why (the API answers 422)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class NotAllowed(Exception):
    pass


# --- preferences --------------------------------------------------------------------------


async def preferences(conn: Conn, staff_id: str) -> dict[str, Any]:
    stored = await directory.preferences(conn, staff_id)
    doc = PreferencesDoc.model_validate(stored["prefs"]) if stored else PreferencesDoc()
    return _preferences_out(doc, stored["updated_at"] if stored else None)


async def set_preferences(
    conn: Conn, deps: Deps, staff_id: str, doc: PreferencesDoc
) -> dict[str, Any]:
    allowed = deps.settings.webhook_allowed_hosts
    problems = [
        f"webhooks.{channel}: {problem}"
        for channel, url in sorted(doc.webhooks.items())
        if (problem := webhooks.url_problem(url, allowed)) is not None
    ]
    if problems:
        raise Invalid(problems)
    updated_at = await directory.put_preferences(conn, staff_id, doc.model_dump(mode="json"))
    return _preferences_out(doc, updated_at)


def _preferences_out(doc: PreferencesDoc, updated_at: Any) -> dict[str, Any]:
    channels = ["inbox", *sorted(doc.enabled())]
    return {**doc.model_dump(), "effective_channels": channels, "updated_at": updated_at}


# --- escalation policies ------------------------------------------------------------------


def check_policy_name(name: str) -> None:
    if name not in escalation.POLICY_NAMES:
        known = ", ".join(escalation.POLICY_NAMES)
        raise LookupError(f"no case kind uses a policy named {name!r}; known: {known}")


async def policies(
    conn: Conn, names: tuple[str, ...] = escalation.POLICY_NAMES
) -> list[dict[str, Any]]:
    stored = await case_repo.stored_policies(conn, names)
    found = []
    for name in names:
        row = stored.get(name)
        policy = (
            escalation.from_json(name, row["policy"]) if row else escalation.DEFAULT_POLICIES[name]
        )
        found.append(
            {
                **PolicyIn.from_domain(policy),
                "name": name,
                "version": row["version"] if row else 0,
                "is_default": row is None,
                "updated_at": row["updated_at"] if row else None,
                "updated_by": row["updated_by"] if row else None,
            }
        )
    return found


async def set_policy(
    conn: Conn, deps: Deps, name: str, body: PolicyIn, actor: str
) -> dict[str, Any]:
    """Store a policy; cases already open keep the policy they opened with."""
    check_policy_name(name)
    policy = body.to_domain(name)
    if problems := escalation.problems(policy):
        raise Invalid(problems)
    await case_repo.put_policy(conn, policy, actor, deps.clock())
    (stored,) = await policies(conn, (name,))
    return stored


# --- cases --------------------------------------------------------------------------------


async def _may_act(conn: Conn, case_id: UUID, principal: Principal) -> None:
    """Case roles may act on any case; anyone a case paged may act on that case."""
    if principal.has_any(*CASE_ROLES) or await inbox.was_notified(conn, case_id, principal.sub):
        return
    raise NotAllowed


async def case_detail(conn: Conn, case_id: UUID, principal: Principal) -> dict[str, Any] | None:
    found = await case_repo.get_case(conn, case_id)
    if found is None:
        return None
    await _may_act(conn, case_id, principal)
    return {**found, "log": await case_repo.case_log(conn, case_id)}


async def acknowledge(
    conn: Conn, deps: Deps, case_id: UUID, principal: Principal
) -> dict[str, Any] | None:
    if await case_repo.get_case(conn, case_id) is None:
        return None
    await _may_act(conn, case_id, principal)
    await case_status.acknowledge(conn, deps, case_id, actor=principal.sub, at=deps.clock())
    return await case_detail(conn, case_id, principal)


async def close(
    conn: Conn, deps: Deps, case_id: UUID, principal: Principal, reason: str
) -> dict[str, Any] | None:
    if await case_repo.get_case(conn, case_id) is None:
        return None
    await _may_act(conn, case_id, principal)
    await case_status.close(
        conn, deps, case_id, actor=principal.sub, at=deps.clock(), reason=reason
    )
    return await case_detail(conn, case_id, principal)

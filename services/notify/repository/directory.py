"""The directory projection: staff and departments, as the HR system last described them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from shared.db import Conn


async def upsert_staff(conn: Conn, staff: dict[str, Any], at: datetime) -> None:
    """Newer directory facts win; a replayed older event changes nothing."""
    await conn.execute(
        """INSERT INTO staff (staff_id, name, email, department_id, manager_id, roles, timezone,
                              locale, active, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (staff_id) DO UPDATE
           SET name = EXCLUDED.name, email = EXCLUDED.email,
               department_id = EXCLUDED.department_id, manager_id = EXCLUDED.manager_id,
               roles = EXCLUDED.roles, timezone = EXCLUDED.timezone, locale = EXCLUDED.locale,
               active = EXCLUDED.active, updated_at = EXCLUDED.updated_at
           WHERE staff.updated_at <= EXCLUDED.updated_at""",
        staff["staff_id"],
        staff["name"],
        staff["email"],
        staff["department_id"],
        staff["manager_id"],
        staff["roles"],
        staff["timezone"],
        staff["locale"],
        staff["active"],
        at,
    )


async def upsert_department(conn: Conn, department: dict[str, Any], at: datetime) -> None:
    await conn.execute(
        """INSERT INTO departments (department_id, name, head_staff_id, active, updated_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (department_id) DO UPDATE
           SET name = EXCLUDED.name, head_staff_id = EXCLUDED.head_staff_id,
               active = EXCLUDED.active, updated_at = EXCLUDED.updated_at
           WHERE departments.updated_at <= EXCLUDED.updated_at""",
        department["department_id"],
        department["name"],
        department["head_staff_id"],
        department["active"],
        at,
    )


async def role_members(conn: Conn, roles: Sequence[str]) -> dict[str, list[str]]:
    """Active staff holding each role."""
    rows = await conn.fetch(
        """SELECT role, array_agg(staff_id ORDER BY staff_id) AS members
           FROM staff, unnest(roles) AS role
           WHERE active AND roles && $1::text[] AND role = ANY($1::text[])
           GROUP BY role""",
        list(roles),
    )
    return {r["role"]: list(r["members"]) for r in rows}


async def manager_of(conn: Conn, staff_id: str) -> str | None:
    manager: str | None = await conn.fetchval(
        "SELECT manager_id FROM staff WHERE staff_id = $1", staff_id
    )
    return manager


async def head_of(conn: Conn, department_id: str) -> str | None:
    head: str | None = await conn.fetchval(
        "SELECT head_staff_id FROM departments WHERE department_id = $1 AND active",
        department_id,
    )
    return head


async def inactive_among(conn: Conn, staff_ids: Iterable[str]) -> frozenset[str]:
    rows = await conn.fetch(
        "SELECT staff_id FROM staff WHERE staff_id = ANY($1::text[]) AND NOT active",
        list(staff_ids),
    )
    return frozenset(r["staff_id"] for r in rows)


async def people(conn: Conn, staff_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Directory record and stored preferences of each person among ``staff_ids`` that the
    directory knows or that has preferences (unknown people are simply absent)."""
    rows = await conn.fetch(
        """SELECT w.staff_id, s.name, s.email, s.timezone, s.locale, s.manager_id,
                  coalesce(s.active, true) AS active, p.prefs
           FROM unnest($1::text[]) AS w (staff_id)
           LEFT JOIN staff s ON s.staff_id = w.staff_id
           LEFT JOIN preferences p ON p.staff_id = w.staff_id
           WHERE s.staff_id IS NOT NULL OR p.staff_id IS NOT NULL""",
        list(staff_ids),
    )
    return [dict(r) for r in rows]


async def preferences(conn: Conn, staff_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT prefs, updated_at FROM preferences WHERE staff_id = $1", staff_id
    )
    return dict(row) if row else None


async def put_preferences(conn: Conn, staff_id: str, prefs: dict[str, Any]) -> datetime:
    updated: datetime = await conn.fetchval(
        """INSERT INTO preferences (staff_id, prefs, updated_at) VALUES ($1, $2, now())
           ON CONFLICT (staff_id) DO UPDATE SET prefs = EXCLUDED.prefs, updated_at = now()
           RETURNING updated_at""",
        staff_id,
        prefs,
    )
    return updated

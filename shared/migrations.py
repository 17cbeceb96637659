"""Applies ordered SQL migrations into one service's schema, once, under an advisory lock.

Each file is applied in its own transaction and recorded with a checksum; a file that changed
after it was applied stops the run, because the schema would no longer match the code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from shared import db

PLUMBING = Path(__file__).parent / "migrations"


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    id: str  # "<folder label>/<file name>", e.g. "plumbing/0001_plumbing.sql"
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(service_folder: Path) -> list[Migration]:
    """The plumbing migrations first, then the service's own, each folder in file-name order."""
    found: list[Migration] = []
    for label, folder in (("plumbing", PLUMBING), ("service", service_folder)):
        for path in sorted(folder.glob("*.sql")):
            found.append(Migration(f"{label}/{path.name}", path.read_text()))
    return found


async def apply(url: str, schema: str, service_folder: Path) -> list[str]:
    """Apply what is missing; returns the ids applied now."""
    migrations = discover(service_folder)
    conn = await db.connect(url, schema)
    try:
        # Lock first: concurrent CREATE SCHEMA IF NOT EXISTS can still collide.
        await conn.execute("SELECT pg_advisory_lock(hashtext('onramp.migrations.' || $1))", schema)
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{db.check_schema_name(schema)}"')
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   id text PRIMARY KEY,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        rows = await conn.fetch("SELECT id, checksum FROM schema_migrations")
        applied: dict[str, str] = {r["id"]: r["checksum"] for r in rows}
        done: list[str] = []
        for migration in migrations:
            if migration.id in applied:
                if applied[migration.id] != migration.checksum:
                    raise MigrationError(f"{schema}: {migration.id} changed after it was applied")
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (id, checksum) VALUES ($1, $2)",
                    migration.id,
                    migration.checksum,
                )
            done.append(migration.id)
        return done
    finally:
        await conn.close()  # closing the session releases the advisory lock


async def pending(conn: db.Conn, service_folder: Path) -> list[str]:
    """Ids not yet applied in the connection's schema (for readiness)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    applied = (
        set()
        if not exists
        else {r["id"] for r in await conn.fetch("SELECT id FROM schema_migrations")}
    )
    return [m.id for m in discover(service_folder) if m.id not in applied]

"""The migration runner on the real database: once, in order, concurrently safe, tamper-evident."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared import db, migrations
from shared.settings import Settings

PLUMBING = sorted(f"plumbing/{path.name}" for path in migrations.PLUMBING.glob("*.sql"))


@pytest.fixture
async def fresh_schema(settings: Settings) -> AsyncIterator[str]:
    name = f"m_{uuid.uuid4().hex[:12]}"
    yield name
    conn = await db.connect(settings.database_url or "", name)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
def service_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_things.sql").write_text("CREATE TABLE things (id int PRIMARY KEY);")
    (folder / "0002_more.sql").write_text("ALTER TABLE things ADD COLUMN name text;")
    return folder


async def test_applies_plumbing_then_service_files_once(
    settings: Settings, fresh_schema: str, service_folder: Path
) -> None:
    url = settings.database_url or ""
    first = await migrations.apply(url, fresh_schema, service_folder)
    assert first == [*PLUMBING, "service/0001_things.sql", "service/0002_more.sql"]
    assert await migrations.apply(url, fresh_schema, service_folder) == []
    pool = await db.create_pool(url, fresh_schema, max_size=1)
    try:
        async with pool.acquire() as conn:
            assert await migrations.pending(conn, service_folder) == []
            await conn.execute("INSERT INTO things VALUES (1, 'x')")  # both files took effect
        (service_folder / "0003_new.sql").write_text("CREATE INDEX ON things (name);")
        async with pool.acquire() as conn:
            assert await migrations.pending(conn, service_folder) == ["service/0003_new.sql"]
    finally:
        await pool.close()


async def test_concurrent_runners_apply_each_file_exactly_once(
    settings: Settings, fresh_schema: str, service_folder: Path
) -> None:
    url = settings.database_url or ""
    results = await asyncio.gather(
        *(migrations.apply(url, fresh_schema, service_folder) for _ in range(4))
    )
    applied = sorted(m for result in results for m in result)
    assert applied == sorted(m.id for m in migrations.discover(service_folder))


async def test_a_file_changed_after_it_was_applied_stops_the_run(
    settings: Settings, fresh_schema: str, service_folder: Path
) -> None:
    url = settings.database_url or ""
    await migrations.apply(url, fresh_schema, service_folder)
    (service_folder / "0001_things.sql").write_text("CREATE TABLE things (id bigint PRIMARY KEY);")
    with pytest.raises(migrations.MigrationError, match=r"0001_things\.sql changed"):
        await migrations.apply(url, fresh_schema, service_folder)


async def test_a_failing_file_leaves_nothing_half_applied(
    settings: Settings, fresh_schema: str, service_folder: Path
) -> None:
    url = settings.database_url or ""
    (service_folder / "0003_broken.sql").write_text(
        "CREATE TABLE half (id int); SELECT no_such_function();"
    )
    with pytest.raises(Exception, match="no_such_function"):
        await migrations.apply(url, fresh_schema, service_folder)
    conn = await db.connect(url, fresh_schema)
    try:
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        recorded = await conn.fetch("SELECT id FROM schema_migrations ORDER BY id")
        assert [r["id"] for r in recorded] == [
            *PLUMBING,
            "service/0001_things.sql",
            "service/0002_more.sql",
        ]
    finally:
        await conn.close()

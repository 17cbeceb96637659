"""``outbox.add_all`` stages many events in one statement exactly as ``add`` does one by one."""

from __future__ import annotations

from shared import db, outbox
from tests.support.events import training_event


async def test_add_all_stores_what_add_stores_in_the_given_order(pool: db.Pool, topic: str) -> None:
    one_by_one = [training_event() for _ in range(3)]
    together = [training_event() for _ in range(50)]
    async with db.transaction(pool) as conn:
        for event in one_by_one:
            await outbox.add(conn, event, topic=topic, key=event.subject)
        await outbox.add_all(conn, [(event, topic, event.subject) for event in together])
        await outbox.add_all(conn, [])
    rows = await pool.fetch("SELECT event_id, topic, key, value, headers FROM outbox ORDER BY id")
    assert [r["event_id"] for r in rows] == [e.id for e in one_by_one + together]
    first, staged = rows[0], rows[3]
    assert set(staged.keys()) == set(first.keys())
    assert staged["topic"] == first["topic"] == topic
    assert staged["key"] == together[0].subject.encode()
    assert [name for name, _ in staged["headers"]] == [name for name, _ in first["headers"]]
    assert dict(staged["headers"])["ce_id"] == together[0].id

"""Events from a file into their topics, as another system would send them (``onramp publish``).

A file holds one CloudEvent in structured-mode JSON, or a JSON array of them. ``id``, ``time``
and ``specversion`` may be left out (a new UUID, now, ``1.0``). Every event is validated with the
codec the consumers use before any is sent; it goes out in binary content mode like every
Onramp event, keyed by its aggregate id (``shared.events.asyncapi.KEY_FIELD``).

The topic is the one the type belongs on for an outside producer: its external topic if it has
one (``feedback.submitted`` → ``onramp.feedback.intake``, where survey tools publish), else the
catalogue's (``TOPIC_OF``). ``--topic`` may name another topic that carries the type.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

from pydantic import BaseModel

from shared.events import CloudEvent, KafkaRecord, PoisonRecord, decode, to_record
from shared.events.asyncapi import EXTERNAL_TOPICS, KEY_FIELD, topics_of
from shared.events.catalogue import TOPIC_OF
from shared.kafka import Publisher
from shared.settings import Settings

_STRUCTURED = (("content-type", b"application/cloudevents+json"),)


class EventFileError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def read_events(path: Path, *, max_bytes: int) -> list[CloudEvent[BaseModel]]:
    """Every event of the file, validated; EventFileError names each bad one."""
    try:
        loaded = json.loads(path.read_bytes())
    except ValueError as exc:
        raise EventFileError([f"{path.name}: not JSON: {exc}"]) from None
    items = loaded if isinstance(loaded, list) else [loaded]
    events: list[CloudEvent[BaseModel]] = []
    problems: list[str] = []
    for n, item in enumerate(items, start=1):
        where = path.name if len(items) == 1 else f"{path.name}: event {n}"
        if not isinstance(item, dict):
            problems.append(f"{where}: not a JSON object")
            continue
        try:
            events.append(decode(_completed(item), _STRUCTURED, max_bytes=max_bytes))
        except PoisonRecord as exc:
            problems.append(f"{where}: {exc}")
    if problems:
        raise EventFileError(problems)
    return events


def default_topic(type_: str) -> str:
    external = [topic for topic in topics_of(type_) if topic in EXTERNAL_TOPICS]
    return external[0] if external else TOPIC_OF[type_]


def to_records(
    events: Sequence[CloudEvent[BaseModel]], *, topic: str | None = None, key: str | None = None
) -> list[KafkaRecord]:
    """Binary-mode records; ValueError when ``topic`` does not carry an event's type."""
    records = []
    for event in events:
        target = topic or default_topic(event.type)
        if target not in topics_of(event.type):
            carried = ", ".join(topics_of(event.type))
            raise ValueError(f"{target} does not carry {event.type} (it goes on {carried})")
        aggregate = key or str(getattr(event.data, KEY_FIELD[event.type]))
        records.append(to_record(event, topic=target, key=aggregate))
    return records


async def send(
    settings: Settings,
    records: Sequence[KafkaRecord],
    *,
    client_id: str = "onramp-cli",
    on_sent: Callable[[int], object] = lambda n: None,
    batch: int = 500,
) -> None:
    """Send in batches, waiting for the broker to acknowledge each (acks=all)."""
    publisher = Publisher(settings, client_id=client_id)
    try:
        for start in range(0, len(records), batch):
            chunk = records[start : start + batch]
            await publisher.send_all(chunk)
            on_sent(len(chunk))
    finally:
        await publisher.stop()


def _completed(item: dict[str, Any]) -> bytes:
    filled = {"specversion": "1.0", "id": str(uuid4()), "time": datetime.now(UTC).isoformat()}
    return json.dumps(filled | item).encode()

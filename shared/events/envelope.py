"""CloudEvents 1.0 envelope and its Kafka protocol binding.

We produce binary content mode (attributes in ``ce_*`` headers, the JSON data as the value) and
accept binary and structured mode. :func:`decode` turns any record into a typed event or raises
:class:`PoisonRecord`, whose message names fields and error types but never a value: it ends up
in dead-letter headers, and a value could be an anonymous person's staff id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import uuid4

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    SerializeAsAny,
    StringConstraints,
    ValidationError,
)
from pydantic_core import from_json, to_json

from shared.events.catalogue import EVENT_TYPES

DataT = TypeVar("DataT", bound=BaseModel, covariant=True)
M = TypeVar("M", bound=BaseModel)
PoisonKind = Literal["too_big", "not_json", "invalid_envelope", "unknown_type", "invalid_data"]
_Attribute = Annotated[str, StringConstraints(min_length=1)]

JSON = "application/json"
STRUCTURED = "application/cloudevents+json"


class _Context(BaseModel):
    """The context attributes our profile requires on input (``time`` and ``subject`` too)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: _Attribute
    source: _Attribute
    type: _Attribute
    specversion: Literal["1.0"]
    time: AwareDatetime
    subject: _Attribute
    datacontenttype: str = JSON


class CloudEvent(_Context, Generic[DataT]):
    """An event: context attributes plus ``data``, an instance of its type's model."""

    specversion: Literal["1.0"] = "1.0"
    data: SerializeAsAny[DataT]


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    topic: str
    key: bytes | None
    value: bytes | None  # None only for a dead-lettered tombstone; events always have a value
    headers: tuple[tuple[str, bytes], ...]


class PoisonRecord(Exception):
    """A record that can never be applied, however often it is retried."""

    def __init__(self, kind: PoisonKind, message: str) -> None:
        super().__init__(kind, message)
        self.kind: PoisonKind = kind
        self.message = message

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


# Parametrising a generic model is slow and pydantic only caches the class weakly, so the
# class would be rebuilt again and again (about 3 ms each time); keep one.
_AnyEvent = CloudEvent[BaseModel]


def new_event(
    type_: str,
    *,
    source: str,
    subject: str,
    data: BaseModel,
    id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent[BaseModel]:
    """A new event of a catalogue type; refuses data of the wrong model (ValueError)."""
    model = EVENT_TYPES.get(type_)
    if model is None:
        raise ValueError(f"unknown event type {type_!r}")
    if not isinstance(data, model):
        raise ValueError(f"{type_} needs {model.__name__} data, got {type(data).__name__}")
    return _AnyEvent(
        id=id or str(uuid4()),
        source=source,
        type=type_,
        time=time or datetime.now(UTC),
        subject=subject,
        data=data,
    )


def to_record(event: CloudEvent[BaseModel], *, topic: str, key: str) -> KafkaRecord:
    """Binary content mode: how every Onramp service publishes."""
    headers = (
        ("ce_specversion", event.specversion.encode()),
        ("ce_id", event.id.encode()),
        ("ce_source", event.source.encode()),
        ("ce_type", event.type.encode()),
        ("ce_time", event.time.isoformat().encode()),
        ("ce_subject", event.subject.encode()),
        ("content-type", event.datacontenttype.encode()),
    )
    return KafkaRecord(topic=topic, key=key.encode(), value=to_json(event.data), headers=headers)


def to_structured_record(event: CloudEvent[BaseModel], *, topic: str, key: str) -> KafkaRecord:
    """Structured content mode: the whole envelope as the value, as some producers send it."""
    headers = (("content-type", STRUCTURED.encode()),)
    return KafkaRecord(topic=topic, key=key.encode(), value=to_json(event), headers=headers)


def decode(
    value: bytes | None, headers: Sequence[tuple[str, bytes]], *, max_bytes: int
) -> CloudEvent[BaseModel]:
    """Checks, in order: size, JSON, envelope, known type, data; the first failure is raised."""
    if value is None:
        raise PoisonRecord("not_json", "record has no value")
    if len(value) > max_bytes:
        raise PoisonRecord("too_big", f"value has {len(value)} bytes, more than {max_bytes}")
    try:
        payload = from_json(value, allow_inf_nan=False)
    except ValueError as exc:
        raise PoisonRecord("not_json", f"value is not JSON: {exc}") from None
    named = {name.lower(): raw for name, raw in reversed(headers)}  # the first one wins
    if _is_structured(named, payload):
        if not isinstance(payload, dict):
            raise PoisonRecord("invalid_envelope", "structured event is not a JSON object")
        context, data = _validate(_Context, payload, "invalid_envelope"), payload.get("data")
    else:
        context, data = _validate(_Context, _binary_attributes(named), "invalid_envelope"), payload
    model = EVENT_TYPES.get(context.type)
    if model is None:
        raise PoisonRecord("unknown_type", f"unknown event type {context.type[:200]!r}")
    return _AnyEvent(**dict(context), data=_validate(model, data, "invalid_data"))


def _is_structured(named: dict[str, bytes], payload: object) -> bool:
    content_type = named.get("content-type", b"").lower()
    if content_type.startswith(STRUCTURED.encode()):
        return True
    has_attributes = any(name.startswith("ce_") for name in named)
    return not has_attributes and isinstance(payload, dict) and "specversion" in payload


def _binary_attributes(named: dict[str, bytes]) -> dict[str, str]:
    attributes = {"datacontenttype": named.get("content-type", JSON.encode())}
    attributes |= {name[3:]: raw for name, raw in named.items() if name.startswith("ce_")}
    try:
        return {name: raw.decode() for name, raw in attributes.items()}
    except UnicodeDecodeError:
        raise PoisonRecord("invalid_envelope", "a ce_ header is not UTF-8") from None


def _validate(model: type[M], obj: Any, kind: PoisonKind) -> M:
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise PoisonRecord(kind, _describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    """Where and what, never the offending value: ``stages.0.name: string_too_long``."""
    problems = (
        f"{'.'.join(map(str, error['loc'])) or '$'}: {error['type']}"
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    )
    return "; ".join(problems)[:1000]

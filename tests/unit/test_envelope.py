import contextlib
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic_core import from_json, to_json

from shared.events import (
    ALL_TOPICS,
    DLT_TOPICS,
    EVENT_TYPES,
    FEEDBACK,
    TOPIC_OF,
    TYPE_OF,
    CloudEvent,
    KafkaRecord,
    PoisonRecord,
    StaffUpserted,
    decode,
    dlt,
    new_event,
    to_record,
    to_structured_record,
)
from tests.unit.event_samples import AT, sample_data

MAX = 1_000_000
SUBMITTED = "onramp.feedback.submitted.v1"
EVENT_ID = "0b9e4f3c-58f4-4d0e-a0a5-3f1c9a7f2b10"
SECRET = "s-SECRET-4711"
_STAFF = StaffUpserted(staff_id="s-1", name="Ada Lovelace")


def _event(type_name: str = SUBMITTED) -> CloudEvent[BaseModel]:
    data = sample_data(type_name)
    return new_event(
        type_name, source="/onramp/test", subject="rollout/r-1", data=data, id=EVENT_ID, time=AT
    )


_VALID = to_record(_event(), topic=FEEDBACK, key="r-1")
_STRUCTURED = to_structured_record(_event(), topic=FEEDBACK, key="r-1")
_CE_JSON = [("content-type", b"application/cloudevents+json")]


def _value(record: KafkaRecord) -> bytes:
    assert record.value is not None  # only a dead-lettered tombstone has none
    return record.value


_VALID_VALUE = _value(_VALID)
_STRUCTURED_VALUE = _value(_STRUCTURED)


def _headers(**changes: bytes | None) -> list[tuple[str, bytes]]:
    """The valid binary headers with some replaced (or dropped, with None)."""
    headers: dict[str, bytes | None] = {**dict(_VALID.headers), **changes}
    return [(name, value) for name, value in headers.items() if value is not None]


def _data(**changes: Any) -> bytes:
    """The valid data with some fields replaced (or dropped, with ...)."""
    data = {**from_json(_VALID_VALUE), **changes}
    return to_json({name: value for name, value in data.items() if value is not ...})


def _structured(**changes: Any) -> bytes:
    envelope = {**from_json(_STRUCTURED_VALUE), **changes}
    return to_json({name: value for name, value in envelope.items() if value is not ...})


@pytest.mark.parametrize("type_name", sorted(EVENT_TYPES))
def test_binary_round_trip(type_name: str) -> None:
    event = _event(type_name)
    record = to_record(event, topic=TOPIC_OF[type_name], key="r-1")
    decoded = decode(record.value, record.headers, max_bytes=MAX)
    assert decoded == event
    assert type(decoded.data) is EVENT_TYPES[type_name]


@pytest.mark.parametrize("type_name", sorted(EVENT_TYPES))
def test_structured_round_trip(type_name: str) -> None:
    event = _event(type_name)
    record = to_structured_record(event, topic=TOPIC_OF[type_name], key="r-1")
    assert decode(record.value, record.headers, max_bytes=MAX) == event


def test_binary_record_carries_attributes_in_headers_and_data_as_value() -> None:
    assert _VALID.topic == FEEDBACK
    assert _VALID.key == b"r-1"
    assert dict(_VALID.headers) == {
        "ce_specversion": b"1.0",
        "ce_id": EVENT_ID.encode(),
        "ce_source": b"/onramp/test",
        "ce_type": SUBMITTED.encode(),
        "ce_time": b"2025-03-01T09:30:00+00:00",
        "ce_subject": b"rollout/r-1",
        "content-type": b"application/json",
    }
    assert from_json(_VALID_VALUE) == sample_data(SUBMITTED).model_dump(mode="json")
    assert b'"staff_id":null' in _VALID_VALUE  # nulls are kept: anonymous means something
    assert "— mostly".encode() in _VALID_VALUE  # UTF-8, not \u escapes


def test_structured_record_is_the_whole_envelope() -> None:
    assert dict(_STRUCTURED.headers) == {"content-type": b"application/cloudevents+json"}
    envelope = from_json(_STRUCTURED_VALUE)
    assert envelope["specversion"] == "1.0"
    assert envelope["data"] == from_json(_VALID_VALUE)


@pytest.mark.parametrize("name", ["content-type", "Content-Type", "CONTENT-TYPE"])
@pytest.mark.parametrize(
    "value", [b"application/cloudevents+json", b"Application/CloudEvents+JSON; charset=utf-8"]
)
def test_structured_content_type_is_case_insensitive(name: str, value: bytes) -> None:
    assert decode(_STRUCTURED_VALUE, [(name, value)], max_bytes=MAX) == _event()


def test_structured_mode_is_recognised_without_content_type() -> None:
    assert decode(_STRUCTURED_VALUE, [], max_bytes=MAX) == _event()


@pytest.mark.parametrize(
    ("value", "headers", "kind"),
    [
        pytest.param(None, _headers(), "not_json", id="no value"),
        pytest.param(b"{oops", _headers(), "not_json", id="binary not json"),
        pytest.param(b"{oops", _CE_JSON, "not_json", id="structured not json"),
        pytest.param(_VALID_VALUE, _headers(ce_id=None), "invalid_envelope", id="no id"),
        pytest.param(_VALID_VALUE, _headers(ce_id=b""), "invalid_envelope", id="empty id"),
        pytest.param(_VALID_VALUE, _headers(ce_time=None), "invalid_envelope", id="no time"),
        pytest.param(
            _VALID_VALUE,
            _headers(ce_time=b"2025-03-01T09:30:00"),
            "invalid_envelope",
            id="naive time",
        ),
        pytest.param(_VALID_VALUE, _headers(ce_subject=None), "invalid_envelope", id="no subject"),
        pytest.param(
            _VALID_VALUE, _headers(ce_specversion=b"0.3"), "invalid_envelope", id="old specversion"
        ),
        pytest.param(_VALID_VALUE, _headers(ce_source=b"\xff"), "invalid_envelope", id="not utf-8"),
        pytest.param(_VALID_VALUE, [], "invalid_envelope", id="no attributes at all"),
        pytest.param(b"[1]", _CE_JSON, "invalid_envelope", id="structured not an object"),
        pytest.param(_structured(time=...), _CE_JSON, "invalid_envelope", id="structured no time"),
        pytest.param(
            _structured(specversion=...), _CE_JSON, "invalid_envelope", id="structured no version"
        ),
        pytest.param(
            _VALID_VALUE, _headers(ce_type=b"onramp.nope.v1"), "unknown_type", id="unknown type"
        ),
        pytest.param(
            _structured(type="onramp.nope.v1"), _CE_JSON, "unknown_type", id="structured unknown"
        ),
        pytest.param(_data(csat=9), _headers(), "invalid_data", id="csat out of range"),
        pytest.param(_data(feedback_id=...), _headers(), "invalid_data", id="missing field"),
        pytest.param(_data(kind="rant"), _headers(), "invalid_data", id="unknown kind"),
        pytest.param(_data(submitted_at="2025-03-01"), _headers(), "invalid_data", id="date"),
        pytest.param(b"[]", _headers(), "invalid_data", id="data not an object"),
        pytest.param(_structured(data=...), _CE_JSON, "invalid_data", id="structured no data"),
        pytest.param(
            _data(kind="issue", severity=None), _headers(), "invalid_data", id="issue no severity"
        ),
    ],
)
def test_poison_records(value: bytes | None, headers: list[tuple[str, bytes]], kind: str) -> None:
    with pytest.raises(PoisonRecord) as caught:
        decode(value, headers, max_bytes=MAX)
    assert caught.value.kind == kind


@pytest.mark.parametrize("value", [_VALID_VALUE, b"x" * 1000])
def test_too_big_is_checked_before_anything_else(value: bytes) -> None:
    with pytest.raises(PoisonRecord) as caught:
        decode(value, [], max_bytes=len(value) - 1)
    assert caught.value.kind == "too_big"


def test_exactly_max_bytes_is_accepted() -> None:
    assert decode(_VALID_VALUE, _VALID.headers, max_bytes=len(_VALID_VALUE)) == _event()


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"staff_id": SECRET}, "anonymous_with_staff_id"),
        ({"staff_id": SECRET, "csat": SECRET}, "csat: int_parsing"),
        ({"text": SECRET * 1000}, "text: string_too_long"),
        ({"kind": SECRET}, "kind: literal_error"),
        ({"rollout_id": [SECRET]}, "rollout_id: string_type"),
    ],
)
def test_poison_message_names_fields_never_values(changes: dict[str, Any], error: str) -> None:
    with pytest.raises(PoisonRecord) as caught:
        decode(_data(**changes), _headers(), max_bytes=MAX)
    assert error in caught.value.message
    assert "SECRET" not in caught.value.message
    assert "SECRET" not in str(caught.value)


@given(
    value=st.one_of(
        st.none(), st.binary(max_size=300), st.sampled_from([_VALID_VALUE, _STRUCTURED_VALUE])
    ),
    headers=st.lists(
        st.tuples(
            st.sampled_from([name for name, _ in _VALID.headers] + ["Content-Type", "ce_x"]),
            st.one_of(st.binary(max_size=40), st.sampled_from([v for _, v in _VALID.headers])),
        ),
        max_size=8,
    ),
)
def test_decode_fails_only_with_poison_record(
    value: bytes | None, headers: list[tuple[str, bytes]]
) -> None:
    with contextlib.suppress(PoisonRecord):
        decode(value, headers, max_bytes=1000)


@given(
    text=st.text(max_size=4000),
    subject=st.text(min_size=1, max_size=80),
    event_id=st.text(min_size=1, max_size=80),
)
def test_any_text_survives_both_modes(text: str, subject: str, event_id: str) -> None:
    data = sample_data(SUBMITTED).model_copy(update={"text": text})
    event = new_event(SUBMITTED, source="/onramp/t", subject=subject, data=data, id=event_id)
    binary = to_record(event, topic=FEEDBACK, key="r-1")
    structured = to_structured_record(event, topic=FEEDBACK, key="r-1")
    assert decode(binary.value, binary.headers, max_bytes=MAX) == event
    assert decode(structured.value, structured.headers, max_bytes=MAX) == event


def test_new_event_defaults_to_a_uuid_and_now() -> None:
    event = new_event(
        "onramp.staff.upserted.v1", source="/onramp/cli", subject="staff/s-1", data=_STAFF
    )
    assert UUID(event.id).version == 4
    assert event.time.tzinfo is not None
    assert abs((datetime.now(event.time.tzinfo) - event.time).total_seconds()) < 60


@pytest.mark.parametrize(
    ("type_name", "data", "time"),
    [
        pytest.param("onramp.staff.created.v1", _STAFF, AT, id="unknown type"),
        pytest.param(SUBMITTED, _STAFF, AT, id="data of another type"),
        pytest.param("onramp.staff.upserted.v1", _STAFF, datetime(2025, 1, 1), id="naive time"),
    ],
)
def test_new_event_refuses(type_name: str, data: BaseModel, time: datetime) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is for people
        new_event(type_name, source="/onramp/cli", subject="staff/s-1", data=data, time=time)


def test_catalogue_names_topics_and_models_consistently() -> None:
    assert set(TOPIC_OF) == set(EVENT_TYPES)
    assert set(TOPIC_OF.values()) <= set(ALL_TOPICS)
    assert {TYPE_OF[model] for model in EVENT_TYPES.values()} == set(EVENT_TYPES)
    assert all(name.startswith("onramp.") and name.endswith(".v1") for name in EVENT_TYPES)
    assert dlt("onramp.rollout") == "onramp.rollout.dlt"
    assert tuple(f"{topic}.dlt" for topic in ALL_TOPICS) == DLT_TOPICS

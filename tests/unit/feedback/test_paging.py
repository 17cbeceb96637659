"""Listing cursors: opaque to clients, exact for the service."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.feedback.repository import Position
from services.feedback.schemas import decode_cursor, encode_cursor


@given(
    when=st.datetimes(timezones=st.just(UTC)),
    feedback_id=st.uuids(),
)
def test_a_cursor_round_trips(when: datetime, feedback_id: uuid.UUID) -> None:
    position = Position(when, feedback_id)
    assert decode_cursor(encode_cursor(position)) == position


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64!",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b'["2027-01-01T00:00:00+00:00"]').decode(),
        base64.urlsafe_b64encode(b'["yesterday", "0"]').decode(),
        base64.urlsafe_b64encode(
            b'["2027-01-01T00:00:00", "' + str(uuid.uuid4()).encode() + b'"]'
        ).decode(),  # no time zone
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
    ],
)
def test_anything_else_is_refused(cursor: str) -> None:
    with pytest.raises(ValueError, match="not a cursor"):
        decode_cursor(cursor)

"""The consumer's retry/dead-letter policy and the shape of a dead-lettered record (DESIGN §8.5)."""

from datetime import UTC, datetime

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import db
from shared.consumer import RawRecord, Rejected, RetryPolicy, dead_letter_record

POLICY = RetryPolicy(max_attempts=5, initial_backoff_s=0.1, max_backoff_s=1.0)

TRANSIENT: list[BaseException] = [
    ConnectionRefusedError(),
    ConnectionResetError(),
    TimeoutError(),
    asyncpg.InterfaceError("connection is closed"),
    asyncpg.PostgresConnectionError(),
    asyncpg.CannotConnectNowError(),
    asyncpg.AdminShutdownError(),
    asyncpg.TooManyConnectionsError(),
    asyncpg.SerializationError(),
    asyncpg.DeadlockDetectedError(),
    asyncpg.LockNotAvailableError(),
]
PERMANENT: list[BaseException] = [
    ValueError("bad data"),
    KeyError("missing"),
    RuntimeError("bug"),
    asyncpg.UniqueViolationError(),
    asyncpg.DataError(),
]


class _Unknown(Rejected):
    """A handler's own refusal, e.g. an event about a rollout that does not exist."""


def _name(exc: BaseException) -> str:
    return type(exc).__name__


@pytest.mark.parametrize("exc", TRANSIENT, ids=_name)
def test_transient_errors_are_classified_transient(exc: BaseException) -> None:
    assert db.is_transient(exc)


@pytest.mark.parametrize("exc", [*PERMANENT, Rejected("no such rollout")], ids=_name)
def test_other_errors_are_not_transient(exc: BaseException) -> None:
    assert not db.is_transient(exc)


@pytest.mark.parametrize(
    ("attempt", "delay"),
    [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (6, 1.0), (50, 1.0), (1000, 1.0)],
)
@pytest.mark.parametrize("exc", TRANSIENT, ids=_name)
def test_transient_errors_retry_without_limit_with_capped_exponential_backoff(
    exc: BaseException, attempt: int, delay: float
) -> None:
    assert POLICY.next_delay(exc, attempt) == pytest.approx(delay)


@pytest.mark.parametrize(
    ("attempt", "delay"),
    [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, None), (6, None), (100, None)],
)
@pytest.mark.parametrize("exc", PERMANENT, ids=_name)
def test_other_errors_retry_up_to_max_attempts_then_dead_letter(
    exc: BaseException, attempt: int, delay: float | None
) -> None:
    result = POLICY.next_delay(exc, attempt)
    if delay is None:
        assert result is None
    else:
        assert result == pytest.approx(delay)


@pytest.mark.parametrize("exc", [Rejected("no such rollout"), _Unknown("r-404")], ids=_name)
@pytest.mark.parametrize("attempt", [1, 2, 5, 10])
def test_rejected_is_dead_lettered_at_once(exc: BaseException, attempt: int) -> None:
    assert POLICY.next_delay(exc, attempt) is None


@pytest.mark.parametrize(
    ("exc", "delay"),
    [(ValueError("bad"), None), (ConnectionRefusedError(), 0.05)],
    ids=["permanent", "transient"],
)
def test_a_single_attempt_policy_still_retries_transient_errors(
    exc: BaseException, delay: float | None
) -> None:
    assert RetryPolicy(max_attempts=1).next_delay(exc, 1) == delay


_policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(min_value=1, max_value=20),
    initial_backoff_s=st.floats(min_value=0.001, max_value=10.0),
    max_backoff_s=st.floats(min_value=0.001, max_value=600.0),
)


@given(
    policy=_policies,
    exc=st.sampled_from(TRANSIENT),
    attempts=st.lists(st.integers(min_value=1, max_value=1024), min_size=2, max_size=30),
)
def test_transient_delays_are_capped_positive_and_never_decrease(
    policy: RetryPolicy, exc: BaseException, attempts: list[int]
) -> None:
    delays = [policy.next_delay(exc, attempt) for attempt in sorted(attempts)]
    assert all(d is not None and 0 < d <= policy.max_backoff_s for d in delays)
    assert delays == sorted(delays, key=lambda d: d or 0.0)


@given(
    policy=_policies,
    exc=st.sampled_from(PERMANENT),
    attempt=st.integers(min_value=1, max_value=1024),
)
def test_permanent_delays_are_capped_until_the_last_attempt(
    policy: RetryPolicy, exc: BaseException, attempt: int
) -> None:
    delay = policy.next_delay(exc, attempt)
    if attempt >= policy.max_attempts:
        assert delay is None
    else:
        assert delay is not None
        assert 0 < delay <= policy.max_backoff_s


@pytest.mark.parametrize("attempt", [1025, 5000])
def test_transient_retries_survive_a_long_outage(attempt: int) -> None:
    assert RetryPolicy().next_delay(ConnectionRefusedError(), attempt) == 5.0


# --- dead_letter_record ------------------------------------------------------------------------

_HEADERS = (
    ("ce_id", b"0b9e4f3c"),
    ("content-type", b"application/json"),
    ("x-trace", b"\x00\xff"),
    ("x-trace", b"second value, same name"),
)
_RECORD = RawRecord(
    topic="onramp.feedback",
    partition=3,
    offset=42,
    key=b"r-1",
    value=b'{"not": "valid"}',
    headers=_HEADERS,
)
_REASONS = {
    "onramp.dlt.topic",
    "onramp.dlt.partition",
    "onramp.dlt.offset",
    "onramp.dlt.consumer",
    "onramp.dlt.kind",
    "onramp.dlt.message",
    "onramp.dlt.attempts",
    "onramp.dlt.time",
}


def _reasons(headers: tuple[tuple[str, bytes], ...]) -> dict[str, str]:
    return {name: value.decode() for name, value in headers if name.startswith("onramp.dlt.")}


def test_dead_letter_keeps_the_record_and_adds_every_reason() -> None:
    before = datetime.now(UTC)
    dead = dead_letter_record(
        _RECORD, consumer="notify.feedback", kind="invalid_data", message="x: missing", attempts=3
    )
    after = datetime.now(UTC)

    assert dead.topic == "onramp.feedback.dlt"
    assert (dead.key, dead.value) == (_RECORD.key, _RECORD.value)
    assert dead.headers[: len(_HEADERS)] == _HEADERS
    reasons = _reasons(dead.headers[len(_HEADERS) :])
    assert len(dead.headers) == len(_HEADERS) + len(_REASONS)
    assert set(reasons) == _REASONS
    stamped = datetime.fromisoformat(reasons.pop("onramp.dlt.time"))
    assert reasons == {
        "onramp.dlt.topic": "onramp.feedback",
        "onramp.dlt.partition": "3",
        "onramp.dlt.offset": "42",
        "onramp.dlt.consumer": "notify.feedback",
        "onramp.dlt.kind": "invalid_data",
        "onramp.dlt.message": "x: missing",
        "onramp.dlt.attempts": "3",
    }
    assert stamped.tzinfo is not None
    assert before <= stamped <= after


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        ("", ""),
        ("short", "short"),
        ("a" * 1000, "a" * 1000),
        ("a" * 1001, "a" * 1000),
        ("b" * 20_000, "b" * 1000),
        ("é" * 1200, "é" * 1000),  # characters, not bytes
    ],
    ids=["empty", "short", "at-limit", "one-over", "long", "multibyte"],
)
def test_dead_letter_message_is_truncated_to_1000_characters(message: str, kept: str) -> None:
    dead = dead_letter_record(
        _RECORD, consumer="c", kind="handler_error", message=message, attempts=1
    )
    assert _reasons(dead.headers)["onramp.dlt.message"] == kept


@pytest.mark.parametrize("key", [None, b"r-1"])
def test_dead_letter_of_a_record_without_value(key: bytes | None) -> None:
    record = RawRecord("onramp.rollout", 0, 7, key, None, ())
    dead = dead_letter_record(record, consumer="c", kind="not_json", message="no value", attempts=1)
    assert dead.topic == "onramp.rollout.dlt"
    assert dead.key == key
    assert dead.value is None  # a tombstone stays a tombstone
    assert _reasons(dead.headers)["onramp.dlt.kind"] == "not_json"


_header_lists = st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=20)), max_size=6).map(
    tuple
)


@given(
    topic=st.from_regex(r"[a-z][a-z.]{0,30}", fullmatch=True),
    partition=st.integers(min_value=0, max_value=1000),
    offset=st.integers(min_value=0, max_value=2**63 - 1),
    key=st.none() | st.binary(max_size=50),
    value=st.none() | st.binary(max_size=200),
    headers=_header_lists,
    message=st.text(max_size=1500),
    attempts=st.integers(min_value=1, max_value=10_000),
)
def test_dead_letter_properties(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: tuple[tuple[str, bytes], ...],
    message: str,
    attempts: int,
) -> None:
    record = RawRecord(topic, partition, offset, key, value, headers)
    dead = dead_letter_record(record, consumer="c", kind="k", message=message, attempts=attempts)
    assert dead.topic == f"{topic}.dlt"
    assert dead.key == key
    assert dead.value == value
    assert dead.headers[: len(headers)] == headers
    added = {name: raw.decode() for name, raw in dead.headers[len(headers) :]}
    assert set(added) == _REASONS
    assert added["onramp.dlt.message"] == message[:1000]
    assert added["onramp.dlt.offset"] == str(offset)
    assert added["onramp.dlt.attempts"] == str(attempts)

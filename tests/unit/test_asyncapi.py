"""The committed AsyncAPI document: generated from the event models, never stale, and valid for
the official AsyncAPI parser (@asyncapi/parser from npm, pinned in tools/asyncapi)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.events import asyncapi, topics
from shared.events.catalogue import EVENT_TYPES

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "asyncapi"


def test_the_committed_document_is_what_the_models_generate() -> None:
    assert asyncapi.check() == [], "run `make asyncapi` and commit docs/asyncapi.yaml"


def test_drift_is_detected(tmp_path: Path) -> None:
    stale = tmp_path / "asyncapi.yaml"
    stale.write_text(asyncapi.render().replace("maxLength: 200", "maxLength: 100", 1))
    assert asyncapi.check(stale) != []
    assert asyncapi.main(["--check", "--output", str(stale)]) == 1
    assert asyncapi.main(["--output", str(stale)]) == 0
    assert asyncapi.main(["--check", "--output", str(stale)]) == 0


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(asyncapi.DOCUMENT.read_text())
    return loaded


def test_every_topic_and_its_dead_letter_topic_is_a_channel(document: dict[str, Any]) -> None:
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {*topics.ALL_TOPICS, *topics.DLT_TOPICS}


def test_every_event_type_is_a_message_with_cloudevents_headers_and_a_key(
    document: dict[str, Any],
) -> None:
    messages = document["components"]["messages"]
    by_type = {m["name"]: m for m in messages.values()}
    assert set(EVENT_TYPES) <= set(by_type)
    for name, message in ((n, by_type[n]) for n in EVENT_TYPES):
        headers = message["headers"]["properties"]
        assert headers["ce_type"] == {"type": "string", "const": name}
        assert {"ce_id", "ce_source", "ce_specversion", "ce_time", "ce_subject"} <= set(headers)
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        assert message["payload"] == {"$ref": f"#/components/schemas/{EVENT_TYPES[name].__name__}"}


def test_channels_carry_the_types_of_their_topic(document: dict[str, Any]) -> None:
    by_address = {c["address"]: c for c in document["channels"].values()}
    messages = document["components"]["messages"]
    for topic in topics.ALL_TOPICS:
        refs = by_address[topic]["messages"].values()
        carried = {messages[ref["$ref"].rsplit("/", 1)[1]]["name"] for ref in refs}
        assert carried == set(asyncapi.types_on(topic)), topic
        assert carried
    intake = by_address[topics.FEEDBACK_INTAKE]["messages"]
    assert list(intake) == ["FeedbackSubmitted"]
    dead = by_address[topics.dlt(topics.ROLLOUT)]["messages"]["DeadLetter"]["$ref"]
    headers = messages[dead.rsplit("/", 1)[1]]["headers"]["required"]
    assert "onramp.dlt.kind" in headers
    assert "onramp.dlt.topic" in headers


def test_the_key_of_every_type_is_a_field_of_its_data() -> None:
    assert set(asyncapi.KEY_FIELD) == set(EVENT_TYPES)
    for name, field in asyncapi.KEY_FIELD.items():
        assert field in EVENT_TYPES[name].model_fields, name


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """The parser's output lines for the committed document and for a broken copy (one node
    process for both: it takes seconds to start)."""
    broken = asyncapi.generate()
    # An operation sending a message its channel does not carry, and a schema that is none.
    broken["operations"]["sendRollout"]["messages"].append(
        {"$ref": "#/channels/notify/messages/NotificationSent"}
    )
    broken["components"]["schemas"]["StaffUpserted"]["type"] = 42
    broken_path = tmp_path_factory.mktemp("asyncapi") / "broken.yaml"
    broken_path.write_text(asyncapi.render(broken))
    node = shutil.which("node")
    assert node, "Node.js is needed to run the AsyncAPI parser"
    assert (TOOLS / "node_modules" / "@asyncapi" / "parser").is_dir(), (
        "the AsyncAPI parser is not installed: run `make asyncapi` (make test installs it)"
    )
    result = subprocess.run(
        [node, str(TOOLS / "validate.mjs"), str(asyncapi.DOCUMENT), str(broken_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr  # the broken one fails
    lines: dict[str, list[str]] = {"committed": [], "broken": []}
    for line in result.stdout.splitlines():
        which = "broken" if line.startswith(str(broken_path)) else "committed"
        lines[which].append(line)
    return lines


def test_the_official_parser_accepts_the_document(parsed: dict[str, list[str]]) -> None:
    committed = parsed["committed"]
    assert not [line for line in committed if ": error: " in line or ": warning: " in line]
    assert any("valid AsyncAPI 3.0.0 (12 channels, 12 operations" in line for line in committed)


def test_the_official_parser_refuses_a_broken_document(parsed: dict[str, list[str]]) -> None:
    errors = " ".join(line for line in parsed["broken"] if ": error: " in line)
    assert "asyncapi3-operation-messages-from-referred-channel" in errors
    assert "components.schemas.StaffUpserted.type" in errors
    assert not any("valid AsyncAPI" in line for line in parsed["broken"])

"""The AsyncAPI 3.0 document of every topic and event type, generated from the catalogue.

``python -m shared.events.asyncapi`` writes ``docs/asyncapi.yaml``; ``--check`` exits 1 when the
committed file differs from what the models say now. Nothing in the document is written by hand
except the prose below: channels come from ``topics``, messages from ``catalogue`` and the payload
schemas from the models (pydantic *validation* schemas, as for the committed JSON Schemas).

Every message documents the CloudEvents binary-mode headers (``ce_*``) and its Kafka key; each
topic has a dead-letter channel whose message is the original record plus ``onramp.dlt.*``
reason headers.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from shared.events import topics
from shared.events.catalogue import EVENT_TYPES, TOPIC_OF

_HEADER = "# Generated from shared/events by `python -m shared.events.asyncapi`: do not edit."
DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
KAFKA_BINDING_VERSION = "0.5.0"

Schema = dict[str, Any]

# The data field whose value is the Kafka key of each type (DESIGN §2: the aggregate id).
# `onramp publish` keys records the same way.
KEY_FIELD: dict[str, str] = {
    "onramp.staff.upserted.v1": "staff_id",
    "onramp.department.upserted.v1": "department_id",
    "onramp.training.completed.v1": "staff_id",
    "onramp.feedback.submitted.v1": "rollout_id",
    "onramp.feedback.acknowledged.v1": "rollout_id",
    "onramp.feedback.resolved.v1": "rollout_id",
    **{name: "rollout_id" for name in EVENT_TYPES if name.startswith("onramp.rollout.")},
    "onramp.notification.sent.v1": "recipient_id",
    "onramp.notification.failed.v1": "recipient_id",
    **{name: "case_id" for name in EVENT_TYPES if name.startswith("onramp.escalation.")},
}

# topic -> (channel id, who publishes it, what it carries)
_TOPICS: dict[str, tuple[str, str, str]] = {
    topics.DIRECTORY: (
        "directory",
        "the HR directory (external); `onramp directory import` publishes as it would",
        "People and departments as the HR directory knows them; every record is a whole upsert.",
    ),
    topics.TRAINING: (
        "training",
        "the learning system (external)",
        "Course results from the learning system.",
    ),
    topics.FEEDBACK_INTAKE: (
        "feedbackIntake",
        "survey tools (external); `onramp publish` can send a file as they would",
        "Survey answers, issues and comments sent by survey tools. The feedback service "
        "validates and deduplicates them and republishes the canonical event on onramp.feedback.",
    ),
    topics.FEEDBACK: (
        "feedback",
        "the feedback service",
        "Feedback as stored by the feedback service, and its issue lifecycle.",
    ),
    topics.ROLLOUT: (
        "rollout",
        "the rollout service",
        "Rollout plans, stage advances with their evidence, gate changes, approvals and pauses.",
    ),
    topics.NOTIFY: (
        "notify",
        "the notify service",
        "Notifications sent or failed, and escalation cases.",
    ),
}

# Types a topic carries besides those the catalogue assigns to it.
_ALSO_ON: dict[str, tuple[str, ...]] = {topics.FEEDBACK_INTAKE: ("onramp.feedback.submitted.v1",)}
# Topics other systems publish on; Onramp's services own the rest.
EXTERNAL_TOPICS = (topics.DIRECTORY, topics.TRAINING, topics.FEEDBACK_INTAKE)

_DEAD_LETTER_HEADERS: dict[str, str] = {
    "onramp.dlt.topic": "topic the record was read from",
    "onramp.dlt.partition": "its partition",
    "onramp.dlt.offset": "its offset",
    "onramp.dlt.consumer": "the consumer that gave up, <service>.<topic>",
    "onramp.dlt.kind": "too_big, not_json, invalid_envelope, unknown_type, invalid_data, "
    "rejected or handler_error",
    "onramp.dlt.message": "what was wrong: field paths and error types, never values",
    "onramp.dlt.attempts": "how many times the handler ran",
    "onramp.dlt.time": "when it was dead-lettered (RFC 3339)",
}


def types_on(topic: str) -> list[str]:
    """Event types a topic carries, in catalogue order."""
    extra = _ALSO_ON.get(topic, ())
    return [name for name in EVENT_TYPES if TOPIC_OF[name] == topic or name in extra]


def topics_of(type_: str) -> list[str]:
    """Topics that carry an event type."""
    return [topic for topic in topics.ALL_TOPICS if type_ in types_on(topic)]


def generate() -> dict[str, Any]:
    """The whole document as plain data, in a stable order."""
    channels, operations = _channels_and_operations()
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Onramp events",
            "version": "1.0.0",
            "description": _INFO,
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": "The Kafka cluster named by ONRAMP_KAFKA_BOOTSTRAP.",
                "variables": {"bootstrap": {"default": "localhost:9092"}},
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": _messages(), "schemas": _schemas()},
    }


def _channels_and_operations() -> tuple[dict[str, Any], dict[str, Any]]:
    """Each topic and its dead-letter topic, and what Onramp does on each."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in topics.ALL_TOPICS:
        channel_id, owner, description = _TOPICS[topic]
        names = [EVENT_TYPES[name].__name__ for name in types_on(topic)]
        channels[channel_id] = _channel(topic, f"{description}\n\nOwner: {owner}.", names)
        operations[_operation_id(topic, channel_id)] = _operation(topic, channel_id, names)
        dlt_id = f"{channel_id}DeadLetters"
        channels[dlt_id] = _channel(
            topics.dlt(topic),
            f"Records of {topic} that a consumer could not apply, untouched, with the reasons "
            "in onramp.dlt.* headers. `onramp dlt list` shows them, `onramp dlt replay` sends "
            "them back to their topic after a fix.",
            ["DeadLetter"],
        )
        operations[f"deadLetter{_title(channel_id)}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{dlt_id}"},
            "summary": f"A consumer of {topic} parks a record it cannot apply.",
            "messages": [{"$ref": f"#/channels/{dlt_id}/messages/DeadLetter"}],
        }
    return channels, operations


def _messages() -> dict[str, Any]:
    messages = {model.__name__: _message(name, model) for name, model in EVENT_TYPES.items()}
    return {**messages, "DeadLetter": _dead_letter_message()}


def _schemas() -> dict[str, Schema]:
    schemas: dict[str, Schema] = {}
    for model in EVENT_TYPES.values():
        _add_schemas(schemas, model)
    return dict(sorted(schemas.items()))


class _Dumper(yaml.SafeDumper):
    """Multi-line text as literal blocks, so that the document reads like prose."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    )


_Dumper.add_representer(str, _text)


def render(document: dict[str, Any] | None = None) -> str:
    """Stable text, so that a diff of the document shows only real changes."""
    text = yaml.dump(
        generate() if document is None else document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    return f"{_HEADER}\n{text}"


def check(path: Path = DOCUMENT) -> list[str]:
    """Why the committed document is out of date (empty when it is current)."""
    if not path.exists():
        return [f"{path} is missing, run `python -m shared.events.asyncapi`"]
    if path.read_text(encoding="utf-8") != render():
        return [f"{path} is out of date, run `python -m shared.events.asyncapi`"]
    return []


def _add_schemas(schemas: dict[str, Schema], model: type[BaseModel]) -> None:
    """The model's schema and its definitions, referring to each other in components."""
    schema = model.model_json_schema(mode="validation", ref_template="#/components/schemas/{model}")
    found = {**schema.pop("$defs", {}), model.__name__: schema}
    for name, definition in found.items():
        if schemas.setdefault(name, definition) != definition:
            raise ValueError(f"two different models are both named {name}")


def _message(type_name: str, model: type[BaseModel]) -> dict[str, Any]:
    field = KEY_FIELD[type_name]
    doc = (model.__doc__ or "").strip()
    summary = {"summary": doc.split("\n\n")[0].replace("\n", " ")} if doc else {}
    return {
        "name": type_name,
        "title": type_name,
        **summary,
        "contentType": "application/json",
        "headers": _cloudevent_headers(type_name),
        "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"the {field} of the data"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _cloudevent_headers(type_name: str) -> Schema:
    string: Schema = {"type": "string", "minLength": 1}
    return {
        "type": "object",
        "description": "CloudEvents 1.0 attributes, Kafka protocol binding, binary content mode. "
        "Structured mode (the whole envelope as the value, content-type "
        "application/cloudevents+json) is accepted on input too.",
        "properties": {
            "ce_specversion": {"type": "string", "const": "1.0"},
            "ce_id": {**string, "description": "unique per source; consumers dedupe on it"},
            "ce_source": {**string, "description": "/onramp/<service> for Onramp's own"},
            "ce_type": {"type": "string", "const": type_name},
            "ce_time": {"type": "string", "format": "date-time"},
            "ce_subject": {**string, "description": "the aggregate, e.g. rollout/<id>"},
            "content-type": {"type": "string", "const": "application/json"},
        },
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject"],
    }


def _dead_letter_message() -> dict[str, Any]:
    reasons = {
        name: {"type": "string", "description": text} for name, text in _DEAD_LETTER_HEADERS.items()
    }
    return {
        "name": "dead-letter",
        "title": "Dead letter",
        "summary": "The original record, untouched, with the reasons it could not be applied.",
        "description": "Key, value and headers (ce_* included) are those of the original "
        "record; the value may not even be JSON.",
        "headers": {
            "type": "object",
            "properties": reasons,
            "required": list(_DEAD_LETTER_HEADERS),
            "additionalProperties": {"type": "string"},
        },
        "payload": {"description": "the original value, as it was"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "the original key"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _channel(address: str, description: str, messages: Sequence[str]) -> dict[str, Any]:
    return {
        "address": address,
        "title": address,
        "description": description,
        "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in messages},
    }


def _operation(topic: str, channel_id: str, messages: Sequence[str]) -> dict[str, Any]:
    external = topic in EXTERNAL_TOPICS
    return {
        "action": "receive" if external else "send",
        "channel": {"$ref": f"#/channels/{channel_id}"},
        "summary": f"Onramp consumes what other systems publish on {topic}."
        if external
        else f"{_TOPICS[topic][1].capitalize()} publishes on {topic} through its outbox.",
        "messages": [{"$ref": f"#/channels/{channel_id}/messages/{m}"} for m in messages],
    }


def _operation_id(topic: str, channel_id: str) -> str:
    return ("receive" if topic in EXTERNAL_TOPICS else "send") + _title(channel_id)


def _title(identifier: str) -> str:
    return identifier[:1].upper() + identifier[1:]


_INFO = """\
Every topic Onramp uses and every event type on it. Events are CloudEvents 1.0 produced in
binary content mode: the attributes travel as `ce_*` headers and the value is the JSON `data`.
The Kafka key is the aggregate id, so the events of one aggregate stay in order. Types carry a
version suffix and change only additively within a version: consumers ignore unknown fields.

Each topic has a dead-letter topic `<topic>.dlt` for records a consumer could not apply.
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.events.asyncapi", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the document is stale")
    parser.add_argument("--output", type=Path, default=DOCUMENT, help="where the document goes")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.output)
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

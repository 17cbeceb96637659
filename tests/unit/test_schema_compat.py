import json
from typing import Any

import pytest

from shared.events import EVENT_TYPES
from shared.events.compat import breaking_changes
from shared.events.schemas import SCHEMA_DIR, check, generate, render

Schema = dict[str, Any]
_STRING: Schema = {"type": "string"}
_NULL: Schema = {"type": "null"}


def _object(required: tuple[str, ...] = ("id",), **properties: Schema) -> Schema:
    return {"type": "object", "properties": properties, "required": list(required)}


def _event(**properties: Schema) -> Schema:
    """An event type with an ``id`` and a ``stage`` that points into ``$defs``."""
    stage = {"$ref": "#/$defs/Stage"}
    stage_def = _object(("name",), name=_STRING, **properties)
    return {"title": "t.v1", "$defs": {"Stage": stage_def}, **_object(id=_STRING, stage=stage)}


_ENUM: Schema = {"type": "string", "enum": ["pass", "fail"]}
_COUNT: Schema = {"type": "integer", "minimum": 0, "maximum": 10}
_BASE = _object(id=_STRING, kind=_ENUM, count=_COUNT, note={"anyOf": [_STRING, _NULL]})


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(_BASE, _BASE, [], id="unchanged"),
        pytest.param(
            _BASE,
            _object(id=_STRING, kind=_ENUM, count=_COUNT),
            ["$.note: property removed"],
            id="removed property",
        ),
        pytest.param(
            _object(("id", "kind"), id=_STRING, kind=_ENUM),
            _object(("id",), id=_STRING, kind=_ENUM),
            [],
            id="required became optional",
        ),
        pytest.param(
            _BASE,
            {**_BASE, "required": ["id", "count"]},
            ["$.count: property became required"],
            id="optional became required",
        ),
        pytest.param(
            _BASE,
            _object(("id", "extra"), **_BASE["properties"], extra=_STRING),
            ["$.extra: property became required"],
            id="new required property",
        ),
        pytest.param(
            _BASE,
            _object(**_BASE["properties"], extra={"anyOf": [_STRING, _NULL]}),
            [],
            id="new optional property",
        ),
        pytest.param(
            _BASE,
            _object(**{**_BASE["properties"], "id": {"type": "integer"}}),
            ["$.id: type string removed"],
            id="type change",
        ),
        pytest.param(
            _BASE,
            _object(**{**_BASE["properties"], "note": _STRING}),
            ["$.note: type null removed"],
            id="type removed from union",
        ),
        pytest.param(
            _BASE,
            _object(**{**_BASE["properties"], "id": {"anyOf": [_STRING, {"type": "integer"}]}}),
            [],
            id="type added to union",
        ),
        pytest.param(
            _BASE,
            _object(**{**_BASE["properties"], "count": {"type": "number"}}),
            [],
            id="integer widened to number",
        ),
        pytest.param(
            _BASE,
            _object(**{**_BASE["properties"], "kind": {"type": "string", "enum": ["pass"]}}),
            ["$.kind: values removed: ['fail']"],
            id="enum value removed",
        ),
        pytest.param(
            _BASE,
            _object(**{**_BASE["properties"], "kind": {**_ENUM, "enum": ["pass", "fail", "x"]}}),
            [],
            id="enum value added",
        ),
        pytest.param(
            _object(id=_STRING, kind={"const": "pass", "type": "string"}),
            _object(id=_STRING, kind=_ENUM),
            [],
            id="single literal widened to enum",
        ),
        pytest.param(
            _BASE,
            _object(**{**_BASE["properties"], "count": {**_COUNT, "maximum": 5}}),
            ["$.count: maximum lowered to 5"],
            id="maximum lowered",
        ),
        pytest.param(
            _BASE,
            _object(**{**_BASE["properties"], "count": {**_COUNT, "minimum": 1}}),
            ["$.count: minimum raised to 1"],
            id="minimum raised",
        ),
        pytest.param(
            _BASE,
            _object(**{**_BASE["properties"], "id": {"type": "string", "maxLength": 20}}),
            ["$.id: maxLength lowered to 20"],
            id="maxLength added",
        ),
        pytest.param(
            _object(id={"type": "string", "maxLength": 20}),
            _object(id={"type": "string", "maxLength": 40}),
            [],
            id="maxLength raised",
        ),
        pytest.param(
            _object(ids={"type": "array", "items": _STRING}),
            _object(ids={"type": "array", "items": {"type": "integer"}}),
            ["$.ids[]: type string removed"],
            id="array item type change",
        ),
        pytest.param(
            _event(size=_COUNT),
            _event(),
            ["$.stage.size: property removed"],
            id="nested $ref property removed",
        ),
        pytest.param(
            _event(size=_COUNT),
            _event(size={**_COUNT, "maximum": 3}),
            ["$.stage.size: maximum lowered to 3"],
            id="nested $ref narrowed",
        ),
        pytest.param(_event(), _event(size=_COUNT), [], id="nested $ref optional property added"),
    ],
)
def test_breaking_changes(old: Schema, new: Schema, expected: list[str]) -> None:
    name = new.get("title", "schema")
    assert breaking_changes(old, new) == [f"{name}: {problem}" for problem in expected]


def test_recursive_schemas_terminate() -> None:
    node = {"anyOf": [{"$ref": "#/$defs/Node"}, _NULL]}
    tree = {"$defs": {"Node": _object(("id",), id=_STRING, child=node)}, "$ref": "#/$defs/Node"}
    assert breaking_changes(tree, tree) == []


def test_breaking_changes_of_real_models_name_type_and_path() -> None:
    old = generate()["onramp.rollout.gate_changed.v1"]
    new = json.loads(json.dumps(old))
    new["$defs"]["Criterion"]["properties"]["outcome"]["enum"].remove("error")
    assert breaking_changes(old, new) == [
        "onramp.rollout.gate_changed.v1: $.evidence.criteria[].outcome: values removed: ['error']"
    ]


@pytest.mark.parametrize("type_name", sorted(EVENT_TYPES))
def test_committed_schema_is_generated_from_the_model(type_name: str) -> None:
    committed = (SCHEMA_DIR / f"{type_name}.json").read_text(encoding="utf-8")
    assert committed == render(generate()[type_name]), "run `python -m shared.events.schemas`"


def test_schema_check_passes() -> None:
    assert check() == []

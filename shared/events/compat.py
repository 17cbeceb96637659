"""Is a new JSON Schema of an event type an additive change of the old one?

Within a version, changes are additive only (DESIGN §2): every event valid under the old schema
must stay valid, and every property a consumer reads must still be there. So no property
removed, no type dropped from a union, no new required property, no enum value removed and no
bound tightened; new optional properties, enum values and types are fine. The schemas compared
are pydantic "validation" schemas; local ``$ref``s are followed.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
Problem = tuple[str, str]  # (JSON path, what broke)

_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_JSON_TYPES = {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string"}


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Human-readable breaking changes from ``old`` to ``new``; empty means compatible."""
    name = new.get("title") or old.get("title") or "schema"
    problems = _Comparison(old, new).node(old, new, "$", frozenset())
    return [f"{name}: {path}: {what}" for path, what in problems]


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root

    def node(self, old: Schema, new: Schema, path: str, seen: frozenset[Any]) -> list[Problem]:
        """Every old alternative (union member) must be accepted by some new alternative."""
        problems: list[Problem] = []
        new_alternatives = _alternatives(self.new_root, new)
        for old_alt in _alternatives(self.old_root, old):
            candidates = [n for n in new_alternatives if _accepts(_types(n), _types(old_alt))]
            if not candidates:
                problems.append((path, f"type {'|'.join(sorted(_types(old_alt)))} removed"))
                continue
            # Several candidates (say, two object shapes): judge by the closest one.
            results = [self._alternative(old_alt, n, path, seen) for n in candidates]
            closest: list[Problem] = min(results, key=len)
            problems += closest
        return problems

    def _alternative(
        self, old: Schema, new: Schema, path: str, seen: frozenset[Any]
    ) -> list[Problem]:
        if (id(old), id(new)) in seen:  # a recursive $ref already being compared on this path
            return []
        seen = seen | {(id(old), id(new))}
        problems = _enum(old, new, path) + _bounds(old, new, path)
        if "object" in _types(old):
            problems += self._object(old, new, path, seen)
        if "items" in old and "items" in new:
            problems += self.node(old["items"], new["items"], f"{path}[]", seen)
        return problems

    def _object(self, old: Schema, new: Schema, path: str, seen: frozenset[Any]) -> list[Problem]:
        problems: list[Problem] = []
        new_properties = new.get("properties", {})
        for name, old_property in old.get("properties", {}).items():
            if name not in new_properties:
                problems.append((f"{path}.{name}", "property removed"))
            else:
                problems += self.node(old_property, new_properties[name], f"{path}.{name}", seen)
        added = set(new.get("required", ())) - set(old.get("required", ()))
        problems += [(f"{path}.{name}", "property became required") for name in sorted(added)]
        old_extra = old.get("additionalProperties", {})
        new_extra = new.get("additionalProperties", {})
        if isinstance(old_extra, dict) and isinstance(new_extra, dict):
            problems += self.node(old_extra, new_extra, f"{path}.*", seen)
        elif new_extra is False and old_extra is not False:
            problems.append((path, "additional properties no longer allowed"))
        return problems


def _resolve(root: Schema, node: Schema) -> Schema:
    """Follow local ``$ref``s. Keywords beside a ``$ref`` are annotations in pydantic's output
    (description, default), so the target itself is returned: a stable object, which is what
    lets :meth:`_Comparison._alternative` notice recursion."""
    while "$ref" in node:
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _alternatives(root: Schema, node: Schema) -> list[Schema]:
    node = _resolve(root, node)
    branches = node.get("anyOf") or node.get("oneOf")
    if branches is None:
        return [node]
    return [alt for branch in branches for alt in _alternatives(root, branch)]


def _types(node: Schema) -> frozenset[str]:
    declared = node.get("type")
    if isinstance(declared, str):
        return frozenset({declared})
    if isinstance(declared, list):
        return frozenset(declared)
    values = _values(node)
    if values is not None:
        return frozenset(_JSON_TYPES.get(type(v), "object") for v in values)
    if "properties" in node:
        return frozenset({"object"})
    return frozenset({"any"})


def _accepts(new_types: frozenset[str], old_types: frozenset[str]) -> bool:
    if "any" in new_types:
        return True
    widened = new_types | ({"integer"} if "number" in new_types else set())
    return old_types <= widened


def _values(node: Schema) -> list[Any] | None:
    if "enum" in node:
        return list(node["enum"])
    if "const" in node:
        return [node["const"]]
    return None


def _enum(old: Schema, new: Schema, path: str) -> list[Problem]:
    old_values, new_values = _values(old), _values(new)
    if new_values is None:
        return []
    if old_values is None:
        return [(path, f"now restricted to {new_values!r}")]
    removed = [v for v in old_values if v not in new_values]
    return [(path, f"values removed: {removed!r}")] if removed else []


def _bounds(old: Schema, new: Schema, path: str) -> list[Problem]:
    problems = [
        (path, f"{key} lowered to {new[key]!r}")
        for key in _UPPER_BOUNDS
        if key in new and (key not in old or new[key] < old[key])
    ]
    problems += [
        (path, f"{key} raised to {new[key]!r}")
        for key in _LOWER_BOUNDS
        if key in new and (key not in old or new[key] > old[key])
    ]
    problems += [
        (path, f"{key} changed to {new[key]!r}")
        for key in ("pattern", "format")
        if key in new and new[key] != old.get(key)
    ]
    return problems

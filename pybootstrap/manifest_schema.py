"""Validate a JSON document by walking a JSON Schema: the subset of draft 2020-12 that manifests/schema.json uses.

The schema is the one statement of the manifest's shape; this walker applies it at run time (jsonschema is not a
runtime dependency), so the shape is never restated by hand. A keyword outside the subset is refused
(FieldError on the schema itself) rather than silently ignored. The first mistake found is reported with the
dotted path of the field, e.g. ``releases[3].python: expected a Python range like "3.10-3.14", got "3.10+"``:
a subschema's ``title`` is the phrase after "expected".
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Dict, List, Mapping, Optional

#: Keywords that constrain a value, and annotations that do not.
VALIDATION_KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "propertyNames", "items", "minItems", "uniqueItems",
    "minProperties", "pattern", "enum", "const", "minimum", "$ref", "oneOf"})
ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default"})

_TYPE_NAMES = {"object": "an object", "array": "a list", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "a boolean", "null": "null"}
_KEY_RE = re.compile(r"[A-Za-z0-9_$]+")


class FieldError(ValueError):
    """A field of the document is wrong: where (its dotted path) and what is wrong."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '(top level)'}: {message}")
        self.path = path or "(top level)"
        self.message = message


def join(path: str, key: str) -> str:
    """releases[0] + torch -> releases[0].torch; other keys are quoted: matrices["2.12"]."""
    if _KEY_RE.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def describe(value: Any) -> str:
    """A value as it appears in a message: JSON, cut to 60 characters."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    text = text.replace("\n", "\\n")
    return text if len(text) < 60 else text[:57] + "..."


def json_type(value: Any) -> str:
    """The JSON type of a decoded value: object, array, string, integer, number, boolean or null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


@functools.lru_cache(maxsize=None)
def _pattern(pattern: str) -> "re.Pattern[str]":
    """A schema pattern as ECMA-262 reads it: a final '$' is the end of the text (in Python it also matches
    before a final newline)."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def validate(document: Any, schema: Mapping[str, Any]) -> None:
    """Raise FieldError for the first place where the document breaks the schema."""
    _Walker(schema).check(document, schema, "")


class _Walker:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """Follow $ref (only local '#/$defs/name' references) until a schema without one."""
        seen = 0
        while "$ref" in schema:
            ref = schema["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/$defs/") or seen > 20:
                raise FieldError("$ref", f"unsupported reference {describe(ref)} in the schema")
            target = self.root.get("$defs", {}).get(ref[len("#/$defs/"):])
            if not isinstance(target, dict):
                raise FieldError("$ref", f"the schema has no definition for {ref}")
            extra = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **{k: v for k, v in extra.items() if k not in ANNOTATIONS}} if extra else target
            seen += 1
        return schema

    def expected(self, schema: Mapping[str, Any]) -> str:
        """The phrase after "expected" for a schema: its title, else what its keywords say."""
        title = schema.get("title")
        if isinstance(title, str):
            return title
        resolved = self.resolve(schema)
        if resolved is not schema:
            return self.expected(resolved)
        if "enum" in schema:
            return "one of " + ", ".join(str(v) for v in schema["enum"])
        if "const" in schema:
            return json.dumps(schema["const"])
        if "oneOf" in schema:
            return " or ".join(self.expected(s) for s in schema["oneOf"])
        return _TYPE_NAMES.get(schema.get("type", ""), "a value")

    def check(self, value: Any, schema: Mapping[str, Any], path: str) -> None:
        title = schema.get("title")
        schema = self.resolve(schema)
        if isinstance(title, str) and schema.get("title") != title:  # the referring schema's title wins
            schema = {**schema, "title": title}
        unknown = set(schema) - VALIDATION_KEYWORDS - ANNOTATIONS
        if unknown:
            raise FieldError(path, f"the schema uses unsupported keywords: {', '.join(sorted(unknown))}")
        if "oneOf" in schema:
            self.one_of(value, schema, path)
        kind = json_type(value)
        wanted = schema.get("type")
        if wanted is not None and kind != wanted and not (wanted == "number" and kind == "integer"):
            raise FieldError(path, f"expected {self.expected(schema)}, got {describe(value)}")
        if "const" in schema and (value != schema["const"] or kind != json_type(schema["const"])):
            raise FieldError(path, f"expected {json.dumps(schema['const'])}, got {describe(value)}")
        if "enum" in schema and not any(value == e and kind == json_type(e) for e in schema["enum"]):
            raise FieldError(path, f"expected one of {', '.join(str(e) for e in schema['enum'])}, "
                                    f"got {describe(value)}")
        if kind == "string" and "pattern" in schema and not _pattern(schema["pattern"]).search(value):
            raise FieldError(path, f"expected {self.expected(schema)}, got {describe(value)}")
        if kind in ("integer", "number") and "minimum" in schema and value < schema["minimum"]:
            raise FieldError(path, f"expected at least {schema['minimum']}, got {value}")
        if kind == "array":
            self.array(value, schema, path)
        elif kind == "object":
            self.object(value, schema, path)

    def one_of(self, value: Any, schema: Mapping[str, Any], path: str) -> None:
        errors: List[FieldError] = []
        for option in schema["oneOf"]:
            try:
                self.check(value, option, path)
            except FieldError as exc:
                errors.append(exc)
        matched = len(schema["oneOf"]) - len(errors)
        if matched == 1:
            return
        if matched > 1:
            raise FieldError(path, f"matches more than one of: {self.expected(schema)} (the schema is ambiguous)")
        # report the mistake inside the option meant for this kind of value, else name the options
        kind = json_type(value)
        for option, error in zip(schema["oneOf"], errors):
            if self.resolve(option).get("type") == kind:
                raise error
        raise FieldError(path, f"expected {self.expected(schema)}, got {describe(value)}")

    def array(self, value: List[Any], schema: Mapping[str, Any], path: str) -> None:
        if len(value) < schema.get("minItems", 0):
            raise FieldError(path, "must not be empty" if schema["minItems"] == 1
                              else f"needs at least {schema['minItems']} items")
        if schema.get("uniqueItems"):
            for i, item in enumerate(value):
                first = next(j for j, other in enumerate(value) if other == item and
                             json_type(other) == json_type(item))
                if first != i:
                    raise FieldError(f"{path}[{i}]", f"duplicate {describe(item)} (also [{first}])")
        items: Optional[Mapping[str, Any]] = schema.get("items")
        if items is not None:
            for i, item in enumerate(value):
                self.check(item, items, f"{path}[{i}]")

    def object(self, value: Dict[str, Any], schema: Mapping[str, Any], path: str) -> None:
        properties: Mapping[str, Any] = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in value:
                nullable = "null" in self.expected(properties.get(key, {}))
                raise FieldError(join(path, key), "missing" + (" (use null when there is none)" if nullable else ""))
        if len(value) < schema.get("minProperties", 0):
            raise FieldError(path, "must not be empty")
        names = schema.get("propertyNames")
        additional = schema.get("additionalProperties", True)
        for key in value:
            if key in properties:
                continue
            if additional is False:
                raise FieldError(join(path, key), f"unknown key (expected one of {', '.join(properties)})")
            if names is not None:
                self.check_name(key, names, path)
        for key, sub in properties.items():
            if key in value:
                self.check(value[key], sub, join(path, key))
        if isinstance(additional, dict):
            for key, item in value.items():
                if key not in properties:
                    self.check(item, additional, join(path, key))

    def check_name(self, key: str, schema: Mapping[str, Any], path: str) -> None:
        resolved = self.resolve(schema)
        try:
            self.check(key, schema, join(path, key))
        except FieldError as exc:
            if "enum" in resolved:
                what = resolved.get("title") or "key"
                raise FieldError(join(path, key), f"unknown {what} (expected one of "
                                                   f"{', '.join(str(e) for e in resolved['enum'])})") from None
            raise FieldError(exc.path, f"not a valid key: {exc.message}") from None

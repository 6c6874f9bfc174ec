"""The OpenAPI spec: assembled from every plugin's fragment, then used to check requests.

The host's own fragment (``openapi/base.yaml``) carries the info object and
the shared components (``pretty``, ``offset``, ``limit``, ``q``, the error
schemas...); plugins add paths and components. Each operation gets a
validator that turns raw query and path strings into typed values and checks
them, and the JSON body, against the declared schemas, with errors that name
the parameter.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Iterable

import jsonschema
import yaml

from wazuhd.errors import WazuhNotAcceptable

METHODS = ("get", "put", "post", "delete", "patch")


class SpecError(Exception):
    """Fragments that cannot be assembled (duplicates, dangling routes)."""


class RequestInvalid(Exception):
    """A request that does not match its operation; ``detail`` names what is wrong."""

    def __init__(self, detail: str, status: int = 400, title: str = "Bad Request"):
        super().__init__(detail)
        self.detail, self.status, self.title = detail, status, title


def load_fragment(package: str, name: str) -> dict:
    """Read a YAML fragment shipped inside a plugin package."""
    return yaml.safe_load(resources.files(package).joinpath(name).read_text())


def assemble(base: dict, fragments: Iterable[tuple[str, dict]]) -> dict:
    spec = copy.deepcopy(base)
    spec.setdefault("paths", {})
    spec.setdefault("components", {})
    owners: dict[tuple[str, str], str] = {}
    for plugin, fragment in fragments:
        for path, item in (fragment.get("paths") or {}).items():
            target = spec["paths"].setdefault(path, {})
            for key, operation in item.items():
                if key in target:
                    raise SpecError(f"plugin {plugin!r} redefines {key.upper()} {path} "
                                    f"(already defined by {owners.get((path, key), 'the host')})")
                target[key] = copy.deepcopy(operation)
                owners[(path, key)] = plugin
        for kind, items in (fragment.get("components") or {}).items():
            section = spec["components"].setdefault(kind, {})
            for name, value in items.items():
                if name in section:
                    raise SpecError(f"plugin {plugin!r} redefines components.{kind}.{name}")
                section[name] = copy.deepcopy(value)
    return spec


def resolve(node: Any, root: dict, _seen: tuple[str, ...] = ()) -> Any:
    """Inline every local ``$ref`` (validators need plain schemas)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            if ref in _seen:
                return {}  # a recursive schema: accept anything below this point
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            extra = {k: v for k, v in node.items() if k != "$ref"}
            resolved = resolve(target, root, _seen + (ref,))
            return {**resolved, **extra} if extra and isinstance(resolved, dict) else resolved
        return {key: resolve(value, root, _seen) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(value, root, _seen) for value in node]
    return node


def to_json_schema(schema: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: ``nullable`` becomes a ``null`` type."""
    if isinstance(schema, list):
        return [to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: to_json_schema(value) for key, value in schema.items()
           if key not in ("nullable", "example", "x-scope", "discriminator", "xml")}
    if schema.get("nullable") and "type" in out:
        kinds = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = kinds + ["null"]
    if "properties" in out and isinstance(out["properties"], dict):
        out["properties"] = {k: to_json_schema(v) for k, v in schema["properties"].items()}
    return out


# -- Wazuh's string formats ------------------------------------------------------------

FORMATS = {
    "names": r"^[\w.\-\s%@/:+]*$",
    "alphanumeric": r"^[\w,\-.+\s:]+$",
    "numbers": r"^\d+$",
    "numbers_or_all": r"^(\d+|all)$",
    "wazuh_key": r"^[a-zA-Z0-9+/=]*$",
    "group_names": r"^[\w.\-]+$",
    # search: free text without the characters Wazuh's API refuses in it (; | & ^ * >)
    "search": r"^[^;|&^*>]+$",
    # sort: field names (word characters, '.', '-') separated by ',', each with an optional sign
    "sort": r"^[\w.\-,+\s]+$",
    # a version as Wazuh writes it: 4.14.0, v4.14.0, wazuh v4.14.0
    "wazuh_version": r"^(?:[Ww]azuh )?v?\d+\.\d+\.\d+$",
    # a path or URL without '..' segments
    "path": r"^(?!.*\.\.)[\w.\-/:+~]+$",
    # a WPK package file (a path ending in .wpk, no '..')
    "wpk_path": r"^(?!.*\.\.)[\w.\-/]+\.wpk$",
}
FORMAT_CHECKER = jsonschema.FormatChecker()
for _name, _pattern in FORMATS.items():
    FORMAT_CHECKER.checks(_name)(lambda value, _re=re.compile(_pattern):
                                 not isinstance(value, str) or bool(_re.match(value)))


def _error_text(error: jsonschema.ValidationError) -> str:
    if error.validator == "format":
        return f"{error.instance!r} is not a {error.validator_value!r}"
    return error.message


# -- per-operation validation ------------------------------------------------------------


@dataclass
class Parameter:
    name: str
    location: str
    required: bool
    schema: dict
    validator: jsonschema.protocols.Validator

    def coerce(self, raw: str) -> Any:
        return _coerce(raw, self.schema, self.name, self.location)


def _coerce(raw: str, schema: dict, name: str, location: str) -> Any:
    kind = schema.get("type")
    where = f"{location} parameter '{name}'"
    if kind == "array":
        items = schema.get("items", {})
        return [_coerce(part, items, name, location) for part in raw.split(",")] if raw else []
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            raise RequestInvalid(f"Wrong type, expected 'integer' for {where}: {raw!r}") from None
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            raise RequestInvalid(f"Wrong type, expected 'number' for {where}: {raw!r}") from None
    if kind == "boolean":
        lowered = raw.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise RequestInvalid(f"Wrong type, expected 'boolean' for {where}: {raw!r}")
    return raw


class Operation:
    """One method + path of the spec, ready to check requests."""

    def __init__(self, spec: dict, path: str, method: str):
        self.path, self.method = path, method.upper()
        item = spec["paths"][path]
        operation = item[method.lower()]
        self.operation = operation
        declared = [resolve(p, spec) for p in item.get("parameters", []) + operation.get(
            "parameters", [])]
        self.parameters: dict[tuple[str, str], Parameter] = {}
        for p in declared:
            schema = to_json_schema(p.get("schema", {}))
            self.parameters[(p["in"], p["name"])] = Parameter(
                p["name"], p["in"], bool(p.get("required")), schema,
                jsonschema.Draft7Validator(schema, format_checker=FORMAT_CHECKER))
        self.body_schema = None
        self.body_required = False
        body = operation.get("requestBody")
        if body:
            body = resolve(body, spec)
            content = body.get("content", {})
            self.body_types = list(content)
            json_body = content.get("application/json")
            if json_body and "schema" in json_body:
                self.body_schema = to_json_schema(json_body["schema"])
                self.body_validator = jsonschema.Draft7Validator(self.body_schema,
                                                                 format_checker=FORMAT_CHECKER)
            self.body_required = bool(body.get("required"))
        else:
            self.body_types = []

    def check_params(self, path_params: dict[str, str],
                     query: Iterable[tuple[str, str]]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        raw_query: dict[str, str] = {}
        for key, value in query:
            raw_query[key] = f"{raw_query[key]},{value}" if key in raw_query else value
        extra = sorted(k for k in raw_query if ("query", k) not in self.parameters)
        if extra:
            raise RequestInvalid(f"Extra query parameter(s) {', '.join(extra)} not in spec")
        sources = {"path": path_params, "query": raw_query}
        for (location, name), parameter in self.parameters.items():
            source = sources.get(location)
            if source is None:
                continue  # headers and cookies are the middleware's business
            if name not in source:
                if parameter.required:
                    raise RequestInvalid(f"Missing {location} parameter '{name}'")
                if "default" in parameter.schema:
                    values[name] = copy.deepcopy(parameter.schema["default"])
                continue
            value = parameter.coerce(source[name])
            error = next(iter(parameter.validator.iter_errors(value)), None)
            if error is not None:
                raise RequestInvalid(f"Invalid value for {location} parameter '{name}': "
                                     f"{_error_text(error)}")
            values[name] = value
        return values

    def check_body(self, raw: bytes, content_type: str | None) -> Any:
        if not self.body_types:
            return None
        if not raw:
            if self.body_required:
                raise RequestInvalid("Request body is required")
            return None
        media = (content_type or "").split(";")[0].strip().lower()
        if media not in self.body_types:
            # Wazuh answers 406 with error 6002 (its spec's WrongContentTypeResponse)
            raise WazuhNotAcceptable(6002, f"{media or 'none'}, expected "
                                           f"{', '.join(self.body_types)}")
        if media != "application/json":
            return raw
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RequestInvalid(f"Request body is not valid JSON: {exc}") from None
        if self.body_schema is not None:
            error = next(iter(sorted(self.body_validator.iter_errors(body),
                                     key=lambda e: list(map(str, e.absolute_path)))), None)
            if error is not None:
                where = ".".join(map(str, error.absolute_path))
                raise RequestInvalid(f"Invalid body{f' field {where!r}' if where else ''}: "
                                     f"{_error_text(error)}")
        return body

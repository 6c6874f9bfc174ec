"""One YAML file, ``etc/wazuhd.yaml``, with a section per plugin.

Each plugin declares its sections as JSON Schema (:class:`ConfigSection`);
defaults come from the schema's ``default`` keywords, so the file only needs
what differs. A missing file is written with every default commented out, and
any error names the file, the key path and what was expected.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import jsonschema
import yaml


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


@dataclass(frozen=True)
class ConfigSection:
    """A top-level section of ``etc/wazuhd.yaml`` owned by one plugin."""

    name: str
    schema: dict
    description: str = ""


def strict(schema: dict) -> dict:
    """Return a copy where every object with ``properties`` rejects unknown keys."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def defaults_of(schema: dict) -> Any:
    """The value a schema describes when the user writes nothing."""
    if "default" in schema:
        return copy.deepcopy(schema["default"])
    if schema.get("type") == "object" and "properties" in schema:
        return {key: defaults_of(sub) for key, sub in schema["properties"].items()
                if "default" in sub or sub.get("type") == "object" and "properties" in sub}
    return None


def fill_defaults(schema: dict, value: Any) -> Any:
    """Merge the user's value over the schema's defaults, recursively."""
    if value is None:
        return defaults_of(schema)
    if isinstance(value, dict) and "properties" in schema:
        merged = dict(value)
        for key, sub in schema["properties"].items():
            if key in merged:
                merged[key] = fill_defaults(sub, merged[key])
            else:
                default = defaults_of(sub)
                if default is not None or "default" in sub:  # a null default is a value too
                    merged[key] = default
        return merged
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [fill_defaults(schema["items"], item) for item in value]
    return value


class Config(dict):
    """The validated configuration: ``config["section"]["key"]``."""

    def __init__(self, data: dict, path: Path | None = None):
        super().__init__(data)
        self.path = path


def _describe_error(error: jsonschema.ValidationError) -> str:
    value = error.instance
    shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    kind = error.validator
    if kind == "type":
        return f"expected {error.validator_value}, got {shown}"
    if kind == "enum":
        return f"expected one of {', '.join(map(repr, error.validator_value))}, got {shown}"
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(value) - set(allowed)) if isinstance(value, dict) else []
        return (f"unknown key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}"
                f" (expected one of: {', '.join(allowed)})")
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"expected a value with {kind} {error.validator_value}, got {shown}"
    return error.message


def _path_of(section: str, error: jsonschema.ValidationError) -> str:
    parts = [section] + [f"[{p}]" if isinstance(p, int) else str(p) for p in error.absolute_path]
    return ".".join(parts).replace(".[", "[")


def validate(sections: Iterable[ConfigSection], raw: dict | None, *, origin: str) -> Config:
    """Check ``raw`` (the parsed YAML) against every section and fill the defaults."""
    by_name: dict[str, ConfigSection] = {}
    for section in sections:
        if section.name in by_name:
            raise ConfigError(f"two plugins declare the config section {section.name!r}")
        by_name[section.name] = section
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: expected a mapping of sections at the top level, "
                          f"got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(by_name))
    if unknown:
        raise ConfigError(f"{origin}: unknown section{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(map(repr, unknown))} (known: {', '.join(sorted(by_name))})")
    result = {}
    for name, section in by_name.items():
        schema = strict(section.schema)
        value = fill_defaults(schema, raw.get(name))
        if value is None:
            value = {}
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(value),
                        key=lambda e: list(map(str, e.absolute_path)))
        if errors:
            first = errors[0]
            raise ConfigError(f"{origin}: {_path_of(name, first)}: {_describe_error(first)}")
        result[name] = value
    return Config(result)


def read_raw(path: Path) -> dict:
    """Parse the YAML file; a syntax error names the line and column."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}:{where}: invalid YAML: {exc.problem}") from exc
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level, "
                          f"got {type(data).__name__}")
    return data or {}


def load(path: Path, sections: Iterable[ConfigSection]) -> Config:
    config = validate(sections, read_raw(path), origin=str(path))
    config.path = path
    return config


# -- the commented default file ------------------------------------------------


def _scalar(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("\n...")


def _render(schema: dict, indent: int, lines: list[str]) -> None:
    pad = "  " * indent
    for key, sub in schema.get("properties", {}).items():
        if sub.get("description"):
            lines.append(f"#{pad} # {sub['description']}")
        nested = sub.get("type") == "object" and "properties" in sub and "default" not in sub
        if nested:
            lines.append(f"#{pad} {key}:")
            _render(sub, indent + 1, lines)
        elif "default" in sub:
            lines.append(f"#{pad} {key}: {_scalar(sub['default'])}")
        else:
            lines.append(f"#{pad} {key}:")


def commented_defaults(sections: Iterable[ConfigSection]) -> str:
    """The text of a fresh ``wazuhd.yaml``: every section, every default, commented out."""
    lines = [
        "## wazuhd configuration.",
        "## Every key below shows its default value. To change one, delete the",
        "## leading '# ' of its line and of its section's line; anything not",
        "## written keeps its default.",
    ]
    for section in sorted(sections, key=lambda s: s.name):
        lines.append("")
        if section.description:
            lines.append(f"## {section.description}")
        lines.append(f"# {section.name}:")
        _render(section.schema, 1, lines)
    return "\n".join(lines) + "\n"


def write_default_file(path: Path, sections: Iterable[ConfigSection]) -> bool:
    """Create the commented default file unless one exists. Returns True when written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(commented_defaults(sections))
    path.chmod(0o640)
    return True

"""Authorization-context rules: which roles a run_as login earns from the context it sends.

A rule is a JSON object whose keys are logical operators (``AND``, ``OR``: a list of rules;
``NOT``: a rule, or a list meaning "not all of them") or search functions over the context:

- ``MATCH``: the structure is at the root of the context; a value must be contained in the
  context's (``"office": "20"`` matches ``"office": ["20", "21"]``);
- ``MATCH$``: the same, but values must be exact (the whole list, in any order);
- ``FIND`` / ``FIND$``: ``MATCH`` / ``MATCH$`` tried at every depth of the context.

Keys and string values written ``r'<regex>'`` are regular expressions (matched at the start,
as Python's ``re.match``). Several keys in one object must all hold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from wazuhd.errors import WazuhError

LOGICAL = ("AND", "OR", "NOT")
FUNCTIONS = ("MATCH", "MATCH$", "FIND", "FIND$")


def validate_rule(rule) -> None:
    """Raise 4003 unless ``rule`` is a well-formed rule object."""
    def check(node, path: str) -> None:
        if not isinstance(node, Mapping) or not node:
            raise WazuhError(4003, f"{path or 'the rule'} must be a non-empty JSON object")
        for key, value in node.items():
            where = f"{path}.{key}" if path else key
            if key in ("AND", "OR") or (key == "NOT" and isinstance(value, list)):
                if not isinstance(value, list) or not value:
                    raise WazuhError(4003, f"{where} must be a non-empty list of rules")
                for index, item in enumerate(value):
                    check(item, f"{where}[{index}]")
            elif key == "NOT":
                check(value, where)
            elif key in FUNCTIONS:
                if not isinstance(value, Mapping) or not value:
                    raise WazuhError(4003, f"{where} must be a non-empty JSON object")
            else:
                raise WazuhError(4003, f"unknown operator {key!r} (expected one of "
                                       f"{', '.join(LOGICAL + FUNCTIONS)})")
    check(rule, "")


def _regex(value) -> re.Pattern | None:
    if isinstance(value, str) and value.startswith("r'") and value.endswith("'") and len(value) >= 3:
        try:
            return re.compile(value[2:-1])
        except re.error:
            return None
    return None


def _scalar_matches(expected, actual) -> bool:
    if isinstance(actual, (Mapping, list)):
        return False
    pattern = _regex(expected)
    if pattern is not None:
        return isinstance(actual, str) and pattern.match(actual) is not None
    return expected == actual and type(expected) is type(actual)


def _matches(expected, actual, exact: bool) -> bool:
    """Does the rule chunk ``expected`` hold against the context chunk ``actual``?"""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return False
        return all(_key_matches(key, value, actual, exact) for key, value in expected.items())
    wanted = expected if isinstance(expected, list) else [expected]
    present = actual if isinstance(actual, list) else [actual]
    if any(isinstance(w, (Mapping, list)) for w in wanted):
        return expected == actual
    covered = all(any(_scalar_matches(w, p) for p in present) for w in wanted)
    if not exact:
        return covered
    return covered and all(any(_scalar_matches(w, p) for w in wanted) for p in present)


def _key_matches(key: str, expected, context: Mapping, exact: bool) -> bool:
    pattern = _regex(key)
    if pattern is None:
        return key in context and _matches(expected, context[key], exact)
    return any(isinstance(k, str) and pattern.match(k) and _matches(expected, v, exact)
               for k, v in context.items())


def _find(expected, context, exact: bool) -> bool:
    """``_matches`` at this level or inside any nested object (also objects inside lists)."""
    if isinstance(context, Mapping):
        if _matches(expected, context, exact):
            return True
        return any(_find(expected, value, exact) for value in context.values())
    if isinstance(context, list):
        return any(_find(expected, item, exact) for item in context)
    return False


def rule_matches(rule: Mapping, context) -> bool:
    """Evaluate a (valid) rule against an authorization context."""
    results = []
    for key, value in rule.items():
        if key == "AND":
            results.append(all(rule_matches(item, context) for item in value))
        elif key == "OR":
            results.append(any(rule_matches(item, context) for item in value))
        elif key == "NOT":
            items = value if isinstance(value, list) else [value]
            results.append(not all(rule_matches(item, context) for item in items))
        elif key in ("MATCH", "MATCH$"):
            results.append(_matches(value, context, key == "MATCH$"))
        elif key in ("FIND", "FIND$"):
            results.append(_find(value, context, key == "FIND$"))
        else:
            results.append(False)
    return bool(results) and all(results)

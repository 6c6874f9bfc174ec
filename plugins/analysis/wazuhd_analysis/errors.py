"""Errors raised while loading a ruleset."""

from __future__ import annotations

__all__ = ["RulesetError"]


class RulesetError(Exception):
    """A ruleset that cannot be loaded.  Names the file, line, and rule id or
    decoder name when known, so a reload can report it and keep the old set."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        rule_id: str | None = None,
        decoder: str | None = None,
    ):
        self.message = message
        self.file = file
        self.line = line
        self.rule_id = rule_id
        self.decoder = decoder
        parts = []
        if file:
            parts.append(f"{file}:{line}" if line else file)
        if rule_id is not None:
            parts.append(f"rule {rule_id}")
        if decoder is not None:
            parts.append(f"decoder '{decoder}'")
        prefix = ", ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)

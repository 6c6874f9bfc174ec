"""wazuhd Docker listener: engine events (and an optional container inventory) as events."""

"""wazuhd syscheck: file integrity monitoring of the manager host (agent 000)."""

"""wazuhd's analysis plugin: Wazuh-compatible decoders, rules, logtest and alerts."""

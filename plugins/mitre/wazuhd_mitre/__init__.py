"""wazuhd MITRE ATT&CK plugin: the Enterprise matrix in the store, the /mitre API, alert enrichment."""

__version__ = "0.1.0"

"""wazuhd's HTTP API host: Wazuh 4.x compatible REST API over HTTPS, JWT and RBAC."""

"""wazuhd: a Wazuh-compatible security manager built as a plugin host."""

import pluggy

__version__ = "0.1.0"

#: Marker for plugin hook implementations: ``@hookimpl def wazuhd_...``.
hookimpl = pluggy.HookimplMarker("wazuhd")

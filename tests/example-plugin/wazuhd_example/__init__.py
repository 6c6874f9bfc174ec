"""An example of a third-party wazuhd plugin: one of every hook."""

"""wazuhd Azure and Microsoft Graph integration."""

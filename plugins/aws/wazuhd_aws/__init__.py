"""wazuhd AWS integration: Wazuh's aws-s3 module as a wazuhd plugin."""

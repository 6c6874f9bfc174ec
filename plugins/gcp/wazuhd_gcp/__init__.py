"""wazuhd Google Cloud plugin: Pub/Sub subscriptions and Cloud Storage log buckets."""

"""Config: defaults from schemas, precise errors, and a commented default file."""

from __future__ import annotations

import yaml
import pytest

from wazuhd import config
from wazuhd.builtin import SECTIONS
from wazuhd.config import ConfigError, ConfigSection

AWS = ConfigSection("aws", description="AWS buckets.", schema={
    "type": "object",
    "properties": {
        "interval": {"type": "integer", "minimum": 60, "default": 600,
                     "description": "Seconds between runs."},
        "buckets": {
            "type": "array", "default": [],
            "items": {"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string"},
                "type": {"type": "string", "enum": ["cloudtrail", "vpcflow"],
                         "default": "cloudtrail"},
            }},
        },
    },
})
SECTIONS_WITH_AWS = SECTIONS + [AWS]


def test_empty_file_gives_every_default():
    cfg = config.validate(SECTIONS_WITH_AWS, None, origin="wazuhd.yaml")
    assert cfg["daemon"] == {"shutdown_timeout": 5}
    assert cfg["logging"]["rotation"] == {"daily": True, "max_size": 0, "compress": True}
    assert cfg["aws"] == {"interval": 600, "buckets": []}


def test_user_values_merge_over_defaults_including_list_items():
    cfg = config.validate(SECTIONS_WITH_AWS, {
        "logging": {"rotation": {"max_size": 1024}},
        "aws": {"buckets": [{"name": "trail"}]},
    }, origin="wazuhd.yaml")
    assert cfg["logging"]["rotation"] == {"daily": True, "max_size": 1024, "compress": True}
    assert cfg["logging"]["level"] == "info"
    assert cfg["aws"]["buckets"] == [{"name": "trail", "type": "cloudtrail"}]


@pytest.mark.parametrize("raw, message", [
    ({"awz": {}}, "etc/wazuhd.yaml: unknown section 'awz' (known: aws, daemon, logging, "
                  "plugins, queue, sockets)"),
    ({"aws": {"intervall": 5}}, "etc/wazuhd.yaml: aws: unknown key 'intervall' "
                                "(expected one of: buckets, interval)"),
    ({"aws": {"interval": "often"}}, "etc/wazuhd.yaml: aws.interval: expected integer, "
                                     "got 'often'"),
    ({"aws": {"interval": 5}}, "etc/wazuhd.yaml: aws.interval: expected a value with "
                               "minimum 60, got 5"),
    ({"aws": {"buckets": [{"name": "a"}, {"name": "b", "type": "s3"}]}},
     "etc/wazuhd.yaml: aws.buckets[1].type: expected one of 'cloudtrail', 'vpcflow', got 's3'"),
    ({"aws": {"buckets": [{"type": "vpcflow"}]}},
     "etc/wazuhd.yaml: aws.buckets[0]: 'name' is a required property"),
    ({"logging": {"format": ["xml"]}},
     "etc/wazuhd.yaml: logging.format[0]: expected one of 'plain', 'json', got 'xml'"),
    (["not", "a", "mapping"], "etc/wazuhd.yaml: expected a mapping of sections at the top level"),
])
def test_errors_name_file_key_path_and_expectation(raw, message):
    with pytest.raises(ConfigError) as error:
        config.validate(SECTIONS_WITH_AWS, raw, origin="etc/wazuhd.yaml")
    assert str(error.value).startswith(message)


def test_yaml_syntax_error_names_line(tmp_path):
    path = tmp_path / "wazuhd.yaml"
    path.write_text("daemon:\n  shutdown_timeout: [5\n")
    with pytest.raises(ConfigError, match=r"wazuhd.yaml: line 3, column 1: invalid YAML"):
        config.load(path, SECTIONS)


def test_two_plugins_cannot_claim_one_section():
    with pytest.raises(ConfigError, match="two plugins declare the config section 'daemon'"):
        config.validate(SECTIONS + [SECTIONS[0]], {}, origin="x")


def test_commented_default_file_is_inert_and_uncomments_to_the_defaults(tmp_path):
    path = tmp_path / "etc" / "wazuhd.yaml"
    assert config.write_default_file(path, SECTIONS_WITH_AWS)
    assert not config.write_default_file(path, SECTIONS_WITH_AWS)  # never overwritten
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    text = path.read_text()
    assert config.load(path, SECTIONS_WITH_AWS) == config.validate(SECTIONS_WITH_AWS, {}, origin="")
    # Deleting the leading "# " of every line gives a valid file equal to the defaults.
    uncommented = "\n".join(line.removeprefix("# ") for line in text.splitlines())
    assert config.validate(SECTIONS_WITH_AWS, yaml.safe_load(uncommented), origin="") == \
        config.validate(SECTIONS_WITH_AWS, {}, origin="")
    assert "# Seconds between runs." in text

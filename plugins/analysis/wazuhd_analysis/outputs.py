"""alerts.json, alerts.log and archives: where alerts land on disk, as Wazuh lays them out.

``logs/alerts/alerts.json`` holds one alert per line in Wazuh's alert schema,
``logs/alerts/alerts.log`` the same alerts in Wazuh's multi-line text form;
both rotate through the host's :class:`wazuhd.logs.RotatingFile` into
``logs/alerts/YYYY/Mon/ossec-alerts-DD.json.gz`` (and ``.log.gz``).
``logs/archives/archives.json`` keeps every event when archives are enabled.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from wazuhd.logs import RotatingFile

# alerts.log field lines: (label, data key), in Wazuh's order.
_TEXT_FIELDS = (("Src IP", "srcip"), ("Src Port", "srcport"), ("Dst IP", "dstip"),
                ("Dst Port", "dstport"), ("User", "dstuser"), ("Src User", "srcuser"))


def alert_text(alert: dict) -> str:
    """One alert in alerts.log's shape (a block of lines ending with a blank line)."""
    rule = alert["rule"]
    agent = alert.get("agent", {})
    seconds = float(alert["id"].split(".")[0])
    where = (f"({agent.get('name')}) {agent.get('ip', 'any')}" if agent.get("id", "000") != "000"
             else agent.get("name", ""))
    lines = [
        f"** Alert {alert['id']}: - {','.join(rule.get('groups', []))},",
        f"{time.strftime('%Y %b %d %H:%M:%S', time.localtime(seconds))} {where}->"
        f"{alert.get('location', '')}",
        f"Rule: {rule['id']} (level {rule['level']}) -> '{rule['description']}'",
    ]
    data = alert.get("data", {})
    lines += [f"{label}: {data[key]}" for label, key in _TEXT_FIELDS if key in data]
    if "full_log" in alert:
        lines.append(alert["full_log"])
    return "\n".join(lines) + "\n"


class AlertWriter:
    """Writes alerts at or above ``log_alert_level`` to alerts.json and/or alerts.log."""

    def __init__(self, logs_dir: Path, *, log_alert_level: int, formats: list[str],
                 archives: bool, max_size: int = 0):
        alerts_dir = logs_dir / "alerts"
        self.log_alert_level = log_alert_level
        self.json = (RotatingFile(alerts_dir / "alerts.json", max_size=max_size,
                                  archive_dir=alerts_dir, archive_name="ossec-alerts")
                     if "json" in formats else None)
        self.text = (RotatingFile(alerts_dir / "alerts.log", max_size=max_size,
                                  archive_dir=alerts_dir, archive_name="ossec-alerts")
                     if "plain" in formats else None)
        archives_dir = logs_dir / "archives"
        self.archives = (RotatingFile(archives_dir / "archives.json", max_size=max_size,
                                      archive_dir=archives_dir, archive_name="ossec-archive")
                         if archives else None)
        self.written = 0

    def wants(self, alert: dict) -> bool:
        return alert["rule"]["level"] >= self.log_alert_level

    def write(self, alerts: list[dict]) -> None:
        """Write a batch of alerts (one write per file for the whole batch)."""
        if self.json is not None:
            self.json.write_lines(json.dumps(alert, separators=(",", ":"), ensure_ascii=False)
                                  for alert in alerts)
        if self.text is not None:
            self.text.write_lines(alert_text(alert) for alert in alerts)
        self.written += len(alerts)

    def archive(self, record: dict) -> None:
        if self.archives is not None:
            self.archives.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False))

    def close(self) -> None:
        for file in (self.json, self.text, self.archives):
            if file is not None:
                file.close()

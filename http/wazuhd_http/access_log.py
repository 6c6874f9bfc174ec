"""``logs/api.log`` and ``logs/api.json``: one line per request, secrets masked.

Plain lines read like Wazuh's api.log::

    2026/11/26 16:30:00 INFO: wazuh 127.0.0.1 "GET /agents" with parameters {"limit": 5} and body {} done in 0.004s: 200

JSON lines carry the same facts as fields (Wazuh's api.json shape).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from wazuhd.logs import RotatingFile, mask_secrets


LEVELS = ("debug", "info", "warning", "error")


class AccessLog:
    """Requests answered below 400 are logged at INFO, the others at WARNING; ``level``
    (Wazuh's ``logs.level``) drops the lines below it."""

    def __init__(self, logs_dir: Path, *, formats: list[str], max_size: int = 0,
                 level: str = "info"):
        self.threshold = LEVELS.index(level)
        self.files = {fmt: RotatingFile(logs_dir / f"api.{'log' if fmt == 'plain' else 'json'}",
                                        max_size=max_size)
                      for fmt in formats}

    def record(self, *, user: str, ip: str, method: str, path: str, parameters: dict,
               body, status: int, elapsed: float) -> None:
        level = "INFO" if status < 400 else "WARNING"
        if LEVELS.index(level.lower()) < self.threshold:
            return
        parameters, body = mask_secrets(parameters), mask_secrets(body)
        stamp = time.strftime("%Y/%m/%d %H:%M:%S")
        if "plain" in self.files:
            self.files["plain"].write(
                f"{stamp} {level}: {user} {ip} \"{method} {path}\" with parameters "
                f"{json.dumps(parameters, default=str)} and body {json.dumps(body, default=str)} "
                f"done in {elapsed:.3f}s: {status}")
        if "json" in self.files:
            self.files["json"].write(json.dumps({
                "timestamp": stamp, "levelname": level,
                "data": {"type": "request", "payload": {
                    "user": user, "ip": ip, "http_method": method, "uri": f"{method} {path}",
                    "parameters": parameters, "body": body, "time": f"{elapsed:.3f}s",
                    "status_code": status}}}, default=str))

    def close(self) -> None:
        for file in self.files.values():
            file.close()

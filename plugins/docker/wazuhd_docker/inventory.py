"""A periodic inventory of an engine's running containers, one event per container.

Events are ``{"integration": "docker-inventory", "docker_inventory": {...}}`` with the
settings that matter to a defender (image, command, ports, privileged, network and PID
mode, added capabilities, mounts, whether the engine's own socket is mounted inside); the
plugin's starter rules (``ruleset/rules``) alert on the risky ones. A snapshot has no
position: every run reports what runs now.
"""

from __future__ import annotations

import trio

from wazuhd.collect import Run, Source, describe
from wazuhd_docker.engine import EngineError, EngineSettings, connect
from wazuhd_docker.listener import LOCATION

#: Paths of the engine's API socket; one mounted in a container gives it the host.
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")


class InventorySource(Source):
    """Running containers of one engine, every ``interval`` seconds."""

    location = LOCATION

    def __init__(self, engine: EngineSettings, *, interval: float = 3600.0):
        self.engine = engine
        self.name = f"docker-inventory:{engine.name}"
        self.interval = interval

    async def collect(self, run: Run) -> None:
        records = await trio.to_thread.run_sync(self.snapshot, abandon_on_cancel=True)
        await run.emit(records)
        run.count("containers", len(records))

    def snapshot(self) -> list[dict]:
        """Blocking: list and inspect the running containers."""
        client = connect(self.engine)
        try:
            records = []
            for summary in client.containers():
                try:
                    details = client.inspect_container(summary["Id"])
                except Exception as exc:  # noqa: BLE001 - gone since the listing
                    if "No such container" in str(exc):
                        continue
                    raise EngineError(f"docker engine {self.engine.label}: cannot inspect "
                                      f"container {summary['Id'][:12]}: {describe(exc)}") from exc
                records.append({"integration": "docker-inventory",
                                "docker_inventory": describe_container(self.engine.name, details)})
            return records
        except EngineError:
            raise
        except Exception as exc:  # noqa: BLE001 - the SDK's and requests' errors alike
            raise EngineError(f"docker engine {self.engine.label}: cannot list containers: "
                              f"{describe(exc)}") from exc
        finally:
            client.close()


def describe_container(engine: str, details: dict) -> dict:
    """The inventory record of one inspected container."""
    config = details.get("Config") or {}
    host = details.get("HostConfig") or {}
    mounts = [{"type": m.get("Type", ""), "source": m.get("Source", ""),
               "destination": m.get("Destination", ""), "rw": bool(m.get("RW"))}
              for m in details.get("Mounts") or []]
    ports = []
    for container_port, bindings in sorted(((details.get("NetworkSettings") or {})
                                            .get("Ports") or {}).items()):
        for binding in bindings or []:
            ports.append(f"{binding.get('HostIp') or '0.0.0.0'}:{binding.get('HostPort')}"
                         f"->{container_port}")
    command = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
    return {
        "engine": engine,
        "id": details.get("Id", ""),
        "name": (details.get("Name") or "").lstrip("/"),
        "image": config.get("Image", ""),
        "command": " ".join(command),
        "created": details.get("Created", ""),
        "started_at": (details.get("State") or {}).get("StartedAt", ""),
        "ports": ports,
        "privileged": bool(host.get("Privileged")),
        "network_mode": host.get("NetworkMode", ""),
        "pid_mode": host.get("PidMode", ""),
        "cap_add": list(host.get("CapAdd") or []),
        "user": config.get("User", ""),
        "mounts": mounts,
        "docker_socket_mounted": any(m["source"] in DOCKER_SOCKETS or
                                     m["destination"] in DOCKER_SOCKETS for m in mounts),
        "labels": config.get("Labels") or {},
    }

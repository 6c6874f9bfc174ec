"""The home directory: one place for every file a running wazuhd owns.

The layout follows Wazuh's so administrators find things where they expect:
``etc/`` (config, keys), ``logs/``, ``queue/sockets/``, ``queue/db/``, ``var/run/``.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = Path("var/wazuhd")


def default_home() -> Path:
    """``$WAZUHD_HOME`` when set, else ``./var/wazuhd`` (the embedded default)."""
    return Path(os.environ.get("WAZUHD_HOME") or DEFAULT_HOME)


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def at(cls, path: str | os.PathLike | None) -> "Home":
        return cls(Path(path if path is not None else default_home()).absolute())

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def sockets(self) -> Path:
        return self.root / "queue" / "sockets"

    @property
    def db(self) -> Path:
        return self.root / "queue" / "db"

    @property
    def run(self) -> Path:
        return self.root / "var" / "run"

    @property
    def config_file(self) -> Path:
        return self.etc / "wazuhd.yaml"

    @property
    def pidfile(self) -> Path:
        return self.run / "wazuhd.pid"

    @property
    def lockfile(self) -> Path:
        return self.run / "wazuhd.lock"

    def socket(self, name: str) -> Path:
        return self.sockets / name

    def ensure(self) -> None:
        """Create the layout; directories are 0750 like Wazuh's (group-readable, not world)."""
        for directory in (self.etc, self.logs, self.sockets, self.db, self.run):
            directory.mkdir(parents=True, exist_ok=True)
            os.chmod(directory, 0o750)


def write_atomic(path: Path, data: bytes | str, mode: int = 0o640) -> None:
    """Replace ``path`` with ``data`` in one step: readers see the old file or the new one,
    never half of it, and a crash leaves no partial file behind. Blocking."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

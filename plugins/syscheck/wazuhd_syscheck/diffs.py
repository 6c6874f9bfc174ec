"""report_changes: the last seen content of text files, and what changed since.

Copies live under ``queue/syscheck/diff/`` (mode 0600, named by a hash of the path: a
path of any length or bytes fits), so a diff survives a restart.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from pathlib import Path

#: The longest diff sent in an event (Wazuh cuts its diffs too).
MAX_DIFF = 4096
NODIFF = "<Diff truncated because nodiff option>"
TOO_BIG = "<Diff truncated because file size exceeds diff_size_limit>"
NOT_TEXT = "<Diff not available: not a text file>"


class DiffStore:
    def __init__(self, directory: Path):
        self.directory = directory

    def _copy(self, path: bytes) -> Path:
        return self.directory / hashlib.sha1(path).hexdigest()

    def remember(self, path: bytes, content: bytes | None) -> None:
        copy = self._copy(path)
        if content is None:
            copy.unlink(missing_ok=True)
            return
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = copy.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(content)
        os.replace(temporary, copy)

    def forget(self, path: bytes) -> None:
        self._copy(path).unlink(missing_ok=True)

    def clear(self) -> None:
        if self.directory.is_dir():
            for copy in self.directory.iterdir():
                copy.unlink(missing_ok=True)

    def changes(self, path: bytes, content: bytes | None, *, size: int | None, limit: int,
                nodiff: bool) -> str | None:
        """What changed since the remembered copy (and remember the new one); None when
        there is no copy to compare with."""
        if nodiff:
            self.forget(path)
            return NODIFF
        if size is not None and size > limit:
            self.forget(path)
            return TOO_BIG
        try:
            old = self._copy(path).read_bytes()
        except FileNotFoundError:
            old = None
        self.remember(path, content)
        if content is None:
            return NOT_TEXT
        if old is None:
            return None
        lines = difflib.unified_diff(old.decode("utf-8", "replace").splitlines(),
                                     content.decode("utf-8", "replace").splitlines(),
                                     lineterm="", n=0)
        text = "\n".join(line for line in lines if not line.startswith(("---", "+++")))
        if len(text) > MAX_DIFF:
            text = text[:MAX_DIFF] + "\nMore changes..."
        return text

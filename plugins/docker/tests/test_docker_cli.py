"""``wazuhd docker listen`` as a user runs it: a real process against a real engine."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from docker_helpers import DockerEngine, actions_of, engine_fixture, event_lines
from wazuhd.testing import wait_for, wazuhd_command


@pytest.fixture(scope="module")
def engine(request, tmp_path_factory) -> DockerEngine:
    return engine_fixture(request, tmp_path_factory)


class Listen:
    """``wazuhd docker listen --stdout`` in the background, its output in files."""

    def __init__(self, workdir, url: str, *args: str, state=None, prefix: tuple = ()):
        self.out = open(workdir / "listen.out", "w+")
        self.err = open(workdir / "listen.err", "w+")
        self.state = state or workdir / "state.json"
        self.proc = subprocess.Popen(
            [*prefix, *wazuhd_command("docker", "listen", "--docker-host", url, "--stdout",
                           "--state", str(self.state), "--interval", "0.2",
                           "--max-backoff", "0.5", *args)],
            stdout=self.out, stderr=self.err, text=True, cwd=workdir)

    def events(self) -> list[dict]:
        self.out.seek(0)
        return event_lines(self.out.read())

    def stderr(self) -> str:
        self.err.seek(0)
        return self.err.read()

    def saw_destroy_of(self, container: str) -> bool:
        return "destroy" in actions_of(self.events(), container)

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def test_until_stops_on_its_own_with_every_event_of_the_window(engine, tmp_path):
    until = time.time() + 6
    listen = Listen(tmp_path, engine.url, "--until", f"{until:.3f}")
    assert wait_for(lambda: listen.state.exists(), 15), listen.stderr()
    container = engine.lifecycle("cli-until")
    assert listen.wait() == 0, listen.stderr()
    assert time.time() >= until
    assert actions_of(listen.events(), container)[:2] == ["create", "start"]
    assert "destroy" in actions_of(listen.events(), container)
    assert f"{len(listen.events())} events" in listen.stderr()


def test_sigterm_saves_the_checkpoint_and_the_next_run_goes_on_from_it(engine, tmp_path):
    listen = Listen(tmp_path, engine.url, "--filter", "type=container")
    assert wait_for(lambda: listen.state.exists(), 15), listen.stderr()
    first = engine.lifecycle("cli-sigterm")
    assert wait_for(lambda: listen.saw_destroy_of(first), 15), listen.stderr()
    began = time.monotonic()
    listen.proc.send_signal(signal.SIGTERM)
    assert listen.wait(10) == 0, listen.stderr()
    assert time.monotonic() - began < 5
    assert "(interrupted)" in listen.stderr()
    sent = listen.events()
    position = json.loads(listen.state.read_text())[f"docker:{engine.url}"]["events"]
    assert position["time_nano"] == max(e["docker"]["timeNano"] for e in sent)

    second = engine.lifecycle("cli-after-sigterm")
    (tmp_path / "again").mkdir()
    again = Listen(tmp_path / "again", engine.url, "--filter", "type=container", "--until", "+3s",
                   state=listen.state)
    assert again.wait() == 0, again.stderr()
    events = again.events()
    assert actions_of(events, first) == []
    assert actions_of(events, second)[0] == "create" and "destroy" in actions_of(events, second)
    assert all(e["docker"]["Type"] == "container" for e in events)


def test_keeps_reconnecting_while_the_engine_is_away_and_says_so_once(engine, tmp_path):
    link = tmp_path / "e.sock"
    listen = Listen(tmp_path, f"unix://{link}", "--until", "+20s")
    assert wait_for(lambda: "no engine socket there" in listen.stderr(), 15), listen.stderr()
    time.sleep(1.5)  # several attempts at 0.2-0.5 s
    os.symlink(engine.socket, link)
    assert wait_for(lambda: listen.state.exists(), 15), listen.stderr()
    container = engine.lifecycle("cli-late-engine")
    assert wait_for(lambda: listen.saw_destroy_of(container), 15), listen.stderr()
    listen.proc.send_signal(signal.SIGINT)
    assert listen.wait(10) == 0
    log = listen.stderr()
    assert log.count("no engine socket there") == 1, log
    assert f"docker engine unix://{link}" in log
    assert "following events since" in log


#: Root without the capabilities that let it ignore file modes, as a user outside the
#: socket's group would be.
WITHOUT_DAC_OVERRIDE = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search",
                        "--inh-caps", "-dac_override,-dac_read_search")


@pytest.mark.skipif(not shutil.which("setpriv"), reason="setpriv (util-linux) is not installed")
def test_permission_denied_names_the_engine_and_keeps_trying(engine, tmp_path):
    engine.socket.chmod(0)
    try:
        listen = Listen(tmp_path, engine.url, "--until", "+2s", prefix=WITHOUT_DAC_OVERRIDE)
        code = listen.wait()
    finally:
        engine.socket.chmod(0o660)
    log = listen.stderr()
    assert code == 1, log
    assert f"docker engine {engine.url}: permission denied on the engine's socket" in log
    assert log.count("permission denied") == 2, log  # the state change once, the final error once

"""The real ``sleepmem serve`` process stopped at bad moments: SIGTERM right after a reply;
``kill -9`` while the edit runs, inside the solve, halfway through writing the edit file and
in the middle of a sleep. Every message a reply acknowledged is learned after the restart,
no half-written file is loaded, a sleep that died leaves the old edits, the answers after
recovery are those of a run that never crashed, and the process exits within 30 s of
SIGTERM. Real model, real loopback HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import TEST_EDITOR, link_models

READY = "OpenAI-compatible API at"
KILL = (
    "import os, signal, time\n"
    "def _die():\n"
    "    print('crash point at', time.time(), flush=True)\n"
    "    os.kill(os.getpid(), signal.{sig})\n"
)
# Code run in the server process before it starts: each replaces one step of the real code
# by kill -9 at that step.
CRASH_AT = {
    # inside a wake edit's layer-by-layer solve
    "solve": (
        "import sleepmem.engine.writing as w\ndef _spread(*a, **k): _die()\nw.spread = _spread\n"
    ),
    # the second edit file half written to its temporary name (the first is whole)
    "delta write": (
        "import sleepmem.engine.deltas as d\n"
        "_real, _calls = d.save_file, []\n"
        "def _save(tensors, path, metadata=None):\n"
        "    _calls.append(path)\n"
        "    if len(_calls) == 1: return _real(tensors, path, metadata=metadata)\n"
        "    _real(tensors, path, metadata=metadata)\n"
        "    data = open(path, 'rb').read()\n"
        "    open(path, 'wb').write(data[: len(data) // 2])\n"
        "    _die()\n"
        "d.save_file = _save\n"
    ),
    # in a sleep, after the re-solve and its audit, before anything is kept
    "sleep": (
        "import sleepmem.engine.memory as m\n"
        "_real, _calls = m.Engine.audit, []\n"
        "def _audit(self, *a, **k):\n"
        "    _calls.append(1)\n"
        "    result = _real(self, *a, **k)\n"
        "    if len(_calls) == 2: _die()\n"
        "    return result\n"
        "m.Engine.audit = _audit\n"
    ),
    # the same point, then the sleep goes on without a checkpoint, in torch and writing to
    # stdout: memory work that outlives the shutdown's grace
    "stuck sleep": (
        "import sleepmem.engine.memory as m\n"
        "_real, _calls = m.Engine.audit, []\n"
        "def _audit(self, *a, **k):\n"
        "    _calls.append(1)\n"
        "    result = _real(self, *a, **k)\n"
        "    if len(_calls) == 2:\n"
        "        _die()\n"
        "        import torch\n"
        "        x = torch.randn(512, 512)\n"
        "        for i in range(100000):\n"
        "            x = torch.tanh(x @ x)\n"
        "            if i % 100 == 0: print('still working', flush=True)\n"
        "    return result\n"
        "m.Engine.audit = _audit\n"
    ),
}


@pytest.fixture(scope="module")
def stats_dir(backend, shared_home: Path) -> Path:
    """The statistics the server processes need, computed once by this session's model,
    so a restarted process does not spend minutes recomputing them."""
    from sleepmem.engine import statistics
    from sleepmem.engine.config import load_config

    cfg = load_config(overrides=dict(TEST_EDITOR), discover=False, env={})
    folder = shared_home / "stats"
    layers = tuple(sorted(cfg.editor.layers))
    statistics.load_or_compute(backend, layers, cfg.editor.stats_tokens, folder)
    return folder


class Server:
    """``sleepmem serve`` as a child process on a free loopback port."""

    def __init__(self, home: Path, model_dir: Path, stats: Path) -> None:
        link_models(home, model_dir)
        if not (home / "stats").exists():
            (home / "stats").symlink_to(stats, target_is_directory=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        editor = {k.split(".", 1)[1]: v for k, v in TEST_EDITOR.items()}
        self.config = home / "sleepmem.yaml"
        self.config.write_text(
            yaml.safe_dump({"home": str(home), "model": str(model_dir), "editor": editor})
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self, crash_at: str | None = None, sig: str = "SIGKILL") -> Server:
        """Start the process; ``crash_at`` (a key of ``CRASH_AT``) makes it send itself
        ``sig`` when it gets there, which no signal sent from outside could time as exactly."""
        prelude = KILL.format(sig=sig) + CRASH_AT[crash_at] if crash_at else ""
        code = prelude + "import sys; from sleepmem.adapters.cli import main; sys.exit(main())"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                code,
                "--config",
                str(self.config),
                "serve",
                "--port",
                str(self.port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "SLEEPMEM_THREADS": "2"},
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 180
        for line in self.proc.stdout:
            self.output.append(line)
            if READY in line:
                break
            assert time.monotonic() < deadline, "".join(self.output)
        else:
            raise AssertionError("server exited before it was ready:\n" + "".join(self.output))
        return self

    def request(self, method: str, path: str, user: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "X-Sleepmem-User": user},
        )
        with urllib.request.urlopen(req, timeout=600) as response:
            return json.loads(response.read())

    def chat(self, user: str, text: str) -> str:
        body = {"model": "sleepmem", "messages": [{"role": "user", "content": text}]}
        answer = self.request("POST", "/v1/chat/completions", user, {**body, "max_tokens": 16})
        return answer["choices"][0]["message"]["content"]

    def answers(self, user: str) -> set[str]:
        return {f["answer"].casefold() for f in self.request("GET", "/v1/memory", user)["facts"]}

    def wait_for(self, user: str, want: set[str], timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.request("GET", "/v1/memory/status", user)
            if want <= self.answers(user) and status["inbox"] == 0:
                return status
            time.sleep(2)
        raise AssertionError(f"{user} never learned {want}: {self.answers(user)}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> float:
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"no exit within {timeout} s of signal {sig}") from None
        finally:
            self.printed()
        return time.monotonic() - started

    def printed(self) -> str:
        """Everything the process printed (read to the end once it has exited)."""
        if self.proc is not None and self.proc.stdout is not None:
            self.output += self.proc.stdout.readlines()
        return "".join(self.output)


@pytest.fixture
def server(tmp_path: Path, model_dir: Path, stats_dir: Path):
    made: list[Server] = []

    def make(crash_at: str | None = None, sig: str = "SIGKILL") -> Server:
        made.append(Server(tmp_path / "home", model_dir, stats_dir))
        return made[-1].start(crash_at, sig)

    yield make
    for s in made:
        if s.proc is not None and s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


def test_sigterm_right_after_the_reply_loses_nothing(server) -> None:
    first = server()
    assert first.chat("ana", "I live in Hobart and my dog is called Pepper.")
    time.sleep(0.5)  # the edit has started (or is about to): the service manager stops us
    took = first.stop(signal.SIGTERM)
    assert took < 30 and first.proc is not None and first.proc.returncode == 0, first.output
    second = server()
    second.wait_for("ana", {"hobart", "pepper"})
    assert second.answers("bob") == set()
    assert second.stop(signal.SIGINT) < 30


def test_kill_9_during_the_edit_loses_nothing(server) -> None:
    first = server()
    assert first.chat("oskar", "My name is Oskar and I work as a carpenter.")
    deadline = time.monotonic() + 60
    while first.request("GET", "/v1/memory/status", "oskar")["pending"] == 0:
        assert time.monotonic() < deadline, "the edit never started"
        time.sleep(0.2)
    time.sleep(3)  # inside the v* steps or the solve
    first.stop(signal.SIGKILL)
    second = server()
    status = second.wait_for("oskar", {"oskar", "carpenter"})
    assert status["facts"] == 2
    second.stop(signal.SIGTERM)


TOLD = ("I live in Hobart.", "My dog is called Pepper.")
ASKED = ("Where do I live?", "What is my dog called?")


def tell_and_ask(server: Server, user: str) -> list[str]:
    """Tell ``TOLD`` one message and edit at a time, then ask ``ASKED`` in fresh chats."""
    for message in TOLD:
        server.chat(user, message)
        server.wait_for(user, set())
    server.wait_for(user, {"hobart", "pepper"})
    return [server.chat(user, q) for q in ASKED]


@pytest.fixture(scope="module")
def uncrashed(tmp_path_factory, model_dir: Path, stats_dir: Path) -> list[str]:
    """The answers of a run without any crash, to compare recovered runs with."""
    server = Server(tmp_path_factory.mktemp("uncrashed") / "home", model_dir, stats_dir).start()
    try:
        return tell_and_ask(server, "ana")
    finally:
        server.stop(signal.SIGTERM)


def delta_files(home: Path) -> list[Path]:
    return sorted(home.glob("**/deltas/*"))


@pytest.mark.parametrize("point", ["solve", "delta write"])
def test_kill_9_inside_an_edit_recovers_to_the_uncrashed_answers(server, uncrashed, point):
    first = server(crash_at=point)
    home = first.config.parent
    first.chat("ana", TOLD[0])
    if point == "delta write":  # the first edit is written whole; the second one dies
        first.wait_for("ana", {"hobart"})
        first.chat("ana", TOLD[1])
    assert first.proc is not None and first.proc.wait(timeout=600) == -signal.SIGKILL
    if point == "delta write":
        assert [p.name.endswith(".tmp") for p in delta_files(home)] == [False, True]
    second = server()
    if point == "solve":  # the first edit died: its message is learned, then the next one
        second.wait_for("ana", {"hobart"})
        second.chat("ana", TOLD[1])
    second.wait_for("ana", {"hobart", "pepper"})
    # nothing half written was loaded: the only edit file is whole and holds both facts
    assert [p.name.endswith(".tmp") for p in delta_files(home)] in ([False], [False, True])
    assert [second.chat("ana", q) for q in ASKED] == uncrashed
    assert second.answers("bob") == set()
    second.stop(signal.SIGTERM)


def test_kill_9_in_the_middle_of_a_sleep_leaves_the_old_edits(server, uncrashed):
    first = server(crash_at="sleep")
    home = first.config.parent
    assert tell_and_ask(first, "ana") == uncrashed
    before = {p.name: p.read_bytes() for p in delta_files(home)}
    with pytest.raises(OSError):  # the connection dies with the process
        first.request("POST", "/v1/memory/sleep", "ana", {"wait": True})
    assert first.proc is not None and first.proc.wait(timeout=600) == -signal.SIGKILL
    assert {p.name: p.read_bytes() for p in delta_files(home)} == before
    second = server()
    status = second.request("GET", "/v1/memory/status", "ana")
    assert status["facts"] == 2 and status["last_sleep"] is None
    assert [second.chat("ana", q) for q in ASKED] == uncrashed
    second.stop(signal.SIGTERM)


def sleep_through_sigterm(
    server: Any, crash_at: str, uncrashed: list[str]
) -> tuple[dict[str, bytes], str]:
    """Start a server that sends itself SIGTERM at ``crash_at`` inside a sleep, tell and ask
    it ``TOLD`` and ask for the sleep; it must exit 0 within 30 s of the signal. Returns its
    edit files as they were before the sleep, and what it printed."""
    first = server(crash_at=crash_at, sig="SIGTERM")
    assert tell_and_ask(first, "ana") == uncrashed
    before = {p.name: p.read_bytes() for p in delta_files(first.config.parent)}
    with contextlib.suppress(OSError):  # answered, or cut off by the shutdown
        first.request("POST", "/v1/memory/sleep", "ana", {"wait": True})
    assert first.proc is not None and first.proc.wait(timeout=120) == 0, first.printed()
    exited = time.time()
    output = first.printed()
    sent = [float(line.split()[-1]) for line in first.output if line.startswith("crash point")]
    assert sent and exited - sent[0] < 30, output
    return before, output


def test_sigterm_in_the_middle_of_a_sleep_exits_and_keeps_a_whole_memory(
    server, uncrashed, tmp_path
):
    """SIGTERM lets work in flight run for a grace period, so the sleep may finish or stop;
    either way the process exits in time and the memory is one whole set of edits."""
    before, _ = sleep_through_sigterm(server, "sleep", uncrashed)
    second = server()
    status = second.request("GET", "/v1/memory/status", "ana")
    assert status["facts"] == 2
    answers = [second.chat("ana", q) for q in ASKED]
    if status["last_sleep"] is None:  # stopped: the old edits, byte for byte
        assert {p.name: p.read_bytes() for p in delta_files(tmp_path / "home")} == before
        assert answers == uncrashed
    else:  # finished within the grace: its edits are whole and answer
        assert "hobart" in answers[0].casefold() and "pepper" in answers[1].casefold()
    second.stop(signal.SIGTERM)


def test_sigterm_with_a_sleep_that_never_reaches_a_checkpoint_exits_in_time(
    server, uncrashed, tmp_path
):
    """Work that outlives the shutdown's grace is abandoned, not waited for: the process
    exits cleanly within 30 s and the memory is the old one, whole."""
    before, output = sleep_through_sigterm(server, "stuck sleep", uncrashed)
    assert "still working" in output and "abandoned" in output
    assert {p.name: p.read_bytes() for p in delta_files(tmp_path / "home")} == before
    second = server()
    status = second.request("GET", "/v1/memory/status", "ana")
    assert status["facts"] == 2 and status["last_sleep"] is None
    assert [second.chat("ana", q) for q in ASKED] == uncrashed
    second.stop(signal.SIGTERM)

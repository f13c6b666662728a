"""The command line and the terminal loop, without loading a model.

Every command here either needs no model (config, plugins, model list) or fails on its
arguments before the model would be loaded. The terminal loop runs against a stand-in
engine; driving it with the real Engine is covered with the engine tests.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from sleepmem.adapters import terminal
from sleepmem.adapters.cli import main
from sleepmem.engine.backends.base import GenerationResponse
from sleepmem.engine.errors import EditError, InputError
from sleepmem.plugin import hookimpl, manager


@pytest.fixture(autouse=True)
def sm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty sleepmem home and no SLEEPMEM_* settings from the outer environment."""
    for var in list(os.environ):
        if var.upper().startswith("SLEEPMEM_"):
            monkeypatch.delenv(var)
    home = tmp_path / "home"
    monkeypatch.setenv("SLEEPMEM_HOME", str(home))
    return home


def run(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- parser


def test_config_prints_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["config"], capsys)
    assert code == 0
    data = yaml.safe_load(out)
    assert data["model"] == "default"
    assert data["backend"] == "torch"
    assert isinstance(data["editor"]["layers"], list)


def test_global_options_before_or_after_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    _, before, _ = run(["--model", "m1", "--device", "cpu", "config"], capsys)
    _, after, _ = run(["config", "--model", "m2", "--backend", "mlx"], capsys)
    assert yaml.safe_load(before)["model"] == "m1"
    assert yaml.safe_load(before)["device"] == "cpu"
    assert yaml.safe_load(after)["model"] == "m2"
    assert yaml.safe_load(after)["backend"] == "mlx"


def test_config_file_env_and_flag_layers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "sleepmem.yaml"
    file.write_text("model: from-file\nmax_new_tokens: 99\neditor:\n  v_lr: 0.25\n")
    monkeypatch.setenv("SLEEPMEM_EDITOR__V_STEPS", "7")
    code, out, _ = run(["--config", str(file), "--model", "from-flag", "config"], capsys)
    assert code == 0
    assert out.startswith(f"# config file: {file}")
    data = yaml.safe_load(out)
    assert data["model"] == "from-flag"
    assert data["max_new_tokens"] == 99
    assert data["editor"]["v_lr"] == 0.25
    assert data["editor"]["v_steps"] == 7


def test_config_describe(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["config", "--describe"], capsys)
    assert code == 0
    assert "editor.v_lr" in out
    assert "$SLEEPMEM_EDITOR__V_LR" in out


def test_example_config_is_every_setting_at_its_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """examples/sleepmem.yaml is what `config --annotated` prints for the defaults: a new
    setting without an entry there (or a changed default) fails here."""
    from sleepmem.engine.config import EngineConfig, config_to_dict, load_config

    example = Path(__file__).parents[1] / "examples" / "sleepmem.yaml"
    loaded = load_config(path=example, discover=False, env={})
    assert config_to_dict(loaded) == config_to_dict(EngineConfig())
    text = example.read_text()
    assert yaml.safe_load(text).keys() == config_to_dict(EngineConfig()).keys()
    code, out, _ = run(["--home", str(tmp_path), "config", "--annotated"], capsys)
    assert code == 0
    assert out.replace(f"home: {tmp_path}", "home: null").strip() in text


def test_bad_config_is_exit_2_with_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text("modle: x\n")
    code, out, err = run(["--config", str(file), "config"], capsys)
    assert code == 2
    assert out == ""
    assert "unknown config key 'modle'" in err
    assert "Traceback" not in err


def test_unknown_subcommand_fails(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["bogus"], capsys)
    assert code != 0
    assert "invalid choice" in err


def test_no_subcommand_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run([], capsys)
    assert code == 2
    assert "chat" in err and "bench" in err
    code, _, err = run(["model"], capsys)
    assert code == 2
    assert "pull" in err


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    assert "plugins" in out
    code, out, _ = run(["--version"], capsys)
    assert code == 0
    assert out.startswith("sleepmem ")


def test_chat_requires_user(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["chat"], capsys)
    assert code == 2
    assert "--user" in err


def test_plugins_lists_rules_and_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["plugins"], capsys)
    assert code == 0
    assert "rules: sleepmem.plugin.builtins.rules" in out
    assert "extractor rules (enabled)" in out
    for command in ("/remember", "/forget", "/memories", "/sleep"):
        assert command in out


def test_model_list_empty_home(sm_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["model", "list"], capsys)
    assert code == 0
    assert "no models" in out
    assert str(sm_home / "models") in out


def test_model_list_with_home_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other"
    folder = other / "models" / "tiny"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"x" * 10)
    code, out, _ = run(["--home", str(other), "model", "list"], capsys)
    assert code == 0
    assert "tiny" in out and "folder" in out


def test_errors_before_the_model_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # None of these may reach open_engine (it would pull the default model).
    from sleepmem.plugin import registry

    def no_open(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("the model must not be loaded")

    monkeypatch.setattr(registry, "open_engine", no_open)
    code, _, err = run(["chat", "--user", "bad\x01id"], capsys)
    assert (code, "control characters" in err) == (2, True)
    missing = tmp_path / "nope.json"
    code, _, err = run(["bench", "memory", "--bench", str(missing), "--json", "o.json"], capsys)
    assert (code, "does not exist" in err) == (2, True)
    alone = tmp_path / "conversations.json"  # a bench without memory_bench.json beside it
    alone.write_text('{"users": [{"user": "a"}]}')
    for which in ("conversations", "levers"):
        code, _, err = run(["bench", which, "--bench", str(alone), "--json", "o.json"], capsys)
        assert (code, "--memory-bench" in err, "Traceback" in err) == (2, True, False)
    monkeypatch.setenv("SLEEPMEM_THREADS", "many")
    code, _, err = run(["stats"], capsys)
    assert (code, "SLEEPMEM_THREADS" in err) == (2, True)


def test_sleep_needs_exactly_one_of_user_and_all(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["sleep"], capsys)
    assert (code, "--user" in err and "--all" in err) == (2, True)
    code, _, err = run(["sleep", "--user", "ana", "--all"], capsys)
    assert (code, "exclude" in err) == (2, True)


def test_readme_cli_reference_is_up_to_date() -> None:
    """The README's CLI reference is generated from the click commands; after changing a
    command, run `python -m sleepmem.adapters.cli.docs --write`."""
    from sleepmem.adapters.cli import build_cli, docs

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    expected = docs.reference(build_cli(with_plugins=False))
    assert docs.current_block(readme) == expected, (
        "run python -m sleepmem.adapters.cli.docs --write"
    )


class _HelloPlugin:
    """A plugin that adds ``sleepmem hello`` through ``register_cli_commands``."""

    @hookimpl
    def register_cli_commands(self, cli: click.Group) -> None:
        @cli.command(help="say hello")
        @click.option("--name", default="world")
        def hello(name: str) -> None:
            if name == "bad":
                raise InputError("no bad names")
            click.echo(f"hello {name}")


def test_a_plugin_adds_a_working_cli_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from click.testing import CliRunner
    from sleepmem.adapters import cli

    pm = manager.new_plugin_manager()
    pm.register(_HelloPlugin(), name="hello-plugin")
    result = CliRunner().invoke(cli.build_cli(pm), ["hello", "--name", "ana"])
    assert (result.exit_code, result.output) == (0, "hello ana\n")
    # Through main, which asks the installed plugins: the command runs like a built-in one,
    # and a SleepmemError it raises is the usual one-line message with exit code 2.
    monkeypatch.setattr(cli, "_plugin_manager", lambda: pm)
    assert run(["hello"], capsys)[:2] == (0, "hello world\n")
    code, out, err = run(["hello", "--name", "bad"], capsys)
    assert (code, out, err) == (2, "", "sleepmem: error: no bad names\n")
    assert "hello" in run(["--help"], capsys)[1]


# --------------------------------------------------------------------------- terminal loop


@dataclass
class _Fact:
    text: str


@dataclass
class _Report:
    added: list[_Fact] = field(default_factory=list)
    superseded: list[_Fact] = field(default_factory=list)


class _Backend:
    model_id = "fake-model"


class FakeEngine:
    """Just enough of Engine for the terminal loop."""

    def __init__(self) -> None:
        self.backend = _Backend()
        self.facts: list[str] = []
        self.replies: list[list[dict[str, str]]] = []
        self.observed: list[tuple[str, list[tuple[str, str]]]] = []
        self.healed = 0
        self.inbox: list[str] = []  # said before the last run stopped

    def pending_count(self, user: str) -> int:
        return len(self.inbox)

    def wake_pending(self, user: str) -> _Report:
        said, self.inbox = self.inbox, []
        self.facts += said
        return _Report(added=[_Fact(t) for t in said])

    def heal(self, user: str) -> int:
        self.healed += 1
        return 0

    def memories(self, user: str) -> list[_Fact]:
        return [_Fact(t) for t in self.facts]

    def reply(
        self, user: str, messages: Sequence[dict[str, str]], max_new_tokens: int | None = None
    ) -> Iterator[GenerationResponse]:
        if "x" * 10 in messages[-1]["content"]:
            raise InputError("message too long")
        self.replies.append(list(messages))
        pieces = [GenerationResponse(t, 5, n) for n, t in enumerate(["Hel", "lo", "!"], 1)]
        return iter([*pieces, GenerationResponse("", 5, 3, "stop")])

    def observe(self, user: str, message: str, history: Sequence[tuple[str, str]]) -> _Report:
        self.observed.append((message, list(history)))
        if message.startswith("I live in"):
            if "fail" in message:
                raise EditError("edit failed, memory unchanged")
            self.facts.append(message)
            return _Report(added=[_Fact(message)])
        return _Report()

    def command(self, user: str, text: str) -> str | None:
        if text.startswith("/memories"):
            return "\n".join(self.facts) or "nothing"
        return "Commands:\n/memories: list"


def drive(engine: FakeEngine, lines: Sequence[str], **kwargs: Any) -> tuple[int, str]:
    feed = iter(lines)

    def fake_input(prompt: str) -> str:
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    out = io.StringIO()
    code = terminal.run_chat(engine, "ana", input_fn=fake_input, out=out, **kwargs)
    return code, out.getvalue()


def test_terminal_chat_loop() -> None:
    engine = FakeEngine()
    lines = ["hi", "", "I live in Porto.", "/memories", "/help", "x" * 20, "I live in fail"]
    code, out = drive(engine, [*lines, "/new", "again", "/quit", "never read"])
    assert code == 0
    assert engine.healed == 1
    assert out.splitlines()[0].startswith("sleepmem · model fake-model · user ana · 0 facts")
    assert "bot> Hello!" in out
    assert "(remembered: I live in Porto.)" in out
    assert "I live in Porto.\n" in out  # /memories
    assert "/new:" in out and "/quit:" in out  # /help adds the local commands
    assert "error: message too long" in out
    assert "error: edit failed" in out
    # history: the second reply saw the first exchange; after /new it starts over
    assert [m["role"] for m in engine.replies[1]] == ["user", "assistant", "user"]
    assert engine.observed[1] == ("I live in Porto.", [("user", "hi"), ("assistant", "Hello!")])
    assert engine.replies[-1] == [{"role": "user", "content": "again"}]
    assert all(m != "never read" for m, _ in engine.observed)


def test_terminal_learns_what_the_last_run_left_in_the_inbox_first() -> None:
    engine = FakeEngine()
    engine.inbox = ["I live in Hobart."]
    code, out = drive(engine, ["hi"])
    assert code == 0 and engine.inbox == []
    assert out.index("(remembered: I live in Hobart.)") < out.index("bot> Hello!")


def test_terminal_no_wake_and_eof() -> None:
    engine = FakeEngine()
    code, out = drive(engine, ["I live in Porto."], wake=False)
    assert code == 0
    assert engine.observed == []
    assert "(remembered:" not in out


def test_terminal_ctrl_c_exits_cleanly() -> None:
    engine = FakeEngine()

    def interrupted(prompt: str) -> str:
        raise KeyboardInterrupt

    out = io.StringIO()
    assert terminal.run_chat(engine, "ana", input_fn=interrupted, out=out) == 0

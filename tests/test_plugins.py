"""The plugin layer: loading and limiting plugins, calling hooks, the hooks the engine fires,
backends and schedules as plugins, the async convention, ``sleepmem plugins``, and the
example third-party plugin (examples/plugins/secret_veto) installed with pip from its folder.

Tests marked by the ``backend``/``engine`` fixtures load the real model: run them under
``flock /tmp/sleepmem-heavy.lock``.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
import inspect
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sleepmem.engine.errors import ConfigError, UnknownFact
from sleepmem.engine.facts import Fact
from sleepmem.plugin import aio, hookimpl, hookspecs, manager, run_async
from sleepmem.plugin.builtins import rules
from sleepmem.plugin.registry import PluginRegistry, load_backend, load_registry

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugins" / "secret_veto"
BUILTINS = ["rules", "questions", "model_extractor", "commands", "backends", "schedules"]


def hookspec_names() -> list[str]:
    return [
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, f"{hookspecs.PROJECT}_spec")
    ]


@pytest.fixture
def pm(monkeypatch: pytest.MonkeyPatch):
    """A fresh manager that sees no installed entry points (only what a test adds)."""
    monkeypatch.delenv(manager.ENV_LOAD, raising=False)
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: [])
    return manager.new_plugin_manager()


class Recorder:
    """A small real plugin that records every notification hook it hears."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.threads: list[str] = []

    def _seen(self, hook: str, **kwargs: Any) -> None:
        self.calls.append((hook, kwargs))
        self.threads.append(threading.current_thread().name)

    def named(self, hook: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.calls if name == hook]

    @hookimpl
    def user_message(self, user_id: str, message: str, history: list[dict[str, str]]) -> None:
        self._seen("user_message", user_id=user_id, message=message, history=history)

    @hookimpl
    def assistant_reply(self, user_id: str, messages: list[dict[str, str]], reply: str) -> None:
        self._seen("assistant_reply", user_id=user_id, messages=messages, reply=reply)

    @hookimpl
    def after_edit(self, user_id: str, added: list[Fact], superseded: list[Fact]) -> None:
        self._seen("after_edit", user_id=user_id, added=added, superseded=superseded)

    @hookimpl
    def before_sleep(self, user_id: str, reason: str) -> None:
        self._seen("before_sleep", user_id=user_id, reason=reason)

    @hookimpl
    def after_sleep(self, user_id: str, report: dict[str, Any]) -> None:
        self._seen("after_sleep", user_id=user_id, report=report)

    @hookimpl
    def command_invoked(self, user_id: str, name: str, arg: str) -> None:
        self._seen("command_invoked", user_id=user_id, name=name, arg=arg)


class Broken:
    """Raises in every notification hook it implements."""

    @hookimpl
    def after_edit(self, user_id: str) -> None:
        raise RuntimeError("broken plugin")

    @hookimpl
    def before_sleep(self, user_id: str) -> None:
        raise RuntimeError("broken plugin")

    @hookimpl
    def after_sleep(self, user_id: str) -> None:
        raise RuntimeError("broken plugin")

    @hookimpl
    def command_invoked(self, name: str) -> None:
        raise RuntimeError("broken plugin")


# --------------------------------------------------------------------------- hook specs


def test_every_hookspec_says_when_it_fires_and_what_it_returns() -> None:
    names = hookspec_names()
    assert set(names) >= {
        "register_extractors",
        "register_commands",
        "extract_facts",
        "before_edit",
        "user_message",
        "assistant_reply",
        "after_edit",
        "before_sleep",
        "after_sleep",
        "command_invoked",
        "register_backends",
        "register_schedules",
    }
    readme = (ROOT / "plugin" / "README.md").read_text(encoding="utf-8")
    for name in names:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert doc.startswith("Fires"), f"{name}: the docstring must start with when it fires"
        assert "Returns" in doc, f"{name}: the docstring must say what it returns"
        assert f"`{name}`" in readme, f"{name} is missing from plugin/README.md"


def test_notification_hooks_are_the_hookspecs_without_results() -> None:
    for name in manager.NOTIFICATION_HOOKS:
        spec = getattr(hookspecs, name)
        assert not getattr(spec, f"{hookspecs.PROJECT}_spec").get("firstresult")
        assert inspect.signature(spec).return_annotation in (None, "None")
    assert set(manager.NOTIFICATION_HOOKS) <= set(hookspec_names())


# --------------------------------------------------------------------------- notify


def test_notify_isolates_a_failing_plugin(pm, caplog: pytest.LogCaptureFixture) -> None:
    first, last = Recorder(), Recorder()
    pm.register(first, name="first")
    pm.register(Broken(), name="broken")
    pm.register(last, name="last")
    with caplog.at_level(logging.ERROR, logger="sleepmem.plugin.manager"):
        failures = manager.notify(pm, "before_sleep", user_id="ana", reason="cron")
    assert [(name, str(exc)) for name, exc in failures] == [("broken", "broken plugin")]
    # Plugins on both sides of the broken one still heard the hook.
    assert first.named("before_sleep") == [{"user_id": "ana", "reason": "cron"}]
    assert last.named("before_sleep") == [{"user_id": "ana", "reason": "cron"}]
    assert "plugin broken failed in before_sleep" in caplog.text


def test_notify_passes_each_plugin_only_the_arguments_it_names(pm) -> None:
    seen: list[str] = []

    class OnlyName:
        @hookimpl
        def command_invoked(self, name: str) -> None:
            seen.append(name)

    pm.register(OnlyName())
    assert manager.notify(pm, "command_invoked", user_id="ana", name="memories", arg="") == []
    assert seen == ["memories"]


def test_notify_rejects_wrong_hooks_and_arguments(pm) -> None:
    with pytest.raises(ValueError, match="not a notification hook"):
        manager.notify(pm, "before_edit", user_id="ana", fact=None)
    with pytest.raises(TypeError, match="reason"):
        manager.notify(pm, "before_sleep", user_id="ana")


# --------------------------------------------------------------------------- loading


def names(pm: Any) -> set[str]:
    return {pm.get_name(p) for p in pm.get_plugins()}


def test_load_plugins_registers_every_builtin(pm) -> None:
    manager.load_plugins(pm)
    assert names(pm) == set(BUILTINS)
    assert {info.source for info in manager.describe(pm)} == {"built-in"}


def test_config_key_limits_plugins(pm) -> None:
    manager.load_plugins(pm, allowed=("rules", "backends"))
    assert names(pm) == {"rules", "backends"}
    assert manager.commands(pm) == {}
    # Additive: widening the list later adds, never removes.
    manager.load_plugins(pm, allowed=["commands"])
    assert names(pm) == {"rules", "backends", "commands"}


def test_env_overrides_the_config_key(pm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(manager.ENV_LOAD, "commands")
    manager.load_plugins(pm, allowed=("rules", "backends"))
    assert names(pm) == {"commands"}


def test_empty_env_loads_nothing_even_if_config_names_plugins(
    pm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(manager.ENV_LOAD, "")
    manager.load_plugins(pm, allowed=("rules",))
    assert names(pm) == set()


def test_config_plugins_reaches_the_loader() -> None:
    from sleepmem.engine.config import load_config

    config = load_config(overrides={"plugins": ["rules", "commands"]}, discover=False, env={})
    assert manager.allowed_names(config.plugins) == {"rules", "commands"}
    config = load_config(discover=False, env={"SLEEPMEM_PLUGINS": "rules,backends"})
    assert manager.allowed_names(config.plugins) == {"rules", "backends"}


def test_unknown_plugin_name_is_warned_about(pm, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sleepmem.plugin.manager"):
        manager.load_plugins(pm, allowed=["rules", "no_such_plugin_xyz"])
    assert names(pm) == {"rules"}
    assert "no_such_plugin_xyz" in caplog.text


# --------------------------------------------------------------------------- collectors


def test_backends_collector_and_plugin_override(pm) -> None:
    from sleepmem.plugin.builtins import backends

    manager.load_plugins(pm, allowed=["backends"])
    table = manager.backends(pm)
    assert table == {"torch": backends.torch_backend, "mlx": backends.mlx_backend}

    def my_torch(source: Any, config: Any) -> Any:
        return ("mine", source)

    class Override:
        @hookimpl
        def register_backends(self, register) -> None:
            register("torch", my_torch)
            register("Remote", my_torch)

    pm.register(Override(), name="override")
    table = manager.backends(pm)
    # Loaded after the built-in, so its "torch" wins; names are case-insensitive.
    assert table["torch"] is my_torch and table["remote"] is my_torch
    assert table["mlx"] is backends.mlx_backend


def test_bad_backend_registration_is_a_config_error(pm) -> None:
    class Bad:
        @hookimpl
        def register_backends(self, register) -> None:
            register("torch", "not a factory")

    pm.register(Bad())
    with pytest.raises(ConfigError, match="callable"):
        manager.backends(pm)


def test_schedules_collector(pm) -> None:
    def every_time(state: Any, config: Any) -> bool:
        return True

    class Always:
        @hookimpl
        def register_schedules(self, register) -> None:
            register("always", every_time)

    manager.load_plugins(pm, allowed=["schedules"])
    builtin = manager.schedules(pm)
    assert set(builtin) == {"cron", "idle", "pressure"}
    pm.register(Always())
    assert manager.schedules(pm)["always"] is every_time


def test_plugin_command_replaces_a_builtin(pm) -> None:
    def mine(engine: Any, user_id: str, arg: str) -> str:
        return "mine"

    class Replace:
        @hookimpl
        def register_commands(self, register) -> None:
            register("/Memories", mine, "/memories: mine")

    manager.load_plugins(pm, allowed=["commands"])
    assert manager.commands(pm)["memories"][0] is not mine
    pm.register(Replace())
    assert manager.commands(pm)["memories"] == (mine, "/memories: mine")
    assert "remember" in manager.commands(pm)


def config_for(tmp_path: Path, **overrides: Any) -> Any:
    from sleepmem.engine.config import load_config

    return load_config(overrides={"home": str(tmp_path), **overrides}, discover=False, env={})


def test_unknown_backend_lists_the_registered_ones(pm, tmp_path: Path) -> None:
    manager.load_plugins(pm, allowed=["backends"])
    with pytest.raises(
        ConfigError, match=r"unknown backend 'tpu'.*registered backends: mlx, torch"
    ):
        load_backend(config_for(tmp_path, backend="tpu"), plugins=PluginRegistry(pm))
    # Checked before the model is resolved: nothing was pulled into the home.
    assert not (tmp_path / "models").exists()


def test_backend_left_out_by_plugins_is_explained(pm, tmp_path: Path) -> None:
    manager.load_plugins(pm, allowed=["rules"])
    with pytest.raises(ConfigError, match=r"registered backends: none \(is the 'backends'"):
        load_backend(config_for(tmp_path), plugins=PluginRegistry(pm))


def test_load_backend_uses_a_plugin_factory(pm, tmp_path: Path) -> None:
    model = tmp_path / "tiny-model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"never read: the factory is a plugin's")
    seen: list[tuple[Any, Any]] = []

    class Remote:
        @hookimpl
        def register_backends(self, register) -> None:
            register("remote", lambda source, config: seen.append((source, config)) or "B")

    pm.register(Remote())
    config = config_for(tmp_path, backend="remote", model=str(model))
    assert load_backend(config, plugins=PluginRegistry(pm)) == "B"
    ((source, got_config),) = seen
    assert got_config is config
    assert Path(source.location) == model


def test_missing_mlx_becomes_backend_unavailable() -> None:
    if importlib.util.find_spec("sleepmem.engine.backends.mlx_backend") is None:
        pytest.skip("the mlx backend module is not in this checkout")
    # A None entry in sys.modules makes `import mlx` fail exactly as if it were not installed.
    code = (
        "import sys\n"
        "for name in ('mlx', 'mlx.core', 'mlx.nn', 'mlx_lm'): sys.modules[name] = None\n"
        "from sleepmem.engine.errors import BackendUnavailable\n"
        "from sleepmem.plugin.builtins.backends import mlx_backend\n"
        "try:\n"
        "    mlx_backend(None, None)\n"
        "except BackendUnavailable as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "pip install 'sleepmem[mlx]'" in out
    if sys.platform != "darwin":
        assert "mlx[cpu]" in out


# --------------------------------------------------------------------------- async convention


def test_run_async_returns_raises_and_shares_one_loop() -> None:
    async def which_loop() -> int:
        await asyncio.sleep(0)
        return id(asyncio.get_running_loop())

    async def fail() -> None:
        raise KeyError("inside")

    first = run_async(which_loop())
    assert run_async(which_loop()) == first == id(aio.background_loop())
    with pytest.raises(KeyError, match="inside"):
        run_async(fail())


def test_run_async_timeout_cancels_the_coroutine() -> None:
    cancelled = threading.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError):
        run_async(slow(), timeout=0.1)
    assert cancelled.wait(5)


async def test_run_async_refuses_to_block_an_event_loop() -> None:
    async def nothing() -> None:
        return None

    with pytest.raises(RuntimeError, match="worker threads"):
        run_async(nothing())


async def test_hook_does_real_http_through_run_async(aiohttp_server: Any) -> None:
    """The documented pattern: a hook in a worker thread posts with one reused aiohttp
    session on sleepmem's loop, to a real server on loopback, while this loop keeps serving."""
    import aiohttp
    from aiohttp import web

    received: list[dict[str, Any]] = []

    async def collect(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", collect)
    server = await aiohttp_server(app)
    url = str(server.make_url("/hook"))
    sessions: list[aiohttp.ClientSession] = []

    async def post(payload: dict[str, Any]) -> int:
        if not sessions:
            sessions.append(aiohttp.ClientSession())
        async with sessions[0].post(url, json=payload) as response:
            return response.status

    class Webhook:
        @hookimpl
        def after_sleep(self, user_id: str, report: dict[str, Any]) -> None:
            assert run_async(post({"user": user_id, **report}), timeout=10) == 200

    pm = manager.new_plugin_manager()
    pm.register(Webhook())
    for user in ("ana", "bo"):
        failures = await asyncio.to_thread(
            manager.notify, pm, "after_sleep", user_id=user, report={"facts": 0}
        )
        assert failures == []
    assert received == [{"user": "ana", "facts": 0}, {"user": "bo", "facts": 0}]
    await asyncio.to_thread(run_async, sessions[0].close())


# --------------------------------------------------------------------------- the example plugin


@pytest.fixture(scope="module")
def secret_veto_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin, pip-installed from its own folder into a private target dir."""
    tmp = tmp_path_factory.mktemp("secret-veto")
    source = tmp / "src"
    # A copy, so the build leaves no build/ or .egg-info behind in the checkout.
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    site = tmp / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(site),
            str(source),
        ],
        check=True,
        timeout=300,
    )
    return site


@pytest.fixture
def secret_veto(secret_veto_site: Path, monkeypatch: pytest.MonkeyPatch):
    """The installed example importable, and its dist visible to entry-point discovery."""
    monkeypatch.syspath_prepend(str(secret_veto_site))
    importlib.invalidate_caches()
    module = importlib.import_module("sleepmem_secret_veto")
    assert Path(module.__file__).parent == secret_veto_site
    return module


def test_example_is_found_through_its_entry_point(secret_veto, monkeypatch) -> None:
    monkeypatch.delenv(manager.ENV_LOAD, raising=False)
    pm = manager.new_plugin_manager()
    manager.load_plugins(pm, allowed=["commands", "secret_veto"])
    assert pm.get_plugin("secret_veto") is secret_veto
    (info,) = [i for i in manager.describe(pm) if i.name == "secret_veto"]
    assert (info.source, info.dist, info.version) == (
        "entry point",
        "sleepmem-secret-veto",
        "0.1.0",
    )
    assert info.hooks == ["before_edit", "register_commands"]
    assert [name for name, _ in info.commands] == ["secrets"]
    password = rules.extract("My password is hunter2.")[0]
    porto = rules.extract("I live in Porto.")[0]
    assert pm.hook.before_edit(user_id="ana", fact=password) is False
    assert pm.hook.before_edit(user_id="ana", fact=porto) is None


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("My password is hunter2.", "password or credential"),
        ("My wifi passcode is x9x9x9.", "password or credential"),
        ("My PIN is 4921.", "password or credential"),
        ("My API key is sk-proj-abcdefghijklmnopqrstuvwx1234.", "API key or token"),
        ("My github token is ghp_abcdefghijklmnopqrstuvwxyz0123456789.", "API key or token"),
        ("My AWS key is AKIAIOSFODNN7EXAMPLE.", "API key or token"),
        ("My credit card number is 4111 1111 1111 1111.", "payment card number"),
        ("My card is 5500-0000-0000-0004.", "payment card number"),
        ("My IBAN is DE89 3704 0044 0532 0130 00.", "IBAN"),
        ("My iban is GB82WEST12345698765432.", "IBAN"),
        ("My SSN is 123-45-6789.", "social security number"),
    ],
)
def test_example_detects_secrets(secret_veto, message: str, kind: str) -> None:
    assert kind in secret_veto.find_secrets(message)
    facts = rules.extract(message)
    assert facts, "the rule extractor should turn this into a fact"
    assert kind in secret_veto.fact_secrets(facts[0])


@pytest.mark.parametrize(
    "message",
    [
        "I live in Porto.",
        "My dog is named Biscuit.",
        "My favourite number is 42.",
        "My lucky number is 4111 1111 1111 1112.",  # fails the Luhn check
        "My IBAN is DE89 3704 0044 0532 0130 01.",  # fails mod-97
        "My phone number is +49 1512 3456789.",
        "I was born on 1990-05-12.",
        "I work at Zalando as a software engineer.",
        "My favourite key is C minor.",
    ],
)
def test_example_lets_ordinary_facts_through(secret_veto, message: str) -> None:
    assert secret_veto.find_secrets(message) == []
    for fact in rules.extract(message):
        assert secret_veto.fact_secrets(fact) == []


def test_example_checksums_and_formats(secret_veto) -> None:
    assert secret_veto.find_secrets("wifi passcode: x9x9x9") == ["password or credential"]
    assert "private key" in secret_veto.find_secrets("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert secret_veto.luhn_ok("4111111111111111")
    assert secret_veto.luhn_ok("79927398713")
    assert not secret_veto.luhn_ok("79927398710")
    assert secret_veto.iban_ok("GB82 WEST 1234 5698 7654 32")
    assert not secret_veto.iban_ok("GB82 WEST 1234 5698 7654 33")
    assert not secret_veto.iban_ok("ZZ82 WEST 1234 5698 7654 32")  # no such country


def test_sleepmem_plugins_lists_the_installed_example(secret_veto_site: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(secret_veto_site), os.environ.get("PYTHONPATH", "")]),
        manager.ENV_LOAD: "rules,commands,backends,secret_veto",
    }
    run = subprocess.run(
        [sys.executable, "-m", "sleepmem.adapters.cli", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    plugins = {p["name"]: p for p in json.loads(run.stdout)["plugins"]}
    assert set(plugins) == {"rules", "commands", "backends", "secret_veto"}
    veto = plugins["secret_veto"]
    assert (veto["source"], veto["dist"], veto["version"]) == (
        "entry point",
        "sleepmem-secret-veto",
        "0.1.0",
    )
    assert veto["hooks"] == ["before_edit", "register_commands"]
    assert [c["name"] for c in veto["commands"]] == ["secrets"]
    assert plugins["backends"]["backends"] == ["torch", "mlx"]
    assert plugins["rules"]["extractors"] == [{"name": "rules", "enabled": True}]
    assert "torch" not in run.stderr  # listing never imports a framework
    text = subprocess.run(
        [sys.executable, "-m", "sleepmem.adapters.cli", "plugins"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    ).stdout
    assert "secret_veto: sleepmem_secret_veto (entry point of sleepmem-secret-veto 0.1.0)" in text
    assert "/secrets [text]" in text
    assert "backend   torch" in text


# --------------------------------------------------------------------------- hooks the engine fires
# These need the model (the backend fixture): run them under the heavy lock.


@pytest.fixture
def hooked(backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A real engine whose private manager holds the built-in rules and commands, a
    Recorder and a Broken plugin (which must not break anything)."""
    from sleepmem.engine.memory import Engine

    monkeypatch.delenv(manager.ENV_LOAD, raising=False)
    pm = manager.new_plugin_manager()
    manager.load_plugins(pm, allowed=["rules", "commands"])
    recorder = Recorder()
    pm.register(Broken(), name="broken")
    pm.register(recorder, name="recorder")
    # No edit is solved here, so the home needs neither the model nor its statistics.
    engine = Engine(config_for(tmp_path / "home"), backend, PluginRegistry(pm))
    yield engine, recorder
    engine.close()


def test_engine_plugins_is_the_managers(hooked) -> None:
    engine, recorder = hooked
    assert engine.plugins.pm.get_plugin("recorder") is recorder


def test_load_registry_loads_plugins_named_by_config(tmp_path: Path) -> None:
    """What ``open_engine`` hands the engine: the process-wide manager, loaded with the
    config key ``plugins``."""
    if os.environ.get(manager.ENV_LOAD) is not None:
        pytest.skip(f"${manager.ENV_LOAD} overrides the config key")
    plugins = load_registry(config_for(tmp_path / "home", plugins=["rules", "commands"]))
    assert {"rules", "commands"} <= names(plugins.pm)
    assert plugins.pm is manager.get_plugin_manager()
    assert "remember" in plugins.commands() and "rules" in plugins.extractor_names()


def test_command_invoked_fires_for_known_commands_only(hooked) -> None:
    engine, recorder = hooked
    assert engine.command("ana", "/Memories") == "I don't remember anything about you yet."
    assert recorder.named("command_invoked") == [{"user_id": "ana", "name": "memories", "arg": ""}]
    engine.command("ana", "/help")
    engine.command("ana", "/nosuchcommand x")
    assert engine.command("ana", "not a command") is None
    assert len(recorder.named("command_invoked")) == 1


def test_forget_unknown_fires_command_but_no_edit(hooked) -> None:
    engine, recorder = hooked
    with pytest.raises(UnknownFact):
        engine.command("ana", "/forget  Lisbon ")
    assert recorder.named("command_invoked") == [
        {"user_id": "ana", "name": "forget", "arg": "Lisbon"}
    ]
    assert recorder.named("after_edit") == []


def test_sleep_hooks_fire_with_reason_and_report(hooked) -> None:
    engine, recorder = hooked
    report = engine.sleep("ana", reason="cron")
    assert report.facts == 0
    assert recorder.named("before_sleep") == [{"user_id": "ana", "reason": "cron"}]
    (after,) = recorder.named("after_sleep")
    assert after["user_id"] == "ana"
    assert after["report"] == {**report.as_dict(), "trigger": "cron"}
    assert after["report"]["reason"] == "nothing to consolidate"
    # before, then after, in the thread that called sleep.
    assert [name for name, _ in recorder.calls] == ["before_sleep", "after_sleep"]
    assert set(recorder.threads) == {threading.current_thread().name}


def test_sleep_command_passes_reason_command(hooked) -> None:
    engine, recorder = hooked
    assert engine.command("bo", "/sleep") == "Nothing to consolidate yet."
    assert [name for name, _ in recorder.calls] == [
        "command_invoked",
        "before_sleep",
        "after_sleep",
    ]
    assert recorder.named("before_sleep") == [{"user_id": "bo", "reason": "command"}]
    assert recorder.named("after_sleep")[0]["report"]["trigger"] == "command"


def test_vetoed_facts_fire_no_after_edit(hooked) -> None:
    engine, recorder = hooked

    class VetoAll:
        @hookimpl
        def before_edit(self, fact: Fact) -> bool:
            return False

    engine.plugins.pm.register(VetoAll())
    report = engine.observe("ana", "I live in Porto.")
    assert report.added == [] and report.skipped == ["vetoed by a plugin: I live in Porto."]
    assert recorder.named("after_edit") == []
    assert engine.memories("ana") == []


def test_secret_veto_through_a_real_engine(engine, secret_veto, monkeypatch) -> None:
    """The installed example, loaded by entry point into the engine's own manager: the
    secret never reaches the solve or the ledger; the ordinary fact beside it is written."""
    monkeypatch.delenv(manager.ENV_LOAD, raising=False)
    pm = engine.plugins.pm
    recorder = Recorder()
    manager.load_plugins(pm, allowed=["secret_veto"])
    pm.register(recorder, name="test-recorder")
    try:
        assert pm.get_plugin("secret_veto") is secret_veto
        only_secret = engine.observe("cleo", "My password is hunter2.")
        assert only_secret.added == []
        assert only_secret.skipped == ["vetoed by a plugin: My password is hunter2."]
        assert engine.memory("cleo").batches() == []  # no edit was solved or stored
        reply = engine.command("cleo", "/remember my card is 4111 1111 1111 1111")
        assert reply == "Not stored: a plugin refused it."  # and the card is not echoed
        assert engine.memories("cleo") == []

        mixed = engine.observe("cleo", "My password is hunter2. I live in Porto.")
        assert [f.answer for f in mixed.added] == ["Porto"]
        assert "vetoed by a plugin: My password is hunter2." in mixed.skipped
        assert [f.answer for f in engine.memories("cleo")] == ["Porto"]
        (after,) = recorder.named("after_edit")
        assert after["user_id"] == "cleo"
        assert [f.answer for f in after["added"]] == ["Porto"]
        assert after["superseded"] == []
        reply = engine.command("cleo", "/secrets")
        assert "refused to remember 3 things" in reply and "hunter2" not in reply
        assert "Porto" in engine.ask("cleo", "Where do I live?")
    finally:
        pm.unregister(name="test-recorder")
        pm.unregister(name="secret_veto")


def _fact(answer: str, slot: str, extractor: str) -> Fact:
    return Fact(
        text=f"x {answer}.", subject="I", relation="r", object=answer, answer=answer,
        questions=("Q?",), slot=slot, extractor=extractor,
    )  # fmt: skip


def test_a_later_extractor_only_adds_what_earlier_ones_missed() -> None:
    rules_facts = [_fact("Porto", "home", "rules"), _fact("nurse", "job", "rules")]
    model_facts = [
        _fact("Lisbon", "home", "model"),  # a slot the rules filled: the rules' value stays
        _fact("porto", "model:i:lives", "model"),  # the same value in another slot: a repeat
        _fact("stamps", "model:i:collect", "model"),  # missed by the rules: added
    ]
    merged = manager.merge_facts([rules_facts, model_facts])
    assert [(f.answer, f.extractor) for f in merged] == [
        ("Porto", "rules"),
        ("nurse", "rules"),
        ("stamps", "model"),
    ]
    # one extractor's own facts are never merged away, whatever their values
    twins = [_fact("Mia", "family:sister:name", "rules"), _fact("Mia", "pet:cat:name", "rules")]
    assert manager.merge_facts([twins]) == twins

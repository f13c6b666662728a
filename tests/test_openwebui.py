"""The Open WebUI Functions, loaded the way Open WebUI loads them (source text exec'd into a
fresh module, frontmatter parsed from the docstring), called with Open WebUI-shaped
arguments against the real sleepmem server on loopback, and against a closed port."""

from __future__ import annotations

import json
import re
import socket
import sys
import types
import uuid
from pathlib import Path

import aiohttp
from sleepmem.adapters.openwebui import FUNCTION_FILE

ACTION_FILE = FUNCTION_FILE.with_name("sleepmem_openwebui_action.py")
CARD = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {
        "name": "Seraphina",
        "description": "{{char}} is a kind forest guardian who helps {{user}}.",
        "first_mes": "Welcome to my glade, {{user}}.",
    },
}


def frontmatter(content: str) -> dict[str, str]:
    """Open WebUI's rule: the file's first line is three quotes, then `key: value` lines
    up to the closing quotes."""
    lines = content.splitlines()
    if not lines or lines[0].strip() != '"""':
        return {}
    out = {}
    for line in lines[1:]:
        if '"""' in line:
            break
        m = re.match(r"^\s*([a-z_]+):\s*(.*)\s*$", line, re.IGNORECASE)
        if m:
            out[m.group(1).strip()] = m.group(2).strip()
    return out


def load_function(path: Path) -> tuple[object, str, dict[str, str]]:
    """As Open WebUI's plugin loader does: exec the source into a new module registered in
    sys.modules only while it runs, then instantiate the first of Pipe / Filter / Action."""
    content = path.read_text(encoding="utf-8")
    name = f"function_sleepmem_{uuid.uuid4().hex}"
    module = types.ModuleType(name)
    sys.modules[name] = module
    try:
        module.__dict__["__file__"] = str(path)
        exec(content, module.__dict__)
    finally:
        sys.modules.pop(name, None)
    for kind in ("Pipe", "Filter", "Action"):
        if hasattr(module, kind):
            return getattr(module, kind)(), kind.lower(), frontmatter(content)
    raise AssertionError("no Function class")


class Events:
    """An ``__event_emitter__``: records what the function told Open WebUI's UI."""

    def __init__(self) -> None:
        self.seen: list[dict] = []

    async def __call__(self, event: dict) -> None:
        self.seen.append(event)

    def of(self, kind: str) -> list[dict]:
        return [e["data"] for e in self.seen if e["type"] == kind]


def owui_user(uid: str, name: str) -> dict:
    return {"id": uid, "name": name, "email": f"{uid}@example.com", "role": "user"}


def body(model: str, text: str, stream: bool, **extra) -> dict:
    return {
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "stream": stream,
        **extra,
    }


async def reply(pipe, model: str, user: dict, text: str, stream: bool, **kw) -> str:
    result = await pipe.pipe(body(model, text, stream), __user__=user, **kw)
    if stream:
        return "".join([piece async for piece in result])
    return result


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- loading ------------------------------------------------------------------------------


def test_files_load_like_open_webui_with_frontmatter() -> None:
    pipe, kind, meta = load_function(FUNCTION_FILE)
    assert kind == "pipe"
    assert meta["title"] == "sleepmem" and meta["requirements"] == "aiohttp"
    assert re.fullmatch(r"\d+\.\d+\.\d+", meta["version"]) and meta["description"]
    assert pipe.valves.SLEEPMEM_URL == "http://127.0.0.1:8430"
    action, kind, meta = load_function(ACTION_FILE)
    assert kind == "action" and meta["title"] and meta["version"]
    assert [a["id"] for a in action.actions] == ["sleep", "memories"]
    assert all(a["icon_url"].startswith("data:image/svg+xml;base64,") for a in action.actions)
    # Valves are pydantic models, as Open WebUI's valve editor expects.
    assert set(pipe.Valves.model_json_schema()["properties"]) >= {"SLEEPMEM_URL", "API_KEY"}


# --- server down --------------------------------------------------------------------------


async def test_closed_port_gives_a_clear_message_in_the_chat() -> None:
    pipe, _, _ = load_function(FUNCTION_FILE)
    pipe.valves = pipe.Valves(SLEEPMEM_URL=closed_port_url())
    events = Events()
    user = owui_user("u-1", "Ana")
    for stream in (False, True):
        text = await reply(pipe, "fn.sleepmem", user, "hi", stream, __event_emitter__=events)
        assert "not reachable" in text and pipe.valves.SLEEPMEM_URL in text
        assert "sleepmem serve" in text
    assert events.of("status")[-1] == {"description": "sleepmem is unavailable", "done": True}
    # The model list still offers sleepmem, so choosing it shows the reason in the chat.
    assert await pipe.pipes() == [{"id": "sleepmem", "name": "sleepmem"}]

    action, _, _ = load_function(ACTION_FILE)
    action.valves = action.Valves(SLEEPMEM_URL=pipe.valves.SLEEPMEM_URL)
    events = Events()
    out = await action.action(
        {"model": "fn.sleepmem", "messages": []},
        __user__=user,
        __event_emitter__=events,
        __model__={"id": "fn.sleepmem"},
        __id__="memories",
    )
    assert "not reachable" in out["content"]
    assert "sleepmem is unavailable" in events.of("message")[0]["content"]


# --- against the real server --------------------------------------------------------------


async def memory_of(server, uid: str, character: str | None = None) -> list[str]:
    params = {"character": character} if character else {}
    async with (
        aiohttp.ClientSession() as s,
        s.get(server.url + "/v1/memory", headers={"X-OpenWebUI-User-Id": uid}, params=params) as r,
    ):
        assert r.status == 200, await r.text()
        return [f["answer"] for f in (await r.json())["facts"]]


async def drain(server) -> None:
    # The server's loop runs in another thread; wait there without blocking this loop.
    import asyncio

    await asyncio.to_thread(server.call, server.service.drain(), 300)


async def test_pipe_remembers_per_open_webui_user_and_tasks_store_nothing(serve, tmp_path) -> None:
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "seraphina.json").write_text(json.dumps(CARD))
    server = serve(**{"server.characters_dir": str(cards)})
    pipe, _, _ = load_function(FUNCTION_FILE)
    pipe.valves = pipe.Valves(SLEEPMEM_URL=server.url)
    assert await pipe.pipes() == [
        {"id": "sleepmem", "name": "sleepmem"},
        {"id": "sleepmem/seraphina", "name": "sleepmem/seraphina"},
    ]
    pipe.valves = pipe.Valves(SLEEPMEM_URL=server.url, MODELS="sleepmem/seraphina")
    assert [p["id"] for p in await pipe.pipes()] == ["sleepmem/seraphina"]

    ana, bo = owui_user("owui-ana", "Ana"), owui_user("owui-bo", "Bo")
    events = Events()
    told = await reply(pipe, "sleepmem.sleepmem", ana, "I live in Porto.", False)
    assert told and "not reachable" not in told
    # An Open WebUI background task quoting a fact must not become a memory.
    task = "### Task:\nGenerate a title.\n### Chat History:\nUSER: I work as a pilot."
    await reply(pipe, "sleepmem.sleepmem", bo, task, False, __task__="title_generation")
    await reply(
        pipe,
        "sleepmem.sleepmem",
        bo,
        "I work as a pilot.",
        False,
        __metadata__={"task": "tags_generation"},
    )
    await drain(server)
    assert await memory_of(server, "owui-ana") == ["Porto"]
    assert await memory_of(server, "owui-bo") == []

    answer = await reply(
        pipe, "sleepmem.sleepmem", ana, "Where do I live?", True, __event_emitter__=events
    )
    assert "porto" in answer.lower()
    other = await reply(pipe, "sleepmem.sleepmem", bo, "Where do I live?", True)
    assert "porto" not in other.lower()
    assert events.of("status") == []  # nothing went wrong

    # Chat commands typed in Open WebUI are answered by sleepmem, streamed or not.
    listed = await reply(pipe, "sleepmem.sleepmem", ana, "/memories", True)
    assert "Porto" in listed
    assert "Porto" not in await reply(pipe, "sleepmem.sleepmem", bo, "/memories", False)

    # A character card is its own model, with memory per user per character.
    greet = await reply(pipe, "sleepmem.sleepmem/seraphina", ana, "Hello!", False)
    assert greet and "answered" not in greet
    await drain(server)
    assert await memory_of(server, "owui-ana", "Seraphina") == []

    # Server errors are shown, not raised.
    missing = await reply(pipe, "sleepmem.nope", ana, "hi", True)
    assert missing.startswith("sleepmem answered 404") and "nope" in missing


async def test_action_buttons_show_memories_and_sleep(serve) -> None:
    server = serve()
    pipe, _, _ = load_function(FUNCTION_FILE)
    action, _, _ = load_function(ACTION_FILE)
    pipe.valves = pipe.Valves(SLEEPMEM_URL=server.url)
    action.valves = action.Valves(SLEEPMEM_URL=server.url)
    ana, bo = owui_user("owui-ana2", "Ana"), owui_user("owui-bo2", "Bo")
    await reply(pipe, "fn.sleepmem", ana, "My favourite colour is orange.", False)
    await drain(server)
    assert await memory_of(server, "owui-ana2") == ["orange"]

    # what Open WebUI 0.12 sends: the chat so far and the clicked reply's id
    chat = [
        {"id": "u", "role": "user", "content": "hi"},
        {"id": "m", "role": "assistant", "content": "Hello."},
        {"id": "u2", "role": "user", "content": "and?"},
        {"id": "m2", "role": "assistant", "content": "Later."},
    ]

    async def click(
        which: str, user: dict, model_id: str, messages: list | None = None
    ) -> tuple[dict, Events]:
        events = Events()
        out = await action.action(
            {
                "model": model_id,
                "messages": chat if messages is None else messages,
                "chat_id": "c",
                "id": "m",
                "session_id": "s",
            },
            __user__=user,
            __event_emitter__=events,
            __model__={"id": model_id, "name": model_id},
            __id__=which,
        )
        return out, events

    out, events = await click("memories", ana, "fn.sleepmem")
    assert "orange" in out["content"]
    assert events.of("status")[0]["done"] is False and events.of("status")[-1]["done"] is True
    assert "orange" in events.of("message")[0]["content"]
    # the clicked reply comes back whole with the answer under it (newer Open WebUI, 0.12
    # here, draws only that)
    shown = "Hello." + events.of("message")[0]["content"]
    assert out["messages"] == [{"id": "m", "content": shown}]
    out, _ = await click("memories", ana, "fn.sleepmem", messages=[])
    assert "messages" not in out and "orange" in out["content"]
    # Another user's button shows their own (empty) memory; an unrelated model falls back
    # to the plain sleepmem memory.
    out, _ = await click("memories", bo, "llama3:8b")
    assert "orange" not in out["content"]

    out, events = await click("sleep", ana, "sleepmem")  # OpenAI-connection model id
    assert "sleepmem · sleep" in events.of("message")[0]["content"]
    status = server.service.status("owui-ana2")
    assert status["last_sleep"] is not None
    assert await memory_of(server, "owui-ana2") == ["orange"]


async def test_a_user_with_no_name_chats_and_is_remembered_by_id(serve) -> None:
    """Open WebUI accounts made by SSO or its API can have an empty or missing name: the
    Pipe sends no name header then, and the memory is still the account's own."""
    server = serve()
    pipe, _, _ = load_function(FUNCTION_FILE)
    pipe.valves = pipe.Valves(SLEEPMEM_URL=server.url)
    blank = {"id": "owui-blank", "name": "  ", "email": "", "role": "user"}
    missing = {"id": "owui-missing", "role": "user"}
    await reply(pipe, "fn.sleepmem", blank, "My favourite colour is teal.", False)
    said = await reply(pipe, "fn.sleepmem", missing, "Hello there!", True)
    assert said.strip() and "not reachable" not in said
    await drain(server)
    assert await memory_of(server, "owui-blank") == ["teal"]
    assert await memory_of(server, "owui-missing") == []

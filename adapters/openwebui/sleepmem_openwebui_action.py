"""
title: sleepmem memory
author: sleepmem
version: 0.1.0
license: Apache-2.0
required_open_webui_version: 0.5.0
requirements: aiohttp
description: Buttons under each reply: "Sleep now" consolidates your sleepmem memory, "Show my memories" lists what sleepmem remembers about you. Works with the sleepmem Pipe and with sleepmem added as an OpenAI connection.
"""  # noqa: E501

# A separate file from the Pipe because Open WebUI gives each Function one type, taken
# from the first of Pipe / Filter / Action the module defines. Like the Pipe it must
# stand alone (Open WebUI execs it in its own process) and avoids postponed annotations.

import json
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, Field

NO_WAKE_HEADER = "X-Sleepmem-No-Wake"
Emitter = Callable[[dict], Awaitable[Any]] | None

_MOON = (
    "data:image/svg+xml;base64,PHN2ZyB4bWxucz0naHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmcnIHZpZXdCb3g9"
    "JzAgMCAyNCAyNCcgZmlsbD0nbm9uZScgc3Ryb2tlPSdjdXJyZW50Q29sb3InIHN0cm9rZS13aWR0aD0nMic+PHBh"
    "dGggZD0nTTIxIDEyLjhBOSA5IDAgMSAxIDExLjIgM2E3IDcgMCAwIDAgOS44IDkuOHonLz48L3N2Zz4="
)
_LIST = (
    "data:image/svg+xml;base64,PHN2ZyB4bWxucz0naHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmcnIHZpZXdCb3g9"
    "JzAgMCAyNCAyNCcgZmlsbD0nbm9uZScgc3Ryb2tlPSdjdXJyZW50Q29sb3InIHN0cm9rZS13aWR0aD0nMic+PHBh"
    "dGggZD0nTTggNmgxM004IDEyaDEzTTggMThoMTNNMyA2aC4wMU0zIDEyaC4wMU0zIDE4aC4wMScvPjwvc3ZnPg=="
)
COMMANDS = {"sleep": "/sleep", "memories": "/memories"}


class SleepmemUnavailable(Exception):
    """The server is down or refused; the message is written for the person chatting."""


def _headers(user: dict | None, api_key: str) -> dict:
    # Same identity headers as the Pipe and as Open WebUI's forwarded user headers, so the
    # buttons act on the memory the chat wrote to.
    headers = {"Content-Type": "application/json", NO_WAKE_HEADER: "1"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    user = user or {}
    if user.get("id"):
        headers["X-OpenWebUI-User-Id"] = str(user["id"])
    if user.get("name"):
        headers["X-OpenWebUI-User-Name"] = quote(str(user["name"]).strip(), safe=" ")
    return headers


def _error(status: int, text: str) -> str:
    try:
        message = json.loads(text)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = text.strip()[:300] or f"HTTP {status}"
    return f"sleepmem answered {status}: {message}"


class Action:
    # Open WebUI shows one button per entry; the clicked one arrives as __id__.
    actions: ClassVar[list[dict]] = [
        {"id": "sleep", "name": "Sleep now", "icon_url": _MOON},
        {"id": "memories", "name": "Show my memories", "icon_url": _LIST},
    ]

    class Valves(BaseModel):
        SLEEPMEM_URL: str = Field(
            default="http://127.0.0.1:8430", description="Base URL of `sleepmem serve`."
        )
        API_KEY: str = Field(
            default="", description="A sleepmem key mapped to '*' (empty if the server has none)."
        )
        DEFAULT_MODEL: str = Field(
            default="sleepmem",
            description="sleepmem model whose memory the buttons use when the chat's model "
            "is not a sleepmem model.",
        )
        TIMEOUT_SECONDS: float = Field(
            default=900.0, description="How long to wait for a sleep to finish."
        )

    def __init__(self) -> None:
        self.valves = self.Valves()

    @property
    def base_url(self) -> str:
        return self.valves.SLEEPMEM_URL.rstrip("/").removesuffix("/v1")

    async def _request(self, method: str, path: str, headers: dict, payload: Any = None) -> Any:
        timeout = aiohttp.ClientTimeout(total=self.valves.TIMEOUT_SECONDS, sock_connect=10)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.request(
                    method, self.base_url + path, json=payload, headers=headers
                ) as resp,
            ):
                text = await resp.text()
                if resp.status >= 400:
                    raise SleepmemUnavailable(_error(resp.status, text))
                return json.loads(text)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise SleepmemUnavailable(
                f"⚠️ The sleepmem server at {self.base_url} is not reachable "
                f"({type(exc).__name__}: {exc}). Start it with `sleepmem serve`, or fix "
                "SLEEPMEM_URL in the Valves of the 'sleepmem memory' function."
            ) from exc

    async def sleepmem_model(self, model: dict | None, headers: dict) -> str:
        """The sleepmem model this chat talks to: a Pipe model ('<function>.<sleepmem id>'),
        an OpenAI-connection model (the sleepmem id itself), or DEFAULT_MODEL for chats
        with other models. The model decides the memory (a character's model has its own)."""
        model_id = str((model or {}).get("id") or "")
        known = [m["id"] for m in (await self._request("GET", "/v1/models", headers))["data"]]
        for candidate in (model_id, model_id.split(".", 1)[-1]):
            if candidate in known:
                return candidate
        return self.valves.DEFAULT_MODEL

    async def run(self, which: str, user: dict | None, model: dict | None) -> str:
        """Send the chat command for ``which`` ('sleep' / 'memories') through the same chat
        endpoint and model as the conversation, so it answers for that conversation's memory
        (per user, or per user per character)."""
        headers = _headers(user, self.valves.API_KEY)
        payload = {
            "model": await self.sleepmem_model(model, headers),
            "messages": [{"role": "user", "content": COMMANDS[which]}],
            "stream": False,
        }
        answer = await self._request("POST", "/v1/chat/completions", headers, payload)
        return answer["choices"][0]["message"]["content"] or ""

    async def action(
        self,
        body: dict,
        __user__: dict | None = None,
        __event_emitter__: Emitter = None,
        __model__: dict | None = None,
        __id__: str | None = None,
        __request__: Any = None,
    ) -> dict | None:
        which = (__id__ or "memories").split(".")[-1]
        if which not in COMMANDS:
            which = "memories"
        busy = "Sleeping: re-checking every memory…" if which == "sleep" else "Asking sleepmem…"
        await _emit(__event_emitter__, "status", {"description": busy, "done": False})
        try:
            text = await self.run(which, __user__, __model__)
            title = "sleepmem · sleep" if which == "sleep" else "sleepmem · your memories"
            await _emit(__event_emitter__, "status", {"description": "Done", "done": True})
        except SleepmemUnavailable as exc:
            text, title = str(exc), "sleepmem is unavailable"
            await _emit(__event_emitter__, "status", {"description": title, "done": True})
        # Appended under the reply the button belongs to, where the user clicked. Older Open
        # WebUI shows what a "message" event appends; newer ones (0.12 here) draw a reply
        # from its output items, which only the messages an action returns update. Both are
        # sent: the returned message carries the whole new text, so it never doubles.
        added = f"\n\n**{title}**\n\n{text}"
        await _emit(__event_emitter__, "message", {"content": added})
        clicked = _clicked(body)
        if clicked is None:
            return {"content": text}
        return {"content": text, "messages": [{**clicked, "content": clicked["content"] + added}]}


def _clicked(body: dict) -> dict | None:
    """The reply whose button was clicked (Open WebUI sends its id as ``id``, else the
    last reply): its id and text as Open WebUI sent them."""
    replies = [
        m
        for m in body.get("messages") or []
        if isinstance(m, dict) and m.get("role") == "assistant" and m.get("id")
    ]
    chosen = [m for m in replies if m["id"] == body.get("id")] or replies[-1:]
    if not chosen:
        return None
    content = chosen[0].get("content")
    return {"id": chosen[0]["id"], "content": content if isinstance(content, str) else ""}


async def _emit(emitter: Emitter, kind: str, data: dict) -> None:
    if emitter is not None:
        await emitter({"type": kind, "data": data})

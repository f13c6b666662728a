"""
title: sleepmem
author: sleepmem
version: 0.1.0
license: Apache-2.0
required_open_webui_version: 0.5.0
requirements: aiohttp
description: Chat with sleepmem, a local model whose per-user memory is written into its weights. Lists the sleepmem server's models (and character cards), forwards each chat with the Open WebUI user's id and name, streams the reply. /sleep, /memories, /forget, /remember work in the chat.
"""  # noqa: E501

# Open WebUI runs this file in its own process (Admin > Functions > Import). It must stand
# alone: no sleepmem imports, only what Open WebUI ships (aiohttp, pydantic). No
# `from __future__ import annotations` either: Open WebUI execs the source into a module
# it removes from sys.modules afterwards, where postponed annotations can fail to resolve.

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, Field

NO_WAKE_HEADER = "X-Sleepmem-No-Wake"
# Request fields forwarded to sleepmem; the rest of Open WebUI's body (its own params,
# features, variables) means nothing to the server.
FORWARDED_FIELDS = ("max_tokens", "max_completion_tokens", "stream_options")
Emitter = Callable[[dict], Awaitable[Any]] | None


class SleepmemUnavailable(Exception):
    """The sleepmem server could not be reached or answered with an error; the message is
    written for the person chatting."""


def server_error_message(status: int, text: str) -> str:
    """The human part of a sleepmem (OpenAI-shaped) error response."""
    try:
        message = json.loads(text)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = text.strip()[:300] or f"HTTP {status}"
    return f"sleepmem answered {status}: {message}"


def unreachable_message(url: str, exc: BaseException) -> str:
    return (
        f"⚠️ The sleepmem server at {url} is not reachable ({type(exc).__name__}: {exc}). "
        "Start it with `sleepmem serve`, or fix SLEEPMEM_URL in this function's Valves "
        "(Admin > Functions > sleepmem > ⚙️)."
    )


def identity_headers(user: dict | None, api_key: str) -> dict:
    """The Open WebUI user, in the headers Open WebUI itself forwards to OpenAI connections
    (ENABLE_FORWARD_USER_INFO_HEADERS), so both routes reach the same memory."""
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    user = user or {}
    if user.get("id"):
        headers["X-OpenWebUI-User-Id"] = str(user["id"])
    if user.get("name"):
        # Open WebUI percent-encodes the name (headers are Latin-1); do the same.
        headers["X-OpenWebUI-User-Name"] = quote(str(user["name"]).strip(), safe=" ")
    if user.get("email"):
        headers["X-OpenWebUI-User-Email"] = str(user["email"]).strip()
    return headers


def is_task(task: Any, metadata: dict | None, body: dict) -> bool:
    """Open WebUI's background calls (title, tags, follow-ups, queries...) carry a task
    name in ``__task__`` / the request metadata; they must not become memories."""
    if task:
        return True
    for meta in (metadata, body.get("metadata")):
        if isinstance(meta, dict) and meta.get("task"):
            return True
    return False


def text_content(content: Any) -> str:
    """Message content as plain text: Open WebUI sends a list of parts when a message has
    images or files; sleepmem's model reads text only."""
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return "" if content is None else str(content)


class Pipe:
    class Valves(BaseModel):
        SLEEPMEM_URL: str = Field(
            default="http://127.0.0.1:8430",
            description="Base URL of `sleepmem serve` (without /v1).",
        )
        API_KEY: str = Field(
            default="",
            description="A sleepmem key mapped to '*' in server.api_keys (a trusted front "
            "end that names its users); empty when the server has no keys.",
        )
        MODELS: str = Field(
            default="",
            description="Comma-separated sleepmem model ids to show (e.g. "
            "'sleepmem,sleepmem/seraphina'); empty = every model the server lists.",
        )
        TIMEOUT_SECONDS: float = Field(
            default=600.0, description="How long to wait for a reply (a /sleep can take minutes)."
        )

    def __init__(self) -> None:
        self.valves = self.Valves()

    # --- plumbing -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.valves.SLEEPMEM_URL.rstrip("/").removesuffix("/v1")

    def _session(self) -> aiohttp.ClientSession:
        timeout = aiohttp.ClientTimeout(total=self.valves.TIMEOUT_SECONDS, sock_connect=10)
        return aiohttp.ClientSession(timeout=timeout)

    def _configured_models(self) -> list:
        return [m.strip() for m in self.valves.MODELS.split(",") if m.strip()]

    async def server_models(self, user: dict | None = None) -> list:
        """Model ids from the server's /v1/models. Raises SleepmemUnavailable."""
        url = f"{self.base_url}/v1/models"
        try:
            async with (
                self._session() as session,
                session.get(url, headers=identity_headers(user, self.valves.API_KEY)) as resp,
            ):
                text = await resp.text()
                if resp.status != 200:
                    raise SleepmemUnavailable(server_error_message(resp.status, text))
                return [m["id"] for m in json.loads(text)["data"]]
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise SleepmemUnavailable(unreachable_message(self.base_url, exc)) from exc

    async def pipes(self) -> list:
        """The models Open WebUI shows. When the server cannot be asked (down, or it needs
        a user for /v1/models) the configured ids, or plain 'sleepmem', are still listed, so
        a chat reaches the server and shows the reason there instead of nothing at all."""
        wanted = self._configured_models()
        try:
            # A placeholder identity: listing models reads no one's memory, but a server
            # without default_user refuses requests that name nobody.
            available = await self.server_models({"id": "open-webui"})
        except SleepmemUnavailable:
            available = wanted or ["sleepmem"]
        ids = [m for m in available if not wanted or m in wanted]
        return [{"id": m, "name": m} for m in ids]

    def sleepmem_model(self, model: str) -> str:
        """Open WebUI names a manifold's models '<function id>.<pipe id>'; sleepmem wants the
        part after the first dot."""
        return model.split(".", 1)[1] if "." in model else model

    # --- the chat -------------------------------------------------------------------------

    async def pipe(
        self,
        body: dict,
        __user__: dict | None = None,
        __request__: Any = None,
        __task__: Any = None,
        __metadata__: dict | None = None,
        __event_emitter__: Emitter = None,
    ) -> Any:
        payload = {
            "model": self.sleepmem_model(str(body.get("model", "sleepmem"))),
            "messages": [
                {"role": m.get("role"), "content": text_content(m.get("content"))}
                for m in body.get("messages", [])
            ],
            "stream": bool(body.get("stream", False)),
        }
        payload.update({k: body[k] for k in FORWARDED_FIELDS if body.get(k) is not None})
        headers = identity_headers(__user__, self.valves.API_KEY)
        if is_task(__task__, __metadata__, body):
            headers[NO_WAKE_HEADER] = "1"
        if payload["stream"]:
            return self._stream(payload, headers, __event_emitter__)
        try:
            return await self._complete(payload, headers)
        except SleepmemUnavailable as exc:
            await _status(__event_emitter__, "sleepmem is unavailable", done=True)
            return str(exc)

    async def _complete(self, payload: dict, headers: dict) -> str:
        url = f"{self.base_url}/v1/chat/completions"
        try:
            async with (
                self._session() as session,
                session.post(url, json=payload, headers=headers) as resp,
            ):
                text = await resp.text()
                if resp.status != 200:
                    raise SleepmemUnavailable(server_error_message(resp.status, text))
                return json.loads(text)["choices"][0]["message"]["content"] or ""
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise SleepmemUnavailable(unreachable_message(self.base_url, exc)) from exc

    async def _stream(self, payload: dict, headers: dict, emitter: Emitter) -> AsyncIterator[str]:
        """Text pieces of the reply as the server streams them. Errors become one last piece
        of text: Open WebUI shows it in the chat, where the user is looking."""
        url = f"{self.base_url}/v1/chat/completions"
        try:
            async with (
                self._session() as session,
                session.post(url, json=payload, headers=headers) as resp,
            ):
                if resp.status != 200:
                    yield server_error_message(resp.status, await resp.text())
                    return
                async for piece in _sse_text(resp):
                    yield piece
        except SleepmemUnavailable as exc:
            yield f"\n\n{exc}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            await _status(emitter, "sleepmem is unavailable", done=True)
            yield unreachable_message(self.base_url, exc)


async def _sse_text(resp: aiohttp.ClientResponse) -> AsyncIterator[str]:
    """The content deltas of an OpenAI chat-completions event stream."""
    buffer = b""
    async for chunk in resp.content.iter_any():
        buffer += chunk
        while b"\n" in buffer:
            raw, buffer = buffer.split(b"\n", 1)
            line = raw.decode("utf-8").strip()
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                event = json.loads(data)
            except ValueError as exc:
                message = f"sleepmem sent an unreadable event: {data[:200]}"
                raise SleepmemUnavailable(message) from exc
            if "error" in event:
                raise SleepmemUnavailable(
                    f"sleepmem failed mid-reply: {event['error'].get('message', event['error'])}"
                )
            for choice in event.get("choices", []):
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    yield piece


async def _status(emitter: Emitter, description: str, done: bool) -> None:
    if emitter is not None:
        await emitter({"type": "status", "data": {"description": description, "done": done}})

"""``/v1/models`` and ``/v1/chat/completions``, in the shapes OpenAI clients expect.

Sampling parameters (temperature, top_p, ...) are accepted and ignored: replies are greedy,
so a memory test asked twice gets the same answer. Tools offered to the model are ignored
and answered in plain text, as a model that never calls them would (front ends such as Open
WebUI 0.12 offer their built-in tools with every chat); a request that forces a tool call,
``n`` > 1 and non-text content are refused with a 400 rather than silently dropped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from sleepmem.engine.backends.base import GenerationResponse
from sleepmem.engine.commands import is_command
from sleepmem.engine.errors import InputError
from sleepmem.engine.service import MemoryService, memory_key

from .errors import ApiError, error_body, json_body
from .identity import identify, requested_character

log = logging.getLogger(__name__)

ROLES = ("system", "developer", "user", "assistant")
NO_WAKE_HEADER = "X-Sleepmem-No-Wake"
# Open WebUI's background tasks (titles, tags, follow-ups) arrive as ordinary chats whose
# prompt quotes the whole conversation; writing facts from them would duplicate memories.
TASK_PREFIXES = ("### Task:",)


def _text(content: Any, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for i, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise ApiError(
                    400,
                    f"{where}[{i}]: only text content is supported, not {kind!r}",
                    param=where,
                )
            parts.append(str(part.get("text", "")))
        return "".join(parts)
    raise ApiError(400, f"{where} must be a string or a list of text parts", param=where)


def parse_messages(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "'messages' must be a non-empty list", param="messages")
    messages = []
    for i, m in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise ApiError(400, f"{where} must be an object", param=where)
        role = m.get("role")
        if role not in ROLES:
            raise ApiError(
                400, f"{where}.role must be one of {', '.join(ROLES)}, not {role!r}", param=where
            )
        role = "system" if role == "developer" else role
        messages.append({"role": role, "content": _text(m.get("content"), where + ".content")})
    if not any(m["role"] == "user" for m in messages):
        raise ApiError(400, "'messages' has no user message", param="messages")
    return messages


def _limit(body: dict[str, Any]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ApiError(400, f"'{name}' must be a positive integer", param=name)
        return value
    return None


def _check_unsupported(body: dict[str, Any]) -> None:
    n = body.get("n", 1)
    if n not in (1, None):
        raise ApiError(400, "'n' must be 1: one greedy reply per request", param="n")
    for choice in ("tool_choice", "function_call"):
        if _forces_a_call(body.get(choice)):
            raise ApiError(
                400, f"'{choice}' forces a tool call; this model answers in text only", param=choice
            )
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be true or false", param="stream")


def _forces_a_call(choice: Any) -> bool:
    """True for a tool_choice / function_call the model cannot honour by answering in text:
    "required", or one named function. None, "auto" and "none" leave it free not to call."""
    return choice not in (None, "auto", "none")


def model_list(app: web.Application) -> list[str]:
    return [app["config"].server.model_name, *app["personas"]]


async def list_models(request: web.Request) -> web.Response:
    identify(request, None, request.app["config"].server, need_user=False)
    created = request.app["started"]
    data = [
        {"id": name, "object": "model", "created": created, "owned_by": "sleepmem"}
        for name in model_list(request.app)
    ]
    return web.json_response({"object": "list", "data": data})


async def get_model(request: web.Request) -> web.Response:
    identify(request, None, request.app["config"].server, need_user=False)
    name = request.match_info["model"]
    if name not in model_list(request.app):
        raise ApiError(404, f"model {name!r} not found", param="model", code="model_not_found")
    return web.json_response(
        {"id": name, "object": "model", "created": request.app["started"], "owned_by": "sleepmem"}
    )


def _completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


class _Turn:
    """One chat-completions request, validated, with its user and persona resolved."""

    def __init__(self, request: web.Request, body: dict[str, Any]) -> None:
        app = request.app
        cfg = app["config"].server
        _check_unsupported(body)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise ApiError(400, "'model' is required", param="model")
        if model not in model_list(app):
            raise ApiError(
                404,
                f"model {model!r} not found; this server has {', '.join(model_list(app))}",
                param="model",
                code="model_not_found",
            )
        self.model = model
        self.messages = parse_messages(body.get("messages"))
        self.max_tokens = _limit(body)
        self.stream = bool(body.get("stream", False))
        options = body.get("stream_options") or {}
        self.include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        caller = identify(request, body, cfg)
        if caller.user_id is None:
            raise ApiError(400, "admin chat requests must name the user", param="user")
        persona = app["personas"].get(model)
        character = persona.name if persona is not None else requested_character(request)
        self.user = memory_key(
            caller.user_id, character=character if cfg.per_character_memory else None
        )
        self.prompt = self.messages
        if persona is not None:
            self.prompt = persona_messages(persona, self.messages, caller.name)
        last = self.messages[-1]["content"] if self.messages[-1]["role"] == "user" else ""
        no_wake = request.headers.get(NO_WAKE_HEADER, "").lower() in ("1", "true", "yes")
        self.wake = not no_wake and not last.lstrip().startswith(TASK_PREFIXES)
        self.command = last if is_command(last) else None


def persona_messages(persona: Any, messages: list[dict[str, str]], user_name: str | None):
    """The card's system prompt first and its greeting as the opening assistant turn."""
    head = [{"role": "system", "content": persona.system_prompt(user_name)}]
    if persona.greeting and not any(m["role"] == "assistant" for m in messages):
        rest = [m for m in messages if m["role"] != "system"]
        system = [m for m in messages if m["role"] == "system"]
        return head + system + [{"role": "assistant", "content": persona.greeting}] + rest
    return head + messages


def _usage(last: GenerationResponse) -> dict[str, int]:
    """The OpenAI usage block, from a generation's last response. A chat command runs no
    model, so it counts zero tokens."""
    return {
        "prompt_tokens": last.prompt_tokens,
        "completion_tokens": last.completion_tokens,
        "total_tokens": last.prompt_tokens + last.completion_tokens,
    }


def _finish(last: GenerationResponse) -> str:
    # A stream that ended without its last response (it cannot, unless stopped) reports
    # "length", as a reply that ran out of tokens does.
    return last.finish_reason or "length"


def _command_answer(text: str) -> GenerationResponse:
    return GenerationResponse(text, 0, 0, "stop")


async def chat_completions(request: web.Request) -> web.StreamResponse:
    service: MemoryService = request.app["service"]
    turn = _Turn(request, await json_body(request))
    if turn.stream:
        return await _stream(request, service, turn)
    started = time.perf_counter()
    if turn.command is not None:
        reply = _command_answer(await service.command(turn.user, turn.command) or "")
    else:
        if turn.wake:
            await service.receive(turn.user, turn.prompt)  # durable before the reply exists
        reply = await service.reply(turn.user, turn.prompt, turn.max_tokens)
        if turn.wake:
            service.after_reply(turn.user, turn.prompt, reply.text)
    text = reply.text
    log.info(
        "chat user=%s model=%s chars=%d seconds=%.2f",
        turn.user,
        turn.model,
        len(text),
        time.perf_counter() - started,
    )
    return web.json_response(
        {
            "id": _completion_id(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": turn.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": _finish(reply),
                    "logprobs": None,
                }
            ],
            "usage": _usage(reply),
        }
    )


async def _responses(service: MemoryService, turn: _Turn) -> AsyncIterator[GenerationResponse]:
    if turn.command is not None:
        yield _command_answer(await service.command(turn.user, turn.command) or "")
        return
    if turn.wake:
        await service.receive(turn.user, turn.prompt)  # durable before the reply exists
    async for response in service.stream_reply(turn.user, turn.prompt, turn.max_tokens):
        yield response


async def _stream(request: web.Request, service: MemoryService, turn: _Turn) -> web.StreamResponse:
    """Server-sent events in the OpenAI chunk format, ending with ``data: [DONE]``.

    The first piece is awaited before the response starts, so a request the engine
    rejects still gets a proper HTTP error status instead of a broken stream.
    """
    responses = _responses(service, turn)
    last = GenerationResponse("", 0, 0, "length")  # what the stream ends on if it yields none
    try:
        last = await anext(responses)
    except StopAsyncIteration:
        pass
    except InputError as exc:
        raise ApiError(400, str(exc), param="messages") from None
    cid, created = _completion_id(), int(time.time())

    def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> bytes:
        # delta None: OpenAI's closing usage chunk, whose choices are always empty.
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        payload = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": turn.model,
            "choices": [] if delta is None else [choice],
            **extra,
        }
        return b"data: " + json.dumps(payload).encode() + b"\n\n"

    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    text = last.text
    dropped = False
    try:
        await response.write(chunk({"role": "assistant", "content": last.text}))
        async for step in responses:
            last = step  # the closing one (empty text) carries the usage and finish reason
            if step.text:
                text += step.text
                await response.write(chunk({"content": step.text}))
        await response.write(chunk({}, _finish(last)))
        if turn.include_usage:
            await response.write(chunk(None, usage=_usage(last)))
        await response.write(b"data: [DONE]\n\n")
    except (ConnectionResetError, ConnectionError):
        dropped = True  # the client hung up; the user's message still counts for wake
        log.info("stream dropped by the client user=%s after %d chars", turn.user, len(text))
    except Exception as exc:  # headers are sent: report in-band, then end the stream
        log.exception("stream failed user=%s", turn.user)
        body = error_body(500, f"generation failed: {exc}")
        if not dropped:
            with contextlib.suppress(ConnectionResetError, ConnectionError):
                await response.write(b"data: " + json.dumps(body).encode() + b"\n\n")
    finally:
        await responses.aclose()
    if turn.command is None and turn.wake and text:
        service.after_reply(turn.user, turn.prompt, text)
    return response

"""Who is asking: every request is answered with exactly one user's memory.

Order (first match wins):

1. configured keys: an admin key, or a key mapped to one user, or a key mapped to ``*``
   (a trusted front end such as Open WebUI that names its users itself);
2. for trusted front ends or a server without keys: Open WebUI's forwarded headers
   (``X-OpenWebUI-User-Id``), ``X-Sleepmem-User``, the body's ``user`` field, ``?user=``;
3. ``server.default_user``; otherwise the request is refused, so a shared bot never
   silently pours everyone into one memory.

A key mapped to one user always acts as that user: names in headers or the body cannot
reach anyone else's memory.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from sleepmem.engine.config import ServerConfig
from sleepmem.engine.errors import InputError
from sleepmem.engine.service import check_external_user_id

from .errors import ApiError

TRUSTED = "*"
USER_HEADERS = ("X-OpenWebUI-User-Id", "X-Sleepmem-User")


@dataclass(frozen=True)
class Caller:
    user_id: str | None  # None only for an admin who named nobody
    admin: bool = False
    name: str | None = None


def _token(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("X-Api-Key") or None


def _match(token: str, keys: Any) -> str | None:
    """The configured key equal to ``token`` (constant-time per comparison)."""
    for key in keys:
        if hmac.compare_digest(token.encode(), str(key).encode()):
            return str(key)
    return None


def _named_user(request: web.Request, body: dict[str, Any] | None, cfg: ServerConfig):
    headers = USER_HEADERS if cfg.trust_user_headers else USER_HEADERS[1:]
    for header in headers:
        if request.headers.get(header, "").strip():
            return request.headers[header], "header " + header
    if body is not None and body.get("user") not in (None, ""):
        return body["user"], "field user"
    if request.query.get("user", "").strip():
        return request.query["user"], "query user"
    return None, ""


def _checked(user: Any, where: str) -> str:
    try:
        return check_external_user_id(user)
    except InputError as exc:
        raise ApiError(400, f"{where}: {exc}", param="user", code="invalid_user") from None


def identify(
    request: web.Request, body: dict[str, Any] | None, cfg: ServerConfig, need_user: bool = True
) -> Caller:
    """The caller of ``request``; with ``need_user=False`` only the API key is checked
    (for routes such as ``/v1/models`` that touch no memory)."""
    token = _token(request)
    trusted = not (cfg.api_keys or cfg.admin_keys)
    admin = False
    if not trusted:
        if token is None:
            raise ApiError(401, "missing API key (Authorization: Bearer ...)", code="no_api_key")
        if _match(token, cfg.admin_keys):
            admin = trusted = True
        elif (key := _match(token, cfg.api_keys)) is not None:
            mapped = cfg.api_keys[key]
            if mapped != TRUSTED:
                return Caller(_checked(mapped, "server.api_keys"))
            trusted = True
        else:
            raise ApiError(401, "invalid API key", code="invalid_api_key")
    if not need_user:
        return Caller(None, admin=admin)
    # Open WebUI percent-encodes the forwarded name (headers are latin-1 only).
    name = unquote(request.headers.get("X-OpenWebUI-User-Name", "")).strip() or None
    user, where = _named_user(request, body, cfg)
    if user is not None:
        return Caller(_checked(user, where), admin=admin, name=name)
    if admin:
        return Caller(None, admin=True)
    if cfg.default_user:
        return Caller(_checked(cfg.default_user, "server.default_user"), name=name)
    raise ApiError(
        400,
        "who is this? name the user in the request's 'user' field, the X-Sleepmem-User "
        "header, Open WebUI's forwarded X-OpenWebUI-User-Id header, or use a per-user API key",
        param="user",
        code="missing_user",
    )


def requested_character(request: web.Request) -> str | None:
    """The character a request names (``?character=`` or ``X-Sleepmem-Character``): used by
    front ends such as SillyTavern that keep one persona per chat on the plain model."""
    raw = request.query.get("character") or request.headers.get("X-Sleepmem-Character")
    if raw is None or not raw.strip():
        return None
    try:
        return check_external_user_id(unquote(raw).strip())
    except InputError as exc:
        raise ApiError(400, f"character: {exc}", param="character") from None


def require_user(caller: Caller) -> str:
    if caller.user_id is None:
        raise ApiError(400, "admin requests must name the user (?user=...)", param="user")
    return caller.user_id


def require_admin(caller: Caller) -> None:
    if not caller.admin:
        raise ApiError(403, "this needs an admin key (server.admin_keys)", code="not_admin")

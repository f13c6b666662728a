"""Every failure leaves the server as an OpenAI-shaped error, so OpenAI clients surface it.

``{"error": {"message", "type", "param", "code"}}`` with the matching HTTP status. Engine
errors map by class; anything unexpected is logged with its traceback and answered 500
without internals, and the server keeps serving.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sleepmem.engine.errors import (
    BackendUnavailable,
    ConfigError,
    EditError,
    InputError,
    SleepmemError,
    StoreError,
    UnknownFact,
)

log = logging.getLogger(__name__)

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    503: "service_unavailable_error",
}


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code


def error_body(status: int, message: str, param: str | None = None, code: str | None = None):
    return {
        "error": {
            "message": message,
            "type": _TYPES.get(status, "server_error"),
            "param": param,
            "code": code,
        }
    }


def error_response(error: ApiError) -> web.Response:
    return web.json_response(
        error_body(error.status, error.message, error.param, error.code), status=error.status
    )


def from_engine(exc: SleepmemError) -> ApiError:
    """The HTTP meaning of an engine error."""
    if isinstance(exc, UnknownFact):
        return ApiError(404, str(exc), code="fact_not_found")
    if isinstance(exc, (InputError, ConfigError)):
        return ApiError(400, str(exc))
    if isinstance(exc, BackendUnavailable):
        return ApiError(503, str(exc), code="backend_unavailable")
    if isinstance(exc, EditError):
        return ApiError(500, str(exc), code="edit_failed")
    if isinstance(exc, StoreError):
        return ApiError(500, str(exc), code="store_error")
    return ApiError(500, str(exc))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc)
    except SleepmemError as exc:
        return error_response(from_engine(exc))
    except web.HTTPRequestEntityTooLarge as exc:
        return error_response(ApiError(413, exc.text or "request body too large", code="too_large"))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        reason = exc.reason if exc.status != 404 else f"no route {request.method} {request.path}"
        return error_response(ApiError(exc.status, reason))
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(ApiError(500, "internal server error; see the server log"))


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 saying what is wrong with it."""
    raw = await request.read()
    if not raw.strip():
        raise ApiError(400, "the request body is empty; send a JSON object")
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return body

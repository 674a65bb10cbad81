"""Every error the server answers, in OpenAI's shape `{"error": {"message", "type", "param",
"code"}}`: lamina's own (:class:`~lamina.serving.requests.ApiError`), the framework's (an
unknown route, a wrong method, a request FastAPI itself refused) and unexpected ones.

An unexpected error is the server's fault, and its text may hold anything (a path, a host, what a
tool knew): the client gets a 500 with an error id, the server log the traceback under that id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from lamina.serving.requests import ApiError, internal_error, log_internal

if TYPE_CHECKING:
    from fastapi import FastAPI, Request

__all__ = ["install_error_handlers"]

_KINDS = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of `app` in OpenAI's shape."""

    @app.exception_handler(ApiError)
    async def _on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(HTTPException)
    async def _on_http_error(request: Request, exc: HTTPException) -> JSONResponse:
        error = _framework_error(request, exc.status_code, dict(exc.headers or {}))
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())) or None
        error = ApiError(
            422,
            f"Invalid {where or 'request'}: {first.get('msg', 'not what the endpoint takes')}. "
            "Fix: send the request in OpenAI's format.",
            param=where,
        )
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        error = internal_error(exc, log_internal(exc, f"serving {request.url.path}"))
        return JSONResponse(error.body(), status_code=error.status)


def _framework_error(request: Request, status: int, headers: dict[str, str]) -> ApiError:
    """An error Starlette raised itself (no route, wrong method), phrased as lamina's are."""
    found = f"{request.method} {request.url.path}"
    if status == 405:
        allowed = headers.get("Allow") or headers.get("allow") or "another method"
        return ApiError(
            405,
            f"Expected {allowed} for {request.url.path}; found {request.method}. Fix: send "
            f"{allowed} {request.url.path}.",
            code="method_not_allowed",
            headers=headers,
        )
    if status == 404:
        return ApiError(
            404,
            "Expected one of POST /v1/chat/completions, GET /v1/models, GET /healthz; found "
            f"{found}. Fix: point the client's base URL at http://HOST:PORT/v1.",
            code="not_found",
        )
    return ApiError(
        status,
        f"The server refused {found} with HTTP {status}.",
        _KINDS.get(status, "server_error" if status >= 500 else "invalid_request_error"),
        f"http_{status}",
        headers=headers,
    )

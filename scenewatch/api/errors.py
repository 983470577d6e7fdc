"""Clear 4xx JSON errors: ``{"error": "...", "field": ...}``; a 5xx says nothing about internals."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from scenewatch.errors import SceneWatchError
from scenewatch.store.repo import NotFound

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """Every error the API answers with."""

    error: str
    field: str | None = None


class ApiError(Exception):
    """An error answered as JSON with ``status``; ``headers`` e.g. Retry-After."""

    def __init__(self, status: int, error: str, field: str | None = None, headers: dict | None = None):
        super().__init__(error)
        self.status, self.error, self.field, self.headers = status, error, field, headers


def not_found(what: str) -> ApiError:
    """The same answer for 'missing' and 'not yours', so that nothing leaks about other cameras."""
    return ApiError(404, f"{what} not found")


def _json(status: int, error: str, field: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "field": field}, status_code=status, headers=headers)


def _field(loc: tuple) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or None


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _json(exc.status, exc.error, exc.field, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid request", "loc": ()}
        if first.get("type") == "json_invalid":
            return _json(400, "malformed JSON body")
        return _json(422, str(first.get("msg", "invalid value")), _field(tuple(first.get("loc", ()))))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        return _json(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(NotFound)
    async def _missing(_request: Request, exc: NotFound) -> JSONResponse:
        return _json(404, exc.message)

    @app.exception_handler(SceneWatchError)
    async def _refused(_request: Request, exc: SceneWatchError) -> JSONResponse:
        return _json(400, str(exc))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        # logged for the operator; the client learns nothing about the internals
        log.exception("internal error on %s %s", request.method, request.url.path)
        return _json(500, "internal error")

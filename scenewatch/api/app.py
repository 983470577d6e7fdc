"""The application factory: ``create_app(store, settings, runner=None)``.

Routers per resource live in ``routes/``; the web UI (``scenewatch/web``) is served as static
files from the same server, so nothing else needs to run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scenewatch import __version__
from scenewatch.api import audit, errors, retention
from scenewatch.api.cache import TableVersions
from scenewatch.api.context import ServerContext, ServerOptions
from scenewatch.api.live_frames import LiveFrames
from scenewatch.api.tables import CACHED_TABLES
from scenewatch.config import AppConfig
from scenewatch.config.query_hook import set_query_check
from scenewatch.search.standing_check import check_standing_query
from scenewatch.search.vectors import vector_ranker
from scenewatch.store.data import DataStore

log = logging.getLogger(__name__)
WEB = Path(__file__).resolve().parent.parent / "web"
RETENTION_EVERY_S = 600.0
# Request bodies: every route but the central's ingest takes small JSON; one path prefix, one limit.
DEFAULT_BODY_BYTES = 64 * 1024
CONFIG_BODY_BYTES = 64 * 1024  # a camera's zones, lines and rules (about 3,000 points)
INGEST_PATH = "/api/central/ingest"  # edge shipments: ServerOptions.max_body_bytes

__all__ = ["ServerOptions", "create_app"]


def create_app(
    store: DataStore,
    settings: AppConfig,
    runner=None,
    options: ServerOptions | None = None,
    config_path: Path | None = None,
    live: LiveFrames | None = None,
    metrics=None,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The API and UI over ``store``; ``runner`` (a ProcessRunner or PipelineRunner) is restarted
    on config edits.

    ``extra_routers`` add routes of another role (the central platform's ingest and edges).
    """
    from scenewatch.api.clip_prerender import PrerenderProcess
    from scenewatch.api.feed import EventFeed
    from scenewatch.api.pipeline_process import ProcessRunner
    from scenewatch.api.routes import ROUTERS
    from scenewatch.api.routes.audit import audit_refused
    from scenewatch.notify.stream import AlertStream

    options = options or ServerOptions()
    set_query_check(check_standing_query)  # standing searches saved from the UI are checked too
    ctx = ServerContext(
        store=store,
        settings=settings,
        options=options,
        config_path=config_path,
        runner=runner,
        live=live or (runner.live if runner is not None else LiveFrames()),
        hub=AlertStream(maxsize=200),
        metrics=metrics,
    )
    audit.check_writable(store)  # a server that cannot record what is done must not serve
    ctx.vectors = vector_ranker(settings.embeddings)  # a bad encoder file stops the start here
    ctx.versions = TableVersions(store.engine, CACHED_TABLES)
    if isinstance(runner, ProcessRunner):  # its writes are made in another process: it reports them
        runner.versions = ctx.versions
    ctx.limiter.max_failures = options.login_max_failures
    ctx.limiter.window_s = options.login_window_s
    feed = EventFeed(store.engine, ctx.hub)
    prerender = PrerenderProcess(ctx)  # alert clips rendered before anyone opens them, apart

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        stop = threading.Event()
        threads = [
            threading.Thread(target=feed.run, args=(stop,), name="event-feed", daemon=True),
            threading.Thread(target=_retention_loop, args=(store, stop), name="retention", daemon=True),
            threading.Thread(target=prerender.run, args=(stop,), name="clip-prerender", daemon=True),
        ]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            await asyncio.to_thread(audit.flush, store.engine)  # the last checkpoint
            await asyncio.sleep(0)

    app = FastAPI(
        title="SceneWatch",
        version=__version__,
        description="Self-hosted video analytics: cameras, tracks, search, events, health, clips.",
        lifespan=lifespan,
        responses={400: {"model": errors.ErrorBody}, 401: {"model": errors.ErrorBody}},
    )
    app.state.ctx = ctx
    app.state.feed = feed
    app.state.prerender = prerender
    errors.install(app)
    app.add_exception_handler(audit.AuditUnavailable, audit_refused)
    for router in (*ROUTERS, *extra_routers):
        app.include_router(router)

    @app.get("/api/version", tags=["meta"])
    def version() -> dict[str, str]:
        """The server version (no sign-in needed)."""
        return {"version": __version__}

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/ui/index.html")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        # browsers ask the root for it on pages without a link (the API docs)
        return FileResponse(WEB / "favicon.svg", media_type="image/svg+xml")

    @app.api_route(
        "/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
    )
    def unknown(rest: str) -> JSONResponse:
        return JSONResponse({"error": f"no API endpoint /api/{rest}", "field": None}, status_code=404)

    app.mount("/ui", StaticFiles(directory=WEB, html=True), name="ui")
    app.add_middleware(SecurityHeaders)
    limits = {"/api/config/": CONFIG_BODY_BYTES, INGEST_PATH: options.max_body_bytes}
    app.add_middleware(BodyLimit, limits=limits, default=DEFAULT_BODY_BYTES)
    return app


def _retention_loop(store: DataStore, stop: threading.Event) -> None:
    delay = 5.0  # soon after start, then every RETENTION_EVERY_S
    while not stop.wait(delay):
        delay = RETENTION_EVERY_S
        try:
            done = retention.enforce(store)
            if any(done.values()):
                log.info("retention deleted %s", done)
        except Exception:
            log.exception("retention failed")


class BodyLimit:
    """413 for bodies over the limit of their route (the longest matching path prefix in
    ``limits``, else ``default``): by Content-Length up front, or counted as they stream."""

    def __init__(self, app: ASGIApp, limits: dict[str, int], default: int):
        self.app = app
        self.limits = sorted(limits.items(), key=lambda item: -len(item[0]))
        self.default = default

    def limit(self, path: str) -> int:
        return next((size for prefix, size in self.limits if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit(scope.get("path", ""))
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            return await _too_large(send, limit)
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # an HTTP error, so that the route's own body reading answers it as a 413
                    raise StarletteHTTPException(413, _too_large_message(limit))
            return message

        await self.app(scope, counted, send)


def _too_large_message(limit: int) -> str:
    return f"request body too large: this route takes at most {limit} bytes"


async def _too_large(send: Send, limit: int) -> None:
    body = JSONResponse({"error": _too_large_message(limit), "field": None}, 413)
    await send({"type": "http.response.start", "status": 413, "headers": body.raw_headers})
    await send({"type": "http.response.body", "body": body.body})


class SecurityHeaders:
    """No sniffing, no framing, same-origin resources only, no referrer leaking camera names."""

    HEADERS = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (
            b"content-security-policy",
            b"default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
            b"style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        ),
    ]

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def add(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + self.HEADERS
            await send(message)

        await self.app(scope, receive, add)

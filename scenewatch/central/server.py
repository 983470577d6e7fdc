"""``scenewatch serve --central``: one API and UI over every edge, from the central database.

The central analyses nothing itself: no pipeline runs. It is the ordinary API server
(``scenewatch.api``) over the PostgreSQL the edges ship into, plus the ``/api/central`` routes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

from scenewatch.config import AppConfig
from scenewatch.store.data import DataStore


def central_app(store: DataStore, settings: AppConfig, secure_cookies: bool = False) -> FastAPI:
    from scenewatch.api.app import create_app
    from scenewatch.api.context import ServerOptions
    from scenewatch.central.routes import router

    return create_app(
        store, settings, None, ServerOptions(secure_cookies=secure_cookies), extra_routers=[router]
    )


def serve_central(
    store: DataStore,
    settings: AppConfig,
    host: str = "127.0.0.1",
    port: int = 8080,
    secure_cookies: bool = False,
    say: Callable[[str], None] = print,
    tls: tuple[Path, Path] | None = None,
) -> None:
    import uvicorn

    from scenewatch.api.serve import first_admin, uvicorn_config
    from scenewatch.runtime.heap import freeze_startup_heap

    if store.engine.dialect.name != "postgresql":
        say("note: the central runs on SQLite; use PostgreSQL (--database-url) for more than a trial")
    first_admin(store, say)
    app = central_app(store, settings, secure_cookies or tls is not None)
    config = uvicorn_config(app, settings, host, port)
    if tls is not None:
        config.ssl_certfile, config.ssl_keyfile = str(tls[0]), str(tls[1])
    shown = host if ":" not in host else f"[{host}]"
    scheme = "https" if tls else "http"
    say(
        f"SceneWatch central is at {scheme}://{shown}:{port}/ ({store.engine.url.render_as_string(hide_password=True)})"
    )
    freeze_startup_heap()  # full collections over start-up's objects paused requests
    uvicorn.Server(config).run()

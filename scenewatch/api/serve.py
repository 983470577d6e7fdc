"""``scenewatch serve``: the uvicorn server, and the cameras in a process of their own
(``scenewatch.api.pipeline_process``; in threads of the server with ``--pipeline-thread``)."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scenewatch.api import auth
from scenewatch.config import AppConfig, load_config
from scenewatch.config.query_hook import set_query_check
from scenewatch.search.standing_check import check_standing_query
from scenewatch.store.data import DataStore

if TYPE_CHECKING:
    import uvicorn

    from scenewatch.runtime.metrics import MetricsRegistry

SERVER_CONFIG = "scenewatch.yaml"  # in the data folder: where edits go when no --config is given


def resolve_config(config: Path | None, data_dir: Path) -> tuple[AppConfig, Path]:
    """The config to run and the file edits are written to: ``--config``, else the data folder's
    ``scenewatch.yaml`` (made by the first edit), else the embedded default (sample footage)."""
    set_query_check(check_standing_query)
    if config is not None:
        return load_config(config), config
    saved = data_dir / SERVER_CONFIG
    if saved.is_file():
        return load_config(saved), saved
    from scenewatch.config.default import default_config  # not the pipeline's imports: a child runs it

    return default_config(), saved


def first_admin(store: DataStore, say: Callable[[str], None]) -> None:
    """On the first start, create user 'admin' with a generated password, printed once."""
    if auth.count_users(store.engine):
        return
    password = auth.generate_password()
    auth.create_user(store.engine, "admin", password, "admin", unmasked=True)
    say("created the first user: admin")
    say(f"  password: {password}")
    say("  (shown once: keep it; change it with `scenewatch users passwd admin`)")


def uvicorn_config(app: Any, settings: AppConfig, host: str, port: int) -> uvicorn.Config:
    """The server's uvicorn settings. Proxy headers (X-Forwarded-For, -Proto) are believed only
    from the configured ``server.trusted_proxies``: uvicorn's default trusts 127.0.0.1, which lets
    any local process or same-host client pick its own address for the login limit and the audit."""
    import uvicorn

    proxies = settings.server.trusted_proxies
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=list(proxies),
    )


def serve(
    store: DataStore,
    settings: AppConfig,
    config_path: Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    pipeline: bool = True,
    secure_cookies: bool = False,
    say: Callable[[str], None] = print,
    metrics: MetricsRegistry | None = None,
    pipeline_thread: bool = False,
    pipeline_nice: int = 0,
) -> None:
    """Serve the API and UI; ``metrics`` (exported elsewhere, see ``runtime.exporter``) receives
    the running cameras' figures. The cameras run in a child process, or with ``pipeline_thread``
    in threads of this one."""
    import uvicorn

    from scenewatch.api.app import create_app
    from scenewatch.api.context import ServerOptions
    from scenewatch.api.live_frames import LiveFrames
    from scenewatch.api.pipeline_process import ProcessRunner
    from scenewatch.api.runner import PipelineRunner
    from scenewatch.runtime.heap import freeze_startup_heap

    first_admin(store, say)
    live = LiveFrames()
    runner: PipelineRunner | ProcessRunner | None = None
    if pipeline and pipeline_thread:
        runner = PipelineRunner(store, settings, live, metrics=metrics, progress=say)
    elif pipeline:
        runner = ProcessRunner(store, settings, live, metrics=metrics, progress=say, nice=pipeline_nice)
    app = create_app(
        store,
        settings,
        runner,
        ServerOptions(secure_cookies=secure_cookies),
        config_path=config_path,
        live=live,
        metrics=metrics,
    )
    server = uvicorn.Server(uvicorn_config(app, settings, host, port))
    if runner is not None:
        names = ", ".join(c.name for c in settings.cameras)
        say(f"watching {len(settings.cameras)} camera(s): {names}; data in {store.root}")
        runner.start()
    shown = host if ":" not in host else f"[{host}]"
    say(f"SceneWatch is at http://{shown}:{port}/  (Ctrl-C stops)")
    _exit_on_sigterm()
    freeze_startup_heap()  # full collections over start-up's objects paused requests
    try:
        server.run()  # handles SIGINT/SIGTERM itself
    finally:
        if runner is not None:
            say("stopping the cameras ...")
            runner.stop()


def _exit_on_sigterm() -> None:
    """After its shutdown uvicorn raises the signal that stopped it again. SIGTERM's default action
    would end this process there and then, leaving the cameras unstopped (a pipeline process
    orphaned until it notices); raised as SystemExit, the cameras are stopped first."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))

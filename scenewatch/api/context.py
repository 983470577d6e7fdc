"""What every route needs, held on ``app.state.ctx``: the store, the current config, the options."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request

from scenewatch.api.auth import LoginLimiter
from scenewatch.api.cache import ResponseCache, TableVersions
from scenewatch.api.file_still import FileStills
from scenewatch.config import AppConfig
from scenewatch.search.term_stats import TermShares
from scenewatch.store.data import DataStore


@dataclass
class ServerOptions:
    """Server settings (not part of the camera config file)."""

    session_ttl_s: float = 12 * 3600.0
    secure_cookies: bool = False  # True when served over TLS (or behind a TLS proxy)
    max_body_bytes: int = 1_000_000
    login_max_failures: int = 5
    login_window_s: float = 60.0
    max_page: int = 500
    mjpeg_fps: float = 5.0
    clip_max_s: float = 60.0


@dataclass
class ServerContext:
    store: DataStore
    settings: AppConfig
    options: ServerOptions
    config_path: Path | None = None  # where config edits are written; None: read-only config
    runner: Any = None  # the pipeline runner (``scenewatch.api.runner.PipelineRunner``) or None
    live: Any = None  # ``scenewatch.api.live_frames.LiveFrames``
    hub: Any = None  # ``scenewatch.notify.stream.AlertStream`` fed by the event feed
    metrics: Any = None  # ``scenewatch.runtime.metrics.MetricsRegistry`` or None
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    config_lock: threading.Lock = field(default_factory=threading.Lock)
    versions: TableVersions | None = None  # in-process write counters of the cached tables
    search_cache: ResponseCache = field(default_factory=ResponseCache)
    events_cache: ResponseCache = field(default_factory=ResponseCache)
    term_shares: TermShares = field(default_factory=TermShares)  # the search planner's statistics
    vectors: Any = None  # ``scenewatch.search.vectors.VectorRanker`` with an embeddings section
    stills: FileStills = field(default_factory=FileStills)  # file cameras' first frames, with people

    def camera_names(self) -> list[str]:
        """Cameras in the config, then those only in the database (indexed files)."""
        from scenewatch.api.queries import database_cameras

        names = [c.name for c in self.settings.cameras]
        return names + [n for n in database_cameras(self.store.engine) if n not in names]


async def get_ctx(request: Request) -> ServerContext:
    """Async: a dependency of every route, answered on the event loop (no worker thread)."""
    return request.app.state.ctx

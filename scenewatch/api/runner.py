"""Runs the pipeline (``run_cameras``) in background threads of the server process, can restart
it with a changed config (zones and rules are read when a camera starts), and applies retention."""

from __future__ import annotations

import logging
import threading
import time

from scenewatch.api.live import LiveFrames
from scenewatch.config import AppConfig
from scenewatch.store.data import DataStore

log = logging.getLogger(__name__)


class PipelineRunner:
    def __init__(self, store: DataStore, settings: AppConfig, live: LiveFrames, metrics=None, progress=None):
        self.store = store
        self.settings = settings
        self.live = live
        self.metrics = metrics
        self.progress = progress
        self.started_at: float | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(self.settings, self._stop), daemon=True)
            self._thread.name = "pipeline"
            self.started_at = time.time()
            self._thread.start()

    def _run(self, settings: AppConfig, stop: threading.Event) -> None:
        from scenewatch.pipeline import run_cameras

        # the live view shows the frames the pipeline tracks, with their boxes
        live = {c.name: [self.live.observer(c.name)] for c in settings.cameras}
        try:
            self.error = None
            run_cameras(
                self.store, settings, stop, progress=self.progress, metrics=self.metrics, track_observers=live
            )
        except Exception as exc:  # the server keeps serving recorded data
            self.error = str(exc)
            log.error("pipeline stopped: %s", exc)

    def stop(self, timeout: float = 20.0) -> None:
        with self._lock:
            self._stop.set()
            if self._thread is not None:
                self._thread.join(timeout)

    def restart(self, settings: AppConfig) -> None:
        """Apply a changed config: stop every camera, start again with ``settings``."""
        self.stop()
        for camera in self.settings.cameras:
            if camera.name not in {c.name for c in settings.cameras}:
                self.live.forget(camera.name)
        self.settings = settings
        self.start()

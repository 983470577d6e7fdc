"""Runs the pipeline (``run_cameras``) in background threads of the server process and applies a
changed config to it while it runs.

Which runs where: ``scenewatch serve`` runs its cameras in a child process
(:class:`~scenewatch.api.pipeline_process.ProcessRunner`, same interface), so that decoding and
inference never hold the API's cores and GIL. This runner keeps everything in one process: for
``serve --pipeline-thread`` (less memory) and for programs and tests that embed the pipeline beside
an app. ``scenewatch run`` (no API) calls ``run_cameras`` itself.

A change to cameras alone goes to the running cameras (:class:`~scenewatch.flow.cameras.CameraSet`):
zones, rules and the other analysis settings are swapped in at a frame boundary, a changed source
restarts that camera alone. A change to anything else (detector, health, delivery ...) restarts
the whole pipeline; file cameras then go on after the last frame they analysed."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from scenewatch.api.live_frames import LiveFrames
from scenewatch.config import AppConfig
from scenewatch.store.data import DataStore

if TYPE_CHECKING:  # the analysis stack is imported when the pipeline starts, not with the server
    from scenewatch.flow.cameras import CameraSet

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
        self.cameras: CameraSet | None = None  # the running cameras, once started
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            self._stop = threading.Event()
            self.cameras = None  # until the new pipeline has started its cameras
            self._thread = threading.Thread(target=self._run, args=(self.settings, self._stop), daemon=True)
            self._thread.name = "pipeline"
            self.started_at = time.time()
            self._thread.start()

    def _run(self, settings: AppConfig, stop: threading.Event) -> None:
        from scenewatch.pipeline import run_cameras

        def started(cameras: CameraSet) -> None:
            self.cameras = cameras

        # the live view shows the frames the pipeline analyses, with every person box it kept
        live = {c.name: [self.live.observer(c.name)] for c in settings.cameras}
        try:
            self.error = None
            run_cameras(
                self.store,
                settings,
                stop,
                progress=self.progress,
                metrics=self.metrics,
                detection_observers=live,
                on_start=started,
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
        """Apply a changed config: to the running cameras when only cameras changed, else by
        stopping every camera and starting again with ``settings``."""
        with self._lock:
            cameras, old = self.cameras, self.settings
            self.settings = settings
            for camera in old.cameras:
                if camera.name not in {c.name for c in settings.cameras}:
                    self.live.forget(camera.name)
            same_node = old.model_dump(exclude={"cameras"}) == settings.model_dump(exclude={"cameras"})
            if same_node and self.running and cameras is not None and settings.cameras:
                for camera in settings.cameras:  # new cameras show in the live view too
                    cameras.detection_observers.setdefault(camera.name, [self.live.observer(camera.name)])
                if cameras.apply(settings.cameras):
                    return
        self.stop()
        self.start()

"""Health checks running beside the cameras: monitors fed from the camera threads, a ticker that
notices silent cameras, and everything written to the database as it happens."""

from __future__ import annotations

import logging
import threading
import time

from scenewatch.config.health import HealthConfig
from scenewatch.health.events import HealthEvent
from scenewatch.health.fleet import FleetHealth
from scenewatch.health.store import HealthRecorder
from scenewatch.store.data import DataStore
from scenewatch.types import Frame

log = logging.getLogger(__name__)


class HealthWatch:
    """Thread-safe: every camera thread calls ``observe``; one ticker thread calls ``tick``."""

    def __init__(self, store: DataStore, config: HealthConfig, tick_s: float = 0.5, status_s: float = 5.0):
        self.fleet = FleetHealth(config)
        self.camera_ids: dict[str, int] = {}
        self.recorder = HealthRecorder(store.engine, store.media, self.camera_ids)
        self.tick_s = tick_s
        self.status_s = status_s
        self.listeners: list = []  # callables taking a HealthEvent (alert delivery)
        # Frame time minus arrival time, per camera: a camera whose frames carry file or camera time
        # (or that lags behind) is judged offline by when frames arrive, not by what they say.
        self.offsets: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add_camera(self, name: str, camera_id: int, started_at: float) -> None:
        with self._lock:
            self.camera_ids[name] = camera_id
            self.fleet.monitor(name, started_at)

    def observe(self, frame: Frame) -> None:
        with self._lock:
            self.offsets[frame.camera] = frame.timestamp - time.time()
            events = self.fleet.observe(frame)
        self._handle(events)

    def note_gap(self, camera: str, start: float, end: float) -> None:
        with self._lock:
            events = self.fleet.note_gap(camera, start, end)
        self._handle(events)

    def _handle(self, events: list[HealthEvent]) -> None:
        if not events:
            return
        try:
            self.recorder.record(events)
        except Exception:  # health bookkeeping must never stop a camera
            log.exception("cannot store health events")
        for event in events:
            if event.state != "info":
                log.warning("camera %s: %s %s", event.camera, event.fault, event.state)
            for listener in self.listeners:
                listener(event)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._write_status()

    def _run(self) -> None:
        last_status = 0.0
        while not self._stop.wait(self.tick_s):
            with self._lock:
                now = time.time()
                events = [
                    event
                    for name, monitor in self.fleet.monitors.items()
                    for event in monitor.tick(now + self.offsets.get(name, 0.0))
                ]
            self._handle(events)
            if time.monotonic() - last_status >= self.status_s:
                last_status = time.monotonic()
                self._write_status()

    def _write_status(self) -> None:
        with self._lock:
            statuses = self.fleet.status()
        try:
            self.recorder.write_status(statuses)
        except Exception:
            log.exception("cannot store camera status")

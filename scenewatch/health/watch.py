"""Health checks running beside the cameras: monitors fed from the camera threads, a ticker that
tells silent sources (offline) from late analysis (lagging), and everything written to the
database as it happens. A camera that stops being watched (its run ended, the pipeline stopped or
restarts) has its open faults closed: nothing could clear them any more."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from scenewatch.config.health import HealthConfig
from scenewatch.health.events import CameraHealth, HealthEvent
from scenewatch.health.feed import Delivering, SourceFeed
from scenewatch.health.fleet import FleetHealth
from scenewatch.health.store import HealthRecorder
from scenewatch.store.data import DataStore
from scenewatch.types import Frame

if TYPE_CHECKING:
    from scenewatch.runtime.metrics import MetricsRegistry

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
        self.feeds: dict[str, SourceFeed] = {}  # cameras watched now
        self.metrics: MetricsRegistry | None = None  # when the node keeps one: its 'capped' flags
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add_camera(
        self, name: str, camera_id: int, started_at: float, source: Delivering | None = None
    ) -> None:
        """Start watching ``name``; faults a process that died left open for it are closed first."""
        self.recorder.close_stale(camera_id, started_at)
        with self._lock:
            self.camera_ids[name] = camera_id
            self.fleet.monitor(name, started_at)
            self.feeds[name] = SourceFeed(source, started_at)
        self._write_status()  # watched from now on, not from the next periodic write

    def remove_camera(self, name: str, at: float | None = None) -> None:
        """Stop watching ``name`` (its run ended): close its open faults, mark it not watched."""
        at = time.time() if at is None else at
        with self._lock:
            if self.feeds.pop(name, None) is None:
                return
            monitor = self.fleet.monitors[name]
            events = monitor.close_all(at, "not watched")
            status = monitor.status()
        self._handle(events)
        try:
            self.recorder.write_status([status], watched=False)
        except Exception:
            log.exception("cannot store camera status")

    def observe(self, frame: Frame) -> None:
        with self._lock:
            feed = self.feeds.get(frame.camera)
            if feed is not None:
                feed.observed(frame.timestamp, time.time())
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
        for name in list(self.feeds):
            self.remove_camera(name)

    def _run(self) -> None:
        last_status = 0.0
        while not self._stop.wait(self.tick_s):
            try:
                with self._lock:
                    now = time.time()
                    events = [
                        event
                        for name, feed in self.feeds.items()
                        for event in self.fleet.monitors[name].liveness(now, *feed.state(now))
                    ]
            except Exception:  # one bad tick must not end the checks of every camera
                log.exception("health tick failed")
                continue
            self._handle(events)
            if time.monotonic() - last_status >= self.status_s:
                last_status = time.monotonic()
                self._write_status()

    def _write_status(self) -> None:
        with self._lock:
            statuses = [self.fleet.monitors[name].status() for name in self.feeds]
        self._add_capped(statuses)
        try:
            self.recorder.write_status(statuses)
        except Exception:
            log.exception("cannot store camera status")

    def _add_capped(self, statuses: list[CameraHealth]) -> None:
        """Mark cameras the detector pool holds to their fair share (from the node's metrics)."""
        if self.metrics is None:
            return
        cameras = {m.camera: m for m in self.metrics.cameras()}
        for status in statuses:
            if status.camera in cameras:
                status.capped = cameras[status.camera].capped()

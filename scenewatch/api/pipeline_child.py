"""The child side of the pipeline process (:mod:`scenewatch.api.pipeline_process`): :func:`main`
runs ``run_cameras`` and talks to the server over two one-way pipes.

From the server it takes commands: ``("apply", request, cameras)`` (changed cameras, swapped into
the running ones; answered with ``("applied", request, ok)``), ``("watch", camera)`` (someone
watches it live: send its frames) and ``("stop",)``; the pipe closing (the server died) stops it
too. To the server it sends, each a tuple whose first item names it:

- ``live``: the arguments of a :meth:`LiveFrames.put` call, only for a camera watched in the last
  :data:`~scenewatch.api.live_frames.WATCH_S`, the latest per camera (older ones the server has not
  taken yet are replaced, never queued); an image wider than ``max_width`` travels downscaled,
  with the camera's size as ``size``;
- ``alive``: the cameras that analysed a frame lately, every :data:`ALIVE_EVERY_S`;
- ``tables``: the names of cached tables (search, events) a write of this process touched, so the
  server's response caches follow them (``api/cache.py``);
- ``metrics``: the per-camera and node figures, every ``METRICS_EVERY_S``;
- ``log`` records (handled by the server's logging), ``progress`` lines;
- ``started`` once the cameras run, ``error`` when the pipeline stopped on an error.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from scenewatch.api.cache import TableVersions
from scenewatch.api.child_process import Outbox, forward_logs, lower_priority
from scenewatch.api.live_frames import WATCH_S, LiveFrames
from scenewatch.config import AppConfig, CameraConfig

log = logging.getLogger(__name__)
METRICS_EVERY_S = 2.0  # a Prometheus scrape sees figures at most this old
ALIVE_EVERY_S = 2.0  # how often the server hears which cameras run (well within STREAMING_S)
HELD_S = 5.0  # a frame held this long is no picture of now: the first viewer waits for the next


@dataclass
class Job:
    """What the child needs to run the pipeline (pickled to it when it is spawned)."""

    root: Path
    database_url: str
    settings: AppConfig
    max_width: int
    tables: tuple[str, ...]  # the tables the server caches answers from
    metrics: bool = False
    log_levels: dict[str, int] = field(default_factory=dict)  # '' is the root logger
    nice: int = 0  # added to the child's CPU niceness (every thread it starts inherits it)


def shrink(image: np.ndarray, max_width: int) -> np.ndarray:
    """``image`` itself, or downscaled to ``max_width`` when wider."""
    height, width = image.shape[:2]
    if width <= max_width:
        return image
    size = (max_width, max(1, round(height * max_width / width)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


class LiveForwarder(LiveFrames):
    """The child's stand-in for the server's :class:`LiveFrames`: ``observer`` is LiveFrames' own;
    ``put`` holds the latest call per camera and, while the camera is watched, hands it to the
    sender thread. A camera thread never waits for the server: when the server is behind, frames
    are replaced."""

    def __init__(self, outbox: Outbox, max_width: int, watch_s: float = WATCH_S):
        super().__init__(max_width)
        self._outbox = outbox
        self._watch_s = watch_s  # how long a camera's frames go after the server last asked
        self._held: dict[str, tuple[tuple, dict, float]] = {}  # the latest call per camera, and when
        self._latest: dict[str, tuple[tuple, dict]] = {}  # waiting for the sender
        self._until: dict[str, float] = {}  # camera -> watched until (monotonic)
        self._ran: set[str] = set()  # cameras that put a frame since the last ``alive``
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._send_loop, name="live-sender", daemon=True)
        self._thread.start()

    def put(self, camera: str, *args: Any, **kwargs: Any) -> None:
        with self._wake:
            self._held[camera] = (args, kwargs, time.monotonic())
            self._ran.add(camera)
            if time.monotonic() < self._until.get(camera, 0.0):
                self._latest[camera] = (args, kwargs)
                self._wake.notify()

    def wanted(self, camera: str) -> None:
        """Someone watches ``camera``: its frames go for :data:`WATCH_S`, the one held at once."""
        with self._wake:
            now = time.monotonic()
            held = self._held.get(camera)
            if now >= self._until.get(camera, 0.0) and held is not None and now - held[2] < HELD_S:
                self._latest[camera] = held[:2]
                self._wake.notify()
            self._until[camera] = now + self._watch_s

    def close(self) -> None:
        """Send what is waiting, then stop the sender."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(5.0)

    def _send_loop(self) -> None:
        next_alive = time.monotonic() + ALIVE_EVERY_S
        while True:
            with self._wake:
                wait_s = max(0.0, next_alive - time.monotonic())
                self._wake.wait_for(lambda: self._latest or self._closed, timeout=wait_s)
                taken, self._latest = self._latest, {}
                ran: list[str] = []
                if time.monotonic() >= next_alive:
                    ran, self._ran = sorted(self._ran), set()
                    next_alive = time.monotonic() + ALIVE_EVERY_S
                if not taken and self._closed:
                    return
            for camera, (args, kwargs) in taken.items():
                image, *rest = args
                small = shrink(image, self.max_width)
                if small is not image:
                    kwargs = {**kwargs, "size": image.shape[:2]}
                self._outbox.send("live", camera, (small, *rest), kwargs)
            if ran:
                self._outbox.send("alive", ran)


class WriteReporter(TableVersions):
    """Counts nothing here: each write to a cached table is reported to the server, which bumps
    its own counters (when the statement runs and after the commit, as for its own writes)."""

    def __init__(self, engine: Any, tables: tuple[str, ...], outbox: Outbox):
        self._outbox = outbox
        super().__init__(engine, tables)

    def bump(self, tables, own: bool = True) -> None:
        self._outbox.send("tables", tuple(tables))


class RunningCameras:
    """The child's hold on the running cameras: changes that arrive while the models load wait
    for the cameras to start (no restart for them)."""

    def __init__(self, live: LiveForwarder):
        self.live = live
        self._cameras: Any = None  # the CameraSet, once started
        self._pending: list[CameraConfig] | None = None
        self._lock = threading.Lock()

    def started(self, cameras: Any) -> None:
        with self._lock:
            self._cameras = cameras
            pending, self._pending = self._pending, None
            if pending is not None:
                self._apply(pending)

    def apply(self, cameras: list[CameraConfig]) -> bool:
        """False when the set has ended (the server starts a new pipeline)."""
        with self._lock:
            if self._cameras is None:
                self._pending = cameras
                return True
            return self._apply(cameras)

    def _apply(self, cameras: list[CameraConfig]) -> bool:
        for camera in cameras:  # new cameras show in the live view too
            self._cameras.detection_observers.setdefault(camera.name, [self.live.observer(camera.name)])
        return self._cameras.apply(cameras)


def _commands(conn: Connection, outbox: Outbox, cameras: RunningCameras, stop: threading.Event) -> None:
    while True:
        try:
            kind, *rest = conn.recv()
        except (EOFError, OSError):  # the server is gone: stop as if told to
            stop.set()
            return
        if kind == "stop":
            stop.set()
        elif kind == "watch":
            cameras.live.wanted(rest[0])
        elif kind == "apply":
            request, configs = rest
            try:
                ok = cameras.apply(configs)
            except Exception:
                log.exception("cannot apply the changed cameras")
                ok = False
            outbox.send("applied", request, ok)


def _report_metrics(metrics: Any, outbox: Outbox, stop: threading.Event) -> None:
    while not stop.wait(METRICS_EVERY_S):
        outbox.send("metrics", metrics.snapshot(), metrics.node_snapshot())


def main(commands: Connection, messages: Connection, job: Job) -> None:
    """The child process: run the cameras of ``job`` until told to stop or the server is gone."""
    if job.nice:
        lower_priority(job.nice)
    # Ctrl-C reaches the whole process group: the server decides when the cameras stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    outbox = Outbox(messages)
    forward_logs(outbox, job.log_levels)
    live = LiveForwarder(outbox, job.max_width)
    cameras = RunningCameras(live)
    threading.Thread(target=_commands, args=(commands, outbox, cameras, stop), daemon=True).start()
    try:
        from scenewatch.pipeline import run_cameras
        from scenewatch.runtime.metrics import MetricsRegistry
        from scenewatch.store.data import DataStore

        store = DataStore.open(job.root, database_url=job.database_url)
        WriteReporter(store.engine, job.tables, outbox)  # kept alive by the engine's listeners
        metrics = MetricsRegistry() if job.metrics else None
        if metrics is not None:
            args = (metrics, outbox, stop)
            threading.Thread(target=_report_metrics, args=args, daemon=True).start()

        def started(running: Any) -> None:
            cameras.started(running)
            outbox.send("started")

        run_cameras(
            store,
            job.settings,
            stop,
            progress=lambda line: outbox.send("progress", line),
            metrics=metrics,
            detection_observers={c.name: [live.observer(c.name)] for c in job.settings.cameras},
            on_start=started,
        )
    except Exception as exc:  # reported; the server keeps serving recorded data
        outbox.send("error", str(exc))
    finally:
        live.close()
        stop.set()

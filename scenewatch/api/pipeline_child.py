"""The child side of the pipeline process (:mod:`scenewatch.api.pipeline_process`): :func:`main`
runs ``run_cameras`` and talks to the server over two one-way pipes.

From the server it takes commands: ``("apply", request, cameras)`` (changed cameras, swapped into
the running ones; answered with ``("applied", request, ok)``) and ``("stop",)``; the pipe closing
(the server died) stops it too. To the server it sends, each a tuple whose first item names it:

- ``live``: the arguments of a :meth:`LiveFrames.put` call, the latest per camera (older ones the
  server has not taken yet are replaced, never queued); images wider than ``max_width`` travel
  downscaled (:class:`Shrunk`) and are restored to their size in the server;
- ``tables``: the names of cached tables (search, events) a write of this process touched, so the
  server's response caches drop answers as they do for its own writes;
- ``metrics``: the per-camera and node figures, every ``METRICS_EVERY_S``;
- ``log`` records (handled by the server's logging), ``progress`` lines;
- ``started`` once the cameras run, ``error`` when the pipeline stopped on an error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from dataclasses import dataclass, field
from logging.handlers import QueueHandler
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from scenewatch.api.cache import TableVersions
from scenewatch.api.live_frames import LiveFrames
from scenewatch.config import AppConfig, CameraConfig

log = logging.getLogger(__name__)
METRICS_EVERY_S = 2.0  # a Prometheus scrape sees figures at most this old


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


@dataclass
class Shrunk:
    """An image sent downscaled; ``restore`` gives it back at its own size."""

    image: np.ndarray
    height: int
    width: int

    @classmethod
    def fit(cls, value: Any, max_width: int) -> Any:
        """``value`` itself unless it is an image wider than ``max_width``."""
        if not (isinstance(value, np.ndarray) and value.ndim == 3 and value.shape[1] > max_width):
            return value
        height, width = value.shape[:2]
        size = (max_width, max(1, round(height * max_width / width)))
        return cls(cv2.resize(value, size, interpolation=cv2.INTER_AREA), height, width)

    @staticmethod
    def restore(value: Any) -> Any:
        if not isinstance(value, Shrunk):
            return value
        return cv2.resize(value.image, (value.width, value.height), interpolation=cv2.INTER_LINEAR)


class Outbox:
    """Messages to the server. Camera threads, the live sender, the metrics reporter and the
    command loop all send: one at a time. Once the server is gone, sending does nothing."""

    def __init__(self, conn: Connection):
        self._conn = conn
        self._lock = threading.Lock()
        self.closed = False

    def send(self, *message: Any) -> None:
        with self._lock:
            if self.closed:
                return
            try:
                self._conn.send(message)
            except (OSError, ValueError):  # the server closed its end; the command loop stops us
                self.closed = True

    def put_nowait(self, record: logging.LogRecord) -> None:
        """The log handler's queue (``QueueHandler``): records go to the server's logging."""
        self.send("log", record)


class LiveForwarder(LiveFrames):
    """The child's stand-in for the server's :class:`LiveFrames`: ``observer`` is LiveFrames' own,
    ``put`` keeps the latest call per camera for the sender thread, which forwards it as it is.
    A camera thread never waits for the server: when the server is behind, frames are replaced."""

    def __init__(self, outbox: Outbox, max_width: int):
        super().__init__(max_width)
        self._outbox = outbox
        self._latest: dict[str, tuple[tuple, dict]] = {}
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._send_loop, name="live-sender", daemon=True)
        self._thread.start()

    def put(self, camera: str, *args: Any, **kwargs: Any) -> None:
        with self._wake:
            self._latest[camera] = (args, kwargs)
            self._wake.notify()

    def close(self) -> None:
        """Send what is waiting, then stop the sender."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(5.0)

    def _send_loop(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._latest or self._closed)
                taken, self._latest = self._latest, {}
                if not taken and self._closed:
                    return
            for camera, (args, kwargs) in taken.items():
                width = self.max_width
                shrunk = tuple(Shrunk.fit(a, width) for a in args)
                self._outbox.send(
                    "live", camera, shrunk, {k: Shrunk.fit(v, width) for k, v in kwargs.items()}
                )


class WriteReporter(TableVersions):
    """Counts nothing here: each write to a cached table is reported to the server, which bumps
    its own counters (when the statement runs and after the commit, as for its own writes)."""

    def __init__(self, engine: Any, tables: tuple[str, ...], outbox: Outbox):
        self._outbox = outbox
        super().__init__(engine, tables)

    def bump(self, tables) -> None:
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


def _forward_logs(outbox: Outbox, levels: dict[str, int]) -> None:
    """Records go to the server, which formats and writes them as its own; each logger keeps the
    level the server gave it, so nothing it would drop is sent."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(QueueHandler(outbox))  # type: ignore[arg-type]  # any object with put_nowait
    for name, level in levels.items():
        logging.getLogger(name or None).setLevel(level)


def _lower_priority(nice: int) -> None:
    """Add ``nice`` to this process's niceness. Linux keeps it per thread, and imports have started
    threads already (numerical libraries' pools): each gets it; threads started later inherit it."""
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        os.nice(nice)
        return
    for task in tasks.iterdir():
        tid = int(task.name)
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)


def main(commands: Connection, messages: Connection, job: Job) -> None:
    """The child process: run the cameras of ``job`` until told to stop or the server is gone."""
    if job.nice:
        _lower_priority(job.nice)
    # Ctrl-C reaches the whole process group: the server decides when the cameras stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    outbox = Outbox(messages)
    _forward_logs(outbox, job.log_levels)
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

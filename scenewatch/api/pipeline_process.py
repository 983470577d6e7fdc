"""Runs the pipeline (``run_cameras``) in a child process of the server: ``scenewatch serve``'s
default.

Which runs where, and why: the server process answers HTTP (the API's event loop and worker
threads, the event feed, retention); the child decodes, detects, tracks and writes tracks, events
and health to the database (:mod:`scenewatch.api.pipeline_child`). Decoding and inference in the
server's own threads held its cores and its GIL, so its answers waited for frames under load.
:class:`~scenewatch.api.runner.PipelineRunner` keeps the cameras in threads of one process for
``serve --pipeline-thread`` and for programs that embed the pipeline beside an app (one process,
less memory).

:class:`ProcessRunner` has ``PipelineRunner``'s interface (``start``, ``stop``, ``restart``,
``running``, ``error``, ``started_at``). What the API needs from the pipeline comes over a pipe:
the live frames of the cameras someone watches (fed to the server's :class:`LiveFrames` with the
arguments the pipeline passed; the server says which cameras are watched), which cameras run, the
names of written tables (the response caches), the metrics, progress lines, log records and
errors. A changed camera config goes the other way and is swapped into the running cameras, as in
one process. A child that dies (killed, out of memory) is reported as the pipeline's error and
started again after a backoff; a child that ends (every camera ended) or stops on an error is not.

A separate process frees the API from the GIL, not from sharing the cores: on a machine with two,
inference still takes most of them. ``nice`` (``serve --pipeline-nice N``) lowers the child's CPU
priority, so that the API is served first and the cameras take what it leaves (``bench/api.py``
measures both sides: request latency and the detections the pipeline kept).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from scenewatch.api.cache import TableVersions
from scenewatch.api.child_process import exit_text, handle_log, log_levels, spawn
from scenewatch.api.live_frames import LiveFrames
from scenewatch.api.pipeline_child import Job, main
from scenewatch.api.tables import CACHED_TABLES
from scenewatch.backoff import Backoff
from scenewatch.config import AppConfig
from scenewatch.store.data import DataStore

log = logging.getLogger(__name__)
RESTART_INITIAL_S = 1.0  # the first restart after a crash; doubling up to RESTART_MAX_S
RESTART_MAX_S = 60.0
HEALTHY_S = 60.0  # a child that ran this long before dying starts the backoff afresh
APPLY_WAIT_S = 60.0  # a camera change stops removed cameras first, which store their tracks
KILL_GRACE_S = 1.0  # of the stop timeout, kept for killing a child that did not stop


@dataclass
class _Child:
    process: BaseProcess
    commands: Connection
    messages: Connection
    spawned: float


class ProcessRunner:
    def __init__(
        self,
        store: DataStore,
        settings: AppConfig,
        live: LiveFrames,
        metrics: Any = None,
        progress: Callable[[str], None] | None = None,
        nice: int = 0,
    ):
        self.store = store
        self.nice = nice  # the child's CPU niceness: above 0 leaves the cores to the API first
        self.settings = settings
        self.live = live
        live.on_watch = self._watch  # frames come only for cameras someone watches
        self.metrics = metrics  # MetricsRegistry: shows the child's figures
        self.progress = progress
        self.versions: TableVersions | None = None  # the server's cache counters (set by create_app)
        self.started_at: float | None = None
        self.error: str | None = None
        self._child: _Child | None = None
        self._supervisor: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # start, stop and restart one at a time
        self._send_lock = threading.Lock()  # commands come from request threads too (watch)
        self._replies: dict[int, bool] = {}
        self._replied = threading.Condition()
        self._requests = itertools.count(1)
        self._backoff = Backoff(RESTART_INITIAL_S, RESTART_MAX_S)

    @property
    def running(self) -> bool:
        child = self._child
        return child is not None and child.process.is_alive()

    @property
    def pid(self) -> int | None:
        child = self._child
        return child.process.pid if child is not None else None

    def start(self) -> None:
        """Spawn the child and return at once: it loads the models while the server answers."""
        with self._lock:
            self._stopping = threading.Event()
            self.error = None
            self.started_at = time.time()
            self._spawn()
            self._supervisor = threading.Thread(target=self._supervise, args=(self._stopping,), daemon=True)
            self._supervisor.name = "pipeline-process"
            self._supervisor.start()

    def stop(self, timeout: float = 20.0) -> None:
        """Ask the child to stop (its cameras store what they hold) and wait for it; a child still
        there near the end of ``timeout`` is killed. Either way it is reaped."""
        with self._lock:
            self._stop(timeout)

    def restart(self, settings: AppConfig) -> None:
        """Apply a changed config: to the running cameras when only cameras changed, else by
        stopping the child and starting another with ``settings``."""
        with self._lock:
            old, self.settings = self.settings, settings
            kept = {c.name for c in settings.cameras}
            removed = [c.name for c in old.cameras if c.name not in kept]
            for name in removed:
                self.live.forget(name)
            same_node = old.model_dump(exclude={"cameras"}) == settings.model_dump(exclude={"cameras"})
            if same_node and self.running and settings.cameras and self._apply(settings):
                for name in removed:  # frames sent before those cameras stopped
                    self.live.forget(name)
                return
            self._stop()
        self.start()

    def _apply(self, settings: AppConfig) -> bool:
        child, request = self._child, next(self._requests)
        if child is None:
            return False
        if not self._send(child, ("apply", request, list(settings.cameras))):
            return False
        deadline = time.monotonic() + APPLY_WAIT_S
        with self._replied:
            while request not in self._replies:
                if not child.process.is_alive() or time.monotonic() > deadline:
                    log.warning("the pipeline process did not take the changed cameras; restarting it")
                    return False
                self._replied.wait(0.2)
            return self._replies.pop(request)

    def _watch(self, camera: str) -> None:
        """Someone watches ``camera`` live (called by :meth:`LiveFrames.watch`)."""
        child = self._child
        if child is not None:
            self._send(child, ("watch", camera))

    def _send(self, child: _Child, command: tuple) -> bool:
        """False when the child is gone."""
        with self._send_lock:
            try:
                child.commands.send(command)
            except (OSError, ValueError):
                return False
        return True

    def _spawn(self) -> None:
        job = Job(
            root=self.store.root,
            database_url=self.store.engine.url.render_as_string(hide_password=False),
            settings=self.settings,
            max_width=self.live.max_width,
            tables=CACHED_TABLES,
            metrics=self.metrics is not None,
            log_levels=log_levels(),
            nice=self.nice,
        )
        process, commands, messages = spawn(main, job, "scenewatch-pipeline")
        self._child = _Child(process, commands, messages, time.monotonic())

    def _stop(self, timeout: float = 20.0) -> None:
        self._stopping.set()
        child, supervisor = self._child, self._supervisor
        if child is not None:
            self._send(child, ("stop",))
            child.process.join(max(0.0, timeout - KILL_GRACE_S))
            if child.process.is_alive():
                log.warning("the pipeline process did not stop in %.0f s; killing it", timeout)
                child.process.kill()
                child.process.join(KILL_GRACE_S)
        if supervisor is not None and supervisor is not threading.current_thread():
            supervisor.join(KILL_GRACE_S)

    def _supervise(self, stopping: threading.Event) -> None:
        """Read the child's messages until it exits; start another after a crash."""
        while True:
            child = self._child
            if child is None:
                return
            error = self._pump(child)
            child.process.join()  # reaped: no zombie
            child.commands.close()
            child.messages.close()
            if self.metrics is not None:  # a dead child's figures are not current
                self.metrics.show_forwarded({}, {})
            if stopping.is_set():
                return
            if error is not None:
                self.error = error
                log.error("pipeline stopped: %s", error)
                return
            code = child.process.exitcode
            if code == 0:
                return  # every camera ended
            self.error = f"the pipeline process died ({exit_text(code)}); starting it again"
            log.error("%s", self.error)
            if time.monotonic() - child.spawned > HEALTHY_S:
                self._backoff.reset()
            if stopping.wait(self._backoff.next()):
                return
            with self._lock:
                if stopping.is_set():
                    return
                self._spawn()

    def _pump(self, child: _Child) -> str | None:
        """Handle the child's messages until its pipe ends; the error it reported, if any."""
        error = None
        while True:
            try:
                kind, *rest = child.messages.recv()
            except (EOFError, OSError):
                return error
            try:
                if kind == "error":
                    error = rest[0]
                else:
                    self._handle(kind, rest)
            except Exception:  # one bad message must not stop the supervision
                log.exception("pipeline message %r", kind)

    def _handle(self, kind: str, rest: list) -> None:
        if kind == "live":
            camera, args, kwargs = rest
            if self._configured(camera):  # not a camera just removed
                self.live.put(camera, *args, **kwargs)
        elif kind == "alive":
            for camera in filter(self._configured, rest[0]):
                self.live.alive(camera)
        elif kind == "tables":
            if self.versions is not None:  # the cameras' writes: answers may lag them by FRESH_S
                self.versions.bump(rest[0], own=False)
        elif kind == "log":
            handle_log(rest[0])
        elif kind == "progress":
            if self.progress is not None:
                self.progress(rest[0])
        elif kind == "metrics":
            if self.metrics is not None:
                self.metrics.show_forwarded(*rest)
        elif kind == "applied":
            with self._replied:
                self._replies[rest[0]] = rest[1]
                self._replied.notify_all()
        elif kind == "started":
            self.error = None  # running again after a crash

    def _configured(self, camera: str) -> bool:
        return any(c.name == camera for c in self.settings.cameras)

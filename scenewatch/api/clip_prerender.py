"""Alert clips rendered ahead of time, so that opening an alert plays at once.

Each event stored while the server runs is queued; once it has ended and its tracks are stored
(where its people are is known, or after :data:`SETTLE_MAX_S` regardless), its clip is rendered
exactly as the clip route would render it: one at a time, a bounded queue (when more events wait
than :data:`MAX_PENDING`, the oldest are skipped: they render when opened), a live event's clip
only once its recording is cut.

Where: in a process of its own at low CPU priority (:class:`PrerenderProcess`, started by the
server once the first event is stored after it started), so that decoding, masking and encoding
never hold the API's GIL; the server sends it the changed config and hears its counts and logs
(:mod:`scenewatch.api.child_process`). A clip someone asks for meanwhile is rendered by the
server itself (``api/clip_jobs.py``), with its progress; the two write the same cache files
atomically.

What is cached: the same files the clip route caches under ``media/cache/clips``, keyed by source,
window and mask (``routes.clips.cache_path``), one per variant the event's camera needs: unmasked
when an admin or a user with ``unmasked`` may see the camera, masked (people pixelated, privacy
zones black) when a user without it may. A masked user's key always differs from an unmasked
one's, so a masked user is never served an unmasked render. How long: retention
(``api/retention.py``) deletes cached clips a day after their last use, like every rendered clip.
A central holds no video: events an edge shipped are never rendered.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from sqlalchemy import select

from scenewatch.api import auth, queries
from scenewatch.api.child_process import (
    Outbox,
    exit_text,
    forward_logs,
    handle_log,
    log_levels,
    lower_priority,
    spawn,
)
from scenewatch.api.context import ServerContext, ServerOptions
from scenewatch.api.errors import ApiError
from scenewatch.backoff import backoff_s
from scenewatch.config import AppConfig
from scenewatch.errors import SceneWatchError
from scenewatch.store.schema import events

log = logging.getLogger(__name__)
MAX_PENDING = 32  # events waiting to be rendered; beyond this the oldest are skipped
SETTLE_MAX_S = 120.0  # render even if the event has not ended or its tracks are not stored by then
RECHECK_S = 2.0  # how soon an event not ready yet is looked at again
NICE = 10  # the process's CPU priority below the server's: analysis and waiting viewers first
STOP_S = 10.0  # a process still there this long after being told to stop is killed
HEALTHY_S = 60.0  # a process that ran this long before dying is started again without delay


class ClipPrerender:
    """Queues new events and renders their clips one at a time (:meth:`run` in a thread)."""

    def __init__(self, ctx: ServerContext, interval_s: float = 1.0, last_id: int | None = None):
        self.ctx = ctx
        self.interval_s = interval_s
        # only events stored after this one
        self.last_id = queries.last_event_id(ctx.store.engine) if last_id is None else last_id
        self.pending: dict[int, tuple[float, float]] = {}  # event id -> (due, queued at)
        self.rendered = 0
        self.skipped = 0

    def poll(self, now: float) -> None:
        """Queue the events stored since the last poll."""
        with self.ctx.store.engine.connect() as conn:
            new = list(
                conn.scalars(
                    select(events.c.id).where(events.c.id > self.last_id).order_by(events.c.id).limit(500)
                )
            )
        for event_id in new:
            self.pending[event_id] = (now, now)
            self.last_id = max(self.last_id, event_id)
        while len(self.pending) > MAX_PENDING:  # behind: the newest alerts are the ones opened
            del self.pending[min(self.pending)]
            self.skipped += 1

    def step(self, now: float) -> bool:
        """Render the newest due event's clips (or put it back for later); False: none was due."""
        due = [i for i, (at, _queued) in self.pending.items() if at <= now]
        if not due:
            return False
        event_id = max(due)
        queued = self.pending.pop(event_id)[1]
        later = self.prerender(event_id, settled=now - queued >= SETTLE_MAX_S)
        if later is not None:
            self.pending[event_id] = (now + later, queued)
        return True

    def prerender(self, event_id: int, settled: bool = False) -> float | None:
        """Render the clips of one event; returns seconds to wait when it is not ready yet."""
        from scenewatch.api.routes.clips import event_plan
        from scenewatch.rules.store import get_event

        engine = self.ctx.store.engine
        try:
            event = get_event(engine, event_id)
        except SceneWatchError:  # removed meanwhile
            return None
        if queries.owning_edge(engine, "events", event_id) is not None:
            return None
        placed = queries.tracks_placed(engine, event["run_id"], event["track_ids"])
        if not settled and (event["end_ts"] is None or not placed):
            return RECHECK_S
        for unmasked in self.variants(event["camera"]):
            try:
                event_plan(self.ctx, unmasked, event).render()
            except ApiError as exc:
                retry = (exc.headers or {}).get("retry-after")
                if retry:  # not recorded or cut yet
                    return float(retry)
                log.debug("no clip for event %s: %s", event_id, exc.error)
                return None
            except SceneWatchError as exc:  # no video for it
                log.debug("no clip for event %s: %s", event_id, exc.message)
                return None
        self.rendered += 1
        return None

    def variants(self, camera: str) -> Iterator[bool]:
        """The masks (``unmasked`` or not) of the users who may see ``camera``."""
        seen = set()
        for user in auth.list_users(self.ctx.store.engine):
            grants = user["cameras"]
            if user["disabled"] or not (user["role"] == "admin" or grants is None or camera in grants):
                continue
            seen.add(bool(user["unmasked"]) or user["role"] == "admin")
        yield from sorted(seen)  # masked first: most users see that one

    def run(self, stop: threading.Event, report: Callable[[ClipPrerender], None] | None = None) -> None:
        """Render until ``stop``; ``report`` is called after each turn."""
        while not stop.is_set():
            busy = False
            try:
                now = time.time()
                self.poll(now)
                busy = self.step(now)
            except Exception:
                log.exception("pre-rendering alert clips failed")
            if report is not None:
                report(self)
            if not busy:
                stop.wait(self.interval_s)


@dataclass
class Job:
    """What the pre-rendering process needs (pickled to it when it is spawned)."""

    root: Path
    database_url: str
    settings: AppConfig
    options: ServerOptions
    last_id: int
    interval_s: float
    log_levels: dict[str, int] = field(default_factory=dict)


class PrerenderProcess:
    """The server's side: :meth:`run` (a thread) waits for the first new event, then keeps a
    :class:`ClipPrerender` running in a child process, sends it each changed config, takes its
    counts and log records, and starts it again after a backoff when it dies."""

    def __init__(self, ctx: ServerContext, interval_s: float = 1.0):
        self.ctx = ctx
        self.interval_s = interval_s
        self.last_id = queries.last_event_id(ctx.store.engine)  # only events stored from now on
        self.rendered = 0
        self.skipped = 0
        self.pid: int | None = None

    def run(self, stop: threading.Event) -> None:
        failures = 0
        while not stop.wait(self.interval_s):
            try:
                if queries.last_event_id(self.ctx.store.engine) <= self.last_id:
                    continue  # nothing to render: no process yet
                started = time.monotonic()
                code = self._serve(stop)
            except Exception:
                log.exception("the clip pre-rendering process failed")
                continue
            if code is None:  # stopped
                return
            failures = 1 if time.monotonic() - started > HEALTHY_S else failures + 1
            log.error("the clip pre-rendering process died (%s); starting it again", exit_text(code))
            if stop.wait(backoff_s(failures, 1.0, 60.0)):
                return

    def _serve(self, stop: threading.Event) -> int | None:
        """Run one child until it ends (its exit code) or ``stop`` (None)."""
        store = self.ctx.store
        url = store.engine.url.render_as_string(hide_password=False)
        settings = self.ctx.settings
        job = Job(store.root, url, settings, self.ctx.options, self.last_id, self.interval_s, log_levels())
        process, commands, messages = spawn(main, job, "scenewatch-clips")
        self.pid = process.pid
        base = (self.rendered, self.skipped)
        try:
            while not stop.is_set():
                if messages.poll(self.interval_s):
                    try:
                        kind, *rest = messages.recv()
                    except (EOFError, OSError):  # the child is gone
                        process.join()
                        return process.exitcode
                    if kind == "log":
                        handle_log(rest[0])
                    elif kind == "counts":
                        self.rendered, self.skipped = base[0] + rest[0], base[1] + rest[1]
                        self.last_id = rest[2]
                if self.ctx.settings is not settings:
                    settings = self.ctx.settings
                    commands.send(("settings", settings))
            commands.send(("stop",))
            process.join(STOP_S)
            if process.is_alive():
                process.kill()
                process.join()
            return None
        except (OSError, ValueError):  # its pipe closed
            process.join(STOP_S)
            return process.exitcode if process.exitcode is not None else -9
        finally:
            commands.close()
            messages.close()


def main(commands: Connection, messages: Connection, job: Job) -> None:
    """The pre-rendering process: render until told to stop or the server is gone."""
    from scenewatch.api.routes import clips  # noqa: F401  (loaded before the priority drops)
    from scenewatch.store.data import DataStore

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the group: the server stops us
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    outbox = Outbox(messages)
    forward_logs(outbox, job.log_levels)
    store = DataStore.open(job.root, database_url=job.database_url)
    ctx = ServerContext(store=store, settings=job.settings, options=job.options)
    # started at the server's priority: on a busy machine a niced start takes minutes
    lower_priority(NICE)
    worker = ClipPrerender(ctx, job.interval_s, last_id=job.last_id)
    threading.Thread(target=_commands, args=(commands, ctx, stop), daemon=True).start()
    sent: list[tuple[int, int, int]] = []

    def report(done: ClipPrerender) -> None:
        counts = (done.rendered, done.skipped, done.last_id)
        if not sent or sent[-1] != counts:
            sent[:] = [counts]
            outbox.send("counts", *counts)

    worker.run(stop, report)


def _commands(conn: Connection, ctx: ServerContext, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            kind, *rest = conn.recv()
        except (EOFError, OSError):  # the server is gone: stop as if told to
            kind = "stop"
        if kind == "stop":
            stop.set()
        elif kind == "settings":
            ctx.settings = rest[0]

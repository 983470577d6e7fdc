"""Alert clips rendered ahead of time, so that opening an alert plays at once.

Each event stored while the server runs is queued; once it has ended and its tracks are stored
(where its people are is known, or after :data:`SETTLE_MAX_S` regardless), its clip is rendered
exactly as the clip route would render it: one worker thread at low CPU priority, a bounded queue
(when more events wait than :data:`MAX_PENDING`, the oldest are skipped: they render when
opened), a live event's clip only once its recording is cut.

What is cached: the same files the clip route caches under ``media/cache/clips``, keyed by source,
window and mask (``routes.clips.cache_path``), one per variant the event's camera needs: unmasked
when an admin or a user with ``unmasked`` may see the camera, masked (people pixelated, privacy
zones black) when a user without it may. A masked user's key always differs from an unmasked
one's, so a masked user is never served an unmasked render. How long: retention
(``api/retention.py``) deletes cached clips a day after their last use, like every rendered clip.
A central holds no video: events an edge shipped are never rendered.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator

from sqlalchemy import select

from scenewatch.api import auth, queries
from scenewatch.api.context import ServerContext
from scenewatch.api.errors import ApiError
from scenewatch.errors import SceneWatchError
from scenewatch.store.schema import events

log = logging.getLogger(__name__)
MAX_PENDING = 32  # events waiting to be rendered; beyond this the oldest are skipped
SETTLE_MAX_S = 120.0  # render even if the event has not ended or its tracks are not stored by then
RECHECK_S = 2.0  # how soon an event not ready yet is looked at again
NICE = 10  # the worker's CPU priority below the server's


class ClipPrerender:
    """Queues new events and renders their clips one at a time (:meth:`run` in a thread)."""

    def __init__(self, ctx: ServerContext, interval_s: float = 1.0):
        self.ctx = ctx
        self.interval_s = interval_s
        self.last_id = queries.last_event_id(ctx.store.engine)  # only events stored from now on
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

    def run(self, stop: threading.Event) -> None:
        _lower_priority()
        while not stop.is_set():
            try:
                now = time.time()
                self.poll(now)
                if self.step(now):
                    continue
            except Exception:
                log.exception("pre-rendering alert clips failed")
            stop.wait(self.interval_s)


def _lower_priority() -> None:
    """This thread alone yields the CPU to analysis and to clips people are waiting for (Linux:
    a thread is a task with its own nice value)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)

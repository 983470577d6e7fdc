"""Feeds new and changed events from the database into the in-process alert hub (SSE).

Reading the database (not a pipeline callback) means alerts reach the UI whichever process
raised them, and one poller serves every connected browser.

An event names its tracks by the ids ``tracks show`` and ``/api/tracks`` use (stored tracks'
database ids, ``scenewatch.rules.store.stored_track_ids``). A track's row is written within a
flush interval of the frame that raised the event, sometimes just after the event's: such an
event is published at once and again when its tracks are stored."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine

from scenewatch.api import queries
from scenewatch.notify.stream import AlertStream
from scenewatch.rules.store import get_event, with_stored_tracks
from scenewatch.store.repo import NotFound

log = logging.getLogger(__name__)
OVERLAP_S = 1.0  # each poll re-reads changes this far before the previous one
PLACE_WAIT_S = 30.0  # how long an event's tracks may take to be stored before it is left as it is


def alert_body(row: dict) -> dict:
    """The JSON of one event as the alerts page shows it (media as API URLs, never file paths);
    ``row`` carries ``stored_track_ids`` (``rules.store.list_events``, ``get_event``)."""
    return {
        "id": row["id"],
        "camera": row["camera"],
        "rule": row["rule"],
        "rule_type": row["rule_type"],
        "start_ts": row["start_ts"],
        "end_ts": row["end_ts"],
        "state": row["state"],
        "detail": row["detail"],
        "track_ids": row["stored_track_ids"],
        "snapshot_url": f"/api/events/{row['id']}/snapshot.jpg" if row.get("snapshot") else None,
        "clip_url": f"/api/clips/event/{row['id']}" if row.get("clip") else None,
    }


class EventFeed:
    """Polls for new events and state changes and publishes each once.

    A poll re-reads a second before the previous one (a change committed late still has an older
    ``state_changed_at``), so the same change comes back on a few polls: ``pushed`` remembers the
    change time already published for each recently changed event.
    """

    def __init__(self, engine: Engine, hub: AlertStream, interval_s: float = 0.5):
        self.engine = engine
        self.hub = hub
        self.interval_s = interval_s
        self.last_id = queries.last_event_id(engine)
        self.last_check = time.time()
        self.pushed: dict[int, float] = {}  # event id -> state_changed_at published
        # events published before all their tracks were stored: id -> (tracks shown, give up at)
        self.unplaced: dict[int, tuple[int, float]] = {}

    def poll(self) -> int:
        """Publish what changed since the last poll; returns how many."""
        now = time.time()
        since = self.last_check - OVERLAP_S
        rows = queries.event_changes(self.engine, self.last_id, since)
        with self.engine.connect() as conn:
            with_stored_tracks(conn, rows)
        self.last_check = now
        published = self._placed(now, {row["id"] for row in rows})
        for row in rows:
            changed = row["state_changed_at"]
            if row["id"] > self.last_id or (changed is not None and self.pushed.get(row["id"]) != changed):
                self.hub.publish(alert_body(row))
                published += 1
                self._wait_for_tracks(row, now)
            if changed is not None:
                self.pushed[row["id"]] = changed
            self.last_id = max(self.last_id, row["id"])
        # a change older than the re-read window cannot come back
        self.pushed = {i: t for i, t in self.pushed.items() if t > since - OVERLAP_S}
        return published

    def _wait_for_tracks(self, row: dict, now: float) -> None:
        """Remember a local event whose tracks are not all stored yet (a central's never waits)."""
        shown = len(row["stored_track_ids"])
        if row.get("edge_id") is None and row["run_id"] is not None and shown < len(row["track_ids"]):
            self.unplaced[row["id"]] = (shown, now + PLACE_WAIT_S)

    def _placed(self, now: float, fresh: set[int]) -> int:
        """Publish again the waiting events that now show more of their tracks (``fresh`` ones are
        published by this poll anyway); returns how many."""
        published = 0
        for event_id, (shown, give_up) in list(self.unplaced.items()):
            if event_id in fresh:
                continue
            try:
                row = get_event(self.engine, event_id)
            except NotFound:  # removed meanwhile (retention)
                del self.unplaced[event_id]
                continue
            if len(row["stored_track_ids"]) > shown:
                self.hub.publish(alert_body(row))
                published += 1
                del self.unplaced[event_id]
                self._wait_for_tracks(row, now)
            elif now >= give_up:
                del self.unplaced[event_id]
        return published

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval_s):
            try:  # a database away for a while must not end the feed for good
                if self.hub.subscribers:
                    self.poll()
                else:  # nobody listens: just move the marks so a new listener is not flooded
                    self.last_id = max(self.last_id, queries.last_event_id(self.engine))
                    self.last_check = time.time()
            except Exception:
                log.exception("event feed: poll failed")

"""Events in the database and their snapshots in the media folder; the recorder the pipeline runs.

Python API: ``save_event``, ``list_events``, ``get_event``, ``set_event_state``; the CLI's
``scenewatch events ...`` commands are thin shells over these.

Track identity: an edge's event row keeps the tracker ids of its run (``track_ids``, what the
central maps to its own ids); a stored track keeps its tracker id for good, so the pair (run,
tracker id) names one stored track whatever finishing does later. What users see is the stored
tracks' database ids (``tracks show``, the API): ``list_events`` and ``get_event`` add them as
``stored_track_ids``. A central's rows already hold its own database ids.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from scenewatch.errors import SceneWatchError
from scenewatch.rules.engine import RuleEngine
from scenewatch.rules.events import STATES, Event
from scenewatch.store.data import DataStore
from scenewatch.store.media import MediaStore
from scenewatch.store.repo import NotFound
from scenewatch.store.schema import cameras, events, tracks
from scenewatch.tracking import FinishedTrack
from scenewatch.types import Detections, Frame

CLIP_BEFORE_S = 3.0
CLIP_AFTER_S = 3.0
STATE_NAMES = {
    "ack": "acknowledged",
    "acknowledged": "acknowledged",
    "resolve": "resolved",
    "resolved": "resolved",
}


def snapshot_path(event: Event) -> str:
    day = datetime.fromtimestamp(event.start, UTC).strftime("%Y-%m-%d")
    return f"events/{event.camera}/{day}/{event.key}.jpg"


def clip_path(event: Event) -> str:
    """Where a live event's clip (cut from the recordings) goes in the media folder."""
    return snapshot_path(event).removesuffix(".jpg") + ".mp4"


def save_event(
    engine: Engine,
    media: MediaStore,
    event: Event,
    camera_id: int,
    run_id: int | None = None,
    clip: dict | None = None,
) -> int:
    """Insert a starting event (with its snapshot file) or complete the row of its ``key``."""
    with engine.begin() as conn:
        found = conn.scalar(select(events.c.id).where(events.c.key == event.key))
        if found is not None:
            values: dict[str, Any] = {"end_ts": event.end, "detail": event.detail}
            if clip is not None:
                values["clip"] = clip
            conn.execute(update(events).where(events.c.id == found).values(**values))
            return found
        snapshot = None
        if event.snapshot is not None:
            # The file lands before the row, so a row never points at a missing file.
            snapshot = snapshot_path(event)
            media.write_jpeg(snapshot, event.snapshot)
        return conn.execute(
            insert(events)
            .values(
                key=event.key,
                camera_id=camera_id,
                run_id=run_id,
                rule=event.rule,
                rule_type=event.rule_type,
                start_ts=event.start,
                end_ts=event.end,
                track_ids=event.track_ids,
                detail=event.detail,
                snapshot=snapshot,
                clip=clip,
                state="new",
                created_at=time.time(),
            )
            .returning(events.c.id)
        ).scalar_one()


def set_event_clip(engine: Engine, event_id: int, clip: dict) -> None:
    """Attach a clip reference to an event once its clip is ready (live events)."""
    with engine.begin() as conn:
        conn.execute(update(events).where(events.c.id == event_id).values(clip=clip))


def describe_clip(clip: dict | None, media: MediaStore) -> str:
    """One line for an event's clip: the source file and its seconds, or the recorded clip file."""
    if not clip:
        return "-"
    if "path" in clip:
        return f"{clip['path']} {clip['start_s']:.1f}..{clip['end_s']:.1f} s"
    seconds = clip["end_ts"] - clip["start_ts"]
    if not clip.get("ready", True):
        return f"{media.absolute(clip['media'])} ({seconds:.1f} s, still being cut from the recording)"
    return f"{media.absolute(clip['media'])} ({seconds:.1f} s recorded)"


def _row(row) -> dict:
    data = dict(row._mapping)
    data["camera"] = data.pop("camera_name")
    return data


def stored_track_ids(conn: Connection, rows: list[dict]) -> list[list[int]]:
    """Each event row's tracks as database ids of stored tracks, in the row's order; a tracker id
    whose track is not stored (yet) is left out."""
    wanted: dict[int, set[int]] = {}
    for row in rows:
        if row.get("edge_id") is None and row["run_id"] is not None:
            # ids beyond a 32-bit column are the rules' own identities (older rows), never a track's
            wanted.setdefault(row["run_id"], set()).update(t for t in row["track_ids"] if 0 <= t < 2**31)
    found: dict[tuple[int, int], int] = {}
    for run, trackers in wanted.items():
        query = select(tracks.c.tracker_id, tracks.c.id).where(
            tracks.c.run_id == run, tracks.c.tracker_id.in_(sorted(trackers))
        )
        found.update({(run, tracker): db_id for tracker, db_id in conn.execute(query)})
    out = []
    for row in rows:
        if row.get("edge_id") is not None:  # a central's row: mapped to its ids on ingest
            out.append(list(row["track_ids"]))
        else:
            keys = ((row["run_id"], t) for t in row["track_ids"])
            out.append([found[k] for k in keys if k in found])
    return out


def with_stored_tracks(conn: Connection, rows: list[dict]) -> list[dict]:
    """``rows`` with ``stored_track_ids`` added (see :func:`stored_track_ids`)."""
    for row, ids in zip(rows, stored_track_ids(conn, rows), strict=True):
        row["stored_track_ids"] = ids
    return rows


def event_tracker_ids(conn: Connection, run_id: int, after_id: int) -> tuple[set[int], int]:
    """The tracker ids named by the run's events with a row id above ``after_id``, and the highest
    row id read (``after_id`` when there is none)."""
    named: set[int] = set()
    last = after_id
    query = select(events.c.id, events.c.track_ids).where(events.c.id > after_id, events.c.run_id == run_id)
    for event_id, ids in conn.execute(query):
        named.update(ids)
        last = max(last, event_id)
    return named, last


def _query():
    return select(events, cameras.c.name.label("camera_name")).join(
        cameras, cameras.c.id == events.c.camera_id
    )


def list_events(
    engine: Engine,
    camera: str | None = None,
    rule: str | None = None,
    state: str | None = None,
    since: float | None = None,
    limit: int = 100,
) -> list[dict]:
    """Newest first; ``rule`` matches a rule name or a rule type."""
    query = _query()
    if camera:
        query = query.where(cameras.c.name == camera)
    if rule:
        query = query.where((events.c.rule == rule) | (events.c.rule_type == rule))
    if state:
        query = query.where(events.c.state == _state(state))
    if since is not None:
        query = query.where(events.c.start_ts >= since)
    query = query.order_by(events.c.start_ts.desc(), events.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return with_stored_tracks(conn, [_row(r) for r in conn.execute(query)])


def get_event(engine: Engine, event_id: int) -> dict:
    with engine.connect() as conn:
        row = conn.execute(_query().where(events.c.id == event_id)).first()
        if row is None:
            raise NotFound(f"no event with id {event_id}", "list them with `scenewatch events list`")
        return with_stored_tracks(conn, [_row(row)])[0]


def set_event_state(engine: Engine, event_id: int, state: str) -> dict:
    """Acknowledge or resolve an event; returns the updated event."""
    new_state = _state(state)
    with engine.begin() as conn:
        done = conn.execute(
            update(events)
            .where(events.c.id == event_id)
            .values(state=new_state, state_changed_at=time.time())
        )
    if done.rowcount == 0:
        raise NotFound(f"no event with id {event_id}", "list them with `scenewatch events list`")
    return get_event(engine, event_id)


def _state(name: str) -> str:
    state = STATE_NAMES.get(name, name)
    if state not in STATES:
        raise SceneWatchError(f"unknown event state {name!r}", f"use one of: {', '.join(STATES)}")
    return state


# A live camera's clip maker: (event, its row id, when the rule fired) -> the reference the alert
# carries while the clip is cut (it lands on the row when ready), or None.
LiveClips = Callable[[Event, int, float], dict | None]


class EventRecorder:
    """The pipeline's track observer: runs the rule engine and stores what it raises.

    Each event gets a clip. For a file source: a reference to the file and the seconds from
    ``before_s`` before its start to ``after_s`` after its end, at most ``max_s`` long. For a live
    camera, ``live_clips`` is asked for one when the event starts (it is cut from the recordings
    later); the alert goes out at once with what it answers.
    """

    def __init__(
        self,
        store: DataStore,
        rules: RuleEngine,
        camera_id: int,
        run_id: int | None,
        clip_file: str | None,
        on_event: Callable[[Event, dict | None, float], None] | None = None,
        live_clips: LiveClips | None = None,
        before_s: float = CLIP_BEFORE_S,
        after_s: float = CLIP_AFTER_S,
        max_s: float | None = None,
    ):
        self.store = store
        self.rules = rules
        self.camera_id = camera_id
        self.run_id = run_id
        self.clip_file = clip_file
        # alert delivery of a new event: (event, clip, time of the frame that raised it)
        self.on_event = on_event
        self.live_clips = live_clips
        self.before_s, self.after_s, self.max_s = before_s, after_s, max_s
        self.offset = 0.0  # wall clock minus position in the file
        self.frame_time = 0.0
        self.saved = 0
        self._open: set[str] = set()  # keys of open events (their clip is asked for once)
        self._lock = threading.Lock()  # the camera's thread and the describer's (standing searches) save

    def __call__(self, frame: Frame, tracked: Detections, finished: list[FinishedTrack]) -> None:
        self.offset = frame.timestamp - frame.pts
        self.frame_time = frame.timestamp
        raised = self.rules.observe(frame, tracked, finished)
        with self._lock:
            for event in raised:
                if event.key not in self._open:
                    event.track_ids = self._on_view(event.track_ids)
            self._save(raised)

    def _on_view(self, identities: list[int]) -> list[int]:
        """The tracker ids on view now for the rules' identities (an identity carried on after an
        id switch is a lost track's id): the stored tracks whose boxes the event shows."""
        holder = self.rules.stitcher.holder
        return [holder.get(identity, identity) for identity in identities]

    def close(self) -> None:
        self.save(self.rules.close())

    def _file_clip(self, event: Event) -> dict:
        end = event.end if event.end is not None else event.start
        start_s = max(0.0, event.start - self.offset - self.before_s)
        end_s = end - self.offset + self.after_s
        if self.max_s is not None:
            end_s = min(end_s, start_s + self.max_s)
        return {"path": self.clip_file, "start_s": round(start_s, 3), "end_s": round(end_s, 3)}

    def save(self, raised: list[Event]) -> None:
        with self._lock:
            self._save(raised)

    def _save(self, raised: list[Event]) -> None:
        for event in raised:
            clip = self._file_clip(event) if self.clip_file is not None else None
            event_id = save_event(
                self.store.engine, self.store.media, event, self.camera_id, self.run_id, clip
            )
            starting = event.key not in self._open
            if event.end is None:
                self._open.add(event.key)
            else:
                self._open.discard(event.key)
            if starting and self.live_clips is not None and clip is None:
                clip = self.live_clips(event, event_id, self.frame_time)  # only queues the cut
            if self.on_event is not None and starting:  # one alert per event, instant ones too
                self.on_event(event, clip, self.frame_time)
            self.saved += event.end is None or event.snapshot is not None

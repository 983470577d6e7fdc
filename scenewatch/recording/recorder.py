"""Recording while cameras are watched (``scenewatch run`` and ``serve``): a segment recorder for
each live camera, clips of its events cut from the recordings, and retention on a timer.

Recording runs beside analysis and never in its way: each recorder has its own connection and
thread and reconnects on its own, so a recorder that fails or a camera that drops never stops
analysis, and an alert never waits for its clip. An event asks for its clip when it starts
(:meth:`CameraRecording.request`): its row gets the clip's reference at once, marked not ready (the
API answers "not ready yet, retry" for it), and the clip is cut once the segment holding its
post-roll closes; then the reference is marked ready (or removed, when nothing was recorded).

A camera is recorded when its source is live and its ``record`` setting (or, when empty,
``recording.enabled``) says so; events of other live cameras get no clip.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from sqlalchemy import null, update

from scenewatch.config import CameraConfig
from scenewatch.config.recording import RecordingConfig
from scenewatch.recording.clips import ClipError, CutClip, PendingClips
from scenewatch.recording.retention import apply_retention
from scenewatch.recording.segments import SegmentRecorder
from scenewatch.rules.events import Event
from scenewatch.rules.store import clip_path, set_event_clip
from scenewatch.sources import redact
from scenewatch.store import repo
from scenewatch.store.data import DataStore
from scenewatch.store.schema import events

log = logging.getLogger(__name__)
RETENTION_EVERY_S = 60.0


def is_recorded(camera: CameraConfig, config: RecordingConfig) -> bool:
    """Whether ``camera`` is recorded: a live source, and its ``record`` setting (or, when that is
    empty, ``recording.enabled``) on. Files never are (their clips come from the file)."""
    if not camera.source.is_live:
        return False
    return config.enabled if camera.record is None else camera.record


def stale_after_s(config: RecordingConfig) -> float:
    """Seconds after a clip's window ends by which it is cut or given up: the segment holding the
    end closes within about ``segment_s`` (two, for a late keyframe); a camera that dropped sends
    none, and its waiting clips are cut from what there is on the next retention tick."""
    return 2 * config.segment_s + 30.0 + RETENTION_EVERY_S


def clip_window(event: Event, fired_at: float, config: RecordingConfig) -> tuple[float, float]:
    """Wall-clock [start, end] of a live event's clip: ``pre_s`` before the event starts to
    ``post_s`` after the rule fired (a loitering event starts before it fires), at most
    ``max_clip_s`` long (keeping the end: what made the rule fire).

    >>> e = Event("k", "door", "intrusion", "cam", start=100.0, end=None, track_ids=[1])
    >>> clip_window(e, 100.4, RecordingConfig(pre_s=5, post_s=5))
    (95.0, 105.4)
    >>> clip_window(e, 400.0, RecordingConfig(pre_s=5, post_s=5, max_clip_s=60))
    (345.0, 405.0)
    """
    end = max(event.start, fired_at) + config.post_s
    start = max(event.start - config.pre_s, end - config.max_clip_s)
    return round(start, 3), round(end, 3)


class CameraRecording:
    """One live camera's recorder and the clips of its events waiting for their post-roll."""

    def __init__(self, store: DataStore, camera: CameraConfig, camera_id: int, config: RecordingConfig):
        self.store = store
        self.config = config
        self.camera = camera.name
        self.camera_id = camera_id
        self.pending = PendingClips(store, camera_id)
        self.recorder = SegmentRecorder(
            store, camera.name, camera_id, camera.source, config, self.pending.on_segment, retention=False
        )
        self.clips_cut = 0

    def request(self, event: Event, event_id: int, fired_at: float) -> dict | None:
        """Queue the clip of a starting event; returns the reference its alert carries (the media
        path and API URL it will have, and the window asked for), also put on the event row. Never
        waits, never raises."""
        try:
            start, end = clip_window(event, fired_at, self.config)
            out = clip_path(event)
        except (ValueError, OSError) as exc:
            log.warning("camera %s: no clip for event %s: %s", self.camera, event_id, exc)
            return None
        clip = {
            "media": out,
            "url": f"/api/clips/event/{event_id}",
            "start_ts": start,
            "end_ts": end,
            "ready": False,
        }
        try:  # on the row before the cut is queued, so it never overwrites the ready reference
            set_event_clip(self.store.engine, event_id, clip)
        except Exception:  # the alert still carries it; the row gets it when the clip is cut
            log.exception("camera %s: event %s: cannot note its clip", self.camera, event_id)
        try:
            self.pending.request(start, end, out, lambda cut: self._ready(event_id, cut))
        except ClipError as exc:
            log.warning("camera %s: no clip for event %s: %s", self.camera, event_id, exc)
            _clear_clip(self.store, event_id)
            return None
        return clip

    def _ready(self, event_id: int, cut: CutClip | None) -> None:
        if cut is None:
            # not recorded (the camera was down, or recording could not keep up): no clip
            _clear_clip(self.store, event_id)
            return
        clip = {
            "media": cut.path,
            "url": f"/api/clips/event/{event_id}",
            "start_ts": round(cut.start, 3),
            "end_ts": round(cut.end, 3),
            "ready": True,
        }
        set_event_clip(self.store.engine, event_id, clip)
        self.clips_cut += 1
        log.debug("camera %s: clip of event %s ready: %s", self.camera, event_id, cut.path)


class LiveRecording:
    """Recording for a set of watched cameras: :meth:`start` before analysis, :meth:`stop` after.

    Only live cameras are recorded (a file's clips come from the file). Retention (age, then the
    disk budget) runs at start and every :data:`RETENTION_EVERY_S`, whether or not cameras are up;
    clips whose window no segment came to cover (the camera dropped) are cut from what there is.
    """

    def __init__(self, store: DataStore, config: RecordingConfig, cameras: Sequence[CameraConfig]):
        self.store = store
        self.config = config
        self.cameras = [c for c in cameras if is_recorded(c, config)]
        self.recordings: dict[str, CameraRecording] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LiveRecording:
        if not self.cameras:
            return self
        for camera in self.cameras:
            try:
                recording = CameraRecording(self.store, camera, _camera_id(self.store, camera), self.config)
                recording.recorder.start()
            except Exception:  # analysis goes on without this camera's recording
                log.exception("camera %s: recording not started", camera.name)
                continue
            self.recordings[camera.name] = recording
        self._thread = threading.Thread(target=self._maintain, name="recording-retention", daemon=True)
        self._thread.start()
        return self

    def for_camera(self, name: str) -> CameraRecording | None:
        return self.recordings.get(name)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every recorder (each closes its segment, cutting the clips it completes), then cut
        the clips still waiting from what was recorded."""
        self._stop.set()
        for recording in self.recordings.values():
            recording.recorder.signal_stop()
        deadline = time.monotonic() + timeout
        for recording in self.recordings.values():
            recording.recorder.join(max(0.1, deadline - time.monotonic()))
        for recording in self.recordings.values():
            recording.pending.flush()
        if self._thread is not None:
            self._thread.join(timeout)
        self._retain()

    def _maintain(self) -> None:
        stale_s = stale_after_s(self.config) - RETENTION_EVERY_S
        self._retain()
        while not self._stop.wait(RETENTION_EVERY_S):
            self._retain()
            for recording in self.recordings.values():
                recording.pending.flush(before=time.time() - stale_s)

    def _retain(self) -> None:
        try:
            apply_retention(self.store, self.config.retention_days * 86400, self.config.budget_bytes)
        except Exception:  # runs again on the next tick
            log.exception("recording: retention failed")


def _clear_clip(store: DataStore, event_id: int) -> None:
    """Take a clip that will not come off its event row."""
    try:
        with store.engine.begin() as conn:
            conn.execute(update(events).where(events.c.id == event_id).values(clip=null()))
    except Exception:  # a clip reference left not ready is served from the segments once stale
        log.exception("event %s: cannot clear its clip", event_id)


def _camera_id(store: DataStore, camera: CameraConfig) -> int:
    """The camera's row (created if new, without touching what analysis keeps current)."""
    try:
        return repo.camera_id(store.engine, camera.name)
    except repo.NotFound:
        return repo.ensure_camera(store.engine, camera.name, redact(camera.source.url))

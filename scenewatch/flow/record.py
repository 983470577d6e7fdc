"""Bookkeeping of one camera's run: its ``runs`` row, its gaps and the result it reports.

:meth:`RunRecord.running` is a context manager: it writes the camera and a new run (earlier runs
left open by a crash are marked interrupted), and on leaving ends the run with its status (done,
stopped, truncated, or failed with the error, which is raised on) whatever happened inside.
:func:`event_recorder` stores what the camera's rules raise during the run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

from scenewatch.config import AppConfig, CameraConfig
from scenewatch.errors import SceneWatchError
from scenewatch.flow.node import Node
from scenewatch.health.watch import HealthWatch
from scenewatch.notify.alert import alert_from_event
from scenewatch.rules.engine import RuleEngine
from scenewatch.rules.events import Event
from scenewatch.rules.store import EventRecorder
from scenewatch.sources import Gap, VideoSource, redact
from scenewatch.store import repo
from scenewatch.store.data import DataStore


@dataclass
class RunResult:
    camera: str
    source: str
    run_id: int | None
    status: str
    frames_decoded: int = 0
    frames_detected: int = 0
    tracks: int = 0
    seconds: float = 0.0
    video_seconds: float = 0.0
    note: str | None = None
    gaps: list[tuple[float, float | None]] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames_decoded / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "fps": round(self.fps, 2)}

    def describe(self) -> str:
        speed = self.video_seconds / self.seconds if self.seconds > 0 else 0.0
        text = (
            f"camera {self.camera}: {self.status}, {self.frames_decoded} frames "
            f"({self.frames_detected} detected) in {self.seconds:.1f} s = {self.fps:.1f} frames/s "
            f"({speed:.1f}x real time), {self.tracks} tracks, run {self.run_id}"
        )
        return text + (f"; {self.note}" if self.note else "")


class RunRecord:
    """The database side of one camera's run; ``gap_ended`` is the source's gap callback (gaps
    before the run is written are not recorded)."""

    def __init__(self, store: DataStore, camera: CameraConfig, mode: str, health: HealthWatch | None = None):
        self.store = store
        self.camera = camera
        self.mode = mode
        self.health = health
        self.camera_id: int | None = None
        self.run_id: int | None = None

    def gap_ended(self, gap: Gap) -> None:
        if gap.end is None or self.camera_id is None or self.run_id is None:
            return
        repo.record_gap(self.store.engine, self.camera_id, self.run_id, gap.start, gap.end, gap.reason)
        if self.health is not None:
            self.health.note_gap(self.camera.name, gap.start, gap.end)

    @contextmanager
    def running(self, source: VideoSource) -> Iterator[RunResult]:
        """Write the camera and a new run from ``source``; end the run with the result's status."""
        engine, info, url = self.store.engine, source.info, redact(self.camera.source.url)
        size = (info.width, info.height, info.fps) if info else (None, None, None)
        camera_id = self.camera_id = repo.ensure_camera(engine, self.camera.name, url, *size)
        repo.mark_interrupted_runs(engine, camera_id)
        run_id = self.run_id = repo.start_run(engine, camera_id, url, self.mode)
        if self.health is not None:
            self.health.add_camera(self.camera.name, camera_id, time.time(), source)
        result = RunResult(self.camera.name, url, run_id, "done")
        try:
            yield result
        except BaseException as exc:
            result.status = "failed"
            result.note = str(exc) if isinstance(exc, SceneWatchError) else f"{type(exc).__name__}: {exc}"
            raise
        finally:
            if (gap := source.current_gap) is not None:
                repo.record_gap(engine, camera_id, run_id, gap.start, None, gap.reason)
            result.gaps = [(g.start, g.end) for g in source.gaps]
            if self.health is not None:  # not watched any more: its open faults end here
                self.health.remove_camera(self.camera.name)
            repo.end_run(
                engine, run_id, result.status, result.frames_decoded, result.frames_detected, result.note
            )


def event_recorder(
    node: Node, rules: RuleEngine | None, camera: CameraConfig, camera_id: int, run_id: int
) -> EventRecorder | None:
    """The rules as a track observer that stores their events and hands each new one to delivery;
    clips refer to a file source, or are cut from a live camera's recordings (when recorded)."""
    if rules is None:
        return None
    clip_file = None if camera.source.is_live else camera.source.url
    recording = node.recording
    recorded = recording.for_camera(camera.name) if recording is not None and clip_file is None else None
    clips = (node.settings or AppConfig()).recording
    dispatcher = node.dispatcher

    def deliver(event: Event, clip: dict | None, frame_time: float) -> None:
        assert dispatcher is not None
        dispatcher.submit(alert_from_event(event, clip, frame_time))  # when it starts, with its snapshot

    return EventRecorder(
        node.store,
        rules,
        camera_id,
        run_id,
        clip_file,
        deliver if dispatcher else None,
        live_clips=recorded.request if recorded is not None else None,
        before_s=clips.pre_s,
        after_s=clips.post_s,
        max_s=clips.max_clip_s,
    )

"""One camera's run: decode -> plan -> detect -> filter -> track -> finish and store, rules, health.

:class:`CameraRun` owns its source, detector handle, planner, tracker, finishing stage, rules and
event recorder; the node's shared parts come in a :class:`~scenewatch.flow.node.Node`. Building it
checks everything that can be checked (the source opens, zones fit the frame) before anything is
written, so bad input leaves no rows behind; :meth:`CameraRun.run` then writes the run
(``scenewatch.flow.record``) and analyses until the source ends or the node stops.

Layers: ``flow`` is the top of the analysis side; it calls sources, vision, tracking, rules,
search, health, notify, recording, runtime and store, and none of those import it back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from scenewatch.config import AppConfig, CameraConfig
from scenewatch.flow.detect import DetectorHandle, FixedRatePlanner, InlineDetector, Planner, build_filter
from scenewatch.flow.finish import FinishStage
from scenewatch.flow.node import Node
from scenewatch.flow.prefetch import prefetch
from scenewatch.flow.record import RunRecord, RunResult
from scenewatch.notify.alert import alert_from_event
from scenewatch.rules.engine import RuleEngine
from scenewatch.rules.events import Event
from scenewatch.rules.posture import posture_for
from scenewatch.rules.standing import StandingSearches, watch_finished_tracks
from scenewatch.rules.store import EventRecorder
from scenewatch.runtime import wiring as capacity_wiring
from scenewatch.runtime.planner import Plan
from scenewatch.sources import open_source
from scenewatch.store.writer import TrackWriter
from scenewatch.tracking import FinishedTrack, Tracker, finish_track
from scenewatch.types import Detections, Frame
from scenewatch.vision.attributes import build_describer

# Later stages hook in here: health sees every decoded frame, rules every tracked one.
FrameObserver = Callable[[Frame], None]
TrackObserver = Callable[[Frame, Detections, list[FinishedTrack]], None]
PROGRESS_INTERVAL_S = 5.0


class CameraRun:
    """One camera from source to stored tracks and events; ``process(frame)`` is the frame path."""

    def __init__(self, node: Node, camera: CameraConfig, mode: str, observers: Sequence[TrackObserver] = ()):
        self.node = node
        self.camera = camera = capacity_wiring.capacity_camera(camera, node.capacity)  # decode width/threads
        self.record = RunRecord(node.store, camera, mode, node.health)
        self.source = open_source(camera.name, camera.source, on_gap=self.record.gap_ended)  # or fail here
        info = self.source.info
        try:  # zones and lines outside the frame fail here, before any write
            size = (info.width, info.height) if info and info.width else None
            self.rules = RuleEngine(camera, size, posture_for(camera, node.models)) if camera.rules else None
        except BaseException:
            self.source.close()
            raise
        self.tracker_config = camera.tracker_settings(node.settings.tracker)
        self.tracker = Tracker(self.tracker_config)
        self.filter = build_filter(node.settings, camera)
        self.planner: Planner = capacity_wiring.build_planner(node.capacity, camera.name) or FixedRatePlanner(
            camera.detect_fps
        )
        self.metrics = node.metrics.camera(camera.name, info.fps if info else None) if node.metrics else None
        self.frame_observers: list[FrameObserver] = [node.health.observe] if node.health is not None else []
        self.track_observers: list[TrackObserver] = list(observers)
        self.finish: FinishStage | None = None  # written once the run is (it needs the run's ids)
        self.recorder: EventRecorder | None = None
        self.frames_decoded = self.frames_detected = 0
        self.first_pts: float | None = None
        self.last_pts = 0.0
        self.detector: DetectorHandle = (
            node.pool.client(camera.name)
            if node.pool is not None
            else InlineDetector(node.detector, node.detector_lock)
        )

    # -- the run -----------------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Write the run, analyse every frame until the end or the node's stop, end the run."""
        with self.record.running(self.source) as result:
            started = time.monotonic()
            try:
                self._open_stages()
                self._watch(result)
            finally:
                self._close()
                result.frames_decoded, result.frames_detected = self.frames_decoded, self.frames_detected
                result.tracks = self.finish.tracks_started if self.finish else 0
                result.seconds = time.monotonic() - started
                result.video_seconds = self.last_pts - (self.first_pts or 0.0)
        return result

    def _open_stages(self) -> None:
        """The stages that write: finishing (tracks), the rules' recorder (events), standing searches."""
        node, camera = self.node, self.camera
        camera_id, run_id = self.record.camera_id, self.record.run_id
        assert camera_id is not None and run_id is not None
        config = self.tracker_config
        self.finish = FinishStage(
            TrackWriter(node.store, camera.name, camera_id, run_id),
            finisher=lambda track: finish_track(track, config.max_gap, config.min_track_hits),
            describer=build_describer(node.settings, camera, node.models),
            describe_queue=node.describe_queue,
        )
        self.recorder = event_recorder(node, self.rules, camera, camera_id, run_id)
        if self.recorder is not None:
            self.track_observers.insert(0, self.recorder)
            searches = StandingSearches(camera, node.store.media)
            if searches:  # saved searches judge each track once it is described
                self.finish.on_indexed.append(
                    watch_finished_tracks(searches, node.store.engine, self.recorder.save)
                )

    def _watch(self, result: RunResult) -> None:
        stop = self.node.stop
        if stop is not None:
            # A stalled stream blocks iteration; stopping the source ends it from outside.
            threading.Thread(target=lambda: stop.wait() and self.source.stop(), daemon=True).start()
        report = _ProgressLine(self, self.node.progress)
        for frame in prefetch(capacity_wiring.metered(self.source, self.metrics)):
            self.process(frame)
            self.first_pts = frame.pts if self.first_pts is None else self.first_pts
            self.last_pts = frame.pts
            report(frame)
            if stop is not None and stop.is_set():
                break
        if stop is not None and stop.is_set():
            result.status = "stopped"
        if self.source.stopped_at is not None:
            # A damaged file: what was decoded is kept; the run says where it stopped.
            result.status = "truncated"
            result.note = self.source.stopped_at.message

    def _close(self) -> None:
        """Stop decoding, track what the detector still owes, finish every open track, write the rest."""
        self.source.close()
        self.collect(wait=5.0)
        self.detector.close()
        if self.finish is not None:
            self.finish.finish(self.tracker.flush())
            self.finish.close()
        if self.recorder is not None:
            self.recorder.close()

    # -- the frame path ----------------------------------------------------------------------------

    def process(self, frame: Frame) -> None:
        """Track what the detector has answered, then skip, reuse or submit ``frame`` as planned."""
        self.frames_decoded += 1
        for observe in self.frame_observers:
            observe(frame)
        self.collect()
        plan = self.planner.plan(frame)
        if plan.kind == "skip":
            return
        if plan.kind == "reuse":
            self._track(frame, plan, None)
            return
        self.detector.submit(plan.image(frame.image), (frame, plan))  # a pool never blocks
        self.collect()  # an inline detector has answered already; a pool's answers come later

    def collect(self, wait: float = 0.0) -> None:
        """Track the frames the detector has answered, in order (after ``wait`` s for the rest)."""
        if wait:
            self.detector.wait_idle(wait)
        for (frame, plan), raw, error in self.detector.results():
            if error is None:
                self._track(frame, plan, raw)
        if self.metrics is not None:
            self.metrics.frames_dropped = self.detector.dropped
            self.metrics.detector_seconds = self.detector.detector_seconds
            self.metrics.detector_cpu_seconds = self.detector.detector_cpu_seconds

    def _track(self, frame: Frame, plan: Plan, raw: Detections | None) -> None:
        """Filter and track one frame's detections, hand them to the finishing stage and observers."""
        self.frames_detected += plan.detects
        merged = self.planner.merge(plan, frame, raw)
        tracked = self.tracker.update(
            self.filter.keep(merged, frame.image.shape), frame.timestamp, frame.index
        )
        finished = self.tracker.finished
        if self.finish is not None:
            self.finish.add(frame, tracked, finished, merged)
        for observe in self.track_observers:
            observe(frame, tracked, finished)
        self.planner.observe(tracked, frame)
        if self.metrics is not None:
            self.metrics.analysed(frame.pts, frame.timestamp, plan.detects, len(tracked))


class _ProgressLine:
    """A line about the camera every ``PROGRESS_INTERVAL_S`` seconds, when someone listens."""

    def __init__(self, run: CameraRun, progress: Callable[[str], None] | None):
        self.run, self.progress = run, progress
        self.started = self.last = time.monotonic()

    def __call__(self, frame: Frame) -> None:
        now = time.monotonic()
        if self.progress is None or now - self.last < PROGRESS_INTERVAL_S:
            return
        self.last = now
        run = self.run
        rate = run.frames_decoded / (now - self.started)
        tracks = run.finish.tracks_started if run.finish else 0
        self.progress(f"camera {run.camera.name}: frame {frame.index}, {rate:.1f} frames/s, {tracks} tracks")


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

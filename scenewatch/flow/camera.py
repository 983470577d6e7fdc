"""One camera's run: decode -> plan -> detect -> filter -> track -> finish and store, rules, health.

:class:`CameraRun` owns its source, detector handle, planner, tracker, finishing stage, rules and
event recorder; the node's shared parts come in a :class:`~scenewatch.flow.node.Node`. Building it
checks everything that can be checked (the source opens, zones fit the frame) before anything is
written, so bad input leaves no rows behind; :meth:`CameraRun.run` then writes the run
(``scenewatch.flow.record``) and analyses until the source ends or the node stops.

Layers: ``flow`` is the top of the analysis side; it calls sources, vision, tracking, rules,
search, health, notify, recording, runtime and store, and none of those import it back.

A running camera takes a changed config at a frame boundary (:meth:`CameraRun.reconfigure`):
zones, lines, rules, standing searches, masks, classes and the detection rate are swapped in
without touching the source; :func:`needs_restart` names the changes that need a new run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from scenewatch.config import CameraConfig
from scenewatch.flow.detect import DetectorHandle, FixedRatePlanner, InlineDetector, Planner, build_filter
from scenewatch.flow.fallen import FallenPersonWatch
from scenewatch.flow.finish import FinishStage
from scenewatch.flow.node import Node
from scenewatch.flow.prefetch import prefetch
from scenewatch.flow.record import RunRecord, RunResult, event_recorder
from scenewatch.flow.still import still_check_for
from scenewatch.flow.suppress import Suppressor
from scenewatch.rules.engine import RuleEngine
from scenewatch.rules.posture import posture_for
from scenewatch.rules.standing import StandingSearches, watch_finished_tracks
from scenewatch.rules.store import EventRecorder
from scenewatch.runtime import wiring as capacity_wiring
from scenewatch.runtime.planner import Plan
from scenewatch.sources import open_source
from scenewatch.store.writer import TrackWriter
from scenewatch.tracking import FinishedTrack, Tracker, finish_track
from scenewatch.types import Detections, Frame
from scenewatch.vision.attributes import build_describer, camera_zones

log = logging.getLogger(__name__)

# Later stages hook in here: health sees every decoded frame, rules every tracked one.
FrameObserver = Callable[[Frame], None]
TrackObserver = Callable[[Frame, Detections, list[FinishedTrack]], None]
# every detection kept on an analysed frame, tracked or not yet (the live view's privacy mask),
# and what the tracker reported on it (the live view's boxes and ids)
DetectionObserver = Callable[[Frame, Detections, Detections], None]
PROGRESS_INTERVAL_S = 5.0
POSITION_EVERY_S = 1.0  # how often a file camera's position is handed out (kept for a restart)
# What a running camera takes without a new run: the rest (source, tracker, recording) restarts it.
SWAPPABLE = frozenset(
    {"zones", "lines", "rules", "calibration", "ignore_mask", "classes", "score_threshold", "detect_fps"}
)
RULE_FIELDS = ("zones", "lines", "rules", "calibration")
FILTER_FIELDS = ("ignore_mask", "classes", "score_threshold")


def needs_restart(old: CameraConfig, new: CameraConfig) -> bool:
    """Whether ``new`` differs from ``old`` in more than what a running camera swaps in."""
    return old.model_dump(exclude=set(SWAPPABLE)) != new.model_dump(exclude=set(SWAPPABLE))


def _differ(old: CameraConfig, new: CameraConfig, fields: Sequence[str]) -> bool:
    return any(getattr(old, f) != getattr(new, f) for f in fields)


class CameraRun:
    """One camera from source to stored tracks and events; ``process(frame)`` is the frame path."""

    def __init__(
        self,
        node: Node,
        camera: CameraConfig,
        mode: str,
        observers: Sequence[TrackObserver] = (),
        resume: tuple[int, float] | None = None,
        detection_observers: Sequence[DetectionObserver] = (),
    ):
        """``resume``: a file's last analysed frame (index, position in the file, as
        :meth:`resume_point` gave it); analysis goes on after it."""
        self.node = node
        self.camera = camera = capacity_wiring.capacity_camera(camera, node.capacity)  # decode width/threads
        self.record = RunRecord(node.store, camera, mode, node.health)
        self.source = open_source(  # or fail here
            camera.name, camera.source, on_gap=self.record.gap_ended, resume=resume
        )
        try:  # zones and lines outside the frame fail here, before any write
            self.rules = self._rule_engine(camera)
        except BaseException:
            self.source.close()
            raise
        info = self.source.info
        self.tracker_config = camera.tracker_settings(node.settings.tracker)
        self.tracker = Tracker(self.tracker_config)
        self.still = still_check_for(self.tracker_config, node.models)  # people standing when first seen
        self.fallen = FallenPersonWatch()  # people lost where they stood, looked for lying there
        self.filter = build_filter(node.settings, camera)
        self.planner: Planner = capacity_wiring.build_planner(
            node.capacity, camera.name, node.settings.detector
        ) or FixedRatePlanner(camera.detect_fps)
        self.metrics = node.metrics.camera(camera.name, info.fps if info else None) if node.metrics else None
        self.suppress = Suppressor(node.store.engine, camera.name, self.metrics)  # operators' "not a person"
        self.frame_observers: list[FrameObserver] = [node.health.observe] if node.health is not None else []
        self.track_observers: list[TrackObserver] = list(observers)
        self.detection_observers: list[DetectionObserver] = list(detection_observers)
        self.finish: FinishStage | None = None  # written once the run is (it needs the run's ids)
        self.recorder: EventRecorder | None = None
        self.frames_decoded = self.frames_detected = 0
        self.first_pts: float | None = None
        self.last_pts = 0.0
        self.last_frame: Frame | None = None  # the last frame analysed: where a new run resumes
        self.searches: StandingSearches | None = None
        self.stopping = threading.Event()  # this camera alone stops (the node's stop stops all)
        self.on_position: Callable[[tuple[int, float]], None] | None = None  # see resume_point
        self._position_at = 0.0
        self._pending: CameraConfig | None = None  # a config waiting for the next frame boundary
        self._pending_lock = threading.Lock()
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
                self.stopping.set()  # ends the stop watcher
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
        # boxes carried between detections give every frame positions: gaps are filled frame by frame
        carry = (
            capacity_wiring.active(node.capacity) and node.capacity is not None and node.capacity.carry_s > 0
        )
        stride = 1 if carry else None
        self.finish = FinishStage(
            TrackWriter(node.store, camera.name, camera_id, run_id),
            finisher=lambda track: finish_track(track, config.max_gap, config.min_track_hits, stride),
            describer=build_describer(node.settings, camera, node.models),
            describe_queue=node.describe_queue,
        )
        self.finish.on_indexed.append(self._announce)  # saved searches judge each described track
        self._set_rules(self.rules)

    def _rule_engine(self, camera: CameraConfig) -> RuleEngine | None:
        """The camera's rules, checked against the frame size when the source knows it."""
        if not camera.rules:
            return None
        info = self.source.info
        size = (info.width, info.height) if info and info.width else None
        posture = posture_for(camera, self.node.models)
        return RuleEngine(camera, size, posture, lambda ids: self.tracker.sightings(ids))

    def _set_rules(self, rules: RuleEngine | None) -> None:
        """Run ``rules`` (and the camera's standing searches) from now on; the events of rules
        they replace are ended here."""
        camera_id, run_id = self.record.camera_id, self.record.run_id
        assert camera_id is not None and run_id is not None
        old = self.recorder
        if old is not None and old.rules is not rules:
            old.close()  # a changed rule set ends what the old one had open
        if old is not None and rules is None:
            self.track_observers.remove(old)
            self.recorder = None
        elif old is not None and rules is not None:
            old.rules = rules
        elif rules is not None:
            self.recorder = event_recorder(self.node, rules, self.camera, camera_id, run_id)
            if self.recorder is not None:
                self.track_observers.insert(0, self.recorder)
        self.rules = rules
        fired = self.searches.last_fired if self.searches is not None else {}
        searches = StandingSearches(self.camera, self.node.store.media)
        searches.last_fired.update(fired)  # cooldowns outlive a change of the other rules
        self.searches = searches if searches and self.recorder is not None else None

    def _announce(self, track_ids: list[int]) -> None:
        """Finished, described tracks to the standing searches of the moment (describer's thread)."""
        searches, recorder = self.searches, self.recorder
        if searches is not None and recorder is not None:
            watch_finished_tracks(searches, self.node.store.engine, recorder.save)(track_ids)

    # -- changes while running ---------------------------------------------------------------------

    def reconfigure(self, camera: CameraConfig) -> None:
        """Take ``camera``'s analysis settings (not its source) at the next frame; any thread."""
        with self._pending_lock:
            self._pending = camera

    def stop(self) -> None:
        """End this camera's run after the current frame; any thread."""
        self.stopping.set()
        self.source.stop()

    def resume_point(self) -> tuple[int, float] | None:
        """The last analysed frame of a file (index, position in the file), for a later run."""
        frame, position = self.last_frame, getattr(self.source, "file_position", None)
        if frame is None or position is None:
            return None
        return frame.index, position(frame)

    def _take_pending(self) -> None:
        with self._pending_lock:
            camera, self._pending = self._pending, None
        if camera is None:
            return
        try:
            self._swap(capacity_wiring.capacity_camera(camera, self.node.capacity))
        except Exception as exc:  # a bad change keeps the camera running as it was
            log.error("camera %s: the changed config was not applied: %s", self.camera.name, exc)

    def _swap(self, new: CameraConfig) -> None:
        """Swap the analysis settings of ``new`` in; the source, tracker and tracks go on."""
        old, node = self.camera, self.node
        new = new.model_copy(update={"source": old.source})  # the source is the run's own
        rules = self._rule_engine(new) if _differ(old, new, RULE_FIELDS) else self.rules  # or raise
        if rules is not None and self.rules is not None and rules is not self.rules:
            rules.stitcher = self.rules.stitcher  # the objects keep their identities across the change
        if _differ(old, new, FILTER_FIELDS):
            self.filter = build_filter(node.settings, new)
        if old.detect_fps != new.detect_fps and isinstance(self.planner, FixedRatePlanner):
            self.planner = FixedRatePlanner(new.detect_fps)
        self.camera = self.record.camera = new
        if self.finish is not None and self.finish.describer is not None:
            self.finish.describer.zones = camera_zones(new)  # the 'zones' attribute of tracks
        if self.finish is not None:
            self._set_rules(rules)
        else:
            self.rules = rules
        log.info("camera %s: config changed; applied without restarting the source", new.name)

    # -- the run -----------------------------------------------------------------------------------

    def _watch(self, result: RunResult) -> None:
        node_stop, stopping = self.node.stop, self.stopping
        # A stalled stream blocks iteration; stopping the source ends it from outside.
        threading.Thread(target=self._stop_with_node, daemon=True).start()
        report = _ProgressLine(self, self.node.progress)
        for frame in prefetch(capacity_wiring.metered(self.source, self.metrics)):
            if self._pending is not None:
                self._take_pending()
            self.process(frame)
            self.first_pts = frame.pts if self.first_pts is None else self.first_pts
            self.last_pts = frame.pts
            self.last_frame = frame
            self._hand_position()
            report(frame)
            if stopping.is_set() or (node_stop is not None and node_stop.is_set()):
                break
        if stopping.is_set() or (node_stop is not None and node_stop.is_set()):
            result.status = "stopped"
        if self.source.stopped_at is not None:
            # A damaged file: what was decoded is kept; the run says where it stopped.
            result.status = "truncated"
            result.note = self.source.stopped_at.message
        elif result.status == "done" and self.record.mode == "live":
            # a file camera that is not looped has played to its end: say so, once
            ended = datetime.now().strftime("%H:%M:%S")
            message = (
                f"camera {self.camera.name}: ended at {ended} (end of file), {self.frames_decoded} frames"
            )
            log.info(message)
            if self.node.progress:
                self.node.progress(message)

    def _hand_position(self) -> None:
        """Every ``POSITION_EVERY_S``: where this file camera is, to whoever keeps it."""
        now = time.monotonic()
        if self.on_position is None or now - self._position_at < POSITION_EVERY_S:
            return
        self._position_at = now
        if (point := self.resume_point()) is not None:
            self.on_position(point)

    def _stop_with_node(self) -> None:
        node_stop = self.node.stop
        while not self.stopping.wait(0.5):
            if node_stop is not None and node_stop.is_set():
                self.stop()

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
        # a pool never blocks; a mosaic may share its inference with other cameras'
        self.detector.submit(plan.image(frame.image), (frame, plan), plan.mosaic)
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
            self.metrics.detector_inferences = self.detector.inferences
            self.metrics.detections_shared = self.detector.shared
            self.metrics.tiles_detected = self.detector.tiles

    def _track(self, frame: Frame, plan: Plan, raw: Detections | None) -> None:
        """Filter and track one frame's detections, hand them to the finishing stage and observers."""
        self.frames_detected += plan.detects
        merged = self.planner.merge(plan, frame, raw)
        kept = self.filter.keep(merged, frame.image.shape)
        detected = kept  # the live view masks all of them, suppressed ones too
        kept = self.suppress.keep(kept)  # after the live view's privacy mask: a wrong drop stays masked
        # colours are read only where the detector looked: carried boxes are predictions
        image = frame.image if plan.detects else None
        if plan.carried:  # between detections the tracks coast; guessed boxes teach them nothing
            tracked = self.tracker.coast(frame.timestamp)
        else:
            tracked = self.tracker.update(kept, frame.timestamp, frame.index, image)
        for see in self.detection_observers:
            see(frame, detected, tracked)
        vouched = self.still.check(self.tracker, frame.image, frame.timestamp) if self.still else None
        if vouched:  # people standing still since first seen count at once
            tracked = Detections.concat([tracked, vouched])
        posture = self.rules.scene.posture if self.rules is not None else None
        if posture is not None:  # a person-down rule that checks posture: look for falls
            fallen = self.fallen.check(self.tracker, merged, frame.image, frame.timestamp, tracked, posture)
            tracked = Detections.concat([tracked, fallen]) if len(fallen) else tracked
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

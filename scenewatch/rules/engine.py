"""The rule engine of one camera: tracked detections in, events out.

>>> from scenewatch.config import CameraConfig
>>> from scenewatch.types import Detections, Frame
>>> camera = CameraConfig.model_validate({
...     "name": "gate", "source": {"url": "gate.mp4"},
...     "zones": [{"name": "yard", "polygon": [[0, 0], [100, 0], [100, 100], [0, 100]], "inertia": 1}],
...     "rules": [{"type": "intrusion", "zone": "yard"}]})
>>> engine = RuleEngine(camera, (200, 200))
>>> frame = Frame(np.zeros((200, 200, 3), np.uint8), "gate", 0, 10.0, 0.0)
>>> [e.rule for e in engine.observe(frame, Detections([[40, 20, 60, 50]], [0.9], [0], [7]), [])]
['intrusion-yard']
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scenewatch.config.camera import CameraConfig
from scenewatch.config.geometry import check_in_frame
from scenewatch.config.rules import rule_type
from scenewatch.rules.base import Context, Posture, Rule, Scene
from scenewatch.rules.events import Event
from scenewatch.rules.history import TrackHistory
from scenewatch.rules.line_rules import LineCrossing, WrongWay
from scenewatch.rules.lines import LineCounter
from scenewatch.rules.motion_rules import Erratic, PersonDown, Running, Speeding, StoppedVehicle
from scenewatch.rules.stitch import IdStitcher
from scenewatch.rules.zone_rules import Crowd, CrowdBuildup, Intrusion, Loitering
from scenewatch.rules.zones import EarlySightings, ZoneMembership
from scenewatch.tracking import FinishedTrack
from scenewatch.types import Detections, Frame
from scenewatch.vision.labels import class_id

# Every rule type that judges frames, the one list of them; each names the config class it runs
# (standing searches judge finished tracks instead: rules/standing.py).
PLUGINS: tuple[type[Rule], ...] = (
    Intrusion,
    Loitering,
    Crowd,
    CrowdBuildup,
    LineCrossing,
    WrongWay,
    Speeding,
    Erratic,
    StoppedVehicle,
    PersonDown,
    Running,
)
RULES: dict[str, type[Rule]] = {rule_type(cls.config_type): cls for cls in PLUGINS}


# Tracker ids -> the detections so far of those the tracker holds (times and xyxy boxes).
FirstSeen = Callable[[np.ndarray], EarlySightings]


def _class_ids(names: list[str] | None) -> np.ndarray | None:
    return None if names is None else np.array([class_id(n) for n in names])


class RuleEngine:
    """Stateful per camera: ``observe(frame, tracked, finished) -> events``.

    ``frame_size`` (width, height), when known at start, checks that the geometry fits the frame;
    otherwise the first frame checks it. Events come out when they start and again when they end
    (same ``key``); ``close`` ends the open ones when the camera stops.

    The rules see identities rather than raw tracker ids: a new id born where a lost track could
    have walked to continues that track (``IdStitcher``), so an id switch after an occlusion is
    neither a new entry nor a missed crossing; events name the identity (the first tracker id).
    ``first_seen`` (the tracker's ``sightings``) dates zone entries and line crossings of a
    new track from its detections before the tracker first reported it.
    """

    def __init__(
        self,
        camera: CameraConfig,
        frame_size: tuple[int, int] | None = None,
        posture: Posture | None = None,
        first_seen: FirstSeen | None = None,
    ):
        self.camera = camera
        self.first_seen = first_seen
        self.frame_size = frame_size
        if frame_size:
            check_in_frame(camera.name, camera.zones, camera.lines, frame_size)
        self.scene = Scene(
            camera=camera.name,
            zones={
                z.name: ZoneMembership(np.array(z.polygon), z.inertia, _class_ids(z.classes))
                for z in camera.zones
            },
            lines={
                ln.name: LineCounter(ln.a, ln.b, ln.positive_side, ln.inertia, _class_ids(ln.classes))
                for ln in camera.lines
            },
            directions={ln.name: (ln.positive, ln.negative) for ln in camera.lines},
            history=TrackHistory(keep_s=self._history_seconds()),
            homography=camera.calibration.homography() if camera.calibration else None,
            posture=posture,  # torso direction for person-down rules (rules/posture.py)
        )
        self.stitcher = IdStitcher()
        self.rules = [RULES[r.type](r) for r in camera.rules if r.type in RULES]
        self.last_time: float | None = None

    def _history_seconds(self) -> float:
        windows = [
            getattr(r, name, 0.0) for r in self.camera.rules for name in ("window_s", "within_s", "fall_s")
        ]
        return max([2.0, *windows]) + 1.0

    def observe(self, frame: Frame, tracked: Detections, finished: list[FinishedTrack]) -> list[Event]:
        """Update zones, lines and track histories with one detected frame; run every rule."""
        if self.frame_size is None:
            self.frame_size = (frame.width, frame.height)
            check_in_frame(self.camera.name, self.camera.zones, self.camera.lines, self.frame_size)
        now = frame.timestamp
        self.last_time = now
        born = self._early_sightings(tracked.track_ids)
        tracked = Detections(tracked.xyxy, tracked.scores, tracked.class_ids, self.stitcher.map(tracked, now))
        self.scene.history.add(tracked, now, frame.index)
        last_seen = {t.track_id: float(t.times[-1]) for t in finished}
        ended = {identity: last_seen[tid] for tid, identity in self.stitcher.end(list(last_seen)).items()}
        ended_ids = np.array(list(ended), dtype=np.int64)
        masks, exits = {}, {}
        for name, zone in self.scene.zones.items():
            masks[name] = zone.trigger(tracked, now, born)
            exits[name] = dict(zip(zone.exited.tolist(), zone.exited_at.tolist(), strict=True))
            gone, gone_at = zone.forget(ended_ids)
            exits[name].update(zip(gone.tolist(), gone_at.tolist(), strict=True))
        crossings, crossed_at = {}, {}
        for name, line in self.scene.lines.items():
            crossings[name] = line.trigger(tracked, now, born)
            crossed_at[name] = line.crossed_at
            line.forget(ended_ids)
        ctx = Context(frame, tracked, masks, exits, crossings, crossed_at, self.scene, ended)
        events = [event for rule in self.rules for event in rule.update(ctx)]
        self.scene.history.forget(list(ended))
        return events

    def _early_sightings(self, track_ids: np.ndarray) -> EarlySightings | None:
        """The detections so far of the tracker ids new to the rules, for zones and lines to date
        what the track did before it was reported: the tracker reports a track only once it has
        evidence (a person standing still since first seen, seconds later)."""
        if self.first_seen is None:
            return None
        fresh = [t for t in track_ids.tolist() if t >= 0 and t not in self.stitcher.alias]
        return self.first_seen(np.array(fresh, dtype=np.int64)) if fresh else None

    def close(self) -> list[Event]:
        """End every open event at the last frame's time."""
        if self.last_time is None:
            return []
        return [event for rule in self.rules for event in rule.close(self.last_time)]

    def counts(self) -> dict[str, dict[str, int]]:
        """Crossings so far per line and direction name (every class the line takes)."""
        return {
            ln.name: {
                ln.positive: self.scene.lines[ln.name].positive_count,
                ln.negative: self.scene.lines[ln.name].negative_count,
            }
            for ln in self.camera.lines
        }

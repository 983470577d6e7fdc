"""Motion rules from each track's recent path: speeding, running, erratic, stopped, person down."""

from __future__ import annotations

from typing import Any

import numpy as np

from scenewatch.config.rules import (
    ErraticRule,
    PersonDownRule,
    RunningRule,
    SpeedingRule,
    StoppedVehicleRule,
)
from scenewatch.geometry import bottom_centres, to_ground, wrap_angle
from scenewatch.rules.base import Context, Posture, Rule
from scenewatch.rules.events import Event

MS_TO_KMH = 3.6


class Threshold(Rule):
    """An event while a measured value stays above a limit for ``min_duration_s``; ends below it."""

    unit = ""

    def __init__(self, config: Any):
        super().__init__(config)
        self.over_since: dict[int, float] = {}
        self.peak: dict[int, float] = {}

    def limit(self) -> float:
        raise NotImplementedError

    def measure(self, times: np.ndarray, boxes: np.ndarray, homography: np.ndarray | None) -> float:
        raise NotImplementedError

    def speed(self, times: np.ndarray, boxes: np.ndarray, homography: np.ndarray | None) -> float:
        """Mean speed over the window (m/s on the ground with a ``homography``, else px/s); NaN with
        too short a window."""
        if len(times) < 2 or times[-1] - times[0] < self.config.window_s / 2:
            return float("nan")
        points = bottom_centres(boxes)
        if homography is not None:
            points = to_ground(points[[0, -1]], homography)
        return float(np.linalg.norm(points[-1] - points[0]) / (times[-1] - times[0]))

    def update(self, ctx: Context) -> list[Event]:
        events: list[Event] = []
        wanted = self.wanted(ctx)
        for row, tid in enumerate(ctx.tracked.track_ids.tolist()):
            times, boxes = ctx.scene.history.window(tid, self.config.window_s, ctx.now)
            value = self.measure(times, boxes, ctx.scene.homography) if wanted[row] else float("nan")
            if not value > self.limit():
                self.over_since.pop(tid, None)
                closed = self.end(tid, ctx.now, {"peak": round(self.peak.pop(tid, 0.0), 2)})
                events.extend([closed] if closed else [])
                continue
            since = self.over_since.setdefault(tid, ctx.now)
            self.peak[tid] = max(self.peak.get(tid, 0.0), value)
            if ctx.now - since >= self.config.min_duration_s:
                detail = {"value": round(value, 2), "unit": self.unit, "limit": self.limit()}
                event = self.fire(ctx, tid, since, [tid], np.array([row]), detail)
                events.extend([event] if event else [])
        return events + self.end_tracks(ctx.ended)


class Speeding(Threshold):
    """Faster than ``max_kmh`` on the calibrated ground, or ``max_px_s`` in the picture."""

    config_type = SpeedingRule

    def __init__(self, config: Any):
        super().__init__(config)
        self.unit = "km/h" if config.max_kmh else "px/s"

    def limit(self) -> float:
        return self.config.max_kmh or self.config.max_px_s

    def measure(self, times: np.ndarray, boxes: np.ndarray, homography: np.ndarray | None) -> float:
        if self.config.max_kmh:
            return self.speed(times, boxes, homography) * MS_TO_KMH
        return self.speed(times, boxes, None)


class Running(Threshold):
    """A person faster than ``min_kmh``, ``min_px_s`` or ``min_heights_s`` (own box heights a second)."""

    config_type = RunningRule

    def __init__(self, config: Any):
        super().__init__(config)
        c = config
        self.unit = "km/h" if c.min_kmh else ("px/s" if c.min_px_s else "heights/s")

    def limit(self) -> float:
        return self.config.min_kmh or self.config.min_px_s or self.config.min_heights_s

    def measure(self, times: np.ndarray, boxes: np.ndarray, homography: np.ndarray | None) -> float:
        if self.config.min_kmh:
            return self.speed(times, boxes, homography) * MS_TO_KMH
        pixels = self.speed(times, boxes, None)
        if self.config.min_px_s:
            return pixels
        # Box heights per second: the same for near and far people, no calibration needed.
        return pixels / max(float(np.median(boxes[:, 3] - boxes[:, 1])), 1.0)


def count_turns(points: np.ndarray, step: float, turn_rad: float) -> int:
    """Distinct sharp turns along a path: headings between points ``step`` apart along it.

    Consecutive turning steps of the same sign are one turn, so a swerve left-right-left is three.
    """
    if len(points) < 3:
        return 0
    travelled = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    if travelled[-1] < 3 * step:
        return 0
    marks = np.searchsorted(travelled, np.arange(0.0, travelled[-1], step))
    path = points[np.unique(marks)]
    moves = np.diff(path, axis=0)
    headings = np.arctan2(moves[:, 1], moves[:, 0])
    change = wrap_angle(np.diff(headings))
    signs = np.where(np.abs(change) >= turn_rad, np.sign(change), 0)
    turning = signs[signs != 0]
    return int(np.count_nonzero(np.diff(turning) != 0) + 1) if len(turning) else 0


class Erratic(Rule):
    """Repeated sharp heading changes, or swerving, within ``within_s`` seconds."""

    config_type = ErraticRule

    def update(self, ctx: Context) -> list[Event]:
        c = self.config
        events: list[Event] = []
        wanted = self.wanted(ctx)
        for row, tid in enumerate(ctx.tracked.track_ids.tolist()):
            turns = 0
            if wanted[row]:
                times, boxes = ctx.scene.history.window(tid, c.within_s, ctx.now)
                points = bottom_centres(boxes)
                if ctx.scene.homography is not None:
                    points, step = to_ground(points, ctx.scene.homography), c.step
                else:
                    step = c.step * float(np.median(boxes[:, 2] - boxes[:, 0])) if len(boxes) else 1.0
                turns = count_turns(points, max(step, 1e-6), np.deg2rad(c.turn_deg))
            if turns >= c.min_turns:
                start = float(ctx.now - min(c.within_s, ctx.now - times[0]))
                event = self.fire(ctx, tid, start, [tid], np.array([row]), {"turns": turns})
                events.extend([event] if event else [])
            elif turns == 0 and tid in self.active:
                events.extend([e for e in [self.end(tid, ctx.now)] if e])
        return events + self.end_tracks(ctx.ended)


class StoppedVehicle(Rule):
    """Stationary (bottom-centre within ``radius`` box widths of where it stopped) for ``time_s``;
    moved on once away from there for ``leave_s`` (a box that jumps for a frame stays stopped)."""

    config_type = StoppedVehicleRule

    def __init__(self, config: Any):
        super().__init__(config)
        self.anchor: dict[int, np.ndarray] = {}
        self.still_since: dict[int, float] = {}
        self.away_since: dict[int, float] = {}  # first frame away from the anchor, while brief

    def update(self, ctx: Context) -> list[Event]:
        events: list[Event] = []
        wanted = self.wanted(ctx)
        points = ctx.tracked.bottom_centre
        widths = ctx.tracked.xyxy[:, 2] - ctx.tracked.xyxy[:, 0]
        for row, tid in enumerate(ctx.tracked.track_ids.tolist()):
            anchor = self.anchor.get(tid)
            still = (
                anchor is not None
                and np.linalg.norm(points[row] - anchor) <= self.config.radius * widths[row]
            )
            moved = wanted[row] and anchor is not None and not still
            left = self.away_since.setdefault(tid, ctx.now) if moved else self.away_since.pop(tid, ctx.now)
            if moved and ctx.now - left < self.config.leave_s:
                continue  # a moment away: the box merged with a passer-by, or jumped
            if not (wanted[row] and still):
                self.away_since.pop(tid, None)
                closed = self.end(tid, left)  # a vehicle that moved on left when it first moved
                events.extend([closed] if closed else [])
                if wanted[row]:
                    self.anchor[tid], self.still_since[tid] = points[row].copy(), ctx.now
                else:
                    self.anchor.pop(tid, None)
                continue
            since = self.still_since[tid]
            if ctx.now - since >= self.config.time_s:
                event = self.fire(ctx, tid, since, [tid], np.array([row]), {"zone": self.config.zone})
                events.extend([event] if event else [])
        # a track lost while moving off left when it first moved
        ended = {tid: min(when, self.away_since.pop(tid, when)) for tid, when in ctx.ended.items()}
        for tid in ended:
            self.anchor.pop(tid, None)
            self.still_since.pop(tid, None)
        return events + self.end_tracks(ended)


class PersonDown(Rule):
    """A person lying (box wider than ``lying_aspect``) or fallen (top dropped fast, aspect grew).

    Fires when the person stays down for ``time_s``; the event starts at the fall and ends when
    the person is up again. The detector rarely boxes a lying person itself: the camera's second
    look (``scenewatch.flow.fallen``) continues the standing track with the lying body.
    """

    config_type = PersonDownRule

    def __init__(self, config: Any):
        super().__init__(config)
        self.standing: dict[int, float] = {}  # typical upright box height
        self.down_since: dict[int, float] = {}
        self.checked: dict[int, tuple[float, str | None]] = {}  # track -> (when, posture)

    def pose_check(self, ctx: Context) -> Posture | None:
        """The camera's posture check, when this rule uses one."""
        return ctx.scene.posture if self.config.pose else None

    def pose_says(self, ctx: Context, row: int, tid: int) -> str | None:
        """The torso's posture, looked at again at most every ``pose_every_s`` per person."""
        check = self.pose_check(ctx)
        if check is None:
            return None
        when, posture = self.checked.get(tid, (-np.inf, None))
        if ctx.now - when >= self.config.pose_every_s:
            posture = check.posture(ctx.frame.image, ctx.tracked.xyxy[row])
            self.checked[tid] = (ctx.now, posture)
        return posture

    def update(self, ctx: Context) -> list[Event]:
        c = self.config
        events: list[Event] = []
        wanted = self.wanted(ctx)
        for row, tid in enumerate(ctx.tracked.track_ids.tolist()):
            if not wanted[row]:
                continue
            x1, y1, x2, y2 = ctx.tracked.xyxy[row].tolist()
            width, height = x2 - x1, max(y2 - y1, 1.0)
            standing = self.standing.get(tid, height)
            times, boxes = ctx.scene.history.window(tid, c.fall_s, ctx.now)
            lying = width / height >= c.lying_aspect
            fell_at = self.fall_time(times, boxes, standing) if len(times) > 1 else None
            low = tid in self.down_since and height <= (1 - c.fall_drop / 2) * standing
            posture = self.pose_says(ctx, row, tid) if lying or fell_at is not None or low else None
            if posture == "upright":  # a wide box (a bike, two people) or sitting down, not a fall
                self.down_since.pop(tid, None)
                closed = self.end(tid, ctx.now)
                events.extend([closed] if closed else [])
                continue
            if lying or fell_at is not None or low:
                since = self.down_since.setdefault(tid, ctx.now if fell_at is None else fell_at)
                if ctx.now - since >= c.time_s:
                    detail = {
                        "aspect": round(width / height, 2),
                        "fell": fell_at is not None or low,
                        "pose": posture or ("unsure" if self.pose_check(ctx) else "not checked"),
                    }
                    event = self.fire(ctx, tid, since, [tid], np.array([row]), detail)
                    events.extend([event] if event else [])
                continue
            # Upright: learn the standing height slowly; the person is up again.
            self.standing[tid] = standing + 0.2 * (height - standing) if tid in self.standing else height
            self.down_since.pop(tid, None)
            closed = self.end(tid, ctx.now)
            events.extend([closed] if closed else [])
        for tid in ctx.ended:
            self.standing.pop(tid, None)
            self.down_since.pop(tid, None)
            self.checked.pop(tid, None)
        return events + self.end_tracks(ctx.ended)

    def fall_time(self, times: np.ndarray, boxes: np.ndarray, standing: float) -> float | None:
        """When the box top began a drop of ``fall_drop`` standing heights with a wider aspect."""
        top = boxes[:, 1]
        highest = len(top) - 1 - int(np.argmin(top[::-1]))  # the last moment at the top: the drop begins
        aspect = (boxes[:, 2] - boxes[:, 0]) / np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
        dropped = top[-1] - top[highest] >= self.config.fall_drop * standing
        widened = aspect[-1] >= 1.3 * aspect[highest]
        return float(times[highest]) if dropped and widened else None

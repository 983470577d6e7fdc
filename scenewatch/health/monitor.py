"""`CameraHealthMonitor`: one camera's health from its frames (the check of a fixed view is
``moved_check.py``; all cameras together, ``fleet.py``).

Time is the frames' own timestamps, never the wall clock of this process, so recorded footage can be
checked faster than real time and a slow pipeline does not make cameras look frozen.
"""

from __future__ import annotations

from collections import Counter, deque

import cv2
import numpy as np

from scenewatch.config.health import HealthConfig
from scenewatch.health.baseline import Baseline
from scenewatch.health.checks import Hysteresis, conditions, frozen_condition
from scenewatch.health.events import SEVERITY, CameraHealth, HealthEvent
from scenewatch.health.measures import SCALARS, TILE_COLS, TILE_ROWS, analysis_image, measure
from scenewatch.health.measures import structure_similarity as similarity
from scenewatch.health.moved_check import MovedCheck
from scenewatch.types import Frame

IMAGE_FAULTS = (
    "signal_loss",
    "frozen",
    "too_dark",
    "overexposed",
    "low_contrast",
    "colour_cast",
    "noise",
    "covered",
    "blurred",
    "moved",
)
# A short burst of these that never lasts long enough to raise is a glitch worth a record.
_GLITCHES = ("signal_loss", "noise")
# Exposure and colour faults do not stop learning: a camera that stays dimmer or warmer than it
# was is slowly learned as normal (a night view), while structural faults are never learned.
_LEARNABLE = ("too_dark", "overexposed", "low_contrast", "colour_cast")


def union_length(intervals: list[tuple[float, float]], lo: float, hi: float) -> float:
    """Total length of the union of intervals clipped to [lo, hi]."""
    total, reach = 0.0, lo
    for a, b in sorted(intervals):
        a, b = max(a, reach), min(b, hi)
        if b > a:
            total += b - a
            reach = b
    return total


class CameraHealthMonitor:
    """Health checks for one camera. Feed every frame to ``observe`` (it samples by itself) and call
    ``tick`` periodically, so that a camera that sends nothing is still noticed.

    >>> m = CameraHealthMonitor("gate")
    >>> m.tick(100.0)
    []
    """

    def __init__(self, camera: str, config: HealthConfig | None = None, started_at: float | None = None):
        self.camera = camera
        self.config = cfg = config or HealthConfig()
        dim = len(SCALARS) + 2 * TILE_ROWS * TILE_COLS
        self.baseline = Baseline(dim, cfg.baseline_samples, cfg.baseline_min_samples, cfg.time_of_day_buckets)
        self._hyst = {name: Hysteresis(cfg.raise_after_s, cfg.clear_after_s) for name in IMAGE_FAULTS}
        self._hyst["frozen"] = Hysteresis(cfg.frozen_after_s, cfg.clear_after_s)
        self._hyst["moved"] = Hysteresis(cfg.moved_after_s, cfg.clear_after_s)
        self._hyst["lagging"] = Hysteresis(cfg.raise_after_s, cfg.clear_after_s)
        self.lag_s = 0.0
        self._active: dict[str, HealthEvent] = {}
        self._first = started_at  # start of monitoring: the online rate counts from here
        self._now = started_at
        self._last_t: float | None = None
        self._last_pts: float | None = None
        self._last_shape: tuple[int, ...] | None = None
        self._gaps: list[tuple[float, float]] = []
        self._corrupt: list[float] = []  # [start, last, count] of the current burst of broken frames
        self._recent: deque[HealthEvent] = deque(maxlen=50)
        self.counters: Counter[str] = Counter()
        self._view = MovedCheck(cfg, self._info)
        self._reset_view(None)

    def _reset_view(self, t: float | None) -> None:
        """Forget everything learned about the picture (new camera or new resolution)."""
        self.baseline.reset()
        self._learn_from = t
        self._last_analysed = -np.inf
        self._last_learned = -np.inf
        self._prev_grey: np.ndarray | None = None
        self._prev_thumb: np.ndarray | None = None
        self._view.reset()

    # ---- feeding -------------------------------------------------------------------------------

    def observe(self, frame: Frame) -> list[HealthEvent]:
        """Take one frame; returns the state changes and records it caused (usually none)."""
        events: list[HealthEvent] = []
        t = float(frame.timestamp)
        if self._first is None:
            self._first = t
        if self._last_t is not None:
            events += self._check_clock(t, float(frame.pts), self._last_t, self._last_pts or 0.0)
            events += self._check_gap(t, self._last_t)
        self._last_t, self._last_pts = t, float(frame.pts)
        self._now = t if self._now is None else max(self._now, t)
        self.counters["frames"] += 1

        image = self._valid_image(frame.image)
        if image is None:
            self.counters["corrupt_frames"] += 1
            self._corrupt = [self._corrupt[0] if self._corrupt else t, t, (self._corrupt or [0, 0, 0])[2] + 1]
            # An undecodable frame is a signal-loss sample: a stream of nothing but those raises it.
            events += self._update("signal_loss", t, True, {"corrupt": True}, None)
            return events
        if self._corrupt:
            start, last, count = self._corrupt
            events.append(self._info("corrupt_frames", start, {"frames": int(count), "until": last}))
            self._corrupt = []
        if self._last_shape is not None and image.shape != self._last_shape:
            events.append(
                self._info(
                    "resolution_change", t, {"from": list(self._last_shape[:2]), "to": list(image.shape[:2])}
                )
            )
            self.counters["resolution_changes"] += 1
            # Sharpness, noise, tiles and features all depend on the resolution: learn them again.
            self._reset_view(t)
        self._last_shape = image.shape
        if self._learn_from is None:
            self._learn_from = t
        if t - self._last_analysed < self.config.sample_interval_s:
            return events
        self._last_analysed = t
        events += self._analyse(t, image)
        return events

    def tick(self, now: float) -> list[HealthEvent]:
        """Check liveness at wall-clock ``now``; raises 'offline' when frames stopped arriving."""
        self._now = now if self._now is None else max(self._now, now)
        last = self._last_t if self._last_t is not None else self._first
        if last is None or "offline" in self._active or now - last < self.config.offline_timeout_s:
            return []
        return [self._raise("offline", last, {"last_frame_at": self._last_t, "detected_at": now}, None)]

    def liveness(self, now: float, silent_since: float | None, lag: float) -> list[HealthEvent]:
        """Judge 'offline' and 'lagging' from the source's side, at wall-clock ``now``.

        ``silent_since``: when the source last delivered a frame, if it has delivered nothing since
        and analysis has taken every frame it delivered (None while it delivers, or while frames wait
        for analysis). ``lag``: how far analysis is behind the source, seconds. Offline means the
        source stopped; analysis falling behind is 'lagging', with hysteresis on the lag itself.
        """
        cfg, events = self.config, []
        self._now = now if self._now is None else max(self._now, now)
        self.lag_s = lag
        silent = silent_since is not None and now - silent_since >= cfg.offline_timeout_s
        if silent_since is not None and silent and "offline" not in self._active:
            events.append(
                self._raise(
                    "offline", silent_since, {"last_frame_at": silent_since, "detected_at": now}, None
                )
            )
        elif not silent and "offline" in self._active and silent_since is None:
            start = self._active["offline"].start
            self._gaps.append((start, now))
            events.append(self._clear("offline", now))
        h = self._hyst["lagging"]
        behind = not silent and lag > (cfg.lagging_clear_s if h.active else cfg.lagging_after_s)
        change = h.update(now, behind)
        if change == "raised":
            events.append(self._raise("lagging", h.started, {"lag_s": round(lag, 2)}, None))
        elif change == "cleared":
            events.append(self._clear("lagging", now))
        elif h.active:
            self._active["lagging"].detail["lag_s"] = round(lag, 2)
        return events

    def close_all(self, end: float, reason: str) -> list[HealthEvent]:
        """End every open fault at ``end``: the camera is no longer watched, so nothing can clear them."""
        events = []
        for fault in list(self._active):
            self._active[fault].detail["closed"] = reason
            events.append(self._clear(fault, end))
            if fault in self._hyst:
                self._hyst[fault] = Hysteresis(self._hyst[fault].raise_after, self._hyst[fault].clear_after)
        return events

    def note_gap(self, start: float, end: float) -> list[HealthEvent]:
        """The source reports it had no picture from ``start`` to ``end`` (a reconnect)."""
        self.counters["reconnects"] += 1
        events = [self._info("reconnect", start, {"end": end, "seconds": round(end - start, 3)})]
        if end - start >= self.config.offline_timeout_s:
            self._gaps.append((start, end))
            if "offline" not in self._active and (self._last_t is None or self._last_t <= start):
                events.append(self._raise("offline", start, {"reported_by": "source"}, None))
            if "offline" in self._active and (self._last_t is None or end >= self._last_t):
                events.append(self._clear("offline", end))
        return events

    # ---- status --------------------------------------------------------------------------------

    def online_rate(self, start: float | None = None, end: float | None = None) -> float | None:
        """Share of [start, end] (clipped to the monitored time) the camera was delivering frames."""
        if self._first is None or self._now is None:
            return None
        lo = self._first if start is None else max(start, self._first)
        hi = self._now if end is None else min(end, self._now)
        if hi <= lo:
            return None
        gaps = list(self._gaps)
        if "offline" in self._active:  # offline right now
            gaps.append((self._active["offline"].start, self._now))
        return 1.0 - union_length(gaps, lo, hi) / (hi - lo)

    @property
    def learning(self) -> bool:
        return not self._learned(self._last_t if self._last_t is not None else 0.0)

    def status(self, window_s: float | None = None) -> CameraHealth:
        """Current faults, since when and how bad, and the online rate over the last ``window_s``."""
        window_s = window_s or self.config.online_window_s
        window = None if self._now is None else (self._now - window_s, self._now)
        return CameraHealth(
            camera=self.camera,
            online="offline" not in self._active and self._last_t is not None,
            last_frame_at=self._last_t,
            learning=self.learning,
            faults=list(self._active.values()),
            online_rate=None if window is None else self.online_rate(*window),
            window=window,
            counters=dict(self.counters),
            recent=list(self._recent),
            lag_s=self.lag_s,
        )

    # ---- internals -----------------------------------------------------------------------------

    @staticmethod
    def _valid_image(image: object) -> np.ndarray | None:
        """The frame as BGR uint8, or None when it is not a picture at all."""
        if not isinstance(image, np.ndarray) or image.size == 0 or image.dtype != np.uint8:
            return None
        if image.ndim == 2:
            return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 16:
            return None
        return image

    def _learned(self, t: float) -> bool:
        return (
            self._learn_from is not None
            and t - self._learn_from >= self.config.learning_period_s
            and self.baseline.count >= self.config.baseline_min_samples
        )

    def _check_clock(self, t: float, pts: float, last: float, last_pts: float) -> list[HealthEvent]:
        """Wall clock and stream clock disagree: the wall clock jumped. Shift every stored time by
        the jump so that hold times and sampling are unaffected, and say so."""
        cfg = self.config
        dt, dpts = t - last, pts - last_pts
        jump = 0.0
        if 0.0 < dpts < cfg.offline_timeout_s and abs(dt - dpts) > cfg.clock_jump_s:
            jump = dt - dpts
        elif dt < -cfg.clock_jump_s:
            jump = dt
        if not jump:
            return []
        self.counters["clock_jumps"] += 1
        for name in IMAGE_FAULTS:  # 'lagging' runs on the wall clock, not the frames'
            self._hyst[name].shift(jump)
        self._last_analysed += jump
        self._last_learned += jump
        if self._learn_from is not None:
            self._learn_from += jump
        self._view.shift(jump)
        self._last_t = last + jump
        return [self._info("clock_jump", t, {"jump_s": round(jump, 3), "previous_frame_at": last})]

    def _check_gap(self, t: float, last: float) -> list[HealthEvent]:
        """A frame after a long silence: record the gap and end (or record) the offline period."""
        if t - last < self.config.offline_timeout_s:
            return []
        self._gaps.append((last, t))
        self.counters["gaps"] += 1
        events: list[HealthEvent] = []
        if "offline" not in self._active:  # nobody called tick(): record it after the fact
            events.append(self._raise("offline", last, {"last_frame_at": last, "detected_at": t}, None))
        events.append(self._clear("offline", t))
        return events

    def _analyse(self, t: float, image: np.ndarray) -> list[HealthEvent]:
        cfg = self.config
        self.counters["analysed"] += 1
        small, grey = analysis_image(image, cfg.analysis_width)
        m = measure(small, grey, self._prev_grey)
        learned = self._learned(t)
        ref, own_bucket = self.baseline.reference(t) if learned else (None, False)
        conds = conditions(m, ref, own_bucket, cfg)
        loss = conds["signal_loss"][0]
        events: list[HealthEvent] = []
        if not loss:
            conds["frozen"] = frozen_condition(m, ref, cfg)
            if self._prev_thumb is not None:
                sim = similarity(m.thumb, self._prev_thumb)
                if sim < cfg.scene_cut_similarity:
                    self._view.cut(t)
                    self.counters["scene_changes"] += 1
                    events.append(self._info("scene_change", t, {"similarity": round(sim, 3)}))
            events += self._view.judge(t, grey, small, conds, learned, self._hyst["moved"])
        for name in IMAGE_FAULTS:
            if name in conds:
                cond, detail = conds[name]
                events += self._update(name, t, cond, detail, image)
            elif not loss:  # not judged without a baseline: treat as absent
                events += self._update(name, t, False, {}, image)
        busy = any(self._hyst[n].busy for n in IMAGE_FAULTS if n not in _LEARNABLE) or any(
            c for n, (c, _) in conds.items() if n not in _LEARNABLE
        )
        due = not learned or t - self._last_learned >= cfg.baseline_update_interval_s
        if not busy and due:
            self.baseline.add(t, m.vector())
            self._last_learned = t
        self._prev_grey, self._prev_thumb = grey, m.thumb
        return events

    def _update(self, name: str, t: float, cond: bool, detail: dict, image: np.ndarray | None) -> list:
        h = self._hyst[name]
        pending_since = h.pending_since
        change = h.update(t, cond)
        if change == "raised":
            return [self._raise(name, h.started, detail, image)]
        if change == "cleared":
            return [self._clear(name, h.ended)]
        if name in _GLITCHES and pending_since is not None and not cond and not h.active:
            self.counters["glitches"] += 1
            return [self._info("corrupt_frames", pending_since, {"looked_like": name, "until": t})]
        return []

    def _snapshot(self, image: np.ndarray | None) -> np.ndarray | None:
        width = self.config.snapshot_width
        if image is None or not width or image.shape[1] <= width:
            return None if image is None else image.copy()
        height = round(image.shape[0] * width / image.shape[1])
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)

    def _raise(self, fault: str, start: float, detail: dict, image: np.ndarray | None) -> HealthEvent:
        reference = self._view.reference_snapshot if fault == "moved" else None
        event = HealthEvent(
            self.camera,
            fault,
            "raised",
            start,
            None,
            SEVERITY[fault],
            detail,
            self._snapshot(image),
            reference,
        )
        self._active[fault] = event
        self._recent.append(event)
        self.counters[f"{fault}_raised"] += 1
        return event

    def _clear(self, fault: str, end: float) -> HealthEvent:
        raised = self._active.pop(fault)
        event = HealthEvent(self.camera, fault, "cleared", raised.start, end, raised.severity, raised.detail)
        self._recent.append(event)
        return event

    def _info(self, what: str, t: float, detail: dict) -> HealthEvent:
        event = HealthEvent(self.camera, what, "info", t, t, "info", detail)
        self._recent.append(event)
        return event

"""`MovedCheck`: has a fixed camera's view moved (turned, knocked, zoomed)?

The current picture is matched against a reference view learned once the baseline is learned.
Scene cuts (the whole picture changing at once) are remembered: a view that keeps cutting (a
montage, a PTZ tour) suspends the check, and a new view must hold still before it counts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

from scenewatch.config.health import HealthConfig
from scenewatch.health.checks import Hysteresis
from scenewatch.health.events import HealthEvent
from scenewatch.health.reference import ReferenceView, ViewMatch

# Conditions under which the view cannot be compared with the reference.
QUALITY = ("signal_loss", "too_dark", "overexposed", "low_contrast", "noise", "covered", "blurred")

Info = Callable[[str, float, dict], HealthEvent]  # records an info event of the camera


class MovedCheck:
    def __init__(self, config: HealthConfig, info: Info):
        self.config = config
        self._info = info
        self.reset()

    def reset(self) -> None:
        """Forget the reference view and the cuts (new camera or new resolution)."""
        self._reference: ReferenceView | None = None
        self._last_match: tuple[float, ViewMatch] | None = None
        self._cuts: deque[float] = deque()
        self._suspended = False

    def cut(self, t: float) -> None:
        """The whole picture changed at ``t``."""
        self._cuts.append(t)

    def shift(self, jump: float) -> None:
        """The wall clock jumped by ``jump`` seconds: move the remembered times with it."""
        self._cuts = deque(c + jump for c in self._cuts)
        if self._last_match is not None:
            self._last_match = (self._last_match[0] + jump, self._last_match[1])

    @property
    def reference_snapshot(self) -> np.ndarray | None:
        return None if self._reference is None else self._reference.snapshot

    def judge(
        self, t: float, grey: np.ndarray, small: np.ndarray, conds: dict, learned: bool, hold: Hysteresis
    ) -> list[HealthEvent]:
        """Add the 'moved' condition to ``conds``; returns info records (reference learned,
        suspended). ``hold`` is the monitor's hysteresis of the 'moved' fault."""
        cfg, events = self.config, list[HealthEvent]()
        while self._cuts and t - self._cuts[0] > cfg.unstable_view_window_s:
            self._cuts.popleft()
        if not cfg.fixed_view:
            return events
        if len(self._cuts) >= cfg.unstable_view_cuts:
            # The view keeps changing (a montage, a PTZ tour): cuts are reported as scene changes and
            # comparing with one reference view would cry "moved" at every cut.
            if not self._suspended:
                self._suspended = True
                self._reference = None
                events.append(self._info("moved_check_suspended", t, {"scene_cuts": len(self._cuts)}))
            conds["moved"] = (False, {"suspended": True})
            conds.pop("covered", None)  # per-tile baselines mean nothing on a changing view either
            return events
        self._suspended = False
        quality = any(conds.get(name, (False,))[0] for name in QUALITY)
        recent_cut = bool(self._cuts) and t - self._cuts[-1] < 2 * cfg.sample_interval_s
        if self._reference is None:
            if learned and not quality and not recent_cut:
                self._reference = ReferenceView(grey, small)
                events.append(
                    self._info("reference_learned", t, {"features": len(self._reference.keypoints)})
                )
            return events
        if not self._reference.usable or quality:
            return events  # cannot judge: the 'moved' state neither rises nor clears
        if self._last_match is None or t - self._last_match[0] >= cfg.moved_interval_s:
            self._last_match = (t, self._reference.match(grey))
        match = self._last_match[1]
        moved = match.moved(cfg.moved_min_matches, cfg.moved_shift)
        if moved and recent_cut and not hold.active:
            hold.pending_since = t  # a new view must hold still for the whole hold time
        if hold.active and hold.since is not None and t - hold.since >= cfg.moved_relearn_after_s:
            self._reference = ReferenceView(grey, small)
            events.append(self._info("reference_learned", t, {"reason": "moved view accepted"}))
            moved = False
        conds["moved"] = (
            moved,
            {"matches": match.matches, "shift": round(match.shift, 4), "angle": round(match.angle, 2)},
        )
        return events

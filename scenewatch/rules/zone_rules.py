"""Zone rules: intrusion, loitering, crowd and crowd build-up."""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

import numpy as np

from scenewatch.config.rules import CrowdBuildupRule, CrowdRule, IntrusionRule, LoiteringRule, RuleBase
from scenewatch.rules.base import Context, Rule
from scenewatch.rules.events import Event

# A track counts in a crowd while seen this recently (short occlusions keep it counted).
CROWD_SEEN_S = 1.0


def last_seen(ctx: Context, ids: list[int]) -> list[dict]:
    """Where each of the tracks an event of several objects names was last seen (frame index and
    box), in the order of ``ids``: a counted person off the firing frame (missed by the detector,
    or gone less than ``CROWD_SEEN_S`` ago) is shown by its stored track there, not on that frame."""
    out = []
    for identity in ids:
        seen = ctx.scene.history.last_seen(identity)
        frame, box = seen if seen is not None else (ctx.frame.index, None)
        out.append({"frame": int(frame), "box": None if box is None else [round(float(v), 1) for v in box]})
    return out


class StayRule(Rule):
    """A track's stay in the zone raises an event once it has lasted ``min_stay`` seconds."""

    def min_stay(self) -> float:
        return 0.0

    def update(self, ctx: Context) -> list[Event]:
        zone = ctx.scene.zones[self.config.zone]
        events: list[Event] = []
        for row in np.flatnonzero(self.wanted(ctx)).tolist():
            tid = int(ctx.tracked.track_ids[row])
            since = zone.since(tid)
            if since is None or ctx.now - since < self.min_stay():
                continue
            event = self.fire(ctx, tid, since, [tid], np.array([row]), {"zone": self.config.zone})
            if event is not None:
                events.append(event)
        for tid, when in {**ctx.zone_exits[self.config.zone], **ctx.ended}.items():
            start = self.active[tid].start if tid in self.active else when
            closed = self.end(tid, when, {"dwell_s": round(when - start, 2)})
            if closed is not None:
                events.append(closed)
        return events


class Intrusion(StayRule):
    """An object in a zone (inside the schedule, if any)."""

    config_type = IntrusionRule


class Loitering(StayRule):
    """An object in a zone for longer than ``time_s``; the event starts at the entry."""

    config_type = LoiteringRule

    def min_stay(self) -> float:
        return self.config.time_s


class Crowd(Rule):
    """The count in the zone reaches ``count`` and holds ``time_s``; ends when it stays below as long."""

    config_type: ClassVar[type[RuleBase]] = CrowdRule  # widened: CrowdBuildup runs its own

    def __init__(self, config: Any):
        super().__init__(config)
        self.above_since: float | None = None
        self.below_since: float | None = None
        self.peak = 0

    def count(self, ctx: Context) -> int:
        zone = ctx.scene.zones[self.config.zone]
        return len(zone.inside_ids(ctx.now - CROWD_SEEN_S, self.class_ids))

    def step(self, count: int, now: float) -> str | None:
        """The count at a frame: ``"fire"`` once it has held ``time_s`` (an event opens unless one
        is open, the rule is unarmed or in cooldown), ``"end"`` once it has stayed below as long
        while an event is open (it ends when the count fell, ``below_since``), else None. The
        rule replay makes the same steps over counts it works out itself."""
        key = self.config.zone
        if count >= self.config.count:
            self.below_since = None
            self.above_since = now if self.above_since is None else self.above_since
            self.peak = max(self.peak, count) if key in self.active else count
            return "fire" if now - self.above_since >= self.config.time_s else None
        self.above_since = None
        if key not in self.active:
            return None
        self.below_since = now if self.below_since is None else self.below_since
        return "end" if now - self.below_since >= self.config.time_s else None

    def update(self, ctx: Context) -> list[Event]:
        count = self.count(ctx)
        key = self.config.zone
        step = self.step(count, ctx.now)
        if step == "fire" and key not in self.active:
            assert self.above_since is not None  # set by the step that fires
            rows = np.flatnonzero(self.wanted(ctx))
            ids = ctx.tracked.track_ids[rows].tolist()
            # everyone counted, the ones on this frame first: a counted person the detector
            # missed on the firing frame is still named
            zone = ctx.scene.zones[key]
            ids += [
                i for i in zone.inside_ids(ctx.now - CROWD_SEEN_S, self.class_ids).tolist() if i not in ids
            ]
            detail = {"zone": key, "count": count, "seen": last_seen(ctx, ids)}
            # people the tracker reported late (held for evidence) were there before they counted
            start = min(self.above_since, zone.together_since(np.array(ids), self.config.count))
            event = self.fire(ctx, key, start, ids, rows, detail)
            return [event] if event else []
        if step == "end":
            assert self.below_since is not None  # set by the step that ends
            closed = self.end(key, self.below_since, {"peak": self.peak})
            return [closed] if closed else []
        return []


class CrowdBuildup(Crowd):
    """The count in the zone rises by ``rise`` within ``within_s`` seconds (an instant event)."""

    config_type = CrowdBuildupRule

    def __init__(self, config: Any):
        super().__init__(config)
        self.counts: deque[tuple[float, int]] = deque()

    def update(self, ctx: Context) -> list[Event]:
        count = self.count(ctx)
        self.counts.append((ctx.now, count))
        while self.counts and self.counts[0][0] < ctx.now - self.config.within_s:
            self.counts.popleft()
        low_time, low = min(self.counts, key=lambda item: item[1])
        if count - low < self.config.rise:
            return []
        rows = np.flatnonzero(self.wanted(ctx))
        ids = ctx.tracked.track_ids[rows].tolist()
        detail = {"zone": self.config.zone, "from": low, "to": count, "from_time": low_time}
        event = self.fire(
            ctx, self.config.zone, ctx.now, ids, rows, {**detail, "seen": last_seen(ctx, ids)}, True
        )
        return [event] if event else []

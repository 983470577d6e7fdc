"""Line rules: crossings per direction, and crossings against the allowed direction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from scenewatch.config.rules import LineCrossingRule, RuleBase, WrongWayRule
from scenewatch.geometry import side_of_line
from scenewatch.rules.base import Context, Rule
from scenewatch.rules.events import Event


class LineCrossing(Rule):
    """Each crossing of the line (in ``direction``, or both) is an instant event; counts per direction."""

    config_type: ClassVar[type[RuleBase]] = LineCrossingRule  # widened: WrongWay runs its own

    def __init__(self, config: Any):
        super().__init__(config)
        self.counts: dict[str, int] = {}  # per direction name, from the first frame on

    def reported(self, name: str) -> bool:
        return self.config.direction in ("both", name)

    def crossings(self, ctx: Context) -> Iterator[tuple[int, int, int, str, float]]:
        """Count this frame's crossings by the rule's classes; yields each as (row, track id,
        direction +1/-1, direction name, when it crossed)."""
        positive, negative = ctx.scene.directions[self.config.line]
        names = {1: positive, -1: negative}
        if not self.counts:
            self.counts = {positive: 0, negative: 0}
        directions = ctx.crossings[self.config.line]
        rows = np.flatnonzero((directions != 0) & np.isin(ctx.tracked.class_ids, self.class_ids))
        for row in rows.tolist():
            direction = int(directions[row])
            name = names[direction]
            self.counts[name] += 1
            when = float(ctx.crossed_at[self.config.line][row])
            yield row, int(ctx.tracked.track_ids[row]), direction, name, when

    def update(self, ctx: Context) -> list[Event]:
        events = []
        for row, tid, _, name, when in self.crossings(ctx):
            if not self.reported(name):
                continue
            detail = {"line": self.config.line, "direction": name, "counts": dict(self.counts)}
            # Keyed by direction too: crossing back is a new event, not one held by the cooldown.
            event = self.fire(ctx, (tid, name), when, [tid], np.array([row]), detail, instant=True)
            if event is not None:
                events.append(event)
        return events


class WrongWay(LineCrossing):
    """A crossing against the line's allowed direction, confirmed once the object is ``min_travel``
    box heights past the line within ``window_s``: a real drive against the traffic, not a box
    jittering on the line or a track id jumping between objects. The event is dated at the crossing."""

    config_type = WrongWayRule

    def __init__(self, config: Any):
        super().__init__(config)
        self.pending: dict[int, tuple[float, int, str]] = {}  # track -> (crossed at, side sign, name)

    def reported(self, name: str) -> bool:
        return name != self.config.allowed

    def update(self, ctx: Context) -> list[Event]:
        counter = ctx.scene.lines[self.config.line]
        for _, tid, direction, name, when in self.crossings(ctx):
            if self.reported(name):
                self.pending[tid] = (when, direction * counter.positive_sign, name)
            else:
                self.pending.pop(tid, None)  # back on the right side
        if not self.pending:
            return []
        events = []
        line_length = float(np.hypot(*(counter.b - counter.a)))
        feet = ctx.tracked.bottom_centre
        for row, tid in enumerate(ctx.tracked.track_ids.tolist()):
            if tid not in self.pending:
                continue
            when, side, name = self.pending[tid]
            past = float(side_of_line(feet[row], counter.a, counter.b)[0]) * side / line_length
            box = ctx.tracked.xyxy[row]
            if past < self.config.min_travel * float(box[3] - box[1]):
                continue
            del self.pending[tid]
            detail = {"line": self.config.line, "direction": name, "counts": dict(self.counts)}
            event = self.fire(ctx, (tid, name), when, [tid], np.array([row]), detail, instant=True)
            events.extend([event] if event else [])
        for tid, (when, _, _) in list(self.pending.items()):
            if tid in ctx.ended or ctx.now - when > self.config.window_s:
                del self.pending[tid]
        return events

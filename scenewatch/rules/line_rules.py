"""Line rules: crossings per direction, and crossings against the allowed direction."""

from __future__ import annotations

import numpy as np

from scenewatch.rules.base import Context, Rule
from scenewatch.rules.events import Event


class LineCrossing(Rule):
    """Each crossing of the line (in ``direction``, or both) is an instant event; counts per direction."""

    def __init__(self, config, engine):
        super().__init__(config, engine)
        line = engine.camera_line(config.line)
        self.names = {1: line.positive, -1: line.negative}
        self.counts = {line.positive: 0, line.negative: 0}

    def reported(self, name: str) -> bool:
        return self.config.direction in ("both", name)

    def update(self, ctx: Context) -> list[Event]:
        directions = ctx.crossings[self.config.line]
        rows = np.flatnonzero((directions != 0) & np.isin(ctx.tracked.class_ids, self.class_ids))
        events = []
        for row in rows.tolist():
            name = self.names[int(directions[row])]
            self.counts[name] += 1
            if not self.reported(name):
                continue
            tid = int(ctx.tracked.track_ids[row])
            when = float(ctx.crossed_at[self.config.line][row])
            detail = {"line": self.config.line, "direction": name, "counts": dict(self.counts)}
            # Keyed by direction too: crossing back is a new event, not one held by the cooldown.
            event = self.fire(ctx, (tid, name), when, [tid], np.array([row]), detail, instant=True)
            if event is not None:
                events.append(event)
        return events


class WrongWay(LineCrossing):
    """A crossing against the line's allowed direction."""

    def reported(self, name: str) -> bool:
        return name != self.config.allowed

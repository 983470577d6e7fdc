"""What every rule shares: class filter, schedule, cooldown, open-event bookkeeping, snapshots.

A rule sees one frame at a time through its :class:`Context`, which carries the camera's
:class:`Scene` (zones, lines, track history, calibration, posture check): rules read what they
need there and know nothing of the engine that runs them.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol

import numpy as np

from scenewatch.config.rules import RuleBase
from scenewatch.rules.annotate import annotate
from scenewatch.rules.events import Event
from scenewatch.rules.history import TrackHistory
from scenewatch.rules.lines import LineCounter
from scenewatch.rules.zones import ZoneMembership
from scenewatch.types import Detections, Frame
from scenewatch.vision.labels import class_id, class_name


class Posture(Protocol):
    """Judges a person's torso in a box: "upright", "lying" or None when unsure."""

    def posture(self, image: np.ndarray, box: np.ndarray) -> str | None: ...


@dataclass(frozen=True)
class Scene:
    """A camera's shared state that rules read, the same objects every frame (the engine updates them)."""

    camera: str
    zones: Mapping[str, ZoneMembership]
    lines: Mapping[str, LineCounter]
    directions: Mapping[str, tuple[str, str]]  # line -> (positive name, negative name)
    history: TrackHistory
    homography: np.ndarray | None = None  # image pixels -> ground metres, when calibrated
    posture: Posture | None = None


@dataclass
class Context:
    """One detected frame as the rules see it, with the engine's shared per-frame results."""

    frame: Frame
    tracked: Detections
    zone_masks: dict[str, np.ndarray]  # debounced membership of each tracked row
    zone_exits: dict[str, dict[int, float]]  # track id -> when it left (or was last seen inside)
    crossings: dict[str, np.ndarray]  # +1 / -1 / 0 per tracked row
    crossed_at: dict[str, np.ndarray]
    scene: Scene
    ended: dict[int, float] = field(default_factory=dict)  # finished track id -> last seen

    @property
    def now(self) -> float:
        return self.frame.timestamp


class Rule:
    """Base of the rule types: subclasses implement ``update(ctx) -> list[Event]``.

    Cooldown: after an event of a key (a track, or a zone for zone-wide rules), the same key raises
    no new event until the condition has been absent for ``cooldown_s``; a condition that keeps
    holding during the cooldown keeps extending it, so one situation gives one alert.

    ``config_type`` is the config class a rule type runs; the engine picks rules by it.
    """

    config_type: ClassVar[type[RuleBase]]

    def __init__(self, config: Any):
        self.config = config
        self.name: str = config.name
        self.type: str = config.type
        self.class_ids = np.array([class_id(c) for c in config.classes])
        self.active: dict[Hashable, Event] = {}
        self.last: dict[Hashable, float] = {}

    def update(self, ctx: Context) -> list[Event]:
        raise NotImplementedError

    # -- helpers for subclasses ------------------------------------------------------------------

    def wanted(self, ctx: Context) -> np.ndarray:
        """[N] rows of ``ctx.tracked`` this rule looks at: its classes, in its zone if it has one."""
        mask = np.isin(ctx.tracked.class_ids, self.class_ids) & (ctx.tracked.track_ids >= 0)
        zone = getattr(self.config, "zone", None)
        if zone is not None:
            mask &= ctx.zone_masks[zone]
        return mask

    def armed(self, now: float) -> bool:
        schedule = self.config.schedule
        return schedule is None or schedule.active(now)

    def admit(self, key: Hashable, now: float) -> bool:
        """Whether an event of ``key`` may fire at ``now``: the rule is armed and the key out of
        cooldown (a try in cooldown extends it); ``fire`` asks, and so does the rule replay."""
        if not self.armed(now):
            return False
        if now - self.last.get(key, -np.inf) < self.config.cooldown_s:
            self.last[key] = now  # the situation goes on: keep it quiet
            return False
        self.last[key] = now
        return True

    def fire(
        self,
        ctx: Context,
        key: Hashable,
        start: float,
        track_ids: list[int],
        rows: np.ndarray,
        detail: dict | None = None,
        instant: bool = False,
    ) -> Event | None:
        """Open an event for ``key`` unless one is open, the rule is unarmed or in cooldown."""
        now = ctx.now
        if key in self.active or not self.admit(key, now):
            return None
        rows = np.asarray(rows, dtype=np.intp).reshape(-1)
        # The frame the rule fired on: where the event's tracks are checked against their stored boxes.
        detail = {**(detail or {}), "frame": ctx.frame.index}
        if len(rows) == 1:  # where the object was when the rule fired
            detail["box"] = [round(float(v), 1) for v in ctx.tracked.xyxy[rows[0]]]
        event = Event(
            key=uuid.uuid4().hex,
            rule=self.name,
            rule_type=self.type,
            camera=ctx.scene.camera,
            start=float(start),
            end=float(start) if instant else None,
            track_ids=[int(t) for t in track_ids],
            detail=detail,
            snapshot=self.snapshot(ctx, rows),
        )
        if not instant:
            # A copy without pixels: callers may change what they get, and the frame is not kept.
            self.active[key] = replace(event, snapshot=None, detail=dict(event.detail))
        return event

    def end(self, key: Hashable, when: float, detail: dict | None = None) -> Event | None:
        """Close the open event of ``key`` (None when there is none)."""
        event = self.active.pop(key, None)
        if event is None:
            return None
        self.last[key] = max(self.last.get(key, -np.inf), when)
        return Event(
            key=event.key,
            rule=event.rule,
            rule_type=event.rule_type,
            camera=event.camera,
            start=event.start,
            end=max(float(when), event.start),
            track_ids=event.track_ids,
            detail={**event.detail, **(detail or {})},
        )

    def end_tracks(self, ids_and_times: dict[int, float]) -> list[Event]:
        """Close the events of tracks that ended or left."""
        closed = (self.end(tid, when) for tid, when in ids_and_times.items())
        return [e for e in closed if e is not None]

    def close(self, now: float) -> list[Event]:
        """End every open event (the camera stops)."""
        return [e for e in (self.end(key, now) for key in list(self.active)) if e is not None]

    def snapshot(self, ctx: Context, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.intp).reshape(-1)
        boxes = ctx.tracked.xyxy[rows]
        # The class alone: the rules' ids are not the stored tracks' ids the alert names.
        labels = [class_name(c) for c in ctx.tracked.class_ids[rows].tolist()]
        zone = getattr(self.config, "zone", None)
        line = getattr(self.config, "line", None)
        return annotate(
            ctx.frame.image,
            boxes,
            labels,
            polygon=ctx.scene.zones[zone].polygon if zone else None,
            line=(ctx.scene.lines[line].a, ctx.scene.lines[line].b) if line else None,
            title=f"{self.name} ({self.type})",
        )

"""Behaviour rules, one per ``type``, each configurable per camera and per object class.

Every rule has a ``cooldown_s`` (one situation gives one alert) and an optional ``schedule`` (the
rule only raises events inside its time windows). Zone and line names are checked against the
camera's geometry when the camera config loads.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from scenewatch.config.base import Section
from scenewatch.config.geometry import check_classes, check_name

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = get_args(Day)
PEOPLE = ["person"]
VEHICLES = ["car", "bus", "truck", "motorcycle"]
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class ScheduleWindow(Section):
    days: list[Day] = Field(
        default_factory=lambda: list(DAYS), description="Days the window applies to; default every day."
    )
    start: str = Field(description="Start time 'HH:MM' (24 h).")
    end: str = Field(description="End time 'HH:MM'; earlier than start means the window runs past midnight.")

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not HHMM.match(value):
            raise ValueError(f"use 24-hour 'HH:MM', e.g. '22:30'; got {value!r}")
        return value

    def contains(self, moment: datetime) -> bool:
        minute = moment.hour * 60 + moment.minute
        start, end = (int(t[:2]) * 60 + int(t[3:]) for t in (self.start, self.end))
        day = DAYS[moment.weekday()]
        if start <= end:
            return day in self.days and start <= minute < end
        # Past midnight: the early part belongs to the window that started the day before.
        yesterday = DAYS[(moment.weekday() - 1) % 7]
        return (day in self.days and minute >= start) or (yesterday in self.days and minute < end)


class ScheduleConfig(Section):
    """When a rule is armed: any of ``windows``, in local time of ``timezone``."""

    timezone: str = Field("UTC", description="IANA time zone of the windows, e.g. 'Europe/Berlin'.")
    windows: list[ScheduleWindow] = Field(min_length=1, description="Time windows when the rule is armed.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'Europe/Paris'"
            ) from None
        return value

    def active(self, timestamp: float) -> bool:
        moment = datetime.fromtimestamp(timestamp, ZoneInfo(self.timezone))
        return any(window.contains(moment) for window in self.windows)


class RuleBase(Section):
    name: str = Field(description="Rule name, unique on the camera; default: the type and its zone/line.")
    classes: list[str] = Field(
        default_factory=lambda: list(PEOPLE), description="Object classes it applies to."
    )
    cooldown_s: float = Field(
        30.0, ge=0, description="After an event, the same object (or zone) raises no new one for this long."
    )
    schedule: ScheduleConfig | None = Field(None, description="Only raise events inside these windows.")

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and "name" not in data:
            place = data.get("zone") or data.get("line")
            data = {**data, "name": f"{data.get('type')}-{place}" if place else str(data.get("type"))}
        return data

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return check_name(value)

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list at least one object class")
        return check_classes(value)  # type: ignore[return-value]

    @property
    def zone_name(self) -> str | None:
        return getattr(self, "zone", None)

    @property
    def line_name(self) -> str | None:
        return getattr(self, "line", None)


class IntrusionRule(RuleBase):
    """An object enters a zone (typically with a schedule: after hours)."""

    type: Literal["intrusion"]
    zone: str = Field(description="The zone that must stay empty.")


class LoiteringRule(RuleBase):
    """An object stays in a zone longer than ``time_s``."""

    type: Literal["loitering"]
    zone: str = Field(description="The zone.")
    time_s: float = Field(gt=0, description="Seconds in the zone before it counts as loitering.")


class CrowdRule(RuleBase):
    """The number of objects in a zone reaches ``count`` and holds for ``time_s``."""

    type: Literal["crowd"]
    zone: str = Field(description="The zone.")
    count: int = Field(ge=1, description="Objects in the zone that make a crowd.")
    time_s: float = Field(2.0, ge=0, description="Seconds the count must hold.")


class CrowdBuildupRule(RuleBase):
    """The count in a zone rises by ``rise`` within ``within_s`` seconds."""

    type: Literal["crowd_buildup"]
    zone: str = Field(description="The zone.")
    rise: int = Field(ge=1, description="Rise of the count that raises the event.")
    within_s: float = Field(gt=0, description="Time window for the rise, seconds.")


class LineCrossingRule(RuleBase):
    """An object crosses a line; counts are kept per direction."""

    type: Literal["line_crossing"]
    line: str = Field(description="The line.")
    direction: str = Field("both", description="'both', or one of the line's direction names.")


class WrongWayRule(RuleBase):
    """An object crosses a line against its allowed direction."""

    type: Literal["wrong_way"]
    classes: list[str] = Field(default_factory=lambda: list(VEHICLES), description="Object classes.")
    line: str = Field(description="The line.")
    allowed: str = Field(description="The allowed direction: one of the line's direction names.")
    min_travel: float = Field(
        0.5,
        ge=0,
        description="How far past the line, in box heights, the object must get within window_s of crossing "
        "it: a wrong-way drive rather than a box jittering on the line or a track id jumping between objects.",
    )
    window_s: float = Field(2.0, gt=0, description="Seconds after the crossing to get min_travel past it.")


class SpeedingRule(RuleBase):
    """An object moves faster than ``max_kmh`` (needs calibration) or ``max_px_s``."""

    type: Literal["speeding"]
    classes: list[str] = Field(default_factory=lambda: list(VEHICLES), description="Object classes.")
    zone: str | None = Field(None, description="Only inside this zone; empty means anywhere.")
    max_kmh: float | None = Field(
        None, gt=0, description="Speed limit in km/h (the camera needs calibration)."
    )
    max_px_s: float | None = Field(None, gt=0, description="Speed limit in pixels per second.")
    window_s: float = Field(1.0, gt=0, description="Speed is measured over this many seconds of track.")
    min_duration_s: float = Field(0.5, ge=0, description="Seconds above the limit before it counts.")

    @model_validator(mode="after")
    def _one_limit(self) -> SpeedingRule:
        if (self.max_kmh is None) == (self.max_px_s is None):
            raise ValueError("give exactly one of max_kmh or max_px_s")
        return self


class ErraticRule(RuleBase):
    """Repeated sharp heading changes or lateral swerving (alternating turns)."""

    type: Literal["erratic"]
    classes: list[str] = Field(default_factory=lambda: list(VEHICLES), description="Object classes.")
    zone: str | None = Field(None, description="Only inside this zone; empty means anywhere.")
    turn_deg: float = Field(25.0, gt=0, lt=180, description="A heading change of at least this is a turn.")
    min_turns: int = Field(3, ge=2, description="Turns within ``within_s`` that make the motion erratic.")
    within_s: float = Field(4.0, gt=0, description="Time window for the turns, seconds.")
    step: float = Field(
        0.25,
        gt=0,
        description="Headings are measured between points this far apart along the path, as a fraction "
        "of the box width (or metres with calibration); filters jitter of a slow box.",
    )


class StoppedVehicleRule(RuleBase):
    """A vehicle stays stationary for ``time_s`` where stopping is not allowed."""

    type: Literal["stopped_vehicle"]
    classes: list[str] = Field(default_factory=lambda: list(VEHICLES), description="Object classes.")
    zone: str | None = Field(None, description="The no-stopping zone; empty means anywhere.")
    time_s: float = Field(gt=0, description="Seconds stationary before it counts.")
    radius: float = Field(
        0.25, gt=0, description="Stationary: the bottom-centre stays within this fraction of the box width."
    )
    leave_s: float = Field(
        0.0,
        ge=0,
        description="Moved on: away from where it stopped for this long. Shorter excursions (a passing "
        "vehicle merging with its box for a frame) do not restart the clock; 0 restarts it at once. "
        "In dense traffic 0.5 finds more stops but also holds slow or jittering far vehicles.",
    )


class PersonDownRule(RuleBase):
    """A person falls (fast drop of the box top with a wider aspect) or lies, and stays down."""

    type: Literal["person_down"]
    zone: str | None = Field(None, description="Only inside this zone; empty means anywhere.")
    time_s: float = Field(5.0, ge=0, description="Seconds down without getting up before it counts.")
    lying_aspect: float = Field(1.0, gt=0, description="Box width/height at or above which a person lies.")
    fall_drop: float = Field(
        0.35, gt=0, lt=1, description="A fall: the box top drops by this fraction of the standing height..."
    )
    fall_s: float = Field(1.0, gt=0, description="...within this many seconds.")
    pose: bool = Field(
        True,
        description="Check what the box suggests with the pose model (torso direction): an upright torso "
        "clears it, a horizontal one confirms it; without the model the box alone decides.",
    )
    pose_every_s: float = Field(1.0, gt=0, description="Seconds between pose checks of one person.")


class RunningRule(RuleBase):
    """A person moves faster than a threshold."""

    type: Literal["running"]
    zone: str | None = Field(None, description="Only inside this zone; empty means anywhere.")
    min_kmh: float | None = Field(None, gt=0, description="Threshold in km/h (needs calibration).")
    min_px_s: float | None = Field(None, gt=0, description="Threshold in pixels per second.")
    min_heights_s: float | None = Field(
        None,
        gt=0,
        description="Threshold in the person's own box heights per second: works without calibration "
        "at any distance (walking is about 0.8, running 2 and more).",
    )
    window_s: float = Field(1.0, gt=0, description="Speed is measured over this many seconds of track.")
    min_duration_s: float = Field(0.5, ge=0, description="Seconds above the threshold before it counts.")

    @model_validator(mode="after")
    def _one_threshold(self) -> RunningRule:
        given = [v for v in (self.min_kmh, self.min_px_s, self.min_heights_s) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of min_kmh, min_px_s or min_heights_s")
        return self


class SearchRule(RuleBase):
    """A standing search: a plain-language query (English or Chinese, as in ``scenewatch search``)
    checked against each track of the camera once it is finished and described; a track that
    matches well enough raises an event."""

    type: Literal["search"]
    query: str = Field(
        min_length=1, max_length=500, description="The query, e.g. 'a white van in zone gate'."
    )
    min_score: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Smallest search score (0-1, as shown with search results) that raises an event.",
    )
    classes: list[str] = Field(
        default_factory=lambda: [*PEOPLE, "bicycle", *VEHICLES],
        description="Object classes it applies to; the query's own object (a van, a person) narrows it.",
    )
    cooldown_s: float = Field(
        0.0,
        ge=0,
        description="After an event, this rule raises no new one for this long (against floods of matching "
        "tracks); 0 alerts on every matching track, each once.",
    )

    @model_validator(mode="before")
    @classmethod
    def _name_from_query(cls, data: Any) -> Any:
        if isinstance(data, dict) and "name" not in data and isinstance(data.get("query"), str):
            digest = hashlib.sha1(data["query"].encode()).hexdigest()[:8]
            data = {**data, "name": f"search-{digest}"}
        return data


# Every rule type, the one list: the config's choices (``RuleConfig``), ``RULE_CONFIGS`` and
# ``RULE_TYPES`` are built from it, and each type's behaviour (``scenewatch.rules.engine.RULES``)
# names the config class it runs.
AnyRule = (
    IntrusionRule
    | LoiteringRule
    | CrowdRule
    | CrowdBuildupRule
    | LineCrossingRule
    | WrongWayRule
    | SpeedingRule
    | ErraticRule
    | StoppedVehicleRule
    | PersonDownRule
    | RunningRule
    | SearchRule
)
RULE_CONFIGS: tuple[type[RuleBase], ...] = get_args(AnyRule)


def rule_type(config: type[RuleBase]) -> str:
    """The ``type`` a config class stands for, read from its ``Literal``.

    >>> rule_type(CrowdRule)
    'crowd'
    """
    return get_args(config.model_fields["type"].annotation)[0]


RuleConfig = Annotated[AnyRule, Field(discriminator="type")]
RULE_TYPES = tuple(rule_type(config) for config in RULE_CONFIGS)

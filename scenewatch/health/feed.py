"""What the health watch knows of one camera's source: when it last delivered a frame, and how far
analysis is behind it.

Offline and lagging look alike from the analysis side (no new frame for a while), so they are told
apart at the source: a source that hands over frames, or whose frames wait for analysis, is alive,
however late its frames are analysed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Delivering(Protocol):
    @property
    def frames_delivered(self) -> int:
        """Counted by the source as it hands frames over (its decode thread)."""

    @property
    def current_gap(self) -> object | None:
        """The outage the source is in now (it cannot reach its camera)."""

    @property
    def stopped(self) -> bool:
        """Asked to stop: the run is ending, nothing more is expected from it."""


@dataclass
class SourceFeed:
    """Deliveries of ``source`` (polled at each tick) against the frames analysis has taken.

    Frame timestamps may carry a constant offset (a file with its own start time, a camera's
    clock): the lag is measured against the least-delayed frame seen, as the live clock does.

    >>> feed = SourceFeed(None, started_at=100.0)
    >>> feed.observed(stamp=100.0, at=100.5)   # this source's frames arrive 0.5 s after their stamp
    >>> feed.observed(stamp=101.0, at=105.5)   # analysed 4 s later than that
    >>> silent_since, lag = feed.state(106.0)
    >>> silent_since, round(lag, 3)
    (105.5, 4.0)
    """

    source: Delivering | None
    started_at: float
    delivered: int = 0
    delivered_at: float = 0.0
    taken: int = 0
    last_stamp: float | None = None
    last_seen: float | None = None
    offset: float | None = None

    def __post_init__(self) -> None:
        self.delivered_at = self.started_at
        if not all(hasattr(self.source, name) for name in ("frames_delivered", "current_gap", "stopped")):
            self.source = None  # it does not say what it delivers: judged by the frames analysed

    def observed(self, stamp: float, at: float) -> None:
        """Analysis took a frame stamped ``stamp`` at wall-clock ``at``."""
        self.taken += 1
        self.last_stamp, self.last_seen = stamp, at
        delay = at - stamp
        self.offset = delay if self.offset is None else min(self.offset, delay)

    def state(self, now: float) -> tuple[float | None, float]:
        """(silent since, lag): ``silent since`` is when the source last delivered, or None while
        frames it delivered still wait for analysis; ``lag`` how far analysis is behind, seconds."""
        backlog = False
        if self.source is not None:
            if self.source.stopped:  # we stopped it (the run ends): its silence is ours
                return None, 0.0
            count = self.source.frames_delivered
            if count != self.delivered:
                self.delivered, self.delivered_at = count, now
            backlog = count > self.taken
            if count == 0 and self.taken == 0:
                # nothing yet: the camera's run may still be starting (models, other cameras), so
                # only the source's own word that it cannot reach the camera counts as silence
                gap = self.source.current_gap
                return (None if gap is None else getattr(gap, "start", self.started_at)), 0.0
        last = max(self.delivered_at, self.last_seen or self.started_at)
        if self.last_stamp is None or self.last_seen is None or self.offset is None:
            return (None if backlog else last), 0.0
        lag = self.last_seen - self.last_stamp - self.offset
        if backlog:  # frames are waiting: the newest analysed one keeps ageing
            lag = max(lag, now - self.last_stamp - self.offset)
        return (None if backlog else last), max(0.0, lag)

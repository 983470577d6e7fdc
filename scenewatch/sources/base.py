"""What every video source offers: frames, what it is, its outages, where it stopped, stop/close."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

from scenewatch.config.source import SourceConfig
from scenewatch.errors import SourceError
from scenewatch.types import Frame

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SourceInfo:
    """What a source delivers. ``width``/``height`` are of the frames handed out (after scaling);
    ``frame_count`` and ``duration`` (seconds) are what the file's header claims, None when unknown
    or live. ``fps`` is the stream's average rate (None if unknown)."""

    width: int
    height: int
    fps: float | None
    codec: str
    is_live: bool
    frame_count: int | None = None
    duration: float | None = None
    source_width: int = 0
    source_height: int = 0
    container: str = ""


@dataclass(slots=True)
class Gap:
    """An outage of a live source, in wall-clock epoch seconds.

    ``start`` is the time of the last frame before the outage (or of the first failed open),
    ``end`` the time of the first frame after it; None while the outage lasts.
    ``reason`` is the first error seen, ``attempts`` the reconnect tries made.
    """

    start: float
    end: float | None
    reason: str
    attempts: int = 0

    @property
    def duration(self) -> float | None:
        return None if self.end is None else self.end - self.start


@dataclass(slots=True)
class DecodeStop:
    """Where decoding of a file stopped early: the frames before ``frame_index`` were delivered.

    ``pts`` is the position of the last delivered frame (seconds, None if none was),
    ``reason`` what FFmpeg said or what was missing.
    """

    name: str
    frame_index: int
    pts: float | None
    reason: str

    @property
    def message(self) -> str:
        at = "no frame decoded" if self.pts is None else f"t={self.pts:.2f} s"
        return f"{self.name}: decoding stopped at frame {self.frame_index} ({at}): {self.reason}"

    def error(self) -> SourceError:
        """The stop as an error, for callers that want to raise it."""
        return SourceError(
            self.message,
            "the frames before it were kept; the file is probably cut short or damaged, re-copy it",
        )


GapCallback = Callable[[Gap], None]


class VideoSource(ABC):
    """An iterable of :class:`~scenewatch.types.Frame` from one camera.

    Iterate once, in one thread (the camera's, or a decode thread of its own). :meth:`stop` and
    :meth:`close` may be called from any thread; iteration then ends after the current frame
    (a stalled stream: within ``read_timeout_s``). Use as a context manager or call :meth:`close`.
    """

    def __init__(self, camera: str, config: SourceConfig, on_gap: GapCallback | None = None):
        self.camera = camera
        self.config = config
        self.info: SourceInfo | None = None
        self.gaps: list[Gap] = []  # finished outages, oldest first
        self.current_gap: Gap | None = None
        self.stopped_at: DecodeStop | None = None
        self.frames_delivered = 0
        self._on_gap = on_gap
        self._stop = threading.Event()
        self._iteration: Generator[Frame, None, None] | None = None

    def __iter__(self) -> Iterator[Frame]:
        self._iteration = self._frames()
        return self._iteration

    @abstractmethod
    def _frames(self) -> Generator[Frame, None, None]:
        """Decode and yield frames until the end, a stop or a fatal error."""

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """Ask the iteration to end; safe from any thread."""
        self._stop.set()

    def close(self) -> None:
        """Stop and release the decoder; safe from any thread."""
        self.stop()
        if self._iteration is None:
            self._release()
            return
        try:
            # closing a suspended iteration runs its cleanup here, in this thread
            self._iteration.close()
        except ValueError:  # it is running in another thread: it sees the stop and cleans up itself
            return
        self._release()  # closed (or never started): nothing else can touch the decoder now

    @abstractmethod
    def _release(self) -> None:
        """Close any open container."""

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- outages ---------------------------------------------------------------------------------

    def _begin_gap(self, start: float, reason: str) -> None:
        if self.current_gap is not None:
            return
        self.current_gap = Gap(start=start, end=None, reason=reason)
        log.warning("camera %s: stream lost: %s", self.camera, reason)
        self._notify_gap(self.current_gap)

    def _end_gap(self, end: float) -> None:
        gap = self.current_gap
        if gap is None:
            return
        gap.end = end
        self.current_gap = None
        self.gaps.append(gap)
        log.info("camera %s: stream back after %.1f s", self.camera, end - gap.start)
        self._notify_gap(gap)

    def _notify_gap(self, gap: Gap) -> None:
        if self._on_gap is None:
            return
        try:
            self._on_gap(gap)
        except Exception:  # a listener's bug must not kill the camera
            log.exception("camera %s: on_gap callback failed", self.camera)

"""Clips for viewing and export, rendered with the privacy mask burned in (WebM, VP8).

Every clip the server hands out is decoded, masked frame by frame (privacy zones black; people
pixelated for users without 'unmasked') and encoded again, so no path serves unmasked video to a
masked user; where people are is asked per frame, and a frame whose people are not known is
pixelated whole. Results are cached per (source, window, mask, people) under
``media/cache/clips`` (retention deletes those unused for a day).

A render reports how far it is (frames done of the frames expected) to the :class:`Progress`
made current with :func:`reporting`; a second render of the same clip waits for the first and
reports the first one's progress meanwhile.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from scenewatch.api import privacy
from scenewatch.sources.decode import seconds
from scenewatch.store.repo import NotFound

# seconds from the source's start -> person boxes then, or None when not known (mask it all)
PeopleFor = Callable[[float], np.ndarray | None]
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
FINISHED = ("ready", "failed", "waiting")


@dataclass
class Progress:
    """How far one clip is: ``stage`` queued, cutting (from the recordings), rendering (``done``
    of ``total`` frames), ready, failed (``message`` says why) or waiting (not recorded yet: try
    again in ``retry_after`` seconds)."""

    stage: str = "queued"
    done: int = 0
    total: int = 0
    message: str = ""
    retry_after: int = 0

    @property
    def finished(self) -> bool:
        return self.stage in FINISHED


_current: ContextVar[Progress | None] = ContextVar("clip_progress", default=None)
_active: dict[str, Progress] = {}  # clip being rendered -> its progress


@contextlib.contextmanager
def reporting(progress: Progress) -> Iterator[Progress]:
    """Make ``progress`` the one that renders (and cuts) in this context report to."""
    token = _current.set(progress)
    try:
        yield progress
    finally:
        _current.reset(token)


def report(stage: str) -> None:
    """Tell the current progress (if any) what is being done now."""
    progress = _current.get()
    if progress is not None:
        progress.stage = stage


class ClipUnavailable(NotFound):
    """No video covers the window (file gone, not recorded, or deleted by retention)."""


def cache_path(media_root: Path, key: dict) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return media_root / "cache" / "clips" / f"{digest}.webm"


def render(
    source: str | Path,
    start_s: float,
    end_s: float,
    out: Path,
    mask: privacy.Mask,
    people_for: PeopleFor,
    max_width: int = 960,
) -> Path:
    """Decode ``source`` from ``start_s`` to ``end_s`` (seconds from its start), mask every frame,
    write ``out`` atomically; returns it. Concurrent calls for the same ``out`` render once."""
    progress = _current.get() or Progress()
    key = str(out)
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    while not lock.acquire(timeout=0.2):
        other = _active.get(key)  # the same clip rendered for someone else: show how far it is
        if other is not None:
            progress.stage, progress.done, progress.total = "rendering", other.done, other.total
    try:
        if out.exists():
            with contextlib.suppress(OSError):
                os.utime(out)  # in use: retention deletes cached clips unused for a day
            progress.stage = "ready"
            return out
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + f".{os.getpid()}.{threading.get_ident()}.tmp")
        _active[key] = progress
        progress.stage, progress.done = "rendering", 0
        try:
            frames = _render(source, start_s, end_s, tmp, mask, people_for, max_width, progress)
            if frames == 0:
                raise ClipUnavailable(f"no video between {start_s:.1f} s and {end_s:.1f} s")
            os.replace(tmp, out)
        finally:
            _active.pop(key, None)
            tmp.unlink(missing_ok=True)
    finally:
        lock.release()
    progress.stage, progress.total = "ready", progress.done
    return out


def _expected_frames(container, stream, start_s: float, end_s: float, fps: float) -> int:
    """Frames the window should hold: up to the end of the video where its length is known."""
    length = float(stream.duration * stream.time_base) if stream.duration else None
    if length is None and container.duration:
        length = container.duration / av.time_base
    if length is not None and length <= end_s:  # to the end: frames before its length
        return max(1, math.ceil((length - start_s) * fps - 1e-6))
    return max(1, math.floor((end_s - start_s) * fps + 1e-6) + 1)  # both ends included


def _render(source, start_s, end_s, tmp, mask, people_for, max_width, progress: Progress) -> int:
    try:
        container = av.open(str(source))
    except (av.error.FileNotFoundError, av.error.InvalidDataError, OSError) as exc:
        raise ClipUnavailable(f"video for this clip cannot be read ({type(exc).__name__})") from None
    written = 0
    with container, av.open(str(tmp), "w", format="webm") as output:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate or 25)
        origin = seconds(stream.start_time, stream.time_base) or 0.0
        progress.total = _expected_frames(container, stream, start_s, end_s, fps)
        if start_s > 1.0:
            container.seek(int((start_s + origin) / stream.time_base), stream=stream, backward=True)
        encoder = None
        for frame in container.decode(stream):
            pts = seconds(frame.pts, stream.time_base)
            if pts is None:
                continue
            t = pts - origin
            if t < start_s - 1e-3:
                continue
            if t > end_s:
                break
            image = frame.to_ndarray(format="bgr24")
            people = people_for(t) if mask.pixelate else None
            image = privacy.apply(image, privacy.Mask(mask.zones, mask.pixelate, people))
            if encoder is None:
                encoder = _encoder(output, image.shape, fps, max_width)
            picture = av.VideoFrame.from_ndarray(image, format="bgr24")
            picture = picture.reformat(encoder.width, encoder.height, "yuv420p")
            picture.pts = written
            for packet in encoder.encode(picture):
                output.mux(packet)
            written += 1
            progress.done = written
            progress.total = max(progress.total, written)
        if encoder is not None:
            for packet in encoder.encode(None):
                output.mux(packet)
    return written


def _encoder(output, shape, fps: float, max_width: int):
    height, width = shape[:2]
    if width > max_width:
        height, width = int(height * max_width / width), max_width
    encoder = output.add_stream("libvpx", rate=Fraction(fps).limit_denominator(1000))
    encoder.width, encoder.height = width - width % 2, height - height % 2
    encoder.pix_fmt = "yuv420p"
    encoder.bit_rate = 1_500_000
    # A negative cpu-used fixes VP8's speed: a positive one lets the encoder pick it from how long
    # frames take, so the same clip came out differently under load, masked edges sharper when
    # busy. Speed 6 keeps a pixelated person's edges as smooth as the mask left them (8 did not).
    encoder.options = {"deadline": "realtime", "cpu-used": "-6"}
    encoder.time_base = 1 / Fraction(fps).limit_denominator(1000)
    return encoder


@dataclass(frozen=True)
class Plan:
    """One clip to render: ``source`` seconds [start_s, end_s] masked into ``out``. The clip's
    time zero is ``zero`` on the clock its tracks' boxes are placed by: wall-clock seconds
    (``wall``) or seconds from the file's start (box frame / ``fps``)."""

    camera: str
    source: str | Path
    start_s: float
    end_s: float
    out: Path
    mask: privacy.Mask
    people_for: PeopleFor
    zero: float
    wall: bool
    fps: float = 25.0

    def render(self) -> Path:
        return render(self.source, self.start_s, self.end_s, self.out, self.mask, self.people_for)

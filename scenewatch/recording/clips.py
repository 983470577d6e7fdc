"""Event clips, remuxed (no re-encoding): from recorded segments of a live camera, or from the
source file of indexed footage.

A clip starts at the keyframe at or before the requested start (a clip must start decodable),
so it may begin up to one keyframe interval early; it ends with the last packet at or before the
requested end. A window spanning two segments is joined into one file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from scenewatch.errors import SceneWatchError
from scenewatch.recording.index import Segment, segments_between
from scenewatch.sources.decode import seconds
from scenewatch.store.data import DataStore

log = logging.getLogger(__name__)
CLIP_TB = Fraction(1, 90000)  # the clip's own time base: fine enough for any frame rate


class ClipError(SceneWatchError):
    """No video covers the requested window."""


class _ClipWriter:
    """One output file; packets come with their wall (or position) time in seconds."""

    def __init__(self, path: Path):
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.container = av.open(str(self.partial), "w", format="mp4", options={"movflags": "+faststart"})
        self.stream = None
        self.t0: float | None = None
        self.last_dts = -1
        self.first: float | None = None
        self.last: float | None = None
        self.packets = 0

    def write(self, packet, seconds: float, template) -> None:
        if self.stream is None:
            self.stream = self.container.add_stream_from_template(template)
            self.t0 = seconds
        tb = packet.time_base
        # pts - dts is the frame's reorder delay (B-frames); keep it, rebase dts onto the clip
        delay = (packet.pts - packet.dts) if packet.pts is not None else 0
        dts = round((seconds - self.t0) / CLIP_TB)
        dts = max(dts, self.last_dts + 1)  # joined segments may overlap by a frame
        self.last_dts = dts
        packet.time_base = CLIP_TB
        packet.dts = dts
        packet.pts = dts + round(float(delay * tb) / CLIP_TB)
        packet.stream = self.stream
        self.container.mux(packet)
        self.first = seconds if self.first is None else self.first
        self.last = seconds
        self.packets += 1

    def finish(self) -> bool:
        self.container.close()
        if not self.packets:
            self.partial.unlink(missing_ok=True)
            return False
        os.replace(self.partial, self.path)
        return True

    def abort(self) -> None:
        with contextlib.suppress(av.error.FFmpegError, OSError):
            self.container.close()
        self.partial.unlink(missing_ok=True)


def _copy_window(
    writer: _ClipWriter, container, base: float, origin: float, start: float, end: float
) -> bool:
    """Copy packets whose time ``base + (dts - origin)`` falls in the window, from the keyframe
    before ``start``; returns False once past ``end``."""
    stream = container.streams.video[0]
    tb = stream.time_base
    if start > base + 1.0 and writer.packets == 0:
        # jump close to the start: the demuxer lands on the keyframe at or before it
        container.seek(int((start - base + origin) / tb), stream=stream, backward=True, any_frame=False)
    gop: list[tuple[object, float]] = []  # packets since the last keyframe, before the start
    for packet in container.demux(stream):
        if packet.dts is None or packet.size == 0:
            continue
        seconds = base + float(packet.dts * tb) - origin
        if seconds > end:
            return False
        if writer.packets == 0:
            if packet.is_keyframe:
                gop = []
            if packet.is_keyframe or gop:
                gop.append((packet, seconds))
            if seconds >= start and gop:
                for held, at in gop:
                    writer.write(held, at, stream)
                gop = []
            continue
        writer.write(packet, seconds, stream)
    return True


@dataclass(frozen=True, slots=True)
class CutClip:
    """A clip written to the media folder: its path and the wall-clock times of its first and
    last frames (the clip's time zero is ``start``)."""

    path: str
    start: float
    end: float


Done = Callable[[CutClip | None], None]


def cut_clip(store: DataStore, camera_id: int, start: float, end: float, out: str) -> str:
    """Cut wall-clock [start, end] of a recorded camera into media path ``out`` (mp4); returns it.

    Raises ClipError when no segment covers any of the window (not recorded, or deleted by
    retention). A window partly covered gives the part there is.
    """
    return cut_recorded(store, camera_id, start, end, out).path


def cut_recorded(store: DataStore, camera_id: int, start: float, end: float, out: str) -> CutClip:
    """:func:`cut_clip`, telling the wall-clock span the clip really covers."""
    if end <= start:
        raise ClipError(f"clip window is empty: start {start} is not before end {end}")
    segments = segments_between(store.engine, camera_id, start, end)
    writer = _ClipWriter(store.media.absolute(out))
    try:
        for segment in segments:
            path = store.media.absolute(segment.path)
            if not path.exists():
                log.warning("clip: segment %s is gone (retention?)", segment.path)
                continue
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                origin = seconds(stream.start_time, stream.time_base) or 0.0
                if not _copy_window(writer, container, segment.start, origin, start, end):
                    break
    except BaseException:
        writer.abort()
        raise
    if not writer.finish():
        raise ClipError(
            f"no recording of camera {camera_id} between {start:.1f} and {end:.1f}",
            "recording may be off for this camera, or retention deleted the segments",
        )
    assert writer.first is not None and writer.last is not None
    return CutClip(out, writer.first, writer.last)


def cut_file_clip(store: DataStore, source: str | Path, start: float, end: float, out: str) -> str:
    """Cut positions [start, end] (seconds from the file's start, as ``Frame.pts``) of a video
    file into media path ``out``; returns it."""
    if end <= start:
        raise ClipError(f"clip window is empty: start {start} is not before end {end}")
    writer = _ClipWriter(store.media.absolute(out))
    try:
        with av.open(str(source)) as container:
            if not container.streams.video:
                raise ClipError(f"{source} has no video")
            stream = container.streams.video[0]
            origin = seconds(stream.start_time, stream.time_base) or 0.0
            _copy_window(writer, container, 0.0, origin, start, end)
    except BaseException:
        writer.abort()
        raise
    if not writer.finish():
        raise ClipError(f"{source} has no video between {start:.1f} s and {end:.1f} s")
    return out


class PendingClips:
    """Clips of one camera waiting for their post-roll to be recorded.

    Pass :meth:`on_segment` as the recorder's ``on_segment``: each request is cut (in the recorder's
    thread; a remux takes milliseconds) once a closed segment reaches its end, and ``done`` gets
    the :class:`CutClip`, or None when the cut failed. Alerts can carry the path at once; the file
    appears when the clip is ready. :meth:`flush` cuts what waits with what is recorded (at
    shutdown, or for a request no segment came to cover, the camera being down).
    """

    def __init__(self, store: DataStore, camera_id: int):
        self.store = store
        self.camera_id = camera_id
        self._waiting: list[tuple[float, float, str, Done | None]] = []
        self._lock = threading.Lock()

    def request(self, start: float, end: float, out: str, done: Done | None = None) -> str:
        if end <= start:
            raise ClipError(f"clip window is empty: start {start} is not before end {end}")
        with self._lock:
            self._waiting.append((start, end, out, done))
        return out

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def on_segment(self, segment: Segment) -> None:
        self._cut(lambda end: end <= segment.end)

    def flush(self, before: float | None = None) -> int:
        """Cut every waiting clip (those whose window ended before ``before``, when given) from
        what is recorded; returns how many were taken."""
        return self._cut(lambda end: before is None or end < before)

    def _cut(self, due: Callable[[float], bool]) -> int:
        with self._lock:
            ready = [w for w in self._waiting if due(w[1])]
            self._waiting = [w for w in self._waiting if not due(w[1])]
        for start, end, out, done in ready:
            try:
                cut: CutClip | None = cut_recorded(self.store, self.camera_id, start, end, out)
            except (ClipError, av.error.FFmpegError, OSError) as exc:
                log.warning("clip %s not cut: %s", out, exc)
                cut = None
            if done is not None:
                try:
                    done(cut)
                except Exception:  # a listener's bug must not stop the other clips
                    log.exception("clip %s: done callback failed", out)
        return len(ready)

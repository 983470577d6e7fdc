"""Continuous recording: a live stream's packets remuxed into segment files, no re-encoding.

The recorder opens the stream itself (beside the decoding source), so recording costs no decode
time and survives analysis being slow. A segment starts at a keyframe once ``segment_s`` have
passed, so every segment plays on its own. Each packet is stamped with the same kind of wall-clock
time as analysed frames (:class:`~scenewatch.sources.clock.LiveClock`), so an event's times find
their segments. A segment enters the index when it is closed; then retention runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av

from scenewatch.backoff import Backoff
from scenewatch.config.recording import RecordingConfig
from scenewatch.config.source import SourceConfig
from scenewatch.errors import SourceError
from scenewatch.recording import index
from scenewatch.recording.index import Segment
from scenewatch.recording.retention import apply_retention
from scenewatch.sources.clock import LiveClock
from scenewatch.sources.decode import redact
from scenewatch.sources.stream import open_stream
from scenewatch.store.data import DataStore

log = logging.getLogger(__name__)
FORMATS = {"mp4": ("mp4", ".mp4"), "mkv": ("matroska", ".mkv")}
# Fragmented MP4: each keyframe starts a fragment, so a killed recorder leaves a playable file.
MP4_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}


class _Open:
    """The segment being written."""

    def __init__(self, path: Path, relative: str, container, stream, start: float, origin: int):
        self.path = path
        self.relative = relative
        self.container = container
        self.stream = stream
        self.start = start
        self.origin = origin  # input dts of the first packet: the segment's time zero
        self.end = start
        self.span = 0.0  # seconds of stream time in it so far


MAX_HELD = 600  # leading packets without timestamps kept (a 20 s GOP at 30 fps)


def _timed(packets: Iterable, step: int) -> Iterator:
    """The packets that have a dts; a flush packet, or one without a timestamp, is dropped (muxers
    reject them). Except at the start: FFmpeg's RTSP demuxer gives a stream's opening keyframe and
    the few packets after it no dts, and dropping them would lose the whole first GOP. So those
    are held until the first timed packet and given dts one frame apart before it (``step``
    ticks, or their own duration), and a pts no earlier than that."""
    held: list = []
    timed = False
    for packet in packets:
        if packet.size == 0:
            continue
        if packet.dts is None:
            if not timed and (held or packet.is_keyframe) and len(held) < MAX_HELD:
                held.append(packet)
            continue
        if held:
            dts = packet.dts
            for early in reversed(held):
                dts -= early.duration or step
                early.dts = dts
                if early.pts is None or early.pts < dts:
                    early.pts = dts
            yield from held
            held = []
        timed = True
        yield packet


class SegmentRecorder:
    """Record one camera until :meth:`stop`, reconnecting like the analysing source does.

    ``source.realtime`` files are paced at their own rate (a file played as a camera); other files
    are read as fast as possible (for tests). ``on_segment`` is called with each closed segment,
    after retention (unless ``retention`` is off: then the caller applies it).
    """

    def __init__(
        self,
        store: DataStore,
        camera: str,
        camera_id: int,
        source: SourceConfig,
        config: RecordingConfig,
        on_segment: Callable[[Segment], None] | None = None,
        retention: bool = True,
    ):
        self.store = store
        self.retention = retention  # apply it as each segment closes (off: the caller runs it)
        self.camera = camera
        self.camera_id = camera_id
        self.source = source
        self.config = config
        self.on_segment = on_segment
        self.segments: list[Segment] = []  # closed by this recorder, oldest first
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._format, self._suffix = FORMATS[config.container]
        self._folder = store.media.absolute(f"{config.folder.strip('/')}/{camera}")

    def start(self) -> SegmentRecorder:
        self._discard_partials()
        self._thread = threading.Thread(target=self._run, name=f"record-{self.camera}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop and close the current segment (it is indexed like any other)."""
        self.signal_stop()
        self.join(timeout)

    def signal_stop(self) -> None:
        """Ask the loop to stop without waiting (to stop many recorders at once; then :meth:`join`)."""
        self._stop.set()

    def join(self, timeout: float = 15.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> SegmentRecorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the loop --------------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = Backoff(self.source.reconnect_initial_s, self.source.reconnect_max_s)
        clock = LiveClock()
        while not self._stop.is_set():
            try:
                container, stream = self._open()
            except SourceError as exc:
                self._note_error(str(exc))
                self._stop.wait(backoff.next())
                continue
            backoff.reset()
            clock.reset()
            try:
                self._record(container, stream, clock)
            except (av.error.FFmpegError, OSError) as exc:
                self._note_error(f"recording stopped: {exc}")
            except Exception:  # e.g. the database busy: record on after the usual wait
                log.exception("camera %s: recording failed", self.camera)
                self.last_error = "recording failed (see the log)"
            finally:
                with contextlib.suppress(av.error.FFmpegError, OSError):
                    container.close()
            if self._is_file and not self.source.loop:
                return  # a file ends; a stream reconnects
            if not self._stop.is_set() and not self._is_file:
                self._stop.wait(backoff.next())

    @property
    def _is_file(self) -> bool:
        return not self.source.is_live

    def _open(self):
        if not self._is_file:
            return open_stream(self.source)
        try:
            container = av.open(self.source.url.removeprefix("file://"))
        except (av.error.FFmpegError, OSError) as exc:
            raise SourceError(f"cannot open {self.source.url} for recording: {exc}") from exc
        if not container.streams.video:
            container.close()
            raise SourceError(f"{self.source.url} has no video to record")
        return container, container.streams.video[0]

    def _note_error(self, message: str) -> None:
        if message != self.last_error:
            log.warning("camera %s: %s", self.camera, message)
        self.last_error = message

    def _record(self, container, in_stream, clock: LiveClock) -> None:
        tb: Fraction = in_stream.time_base
        pace = self._is_file and self.source.realtime
        mono0: float | None = None
        dts0 = 0
        file_t0: float | None = None
        file_dts0 = 0
        current: _Open | None = None
        last_dts: int | None = None
        frame_s = 1.0 / float(in_stream.average_rate) if in_stream.average_rate else 0.04
        try:
            for packet in _timed(container.demux(in_stream), round(frame_s / tb)):
                if self._stop.is_set():
                    break
                if last_dts is not None and packet.dts <= last_dts:
                    continue  # a repeated or backwards timestamp (stream glitch): muxers refuse it
                last_dts = packet.dts
                seconds = float(packet.dts * tb)
                if pace:
                    if mono0 is None:
                        mono0, dts0 = time.monotonic(), packet.dts
                    delay = mono0 + float((packet.dts - dts0) * tb) - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                if self._is_file:
                    # a file: its own timeline from when reading began (paced or not)
                    if file_t0 is None:
                        file_t0, file_dts0 = time.time(), packet.dts
                    wall = file_t0 + float((packet.dts - file_dts0) * tb)
                else:
                    wall = clock.stamp(seconds, time.time())
                # by stream time (live stamps jitter); half a frame of slack: a keyframe due at exactly
                # segment_s counts
                if packet.is_keyframe and (
                    current is None
                    or float((packet.dts - current.origin) * tb) >= self.config.segment_s - frame_s / 2
                ):
                    if current is not None:
                        current.span = float((packet.dts - current.origin) * tb)
                        self._close(current, end=wall, codec=in_stream.codec_context.name)
                    current = self._begin(in_stream, wall, packet.dts)
                if current is None:
                    continue  # wait for the first keyframe: a segment must start decodable
                self._write(current, packet)  # (its dts is now the segment's own)
                duration = float(packet.duration * tb) if packet.duration else frame_s
                current.end = wall + duration
                current.span = float(packet.dts * tb) + duration
        finally:
            if current is not None:
                self._close(current, end=current.end, codec=in_stream.codec_context.name)

    def _begin(self, in_stream, wall: float, dts: int) -> _Open:
        stamp = datetime.fromtimestamp(wall, UTC)
        relative = (
            f"{self.config.folder.strip('/')}/{self.camera}/{stamp:%Y-%m-%d}/"
            f"{stamp:%H-%M-%S}.{stamp.microsecond // 1000:03d}{self._suffix}"
        )
        path = self.store.media.absolute(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        options = MP4_OPTIONS if self._format == "mp4" else {}
        container = av.open(str(partial), "w", format=self._format, options=options)
        stream = container.add_stream_from_template(in_stream)
        return _Open(path, relative, container, stream, wall, dts)

    @staticmethod
    def _write(current: _Open, packet) -> None:
        # each segment's timestamps start at zero; the index holds its wall-clock start
        pts = packet.pts if packet.pts is not None else packet.dts
        packet.dts -= current.origin
        packet.pts = pts - current.origin
        packet.stream = current.stream
        current.container.mux(packet)

    def _close(self, current: _Open, end: float, codec: str) -> None:
        partial = current.path.with_name(current.path.name + ".partial")
        try:
            current.container.close()
            os.replace(partial, current.path)
        except (av.error.FFmpegError, OSError) as exc:
            self._note_error(f"cannot finish segment {current.relative}: {exc}")
            partial.unlink(missing_ok=True)
            return
        size = current.path.stat().st_size
        start = current.start
        if not self._is_file and current.span > 0:
            # Live stamps settle as the stream goes on (the first packets arrive in a burst, late):
            # the end is the better stamp, and the segment holds ``span`` seconds before it.
            start = end - current.span
        segment = index.add_segment(
            self.store.engine, self.camera_id, current.relative, start, end, size, codec
        )
        self.segments.append(segment)
        log.debug("camera %s: segment %s %.1f s", self.camera, segment.path, segment.duration)
        try:
            if self.retention:
                apply_retention(self.store, self.config.retention_days * 86400, self.config.budget_bytes)
        except Exception:  # retention runs again with the next segment; recording goes on
            log.exception("camera %s: retention failed", self.camera)
        if self.on_segment is not None:
            try:
                self.on_segment(segment)
            except Exception:  # a listener's bug must not stop recording
                log.exception("camera %s: on_segment callback failed", self.camera)

    def _discard_partials(self) -> None:
        """Segments left open by a crash were never indexed; drop them (they hold seconds at most
        one segment long)."""
        if not self._folder.is_dir():
            return
        for partial in self._folder.rglob("*.partial"):
            log.warning("camera %s: discarding unfinished segment %s", self.camera, partial.name)
            partial.unlink(missing_ok=True)

    def describe(self) -> str:
        return f"recorder {self.camera} ({redact(self.source.url)})"

"""Video files: any container and codec FFmpeg reads, optionally paced in real time or looped."""

from __future__ import annotations

import contextlib
import logging
import struct
import time
from collections import deque
from collections.abc import Generator, Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import av
from av.container import InputContainer
from av.video.stream import VideoStream

from scenewatch.config.source import SourceConfig
from scenewatch.errors import SourceError
from scenewatch.sources.base import DecodeStop, GapCallback, SourceInfo, VideoSource
from scenewatch.sources.decode import (
    DecodedFrames,
    ffmpeg_reason,
    fps_of,
    output_size,
    seconds,
    setup_decoder,
    to_bgr,
)
from scenewatch.types import Frame

log = logging.getLogger(__name__)

# This many undecodable packets in a row means the rest of the file is garbage.
MAX_CONSECUTIVE_DECODE_ERRORS = 50
# A realtime file more than this far behind its schedule restarts the schedule instead of bursting.
MAX_PACING_LAG_S = 1.0


def local_path(url: str) -> Path:
    """The filesystem path of a plain path or a file:// URL."""
    if url.lower().startswith("file://"):
        return Path(unquote(urlsplit(url).path))
    return Path(url).expanduser()


def open_video_file(path: Path) -> tuple[InputContainer, VideoStream]:
    """Open ``path`` and pick its first video stream, or raise a one-line SourceError."""
    name = str(path)
    if not path.exists():
        raise SourceError(f"video file {name} does not exist", "check the path in the url setting")
    if path.is_dir():
        raise SourceError(f"{name} is a folder, not a video file", "give the path of a video file")
    if path.stat().st_size == 0:
        raise SourceError(f"video file {name} is empty", "re-copy or re-export it")
    try:
        container = av.open(name, mode="r")
    except PermissionError as exc:
        raise SourceError(f"cannot read video file {name}: permission denied", "check its rights") from exc
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        if _mp4_without_index(path):
            raise SourceError(
                f"{name} is an MP4 without its index (moov atom): the recording was cut off before "
                "it was finished",
                "re-copy or re-export it; tools such as untrunc can sometimes repair such files",
            ) from exc
        raise SourceError(
            f"{name} is not a video FFmpeg can read: {ffmpeg_reason(exc)}",
            "check that it is a complete video file",
        ) from exc
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams})
        what = container.format.long_name or container.format.name
        container.close()
        if "audio" in kinds:
            holds = ", ".join(kinds)
            raise SourceError(f"{name} has no video stream (it holds: {holds})", "give a video file")
        # FFmpeg reads almost any text as subtitles or lyrics; say what it took the file for
        raise SourceError(
            f"{name} is not a video FFmpeg can read: it looks like {what}, with no video stream",
            "check that it is a video file",
        )
    return container, container.streams.video[0]


def pass_seconds(url: str) -> float | None:
    """How long one pass over a local video file lasts (a looped file's next pass starts one frame
    after its last); None when it cannot be read or does not say."""
    try:
        container, stream = open_video_file(local_path(url))
    except SourceError:
        return None
    try:
        fps = fps_of(stream) or 25.0
        if stream.frames:
            return stream.frames / fps
        length = seconds(stream.duration, stream.time_base)
        return length + 1.0 / fps if length else None
    finally:
        container.close()


def _mp4_without_index(path: Path) -> bool:
    """An ISO-BMFF (MP4/MOV) file whose top-level boxes have media data but no moov box."""
    boxes: list[bytes] = []
    size_left = path.stat().st_size
    with path.open("rb") as fh:
        while size_left >= 8 and len(boxes) < 64:
            head = fh.read(8)
            if len(head) < 8:
                break
            size, kind = struct.unpack(">I4s", head)
            header = 8
            if size == 1:
                size, header = struct.unpack(">Q", fh.read(8))[0], 16
            boxes.append(kind)
            if size == 0 or size < header:  # runs to the end of the file, or not a box at all
                break
            fh.seek(size - header, 1)
            size_left -= size
    return bool(boxes) and boxes[0] == b"ftyp" and b"moov" not in boxes


def _origin(stream: VideoStream, first: float | None) -> float:
    """Where positions count from: the stream's start, as players show it (a file whose first
    frames cannot be decoded starts after 0), or the first frame if that is earlier."""
    known = [t for t in (seconds(stream.start_time, stream.time_base), first) if t is not None]
    return min(known) if known else 0.0


class FileSource(VideoSource):
    """Frames of a video file. ``timestamp`` = ``start_time`` + ``pts``, where ``pts`` counts from
    the first decoded frame (and keeps counting across loops), so indexing a file twice gives the
    same times when the same ``start_time`` is given.

    A file that ends early or turns undecodable delivers every frame before the damage, then ends
    the iteration and sets :attr:`stopped_at`.

    ``resume`` = (index, position in the file in seconds) of the last frame analysed earlier: the
    file is sought there and delivery goes on with the next frame, numbered ``index + 1``.
    """

    def __init__(
        self,
        camera: str,
        config: SourceConfig,
        start_time: float | None = None,
        on_gap: GapCallback | None = None,
        resume: tuple[int, float] | None = None,
    ):
        super().__init__(camera, config, on_gap)
        self.path = local_path(config.url)
        self.start_time = time.time() if start_time is None else start_time
        self._explicit_start = start_time is not None
        self._container: InputContainer | None = None
        self._schedule: tuple[float, float, float] | None = None  # realtime: (monotonic, pts, wall)
        self._resume = resume
        # (first index, offset) of the latest passes: frames still in flight map back to the file
        self._passes: deque[tuple[int, float]] = deque(maxlen=8)
        self._open()

    def file_position(self, frame: Frame) -> float:
        """Where ``frame`` (one this source delivered) lies in the file, in seconds."""
        offset = next((o for first, o in reversed(self._passes) if first <= frame.index), 0.0)
        return frame.pts - offset

    def _open(self) -> VideoStream:
        self._container, stream = open_video_file(self.path)
        setup_decoder(stream, self.config.threads, self.config.keyframes_only)
        ctx = stream.codec_context
        width, height = output_size(ctx.width, ctx.height, self.config.width)
        fps = fps_of(stream)
        duration = seconds(stream.duration, stream.time_base)
        if stream.frames and fps:  # AVI headers know the frame count better than the duration
            duration = max(duration or 0.0, stream.frames / fps)
        self.info = SourceInfo(
            width=width,
            height=height,
            fps=fps,
            codec=ctx.name,
            is_live=False,
            frame_count=stream.frames or None,
            duration=duration,
            source_width=ctx.width,
            source_height=ctx.height,
            container=self._container.format.name,
        )
        return stream

    def _release(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def _frames(self) -> Generator[Frame, None, None]:
        index, after = (self._resume[0] + 1, self._resume[1]) if self._resume else (0, None)
        offset = 0.0  # position where the current pass of a looped file starts
        try:
            while not self.stopped:
                stream = self._container.streams.video[0] if self._container else self._open()
                end, first = offset, index
                self._passes.append((index, offset))
                for frame in self._decode_pass(stream, index, offset, after):
                    index += 1
                    end = frame.pts
                    yield frame
                # a resumed pass may hold nothing (it resumed at the end): a loop goes on
                if not self.config.loop or self.stopped or (index == first and after is None):
                    return
                if after is not None and index == first:
                    end = after
                after = None
                # next pass starts one frame interval after this one's last frame
                offset = end + 1.0 / (self.info.fps or 25.0) if self.info else end
                self._release()
        finally:
            self._release()

    def _decode_pass(
        self, stream: VideoStream, index: int, offset: float, after: float | None = None
    ) -> Iterator[Frame]:
        """One pass over the file, from frame number ``index`` at position ``offset``; a resumed
        pass starts with the first frame past position ``after``."""
        assert self._container is not None and self.info is not None
        step = 1.0 / (self.info.fps or 25.0)
        origin: float | None = None
        if after is not None:
            origin = seconds(stream.start_time, stream.time_base) or 0.0
            # to the keyframe before (the frames up to the position are dropped below); a file that
            # cannot seek is read from the start instead
            with contextlib.suppress(av.error.FFmpegError, TypeError):
                if stream.time_base is not None:
                    target = int((origin + after) / stream.time_base)
                    self._container.seek(target, stream=stream, backward=True)
        last: float | None = None  # position in this pass of the last delivered frame
        first_index = index
        reason: str | None = None
        frames = DecodedFrames(self._container, stream, lambda: self.stopped, MAX_CONSECUTIVE_DECODE_ERRORS)
        try:
            for vframe in frames:
                t = vframe.time
                if origin is None:
                    origin = _origin(stream, t)
                pos = (t - origin) if t is not None else None
                if pos is None or (last is not None and pos <= last):
                    pos = 0.0 if last is None else last + step  # missing or repeated pts
                last = pos
                if after is not None and pos <= after + 1e-6:
                    continue  # analysed before the resume
                position = offset + pos
                yield Frame(
                    image=to_bgr(vframe, self.config.width),
                    camera=self.camera,
                    index=index,
                    timestamp=self._timestamp(position),
                    pts=position,
                )
                index += 1
                self.frames_delivered += 1
                if self.stopped:
                    return
        except av.error.FFmpegError as exc:
            reason = ffmpeg_reason(exc)
        if frames.interrupted:
            return
        reason = reason or frames.failure
        if reason is None:
            reason = self._ends_early(last, index - first_index, step)
        if reason is not None and self.stopped_at is None:
            at = None if last is None else offset + last
            self.stopped_at = DecodeStop(str(self.path), index, at, reason)
            log.warning("camera %s: %s", self.camera, self.stopped_at.message)

    def _ends_early(self, last: float | None, count: int, step: float) -> str | None:
        """Why a file that reached its end without error is incomplete, or None if it is whole."""
        assert self.info is not None
        expected = self.info.duration
        if not expected:
            return None
        reached = 0.0 if last is None else last + step
        # frames dropped inside AVI files or a short last GOP leave small shortfalls; ignore those
        if reached >= expected - max(1.0, 3 * step):
            return None
        frames = f", {count} of {self.info.frame_count} frames" if self.info.frame_count else ""
        return f"the file ends early: video reaches {reached:.1f} s of {expected:.1f} s{frames}"

    def _timestamp(self, position: float) -> float:
        """Wall-clock time of the frame at ``position``; in realtime mode, wait until it is due."""
        if not self.config.realtime:
            return self.start_time + position
        now = time.monotonic()
        if self._schedule is None:  # paced frames are stamped from when playing starts
            self._schedule = (now, position, self.start_time if self._explicit_start else time.time())
        mono0, pos0, wall0 = self._schedule
        delay = mono0 + (position - pos0) - now
        if delay < -MAX_PACING_LAG_S:  # the consumer fell behind: restart the schedule, don't burst
            self._schedule = (now, position, time.time())
            return time.time()
        if delay > 0:
            self._stop.wait(delay)
        return wall0 + (position - pos0)

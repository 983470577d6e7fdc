"""Live streams (RTSP, HTTP, RTMP, UDP, SRT ...): reconnect with backoff forever, record outages."""

from __future__ import annotations

import time
from collections.abc import Generator
from urllib.parse import urlsplit

import av
from av.container import InputContainer
from av.video.stream import VideoStream

from scenewatch.backoff import Backoff
from scenewatch.config.source import SourceConfig
from scenewatch.errors import SourceError
from scenewatch.sources.base import GapCallback, SourceInfo, VideoSource
from scenewatch.sources.clock import LiveClock
from scenewatch.sources.decode import (
    DecodedFrames,
    ffmpeg_reason,
    fps_of,
    output_size,
    redact,
    setup_decoder,
    to_bgr,
)
from scenewatch.types import Frame

# This many undecodable packets in a row (not the odd lost one) means the connection is bad.
MAX_CONSECUTIVE_DECODE_ERRORS = 100
OPEN_HINT = "check the address, network and credentials"


def open_stream(config: SourceConfig) -> tuple[InputContainer, VideoStream]:
    """Connect to ``config.url`` and pick its first video stream, or raise a one-line SourceError."""
    shown = redact(config.url)
    options: dict[str, str] = {}
    if urlsplit(config.url).scheme.lower() in ("rtsp", "rtsps"):
        options["rtsp_transport"] = config.rtsp_transport
    started = time.monotonic()
    try:
        container = av.open(
            config.url, options=options, timeout=(config.open_timeout_s, config.read_timeout_s)
        )
    except (av.error.FFmpegError, OSError) as exc:
        waited = time.monotonic() - started
        # PyAV's timeout interrupts FFmpeg, which then reports "Immediate exit requested"
        if isinstance(exc, av.error.ExitError | TimeoutError) or waited >= config.open_timeout_s:
            raise SourceError(
                f"cannot open stream {shown} (timeout after {config.open_timeout_s:g} s)", OPEN_HINT
            ) from exc
        hint = OPEN_HINT
        if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError | PermissionError):
            hint = "check the user name and password in the URL"
        elif isinstance(exc, av.error.HTTPNotFoundError | FileNotFoundError):
            hint = "check the path part of the URL; cameras name their streams differently"
        raise SourceError(f"cannot open stream {shown}: {ffmpeg_reason(exc)}", hint) from exc
    if not container.streams.video:
        kinds: list[str] = sorted({s.type for s in container.streams}) or ["nothing"]
        container.close()
        raise SourceError(
            f"stream {shown} has no video (it holds: {', '.join(kinds)})",
            "check the path part of the URL; cameras often serve several streams",
        )
    return container, container.streams.video[0]


class LiveSource(VideoSource):
    """Frames of a live stream, stamped with wall-clock time (see :class:`LiveClock`).

    When the stream drops (error, end, or no data for ``read_timeout_s``) the source reconnects
    with exponential backoff and jitter, forever until stopped. Each outage is a
    :class:`~scenewatch.sources.base.Gap`: ``on_gap`` is called when it starts (``end`` None) and
    again when frames flow again (``end`` set); finished ones are in :attr:`gaps`. Frame ``index``
    keeps increasing across reconnects; ``pts`` is seconds since the source was created.

    If the first connection fails, the constructor raises SourceError, unless
    ``config.retry_first_open`` is set; then that failure opens the first gap.
    """

    def __init__(self, camera: str, config: SourceConfig, on_gap: GapCallback | None = None):
        super().__init__(camera, config, on_gap)
        self.opened_at = time.time()
        self._container: InputContainer | None = None
        self._backoff = Backoff(config.reconnect_initial_s, config.reconnect_max_s)
        self._clock = LiveClock()
        self._index = 0
        self._last_frame_at: float | None = None
        try:
            self._connect()
        except SourceError as exc:
            if not config.retry_first_open:
                raise
            self._begin_gap(self.opened_at, str(exc))

    def _connect(self) -> None:
        self._container, stream = open_stream(self.config)
        setup_decoder(stream, self.config.threads, self.config.keyframes_only)
        ctx = stream.codec_context
        width, height = output_size(ctx.width, ctx.height, self.config.width)
        self.info = SourceInfo(
            width=width,
            height=height,
            fps=fps_of(stream),
            codec=ctx.name,
            is_live=True,
            source_width=ctx.width,
            source_height=ctx.height,
            container=self._container.format.name,
        )
        self._clock.reset()

    def _release(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def _frames(self) -> Generator[Frame, None, None]:
        try:
            while not self.stopped:
                if self._container is None and not self._reconnect():
                    continue
                reason = yield from self._read()
                self._release()
                if not self.stopped:
                    self._begin_gap(self._last_frame_at or time.time(), reason)
        finally:
            self._release()

    def _reconnect(self) -> bool:
        """Wait out the backoff, then try once; False if still down (or stopped)."""
        self._stop.wait(self._backoff.next())
        if self.stopped:
            return False
        if self.current_gap is not None:
            self.current_gap.attempts += 1
        try:
            self._connect()
        except SourceError:
            return False
        return True

    def _read(self) -> Generator[Frame, None, str]:
        """Yield frames from the open connection; return why it ended."""
        assert self._container is not None
        stream = self._container.streams.video[0]
        frames = DecodedFrames(self._container, stream, lambda: self.stopped, MAX_CONSECUTIVE_DECODE_ERRORS)
        try:
            for vframe in frames:
                stamp = self._clock.stamp(vframe.time, time.time())
                if self.current_gap is not None:
                    self._end_gap(stamp)
                    self._backoff.reset()  # only once frames flow: a flapping server keeps backing off
                self._last_frame_at = stamp
                frame = Frame(
                    image=to_bgr(vframe, self.config.width),
                    camera=self.camera,
                    index=self._index,
                    timestamp=stamp,
                    pts=stamp - self.opened_at,
                )
                self._index += 1
                self.frames_delivered += 1
                yield frame
                if self.stopped:
                    return "stopped"
        except av.error.ExitError:
            return f"no data for {self.config.read_timeout_s:g} s"
        except (av.error.FFmpegError, OSError) as exc:
            return ffmpeg_reason(exc)
        if frames.interrupted:
            return "stopped"
        return frames.failure or "the stream ended"

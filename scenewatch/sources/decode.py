"""PyAV helpers shared by file and live sources: decoder set-up, BGR conversion, safe URL text."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from fractions import Fraction
from urllib.parse import urlsplit, urlunsplit

import av
import numpy as np
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream


def decoder_threads(requested: int) -> int:
    """``requested`` threads, or for 0 one per core up to 4 (more rarely helps at camera sizes)."""
    return requested if requested > 0 else max(1, min(4, os.cpu_count() or 1))


def setup_decoder(stream: VideoStream, threads: int, keyframes_only: bool = False) -> None:
    """Let FFmpeg pick frame or slice threading, with ``threads`` threads; optionally decode only
    keyframes (a camera watched for health alone needs a picture every few seconds, not every frame)."""
    stream.thread_type = "AUTO"
    stream.codec_context.thread_count = decoder_threads(threads)
    if keyframes_only:
        stream.codec_context.skip_frame = "NONKEY"


def fps_of(stream: VideoStream) -> float | None:
    rate = stream.average_rate or stream.guessed_rate
    return float(rate) if rate else None


def seconds(value: int | None, time_base: Fraction | None) -> float | None:
    """A stream time in ``time_base`` units as seconds (None stays None)."""
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def output_size(width: int, height: int, max_width: int | None) -> tuple[int, int]:
    """Frame size after scaling down to ``max_width`` (aspect kept, even sizes for the scaler).

    >>> output_size(768, 576, 320)
    (320, 240)
    >>> output_size(640, 360, 1280)
    (640, 360)
    """
    if not max_width or width <= max_width:
        return width, height
    out_w = max(2, max_width - max_width % 2)
    out_h = max(2, round(height * out_w / width / 2) * 2)
    return out_w, out_h


def to_bgr(frame: VideoFrame, max_width: int | None) -> np.ndarray:
    """The frame as a BGR uint8 [H, W, 3] array, scaled down to ``max_width`` if wider."""
    width, height = output_size(frame.width, frame.height, max_width)
    if (width, height) == (frame.width, frame.height):
        return frame.to_ndarray(format="bgr24")
    # AREA averages source pixels: no aliasing when shrinking a lot
    return frame.to_ndarray(format="bgr24", width=width, height=height, interpolation="AREA")


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs.

    >>> redact("rtsp://admin:secret@10.0.0.5:554/live")
    'rtsp://admin:***@10.0.0.5:554/live'
    """
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def ffmpeg_reason(exc: BaseException) -> str:
    """FFmpeg's short reason for an error, without the repeated file name PyAV appends."""
    if isinstance(exc, av.error.FFmpegError) and exc.strerror:
        return str(exc.strerror)
    return str(exc) or type(exc).__name__


class DecodedFrames:
    """The video frames of a container's packets, in order, passing over undecodable packets.

    Iteration ends at the end of the stream, when ``stopped()`` turns true (``interrupted`` is then
    set), or after ``max_failures`` packets in a row fail to decode (``failure`` says why).
    Demuxing errors propagate to the caller, who knows what they mean for its source.
    """

    def __init__(
        self,
        container: InputContainer,
        stream: VideoStream,
        stopped: Callable[[], bool],
        max_failures: int,
    ):
        self.container = container
        self.stream = stream
        self.stopped = stopped
        self.max_failures = max_failures
        self.interrupted = False
        self.failure: str | None = None

    def __iter__(self) -> Iterator[VideoFrame]:
        failures = 0
        for packet in self.container.demux(self.stream):
            if self.stopped():
                self.interrupted = True
                return
            try:
                decoded = packet.decode()
                failures = 0
            except av.error.FFmpegError as exc:
                failures += 1
                if failures >= self.max_failures:
                    self.failure = f"{failures} packets in a row could not be decoded: {ffmpeg_reason(exc)}"
                    return
                continue
            yield from decoded

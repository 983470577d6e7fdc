"""Where a camera's video comes from and how it is decoded."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from scenewatch.config.base import Section

# Schemes FFmpeg reads as a network stream; a url without "://" (or file://) is a local file.
LIVE_SCHEMES = frozenset(
    {"rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "rtp", "tcp", "srt", "hls"}
)


class SourceConfig(Section):
    """One camera's video source: a file or a live stream, decoded by FFmpeg through PyAV."""

    url: str = Field(
        description="A video file path (any container and codec FFmpeg reads) or a stream URL: "
        "rtsp://, http(s)://, rtmp://, udp://, srt:// ... Credentials may be in the URL; they are "
        "never shown in messages."
    )
    live: bool | None = Field(
        None,
        description="Treat the source as a live stream (reconnect, arrival timestamps). "
        "Unset: a network URL is live, a file is not.",
    )
    realtime: bool = Field(
        False,
        description="Play a file at its own frame rate, as if it were a camera. Indexing a file "
        "reads as fast as possible (false); running it as a camera sets this.",
    )
    loop: bool = Field(False, description="Replay a file from the start whenever it ends, forever.")
    retry_first_open: bool = Field(
        False,
        description="When a live stream cannot be opened at start, keep retrying instead of failing. "
        "The camera runner sets this; indexing and tests want a prompt error.",
    )
    reconnect_initial_s: float = Field(
        1.0, gt=0, le=600, description="First wait before reconnecting a dropped stream, in seconds."
    )
    reconnect_max_s: float = Field(
        30.0, gt=0, le=3600, description="Longest wait between reconnect tries; the wait doubles up to it."
    )
    open_timeout_s: float = Field(
        10.0, gt=0, le=600, description="Give up opening a stream after this many seconds."
    )
    read_timeout_s: float = Field(
        10.0,
        gt=0,
        le=600,
        description="A stream that sends no data for this many seconds is treated as dropped.",
    )
    rtsp_transport: Literal["tcp", "udp"] = Field(
        "tcp", description="RTSP transport: tcp (reliable, works through NAT) or udp (lower latency)."
    )
    threads: int = Field(
        0, ge=0, le=64, description="Decoder threads; 0 picks a small number from the CPU count."
    )
    keyframes_only: bool = Field(
        False,
        description="Decode only keyframes: for a camera watched for health alone, a small share of "
        "the decoding cost.",
    )
    width: int | None = Field(
        None,
        ge=16,
        le=8192,
        description="Scale frames down to this width (height follows, keeping the aspect ratio). "
        "Frames already narrower are left as they are. Unset: full size.",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("url is empty: give a video file path or a stream URL such as rtsp://host/path")
        if "://" in value:
            scheme = urlsplit(value).scheme.lower()
            if scheme != "file" and scheme not in LIVE_SCHEMES:
                known = ", ".join(sorted(LIVE_SCHEMES | {"file"}))
                raise ValueError(f"url scheme '{scheme}://' is not supported; use one of: {known}")
        return value

    @model_validator(mode="after")
    def _check_backoff(self) -> SourceConfig:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError(
                f"reconnect_max_s ({self.reconnect_max_s}) must be at least "
                f"reconnect_initial_s ({self.reconnect_initial_s})"
            )
        return self

    @property
    def is_live(self) -> bool:
        """Whether this source is a live stream (explicit ``live``, else guessed from the url)."""
        if self.live is not None:
            return self.live
        return "://" in self.url and urlsplit(self.url).scheme.lower() in LIVE_SCHEMES

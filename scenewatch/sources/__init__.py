"""Video sources: files and live streams decoded by FFmpeg (PyAV) into wall-clock-stamped frames.

>>> from scenewatch.config.source import SourceConfig
>>> with open_source("lobby", SourceConfig(url="lobby.mp4")) as source:  # doctest: +SKIP
...     for frame in source:
...         ...
"""

from __future__ import annotations

from scenewatch.config.source import SourceConfig
from scenewatch.sources.base import DecodeStop, Gap, GapCallback, SourceInfo, VideoSource
from scenewatch.sources.decode import redact
from scenewatch.sources.file import FileSource
from scenewatch.sources.stream import LiveSource

__all__ = [
    "DecodeStop",
    "FileSource",
    "Gap",
    "LiveSource",
    "SourceConfig",
    "SourceInfo",
    "VideoSource",
    "open_source",
    "redact",
]


def open_source(
    camera: str,
    config: SourceConfig,
    *,
    start_time: float | None = None,
    on_gap: GapCallback | None = None,
    resume: tuple[int, float] | None = None,
) -> VideoSource:
    """Open ``config.url`` for ``camera``; raises :class:`~scenewatch.errors.SourceError` when it
    cannot be opened (a live one only if ``config.retry_first_open`` is off).

    ``start_time`` (epoch seconds) is the wall-clock time of a file's first frame; default: now.
    It is ignored for live streams, whose frames carry their arrival time. ``on_gap`` is told about
    live outages as they start and end. ``resume`` (a file's last analysed frame: index and
    position in seconds) goes on after it instead of from the start.
    """
    if config.is_live:
        return LiveSource(camera, config, on_gap=on_gap)
    return FileSource(camera, config, start_time=start_time, on_gap=on_gap, resume=resume)

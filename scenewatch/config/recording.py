"""Continuous recording of live cameras into segment files, and clips cut from them for events."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from scenewatch.config.base import Section


class RecordingConfig(Section):
    """Live cameras (rtsp, http and other stream URLs) are recorded by default, so every event of a
    live camera gets a clip. Files, indexed or played as cameras, are never recorded: their event
    clips are cut from the file itself."""

    enabled: bool = Field(
        True,
        description="Record live cameras continuously, remuxed without re-encoding (little CPU), "
        "over a second connection of their own, and cut a clip for each of their events. "
        "Off: no recording, and live events get no clip.",
    )
    segment_s: float = Field(
        10.0,
        ge=1.0,
        le=3600.0,
        description="Start a new segment file at the first keyframe after this many seconds. An event's "
        "clip is cut when the segment holding its post-roll closes, so shorter segments give clips sooner.",
    )
    folder: str = Field("recordings", description="Folder for segment files, relative to the media folder.")
    container: Literal["mp4", "mkv"] = Field(
        "mp4",
        description="Segment file format: mp4 (fragmented, so a crash leaves a playable file) or mkv.",
    )
    retention_days: float = Field(
        7.0,
        gt=0,
        le=3650,
        description="Delete segments older than this many days (event clips are kept with their events).",
    )
    disk_budget_gb: float | None = Field(
        None,
        gt=0,
        description="Keep all segments together under this many GB, deleting the oldest first; "
        "unset: only the age limit applies (set it where the disk is small).",
    )
    pre_s: float = Field(
        5.0, ge=0, le=300, description="Seconds of video before an event starts in its clip."
    )
    post_s: float = Field(
        5.0,
        ge=0,
        le=300,
        description="Seconds of video in an event's clip after the rule fired (live cameras; the clip "
        "is cut then) or after the event ended (files).",
    )
    max_clip_s: float = Field(
        300.0, gt=0, le=3600, description="Longest clip cut for one event (long events are cut short)."
    )

    @model_validator(mode="after")
    def _folder_inside_media(self) -> RecordingConfig:
        folder = self.folder.strip().strip("/")
        if not folder or folder.startswith("..") or "/../" in f"/{folder}/":
            raise ValueError(f"recording folder {self.folder!r} must be a path inside the media folder")
        return self

    @property
    def budget_bytes(self) -> int | None:
        return None if self.disk_budget_gb is None else int(self.disk_budget_gb * 1e9)

"""Continuous recording of live cameras into segment files, and clips cut from them for events."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from scenewatch.config.base import Section


class RecordingConfig(Section):
    enabled: bool = Field(False, description="Record live cameras continuously (no re-encoding).")
    segment_s: float = Field(
        60.0,
        ge=1.0,
        le=3600.0,
        description="Start a new segment file at the first keyframe after this many seconds.",
    )
    folder: str = Field("recordings", description="Folder for segment files, relative to the media folder.")
    container: Literal["mp4", "mkv"] = Field(
        "mp4",
        description="Segment file format: mp4 (fragmented, so a crash leaves a playable file) or mkv.",
    )
    retention_days: float = Field(
        7.0, gt=0, le=3650, description="Delete segments older than this many days."
    )
    disk_budget_gb: float | None = Field(
        None,
        gt=0,
        description="Keep all segments together under this many GB, deleting the oldest first; "
        "unset: only the age limit applies.",
    )
    pre_s: float = Field(5.0, ge=0, le=300, description="Seconds of video before an event in its clip.")
    post_s: float = Field(5.0, ge=0, le=300, description="Seconds of video after an event in its clip.")
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

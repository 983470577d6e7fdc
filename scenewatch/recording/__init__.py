"""Continuous recording of live cameras into segment files, retention, and clips cut from them."""

from scenewatch.recording.clips import ClipError, CutClip, PendingClips, cut_clip, cut_file_clip, cut_recorded
from scenewatch.recording.index import Segment, segments_between
from scenewatch.recording.retention import apply_retention
from scenewatch.recording.segments import SegmentRecorder

__all__ = [
    "ClipError",
    "CutClip",
    "PendingClips",
    "Segment",
    "SegmentRecorder",
    "apply_retention",
    "cut_clip",
    "cut_file_clip",
    "cut_recorded",
    "segments_between",
]

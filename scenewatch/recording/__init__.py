"""Continuous recording of live cameras into segment files, retention, and clips cut from them."""

from scenewatch.recording.clips import ClipError, PendingClips, cut_clip, cut_file_clip
from scenewatch.recording.index import Segment, segments_between
from scenewatch.recording.retention import apply_retention
from scenewatch.recording.segments import SegmentRecorder

__all__ = [
    "ClipError",
    "PendingClips",
    "Segment",
    "SegmentRecorder",
    "apply_retention",
    "cut_clip",
    "cut_file_clip",
    "segments_between",
]

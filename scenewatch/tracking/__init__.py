"""Multi-object tracking: detections in, tracks with stable ids out, summaries when they end."""

from scenewatch.tracking.finishing import finish_track, interpolate_gaps
from scenewatch.tracking.summary import SummaryBook, TrackSummary
from scenewatch.tracking.tracker import FinishedTrack, Tracker

__all__ = ["FinishedTrack", "SummaryBook", "TrackSummary", "Tracker", "finish_track", "interpolate_gaps"]

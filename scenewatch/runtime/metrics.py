"""Per-camera figures: input, decoded and detection rates, lag, drops and CPU, as a dict or as
Prometheus text (``prometheus_client`` writes the exposition format).

Counters are plain attributes written by the camera's own threads (one writer each, so no lock);
rates come from a sliding window of event times. CPU is ``time.thread_time`` of the camera's decode
and analysis threads plus the CPU time of its detections (the wall time they held a detector worker
where the worker's CPU time does not show their cost: multi-threaded sessions). The wall time is
kept apart: on a busy machine it includes waiting for a core, and counting it as CPU made the
detector look twice as expensive as it is.

>>> registry = MetricsRegistry()
>>> cam = registry.camera("gate")
>>> cam.decoded(pts=0.0, timestamp=100.0, now=100.0)
>>> 'scenewatch_camera_frames_decoded_total{camera="gate"} 1.0' in registry.render_prometheus()
True
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

WINDOW_S = 10.0  # rates and lag percentiles over this many recent seconds


class _Window:
    """Event times (and optional values) of the last ``span`` seconds."""

    def __init__(self, span: float = WINDOW_S):
        self.span = span
        self.times: deque[float] = deque()
        self.values: deque[float] = deque()

    def add(self, now: float, value: float = 0.0) -> None:
        self.times.append(now)
        self.values.append(value)
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self.times and now - self.times[0] > self.span:
            self.times.popleft()
            self.values.popleft()

    def rate(self, now: float, since: float) -> float:
        """Events per second over the window (or since ``since`` when that is shorter)."""
        self._trim(now)
        span = min(self.span, now - since)
        return len(self.times) / span if span > 0.5 else 0.0

    def quantile(self, q: float) -> float:
        return float(np.quantile(np.fromiter(self.values, float), q)) if self.values else 0.0


@dataclass
class CameraMetrics:
    """Figures of one camera. The pipeline calls ``decoded`` for each frame it receives, ``analysed``
    for each frame tracked, ``cpu`` from each of the camera's threads now and then."""

    camera: str
    declared_fps: float | None = None
    started: float = field(default_factory=time.monotonic)
    frames_decoded: int = 0
    frames_detected: int = 0  # the detector ran (whole frame or crop)
    frames_reused: int = 0  # tracked on the last detections: nothing moved
    frames_dropped: int = 0  # waited for the detector and were replaced by newer frames
    detections_suppressed: int = 0  # dropped by operators' "not a <class>" suppressions
    present_seconds: float = 0.0  # frame time during which objects were present
    present_detections: int = 0  # detections made while objects were present
    lag_s: float = 0.0  # now - frame time of the last analysed (tracked) frame
    decode_lag_s: float = 0.0  # now - frame time of the last decoded frame
    drift_s: float = 0.0  # how far playback fell behind the stream's own clock (files played live)
    detector_seconds: float = 0.0  # wall time its detections held a detector worker
    detector_cpu_seconds: float = 0.0  # CPU time of its detections
    detector_inferences: float = 0.0  # its share of the detector's runs (1/k of one shared by k cameras)
    detections_shared: int = 0  # frames detected on a canvas shared with other cameras' regions
    tiles_detected: int = 0  # region tiles detected (mosaics)
    _thread_cpu: dict[str, float] = field(default_factory=dict)
    _decoded: _Window = field(default_factory=_Window)
    _detected: _Window = field(default_factory=_Window)
    _lags: _Window = field(default_factory=_Window)
    _pts: _Window = field(default_factory=_Window)
    _drops: _Window = field(default_factory=_Window)  # when frames_dropped last grew
    _drops_seen: int = 0
    _origin: tuple[float, float] | None = None  # (monotonic, pts) of the first frame
    _last_present: tuple[float, bool] | None = None

    def decoded(self, pts: float, timestamp: float, now: float | None = None) -> None:
        """A frame reached the camera: count it, note decode lag and playback drift."""
        now = time.monotonic() if now is None else now
        self.frames_decoded += 1
        self._decoded.add(now)
        self._pts.add(now, pts)
        if self._origin is None or pts < self._origin[1]:
            self._origin = (now, pts)  # first frame, or time went back (reconnect, loop restart)
        self.drift_s = max(0.0, (now - self._origin[0]) - (pts - self._origin[1]))
        self.decode_lag_s = max(0.0, time.time() - timestamp)

    def analysed(self, pts: float, timestamp: float, detected: bool, objects: int) -> None:
        """A frame was tracked; ``detected`` when the detector ran for it, else cached boxes."""
        now = time.monotonic()
        self.cpu("analyse")
        self.capped(now)  # notes new drops as they happen
        self.lag_s = max(0.0, time.time() - timestamp)
        self._lags.add(now, self.lag_s)
        if detected:
            self.frames_detected += 1
            self._detected.add(now)
        else:
            self.frames_reused += 1
        if self._last_present is not None and self._last_present[1] and pts > self._last_present[0]:
            self.present_seconds += pts - self._last_present[0]
            self.present_detections += int(detected)
        self._last_present = (pts, objects > 0)

    def capped(self, now: float | None = None) -> bool:
        """Whether the camera asks for more detections than its share of the detector pool: the
        pool serves cameras in turn and drops a camera's oldest waiting frame when a newer one
        comes, so in the last ``WINDOW_S`` seconds at least a quarter as many of its frames were
        dropped as detected (a scene of rain or swaying trees is held to its share; the others
        keep theirs). A drop now and then, a frame that waited for a busy core, is not capping."""
        now = time.monotonic() if now is None else now
        if self.frames_dropped > self._drops_seen:  # the pipeline writes the pool's drop count
            self._drops.add(now, self.frames_dropped - self._drops_seen)
            self._drops_seen = self.frames_dropped
        self._drops._trim(now)
        self._detected._trim(now)
        dropped = sum(self._drops.values)
        return dropped >= max(2.0, 0.25 * len(self._detected.times))

    def cpu(self, role: str) -> None:
        """Record the calling thread's CPU time under ``role`` (decode, analyse). Detection runs in
        the pool's threads; the pool reports its cost (``detector_cpu_seconds``)."""
        self._thread_cpu[role] = time.thread_time()

    @property
    def cpu_seconds(self) -> float:
        return sum(self._thread_cpu.values()) + self.detector_cpu_seconds

    def snapshot(self, now: float | None = None) -> dict[str, float | int | str | None]:
        now = time.monotonic() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        pts = list(self._pts.values)
        stream_span = pts[-1] - pts[0] if len(pts) > 1 else 0.0
        return {
            "camera": self.camera,
            "declared_fps": self.declared_fps,
            "input_fps": round((len(pts) - 1) / stream_span, 2) if stream_span > 0 else 0.0,
            "decoded_fps": round(self._decoded.rate(now, self.started), 2),
            "detect_fps": round(self._detected.rate(now, self.started), 2),
            "detect_fps_present": round(self.present_detections / self.present_seconds, 2)
            if self.present_seconds > 0
            else None,
            "lag_s": round(self.lag_s, 3),
            "lag_p95_s": round(self._lags.quantile(0.95), 3),
            "decode_lag_s": round(self.decode_lag_s, 3),
            "drift_s": round(self.drift_s, 3),
            "frames_decoded": self.frames_decoded,
            "frames_detected": self.frames_detected,
            "frames_reused": self.frames_reused,
            "frames_dropped": self.frames_dropped,
            "detector_inferences": round(self.detector_inferences, 3),
            "detections_shared": self.detections_shared,
            "tiles_detected": self.tiles_detected,
            "detections_suppressed": self.detections_suppressed,
            "capped": int(self.capped(now)),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "detector_cpu_seconds": round(self.detector_cpu_seconds, 3),
            "detector_wall_seconds": round(self.detector_seconds, 3),
            "cpu_share": round(self.cpu_seconds / elapsed, 3),
        }

    def line(self) -> str:
        """One human line for the progress printer."""
        s = self.snapshot()
        present = s["detect_fps_present"]
        return (
            f"camera {self.camera}: in {s['input_fps']:.1f} fps, decoded {s['decoded_fps']:.1f}, "
            f"detect {s['detect_fps']:.1f} (objects present: {'-' if present is None else present}), "
            f"lag {s['lag_s']:.2f} s (p95 {s['lag_p95_s']:.2f}), dropped {s['frames_dropped']}"
            f"{' (capped to its share)' if s['capped'] else ''}, "
            f"CPU {100 * float(s['cpu_share'] or 0.0):.0f} %"
        )


# name, type, help, snapshot key
_FAMILIES = [
    (
        "scenewatch_camera_input_fps",
        "gauge",
        "Frames per second the camera sends (stream time).",
        "input_fps",
    ),
    ("scenewatch_camera_decoded_fps", "gauge", "Frames per second decoded (wall time).", "decoded_fps"),
    ("scenewatch_camera_detect_fps", "gauge", "Detector runs per second.", "detect_fps"),
    ("scenewatch_camera_lag_seconds", "gauge", "Age of the last analysed frame.", "lag_s"),
    ("scenewatch_camera_lag_p95_seconds", "gauge", "95th percentile of the lag, last 10 s.", "lag_p95_s"),
    ("scenewatch_camera_frames_decoded_total", "counter", "Frames decoded.", "frames_decoded"),
    ("scenewatch_camera_frames_detected_total", "counter", "Frames the detector ran on.", "frames_detected"),
    (
        "scenewatch_camera_frames_dropped_total",
        "counter",
        "Frames dropped waiting for the detector.",
        "frames_dropped",
    ),
    (
        "scenewatch_camera_detector_inferences_total",
        "counter",
        "Detector runs for the camera; a run shared by k cameras counts 1/k.",
        "detector_inferences",
    ),
    (
        "scenewatch_camera_detections_shared_total",
        "counter",
        "Frames detected on one canvas shared with other cameras' regions.",
        "detections_shared",
    ),
    ("scenewatch_camera_tiles_detected_total", "counter", "Region tiles detected.", "tiles_detected"),
    (
        "scenewatch_camera_detections_suppressed_total",
        "counter",
        "Detections dropped by operator suppressions (marked 'not a <class>').",
        "detections_suppressed",
    ),
    (
        "scenewatch_camera_capped",
        "gauge",
        "1 when the camera asked for more detections than its share of the detector pool (last 10 s).",
        "capped",
    ),
    ("scenewatch_camera_cpu_seconds_total", "counter", "CPU (and detector) seconds used.", "cpu_seconds"),
    ("scenewatch_camera_cpu_share", "gauge", "CPU seconds per second (1 = one core).", "cpu_share"),
]


# the background describer of finished tracks (``runtime.describe``): per camera and node-wide
_DESCRIBE_FAMILIES = [
    (
        "scenewatch_describe_submitted_total",
        "counter",
        "Finished tracks handed to the describer.",
        "describe_submitted",
    ),
    ("scenewatch_describe_done_total", "counter", "Finished tracks described and stored.", "describe_done"),
    (
        "scenewatch_describe_degraded_total",
        "counter",
        "Tracks described cheaply (best crop, no pose) because the describer queue was long.",
        "describe_degraded",
    ),
    (
        "scenewatch_describe_bare_total",
        "counter",
        "Tracks described without any crop (no colours).",
        "describe_bare",
    ),
    (
        "scenewatch_describe_failed_total",
        "counter",
        "Descriptions that failed (track kept undescribed).",
        "describe_failed",
    ),
    (
        "scenewatch_describe_pending",
        "gauge",
        "Finished tracks waiting for their description.",
        "describe_pending",
    ),
    (
        "scenewatch_describe_wait_seconds",
        "gauge",
        "Mean time from hand-over to stored description.",
        "describe_wait_s",
    ),
    ("scenewatch_describe_cpu_seconds_total", "counter", "Describer CPU seconds.", "describe_cpu_seconds"),
]


class DescriberStats(Protocol):
    def stats(self, camera: str | None = None) -> dict[str, float | int]: ...


class MetricsRegistry:
    """All cameras of a node; ``describer`` (set by the pipeline) adds the describer's figures."""

    def __init__(self) -> None:
        self._cameras: dict[str, CameraMetrics] = {}
        self._lock = threading.Lock()
        self.describer: DescriberStats | None = None
        self._forwarded: tuple[dict[str, dict], dict] = ({}, {})  # see show_forwarded
        # figures are read from the cameras at scrape time, not pushed into prometheus_client
        self.prometheus = CollectorRegistry(auto_describe=False)
        self.prometheus.register(_Collector(self))

    def camera(self, name: str, declared_fps: float | None = None) -> CameraMetrics:
        with self._lock:
            metrics = self._cameras.get(name)
            if metrics is None:
                metrics = self._cameras[name] = CameraMetrics(name, declared_fps)
            elif declared_fps is not None:
                metrics.declared_fps = declared_fps
            return metrics

    def cameras(self) -> list[CameraMetrics]:
        with self._lock:
            return list(self._cameras.values())

    def snapshot(self) -> dict[str, dict]:
        """Every camera's figures, by name (with its describer counters when there is a describer)."""
        own = {m.camera: self._camera_snapshot(m) for m in self.cameras()}
        return {**self._forwarded[0], **own}

    def node_snapshot(self) -> dict[str, float | int]:
        """Node-wide figures: the describer's queue and counters (empty without a describer)."""
        return self.describer.stats() if self.describer is not None else dict(self._forwarded[1])

    def show_forwarded(self, cameras: dict[str, dict], node: dict) -> None:
        """Show figures measured in another process (the server's pipeline process sends its
        ``snapshot()`` and ``node_snapshot()``) until the next ones; ``({}, {})`` forgets them."""
        self._forwarded = (cameras, node)

    def _camera_snapshot(self, metrics: CameraMetrics) -> dict:
        snap = metrics.snapshot()
        if self.describer is not None:
            snap.update(self.describer.stats(metrics.camera))
        return snap

    def render_prometheus(self) -> str:
        """The figures in Prometheus' text exposition format (version 0.0.4)."""
        return generate_latest(self.prometheus).decode()


class _Collector:
    """Turns a registry's snapshots into metric families at each scrape."""

    def __init__(self, metrics: MetricsRegistry):
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        metrics = self.metrics
        snaps = list(metrics.snapshot().values())
        node = metrics.node_snapshot()
        families = _FAMILIES + (_DESCRIBE_FAMILIES if node else [])
        for name, kind, help_text, key in families:
            family_type = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            family = family_type(name, help_text, labels=["camera"])
            for snap in snaps:
                family.add_metric([str(snap["camera"])], _number(snap[key]))
            yield family
        if node:
            queued = node["describe_queued"]
            yield GaugeMetricFamily(
                "scenewatch_describe_queued",
                "Finished tracks waiting for the node's describer.",
                value=_number(queued),
            )


def _number(value: float | None) -> float:
    """A sample value; a figure not known yet (None) is NaN, as Prometheus expects."""
    return float("nan") if value is None else float(value)

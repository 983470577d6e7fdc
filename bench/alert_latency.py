"""Alert latency in a live run: from the frame that completes a condition to the webhook's arrival.

Run: .venv/bin/python bench/alert_latency.py [--seconds 40] [--source rtsp|file] [--no-detector]

A real stream (GStreamer's RTSP server serving a clip in real time, or the clip played as a
realtime file camera) is decoded by the product's source; frames go through the detector and
tracker (nanodet at ``--detect-fps``, as a live camera's ``detect_fps``), and at known frames (one a second) a synthetic
condition completes and an alert is submitted to the dispatcher. A local HTTP receiver on
127.0.0.1 stamps each POST's arrival. Latency = arrival - the frame's wall-clock timestamp, so it
holds decode, detection, tracking, the outbox write, the worker wake-up and the POST.
On localhost arrival is the departure plus well under a millisecond. Never fails: prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench.machine import describe_machine  # noqa: E402
from scenewatch.config import AppConfig  # noqa: E402
from scenewatch.config.delivery import DeliveryConfig, WebhookConfig  # noqa: E402
from scenewatch.config.source import SourceConfig  # noqa: E402
from scenewatch.notify import Alert, Dispatcher  # noqa: E402
from scenewatch.sources import open_source  # noqa: E402
from scenewatch.store.data import DataStore  # noqa: E402

SHARED = Path(os.environ.get("SCENEWATCH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
CLIP = SHARED / "data" / "video" / "pedestrians_walkway_elevated.mp4"


class Receiver:
    """Stamps the arrival of each POST (wall clock) by alert id."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        arrivals = self.arrivals

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                arrivals.setdefault(json.loads(body)["id"], time.time())
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def build_analysis(enabled: bool):
    """The detector and tracker a live camera runs, or None (no model, or --no-detector)."""
    if not enabled:
        return None
    from scenewatch.models import ModelStore
    from scenewatch.pipeline import build_detector
    from scenewatch.tracking.tracker import Tracker

    settings = AppConfig.model_validate({"detector": {"type": "nanodet", "threads": 1}})
    try:
        detector = build_detector(settings, ModelStore(SHARED / "models"))
    except Exception as exc:  # the bench still measures delivery without a model
        print(f"(no detector: {exc})")
        return None
    return detector, Tracker(settings.tracker)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="length of the live run")
    parser.add_argument("--source", choices=["rtsp", "file"], default="rtsp")
    parser.add_argument("--no-detector", action="store_true", help="skip detection and tracking")
    parser.add_argument(
        "--detect-fps",
        type=float,
        default=5.0,
        help="detector rate, as a camera's detect_fps (0: every frame)",
    )
    parser.add_argument("--every", type=float, default=1.0, help="seconds between conditions")
    args = parser.parse_args()

    server = None
    if args.source == "rtsp":
        from support.streams import RtspServer, gst_rtsp_missing

        reason = gst_rtsp_missing()
        if reason:
            print(f"(RTSP server unavailable: {reason}; using a realtime file)")
            args.source = "file"
        else:
            server = RtspServer(CLIP)
            server.start()
    source_config = (
        SourceConfig(url=server.url, read_timeout_s=5)
        if server
        else SourceConfig(url=str(CLIP), realtime=True, loop=True)
    )
    receiver = Receiver()
    analysis = build_analysis(not args.no_detector)
    data = Path(tempfile.mkdtemp(prefix="alert-latency-"))
    store = DataStore.open(data)
    dispatcher = Dispatcher(
        store, DeliveryConfig(webhooks=[WebhookConfig(url=receiver.url, secret="bench-secret")])
    )
    dispatcher.start()
    frames_at: dict[str, float] = {}
    submitted_at: dict[str, float] = {}
    submit_ms: list[float] = []
    frames = 0
    next_condition = None
    next_detect = 0.0
    source = open_source("bench", source_config)
    ended = time.monotonic() + args.seconds
    try:
        for frame in source:
            frames += 1
            if analysis is not None and (not args.detect_fps or frame.timestamp >= next_detect):
                next_detect = frame.timestamp + 1.0 / args.detect_fps if args.detect_fps else 0.0
                detector, tracker = analysis
                tracker.update(detector.detect_one(frame.image), frame.timestamp, frame.index)
            if next_condition is None:
                next_condition = frame.timestamp + 2.0  # let the stream settle
            if frame.timestamp >= next_condition:  # the condition completes at this frame
                next_condition += args.every
                key = f"bench-{frame.index}"
                frames_at[key] = frame.timestamp
                started = time.perf_counter()
                submitted_at[key] = time.time()
                dispatcher.submit(
                    Alert("behaviour", "bench", "zone", frame.timestamp, key=key, at=frame.timestamp)
                )
                submit_ms.append((time.perf_counter() - started) * 1000)
            if time.monotonic() > ended:
                break
        deadline = time.monotonic() + 10
        while len(receiver.arrivals) < len(frames_at) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        source.close()
        dispatcher.stop()
        receiver.server.shutdown()
        if server is not None:
            server.kill()

    latencies = [(receiver.arrivals[k] - t) * 1000 for k, t in frames_at.items() if k in receiver.arrivals]
    rate = f"at {args.detect_fps:g} frames/s" if args.detect_fps else "on every frame"
    analysis_text = f"nanodet + tracker {rate}" if analysis else "none"
    print(f"machine: {describe_machine()}, load average {os.getloadavg()[0]:.1f}")
    print(
        f"source: {args.source} ({CLIP.name}), {frames} frames in {args.seconds:g} s, "
        f"analysis: {analysis_text}"
    )
    print(
        f"alerts: {len(frames_at)} submitted, {len(latencies)} arrived, {len(frames_at) - len(latencies)} lost"
    )
    if latencies:
        print(
            f"frame -> webhook arrival: p50 {statistics.median(latencies):.1f} ms, "
            f"p95 {percentile(latencies, 95):.1f} ms, max {max(latencies):.1f} ms (target p95 <= 1000 ms)"
        )
        lag = [(submitted_at[k] - t) * 1000 for k, t in frames_at.items()]
        delivery = [
            (receiver.arrivals[k] - submitted_at[k]) * 1000 for k in frames_at if k in receiver.arrivals
        ]
        print(
            f"  of which frame -> submit (decode, detect, track): p50 {statistics.median(lag):.1f} ms, "
            f"p95 {percentile(lag, 95):.1f} ms; submit -> arrival (delivery): "
            f"p50 {statistics.median(delivery):.1f} ms, p95 {percentile(delivery, 95):.1f} ms"
        )
        print(f"submit() call: p50 {statistics.median(submit_ms):.2f} ms, max {max(submit_ms):.2f} ms")


if __name__ == "__main__":
    main()

"""CPU ms a frame of each per-camera stage outside the detector, each timed alone.

The stages a camera runs on every decoded frame besides detection: decoding to BGR, the health
checks, the white balance learned for colours, and the still-person pose check on held tracks.
Each is timed with ``time.process_time`` (all threads: FFmpeg's scaler runs its own) over the same
vtest.avi frames at their own timestamps (CPU time is steadier than wall time on a loaded
machine). The still check needs tracks: CenterNet detections are computed first (not timed) on
every ``--detect-every``-th frame and fed to the tracker as the pipeline does.

    .venv/bin/python bench/rest_stages.py --frames 795 [--width 384] [--skip still]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's code
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import describe_machine  # noqa: E402

from scenewatch.config.tracker import TrackerConfig  # noqa: E402
from scenewatch.flow.still import still_check_for  # noqa: E402
from scenewatch.health.monitor import CameraHealthMonitor  # noqa: E402
from scenewatch.models import ModelStore  # noqa: E402
from scenewatch.sources.decode import to_bgr  # noqa: E402
from scenewatch.tracking.tracker import Tracker  # noqa: E402
from scenewatch.types import Detections, Frame  # noqa: E402
from scenewatch.vision.constancy import WhiteBalance  # noqa: E402
from scenewatch.vision.detector_types import DETECTORS  # noqa: E402

VTEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "vtest.avi"


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def decoded(video: Path, frames: int) -> list:
    """The first ``frames`` PyAV frames (decoded once, not timed)."""
    out = []
    with av.open(str(video)) as container:
        for vframe in container.decode(video=0):
            out.append(vframe)
            if len(out) >= frames:
                break
    return out


def timed(call, items) -> float:
    """Thread-CPU ms per item of ``call(item)`` over ``items``."""
    start = time.process_time()
    for item in items:
        call(item)
    return 1000 * (time.process_time() - start) / max(len(items), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=VTEST)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--width", type=int, default=None, help="decode width (default: the footage's)")
    ap.add_argument("--detect-every", type=int, default=2, help="detect every n-th frame for the tracks")
    ap.add_argument("--pose-per-s", type=int, default=0, help="the still check's pose runs a second")
    ap.add_argument("--skip", choices=["decode", "health", "balance", "still"], action="append", default=[])
    args = ap.parse_args()

    print(f"== rest stages {time.strftime('%a %b %d %H:%M:%S UTC %Y', time.gmtime())}")
    print(f"machine: {describe_machine()}  [{load()}]")
    vframes = decoded(args.video, args.frames)
    fps = 10.0
    with av.open(str(args.video)) as container:
        rate = container.streams.video[0].average_rate
        fps = float(rate) if rate else fps
    images = [to_bgr(f, args.width) for f in vframes]
    frames = [Frame(img, "cam", i, 1000.0 + i / fps, i / fps) for i, img in enumerate(images)]
    h, w = images[0].shape[:2]
    print(f"footage: {args.video.name}, {len(frames)} frames {w}x{h} at {fps:g} fps; CPU ms a frame")

    if "decode" not in args.skip:
        ms = timed(lambda f: to_bgr(f, args.width), vframes)
        print(f"  decode to BGR (to_bgr)         {ms:6.2f} ms  [{load()}]", flush=True)
    if "health" not in args.skip:
        monitor = CameraHealthMonitor("cam")
        ms = timed(monitor.observe, frames)
        print(
            f"  health checks (observe)        {ms:6.2f} ms  ({monitor.counters['analysed']} analysed)  [{load()}]",
            flush=True,
        )
    if "balance" not in args.skip:
        balance = WhiteBalance()
        ms = timed(balance.observe, images)
        print(
            f"  white balance (observe)        {ms:6.2f} ms  ({balance.samples} sampled)  [{load()}]",
            flush=True,
        )
    if "still" not in args.skip:
        models = ModelStore()
        cls = DETECTORS["centernet"]
        detector = cls(models.path(cls.model_file), threads=1)
        dets = [
            detector.detect_one(f.image) if f.index % args.detect_every == 0 else Detections.empty()
            for f in frames
        ]
        tracker = Tracker(TrackerConfig())
        check = still_check_for(TrackerConfig(), models)
        assert check is not None
        if args.pose_per_s:
            check.max_looks_per_s = args.pose_per_s
        cpu = 0.0
        held_at: dict[int, float] = {}  # when each person track was first held (not yet counted)
        counted_at: dict[int, float] = {}  # when each track was first reported
        for frame, found in zip(frames, dets, strict=True):
            if frame.index % args.detect_every:
                continue
            tracked = tracker.update(found, frame.timestamp, frame.index, frame.image)
            for tid in tracker.held()[0].tolist():
                held_at.setdefault(tid, frame.timestamp)
            start = time.process_time()
            vouched = check.check(tracker, frame.image, frame.timestamp)
            cpu += time.process_time() - start
            for tid in [*tracked.track_ids.tolist(), *vouched.track_ids.tolist()]:
                counted_at.setdefault(tid, frame.timestamp)
        seconds = len(frames) / fps
        delays = np.array([counted_at[t] - held_at[t] for t in held_at if t in counted_at])
        waits = f"median {np.median(delays):.1f} s, max {delays.max():.1f} s" if len(delays) else "-"
        print(
            f"  still-person check             {1000 * cpu / len(frames):6.2f} ms  "
            f"({check.looks} pose runs over {seconds:.0f} s, {check.looks / seconds:.1f} a second, "
            f"at most {getattr(check, 'max_looks_per_s', 'any')}; of {len(held_at)} tracks held "
            f"{len(delays)} counted, held for {waits})  [{load()}]",
            flush=True,
        )


if __name__ == "__main__":
    main()

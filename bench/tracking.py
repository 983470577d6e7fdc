"""Tracking benchmark: decode -> detect (centernet, person) -> track on TUD-Stadtmitte and TUD-Campus.

Run: ``.venv/bin/python bench/tracking.py [--stride N] [--min-height PX]``. Prints MOTA, IDF1,
precision, recall, ID switches and frames/s per sequence, the metric-code check against motmetrics'
reference scores, and the machine. Benchmarks print; they never fail a test run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import av
import numpy as np

from scenewatch.config.tracker import TrackerConfig
from scenewatch.eval.mot import REFERENCE_SCORES, MotRow, load_mot, reference_result, score_rows
from scenewatch.tracking import FinishedTrack, Tracker, finish_track
from scenewatch.vision.centernet import CenterNetDetector
from scenewatch.vision.detector import Detector

SHARED = Path(__file__).resolve().parents[2] / "shared"
MOT = SHARED / "data" / "mot"
MODEL = SHARED / "models" / "centernet.onnx"
SEQUENCES = ["TUD-Stadtmitte", "TUD-Campus"]
PERSON = 0
# The guide's reference on TUD-Stadtmitte: off-the-shelf ByteTrack on the same centernet (512 px).
BYTETRACK_REFERENCE = (0.715, 0.768)


def rows_of(track: FinishedTrack) -> list[MotRow]:
    """MOTChallenge rows (1-based frames) of one finished track."""
    wh = track.xyxy[:, 2:] - track.xyxy[:, :2]
    return [
        (int(f) + 1, track.track_id, float(b[0]), float(b[1]), float(s[0]), float(s[1]), float(sc))
        for f, b, s, sc in zip(track.frame_indices, track.xyxy, wh, track.scores, strict=True)
    ]


def track_video(
    path: Path,
    detector: Detector,
    config: TrackerConfig | None = None,
    stride: int = 1,
    min_height: float = 0.0,
    seconds: dict[str, float] | None = None,
) -> list[MotRow]:
    """Rows (frame, id, left, top, width, height, score) for a whole file, written as tracks finish.

    Detects every ``stride``-th decoded frame; boxes shorter than ``min_height`` px are dropped.
    ``seconds``, when given, accumulates the time spent per stage (decode, detect, track).
    """
    seconds = seconds if seconds is not None else {}
    config = config or TrackerConfig()
    tracker = Tracker(config)
    rows: list[MotRow] = []

    def write(finished: list[FinishedTrack]) -> None:
        for track in finished:
            done = finish_track(track, config.max_gap, config.min_track_hits)
            if done is not None:
                rows.extend(rows_of(done))

    with av.open(str(path)) as container:
        t0 = time.perf_counter()
        for index, frame in enumerate(container.decode(video=0)):
            if index % stride:
                continue
            image = frame.to_ndarray(format="bgr24")
            t1 = time.perf_counter()
            dets = detector.detect_one(image)
            heights = dets.xyxy[:, 3] - dets.xyxy[:, 1]
            dets = dets[(dets.class_ids == PERSON) & (heights >= min_height)]
            t2 = time.perf_counter()
            tracker.update(dets, float(frame.time), index)
            write(tracker.finished)
            t3 = time.perf_counter()
            for stage, dt in (("decode", t1 - t0), ("detect", t2 - t1), ("track", t3 - t2)):
                seconds[stage] = seconds.get(stage, 0.0) + dt
            t0 = time.perf_counter()
    write(tracker.flush())
    return rows


def machine() -> str:
    model = platform.processor() or "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores usable, {platform.system()} {platform.release()}, python {platform.python_version()}"


def check_metric_code() -> None:
    print("metric check (motmetrics 1.4.0 test.txt vs gt.txt, IoU 0.5):")
    for name, (mota, idf1) in REFERENCE_SCORES.items():
        ref = reference_result(name)
        if ref is None or not (MOT / name / "gt.txt").is_file():
            print(f"  {name}: skipped (reference or gt missing)")
            continue
        got = score_rows(load_mot(MOT / name / "gt.txt", ground_truth=True), load_mot(ref))
        ok = abs(got.mota - mota) < 5e-4 and abs(got.idf1 - idf1) < 5e-4
        print(
            f"  {name}: MOTA {100 * got.mota:.1f} (ref {100 * mota:.1f})  IDF1 {100 * got.idf1:.1f}"
            f" (ref {100 * idf1:.1f})  {'OK' if ok else 'MISMATCH'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stride", type=int, default=1, help="detect every Nth frame")
    parser.add_argument("--min-height", type=float, default=0.0, help="drop person boxes shorter than this")
    parser.add_argument("--runs", type=int, default=1, help="timing runs per sequence (median reported)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    check_metric_code()
    if not MODEL.is_file():
        print(f"model {MODEL} missing: tracking part skipped")
        return
    detector = CenterNetDetector(MODEL, threads=2)
    print(f"tracking: centernet 512 px, person, stride {args.stride}, min height {args.min_height:g} px")
    for name in SEQUENCES:
        video = MOT / name / f"{name}.mp4"
        if not video.is_file():
            print(f"  {name}: video missing, skipped")
            continue
        gt = load_mot(MOT / name / "gt.txt", ground_truth=True)
        gt = gt[(gt[:, 0].astype(int) - 1) % args.stride == 0]  # only frames the detector saw
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            n_frames, fps = stream.frames, float(stream.average_rate or 25)
        timings, stages = [], []
        for _ in range(max(args.runs, 1)):
            stage: dict[str, float] = {}
            start = time.perf_counter()
            rows = track_video(video, detector, stride=args.stride, min_height=args.min_height, seconds=stage)
            timings.append(time.perf_counter() - start)
            stages.append(stage)
        elapsed = statistics.median(timings)
        stage = stages[timings.index(elapsed)] if len(timings) % 2 else stages[0]
        scores = score_rows(gt, np.array(rows, dtype=np.float64).reshape(-1, 7))
        processed = len(range(0, n_frames, args.stride))
        print(
            f"  {name:15s} {scores.line()}  | {processed / elapsed:5.1f} detected frames/s,"
            f" {n_frames / elapsed / fps:4.2f}x real time at {fps:g} fps"
        )
        per = {k: 1000 * v / processed for k, v in stage.items()}
        print(
            f"  {'':15s} ms per detected frame: decode {per['decode']:.1f}, detect {per['detect']:.1f},"
            f" track {per['track']:.2f}"
        )
    mota, idf1 = BYTETRACK_REFERENCE
    print(
        f"  reference (guide): off-the-shelf ByteTrack, TUD-Stadtmitte MOTA {100 * mota:.1f} IDF1 {100 * idf1:.1f}"
    )


if __name__ == "__main__":
    main()

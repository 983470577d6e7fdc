"""Tracking benchmark: `scenewatch index` then `export mot` on TUD-Stadtmitte, TUD-Campus and the walkway.

Run: ``.venv/bin/python bench/tracking.py [--detect-fps N] [--runs N] [--sequences NAME ...]``. The whole product runs
(decode, detect, filter, track, finish, store in SQLite) and the rows scored are exactly what
``scenewatch export mot --class person`` writes. Prints MOTA, IDF1, precision, recall, ID switches
and frames/s per sequence, the metric-code check against motmetrics' reference scores, and the
machine. Every ground-truth frame is scored: with ``--detect-fps`` a frame the system wrote no row
for counts as all misses (the line says how many ground-truth frames had output). Each line also
gives the distinct track ids per ground-truth person (matched at IoU >= 0.5; 1.0 is one track per
walk) and the false-positive boxes. Benchmarks print; they never fail a test run.

Live mode: each sequence is also played as a camera at its own frame rate with the capacity path on
(``capacity.enabled``: motion gate, adaptive detection rates, the detector pool), as ``scenewatch
run`` watches it, and scored the same way on the line below its full-rate run (frames the camera
did not analyse count as misses, as with ``--detect-fps``; the figures move with the machine's load).

Split: TUD-Campus is dev (the evidence and static-background settings were chosen on it, with the
crowd and vtest clips); TUD-Stadtmitte is test for those settings (never tuned on), though the
older association defaults were tuned on both. The walkway (``pedestrians_walkway_elevated.mp4``,
312 frames, 13 s, ground truth made by hand in ``bench/labels/walkway``) is test for everything:
no setting was ever chosen on it. ``--no-static`` switches the static-background check
for people off (``tracker.static_classes``, on by default) to compare.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe_machine  # noqa: E402

from scenewatch.config import AppConfig, CameraConfig  # noqa: E402
from scenewatch.config.capacity import CapacityConfig  # noqa: E402
from scenewatch.eval.mot import (  # noqa: E402
    REFERENCE_SCORES,
    MotScores,
    load_mot,
    reference_result,
    score_rows,
)
from scenewatch.pipeline import build_detector, index_file, run_cameras  # noqa: E402
from scenewatch.store import repo  # noqa: E402
from scenewatch.store.data import DataStore  # noqa: E402

MOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "mot"
SEQUENCES = {"TUD-Stadtmitte": "test", "TUD-Campus": "dev", "walkway": "test"}
# Ground truth made here by hand (bench/labels/make_mot.py): (video, gt.txt); the others are MOT's.
OWN_SEQUENCES = {
    "walkway": (
        MOT.parent / "video" / "pedestrians_walkway_elevated.mp4",
        Path(__file__).parent / "labels" / "walkway" / "gt.txt",
    )
}


def sequence_files(name: str) -> tuple[Path, Path]:
    """(video, gt.txt) of a sequence."""
    return OWN_SEQUENCES.get(name, (MOT / name / f"{name}.mp4", MOT / name / "gt.txt"))


# The guide's reference on TUD-Stadtmitte: off-the-shelf ByteTrack on the same centernet (512 px).
BYTETRACK_REFERENCE = (0.715, 0.768)


def index_and_export(
    video: Path,
    settings: AppConfig,
    detector,
    detect_fps: float | None,
    capacity: CapacityConfig | None = None,
):
    """(MOT rows as exported, RunResult) for one file indexed into a throw-away data folder."""
    with tempfile.TemporaryDirectory() as tmp:
        store = DataStore.open(Path(tmp) / "data")
        result = index_file(
            store, settings, video, "bench", detect_fps=detect_fps, detector=detector, capacity=capacity
        )
        rows = np.array(list(repo.mot_rows(store.engine, "bench", "person")), dtype=np.float64).reshape(-1, 7)
        store.engine.dispose()
    return rows, result


def live_and_export(video: Path, settings: AppConfig) -> np.ndarray:
    """MOT rows of one file played as a live camera at its own rate, with the capacity path on."""
    camera = CameraConfig.model_validate({"name": "bench", "source": {"url": str(video), "realtime": True}})
    live = settings.model_copy(update={"cameras": [camera], "capacity": CapacityConfig(enabled=True)})
    with tempfile.TemporaryDirectory() as tmp:
        store = DataStore.open(Path(tmp) / "data")
        run_cameras(store, live, threading.Event(), duration=600)  # the file ends long before
        rows = np.array(list(repo.mot_rows(store.engine, "bench", "person")), dtype=np.float64).reshape(-1, 7)
        store.engine.dispose()
    return rows


def score_sequence(name: str, rows: np.ndarray) -> tuple[MotScores, str]:
    """(scores on every ground-truth frame, "output on K of N ground-truth frames, ...")."""
    gt = load_mot(sequence_files(name)[1], ground_truth=True)
    frames = np.unique(gt[:, 0])
    covered = int(np.isin(frames, rows[:, 0]).sum())
    ids, worst, false_boxes = ids_per_person(gt, rows)
    return score_rows(gt, rows), (
        f"output on {covered} of {len(frames)} ground-truth frames; track ids per person {ids:.2f}"
        f" (max {worst}); false-positive boxes {false_boxes}"
    )


def ids_per_person(gt: np.ndarray, rows: np.ndarray) -> tuple[float, int, int]:
    """(mean and max distinct track ids per ground-truth person, false-positive boxes), from the
    matches the MOTChallenge protocol makes (motmetrics' accumulator, IoU >= 0.5)."""
    import motmetrics as mm  # dev dependency: only needed when measuring

    from scenewatch.eval.mot import iou_distance

    acc = mm.MOTAccumulator(auto_id=False)
    for frame in np.union1d(gt[:, 0], rows[:, 0]).tolist():
        g, h = gt[gt[:, 0] == frame], rows[rows[:, 0] == frame]
        acc.update(
            g[:, 1].astype(int), h[:, 1].astype(int), iou_distance(g[:, 2:6], h[:, 2:6]), frameid=int(frame)
        )
    events = acc.mot_events
    matched = events[events["Type"].isin(["MATCH", "SWITCH"])]
    counts = matched.groupby("OId")["HId"].nunique()
    return float(counts.mean()), int(counts.max()), int((events["Type"] == "FP").sum())


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
    parser.add_argument("--detect-fps", type=float, help="sample the detector, as `index --detect-fps`")
    parser.add_argument("--runs", type=int, default=1, help="timing runs per sequence (median reported)")
    parser.add_argument("--detector", default="centernet", choices=["centernet", "nanodet"])
    parser.add_argument(
        "--no-static", action="store_true", help="report people whose box never moved (the check off)"
    )
    parser.add_argument("--appearance", action="store_true", help="the appearance cue on (off by default)")
    parser.add_argument("--sequences", nargs="+", choices=list(SEQUENCES), help="only these sequences")
    args = parser.parse_args()
    print(f"machine: {describe_machine()}")
    check_metric_code()
    tracker = {"static_classes": []} if args.no_static else {}
    if args.appearance:  # colours where motion is ambiguous, and joins by look
        tracker["appearance"] = True
    settings = AppConfig.model_validate({"detector": {"type": args.detector}, "tracker": tracker})
    detector = build_detector(settings)
    print(
        f"tracking: scenewatch index, {args.detector}, {'static check off' if args.no_static else 'default config'},"
        f" detect fps {args.detect_fps or 'all'}"
    )
    for name, split in SEQUENCES.items():
        if args.sequences and name not in args.sequences:
            continue
        video, truth = sequence_files(name)
        if not video.is_file() or not truth.is_file():
            print(f"  {name}: video or gt.txt missing, skipped")
            continue
        runs = [
            index_and_export(video, settings, detector, args.detect_fps) for _ in range(max(args.runs, 1))
        ]
        rows, _ = runs[0]
        fps = statistics.median(r.fps for _, r in runs)
        realtime = statistics.median(r.video_seconds / r.seconds for _, r in runs)
        scores, coverage = score_sequence(name, rows)
        print(
            f"  {name:15s} ({split:4s}) {scores.line()}  ({coverage})"
            f"  | {fps:5.1f} frames/s end to end, {realtime:4.2f}x real time"
        )
        scores, coverage = score_sequence(name, live_and_export(video, settings))
        print(f"  {'  live mode':15s} ({split:4s}) {scores.line()}  ({coverage})")
    mota, idf1 = BYTETRACK_REFERENCE
    print(
        f"  reference (guide): off-the-shelf ByteTrack, TUD-Stadtmitte MOTA {100 * mota:.1f} IDF1 {100 * idf1:.1f}"
    )


if __name__ == "__main__":
    main()

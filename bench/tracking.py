"""Tracking benchmark: `scenewatch index` then `export mot` on TUD-Stadtmitte, TUD-Campus and the walkway.

Run: ``.venv/bin/python bench/tracking.py [--detect-fps N] [--runs N] [--sequences NAME ...] [--paced RATE ...]
[--live-runs N] [--tracker KEY=VALUE ...]``. The whole product runs
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
did not analyse count as misses, as with ``--detect-fps``; the figures move with the machine's load:
``--live-runs N`` plays it N times and prints the median and range).

Paced mode (``--paced 3 5``, the default; ``--paced`` alone: none) makes the live figures repeatable:
the same capacity path (motion gate, adaptive sampler, region mosaics, boxes carried between
detections) with the detector answering at once and the sampler held at RATE detections a second,
the file decoded in order instead of in real time. A live camera whose share of the detector gives
it RATE a second detects the same frames, except that its answers arrive a little later (frames
in between are then neither carried nor tracked) and a loaded machine drops some; every run of it
detects the same frames, so two versions of the code can be compared on it.

Split: TUD-Campus is dev (the evidence and static-background settings were chosen on it, with the
crowd and vtest clips); TUD-Stadtmitte is test for those settings (never tuned on), though the
older association defaults were tuned on both. The walkway (``pedestrians_walkway_elevated.mp4``,
312 frames, 13 s, ground truth made by hand in ``bench/labels/walkway``) is test for everything:
no setting was ever chosen on it. The concourse (``crowd_concourse.mp4``, its first 100 frames, 4 s,
52 people from above, many small or cut by the top edge; ``bench/labels/concourse``) is dev for the
detection of small and edge people. ``--no-static`` switches the static-background check
for people off (``tracker.static_classes``, on by default) to compare. ``--vtest`` adds vtest.avi,
the search bench's dev footage, with no tracking ground truth: tracks holding two or more of its
labelled people (wrong joins) and track ids per labelled walk (``tracking_people``), full rate
and paced.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe_machine  # noqa: E402
from tracking_people import VTEST, mixed_summary  # noqa: E402

from scenewatch.config import AppConfig, CameraConfig  # noqa: E402
from scenewatch.config.capacity import CapacityConfig  # noqa: E402
from scenewatch.eval.mot import (  # noqa: E402
    REFERENCE_SCORES,
    MotScores,
    drop_ignored,
    load_ignored,
    load_mot,
    reference_result,
    score_rows,
)
from scenewatch.pipeline import build_detector, index_file, run_cameras  # noqa: E402
from scenewatch.store import repo  # noqa: E402
from scenewatch.store.data import DataStore  # noqa: E402

MOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "mot"
SEQUENCES = {"TUD-Stadtmitte": "test", "TUD-Campus": "dev", "walkway": "test", "concourse": "dev"}
# Ground truth made here by hand (bench/labels/make_mot.py): (video, gt.txt); the others are MOT's.
OWN_SEQUENCES = {
    "walkway": (
        MOT.parent / "video" / "pedestrians_walkway_elevated.mp4",
        Path(__file__).parent / "labels" / "walkway" / "gt.txt",
    ),
    # The first 100 frames only (seqLength in its seqinfo.ini): rows after them are not scored.
    "concourse": (
        MOT.parent / "video" / "crowd_concourse.mp4",
        Path(__file__).parent / "labels" / "concourse" / "gt.txt",
    ),
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


def paced_and_export(video: Path, settings: AppConfig, detector, rate: float) -> np.ndarray:
    """MOT rows of one file through the live camera's capacity path (motion gate, adaptive sampler,
    region mosaics, carried boxes) with the detector answering each frame at once and the sampler
    held at ``rate`` detections a second: the frames a live run detects when its share of the
    detector gives it ``rate`` a second. Decoded in order, not in real time, so every run of it is
    the same."""
    capacity = CapacityConfig(enabled=True, present_detect_fps=rate, max_detect_fps=rate)
    capacity = capacity.model_copy(update={"min_detect_fps": min(capacity.min_detect_fps, rate)})
    return index_and_export(video, settings, detector, None, capacity)[0]


def labelled_frames(name: str) -> float:
    """How many frames from the start the ground truth covers (its seqinfo.ini's seqLength), or
    infinity where it says nothing."""
    info = sequence_files(name)[1].with_name("seqinfo.ini")
    lines = info.read_text().splitlines() if info.is_file() else []
    lengths = [float(line.split("=", 1)[1]) for line in lines if line.startswith("seqLength=")]
    return lengths[0] if lengths else float("inf")


def score_sequence(name: str, rows: np.ndarray) -> tuple[MotScores, str]:
    """(scores on every ground-truth frame, "output on K of N ground-truth frames, ...")."""
    gt_path = sequence_files(name)[1]
    gt = load_mot(gt_path, ground_truth=True)
    # boxes on ignored objects (too small, cut away) count neither way, as in MOTChallenge
    rows = drop_ignored(gt, rows[rows[:, 0] <= labelled_frames(name)], load_ignored(gt_path))
    frames = np.unique(gt[:, 0])
    covered = int(np.isin(frames, rows[:, 0]).sum())
    ids, worst, false_boxes = ids_per_person(gt, rows)
    return score_rows(gt, rows), (
        f"output on {covered} of {len(frames)} ground-truth frames; track ids per person {ids:.2f}"
        f" (max {worst}); false-positive boxes {false_boxes}"
    )


def spread(name: str, runs: list[np.ndarray]) -> str:
    """Median and range over repeated runs of one sequence: ids per person, MOTA, IDF1, switches."""
    gt = load_mot(sequence_files(name)[1], ground_truth=True)
    ignored = load_ignored(sequence_files(name)[1])
    runs = [drop_ignored(gt, rows[rows[:, 0] <= labelled_frames(name)], ignored) for rows in runs]
    scores = [score_rows(gt, rows) for rows in runs]
    figures = {
        "track ids per person": [ids_per_person(gt, rows)[0] for rows in runs],
        "MOTA": [100 * s.mota for s in scores],
        "IDF1": [100 * s.idf1 for s in scores],
        "ID switches": [float(s.id_switches) for s in scores],
    }
    parts = [
        f"{label} {statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})"
        if label.startswith("track")
        else f"{label} {statistics.median(v):.1f} ({min(v):.1f}-{max(v):.1f})"
        for label, v in figures.items()
    ]
    return f"{len(runs)} runs, median (range): " + "; ".join(parts)


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
    parser.add_argument(
        "--tiles", action="store_true", help="wide frames detected in square crops (detector.tiles)"
    )
    parser.add_argument(
        "--sequences", nargs="*", choices=list(SEQUENCES), help="only these sequences (none: vtest alone)"
    )
    parser.add_argument(
        "--vtest",
        action="store_true",
        help="also vtest.avi (search labels, no tracking ground truth): mixed tracks, ids per walk",
    )
    parser.add_argument(
        "--tracker",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="tracker settings to change (JSON values), e.g. size_memory_s=0 for the constant size rate",
    )
    parser.add_argument(
        "--paced",
        type=float,
        nargs="*",
        default=[3.0, 5.0],
        metavar="RATE",
        help="paced live mode at these detections/s: the capacity path fed in order, repeatable (default 3 5)",
    )
    parser.add_argument(
        "--live-runs",
        type=int,
        default=1,
        help="real-time live-mode runs per sequence (their median and range when more than one; 0: none)",
    )
    args = parser.parse_args()
    print(f"machine: {describe_machine()}")
    check_metric_code()
    tracker = {"static_classes": []} if args.no_static else {}
    if args.appearance:  # colours where motion is ambiguous, and joins by look
        tracker["appearance"] = True
    for item in args.tracker:
        key, _, value = item.partition("=")
        tracker[key] = json.loads(value)
    settings = AppConfig.model_validate(
        {"detector": {"type": args.detector, "tiles": args.tiles}, "tracker": tracker}
    )
    detector = build_detector(settings)
    print(
        f"tracking: scenewatch index, {args.detector}, {'static check off' if args.no_static else 'default config'},"
        f" tracker {tracker or 'defaults'},"
        f" detect fps {args.detect_fps or 'all'}{', wide frames in square crops' if args.tiles else ''}"
    )
    for name, split in SEQUENCES.items():
        if args.sequences is not None and name not in args.sequences:
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
        for rate in args.paced:
            scores, coverage = score_sequence(name, paced_and_export(video, settings, detector, rate))
            print(f"  {f'  paced {rate:g}/s':15s} ({split:4s}) {scores.line()}  ({coverage})")
        live = [live_and_export(video, settings) for _ in range(args.live_runs)]
        if len(live) == 1:
            scores, coverage = score_sequence(name, live[0])
            print(f"  {'  live mode':15s} ({split:4s}) {scores.line()}  ({coverage})")
        elif live:
            print(f"  {'  live mode':15s} ({split:4s}) {spread(name, live)}")
    if args.vtest:  # wrong joins, seen through the search bench's labelled people
        rows = index_and_export(VTEST, settings, detector, args.detect_fps)[0]
        print(f"  {'vtest':15s} (dev ) {mixed_summary(rows)}")
        for rate in args.paced:
            rows = paced_and_export(VTEST, settings, detector, rate)
            print(f"  {f'  paced {rate:g}/s':15s} (dev ) {mixed_summary(rows)}")
    mota, idf1 = BYTETRACK_REFERENCE
    print(
        f"  reference (guide): off-the-shelf ByteTrack, TUD-Stadtmitte MOTA {100 * mota:.1f} IDF1 {100 * idf1:.1f}"
    )


if __name__ == "__main__":
    main()

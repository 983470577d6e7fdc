"""End-to-end `scenewatch index` speed against the bare detector loop on the same frames.

    .venv/bin/python bench/throughput.py [VIDEO ...] [--repeats N]

For each video: (1) the bare loop: frames decoded into memory first, then only
``detector.detect_one`` timed; (2) the full pipeline (decode, detect, filter, track, store in
SQLite, thumbnails) through ``index_file``. Prints frames/s of both, their ratio, and the speed
against real time. Medians over the repeats, both in the same process run. ``--tiles`` indexes with
``detector.tiles`` on (wide frames detected in square crops, one inference per crop) while the
bare loop stays the plain detector, so the ratio shows what the crops cost.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe_machine  # noqa: E402

from scenewatch.config import AppConfig  # noqa: E402
from scenewatch.pipeline import build_detector, index_file  # noqa: E402
from scenewatch.samples import sample_video  # noqa: E402
from scenewatch.store.data import DataStore  # noqa: E402


def decode_all(path: Path) -> tuple[list, float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
        fps = float(stream.average_rate or 0) or 25.0
    return frames, fps


def bare_detector_fps(detector, frames: list) -> float:
    started = time.perf_counter()
    for image in frames:
        detector.detect_one(image)
    return len(frames) / (time.perf_counter() - started)


def pipeline_run(settings: AppConfig, video: Path) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = DataStore.open(Path(tmp) / "data")
        result = index_file(store, settings, video, "bench")
        store.engine.dispose()
    return result.fps, result.video_seconds / result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("videos", nargs="*", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--detector", default="centernet", choices=["centernet", "nanodet"])
    parser.add_argument("--tiles", action="store_true", help="index with detector.tiles on")
    args = parser.parse_args()
    videos = args.videos or [sample_video()]
    settings = AppConfig.model_validate({"detector": {"type": args.detector}})
    detector = build_detector(settings)
    if args.tiles:
        settings = AppConfig.model_validate({"detector": {"type": args.detector, "tiles": True}})
    print(f"machine: {describe_machine()}")
    print(
        f"detector: {args.detector}, {settings.detector.threads} threads; medians of {args.repeats} runs;"
        f" index {'with' if args.tiles else 'without'} tiles"
    )
    print(f"{'video':28s} {'frames':>6} {'bare fps':>9} {'index fps':>10} {'ratio':>6} {'x real time':>12}")
    for video in videos:
        frames, video_fps = decode_all(video)
        detector.detect_one(frames[0])  # warm-up
        bare, full, realtime = [], [], []
        for _ in range(args.repeats):
            bare.append(bare_detector_fps(detector, frames))
            fps, speed = pipeline_run(settings, video)
            full.append(fps)
            realtime.append(speed)
        b, f = statistics.median(bare), statistics.median(full)
        print(
            f"{video.name[:28]:28s} {len(frames):>6} {b:>9.1f} {f:>10.1f} {f / b:>6.2f} "
            f"{statistics.median(realtime):>11.1f}x"
        )


if __name__ == "__main__":
    main()

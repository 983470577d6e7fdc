"""Trying a rule on the past: how long ``scenewatch rules test`` takes over 7 days of a busy camera.

The store is synthetic but made of real movement: the ground-truth paths of the MOTChallenge
pedestrian sequences TUD-Stadtmitte and TUD-Campus (640x480, people walking across a square),
sampled at 10 analysed frames a second as a live camera stores them (a box a frame, and the
``path`` column's bottom-centre samples every 0.5 s or quarter box height), repeated with random
time offsets on the camera's frame grid (the people on view share frames, as live) until the
camera holds ``--tracks`` tracks (default 50,000) spread over 7 days.

Each rule is replayed over the 7 days ``--repeat`` times (median wall and CPU seconds reported) with what it found:
tracks of its classes in the window, tracks whose boxes were read (near its zone or line, those
the stitcher could join their identities with, and the tracks on view meanwhile: the ones replayed), of those the ones judged a whole track at a time
without the engine (``alone``: zone stays, ``rules/replay_solo.py``; line crossings and wrong
way, ``rules/replay_lines.py``; crowds, ``rules/replay_crowd.py``), frames fed to the engine
and events raised. The rules: a restricted corner (few people go there), a
zone over the walkway (most people cross it, the worst case for an intrusion rule), loitering in
the walkway, a line across the square (most people cross it), going the wrong way over it, and a
crowd of three in the walkway (it holds four at most at once).

Run: .venv/bin/python bench/rule_replay.py [--tracks 50000] [--repeat 3] [--no-boxes] [--unfiltered]
[--rule NAME] [--store DIR] [--box-table | --engine-only] (--store keeps the built store there and reuses it, packing
its sightings first if it was built before they were packed; opening a store built before migration
0014 packs the paths beside them; --no-boxes stores the paths alone, as
a store whose boxes were pruned; --box-table also replays each rule reading the boxes table, the
way before packed sightings, interleaved with the packed runs, and prints the ratio; --engine-only
does the same sending every chosen sighting through the engine, the way before rules were judged
a whole identity at a time; --unfiltered
also feeds every stored sighting once, the reference the prefiltered replay must equal, and prints
the ratio of the times)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe_machine  # noqa: E402

from scenewatch.config.camera import CameraConfig  # noqa: E402
from scenewatch.rules.replay import ReplayResult, replay  # noqa: E402
from scenewatch.store import repo  # noqa: E402
from scenewatch.store.data import DataStore  # noqa: E402
from scenewatch.store.schema import boxes, track_sightings, tracks  # noqa: E402
from scenewatch.store.sightings import pack_finished  # noqa: E402

MOT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mot"
SEQUENCES = ("TUD-Stadtmitte", "TUD-Campus")
MOT_FPS, CAMERA_FPS = 25.0, 10.0
DAYS = 7
CAMERA = {
    "name": "square",
    "source": {"url": "rtsp://127.0.0.1/square"},
    "zones": [
        {"name": "corner", "polygon": [[540, 380], [639, 380], [639, 479], [540, 479]]},
        {"name": "walkway", "polygon": [[200, 250], [440, 250], [440, 479], [200, 479]]},
    ],
    "lines": [{"name": "middle", "a": [320, 0], "b": [320, 479]}],
    "rules": [
        {"type": "intrusion", "zone": "corner"},
        {"type": "intrusion", "zone": "walkway"},
        {"type": "loitering", "zone": "walkway", "time_s": 5.0},
        {"type": "line_crossing", "line": "middle"},
        {"type": "wrong_way", "line": "middle", "allowed": "in", "classes": ["person"]},
        {"type": "crowd", "zone": "walkway", "count": 3, "time_s": 1.0},  # at most 4 at once here
    ],
}


def real_tracks() -> list[tuple[np.ndarray, np.ndarray]]:
    """Each ground-truth person as (times from 0, [K, 4] boxes) at the camera's analysis rate."""
    out = []
    step = round(MOT_FPS / CAMERA_FPS * 2) / 2  # every 2.5th frame: 10 analysed frames a second
    for name in SEQUENCES:
        rows = np.loadtxt(MOT / name / "gt.txt", delimiter=",", ndmin=2)
        rows = rows[rows[:, 6] != 0]
        for person in np.unique(rows[:, 1]):
            mine = rows[rows[:, 1] == person]
            mine = mine[np.argsort(mine[:, 0])]
            keep = np.unique(np.round(np.arange(0, len(mine), step)).astype(int).clip(0, len(mine) - 1))
            mine = mine[keep]
            times = (mine[:, 0] - mine[0, 0]) / MOT_FPS
            xyxy = np.stack(
                [mine[:, 2], mine[:, 3], mine[:, 2] + mine[:, 4], mine[:, 3] + mine[:, 5]], axis=1
            )
            if len(times) >= 5:
                out.append((times, xyxy))
    return out


def path_of(times: np.ndarray, xyxy: np.ndarray) -> list[list[float]]:
    """Bottom-centre samples as the track summary keeps them: every 0.5 s or quarter box height."""
    points = [[float(times[0]), float((xyxy[0, 0] + xyxy[0, 2]) / 2), float(xyxy[0, 3])]]
    for t, box in zip(times[1:], xyxy[1:], strict=True):
        x, y, h = (box[0] + box[2]) / 2, box[3], box[3] - box[1]
        last = points[-1]
        if t - last[0] >= 0.5 or np.hypot(x - last[1], y - last[2]) >= 0.25 * max(h, 1.0):
            points.append([float(t), float(x), float(y)])
    end = [float(times[-1]), float((xyxy[-1, 0] + xyxy[-1, 2]) / 2), float(xyxy[-1, 3])]
    if points[-1] != end:
        points.append(end)
    return points


def build(root: Path, count: int, with_boxes: bool, start: float) -> tuple[DataStore, int]:
    store = DataStore.open(root)
    engine = store.engine
    camera_id = repo.ensure_camera(engine, CAMERA["name"], CAMERA["source"]["url"], 640, 480, CAMERA_FPS)
    run = repo.start_run(engine, camera_id, CAMERA["source"]["url"], "live")
    source = real_tracks()
    rng = np.random.default_rng(7)
    offsets = np.sort(rng.uniform(0, DAYS * 86400 - 10, count))
    picks = rng.integers(0, len(source), count)
    box_rows = 0
    for first in range(0, count, 2000):
        track_rows, box_batch = [], []
        for n in range(first, min(first + 2000, count)):
            times, xyxy = source[picks[n]]
            # on the camera's frame grid, as live: the tracks on view share their frames' times
            frames, once = np.unique(np.round((start + offsets[n] + times) * CAMERA_FPS), return_index=True)
            frames = frames.astype(np.int64)
            t, xyxy = frames / CAMERA_FPS, xyxy[once]
            track_rows.append(
                {
                    "camera_id": camera_id,
                    "run_id": run,
                    "tracker_id": n + 1,
                    "class_name": "person",
                    "first_ts": float(t[0]),
                    "last_ts": float(t[-1]),
                    "first_frame": int(frames[0]),
                    "last_frame": int(frames[-1]),
                    "detections": len(t),
                    "score": 0.8,
                    "path": path_of(t, xyxy),
                    "finished": True,
                }
            )
            if with_boxes:
                box_batch.append((frames, t, xyxy))
        with engine.begin() as conn:
            ids = conn.execute(insert(tracks).returning(tracks.c.id), track_rows).scalars().all()
            if with_boxes:
                rows = [
                    {
                        "track_id": db_id,
                        "frame": int(f),
                        "ts": float(t),
                        "x1": float(b[0]),
                        "y1": float(b[1]),
                        "x2": float(b[2]),
                        "y2": float(b[3]),
                        "score": 0.8,
                        "interpolated": False,
                    }
                    for db_id, (frames, times, xyxy) in zip(ids, box_batch, strict=True)
                    for f, t, b in zip(frames, times, xyxy, strict=True)
                ]
                box_rows += len(rows)
                conn.execute(insert(boxes), rows)
                pack_finished(conn, ids)  # as the writer does when a track finishes
    return store, box_rows


def _store(args: argparse.Namespace, tmp: Path, start: float) -> tuple[DataStore, int, float]:
    """A fresh store in ``tmp``, or the one kept in ``--store`` (built there the first time; its
    first run's start is kept beside it, so the window stays the same)."""
    if args.store is None:
        store, box_rows = build(tmp / "data", args.tracks, not args.no_boxes, start)
        return store, box_rows, start
    stamp = args.store / "bench-start.txt"
    if stamp.exists():
        box_rows, start = stamp.read_text().split()
        store = DataStore.open(args.store / "data")
        _pack(store)
        return store, int(box_rows), float(start)
    store, box_rows = build(args.store / "data", args.tracks, not args.no_boxes, start)
    stamp.write_text(f"{box_rows} {start!r}")
    return store, box_rows, start


def _pack(store: DataStore) -> None:
    """Pack the sightings of a kept store built before they were packed (as the writer packs a
    track's when it finishes)."""
    with store.engine.begin() as conn:
        if conn.scalar(select(func.count()).select_from(track_sightings)):
            return
        clock = time.perf_counter()
        ids = conn.scalars(select(tracks.c.id).where(tracks.c.finished)).all()
        packed = pack_finished(conn, list(ids))
    print(f"packed the sightings of {packed} tracks kept unpacked in {time.perf_counter() - clock:.0f} s")


def _run(
    store: DataStore, camera: CameraConfig, rule: str, start: float, now: float, **options: bool
) -> tuple[ReplayResult, float]:
    """A replay and the CPU seconds it took: on a shared machine they move less with the load
    than its wall time (``result.seconds``)."""
    clock = time.process_time()
    result = replay(store.engine, camera, rule, start, until=now, **options)
    return result, time.process_time() - clock


def events_of(result: ReplayResult) -> list[tuple]:
    return [(e.start, e.end, e.track_ids) for e in result.events]


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-boxes", action="store_true", help="store the paths alone")
    parser.add_argument(
        "--unfiltered",
        action="store_true",
        help="also feed every sighting once (the reference), for the ratio",
    )
    parser.add_argument("--rule", action="append", help="only this rule (repeatable)")
    parser.add_argument("--store", type=Path, help="keep the built store in this folder and reuse it")
    parser.add_argument(
        "--engine-only",
        action="store_true",
        help="also replay sending every chosen sighting through the engine (no whole-identity judging)",
    )
    parser.add_argument(
        "--box-table",
        action="store_true",
        help="also replay reading the boxes table instead of the packed sightings (the old way)",
    )
    args = parser.parse_args()
    if not MOT.is_dir():
        print(f"needs the MOTChallenge sequences in {MOT}", file=sys.stderr)
        return 1
    print(describe_machine())
    camera = CameraConfig.model_validate(CAMERA)
    now = time.time()
    start = now - DAYS * 86400
    with tempfile.TemporaryDirectory() as tmp:
        clock = time.perf_counter()
        store, box_rows, start = _store(args, Path(tmp), start)
        now = start + DAYS * 86400
        print(
            f"store: {args.tracks} tracks over {DAYS} days, {box_rows} boxes "
            f"(ready in {time.perf_counter() - clock:.0f} s); {load()}"
        )
        print(
            f"{'rule':24s} {'tracks':>7s} {'replayed':>8s} {'alone':>7s} {'frames':>8s} {'events':>7s} "
            f"{'median s':>9s} {'cpu s':>6s}  runs"
        )
        for rule in camera.rules:
            if args.rule and rule.name not in args.rule:
                continue
            runs, cpu, result, old, old_cpu = [], [], None, [], []
            # the other way's runs interleaved with these: the same load
            other = {"packed": False} if args.box_table else {"alone": False} if args.engine_only else None
            for _ in range(args.repeat):
                result, used = _run(store, camera, rule.name, start, now)
                runs.append(result.seconds)
                cpu.append(used)
                if other is not None:
                    before, used = _run(store, camera, rule.name, start, now, **other)
                    old.append(before)
                    old_cpu.append(used)
            assert result is not None
            print(
                f"{rule.name:24s} {result.tracks:7d} {result.replayed:8d} {result.alone:7d} {result.frames:8d} "
                f"{len(result.events):7d} {statistics.median(runs):9.2f} {statistics.median(cpu):6.2f}  "
                f"{', '.join(f'{s:.2f}' for s in runs)}  ({load()})",
                flush=True,
            )
            if old:
                seconds = statistics.median(r.seconds for r in old)
                same = (
                    "same events" if all(events_of(r) == events_of(result) for r in old) else "EVENTS DIFFER"
                )
                print(
                    f"{'  boxes table' if args.box_table else '  engine only':24s} {'':7s} {'':8s} {'':7s} {'':8s} {len(old[-1].events):7d} "
                    f"{seconds:9.2f} {statistics.median(old_cpu):6.2f}  {', '.join(f'{r.seconds:.2f}' for r in old)}"
                    f"  {same}, {seconds / statistics.median(runs):.1f}x the time, "
                    f"{statistics.median(old_cpu) / statistics.median(cpu):.1f}x the CPU time",
                    flush=True,
                )
            if args.unfiltered:
                full = replay(store.engine, camera, rule.name, start, until=now, prefilter=False)
                same = "same events" if events_of(full) == events_of(result) else "EVENTS DIFFER"
                print(
                    f"{'  every sighting':24s} {full.tracks:7d} {full.tracks:8d} {0:7d} {full.frames:8d} "
                    f"{len(full.events):7d} {full.seconds:9.2f}  {same}, "
                    f"{full.seconds / statistics.median(runs):.1f}x the time ({load()})",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

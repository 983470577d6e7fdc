"""Search at scale: a month of synthetic tracks from several cameras in a temporary SQLite.

Fills the store with N tracks (default 1,000,000) whose attributes follow realistic
distributions (mostly people in dark and neutral colours, some bags, cars mostly white, black
and grey; traffic by time of day), indexes them with the real index code (``index_tracks``, the
function the writer calls), then times searches through the public API:

- single clause: one object, one attribute, with a time filter ("person in a red top yesterday");
- multi clause: one object with several attributes, or two objects, with a time filter.

Prints insert and index build time, database size per million tracks, and p50/p95 latency.

    .venv/bin/python bench/search_scale.py [--tracks 1000000] [--queries 60] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe_machine  # noqa: E402

from scenewatch.search.engine import search  # noqa: E402
from scenewatch.search.index import index_tracks  # noqa: E402
from scenewatch.search.term_stats import TermShares  # noqa: E402
from scenewatch.store.data import DataStore  # noqa: E402
from scenewatch.store.schema import cameras, runs, tracks  # noqa: E402

NOW = datetime(2024, 6, 1, 0, 0, tzinfo=UTC)
SHARES = TermShares()  # the term statistics this process keeps, as the API server does
DAYS = 30
CAMERAS = ["gate", "lobby", "car park", "street", "loading bay", "garden", "hall", "side door"]
ZONES = ["entrance", "bench", "kerb"]
CLASSES = {"person": 70, "car": 18, "truck": 4, "bus": 2, "bicycle": 3, "motorcycle": 2, "dog": 1}
UPPER = {
    "black": 25,
    "white": 14,
    "grey": 15,
    "blue": 14,
    "red": 7,
    "green": 5,
    "brown": 6,
    "yellow": 3,
    "pink": 3,
    "orange": 3,
    "purple": 2,
}
LOWER = {
    "black": 35,
    "blue": 30,
    "grey": 15,
    "brown": 8,
    "white": 5,
    "green": 3,
    "red": 2,
    "pink": 1,
    "yellow": 1,
}
HEAD = {"black": 45, "brown": 25, "grey": 10, "white": 6, "yellow": 6, "red": 3, "blue": 3, "pink": 2}
BODY = {
    "white": 26,
    "black": 20,
    "grey": 22,
    "blue": 10,
    "red": 10,
    "green": 3,
    "brown": 3,
    "yellow": 2,
    "orange": 2,
}
CARRIED = {"backpack": 0.15, "handbag": 0.10, "suitcase": 0.03, "umbrella": 0.02}
VTYPES = {"car": {"car": 0.85, "van": 0.15}, "truck": {"truck": 0.6, "van": 0.3, "pickup": 0.1}}
HOURLY = [1, 1, 1, 1, 1, 2, 4, 8, 10, 8, 7, 7, 8, 7, 7, 8, 9, 10, 9, 7, 5, 4, 2, 1]


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def colours(rng: random.Random, prior: dict[str, float]) -> dict[str, float]:
    """A part's colour shares: one dominant colour, sometimes a second, shares summing under 1."""
    main = rng.uniform(0.35, 0.95)
    out = {pick(rng, prior): round(main, 3)}
    if rng.random() < 0.6:
        second = pick(rng, prior)
        if second not in out:
            out[second] = round(rng.uniform(0.05, 1 - main), 3)
    return out


def attributes(rng: random.Random, cls: str, zones: list[str]) -> dict:
    moving = rng.choice([rng.uniform(0.6, 1.0)] * 4 + [rng.uniform(0.0, 0.4)])
    running = rng.uniform(0.6, 1.0) if cls == "person" and rng.random() < 0.05 else 0.0
    speed = (2.0 if running else 0.7) if cls == "person" else rng.uniform(0.5, 10)
    attrs: dict = {
        "class": cls,
        "class_conf": round(rng.uniform(0.4, 0.98), 3),
        "motion": {
            "speed_px_s": speed * 80,
            "speed_h_s": round(speed * moving * rng.uniform(0.7, 1.3), 3),
            "heading": rng.choice(["left", "right", "towards", "away", None]) if moving > 0.5 else None,
            "moving_fraction": round(moving, 3),
            "stopped_s": 0.0,
            "dwell_s": round(rng.uniform(2, 60), 1),
            "running": round(running, 3),
        },
        "zones": [z for z in zones if rng.random() < 0.15],
        "crops": rng.randint(1, 5),
    }
    if cls == "person":
        attrs["colours"] = {
            "head": colours(rng, HEAD),
            "upper": colours(rng, UPPER),
            "lower": colours(rng, LOWER),
        }
        attrs["carried"] = {
            k: round(rng.uniform(0.3, 0.95), 3) for k, p in CARRIED.items() if rng.random() < p
        }
        lying = rng.random() < 0.01
        sitting = rng.random() < 0.08
        p = [0.05, 0.05, 0.9] if lying else [0.1, 0.85, 0.05] if sitting else [0.9, 0.07, 0.03]
        attrs["posture"] = dict(zip(["standing", "sitting", "lying"], p, strict=True))
    elif cls in ("car", "truck", "bus", "motorcycle", "bicycle"):
        attrs["colours"] = {"body": colours(rng, BODY)}
        attrs["vehicle_type"] = VTYPES.get(cls, {cls: 1.0})
    return attrs


def synthetic_times(rng: random.Random, start0: float) -> tuple[float, float]:
    """(first, last) seen: a day of the month, busier hours more likely, a short visit."""
    day = rng.randrange(DAYS)
    hour = rng.choices(range(24), HOURLY)[0]
    first = start0 + day * 86400 + hour * 3600 + rng.uniform(0, 3600)
    return first, first + rng.uniform(2, 90)


def track_row(
    track_id: int,
    camera_id: int,
    run_id: int,
    first: float,
    last: float,
    cls: str,
    attrs: dict,
    thumbnail: str | None = None,
) -> dict:
    """A finished track row of the ``tracks`` table with synthetic attributes."""
    return {
        "id": track_id,
        "camera_id": camera_id,
        "run_id": run_id,
        "tracker_id": track_id,
        "class_name": cls,
        "first_ts": first,
        "last_ts": last,
        "first_frame": 0,
        "last_frame": 10,
        "detections": 10,
        "score": attrs["class_conf"],
        "path": [],
        "thumbnail": thumbnail,
        "finished": True,
        "attributes": attrs,
    }


def fill(store: DataStore, n: int, seed: int = 7) -> tuple[float, float]:
    """Insert ``n`` tracks; returns (seconds inserting tracks, seconds in the index code)."""
    rng = random.Random(seed)
    start0 = (NOW - timedelta(days=DAYS)).timestamp()
    with store.engine.begin() as conn:
        cam_ids = [
            conn.execute(
                insert(cameras).values(name=c, source="synthetic", created_at=0).returning(cameras.c.id)
            ).scalar_one()
            for c in CAMERAS
        ]
        run_ids = {
            c: conn.execute(
                insert(runs)
                .values(camera_id=c, source="synthetic", mode="run", started_at=start0, status="done")
                .returning(runs.c.id)
            ).scalar_one()
            for c in cam_ids
        }
    insert_s = index_s = 0.0
    batch = 5000
    next_id = 1
    for b0 in range(0, n, batch):
        rows_by_cam: dict[int, list] = {}
        track_rows = []
        for _ in range(min(batch, n - b0)):
            cam = rng.choice(cam_ids)
            first, last = synthetic_times(rng, start0)
            cls = pick(rng, CLASSES)
            attrs = attributes(rng, cls, ZONES)
            values = track_row(next_id, cam, run_ids[cam], first, last, cls, attrs)
            track_rows.append(values)
            rows_by_cam.setdefault(cam, []).append((next_id, values))
            next_id += 1
        with store.engine.begin() as conn:
            t0 = time.perf_counter()
            conn.execute(insert(tracks), track_rows)
            t1 = time.perf_counter()
            for cam, items in rows_by_cam.items():
                index_tracks(conn, cam, items)
            t2 = time.perf_counter()
        insert_s += t1 - t0
        index_s += t2 - t1
        if (b0 // batch) % 20 == 0:
            print(f"  {b0 + batch:,} tracks ...", flush=True)
    return insert_s, index_s


SINGLE = [
    "person in a {c} top {w}",
    "{c} car {w}",
    "person with a {i} {w}",
    "{w} {zc}色上衣的人",
    "people in {c} {w}",
    "person lying down {w}",
    "{w} 背{zi}的人",
]
MULTI = [
    "person in a {c} top with a {i} {w}",
    "person in a {c} top and {c2} trousers walking {d} {w}",
    "{w} 穿{zc}色上衣背{zi}的人",
    "{c} car and a person with a {i} {w}",
    "a {c} van heading {d} {w}",
    "person in {c} running {d} {w}",
]
WHEN = [
    "yesterday",
    "yesterday evening",
    "in the last 3 hours",
    "on monday afternoon",
    "2024-05-20",
    "last night",
    "in the last 2 days",
    "today",
]
WHEN_ZH = ["昨天", "昨晚", "过去三小时", "今天上午", "5月20日", "周一下午"]
ZH_COLOUR = {
    "red": "红",
    "blue": "蓝",
    "white": "白",
    "black": "黑",
    "green": "绿",
    "yellow": "黄",
    "grey": "灰",
}
ZH_ITEM = {"backpack": "背包", "handbag": "手提包", "suitcase": "行李箱", "umbrella": "雨伞"}


def queries(templates: list[str], n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        t = templates[k % len(templates)]
        c, c2 = rng.sample(list(ZH_COLOUR), 2)
        i = rng.choice(list(ZH_ITEM))
        zh = any("\u4e00" <= ch <= "\u9fff" for ch in t)
        out.append(
            t.format(
                c=c,
                c2=c2,
                i=i,
                d=rng.choice(["left", "right", "away", "towards the camera"]),
                w=rng.choice(WHEN_ZH if zh else WHEN),
                zc=ZH_COLOUR[c],
                zi=ZH_ITEM[i],
            )
        )
    return out


def latency(store: DataStore, texts: list[str]) -> tuple[float, float, float, int]:
    """(p50 ms, p95 ms, max ms, results) over the texts, after one warm-up pass."""
    for t in texts[:5]:
        search(store, t, now=NOW, shares=SHARES)
    times, found = [], 0
    for t in texts:
        t0 = time.perf_counter()
        res = search(store, t, now=NOW, limit=20, shares=SHARES)
        times.append((time.perf_counter() - t0) * 1000)
        found += len(res.results)
        assert res.understood["time"] is not None, f"no time filter understood in {t!r}"
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], times[-1], found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=60, help="queries per kind (>= 50)")
    ap.add_argument("--keep", type=Path, help="build (or reuse) the store in this folder")
    args = ap.parse_args()
    print(describe_machine())
    folder = args.keep or Path(tempfile.mkdtemp(prefix="sw-search-scale-"))
    db = folder / "scenewatch.db"
    reuse = db.exists()
    store = DataStore.open(folder)
    if not reuse:
        print(f"filling {args.tracks:,} tracks into {db} ...")
        t0 = time.perf_counter()
        insert_s, index_s = fill(store, args.tracks)
        wall = time.perf_counter() - t0
        with store.engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        per_m = 1_000_000 / args.tracks
        print(
            f"tracks insert: {insert_s:.1f} s; index build (index_tracks): {index_s:.1f} s; total with generation {wall:.1f} s"
        )
        print(f"index build per million tracks: {index_s * per_m:.1f} s")
    size = sum(p.stat().st_size for p in folder.glob("scenewatch.db*"))
    with store.engine.connect() as conn:
        n = conn.exec_driver_sql("select count(*) from tracks").scalar_one()
        terms = conn.exec_driver_sql("select count(*) from track_terms").scalar_one()
        try:
            idx = conn.exec_driver_sql(
                "select sum(pgsize) from dbstat where name like 'track_terms%' or name like 'ix_track_terms%'"
            ).scalar_one()
        except Exception:  # dbstat is an optional SQLite build option
            idx = None
    per_m = 1_000_000 / n
    print(f"database: {size / 1e9:.2f} GB for {n:,} tracks = {size / 1e9 * per_m:.2f} GB per million tracks")
    print(
        f"index: {terms:,} term rows ({terms / n:.1f} per track)"
        + (f", {idx / 1e9 * per_m:.2f} GB per million tracks" if idx else "")
    )
    for name, templates, seed in (("single clause", SINGLE, 1), ("multi clause", MULTI, 2)):
        texts = queries(templates, max(args.queries, 50), seed)
        p50, p95, worst, found = latency(store, texts)
        print(
            f"{name:14s} with a time filter: {len(texts)} queries, p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {worst:.1f} ms, {found / len(texts):.1f} results each"
        )
    if not args.keep:
        print(f"(store left in {folder}; delete it when done)")


if __name__ == "__main__":
    main()

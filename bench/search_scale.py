"""Search at scale: a month of synthetic tracks from several cameras in a temporary SQLite.

Fills the store with N tracks (default 1,000,000) whose attributes follow realistic
distributions (mostly people in dark and neutral colours, some bags, cars mostly white, black
and grey; traffic by time of day) and carry what the describer writes (shades, headwear, bag
signs and bag colours, heading shares, vehicle types), indexes them with the real index code
(``index_tracks``, the function the writer calls), and stores each track's first and last box
and a path, with a fifth of people's walks split into two fragments, so that the search's
grouping of a camera's fragments of one walk reads and joins them as it does on real data (the
path holds 4 points where the tracker keeps one every half second or so: its read is cheaper here).
Then times searches through the public API (``search``, grouping on, as ``scenewatch search``),
per kind of query, each with a time filter:

- single clause: one object, one attribute ("person in a red top yesterday");
- multi clause: one object with several attributes, or two objects;
- shade, headwear, bag, outfit, vehicle type: the newer attributes ("person in a navy coat");
- chinese: the newer kinds asked in Chinese.

Prints insert and index build time, database size per million tracks, and p50/p95 latency.

    .venv/bin/python bench/search_scale.py [--tracks 1000000] [--queries 60] [--keep DIR] [--kinds shade ...]
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

from scenewatch.runtime.heap import freeze_startup_heap  # noqa: E402
from scenewatch.search.engine import search  # noqa: E402
from scenewatch.search.index import index_tracks  # noqa: E402
from scenewatch.search.term_stats import TermShares  # noqa: E402
from scenewatch.store.data import DataStore  # noqa: E402
from scenewatch.store.schema import boxes, cameras, runs, tracks  # noqa: E402

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
BAG = {"black": 50, "grey": 12, "brown": 12, "blue": 10, "red": 6, "white": 5, "green": 3, "pink": 2}
VTYPES = {
    "car": {"car": 0.8, "van": 0.12, "pickup": 0.05, "minibus": 0.03},
    "truck": {"truck": 0.4, "van": 0.3, "pickup": 0.15, "box_truck": 0.15},
    "bus": {"bus": 0.85, "minibus": 0.15},
}
TONES = {"dark": 0.35, "light": 0.25, "mid": 0.4}  # a garment's shade of its main colour
FRAGMENTED = {"person": 0.2, "car": 0.1}  # walks stored as two fragments (the tracker lost them)
VIEW = (1920, 1080)
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
        attrs.update(person_looks(rng, attrs["colours"], attrs["carried"]))
        lying = rng.random() < 0.01
        sitting = rng.random() < 0.08
        p = [0.05, 0.05, 0.9] if lying else [0.1, 0.85, 0.05] if sitting else [0.9, 0.07, 0.03]
        attrs["posture"] = dict(zip(["standing", "sitting", "lying"], p, strict=True))
    elif cls in ("car", "truck", "bus", "motorcycle", "bicycle"):
        attrs["colours"] = {"body": colours(rng, BODY)}
        attrs["vehicle_type"] = vehicle_type(rng, cls)
    if attrs["motion"]["heading"]:
        main = round(rng.uniform(0.6, 1.0), 3)
        other = rng.choice(
            [h for h in ("left", "right", "towards", "away") if h != attrs["motion"]["heading"]]
        )
        attrs["motion"]["headings"] = {attrs["motion"]["heading"]: main, other: round(1 - main, 3)}
    return attrs


def person_looks(rng: random.Random, parts: dict[str, dict[str, float]], carried: dict) -> dict:
    """What the describer adds to a person's colours: shades of the upper and lower garments,
    headwear degrees, signs of an unboxed bag, and the colours where a boxed bag sat."""
    shades = {}
    for part in ("upper", "lower"):
        colour, share = next(iter(parts[part].items()))
        tone = pick(rng, TONES)
        dark = rng.uniform(0.5, 0.95) if tone == "dark" else rng.uniform(0.0, 0.3)
        light = rng.uniform(0.5, 0.95) if tone == "light" else rng.uniform(0.0, 0.3)
        degrees = {
            "dark": dark * share,
            "light": light * share,
            f"{colour}:dark": dark,
            f"{colour}:light": light,
        }
        shades[part] = {k: round(v, 3) for k, v in degrees.items() if v >= 0.05}
    covered = rng.uniform(0.5, 0.95) if rng.random() < 0.3 else rng.uniform(0.0, 0.3)
    wrap = rng.random()
    out: dict = {
        "shades": shades,
        "headwear": {
            k: round(v, 3)
            for k, v in (("covered", covered), ("hood", covered * wrap), ("hat", covered * (1 - wrap)))
        },
        "bag_signs": {
            k: round(rng.uniform(0.4, 0.9) if rng.random() < 0.1 else rng.uniform(0.0, 0.3), 3)
            for k in ("hip", "strap")
        },
    }
    if any(k in carried for k in ("backpack", "handbag", "suitcase")):
        out["bag_colours"] = colours(rng, BAG)
    return out


def vehicle_type(rng: random.Random, cls: str) -> dict[str, float]:
    """The describer's type shares: one type most likely, a second one sometimes."""
    prior = VTYPES.get(cls, {cls: 1.0})
    main = pick(rng, prior)
    share = rng.uniform(0.55, 0.95) if len(prior) > 1 else 1.0
    out = {main: round(share, 3)}
    if share < 1.0:
        out[pick(rng, {k: v for k, v in prior.items() if k != main} or prior)] = round(1 - share, 3)
    return out


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
    path: list | None = None,
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
        "path": path or [],
        "thumbnail": thumbnail,
        "finished": True,
        "attributes": attrs,
    }


Foot = tuple[float, float, float]  # bottom-centre x, y and box height


def walk_start(rng: random.Random, cls: str) -> tuple[Foot, float]:
    """Where a walk begins in the view, and its speed across it (pixels per second)."""
    w, h = VIEW
    height = rng.uniform(120, 320) if cls == "person" else rng.uniform(60, 220)
    per_h = rng.uniform(0.3, 1.2) if cls == "person" else rng.uniform(0.5, 4.0)
    foot = (rng.uniform(0.15, 0.85) * w, rng.uniform(0.5, 0.95) * h, height)
    return foot, rng.choice([-1, 1]) * per_h * height


def geometry(
    start: Foot, vx: float, first: float, last: float, aspect: float
) -> tuple[list, list[dict], Foot, float]:
    """A straight walk kept inside the view: (path, first and last box, end, speed achieved)."""
    x0, y, h = start
    x1 = min(max(x0 + vx * (last - first), 0.1 * VIEW[0]), 0.9 * VIEW[0])
    speed = (x1 - x0) / max(last - first, 1e-3)
    path = [[round(first + k * (last - first) / 3, 3), round(x0 + k * (x1 - x0) / 3, 1), y] for k in range(4)]
    w = h * aspect
    boxes_ = [
        {"frame": f, "ts": ts, "x1": x - w / 2, "y1": y - h, "x2": x + w / 2, "y2": y, "score": 0.8}
        for f, ts, x in ((0, first, x0), (10, last, x1))
    ]
    return path, boxes_, (x1, y, h), speed


def synthetic_tracks(rng: random.Random, start0: float) -> list[tuple[float, float, str, dict, list, list]]:
    """One walk on a camera: (first, last, class, attributes, path, boxes) per fragment; a lost
    walker comes back as a second fragment a moment later, near where it was lost, looking alike."""
    first, last = synthetic_times(rng, start0)
    cls = pick(rng, CLASSES)
    attrs = attributes(rng, cls, ZONES)
    start, vx = walk_start(rng, cls)
    aspect = 0.4 if cls == "person" else 1.8
    path, box, end, speed = geometry(start, vx, first, last, aspect)
    out = [(first, last, cls, attrs, path, box)]
    if rng.random() < FRAGMENTED.get(cls, 0.0):
        gap = rng.uniform(0.3, 3.0)
        first2 = last + gap
        last2 = first2 + rng.uniform(2, 40)
        resumed = (end[0] + speed * gap, end[1], end[2] * rng.uniform(0.95, 1.05))
        path2, box2, _, _ = geometry(resumed, speed, first2, last2, aspect)
        out.append((first2, last2, cls, attributes_like(rng, attrs), path2, box2))
    return out


def attributes_like(rng: random.Random, attrs: dict) -> dict:
    """The same object's attributes in another fragment: its colours a little off, as described anew."""
    again = {**attrs, "class_conf": round(rng.uniform(0.4, 0.98), 3)}
    again["colours"] = {
        part: {c: round(min(max(v + rng.uniform(-0.05, 0.05), 0.01), 1.0), 3) for c, v in shares.items()}
        for part, shares in attrs.get("colours", {}).items()
    }
    return again


def fill(store: DataStore, n: int, seed: int = 7) -> tuple[float, float]:
    """Insert ``n`` tracks; returns (seconds inserting tracks and boxes, seconds in the index code)."""
    rng = random.Random(seed)
    start0 = (NOW - timedelta(days=DAYS)).timestamp()
    with store.engine.begin() as conn:
        cam_ids = [
            conn.execute(
                insert(cameras)
                .values(name=c, source="synthetic", width=VIEW[0], height=VIEW[1], created_at=0)
                .returning(cameras.c.id)
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
    while next_id <= n:
        rows_by_cam: dict[int, list] = {}
        track_rows, box_rows = [], []
        while len(track_rows) < batch and next_id <= n:
            cam = rng.choice(cam_ids)
            for first, last, cls, attrs, path, box in synthetic_tracks(rng, start0)[: n - next_id + 1]:
                values = track_row(next_id, cam, run_ids[cam], first, last, cls, attrs, path=path)
                track_rows.append(values)
                box_rows += [{"track_id": next_id, **b} for b in box]
                rows_by_cam.setdefault(cam, []).append((next_id, values))
                next_id += 1
        with store.engine.begin() as conn:
            t0 = time.perf_counter()
            conn.execute(insert(tracks), track_rows)
            conn.execute(insert(boxes), box_rows)
            t1 = time.perf_counter()
            for cam, items in rows_by_cam.items():
                index_tracks(conn, cam, items)
            t2 = time.perf_counter()
        insert_s += t1 - t0
        index_s += t2 - t1
        if (next_id // batch) % 20 == 1:
            print(f"  {next_id - 1:,} tracks ...", flush=True)
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
# the newer kinds: shades, headwear, bags without a box, whole outfits, vehicle types
SHADE = [
    "person in a light {c} top {w}",
    "person in a navy coat {w}",
    "person in a dark {c} jacket {w}",
    "person in light {c} trousers {w}",
]
HEADWEAR = [
    "person in a {c} cap {w}",
    "person with a {c} hood {w}",
    "person wearing a hat {w}",
    "person in a helmet {w}",
]
BAGS = ["person carrying a bag {w}", "person with a {c} bag {w}", "person with a {c} {i} {w}"]
OUTFIT = [
    "person dressed all in {c} {w}",
    "person in {c} from head to toe {w}",
    "people all in {c} with a {i} {w}",
]
VEHICLE = [
    "a {c} van {w}",
    "a {c} pickup {w}",
    "a minibus {w}",
    "a {c} box truck {w}",
    "a {c} van heading {d} {w}",
]
CHINESE = [
    "{w} 戴{zc}色帽子的人",
    "{w} 穿浅{zc}色上衣的人",
    "{w} 一身{zc}的人",
    "{w} {zc}色面包车",
    "{w} 背{zc}色包的人",
    "{w} {zc}色皮卡",
]
KINDS = {
    "single clause": SINGLE,
    "multi clause": MULTI,
    "shade": SHADE,
    "headwear": HEADWEAR,
    "bag": BAGS,
    "outfit": OUTFIT,
    "vehicle type": VEHICLE,
    "chinese": CHINESE,
}
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
    """(p50 ms, p95 ms, max ms, results) over the texts, after one warm-up pass and with the
    start-up heap frozen, as the server does once it has started."""
    for t in texts[:5]:
        search(store, t, now=NOW, shares=SHARES)
    freeze_startup_heap()
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
    ap.add_argument(
        "--kinds", nargs="*", choices=list(KINDS), help="only these kinds of query (default: all)"
    )
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
    for seed, (name, templates) in enumerate(KINDS.items(), start=1):
        if args.kinds and name not in args.kinds:
            continue
        texts = queries(templates, max(args.queries, 50), seed)
        p50, p95, worst, found = latency(store, texts)
        print(
            f"{name:14s} with a time filter: {len(texts)} queries, p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {worst:.1f} ms, {found / len(texts):.1f} results each",
            flush=True,
        )
    if not args.keep:
        print(f"(store left in {folder}; delete it when done)")


if __name__ == "__main__":
    main()

"""Vehicle search quality: colour, type and colour+type queries over labelled traffic footage.

The labels and queries are in ``bench/labels/vehicles.json`` (how they were made and split is
written there). Indexes the traffic clips with their camera settings (and vtest.avi, whose car
park holds a white van and a light-blue car) into a data folder, maps tracks to labels by their
sighting boxes (IoU >= 0.5 on the label's frames, fragments of one vehicle through
``also_seen``), and scores each half of the queries on the labels of the same half (tracks of
vehicles left unlabelled are not ranked: never judged, they are neither hits nor misses): mAP,
recall@5 and per-kind AP (colour, type, colour+type), English and Chinese, beside the
class-only ("vehicle") and random rankings. ``bench/search.py`` prints the same at its end.

    .venv/bin/python bench/search_vehicles.py [--data DIR] [--redescribe [--as-run]] [--explain]

``--redescribe`` describes the stored vehicle tracks again with the current vehicle code (the
describer's per-frame path fed with the stored boxes, pose off) before scoring, so two versions
of the vehicle code can be compared on the same tracks of one ``--data`` folder. With ``--as-run``
each track is described as it ends, as in a pipeline run (see :func:`redescribe`). ``--explain``
lists, for each dev query, the vehicles ranked out of place (see :func:`explain`): the dev half
only, so that the test half is never looked into while tuning.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import av
import numpy as np
from sqlalchemy import select, update

sys.path.insert(0, str(Path(__file__).resolve().parent))
import search as bench  # noqa: E402
from machine import describe_machine  # noqa: E402

from scenewatch.config import AppConfig  # noqa: E402
from scenewatch.config.camera import CameraConfig  # noqa: E402
from scenewatch.pipeline import index_file  # noqa: E402
from scenewatch.search.engine import search  # noqa: E402
from scenewatch.search.index import reindex  # noqa: E402
from scenewatch.store.data import DataStore  # noqa: E402
from scenewatch.store.schema import boxes, cameras, tracks  # noqa: E402
from scenewatch.types import Detections, Frame  # noqa: E402
from scenewatch.vision.attributes.describer import VEHICLES as VEHICLE_CLASSES  # noqa: E402
from scenewatch.vision.attributes.describer import AttributeDescriber  # noqa: E402
from scenewatch.vision.attributes.vehicle import (  # noqa: E402
    TWO_WHEELERS,
    VehicleSizes,
    corrected_class,
    vehicle_confidence,
    vehicle_type,
)
from scenewatch.vision.labels import class_id  # noqa: E402

VEHICLES = bench.LABELS / "vehicles.json"


def vehicle_pred(relevant: dict[str, str]) -> bench.Pred:
    """Relevance of a vehicle query: the labelled type (``type``) and, when asked, body colour
    (``body``: one of the label's body colours; a label unsure of it is left out)."""

    def pred(lab: bench.Label) -> bool | None:
        if "type" in relevant and lab.get("vehicle_type") != relevant["type"]:
            return False
        if "body" not in relevant:
            return True
        if "body" in (lab.get("unsure") or []):
            return None
        return relevant["body"] in (lab.get("body") or [])

    return pred


def bench_clips(data: dict) -> dict[str, dict]:
    """The clips the bench indexes: the labelled traffic clips and vtest.avi (default settings)."""
    return {"vtest": {"video": "video/vtest.avi", "camera": {}}} | data["clips"]


def index_clips(store: DataStore, data: dict) -> None:
    """Index each clip (and vtest.avi) not yet in the store, with the clip's camera settings."""
    with store.engine.connect() as conn:
        indexed = set(conn.scalars(select(cameras.c.name)))
    for name, clip in bench_clips(data).items():
        if name in indexed:
            continue
        video = bench.SHARED / clip["video"]
        camera = CameraConfig.model_validate({"name": name, "source": {"url": str(video)}, **clip["camera"]})
        result = index_file(store, AppConfig(cameras=[camera]), video, name)
        print(f"indexed {name}: {result.tracks} tracks, {result.seconds:.1f} s")


def map_sightings(store: DataStore, labels: dict[str, bench.Label]) -> dict[int, tuple[str, ...]]:
    """Track -> labels whose sighting or also_seen box it covers (IoU >= 0.5 on that frame),
    most covered first."""
    covered: dict[int, Counter] = defaultdict(Counter)
    for camera in {lab["camera"] for lab in labels.values()}:
        sightings = {
            key: [lab["sighting"], *(lab.get("also_seen") or [])]
            for key, lab in labels.items()
            if lab["camera"] == camera
        }
        bench.cover_sightings(store, camera, sightings, covered)
    return {tid: tuple(k for k, _ in votes.most_common()) for tid, votes in covered.items()}


def evaluate(
    store: DataStore,
    mapping: dict[int, tuple[str, ...]],
    labels: dict[str, bench.Label],
    queries: list[bench.Q],
) -> dict[str, list[bench.Score]]:
    """Per ranking (en, zh, class-only, random) one Score per query. Only tracks of labelled
    vehicles are ranked: the vehicles left unlabelled (far cars under 40 px, a track holding
    two cars) were never judged, so they count neither as hits nor as misses."""
    judged = {tid for tid, held in mapping.items() if held[0] in labels}

    def found(text: str) -> list[int]:
        return judged_ranking(store, text, judged)

    rng = np.random.default_rng(0)
    shuffles = [rng.permutation(sorted(judged)).tolist() for _ in range(bench.RANDOM_RUNS)]
    by_class = found("vehicle")
    out: dict[str, list[bench.Score]] = defaultdict(list)
    for q in queries:
        verdicts = {key: q.relevant(lab) for key, lab in labels.items()}
        relevant = {k for k, v in verdicts.items() if v}
        unsure = {k for k, v in verdicts.items() if v is None}
        if not relevant:
            continue

        def read(
            ids: list[int], relevant: set[str] = relevant, unsure: set[str] = unsure
        ) -> list[str | None]:
            return bench.read_ranking(ids, mapping, relevant, unsure)

        for lang, text in (("en", q.en), ("zh", q.zh)):
            out[lang].append(bench.score(text, read(found(text)), relevant))
        out["class-only"].append(bench.score(q.cls, read(by_class), relevant))
        runs = [bench.score("random", read(ids), relevant) for ids in shuffles]
        out["random"].append(bench.mean_score("random", runs))
    return out


def judged_ranking(store: DataStore, text: str, judged: set[int]) -> list[int]:
    """Ranked judged tracks: a hit that groups fragments of one vehicle stands for its first
    judged fragment (the group's shown track may be an unlabelled later fragment)."""
    return [tid for tid, _ in judged_hits(store, text, judged)]


def judged_hits(store: DataStore, text: str, judged: set[int]) -> list[tuple[int, str]]:
    """:func:`judged_ranking` with each hit's score and reasons, as the search gave them."""
    ranked = []
    for h in search(store, text, limit=bench.LIMIT).results:
        ids = [h.track_id, *(m.track_id for m in h.members)]
        first = next((t for t in ids if t in judged), None)
        if first is not None:
            ranked.append((first, f"score {h.score:.2f}: {', '.join(h.reasons)}"))
    return ranked


def explain(store: DataStore, data: dict, split: str = "dev") -> None:
    """For each query of ``split`` (each asks for a type: car, van, pickup): the vehicles from the
    first irrelevant one down to the last relevant one, each with its stored
    class, type, body colour, size against the camera's cars (width x height of the track's
    nearest third, the whole clip's car tracks as reference) and median box aspect (height / width),
    then the search's score and reasons (how the ranking weighed class, type and colour)."""
    labels = {k: lab for k, lab in data["labels"].items() if lab["split"] == split}
    mapping = map_sightings(store, data["labels"])
    judged = {tid for tid, held in mapping.items() if held[0] in labels}
    facts = track_facts(store, data)
    for q in (q for q in data["queries"] if q["split"] == split):
        relevant = {k for k, lab in labels.items() if vehicle_pred(q["relevant"])(lab)}
        ranked = [(tid, mapping[tid][0], why) for tid, why in judged_hits(store, q["en"], judged)]
        hits = [i for i, (_, key, _) in enumerate(ranked) if key in relevant]
        print(f"\n{q['en']} ({split}): relevant at ranks {[i + 1 for i in hits]}")
        gap = next((i for i, (_, key, _) in enumerate(ranked) if key not in relevant), len(ranked))
        for i, (tid, key, why) in enumerate(ranked[gap : max(hits, default=-1) + 1], start=gap):
            print(
                f"  {i + 1:3d} {'HIT ' if key in relevant else 'miss'} {key:6s} {labels[key]['vehicle_type']:7s} "
                f"{'/'.join(labels[key]['body']):10s} {facts.get(tid, '')}\n{'':21s}{why}"
            )


def track_facts(store: DataStore, data: dict) -> dict[int, str]:
    """Track id -> its stored class, types, body colours, relative size and aspect, as text."""
    out: dict[int, str] = {}
    for camera, clip in bench_clips(data).items():
        q = (
            select(tracks.c.id, tracks.c.attributes, boxes.c.frame, *box_columns())
            .join(boxes, boxes.c.track_id == tracks.c.id)
            .join(cameras, cameras.c.id == tracks.c.camera_id)
            .where(cameras.c.name == camera)
        )
        attrs: dict[int, dict] = {}
        seen: dict[int, list[tuple[int, list[float]]]] = defaultdict(list)
        with store.engine.connect() as conn:
            for tid, a, frame, *box in conn.execute(q):
                attrs[tid] = a or {}
                seen[tid].append((frame, box))
        with av.open(str(bench.SHARED / clip["video"])) as container:
            stream = container.streams.video[0]
            width, height = stream.width, stream.height
        xyxy = {tid: np.array([b for _, b in sorted(rows)], float) for tid, rows in seen.items()}
        sizes = VehicleSizes()
        for tid in sorted(xyxy, key=lambda t: max(f for f, _ in seen[t])):  # in the order tracks end
            if attrs[tid].get("class") == "car":
                sizes.add_track(xyxy[tid], width, height, tid)
        for tid, a in attrs.items():
            if a.get("class") not in VEHICLE_CLASSES:
                continue
            b = xyxy[tid]
            rel = sizes.relative(b, width, height, tid)
            aspect = float(np.median((b[:, 3] - b[:, 1]) / np.maximum(b[:, 2] - b[:, 0], 1.0)))
            out[tid] = (
                f"track {tid} {a['class']}; type {_top(a.get('vehicle_type'))}; "
                f"body {_top((a.get('colours') or {}).get('body'))}; "
                f"size {f'{rel[0]:.2f}x{rel[1]:.2f}' if rel else 'n/a'}; aspect {aspect:.2f}"
            )
    return out


def _top(shares: dict[str, float] | None) -> str:
    return " ".join(f"{k} {v:.2f}" for k, v in sorted((shares or {}).items(), key=lambda kv: -kv[1])[:3])


def report_vehicles(store: DataStore) -> None:
    """Index what is missing, map, and print both halves of the vehicle query set."""
    data = json.loads(VEHICLES.read_text())
    index_clips(store, data)
    labels = data["labels"]
    mapping = map_sightings(store, labels)
    found = {k for held in mapping.values() for k in held}
    missing = sorted(set(labels) - found)
    print(f"\nvehicle labels mapped to tracks: {len(found)} of {len(labels)}; not found: {missing or 'none'}")
    one_each = {tid: held[:1] for tid, held in mapping.items()}
    for split in ("dev", "test"):
        keys = {k: lab for k, lab in labels.items() if lab["split"] == split}
        chosen = [q for q in data["queries"] if q["split"] == split]
        queries = [bench.Q(q["en"], q["zh"], vehicle_pred(q["relevant"]), "vehicle") for q in chosen]
        shown = {lab["camera"] for lab in keys.values()}
        per = evaluate(store, one_each, keys, queries)
        kinds = {text: q["kind"] for q in chosen for text in (q["en"], q["zh"])}
        print(
            f"\n== vehicle queries, {split} half ({len(chosen)} queries x 2 languages, "
            f"{len(keys)} vehicles on {', '.join(sorted(shown))})"
        )
        print(f"{'query':48s} {'AP':>5s} {'R@5':>5s} {'cR@5':>5s} {'rel':>4s}")
        for lang in ("en", "zh"):
            for r in per[lang]:
                print(f"{r.text[:48]:48s} {r.ap:5.2f} {r.r5:5.2f} {r.r5c:5.2f} {r.relevant:4d}")
        print(bench.summary(f"vehicles {split}: English", per["en"]))
        print(bench.summary(f"vehicles {split}: Chinese", per["zh"]))
        print(bench.summary(f"vehicles {split}: both", per["en"] + per["zh"]))
        bench.kind_summary(per, kinds)
        print(bench.summary("baseline: class-only ranking", per["class-only"]))
        print(bench.summary(f"baseline: random ranking ({bench.RANDOM_RUNS} runs)", per["random"]))


def redescribe(store: DataStore, data: dict, as_run: bool = False) -> None:
    """Describe the stored vehicle tracks of the clips and vtest.avi again with the current
    vehicle code: the describer's own per-frame path (crops, white balance, car sizes) fed with
    the stored boxes, then class, class confidence, body colour and type rewritten and the search
    reindexed. So two versions of the vehicle code can be compared on the very same tracks.

    By default every track is described after the whole clip was seen, its crops chosen as if
    every detection scored 1. ``as_run`` does what a pipeline run does: the stored detection
    scores choose the crops and each track is described right after its last frame, with the
    car sizes and white balance learned by then; the difference between the two is the part of
    the fresh-run gap that is not the tracks themselves."""
    for camera, clip in bench_clips(data).items():
        q = (
            select(tracks.c.id, tracks.c.attributes, boxes.c.frame, boxes.c.score, *box_columns())
            .join(boxes, boxes.c.track_id == tracks.c.id)
            .join(cameras, cameras.c.id == tracks.c.camera_id)
            .where(cameras.c.name == camera)
        )
        attrs: dict[int, dict] = {}
        by_frame: dict[int, list[tuple[int, list[float], float]]] = defaultdict(list)
        per_track: dict[int, list[tuple[int, list[float], float]]] = defaultdict(list)
        with store.engine.connect() as conn:
            for tid, a, frame, score, *box in conn.execute(q):
                attrs[tid] = a or {}
                by_frame[frame].append((tid, box, score))
                per_track[tid].append((frame, box, score))
        ends: dict[int, list[int]] = defaultdict(list)
        for tid, seen in per_track.items():
            ends[max(f for f, _, _ in seen)].append(tid)
        describer = AttributeDescriber(use_pose=False)
        described: dict[int, dict | None] = {}
        with av.open(str(bench.SHARED / clip["video"])) as container:
            for index, picture in enumerate(container.decode(video=0)):
                rows = by_frame.get(index, [])
                ids = [class_id(attrs[t].get("class") or "car") for t, _, _ in rows]
                found = Detections(
                    np.array([b for _, b, _ in rows], np.float32).reshape(-1, 4),
                    np.array([s if as_run else 1.0 for _, _, s in rows], np.float32),
                    np.array(ids, np.int32),
                    np.array([t for t, _, _ in rows], np.int64),
                )
                t = float(picture.time or 0.0)
                describer.observe(
                    Frame(picture.to_ndarray(format="bgr24"), camera, index, t, t), found, found
                )
                for tid in ends.get(index, []):  # a run learns a car's size when its track ends
                    if attrs[tid].get("class") == "car":
                        box_rows = np.array([b for _, b, _ in sorted(per_track[tid], key=lambda r: r[0])])
                        describer.sizes.add_track(box_rows, *describer.frame_size or (1, 1), tid)
                    if as_run:
                        described[tid] = describe_vehicle(describer, attrs[tid], per_track[tid], tid)
                        retype(described, describer.retype())
        for tid in attrs.keys() - described.keys():
            described[tid] = describe_vehicle(describer, attrs[tid], per_track[tid], tid)
        retype(described, describer.retype(final=True))
        with store.engine.begin() as conn:
            for tid, new in described.items():
                if new is not None:
                    conn.execute(update(tracks).where(tracks.c.id == tid).values(attributes=new))
    reindex(store.engine)
    how = "each as its track ended" if as_run else "after each clip"
    print(f"vehicle tracks of the clips described again with the current vehicle code ({how})")


def describe_vehicle(
    describer: AttributeDescriber, a: dict, seen: list[tuple[int, list[float], float]], tid: int
) -> dict | None:
    """A stored vehicle track's attributes with class, confidence, body colour and type described
    anew from what ``describer`` has seen so far; None for other classes."""
    if a.get("class") not in VEHICLE_CLASSES or describer.frame_size is None:
        return None
    seen = sorted(seen, key=lambda r: r[0])
    xyxy = np.array([b for _, b, _ in seen], float)
    relative = None
    if a["class"] not in TWO_WHEELERS:
        relative = describer.sizes.relative(xyxy, *describer.frame_size, tid)
        describer.provisional.note(tid, xyxy, a["class"])
    cls = corrected_class(a["class"], relative)
    new = dict(a, **{"class": cls})
    new["class_conf"] = vehicle_confidence(1.0, float(np.mean([s for _, _, s in seen])))
    crops = describer.crops.pop(tid)
    if crops:
        new["colours"] = {"body": describer.vehicle_colours(crops, cls)}
    if relative is not None:
        new["vehicle_type"] = vehicle_type(cls, xyxy[0], relative=relative)
    return new


def retype(described: dict[int, dict | None], changes: dict[int, dict]) -> None:
    """Apply the describer's new types of vehicles typed before against fewer cars."""
    for tid, change in changes.items():
        if described.get(tid) is not None:
            described[tid] = {**(described[tid] or {}), **change}


def box_columns() -> list:
    return [boxes.c.x1, boxes.c.y1, boxes.c.x2, boxes.c.y2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, help="data folder to build (or reuse)")
    ap.add_argument(
        "--redescribe",
        action="store_true",
        help="describe the stored vehicle tracks again with the current code before scoring (same tracks)",
    )
    ap.add_argument(
        "--explain",
        action="store_true",
        help="list, per dev query, the vehicles ranked out of place with their type, colour, size and aspect",
    )
    ap.add_argument(
        "--as-run",
        action="store_true",
        help="with --redescribe: each track described as it ends, crops chosen by detection score",
    )
    args = ap.parse_args()
    print(describe_machine())
    folder = args.data or Path(tempfile.mkdtemp(prefix="sw-vehicle-bench-"))
    store = DataStore.open(folder)
    data = json.loads(VEHICLES.read_text())
    index_clips(store, data)
    if args.redescribe:
        redescribe(store, data, args.as_run)
    if args.explain:
        explain(store, data)
    report_vehicles(store)


if __name__ == "__main__":
    main()

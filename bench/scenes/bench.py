"""The composite scenes through the real pipeline (``index_file``: detector, tracker, pose, rule
engine), scored against their made truth like the real clips (``bench/rules.py``: same rule,
start within 1 s, object within half a height of where it was held)."""

from __future__ import annotations

import json
from pathlib import Path

import rules as bench  # the harness of bench/rules.py (bench/ is on the path): pipeline run, matching

from scenes.make import generate
from scenes.spec import DOWN_S, SCENES, STOP_S, Scene
from scenewatch.config.camera import CameraConfig

TOLERANCE_S = 1.0


def camera_config(scene: Scene, video: Path) -> CameraConfig:
    """The scene's camera: a stopped-vehicle rule on the no-stopping zone, or person down anywhere."""
    if scene.zone is not None:
        zones = [{"name": "road", "polygon": scene.zone, "inertia": 2}]
        rules = [{"type": "stopped_vehicle", "zone": "road", "time_s": STOP_S, "cooldown_s": 0}]
    else:
        zones, rules = [], [{"type": "person_down", "time_s": DOWN_S, "cooldown_s": 0}]
    return CameraConfig.model_validate(
        {"name": scene.name, "source": {"url": str(video)}, "zones": zones, "rules": rules, **scene.camera}
    )


def truth_events(acts: list[dict], config: CameraConfig) -> list[dict]:
    """The expected events in the matcher's form (rule named as the camera's rule of the family)."""
    names = {r.type: r.name for r in config.rules}
    return [
        {
            "rule": names[a["rule"]],
            "start": a["start"],
            "end": a["end"],
            "at": tuple(a["at"]),
            "path": [tuple(p) for p in a["path"]],
            "direction": None,
        }
        for a in acts
        if a["expected"]
    ]


def near(act: dict, event: dict) -> bool:
    """An event of the act's object while it was held: a negative act that raised one."""
    if not act["start"] - TOLERANCE_S <= event["start"] <= act["end"] + TOLERANCE_S:
        return False
    if event["at"] is None:
        return True
    reach = 0.5 * max(event["height"] or 0.0, 40.0)
    return any(abs(event["at"][0] - x) + abs(event["at"][1] - y) <= 2 * reach for x, y in act["path"])


def attribute(acts: list[dict], event: dict) -> int | None:
    """The act an event is about: of the acts it is near, the one that began closest to it."""
    close = [i for i, a in enumerate(acts) if near(a, event)]
    return min(close, key=lambda i: abs(acts[i]["start"] - event["start"]), default=None)


def act_line(act: dict, events: list[dict]) -> str:
    said = ", ".join(f"{f['start']:.1f} s" for f in events) or "none"
    want = "expected" if act["expected"] else "not expected"
    return (
        f"  {act['kind']:8s} source frame {act['source_frame']:4d} held {act['hold_s']:.1f} s from "
        f"{act['start']:.1f} s ({want}): events {said}"
    )


def scene_bench(scene: Scene) -> tuple[dict, list[tuple[dict, list[dict]]]]:
    """One scene: the pipeline's events against its truth; the families and each act with the
    events it raised."""
    folder = generate(scene)
    acts = json.loads((folder / "truth.json").read_text())["acts"]
    config = camera_config(scene, folder / "video.mp4")
    found, seconds, _ = bench.clip_pipeline(config, folder / "video.mp4")
    families = bench.match(truth_events(acts, config), found)
    owner = [attribute(acts, f) for f in found]
    per_act = [(a, [f for f, o in zip(found, owner, strict=True) if o == i]) for i, a in enumerate(acts)]
    bench.report(
        f"{scene.name} ({scene.split}; COMPOSITE of {scene.clip}; index took {seconds:.1f} s)", families
    )
    print("\n".join(act_line(a, events) for a, events in per_act))
    return families, per_act


def scenes_bench(names: list[str] | None = None) -> None:
    """Every scene (or those named), then the totals per split and family."""
    print(
        "\nCOMPOSITE scenes (bench/scenes): real footage with a real car held where it was (stopped "
        f"vehicle, rule time {STOP_S:g} s) or a real person's crop turned to lie where they stood "
        f"(person down, rule time {DOWN_S:g} s); not real stops or falls"
    )
    totals: dict[str, dict] = {"dev": {}, "test": {}}
    negatives = {"dev": [0, 0], "test": [0, 0]}
    for scene in SCENES:
        if names and scene.name not in names:
            continue
        families, per_act = scene_bench(scene)
        bench.merge(totals[scene.split], families)
        quiet = [events for act, events in per_act if not act["expected"]]
        negatives[scene.split][0] += sum(bool(events) for events in quiet)
        negatives[scene.split][1] += len(quiet)
    for split, families in totals.items():
        if families:
            bench.report(f"ALL COMPOSITE scenes, {split}, real pipeline", families)
            raised, count = negatives[split]
            print(
                f"  held objects that should raise nothing (short stops, stumbles, squats, standing): "
                f"{raised} of {count} raised an event"
            )
